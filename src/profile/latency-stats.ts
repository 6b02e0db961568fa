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
  /**
   * 95 % distribution-free interval of the median: order statistics at binomial ranks (no normality assumed; a
   * long tail does not widen it). With fewer than 6 samples it is [min, max], whose coverage is below 95 %.
   */
  p50Ci: [number, number];
}

/**
 * Distribution-free interval of the median of an ascending-sorted sample: [x(j), x(n+1−j)] with the largest rank j
 * for which P(Binomial(n, ½) < j) ≤ (1 − confidence)/2; at least [min, max].
 */
export function medianIntervalSorted(sorted: readonly number[], confidence = 0.95): [number, number] {
  const n = sorted.length;
  if (n === 0) throw new RangeError('median interval of an empty sample set');
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const alpha = (1 - confidence) / 2;
  // P(X ≤ k) for X ~ Binomial(n, ½), accumulated in log space so that large n does not underflow term by term.
  let logTerm = -n * Math.LN2; // P(X = 0)
  let cdf = Math.exp(logTerm);
  let j = 1;
  for (let k = 0; k < Math.floor(n / 2); k++) {
    // cdf = P(X ≤ k): rank k + 2 is allowed when P(X < k + 2) = P(X ≤ k + 1) ≤ α.
    logTerm += Math.log((n - k) / (k + 1));
    const next = cdf + Math.exp(logTerm);
    if (next > alpha) break;
    cdf = next;
    j = k + 2;
  }
  if (cdf > alpha) j = 1;
  return [sorted[j - 1]!, sorted[n - j]!];
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
    p50Ci: medianIntervalSorted(sorted),
  };
}

/** Latency coefficient of variation above which a profile is flagged as measured on a noisy machine. */
export const NOISY_LATENCY_CV = 0.2;

/**
 * A warning when the latency samples vary too much to trust (CV > NOISY_LATENCY_CV): other load or frequency scaling
 * during the runs. Suggests more iterations and, when several threads were used, one thread. Null when quiet.
 */
export function latencyNoiseWarning(stats: Pick<LatencyStats, 'cv'>, iterations: number, threads: number): string | null {
  if (!(stats.cv > NOISY_LATENCY_CV)) return null;
  const remedies = [`more --iterations (${iterations} now)`, ...(threads > 1 ? [`--threads 1 (${threads} now)`] : [])];
  return `latency CV ${(stats.cv * 100).toFixed(1)} % is above ${NOISY_LATENCY_CV * 100} %: the machine was noisy during the runs (other load, frequency scaling); p50 is the steadiest figure; repeat with ${remedies.join(' or ')}`;
}

/** Inferences per second from a mean latency and a batch size (samples per run). */
export function throughputPerSec(meanLatencyMs: number, batchSize: number): number {
  if (!(meanLatencyMs > 0)) return 0;
  return (1000 / meanLatencyMs) * batchSize;
}
