import { pruneChannels, type ChannelGroupReport, type ChannelImportance } from '../prune-channels.js';
import { measureActivationImportance } from '../activation-importance.js';
import { measureReconstructionImportance } from '../reconstruction-importance.js';
import { recoverPrunedModel, type RecoveryReport } from '../prune-recovery.js';
import { planForModel } from '../../hardware/plan-for-model.js';
import { parseTargetCache } from '../../hardware/planner.js';
import { cloneModel, defaultOpset, type OnnxModel } from '../../onnx/ir.js';
import type { CompressMethodRunner, MethodContext, MethodOutcome } from './method-types.js';
import type { Dataset } from '../dataset.js';
import { EdgetuneError } from '../../util/errors.js';
import { encodeModel } from '../../onnx/model-codec.js';
import { comparePairedLatency } from '../../profile/paired-latency.js';
import { allocatePruning, type AllocationResult, type AllocationTarget } from '../prune-allocation.js';
import { firstSets, profilePruneGroups, sensitivitySetCount, type GroupProfiles } from '../prune-group-profile.js';

/** Options of the prune driver beyond MethodOptions. */
export interface PruneDriverOptions {
  ratio: number;
  steps?: number;
  /**
   * Channel importance; 'activation' and 'reconstruction' measure on the data before each step. Default: see
   * {@link defaultImportance}.
   */
  importance?: ChannelImportance;
  /** Scores already measured on this model for the first step (importance 'activation' or 'reconstruction'). */
  channelScores?: ReadonlyMap<string, Float64Array>;
  /** Refit + BN matching on the data (default: when data is given). */
  recover?: boolean;
  /** Per-group removal ratios by group id (allocated pruning; 0 = left alone); groups absent from the map use `ratio`. */
  groupRatios?: ReadonlyMap<number, number>;
  maxSamples?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Result of the prune driver. */
export interface PruneDriverResult {
  model: OnnxModel;
  groups: ChannelGroupReport[];
  recovery: RecoveryReport[];
  notes: string[];
  nodesChanged: number;
}

/**
 * Prune `model` (mutated) by `ratio` of each group's channels, in `steps` rounds, recovering after each round
 * against `original` when a dataset is given.
 */
export async function pruneAndRecover(model: OnnxModel, original: OnnxModel, dataset: Dataset | undefined, options: PruneDriverOptions): Promise<PruneDriverResult> {
  const { ratio } = options;
  if (!(ratio > 0 && ratio < 1)) throw new EdgetuneError('USAGE', `--ratio must be in (0, 1) for pruning; got ${ratio}`);
  const steps = options.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1 || steps > 20) throw new EdgetuneError('USAGE', `--steps must be an integer from 1 to 20; got ${options.steps}`);
  const recover = options.recover ?? dataset !== undefined;
  if ((options.importance === 'activation' || options.importance === 'reconstruction') && !dataset) throw new EdgetuneError('USAGE', `--importance ${options.importance} needs --data DIR`);
  if (recover && !dataset) throw new EdgetuneError('USAGE', 'pruning recovery needs --data DIR');
  const stepRatio = 1 - Math.pow(1 - ratio, 1 / steps);
  const channelMap = new Map<string, number[]>();
  const refitNodes = new Set<string>();
  const recovery: RecoveryReport[] = [];
  const notes: string[] = [];
  let firstGroups: ChannelGroupReport[] | null = null;
  const changed = new Set<string>();
  const originalChannels = new Map<number, number>();
  for (let s = 0; s < steps; s++) {
    let result;
    try {
      const importance = options.importance ?? defaultImportance(dataset, recover);
      const channelScores = s === 0 && options.channelScores ? options.channelScores : dataset ? await measureImportance(model, dataset, importance, options.signal) : undefined;
      const groupRatios = options.groupRatios ? new Map([...options.groupRatios].map(([id, r]) => [id, r > 0 ? 1 - Math.pow(1 - r, 1 / steps) : 0])) : undefined;
      result = pruneChannels(model, { ratio: stepRatio, importance, ...(channelScores ? { channelScores } : {}), ...(groupRatios ? { groupRatios } : {}) });
    } catch (error) {
      if (s > 0 && error instanceof EdgetuneError && error.code === 'MODEL_UNSUPPORTED') break;
      throw error;
    }
    if (!firstGroups) {
      firstGroups = result.groups;
      for (const g of result.groups) originalChannels.set(g.id, g.channels);
    }
    for (const [name, kept] of result.keptChannels) {
      const prev = channelMap.get(name);
      channelMap.set(name, kept.map((k) => (prev ? prev[k]! : k)));
    }
    for (const sink of result.sinks) refitNodes.add(sink.node);
    for (const n of model.graph.nodes) if (result.changedTensors.some((t) => n.inputs.includes(t) || n.outputs.includes(t))) changed.add(n.name);
    if (steps > 1) options.onProgress?.('prune step', s + 1, steps);
    if (recover && dataset) {
      const rep = await recoverPrunedModel(
        { pruned: model, original, refitNodes: [...refitNodes], channelMap, dataset },
        { ...(options.maxSamples ? { maxSamples: options.maxSamples } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}) },
      );
      recovery.push(rep);
    }
    if (s === steps - 1) {
      // Final channel counts per group, against the first step's counts.
      firstGroups = firstGroups.map((g, i) => ({ ...g, kept: result.groups[i]?.kept ?? g.kept }));
      notes.push(...result.report.notes.slice(1));
    }
  }
  const groups = firstGroups ?? [];
  if (!recover) notes.push('no recovery: pass --data DIR to refit the layers after pruned channels and re-estimate BatchNorm');
  return { model, groups, recovery, notes, nodesChanged: changed.size };
}

