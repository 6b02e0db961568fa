/**
 * Constraints, the front among the candidates that meet them, and the choice by objective. Pure.
 *
 * Rule (issue 12): a quantized candidate (a step of `QUANTIZATION_METHODS`) whose measured p50 latency is not below
 * the fp32 baseline's measured p50 is not eligible to be chosen under the latency or energy objective: on this
 * device the quantization costs accuracy and buys no speed (Q/DQ overhead, float islands). It stays in the list and on
 * the front, flagged. Under the size objective it stays eligible, with a note that it is slower than fp32 here. The
 * comparison is of the two p50s as measured (one profile each, no noise model): a tie counts as not faster.
 */
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
  metrics: ParetoMetrics;
  peakRssBytes: number;
  /** Method of each step ('fp32' or none for the baseline). */
  methods?: readonly string[];
}

/** Selection tunables. */
export interface SelectOptions {
  /** Id of the unmodified model the slower-than-baseline rule compares with (default 'fp32'). */
  baselineId?: string;
}

/** Compression methods that change the number format (compress pass ids): int8 static and dynamic, fp16, int4. */
export const QUANTIZATION_METHODS: readonly string[] = ['int8', 'int8-dynamic', 'fp16', 'int4'];

/** A quantized candidate whose measured p50 is not below the baseline's. */
export interface SlowerThanBaseline {
  id: string;
  /** Its quantization steps. */
  quantization: string[];
  latencyMs: number;
  baselineLatencyMs: number;
  /** False under the latency and energy objectives: it cannot be chosen. */
  eligible: boolean;
  /** The report's note: both p50s, the ratio, and what the rule did with it. */
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
  /** For the report: one per slower-than-baseline candidate, and when the rule could not be applied. */
  notes: string[];
}

/**
 * The quantized points whose p50 is not below the baseline's, with the report note; empty when the baseline was
 * not profiled (then `notes` says the rule was not applied).
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
  const eligible = objective === 'size';
  const slower = quantized
    .filter(({ p }) => p.id !== baselineId && !(p.metrics.latencyMs < b))
    .map(({ p, q }) => {
      const l = p.metrics.latencyMs;
      const ratio = b > 0 ? ` (${(l / b).toFixed(2)}× the ${baselineId} latency)` : '';
      const what = `${p.id} (${q.join(' + ')}) is not faster than ${baselineId} on this device: p50 ${fmtMs(l)} vs ${fmtMs(b)} ms${ratio}`;
      const rule = eligible ? 'kept eligible under --objective size (it is smaller), but it costs speed here' : `not eligible to be chosen under --objective ${objective}`;
      return { id: p.id, quantization: q, latencyMs: l, baselineLatencyMs: b, eligible, note: `${what}; ${rule}` };
    });
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

/** Every constraint a candidate misses, as text naming the flag and both numbers. */
export function constraintViolations(point: SelectablePoint, c: TuneConstraints): string[] {
  const out: string[] = [];
  const m = point.metrics;
  if (c.maxAccuracyDropPp !== undefined) {
    if (m.accuracyDropPp === null) out.push(`--max-accuracy-drop ${c.maxAccuracyDropPp} pp: accuracy not measured`);
    else if (m.accuracyDropPp > c.maxAccuracyDropPp) out.push(`--max-accuracy-drop: drop ${fmtPp(m.accuracyDropPp)} pp > ${c.maxAccuracyDropPp} pp`);
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

/**
 * Filter by the constraints, take the front of what is left, and choose the front member with the lowest objective
 * (ties: lower accuracy drop, then smaller, then faster, then input order). Under the latency and energy objectives a
 * quantized candidate not faster than the baseline is not eligible: the choice is then made on the front of the
 * eligible feasible candidates (the reported front still lists every feasible candidate).
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
  const common = { violations, pareto, objectiveUsed, slowerThanBaseline: slow.slower, notes: slow.notes };
  if (pareto.front.length === 0) {
    const reason = points.length === 0 ? 'no candidate was profiled' : `no candidate meets the constraints (${points.length} profiled)`;
    return { ...common, feasible: [], chosen: null, chosenReason: reason };
  }
  const feasible = feasiblePoints.map((p) => p.id);
  const excluded = new Set(slow.slower.filter((x) => !x.eligible).map((x) => x.id));
  const eligiblePoints = feasiblePoints.filter((p) => !excluded.has(p.id));
  const excludedText = `quantized and not faster than ${baselineId} on this device`;
  if (eligiblePoints.length === 0) {
    const reason = `every candidate that meets the constraints is ${excludedText} (${[...excluded].join(', ')}): none is eligible under --objective ${objectiveUsed}`;
    return { ...common, feasible, chosen: null, chosenReason: [reason, ...notes].join('; ') };
  }
  const pool = excluded.size === 0 ? pareto.front : paretoFront(eligiblePoints).front;
  const axis = OBJECTIVE_AXIS[objectiveUsed];
  const byId = new Map(feasiblePoints.map((p, i) => [p.id, { p, i }]));
  const ranked = pool
    .map((id) => byId.get(id)!)
    .sort(
      (a, b) =>
        (a.p.metrics[axis] ?? Infinity) - (b.p.metrics[axis] ?? Infinity) ||
        (a.p.metrics.accuracyDropPp ?? 0) - (b.p.metrics.accuracyDropPp ?? 0) ||
        a.p.metrics.sizeBytes - b.p.metrics.sizeBytes ||
        a.p.metrics.latencyMs - b.p.metrics.latencyMs ||
        a.i - b.i,
    );
  const best = ranked[0]!.p;
  const label = objectiveUsed === 'latency' ? 'lowest p50 latency' : objectiveUsed === 'energy' ? 'lowest energy per inference' : 'smallest model';
  const members = excluded.size === 0 ? 'front members meeting the constraints' : `front members meeting the constraints and eligible (${[...excluded].join(', ')} ${excluded.size === 1 ? 'is' : 'are'} ${excludedText})`;
  const reason =
    ranked.length === 1
      ? `the only ${excluded.size === 0 ? 'candidate on the front' : `eligible candidate on the front (${[...excluded].join(', ')} ${excluded.size === 1 ? 'is' : 'are'} ${excludedText})`} that meets the constraints`
      : `${label} of the ${ranked.length} ${members}; next: ${ranked[1]!.p.id} (${compareText(best.metrics, ranked[1]!.p.metrics, pareto.axes)})`;
  const extra: string[] = [];
  if (!pareto.front.includes(best.id)) extra.push(`${best.id} is off the front only because of candidates that are ${excludedText}`);
  const slowChosen = slow.slower.find((x) => x.id === best.id);
  if (slowChosen) extra.push(`${best.id} is slower than ${baselineId} on this device (p50 ${fmtMs(slowChosen.latencyMs)} vs ${fmtMs(slowChosen.baselineLatencyMs)} ms): chosen for size only`);
  return { ...common, feasible, chosen: best.id, chosenReason: [reason, ...extra, ...notes].join('; ') };
}
