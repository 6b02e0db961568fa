/**
 * Per-group pruning widths chosen greedily from measurements (pure), after NetAdapt (Yang et al. 2018,
 * "NetAdapt: Platform-Aware Neural Network Adaptation for Mobile Applications"): every prunable channel group has a
 * few candidate widths, each with the latency measured on the device with only that group narrowed, the FLOPs of
 * that model, and the accuracy loss the data showed. Step by step the allocator narrows the group whose next width
 * buys the most of the objective (latency, or FLOPs) per unit of accuracy lost, until the target is met. Groups
 * whose pruning the data calls destructive are left alone. Latency gains are taken as additive across groups (the
 * look-up-table model of NetAdapt); FLOPs come from a caller's exact count when given.
 */
import { keepCount } from './prune-channels.js';

/** One candidate width of a group, as measured with only this group narrowed. */
export interface GroupWidthOption {
  /** Channels kept. */
  kept: number;
  /** Latency of the model with only this group at this width (same clock as `baseLatencyMs`): what the allocator uses. */
  latencyMs: number;
  /** The measurement behind `latencyMs` and its 95 % interval, when `latencyMs` was denoised (prune-latency-model.ts). */
  measuredLatencyMs?: number;
  latencyCiMs?: [number, number];
  /** Where `latencyMs` comes from: the measurement (it differs significantly from the fitted latency model) or that model. */
  latencySource?: 'measured' | 'fitted';
  /** FLOPs of the model with only this group at this width. */
  flops: number;
  /** Elements of all intermediate tensors of the model with only this group at this width (memory traffic's proxy). */
  activations?: number;
  /** The loss judged without the next-layer refit (only when measured for comparison). */
  lossWithoutRefit?: number;
  /** Accuracy loss on the data, ≥ 0 (worst output: 1 − R², or disagreement for a classifier; 0 = as the original). */
  loss: number;
}

/** A prunable group and its measured candidate widths. */
export interface GroupProfile {
  id: number;
  producers: string[];
  channels: number;
  /** Candidate widths, any order; widths ≥ `channels` are ignored. */
  options: GroupWidthOption[];
}

/** What the allocation aims at. */
export type AllocationTarget =
  | { kind: 'latency'; latencyMs: number }
  /** Share of the model's FLOPs to remove, in (0, 1). */
  | { kind: 'flops'; removeShare: number };

/** Input to `allocatePruning`. */
export interface AllocationInput {
  baseLatencyMs: number;
  baseFlops: number;
  groups: GroupProfile[];
  target: AllocationTarget;
  /**
   * A width whose loss exceeds the limit is never chosen; a group whose mildest width does is left alone. The limit
   * is `maxGroupLoss` when given, else the larger of DEFAULT_MAX_GROUP_LOSS and `destructiveFactor` (default 3) ×
   * the median loss of the groups' mildest widths: a group is destructive when it stands out from the others (measured
   * without a refit every loss is large; after one, most are small).
   */
  maxGroupLoss?: number;
  destructiveFactor?: number;
  /** Exact FLOPs of the model with the given widths (group id → kept); default: additive from the options. */
  flopsOf?: (widths: ReadonlyMap<number, number>) => number;
}

/** Final width of one group and why. */
export interface GroupAllocation {
  id: number;
  producers: string[];
  channels: number;
  kept: number;
  status: 'pruned' | 'unchanged' | 'left alone';
  /** Latency the chosen width saves alone (measured), ms; 0 when unchanged. */
  latencyGainMs: number;
  /** FLOPs the chosen width removes alone. */
  flopsRemoved: number;
  /** Loss of the chosen width alone (for 'left alone': of its mildest width). */
  loss: number;
  reason: string;
}

/** One greedy step. */
export interface AllocationStep {
  group: number;
  from: number;
  to: number;
  /** Objective gained per unit of loss (ms or FLOPs per loss). */
  score: number;
  latencyMs: number;
  flops: number;
}

/** Result of the allocation. */
export interface AllocationResult {
  groups: GroupAllocation[];
  steps: AllocationStep[];
  /** Predicted latency (base − Σ measured gains) and FLOPs of the allocation. */
  predictedLatencyMs: number;
  flops: number;
  /** The loss limit applied (see `AllocationInput.maxGroupLoss`). */
  maxGroupLoss: number;
  /** Σ loss of the chosen widths (a rough, additive figure). */
  predictedLoss: number;
  reached: boolean;
  /** The objective value at the narrowest allowed widths (what can be reached at most). */
  reachableLatencyMs: number;
  reachableFlops: number;
}

/** Default loss beyond which a width is destructive (R² ≤ 0.5 or half the predictions changed). */
export const DEFAULT_MAX_GROUP_LOSS = 0.5;
/** Default factor over the median mildest-width loss beyond which a group is destructive. */
export const DEFAULT_DESTRUCTIVE_FACTOR = 3;