/**
 * The channel importance uniform pruning uses when none is asked for: 'reconstruction' when the pruned model is
 * refitted on data (its choice assumes that refit; on the MobileNetV2-style fixture at half the channels −1.60 pt
 * where filter norms lose 8.35, BENCHMARKS.md), else filter norms ('l2'). `--allocate sensitivity` defaults to
 * filter norms (see runAllocated).
 */
export function defaultImportance(dataset: Dataset | undefined, recover = dataset !== undefined): ChannelImportance {
  return dataset && recover ? 'reconstruction' : 'l2';
}

/** Data-driven channel scores of `model` for `importance` ('activation', 'reconstruction'); undefined for filter norms. */
export async function measureImportance(model: OnnxModel, dataset: Dataset, importance: ChannelImportance, signal?: AbortSignal): Promise<Map<string, Float64Array> | undefined> {
  const options = signal ? { signal } : {};
  if (importance === 'activation') return measureActivationImportance(model, dataset, options);
  if (importance === 'reconstruction') return measureReconstructionImportance(model, dataset, options);
  return undefined;
}

async function resolveRatio(context: MethodContext): Promise<{ ratio: number; note: string | null }> {
  const { options } = context;
  if (options.ratio !== undefined && options.targetCache !== undefined) throw new EdgetuneError('USAGE', 'give either --ratio or --target-cache for pruning, not both');
  if (options.ratio !== undefined) return { ratio: options.ratio, note: null };
  if (options.targetCache === undefined) throw new EdgetuneError('USAGE', 'prune needs --ratio R (0 < R < 1) or --target-cache l1|l2|l3|BYTES');
  const target = parseTargetCache(options.targetCache);
  const { plan } = await planForModel({
    model: context.model,
    ...(options.sysroot ? { sysroot: options.sysroot } : {}),
    ...(options.profileName ? { profileName: options.profileName } : {}),
    plan: { targetCache: target },
  });
  const ratio = plan.pruning?.ratio ?? 0;
  if (!(ratio > 0)) throw new EdgetuneError('USAGE', `the largest layers already fit the ${options.targetCache} target (${plan.pruning ? `${plan.pruning.targetBytes} bytes` : 'no pruning plan'}): nothing to prune`);
  return { ratio, note: `ratio ${ratio.toFixed(3)} from --target-cache ${options.targetCache} (${plan.pruning!.targetBytes} bytes, profile ${plan.profile})` };
}

