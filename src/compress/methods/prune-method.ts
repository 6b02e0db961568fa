import { pruneChannels, type ChannelGroupReport, type ChannelImportance } from '../prune-channels.js';
import { measureActivationImportance } from '../activation-importance.js';
import { recoverPrunedModel, type RecoveryReport } from '../prune-recovery.js';
import { planForModel } from '../../hardware/plan-for-model.js';
import { parseTargetCache } from '../../hardware/planner.js';
import { cloneModel, defaultOpset, type OnnxModel } from '../../onnx/ir.js';
import type { CompressMethodRunner, MethodContext, MethodOutcome } from './method-types.js';
import type { Dataset } from '../dataset.js';
import { EdgetuneError } from '../../util/errors.js';

/** Options of the prune driver beyond MethodOptions. */
export interface PruneDriverOptions {
  ratio: number;
  steps?: number;
  /** Channel importance (default l2); 'activation' measures on the data before each step. */
  importance?: ChannelImportance;
  /** Refit + BN matching on the data (default: when data is given). */
  recover?: boolean;
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
  if (options.importance === 'activation' && !dataset) throw new EdgetuneError('USAGE', '--importance activation needs --data DIR');
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
      const importance = options.importance ?? 'l2';
      const channelScores = importance === 'activation' && dataset ? await measureActivationImportance(model, dataset, options.signal ? { signal: options.signal } : {}) : undefined;
      result = pruneChannels(model, { ratio: stepRatio, importance, ...(channelScores ? { channelScores } : {}) });
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
          importance: context.options.importance ?? 'l2',
          steps: context.options.steps ?? 1,
          groups: result.groups,
          recovery: result.recovery.length ? result.recovery[result.recovery.length - 1] : null,
        },
      },
    };
  },
};
