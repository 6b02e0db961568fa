/** Pure statistics over latency samples: no clock, no I/O. */

/** Summary of a latency sample set, all in milliseconds except `cv` (std / mean, unitless). */
export interface LatencyStats {
  count: number;
  mean: number;
  std: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  cv: number;
}

/**
 * Percentile of an ascending-sorted array, p in [0, 100], by linear interpolation between closest ranks
 * (Hyndman–Fan type 7, the default of numpy.percentile and R's quantile).
 */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample set');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (h - lo);
}

/** Arithmetic mean. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of an empty sample set');
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Sample standard deviation (n − 1 denominator; 0 for a single sample). */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (values.length - 1));
}

/** Median (type-7 p50). */
export function median(values: readonly number[]): number {
  return percentileSorted([...values].sort((x, y) => x - y), 50);
}

/** Summarise latency samples (ms). Throws RangeError on an empty set or a non-finite sample. */
export function summarizeLatency(samplesMs: readonly number[]): LatencyStats {
  if (samplesMs.length === 0) throw new RangeError('no latency samples');
  for (const v of samplesMs) if (!Number.isFinite(v) || v < 0) throw new RangeError(`latency sample ${v} is not a finite non-negative number`);
  const sorted = [...samplesMs].sort((x, y) => x - y);
  const m = mean(sorted);
  const std = sampleStd(sorted);
  return {
    count: sorted.length,
    mean: m,
    std,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    cv: m > 0 ? std / m : 0,
  };
}

/** Inferences per second from a mean latency and a batch size (samples per run). */
export function throughputPerSec(meanLatencyMs: number, batchSize: number): number {
  if (!(meanLatencyMs > 0)) return 0;
  return (1000 / meanLatencyMs) * batchSize;
}
