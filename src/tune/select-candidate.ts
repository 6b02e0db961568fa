/**
 * Constraints, the front among the candidates that meet them, and the choice by objective. Pure.
 *
 * Rule (issue 12): a quantized candidate (a step of `QUANTIZATION_METHODS`) whose measured p50 latency is not below
 * the fp32 baseline's measured p50 is not eligible to be chosen under the latency or energy objective: on this
 * device the quantization costs accuracy and buys no speed (Q/DQ overhead, float islands). It stays in the list and on
 * the front, flagged. Under the size objective it stays eligible, with a note that it is slower than fp32 here. Without
 * latency intervals the comparison is of the two p50s as measured: a tie counts as not faster.
 *
 * Noise (issue 13): when the points carry latency intervals (`latencyIntervalMs`, from the profiler's summary), two
 * candidates whose intervals overlap are not distinguishable on this device. A quantized candidate whose interval
 * overlaps the baseline's counts as not faster than it (the rule above applies), and under the latency objective the
 * candidates whose intervals overlap the fastest one's are not ranked by p50: among them the lower accuracy drop wins,
 * then the smaller model, then input order. `--max-accuracy-drop` is checked against the upper end of the drop's
 * interval when the point carries one (a bound is met only when the samples confirm it); the front itself compares the
 * point estimates.
 */
import { normalQuantile } from '../compress/confidence.js';
import { compareText, fmtMs, fmtPp, fmtSize, paretoFront, type ParetoAnalysis, type ParetoMetrics } from './pareto.js';

/** `--max-accuracy-drop`, `--max-latency-ms`, `--max-memory-mb`, `--max-size-mb` (bytes here). */
export interface TuneConstraints {
  maxAccuracyDropPp?: number;
  maxLatencyMs?: number;
  maxMemoryBytes?: number;
  maxSizeBytes?: number;
}

/** `--objective`. */
export const TUNE_OBJECTIVES = ['latency', 'energy', 'size'] as const;
/** What the chosen candidate minimises among the front. */
export type TuneObjective = (typeof TUNE_OBJECTIVES)[number];

/** A profiled candidate as selection sees it. */
export interface SelectablePoint {
  id: string;
  /** Point estimates; the front compares these. */
  metrics: ParetoMetrics;
  peakRssBytes: number;
  /** Method of each step ('fp32' or none for the baseline). */
  methods?: readonly string[];
  /** Upper end of the accuracy drop's interval (pp): `--max-accuracy-drop` is checked against it when given. */
  accuracyDropUpperPp?: number | null;
  /** Interval of the p50 latency (ms), see `latencyIntervalMs`: overlapping intervals are not distinguishable. */
  latencyCiMs?: readonly [number, number] | null;
  /** Set when the candidate must not be chosen (it may stay on the front): the reason, for the report. */
  ineligibleReason?: string | null;
}

/** Selection tunables. */
export interface SelectOptions {
  /** Id of the unmodified model the slower-than-baseline rule compares with (default 'fp32'). */
  baselineId?: string;
}

/** Compression methods that change the number format (compress pass ids): int8 static and dynamic, fp16, int4. */
export const QUANTIZATION_METHODS: readonly string[] = ['int8', 'int8-dynamic', 'fp16', 'int4'];

/** A quantized candidate whose measured p50 is not below the baseline's, or whose latency interval overlaps it. */
export interface SlowerThanBaseline {
  id: string;
  /** Its quantization steps. */
  quantization: string[];
  latencyMs: number;
  baselineLatencyMs: number;
  /** True when its p50 is below the baseline's but the two latency intervals overlap (not distinguishable). */
  withinNoise: boolean;
  /** False under the latency and energy objectives: it cannot be chosen. */
  eligible: boolean;
  /** The report's note: both p50s (and intervals), the ratio, and what the rule did with it. */
  note: string;
}

/** The outcome of selection. */
export interface Selection {
  /** Candidates meeting every constraint, in input order. */
  feasible: string[];
  /** Candidates that miss a constraint, with every constraint they miss. */
  violations: Array<{ id: string; violations: string[] }>;
  /** The front among the feasible candidates. */
  pareto: ParetoAnalysis;
  chosen: string | null;
  /** Why that one (or why none). */
  chosenReason: string;
  /** The objective actually applied (energy falls back to latency when energy was not measured for all). */
  objectiveUsed: TuneObjective;
  /** Quantized candidates not faster than the baseline on this device (every profiled one, feasible or not). */
  slowerThanBaseline: SlowerThanBaseline[];
  /**
   * For every point with a latency interval (input order), the other points whose intervals overlap it (input
   * order; empty when none): not distinguishable from it on this device.
   */
  indistinguishable: Array<{ id: string; from: string[] }>;
  /** For the report: one per slower-than-baseline candidate, and when the rule could not be applied. */
  notes: string[];
}

