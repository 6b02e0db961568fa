/**
 * The Pareto front of a tune: pure. Every axis is "lower is better": p50 latency, accuracy drop (percentage
 * points), model size, energy per inference. A candidate is on the front when no other candidate is at least as
 * good on every axis and strictly better on one. An axis some candidate did not measure (energy without a source,
 * accuracy without data) is left out for all candidates, so that the front is a plain Pareto front over the axes
 * every candidate has.
 */

/** What the front compares; lower is better on every axis. null: not measured. */
export interface ParetoMetrics {
  latencyMs: number;
  accuracyDropPp: number | null;
  sizeBytes: number;
  joulesPerInference: number | null;
}

/** One candidate as the front sees it. */
export interface ParetoPoint {
  id: string;
  metrics: ParetoMetrics;
}

/** The axes, in the order reports name them. */
export const PARETO_AXES = ['latencyMs', 'accuracyDropPp', 'sizeBytes', 'joulesPerInference'] as const;
/** One axis of the front. */
export type ParetoAxis = (typeof PARETO_AXES)[number];

/** Why a candidate is off the front: one candidate that dominates it, axis by axis. */
export interface DominatedExplanation {
  id: string;
  /** Every candidate that dominates it (front members first). */
  dominatedBy: string[];
  /** The one the reason names: a front member, the one with the largest latency gain. */
  by: string;
  /** "dominated by int8: latency 2.10 vs 5.30 ms (2.52× faster), accuracy drop 0.10 vs 0.30 pp, ..." */
  reason: string;
}

/** The front and the explanation of every dominated point. */
export interface ParetoAnalysis {
  /** Axes compared (those every point has). */
  axes: ParetoAxis[];
  /** Axes left out, with the points that lack them. */
  axesLeftOut: Array<{ axis: ParetoAxis; missingFor: string[] }>;
  /** Ids on the front, in input order. */
  front: string[];
  dominated: DominatedExplanation[];
}

/** The axes every point measured, and those left out. */
export function activeAxes(points: readonly ParetoPoint[]): Pick<ParetoAnalysis, 'axes' | 'axesLeftOut'> {
  const axes: ParetoAxis[] = [];
  const axesLeftOut: ParetoAnalysis['axesLeftOut'] = [];
  for (const axis of PARETO_AXES) {
    const missingFor = points.filter((p) => !isMeasured(p.metrics[axis])).map((p) => p.id);
    if (missingFor.length === 0) axes.push(axis);
    else axesLeftOut.push({ axis, missingFor });
  }
  return { axes, axesLeftOut };
}

function isMeasured(v: number | null): v is number {
  return v !== null && Number.isFinite(v);
}

/** True when `a` is no worse than `b` on every axis in `axes` and strictly better on at least one. */
export function dominates(a: ParetoMetrics, b: ParetoMetrics, axes: readonly ParetoAxis[] = PARETO_AXES): boolean {
  let strictly = false;
  for (const axis of axes) {
    const x = a[axis];
    const y = b[axis];
    if (!isMeasured(x) || !isMeasured(y)) throw new RangeError(`dominates: axis ${axis} is not measured on both points`);
    if (x > y) return false;
    if (x < y) strictly = true;
  }
  return strictly;
}

