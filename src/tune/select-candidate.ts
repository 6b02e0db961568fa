/**
 * Constraints, the front among the candidates that meet them, and the choice by objective. Pure.
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
 * (ties: lower accuracy drop, then smaller, then faster, then input order).
 */
export function selectCandidate(points: readonly SelectablePoint[], constraints: TuneConstraints, objective: TuneObjective): Selection {
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
  if (pareto.front.length === 0) {
    const reason = points.length === 0 ? 'no candidate was profiled' : `no candidate meets the constraints (${points.length} profiled)`;
    return { feasible: [], violations, pareto, chosen: null, chosenReason: reason, objectiveUsed };
  }
  const axis = OBJECTIVE_AXIS[objectiveUsed];
  const byId = new Map(feasiblePoints.map((p, i) => [p.id, { p, i }]));
  const ranked = pareto.front
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
  const reason =
    ranked.length === 1
      ? `the only candidate on the front that meets the constraints`
      : `${label} of the ${ranked.length} front members meeting the constraints; next: ${ranked[1]!.p.id} (${compareText(best.metrics, ranked[1]!.p.metrics, pareto.axes)})`;
  return {
    feasible: feasiblePoints.map((p) => p.id),
    violations,
    pareto,
    chosen: best.id,
    chosenReason: [reason, ...notes].join('; '),
    objectiveUsed,
  };
}