/** √(π/2) ≈ 1.2533: the asymptotic standard error of a normal sample's median is √(π/2)·σ/√n. */
const MEDIAN_SE_FACTOR = Math.sqrt(Math.PI / 2);

/**
 * Interval of the median latency from the profiler's summary: p50 ± z·1.2533·std/√n, with z the normal quantile at
 * (1 + confidence)/2 (asymptotic standard error of the median, normal approximation), the lower end clamped at 0.
 * `confidence` 0 gives [p50, p50].
 */
export function latencyIntervalMs(p50Ms: number, stdMs: number, iterations: number, confidence: number): [number, number] {
  if (!Number.isFinite(p50Ms) || p50Ms < 0) throw new RangeError(`latencyIntervalMs: p50Ms must be a finite number ≥ 0, got ${p50Ms}`);
  if (!Number.isFinite(stdMs) || stdMs < 0) throw new RangeError(`latencyIntervalMs: stdMs must be a finite number ≥ 0, got ${stdMs}`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`latencyIntervalMs: iterations must be an integer ≥ 1, got ${iterations}`);
  if (!(confidence >= 0 && confidence < 1)) throw new RangeError(`latencyIntervalMs: confidence must be 0 (point estimate) or in (0, 1), got ${confidence}`);
  if (confidence === 0) return [p50Ms, p50Ms];
  const half = normalQuantile((1 + confidence) / 2) * MEDIAN_SE_FACTOR * (stdMs / Math.sqrt(iterations));
  return [Math.max(0, p50Ms - half), p50Ms + half];
}

/** True when two closed intervals share a point. */
export function intervalsOverlap(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

/** "2.10 ms [1.95, 2.25]" (no bracket without an interval). */
export function fmtLatencyWithInterval(p50Ms: number, ci: readonly [number, number] | null | undefined): string {
  return `${fmtMs(p50Ms)} ms${ci ? ` [${fmtMs(ci[0])}, ${fmtMs(ci[1])}]` : ''}`;
}

function latencyCi(p: SelectablePoint): readonly [number, number] | null {
  const ci = p.latencyCiMs;
  return ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? ci : null;
}

/** For every point with a latency interval, the others whose intervals overlap it. */
export function indistinguishableLatencies(points: readonly SelectablePoint[]): Selection['indistinguishable'] {
  const withCi = points.map((p) => ({ id: p.id, ci: latencyCi(p) })).filter((x): x is { id: string; ci: readonly [number, number] } => x.ci !== null);
  return withCi.map((a) => ({ id: a.id, from: withCi.filter((b) => b !== a && intervalsOverlap(a.ci, b.ci)).map((b) => b.id) }));
}

/**
 * The quantized points whose p50 is not below the baseline's, or whose latency interval overlaps the baseline's
 * (not distinguishable: not faster), with the report note; empty when the baseline was not profiled (then `notes`
 * says the rule was not applied).
 */
export function slowerThanBaseline(
  points: readonly SelectablePoint[],
  objective: TuneObjective,
  baselineId = 'fp32',
): { slower: SlowerThanBaseline[]; notes: string[] } {
  const quantized = points.map((p) => ({ p, q: (p.methods ?? []).filter((m) => QUANTIZATION_METHODS.includes(m)) })).filter((x) => x.q.length > 0);
  if (quantized.length === 0) return { slower: [], notes: [] };
  const baseline = points.find((p) => p.id === baselineId);
  if (!baseline || !Number.isFinite(baseline.metrics.latencyMs)) {
    return { slower: [], notes: [`the ${baselineId} baseline was not profiled: quantized candidates could not be checked against its latency`] };
  }
  const b = baseline.metrics.latencyMs;
  const bCi = latencyCi(baseline);
  const eligible = objective === 'size';
  const slower: SlowerThanBaseline[] = [];
  for (const { p, q } of quantized) {
    if (p.id === baselineId) continue;
    const l = p.metrics.latencyMs;
    const ci = latencyCi(p);
    const overlap = ci !== null && bCi !== null && intervalsOverlap(ci, bCi);
    if (l < b && !overlap) continue;
    const withinNoise = l < b;
    const ratio = b > 0 ? ` (${(l / b).toFixed(2)}× the ${baselineId} latency)` : '';
    const p50s = ci !== null && bCi !== null ? `p50 ${fmtLatencyWithInterval(l, ci)} vs ${fmtLatencyWithInterval(b, bCi)}` : `p50 ${fmtMs(l)} vs ${fmtMs(b)} ms`;
    const what = withinNoise
      ? `${p.id} (${q.join(' + ')}) is not distinguishable from ${baselineId} on this device, so not faster: ${p50s}${ratio}, the intervals overlap`
      : `${p.id} (${q.join(' + ')}) is not faster than ${baselineId} on this device: ${p50s}${ratio}`;
    const rule = eligible ? 'kept eligible under --objective size (it is smaller), but it costs speed here' : `not eligible to be chosen under --objective ${objective}`;
    slower.push({ id: p.id, quantization: q, latencyMs: l, baselineLatencyMs: b, withinNoise, eligible, note: `${what}; ${rule}` });
  }
  return { slower, notes: slower.map((x) => x.note) };
}

/** Check constraints on bad input: each bound must be a finite number ≥ 0 (> 0 for latency, memory, size). */
export function validateConstraints(c: TuneConstraints): string[] {
  const problems: string[] = [];
  const check = (name: string, v: number | undefined, allowZero: boolean): void => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) problems.push(`${name} must be a number ${allowZero ? '≥ 0' : '> 0'}; got ${v}`);
  };
  check('--max-accuracy-drop', c.maxAccuracyDropPp, true);
  check('--max-latency-ms', c.maxLatencyMs, false);
  check('--max-memory-mb', c.maxMemoryBytes, false);
  check('--max-size-mb', c.maxSizeBytes, false);
  return problems;
}