/** The loss limit of `allocatePruning` without `maxGroupLoss`: max(DEFAULT_MAX_GROUP_LOSS, factor × median mildest loss). */
export function lossLimit(groups: readonly GroupProfile[], factor = DEFAULT_DESTRUCTIVE_FACTOR): number {
  const mildest = groups
    .map((g) => g.options.filter((o) => o.kept >= 1 && o.kept < g.channels).sort((a, b) => b.kept - a.kept)[0]?.loss)
    .filter((l): l is number => l !== undefined && Number.isFinite(l))
    .sort((a, b) => a - b);
  if (mildest.length === 0) return DEFAULT_MAX_GROUP_LOSS;
  const mid = mildest.length >> 1;
  const median = mildest.length % 2 ? mildest[mid]! : (mildest[mid - 1]! + mildest[mid]!) / 2;
  return Math.max(DEFAULT_MAX_GROUP_LOSS, factor * median);
}
/** Loss floor in the score's denominator: a free step is preferred, but ties break by the objective. */
const LOSS_FLOOR = 1e-4;

/** Kept fractions measured per group by default: steps of 1/8, so the last greedy step overshoots little. */
export const DEFAULT_WIDTH_FRACTIONS: readonly number[] = [0.875, 0.75, 0.625, 0.5, 0.375, 0.25];

/** Candidate widths of a group of `channels`: keep `fractions` of it, multiples of `multiple` where ≥ `multiple`. */
export function candidateWidths(channels: number, fractions: readonly number[] = DEFAULT_WIDTH_FRACTIONS, multiple = 8): number[] {
  const widths = new Set<number>();
  for (const f of fractions) {
    if (!(f > 0 && f < 1)) throw new RangeError(`fractions must be in (0, 1); got ${f}`);
    const k = keepCount(channels, 1 - f, multiple);
    // keepCount falls back to the exact count when the rounded multiple is the full width (21 of 24): skip those.
    if (k < channels && k >= 1 && (multiple <= 1 || k < multiple || k % multiple === 0)) widths.add(k);
  }
  return [...widths].sort((a, b) => b - a);
}

