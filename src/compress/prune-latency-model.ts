/**
 * Denoising of the pruning latency table (pure). Each candidate width of each group is timed with only that group
 * narrowed, against the unpruned model; on a ~50 ms model a width that removes 0.3 % of the FLOPs saves ~0.1 ms,
 * well inside the ±1 ms a dozen alternated runs resolve on a shared machine. Taken at face value, the greedy
 * allocator picks the widths whose noise happened to look like a gain (the winner's curse), the predicted latency is
 * out of reach, and `--target-latency-ms` misses (PP-OCRv4 det: predicted 29.7 ms, measured 42.3 ms for 38).
 *
 * The model: the latency a width saves is a·(FLOPs it removes) + b·(intermediate tensor elements it removes) — the
 * second term is the memory traffic of the element-wise ops and the high-resolution layers, which FLOPs miss (on
 * PP-OCRv4 det the two-term fit halves the residual of a FLOPs-only line, 1.06 → 0.55 ms; scripts/latency-table-fit.ts). a and b are fitted to the
 * whole table (non-negative, weighted by each measurement's precision), so they are steady where a single measurement
 * is not. A width keeps its own measurement only where that measurement's 95 % interval excludes the line (a kernel
 * that speeds up more, or less, than the model says), and then the interval's end nearest the line: a shrinkage
 * estimate, the line where the data cannot tell it from the measurement, the measurement where it can.
 */
import type { GroupProfile, GroupWidthOption } from './prune-allocation.js';

/** The fitted line and what it did to the table. */
export interface LatencyModelFit {
  /** Latency saved per GFLOP removed, ms. */
  msPerGflop: number;
  /** Latency saved per million intermediate tensor elements removed, ms (0 when the table has no element counts). */
  msPerMillionElements: number;
  /** Widths whose measurement differs significantly from the line (they keep it), and all widths with an interval. */
  measured: number;
  widths: number;
}

interface Point {
  flops: number;
  elements: number;
  gainMs: number;
  weight: number;
}

/** Non-negative weighted least squares through the origin in two features (falls back to one when a coefficient would be < 0). */
function fitTwoTerm(points: readonly Point[]): { a: number; b: number } {
  let ff = 0;
  let fe = 0;
  let ee = 0;
  let fy = 0;
  let ey = 0;
  for (const p of points) {
    ff += p.weight * p.flops * p.flops;
    fe += p.weight * p.flops * p.elements;
    ee += p.weight * p.elements * p.elements;
    fy += p.weight * p.flops * p.gainMs;
    ey += p.weight * p.elements * p.gainMs;
  }
  const det = ff * ee - fe * fe;
  if (det > 1e-12 * ff * ee && ff > 0 && ee > 0) {
    const a = (fy * ee - ey * fe) / det;
    const b = (ey * ff - fy * fe) / det;
    if (a >= 0 && b >= 0) return { a, b };
  }
  // One term only: whichever explains more (the larger reduction of the weighted residual).
  const aOnly = ff > 0 ? Math.max(0, fy / ff) : 0;
  const bOnly = ee > 0 ? Math.max(0, ey / ee) : 0;
  const gainA = ff > 0 ? aOnly * fy : 0;
  const gainB = ee > 0 ? bOnly * ey : 0;
  return gainA >= gainB ? { a: aOnly, b: 0 } : { a: 0, b: bOnly };
}

/**
 * Groups with each width's `latencyMs` replaced as described in the file comment. Widths without `latencyCiMs` are
 * kept as they are; `measuredLatencyMs` and `latencySource` record what was done. Does not mutate its input.
 * `baseActivations`: the unpruned model's intermediate tensor elements (widths without `activations` count 0 removed).
 */
export function denoiseGroupLatencies(
  baseLatencyMs: number,
  baseFlops: number,
  groups: readonly GroupProfile[],
  baseActivations = 0,
): { groups: GroupProfile[]; fit: LatencyModelFit } {
  if (!(baseLatencyMs > 0) || !(baseFlops > 0)) throw new RangeError('baseLatencyMs and baseFlops must be > 0');
  const removedElements = (o: GroupWidthOption): number => (o.activations !== undefined && baseActivations > 0 ? Math.max(0, baseActivations - o.activations) : 0);
  const points: Point[] = [];
  let widths = 0;
  for (const g of groups) {
    for (const o of g.options) {
      if (!o.latencyCiMs) continue;
      widths++;
      const halfWidth = Math.max((o.latencyCiMs[1] - o.latencyCiMs[0]) / 2, baseLatencyMs * 1e-4);
      points.push({ flops: Math.max(0, baseFlops - o.flops), elements: removedElements(o), gainMs: baseLatencyMs - o.latencyMs, weight: 1 / (halfWidth * halfWidth) });
    }
  }
  const { a, b } = fitTwoTerm(points);
  let measured = 0;
  const denoise = (o: GroupWidthOption): GroupWidthOption => {
    if (!o.latencyCiMs) return { ...o };
    const line = baseLatencyMs - a * Math.max(0, baseFlops - o.flops) - b * removedElements(o);
    const [lo, hi] = o.latencyCiMs;
    const inside = line >= lo && line <= hi;
    if (!inside) measured++;
    return { ...o, measuredLatencyMs: o.measuredLatencyMs ?? o.latencyMs, latencyMs: inside ? line : line < lo ? lo : hi, latencySource: inside ? 'fitted' : 'measured' };
  };
  const out = groups.map((g) => ({ ...g, options: g.options.map(denoise) }));
  return { groups: out, fit: { msPerGflop: a * 1e9, msPerMillionElements: b * 1e6, measured, widths } };
}