/** The Pareto front of `points` and, for every point off it, which point beats it and by how much. */
export function paretoFront(points: readonly ParetoPoint[]): ParetoAnalysis {
  const ids = new Set<string>();
  for (const p of points) {
    if (ids.has(p.id)) throw new RangeError(`paretoFront: duplicate candidate id '${p.id}'`);
    ids.add(p.id);
    if (!Number.isFinite(p.metrics.latencyMs) || !Number.isFinite(p.metrics.sizeBytes)) {
      throw new RangeError(`paretoFront: candidate '${p.id}' has no latency or size`);
    }
  }
  const { axes, axesLeftOut } = activeAxes(points);
  const dominatorsOf = new Map<string, ParetoPoint[]>();
  for (const p of points) {
    dominatorsOf.set(
      p.id,
      points.filter((q) => q !== p && dominates(q.metrics, p.metrics, axes)),
    );
  }
  const front = points.filter((p) => dominatorsOf.get(p.id)!.length === 0).map((p) => p.id);
  const frontSet = new Set(front);
  const dominated: DominatedExplanation[] = [];
  for (const p of points) {
    const by = dominatorsOf.get(p.id)!;
    if (by.length === 0) continue;
    const ordered = [...by].sort((a, b) => Number(frontSet.has(b.id)) - Number(frontSet.has(a.id)) || a.metrics.latencyMs - b.metrics.latencyMs);
    const named = ordered[0]!;
    dominated.push({ id: p.id, dominatedBy: ordered.map((q) => q.id), by: named.id, reason: `dominated by ${named.id}: ${compareText(named.metrics, p.metrics, axes)}` });
  }
  return { axes, axesLeftOut, front, dominated };
}

/** "latency 2.10 vs 5.30 ms (2.52× faster), accuracy drop 0.10 vs 0.30 pp, size 512 KiB vs 2.0 MiB (4.00× smaller), energy equal". */
export function compareText(winner: ParetoMetrics, loser: ParetoMetrics, axes: readonly ParetoAxis[] = PARETO_AXES): string {
  const parts: string[] = [];
  for (const axis of axes) {
    const w = winner[axis];
    const l = loser[axis];
    if (!isMeasured(w) || !isMeasured(l)) continue;
    switch (axis) {
      case 'latencyMs':
        parts.push(w === l ? `latency equal (${fmtMs(w)} ms)` : `latency ${fmtMs(w)} vs ${fmtMs(l)} ms${ratioText(w, l, 'faster', 'slower')}`);
        break;
      case 'accuracyDropPp':
        parts.push(w === l ? `accuracy drop equal (${fmtPp(w)} pp)` : `accuracy drop ${fmtPp(w)} vs ${fmtPp(l)} pp`);
        break;
      case 'sizeBytes':
        parts.push(w === l ? `size equal (${fmtSize(w)})` : `size ${fmtSize(w)} vs ${fmtSize(l)}${ratioText(w, l, 'smaller', 'larger')}`);
        break;
      case 'joulesPerInference':
        parts.push(w === l ? `energy equal (${fmtMj(w)} mJ)` : `energy ${fmtMj(w)} vs ${fmtMj(l)} mJ/inference`);
        break;
    }
  }
  return parts.join(', ');
}

function ratioText(w: number, l: number, better: string, worse: string): string {
  if (!(w > 0 && l > 0)) return '';
  return w <= l ? ` (${(l / w).toFixed(2)}× ${better})` : ` (${(w / l).toFixed(2)}× ${worse})`;
}

/** Milliseconds with 3 significant digits at least. */
export function fmtMs(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** Percentage points with two decimals. */
export function fmtPp(v: number): string {
  return v.toFixed(2);
}

/** Millijoules with 3 significant digits. */
export function fmtMj(joules: number): string {
  return (joules * 1000).toPrecision(3);
}

/** '512 KiB', '1.9 MiB'. */
export function fmtSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 2 : 1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Percentage points with two decimals and a typographic minus ('−0.52'), for intervals in reports. */
export function fmtPpSigned(v: number): string {
  const text = fmtPp(Math.abs(v));
  return v < 0 && text !== fmtPp(0) ? `−${text}` : text;
}

/** "0.40 pp [−0.52, 1.62]": a drop and its interval (no bracket without one). */
export function fmtDropWithInterval(dropPp: number, ci: readonly [number, number] | null | undefined): string {
  return `${fmtPpSigned(dropPp)} pp${ci ? ` [${fmtPpSigned(ci[0])}, ${fmtPpSigned(ci[1])}]` : ''}`;
}