/**
 * Every constraint a candidate misses, as text naming the flag and both numbers. The accuracy bound is checked
 * against the upper end of the drop's interval when the point has one (both figures are named).
 */
export function constraintViolations(point: SelectablePoint, c: TuneConstraints): string[] {
  const out: string[] = [];
  const m = point.metrics;
  if (c.maxAccuracyDropPp !== undefined) {
    const upper = point.accuracyDropUpperPp;
    if (m.accuracyDropPp === null) out.push(`--max-accuracy-drop ${c.maxAccuracyDropPp} pp: accuracy not measured`);
    else if (upper !== undefined && upper !== null && Number.isFinite(upper) && upper !== m.accuracyDropPp) {
      if (upper > c.maxAccuracyDropPp) out.push(`--max-accuracy-drop: drop ${fmtPp(m.accuracyDropPp)} pp, interval upper end ${fmtPp(upper)} pp > ${c.maxAccuracyDropPp} pp`);
    } else if (m.accuracyDropPp > c.maxAccuracyDropPp) out.push(`--max-accuracy-drop: drop ${fmtPp(m.accuracyDropPp)} pp > ${c.maxAccuracyDropPp} pp`);
  }
  if (c.maxLatencyMs !== undefined && m.latencyMs > c.maxLatencyMs) out.push(`--max-latency-ms: p50 ${fmtMs(m.latencyMs)} ms > ${c.maxLatencyMs} ms`);
  if (c.maxMemoryBytes !== undefined && point.peakRssBytes > c.maxMemoryBytes) {
    out.push(`--max-memory-mb: peak RSS ${mb(point.peakRssBytes)} MB > ${mb(c.maxMemoryBytes)} MB`);
  }
  if (c.maxSizeBytes !== undefined && m.sizeBytes > c.maxSizeBytes) out.push(`--max-size-mb: ${fmtSize(m.sizeBytes)} > ${mb(c.maxSizeBytes)} MB`);
  return out;
}

function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

const OBJECTIVE_AXIS = { latency: 'latencyMs', energy: 'joulesPerInference', size: 'sizeBytes' } as const;

interface Ranked {
  p: SelectablePoint;
  /** Input order. */
  i: number;
}

/** The candidates tied with the first within the latency noise (first the winner of the tie-break), or null. */
interface LatencyTie {
  members: Ranked[];
}

/**
 * Order candidates by the objective (ties: lower accuracy drop, then smaller, then faster, then input order). Under
 * the latency objective, those whose latency intervals overlap the fastest one's are moved to the top and ordered by
 * accuracy drop, size, input order instead (they are not faster than one another).
 */
