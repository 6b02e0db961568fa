/**
 * Streaming statistics for activation calibration (notes/onnx-quantization.md §7): min/max, fixed-range histograms,
 * and the percentile and entropy (TensorRT KL) thresholds computed from them. Pure; fed batch by batch.
 */

/** Calibration method names, as on the CLI. */
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse' | 'consumer-mse';

/** The chosen real range of one tensor. */
export interface TensorRange {
  min: number;
  max: number;
}

/** Running min/max of a tensor; NaN values are skipped. */
export class MinMaxAccumulator {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  /** Fold one batch of values in. */
  add(values: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
  }

  /** Fold a precomputed (min, max) pair in. */
  addRange(min: number, max: number): void {
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  /** The range seen so far (zero range when nothing was seen). */
  range(): TensorRange {
    return Number.isFinite(this.min) ? { min: this.min, max: this.max } : { min: 0, max: 0 };
  }
}

/** Histogram over a fixed [lo, hi] range with `bins` equal bins; values outside are clamped into the end bins. */
export class Histogram {
  readonly counts: Float64Array;
  total = 0;

  constructor(
    readonly lo: number,
    readonly hi: number,
    readonly bins: number,
  ) {
    if (!(hi >= lo)) throw new RangeError(`histogram range [${lo}, ${hi}] is empty`);
    if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`histogram bins must be a positive integer, got ${bins}`);
    this.counts = new Float64Array(bins);
  }

  /** Fold one batch of values in. */
  add(values: ArrayLike<number>): void {
    const width = (this.hi - this.lo) / this.bins;
    const last = this.bins - 1;
    if (width === 0) {
      this.counts[0]! += values.length;
      this.total += values.length;
      return;
    }
    const inv = 1 / width;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) continue;
      let b = Math.floor((v - this.lo) * inv);
      if (b < 0) b = 0;
      else if (b > last) b = last;
      this.counts[b]! += 1;
      this.total++;
    }
  }

  /** Value below which `fraction` of the mass lies (linear inside the bin). */
  quantile(fraction: number): number {
    const target = fraction * this.total;
    const width = (this.hi - this.lo) / this.bins;
    let seen = 0;
    for (let b = 0; b < this.bins; b++) {
      const c = this.counts[b]!;
      if (seen + c >= target) {
        const within = c > 0 ? (target - seen) / c : 0;
        return this.lo + (b + within) * width;
      }
      seen += c;
    }
    return this.hi;
  }
}

/**
 * Percentile range: cut (100 − p)/2 percent of the mass on each side of the observed distribution, clamped to the
 * observed range. With p = 99.999 this drops a few extreme outliers.
 */
export function percentileRange(histogram: Histogram, percentile: number, observed: TensorRange): TensorRange {
  const tail = (100 - percentile) / 200;
  const lo = Math.max(observed.min, histogram.quantile(tail));
  const hi = Math.min(observed.max, histogram.quantile(1 - tail));
  return { min: lo, max: hi };
}

/**
 * TensorRT-style entropy calibration on a histogram of |x| over [0, absMax]: for each candidate threshold, the KL
 * divergence between the clipped reference distribution and its `quantBins`-level quantized version; the threshold
 * with the smallest KL wins. Returns the threshold (≤ absMax).
 */
export function entropyThreshold(absHistogram: Histogram, quantBins = 128, stride = 1): number {
  const counts = absHistogram.counts;
  const bins = counts.length;
  const width = (absHistogram.hi - absHistogram.lo) / bins;
  if (absHistogram.total === 0 || width === 0) return absHistogram.hi;
  let bestKl = Number.POSITIVE_INFINITY;
  let best = bins;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  for (let i = quantBins; i <= bins; i += stride) {
    // Reference: first i bins, outliers folded into the last one.
    let outliers = 0;
    for (let b = i; b < bins; b++) outliers += counts[b]!;
    for (let b = 0; b < i; b++) p[b] = counts[b]!;
    p[i - 1]! += outliers;
    // Quantize the first i bins into quantBins levels, spreading each level over its non-empty bins.
    const merge = i / quantBins;
    q.fill(0, 0, i);
    for (let j = 0; j < quantBins; j++) {
      const start = Math.floor(j * merge);
      const end = j === quantBins - 1 ? i : Math.floor((j + 1) * merge);
      let sum = 0;
      let nonZero = 0;
      for (let b = start; b < end; b++) {
        sum += counts[b]!;
        if (counts[b]! > 0) nonZero++;
      }
      if (nonZero === 0) continue;
      const share = sum / nonZero;
      for (let b = start; b < end; b++) if (counts[b]! > 0) q[b] = share;
    }
    // Bin 0 holds the exact zeros of post-ReLU tensors: a spike that says nothing about where to clip.
    p[0] = 0;
    q[0] = 0;
    const kl = klDivergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return Math.min(absHistogram.hi, (best + 0.5) * width);
}

/** KL(P‖Q) over the first n entries of two unnormalised distributions, with ε-smoothing of empty Q bins. */
export function klDivergence(p: Float64Array, q: Float64Array, n: number): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  if (sp === 0 || sq === 0) return Number.POSITIVE_INFINITY;
  const eps = 1e-4;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    const pi = p[i]! / sp;
    if (pi === 0) continue;
    const qi = Math.max(q[i]! / sq, eps / n);
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}

/**
 * The clipping range [lo, hi] (0 inside) that minimises the expected squared error of `levels`-level uniform
 * quantization of the histogram's distribution: clipping error (v − bound)² for mass outside, step²/12 inside.
 * Candidates: hi over 96 points from the observed max down to 2 % of it, lo over 12 points towards 0; each error is
 * evaluated over every bin (bin centres). Pure; used by `--calibration mse` (NVIDIA's and PyTorch's MSE calibrators
 * search the same objective).
 */
export function mseRange(histogram: Histogram, observed: TensorRange, levels = 256): TensorRange {
  const bins = histogram.bins;
  const width = (histogram.hi - histogram.lo) / bins;
  if (histogram.total === 0 || width === 0) return observed;
  const centres = new Float64Array(bins);
  for (let b = 0; b < bins; b++) centres[b] = histogram.lo + (b + 0.5) * width;
  const counts = histogram.counts;
  const maxHi = Math.max(observed.max, 0);
  const minLo = Math.min(observed.min, 0);
  const error = (lo: number, hi: number): number => {
    const step = (hi - lo) / (levels - 1);
    const inside = (step * step) / 12;
    let e = 0;
    for (let b = 0; b < bins; b++) {
      const c = counts[b]!;
      if (c === 0) continue;
      const v = centres[b]!;
      e += c * (v > hi ? (v - hi) * (v - hi) : v < lo ? (v - lo) * (v - lo) : inside);
    }
    return e;
  };
  let best = { lo: minLo, hi: maxHi, e: error(minLo, maxHi) };
  const his = maxHi > 0 ? Array.from({ length: 96 }, (_, i) => maxHi * Math.pow(0.02, i / 95)) : [0];
  const los = minLo < 0 ? Array.from({ length: 12 }, (_, i) => minLo * Math.pow(0.05, i / 11)) : [0];
  for (const hi of his) {
    for (const lo of los) {
      if (hi - lo <= 0) continue;
      const e = error(lo, hi);
      if (e < best.e) best = { lo, hi, e };
    }
  }
  return { min: best.lo, max: best.hi };
}