/** `prune`: structured channel pruning with least-squares recovery on --data. */
export const pruneMethod: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run(context): Promise<MethodOutcome> {
    const { options } = context;
    if (options.targetLatencyMs !== undefined && options.allocate === 'uniform') {
      throw new EdgetuneError('USAGE', '--target-latency-ms needs --allocate sensitivity: a latency target is met by measuring each group on this device');
    }
    const allocate = options.allocate ?? (options.targetLatencyMs !== undefined ? 'sensitivity' : 'uniform');
    if (allocate === 'sensitivity') return runAllocated(context);
    const { ratio, note } = await resolveRatio(context);
    const opset = defaultOpset(context.model);
    const original = cloneModel(context.model);
    const result = await pruneAndRecover(context.model, original, context.dataset, {
      ratio,
      ...(context.options.importance ? { importance: context.options.importance } : {}),
      ...(context.options.steps !== undefined ? { steps: context.options.steps } : {}),
      ...(context.onProgress ? { onProgress: context.onProgress } : {}),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const pruned = result.groups.filter((g) => g.prunable && g.kept < g.channels);
    return {
      model: result.model,
      report: {
        pass: 'prune',
        nodesChanged: result.nodesChanged,
        nodesKeptFloat: [],
        opset: { from: opset, to: opset },
        notes: [...(note ? [note] : []), `${pruned.length} channel group(s) pruned by ${ratio}${context.options.steps && context.options.steps > 1 ? ` in ${context.options.steps} steps` : ''}`, ...result.notes],
        details: {
          ratio,
          importance: context.options.importance ?? defaultImportance(context.dataset),
          steps: context.options.steps ?? 1,
          groups: result.groups,
          recovery: result.recovery.length ? result.recovery[result.recovery.length - 1] : null,
        },
      },
    };
  },
};

/**
 * A target no allocation reaches but that the nearest reachable one is within this share of (latency: reachable ≤
 * target × 1.1; FLOPs: removes ≥ 90 % of the share asked) is met with the nearest reachable and the report says so;
 * further off is bad input.
 */
export const NEAREST_REACHABLE_TOLERANCE = 0.1;
/**
 * A latency target below this share of the unpruned latency scaled by the FLOPs left is out of reach whatever the
 * latency table adds up to (pruning is not expected to make a model faster than twice its FLOPs reduction).
 */
export const REACHABLE_FLOOR_SHARE = 0.5;
/** Allocation rounds for a latency target: after the first, the target is corrected by the measured latency. */
const LATENCY_ROUNDS = 3;

function describeTarget(target: AllocationTarget): string {
  return target.kind === 'latency' ? `--target-latency-ms ${target.latencyMs}` : `--ratio ${target.removeShare} (share of FLOPs removed)`;
}

/** Check the allocated-pruning options; the target they give. */
function allocationTarget(context: MethodContext): AllocationTarget {
  const { options } = context;
  if (options.targetCache !== undefined) throw new EdgetuneError('USAGE', '--target-cache sizes every group alike: use it with --allocate uniform (the default), or give --ratio (share of FLOPs) or --target-latency-ms with --allocate sensitivity');
  if (options.steps !== undefined && options.steps !== 1) throw new EdgetuneError('USAGE', `--steps is for --allocate uniform; --allocate sensitivity prunes once to the allocated widths (got --steps ${options.steps})`);
  if (options.ratio !== undefined && options.targetLatencyMs !== undefined) throw new EdgetuneError('USAGE', 'give either --ratio (share of FLOPs) or --target-latency-ms for --allocate sensitivity, not both');
  if (options.targetLatencyMs !== undefined) {
    if (!(Number.isFinite(options.targetLatencyMs) && options.targetLatencyMs > 0)) throw new EdgetuneError('USAGE', `--target-latency-ms must be a number of milliseconds > 0; got ${options.targetLatencyMs}`);
    return { kind: 'latency', latencyMs: options.targetLatencyMs };
  }
  if (options.ratio === undefined) throw new EdgetuneError('USAGE', '--allocate sensitivity needs --ratio R (share of FLOPs to remove, 0 < R < 1) or --target-latency-ms MS');
  if (!(options.ratio > 0 && options.ratio < 1)) throw new EdgetuneError('USAGE', `--ratio must be in (0, 1) for pruning; got ${options.ratio}`);
  return { kind: 'flops', removeShare: options.ratio };
}

/** Bad input when the allocation falls short of the target by more than the tolerance; else a note (or null). */
function checkReachable(result: AllocationResult, target: AllocationTarget, profiles: GroupProfiles): string | null {
  if (result.reached && target.kind !== 'latency') return null;
  if (target.kind === 'latency') {
    // The additive table (base − Σ measured group gains) can reach zero or below when noisy gains add up to more than
    // the whole (a loaded machine); no reachable latency is taken below half the latency scaled by the FLOPs left.
    const floorMs = profiles.baseFlops > 0 ? (REACHABLE_FLOOR_SHARE * profiles.baseLatencyMs * result.reachableFlops) / profiles.baseFlops : 0;
    const nearest = Math.max(result.reachableLatencyMs, floorMs);
    if (result.reached && nearest <= target.latencyMs) return null;
    const what = `the nearest reachable latency is ${nearest.toFixed(3)} ms (measured here: unpruned ${profiles.baseLatencyMs.toFixed(3)} ms, batch 1, ${profiles.threads} thread(s))`;
    if (nearest > target.latencyMs * (1 + NEAREST_REACHABLE_TOLERANCE)) {
      throw new EdgetuneError('USAGE', `--target-latency-ms ${target.latencyMs} cannot be reached by pruning: ${what}; ask for at least ${(nearest / (1 + NEAREST_REACHABLE_TOLERANCE)).toFixed(3)} ms`);
    }
    return `target ${target.latencyMs} ms not reachable; pruned to the nearest reachable instead: ${what}`;
  }
  const share = 1 - result.reachableFlops / profiles.baseFlops;
  const what = `at most ${(share * 100).toFixed(1)} % of the FLOPs can be removed without destructive groups`;
  if (share < target.removeShare * (1 - NEAREST_REACHABLE_TOLERANCE)) throw new EdgetuneError('USAGE', `--ratio ${target.removeShare} (share of FLOPs) cannot be reached by pruning: ${what}`);
  return `--ratio ${target.removeShare} not reachable; pruned to the nearest reachable instead: ${what}`;
}

/** `prune --allocate sensitivity`: per-group widths by measured latency and sensitivity (NetAdapt-style), then recovery. */
async function runAllocated(context: MethodContext): Promise<MethodOutcome> {
  const target = allocationTarget(context);
  const { dataset, options } = context;
  if (!dataset) throw new EdgetuneError('USAGE', '--allocate sensitivity needs --data DIR: each group\'s accuracy loss is measured on it');
  const opset = defaultOpset(context.model);
  const original = cloneModel(context.model);
  // Filter norms unless asked: the per-group sensitivities are measured with a quick refit (4 samples, next layer
  // only), which the channels reconstruction picks (redundant given a full refit) are not compensated by, so the
  // table misjudges groups; on PP-OCRv4 det that spread a 25 % FLOPs allocation over 13 groups and lost every text
  // region (hmean 0.000, BENCHMARKS.md). On the digit models reconstruction is better here too (ask for it).
  const importance = options.importance ?? 'l2';
  // Measured on the sets the sensitivities are fitted on, not on those they are judged on.
  const fitSets = dataset.setNames.length - sensitivitySetCount(dataset);
  const channelScores = await measureImportance(original, fitSets > 0 ? firstSets(dataset, fitSets) : dataset, importance, context.signal);
  const profiles = await profilePruneGroups(original, dataset, {
    importance,
    ...(channelScores ? { channelScores } : {}),
    ...(context.onProgress ? { onProgress: context.onProgress } : {}),
    ...(context.signal ? { signal: context.signal } : {}),
  });
  if (target.kind === 'latency' && target.latencyMs >= profiles.baseLatencyMs) {
    throw new EdgetuneError('USAGE', `the unpruned model already runs in ${profiles.baseLatencyMs.toFixed(3)} ms ≤ --target-latency-ms ${target.latencyMs} (batch 1, ${profiles.threads} thread(s), measured here): nothing to prune`);
  }
  const notes: string[] = [];
  const flopsOf = (w: ReadonlyMap<number, number>): number => profiles.flopsOf(profiles.pruneTo(w));
  const baseBytes = encodeModel(original);
  let allocTarget = target;
  let result: AllocationResult | null = null;
  let pruned: PruneDriverResult | null = null;
  let measured: { baseP50Ms: number; p50Ms: number; speedup: number; runs: number } | null = null;
  const rounds: Array<{ allocatedForMs: number | null; predictedMs: number; measuredMs: number }> = [];
  for (let round = 0; round < (target.kind === 'latency' ? LATENCY_ROUNDS : 1); round++) {
    const next = allocatePruning({ baseLatencyMs: profiles.baseLatencyMs, baseFlops: profiles.baseFlops, groups: profiles.groups, target: allocTarget, flopsOf });
    if (round === 0) {
      const note = checkReachable(next, target, profiles);
      if (note) notes.push(note);
    }
    if (round > 0 && result && sameWidths(next, result)) break;
    const widths = next.groups.filter((g) => g.status === 'pruned');
    if (widths.length === 0) throw new EdgetuneError('USAGE', `${describeTarget(target)}: no group can be narrowed with a gain (every group is left alone or gains nothing measurable)`);
    // Every group in the map: one absent would be pruned by `ratio`.
    const groupRatios = new Map([...profiles.groups, ...profiles.unprunable].map((g) => [g.id, 0]));
    for (const g of widths) groupRatios.set(g.id, 1 - g.kept / g.channels);
    const model = cloneModel(original);
    const run = await pruneAndRecover(model, original, dataset, {
      ratio: Math.max(...groupRatios.values()),
      groupRatios,
      importance,
      ...(channelScores ? { channelScores } : {}),
      ...(context.onProgress ? { onProgress: context.onProgress } : {}),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const pair = await comparePairedLatency(baseBytes, encodeModel(model), profiles.feeds, { threads: profiles.threads, iterations: 30, warmup: 3 });
    // On the table's clock: the unpruned latency of the table over this pairing's speed-up.
    const onClockMs = profiles.baseLatencyMs / pair.speedup;
    rounds.push({ allocatedForMs: allocTarget.kind === 'latency' ? allocTarget.latencyMs : null, predictedMs: next.predictedLatencyMs, measuredMs: onClockMs });
    result = next;
    pruned = run;
    measured = { baseP50Ms: pair.aP50Ms, p50Ms: pair.bP50Ms, speedup: pair.speedup, runs: pair.runs };
    if (target.kind !== 'latency' || allocTarget.kind !== 'latency') break;
    // Gains are not quite additive: aim the next round lower (or higher) by how far the measurement is off the target.
    if (Math.abs(onClockMs - target.latencyMs) <= target.latencyMs * NEAREST_REACHABLE_TOLERANCE * 0.5) break;
    allocTarget = { kind: 'latency', latencyMs: Math.max(1e-6, allocTarget.latencyMs * (target.latencyMs / onClockMs)) };
  }
  const final = result!;
  const run = pruned!;
  const last = rounds[rounds.length - 1]!;
  if (target.kind === 'latency' && Math.abs(last.measuredMs - target.latencyMs) > target.latencyMs * NEAREST_REACHABLE_TOLERANCE) {
    notes.push(
      `latency target missed: measured ${last.measuredMs.toFixed(3)} ms against ${target.latencyMs} ms (${(((last.measuredMs / target.latencyMs) - 1) * 100).toFixed(1)} %) after ${rounds.length} round(s); ` +
        'the per-group gains of the latency table did not add up on this device (noise, or kernels that do not speed up at these widths)',
    );
  }
  // The target is absolute, the machine's clock is not (a shared device drifts between the profile and the final
  // pairing): the speed-up asked for and the one measured are the figures that compare.
  const targetSpeedup = target.kind === 'latency' ? profiles.baseLatencyMs / target.latencyMs : null;
  if (targetSpeedup !== null) {
    notes.push(
      `${describeTarget(target)} asks for ${targetSpeedup.toFixed(2)}× over the unpruned model as the latency table timed it (${profiles.baseLatencyMs.toFixed(3)} ms); ` +
        `the result measured ${measured!.speedup.toFixed(2)}× in alternation with it (${measured!.baseP50Ms.toFixed(3)} → ${measured!.p50Ms.toFixed(3)} ms p50 in that pairing), ` +
        `${last.measuredMs.toFixed(3)} ms on the table's clock`,
    );
  }
  const flopsAfter = profiles.flopsOf(run.model);
  const allocated = final.groups;
  const left = allocated.filter((g) => g.status === 'left alone');
  notes.push(
    `${allocated.filter((g) => g.status === 'pruned').length} of ${allocated.length} prunable group(s) narrowed by measured latency and sensitivity for ${describeTarget(target)}; ` +
      `FLOPs ${(profiles.baseFlops / 1e6).toFixed(2)} M → ${(flopsAfter / 1e6).toFixed(2)} M (${((1 - flopsAfter / profiles.baseFlops) * 100).toFixed(1)} % removed); ` +
      `latency ${measured!.baseP50Ms.toFixed(3)} → ${measured!.p50Ms.toFixed(3)} ms p50 in alternation (${measured!.speedup.toFixed(2)}×, batch 1, ${profiles.threads} thread(s))`,
  );
  for (const g of allocated) notes.push(`group ${g.id} (${g.producers.slice(0, 2).join(', ')}${g.producers.length > 2 ? ', …' : ''}): ${g.kept}/${g.channels} — ${g.status}: ${g.reason}`);
  if (left.length) notes.push(`left alone as destructive on the data: ${left.map((g) => `group ${g.id}`).join(', ')}`);
  for (const u of profiles.unprunable) if (u.channels > 1) notes.push(`group ${u.id} (${u.producers[0]}; ${u.channels} channels) not pruned: ${u.reason}`);
  if (profiles.latencyFit) {
    const f = profiles.latencyFit;
    notes.push(
      `latency table: ${f.measured} of ${f.widths} width(s) differ significantly (95 % interval) from this device's fitted model — ` +
        `${f.msPerGflop.toFixed(3)} ms per GFLOP plus ${f.msPerMillionElements.toFixed(3)} ms per million tensor elements removed — and keep their measurement; ` +
        'the others take the model, as their measurement cannot be told from it (one group\'s gain is mostly within the run-to-run noise)',
    );
  }
  const refit = profiles.refitSamples > 0 ? `after a next-layer least-squares refit fitted on ${profiles.refitSamples} sample(s) of the other sets` : 'without recovery';
  notes.push(`sensitivity: worst output's 1 − R² (disagreement for a classifier) ${refit}, judged on ${profiles.sensitivitySamples} sample(s) of --data (its last ${profiles.sensitivitySets.length} set(s)); widths are multiples of 8 where a group keeps ≥ 8 channels`);
  notes.push(...run.notes.filter((n) => !/^group \d+ .* not pruned: /.test(n)));
  const groupReports = run.groups.map((g) => {
    const a = allocated.find((x) => x.id === g.id);
    return a ? { ...g, kept: g.kept, prunable: true, reason: a.status === 'pruned' ? null : a.reason } : g;
  });
  return {
    model: run.model,
    report: {
      pass: 'prune',
      nodesChanged: run.nodesChanged,
      nodesKeptFloat: [],
      opset: { from: opset, to: opset },
      notes,
      details: {
        allocate: 'sensitivity',
        importance,
        target: target.kind === 'latency' ? { kind: 'latency', latencyMs: target.latencyMs } : { kind: 'flops', removeShare: target.removeShare },
        reached: final.reached,
        latency: {
          threads: profiles.threads,
          inputShapes: profiles.inputShapes,
          tableBaseMs: profiles.baseLatencyMs,
          predictedMs: final.predictedLatencyMs,
          reachableMs: final.reachableLatencyMs,
          baseP50Ms: measured!.baseP50Ms,
          p50Ms: measured!.p50Ms,
          speedup: measured!.speedup,
          targetSpeedup,
          runs: measured!.runs,
          rounds,
        },
        flops: { before: profiles.baseFlops, after: flopsAfter, removedShare: 1 - flopsAfter / profiles.baseFlops, reachableRemovedShare: 1 - final.reachableFlops / profiles.baseFlops },
        latencyModel: profiles.latencyFit ? { kind: 'fitted', ...profiles.latencyFit } : { kind: 'measured' },
        sensitivity: {
          metric: `worst-output 1 - R² / disagreement, ${profiles.refitSamples > 0 ? 'after a next-layer refit' : 'without recovery'}`,
          samples: profiles.sensitivitySamples,
          sets: profiles.sensitivitySets,
          refitSamples: profiles.refitSamples,
        },
        allocation: allocated,
        table: profiles.groups.map((g) => ({ id: g.id, channels: g.channels, options: g.options })),
        steps: final.steps,
        groups: groupReports,
        recovery: run.recovery.length ? run.recovery[run.recovery.length - 1] : null,
      },
    },
  };
}

function sameWidths(a: AllocationResult, b: AllocationResult): boolean {
  return a.groups.every((g, i) => g.kept === b.groups[i]!.kept);
}