function rankByObjective(pool: readonly Ranked[], objective: TuneObjective): { ranked: Ranked[]; tie: LatencyTie | null } {
  const axis = OBJECTIVE_AXIS[objective];
  const ranked = [...pool].sort(
    (a, b) =>
      (a.p.metrics[axis] ?? Infinity) - (b.p.metrics[axis] ?? Infinity) ||
      (a.p.metrics.accuracyDropPp ?? 0) - (b.p.metrics.accuracyDropPp ?? 0) ||
      a.p.metrics.sizeBytes - b.p.metrics.sizeBytes ||
      a.p.metrics.latencyMs - b.p.metrics.latencyMs ||
      a.i - b.i,
  );
  if (objective !== 'latency' || ranked.length < 2) return { ranked, tie: null };
  const fastestCi = latencyCi(ranked[0]!.p);
  if (fastestCi === null) return { ranked, tie: null };
  const inTie = (r: Ranked): boolean => {
    const ci = latencyCi(r.p);
    return r === ranked[0] || (ci !== null && intervalsOverlap(ci, fastestCi));
  };
  const members = ranked.filter(inTie);
  if (members.length < 2) return { ranked, tie: null };
  members.sort((a, b) => (a.p.metrics.accuracyDropPp ?? 0) - (b.p.metrics.accuracyDropPp ?? 0) || a.p.metrics.sizeBytes - b.p.metrics.sizeBytes || a.i - b.i);
  return { ranked: [...members, ...ranked.filter((r) => !inTie(r))], tie: { members } };
}

/**
 * "int8 and fp16 are not distinguishable on this device: p50 2.10 ms [1.95, 2.25] vs 2.18 ms [2.02, 2.34]; int8 is
 * chosen for its lower accuracy drop (0.10 vs 0.40 pp for fp16)": the tie-break's winner first, the others by p50.
 */