/** Greedy allocation of per-group widths (see the file comment). Throws RangeError on a malformed input. */
export function allocatePruning(input: AllocationInput): AllocationResult {
  const { baseLatencyMs, baseFlops, target } = input;
  const maxLoss = input.maxGroupLoss ?? lossLimit(input.groups, input.destructiveFactor ?? DEFAULT_DESTRUCTIVE_FACTOR);
  if (!(baseLatencyMs > 0) || !(baseFlops > 0)) throw new RangeError('baseLatencyMs and baseFlops must be > 0');
  if (target.kind === 'latency' && !(target.latencyMs > 0)) throw new RangeError(`target latencyMs must be > 0; got ${target.latencyMs}`);
  if (target.kind === 'flops' && !(target.removeShare > 0 && target.removeShare < 1)) throw new RangeError(`target removeShare must be in (0, 1); got ${target.removeShare}`);
  const useLatency = target.kind === 'latency';

  interface State {
    profile: GroupProfile;
    allowed: GroupWidthOption[];
    current: GroupWidthOption | null;
    leftAlone: GroupWidthOption | null;
  }
  const states: State[] = input.groups.map((g) => {
    const valid = g.options.filter((o) => o.kept >= 1 && o.kept < g.channels).sort((a, b) => b.kept - a.kept);
    const allowed = valid.filter((o) => o.loss <= maxLoss);
    const mildest = valid[0] ?? null;
    // Destructive: even the mildest width loses more than allowed. Narrower widths that are fine are not trusted.
    const leftAlone = mildest && mildest.loss > maxLoss ? mildest : null;
    return { profile: g, allowed: leftAlone ? [] : allowed, current: null, leftAlone };
  });
  const widths = (): Map<number, number> => new Map(states.filter((s) => s.current).map((s) => [s.profile.id, s.current!.kept]));
  const latencyOf = (s: State, o: GroupWidthOption | null): number => (o ? o.latencyMs : baseLatencyMs);
  const flopsOfOption = (o: GroupWidthOption | null): number => (o ? o.flops : baseFlops);
  const predictedLatency = (): number => baseLatencyMs - states.reduce((sum, s) => sum + (baseLatencyMs - latencyOf(s, s.current)), 0);
  const exactFlops = (w: ReadonlyMap<number, number>): number =>
    input.flopsOf ? input.flopsOf(w) : baseFlops - states.reduce((sum, s) => {
      const kept = w.get(s.profile.id);
      const o = kept === undefined ? null : s.allowed.find((a) => a.kept === kept) ?? null;
      return sum + (baseFlops - flopsOfOption(o));
    }, 0);
  const met = (latency: number, flops: number): boolean =>
    target.kind === 'latency' ? latency <= target.latencyMs : flops <= baseFlops * (1 - target.removeShare);

  // What can be reached at most: every allowed group at its narrowest width.
  const narrowest = new Map(states.filter((s) => s.allowed.length).map((s) => [s.profile.id, s.allowed[s.allowed.length - 1]!.kept]));
  const reachableLatencyMs = baseLatencyMs - states.reduce((sum, s) => sum + (s.allowed.length ? baseLatencyMs - Math.min(...s.allowed.map((o) => o.latencyMs)) : 0), 0);
  const reachableFlops = exactFlops(narrowest);

  const steps: AllocationStep[] = [];
  let latency = baseLatencyMs;
  let flops = baseFlops;
  while (!met(latency, flops)) {
    let best: { s: State; o: GroupWidthOption; score: number; loss: number } | null = null;
    // A step that alone meets the target (by its own gain): the one losing least, as NetAdapt picks among the
    // proposals that meet an iteration's reduction the most accurate; so the last step does not overshoot.
    let finisher: { s: State; o: GroupWidthOption; score: number; loss: number } | null = null;
    const remaining = useLatency ? latency - (target as { latencyMs: number }).latencyMs : flops - baseFlops * (1 - (target as { removeShare: number }).removeShare);
    for (const s of states) {
      const curLoss = s.current?.loss ?? 0;
      for (const o of s.allowed) {
        if (s.current && o.kept >= s.current.kept) continue;
        const gain = useLatency ? latencyOf(s, s.current) - o.latencyMs : flopsOfOption(s.current) - o.flops;
        if (!(gain > 0)) continue;
        const dLoss = Math.max(o.loss - curLoss, LOSS_FLOOR);
        const score = gain / dLoss;
        if (!best || score > best.score || (score === best.score && o.loss < best.loss)) best = { s, o, score, loss: o.loss };
        if (gain >= remaining && (!finisher || dLoss < finisher.loss || (dLoss === finisher.loss && score > finisher.score))) finisher = { s, o, score, loss: dLoss };
      }
    }
    // Only when it costs no more than the step the greedy takes anyway: else one wide step (a group cut to a quarter
    // to meet the whole target at once) would win over several milder ones at every step but the last.
    if (finisher && best && finisher.loss <= Math.max(best.o.loss - (best.s.current?.loss ?? 0), LOSS_FLOOR)) best = finisher;
    if (!best) break;
    const from = best.s.current?.kept ?? best.s.profile.channels;
    best.s.current = best.o;
    latency = predictedLatency();
    flops = exactFlops(widths());
    steps.push({ group: best.s.profile.id, from, to: best.o.kept, score: best.score, latencyMs: latency, flops });
  }

  const groups: GroupAllocation[] = states.map((s) => {
    const base = { id: s.profile.id, producers: s.profile.producers, channels: s.profile.channels };
    if (s.leftAlone) {
      return { ...base, kept: s.profile.channels, status: 'left alone', latencyGainMs: 0, flopsRemoved: 0, loss: s.leftAlone.loss, reason: `destructive: keeping ${s.leftAlone.kept}/${s.profile.channels} alone loses ${s.leftAlone.loss.toFixed(3)} (> limit ${maxLoss.toFixed(3)})` };
    }
    if (!s.current) {
      const why = s.allowed.length === 0 ? 'no width within the loss limit' : useLatency && !s.allowed.some((o) => o.latencyMs < baseLatencyMs) ? 'no measured latency gain' : 'not needed for the target (lower gain per loss)';
      return { ...base, kept: s.profile.channels, status: 'unchanged', latencyGainMs: 0, flopsRemoved: 0, loss: 0, reason: why };
    }
    const gainMs = baseLatencyMs - s.current.latencyMs;
    const removed = baseFlops - s.current.flops;
    return {
      ...base,
      kept: s.current.kept,
      status: 'pruned',
      latencyGainMs: gainMs,
      flopsRemoved: removed,
      loss: s.current.loss,
      reason: `${gainMs.toFixed(3)} ms, ${((removed / baseFlops) * 100).toFixed(1)} % FLOPs for loss ${s.current.loss.toFixed(4)}`,
    };
  });
  return {
    groups,
    steps,
    predictedLatencyMs: latency,
    flops,
    maxGroupLoss: maxLoss,
    predictedLoss: states.reduce((sum, s) => sum + (s.current?.loss ?? 0), 0),
    reached: met(latency, flops),
    reachableLatencyMs,
    reachableFlops,
  };
}