function tieText(tie: LatencyTie): string {
  const [first, second] = tie.members as [Ranked, Ranked, ...Ranked[]];
  const others = tie.members.slice(1).sort((a, b) => a.p.metrics.latencyMs - b.p.metrics.latencyMs || a.i - b.i);
  const names = [first, ...others].map((r) => r.p.id);
  const list = `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  const p50s = [first, ...others].map((r) => fmtLatencyWithInterval(r.p.metrics.latencyMs, latencyCi(r.p))).join(' vs ');
  const a = first.p.metrics;
  const b = second.p.metrics;
  const dropA = a.accuracyDropPp ?? 0;
  const dropB = b.accuracyDropPp ?? 0;
  const why =
    dropA < dropB
      ? `for its lower accuracy drop (${fmtPp(dropA)} vs ${fmtPp(dropB)} pp for ${second.p.id})`
      : a.sizeBytes < b.sizeBytes
        ? `for its smaller model at the same accuracy drop (${fmtSize(a.sizeBytes)} vs ${fmtSize(b.sizeBytes)} for ${second.p.id})`
        : `by input order (same accuracy drop and size as ${second.p.id})`;
  return `${list} are not distinguishable on this device: p50 ${p50s}; ${first.p.id} is chosen ${why}`;
}

/**
 * Filter by the constraints, take the front of what is left, and choose the front member with the lowest objective
 * (ties: lower accuracy drop, then smaller, then faster, then input order; under the latency objective, candidates
 * whose latency intervals overlap the fastest one's count as tied). Under the latency and energy objectives a
 * quantized candidate not faster than the baseline is not eligible, nor is a point with an `ineligibleReason`: the
 * choice is then made on the front of the eligible feasible candidates (the reported front still lists every feasible
 * candidate).
 */
export function selectCandidate(points: readonly SelectablePoint[], constraints: TuneConstraints, objective: TuneObjective, options: SelectOptions = {}): Selection {
  const violations: Selection['violations'] = [];
  const feasiblePoints: SelectablePoint[] = [];
  for (const p of points) {
    const v = constraintViolations(p, constraints);
    if (v.length > 0) violations.push({ id: p.id, violations: v });
    else feasiblePoints.push(p);
  }
  const pareto = paretoFront(feasiblePoints);
  let objectiveUsed: TuneObjective = objective;
  const notes: string[] = [];
  if (objective === 'energy' && !pareto.axes.includes('joulesPerInference')) {
    objectiveUsed = 'latency';
    notes.push('energy was not measured for every candidate: chosen by latency instead');
  }
  const baselineId = options.baselineId ?? 'fp32';
  const slow = slowerThanBaseline(points, objectiveUsed, baselineId);
  const common = { violations, pareto, objectiveUsed, slowerThanBaseline: slow.slower, indistinguishable: indistinguishableLatencies(points), notes: slow.notes };
  if (pareto.front.length === 0) {
    const reason = points.length === 0 ? 'no candidate was profiled' : `no candidate meets the constraints (${points.length} profiled)`;
    return { ...common, feasible: [], chosen: null, chosenReason: reason };
  }
  const feasible = feasiblePoints.map((p) => p.id);
  const slowIds = slow.slower.filter((x) => !x.eligible).map((x) => x.id).filter((id) => feasible.includes(id));
  const otherIneligible = feasiblePoints.filter((p) => typeof p.ineligibleReason === 'string' && !slowIds.includes(p.id));
  const excluded = new Set([...slowIds, ...otherIneligible.map((p) => p.id)]);
  const eligiblePoints = feasiblePoints.filter((p) => !excluded.has(p.id));
  const slowText = `quantized and not faster than ${baselineId} on this device`;
  const excludedParts = [
    ...(slowIds.length ? [`${slowIds.join(', ')} ${slowIds.length === 1 ? 'is' : 'are'} ${slowText}`] : []),
    ...otherIneligible.map((p) => `${p.id} is not eligible: ${p.ineligibleReason}`),
  ];
  const excludedText = excludedParts.join('; ');
  if (eligiblePoints.length === 0) {
    const reason =
      otherIneligible.length === 0
        ? `every candidate that meets the constraints is ${slowText} (${slowIds.join(', ')}): none is eligible under --objective ${objectiveUsed}`
        : `no candidate that meets the constraints is eligible (${excludedText})`;
    return { ...common, feasible, chosen: null, chosenReason: [reason, ...notes].join('; ') };
  }
  const pool = excluded.size === 0 ? pareto.front : paretoFront(eligiblePoints).front;
  const byId = new Map(feasiblePoints.map((p, i) => [p.id, { p, i }]));
  const { ranked, tie } = rankByObjective(
    pool.map((id) => byId.get(id)!),
    objectiveUsed,
  );
  const best = ranked[0]!.p;
  const label = objectiveUsed === 'latency' ? 'lowest p50 latency' : objectiveUsed === 'energy' ? 'lowest energy per inference' : 'smallest model';
  const members = excluded.size === 0 ? 'front members meeting the constraints' : `front members meeting the constraints and eligible (${excludedText})`;
  const next = ranked.length > 1 ? `; next: ${ranked[1]!.p.id} (${compareText(best.metrics, ranked[1]!.p.metrics, pareto.axes)})` : '';
  const reason =
    tie !== null
      ? `${tieText(tie)}, among the ${ranked.length} ${members}${next}`
      : ranked.length === 1
        ? `the only ${excluded.size === 0 ? 'candidate on the front' : `eligible candidate on the front (${excludedText})`} that meets the constraints`
        : `${label} of the ${ranked.length} ${members}${next}`;
  const extra: string[] = [];
  if (!pareto.front.includes(best.id)) extra.push(`${best.id} is off the front only because of candidates that are ${slowIds.length && !otherIneligible.length ? slowText : 'not eligible'}`);
  // Name every candidate with an ineligibleReason that would have been chosen before `best`.
  if (otherIneligible.length > 0) {
    const all = rankByObjective(
      [...new Set([...pareto.front, ...pool])].filter((id) => !slowIds.includes(id)).map((id) => byId.get(id)!),
      objectiveUsed,
    ).ranked;
    for (const r of all) {
      if (r.p.id === best.id) break;
      if (typeof r.p.ineligibleReason === 'string') extra.push(`${r.p.id} would otherwise have been chosen but is not eligible: ${r.p.ineligibleReason}`);
    }
  }
  const slowChosen = slow.slower.find((x) => x.id === best.id);
  if (slowChosen) {
    const how = slowChosen.withinNoise ? `not distinguishable from ${baselineId} on this device` : `slower than ${baselineId} on this device`;
    extra.push(`${best.id} is ${how} (p50 ${fmtMs(slowChosen.latencyMs)} vs ${fmtMs(slowChosen.baselineLatencyMs)} ms): chosen for size only`);
  }
  return { ...common, feasible, chosen: best.id, chosenReason: [reason, ...extra, ...notes].join('; ') };
}
