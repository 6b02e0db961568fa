/**
 * Pure confidence-interval statistics for judging a compressed variant against its reference model:
 * binomial intervals for one accuracy, Newcombe's interval for the paired top-1 drop, the exact
 * McNemar test, a deterministic percentile bootstrap, and "how many samples until the bound is
 * confirmed" planning. No clock, no I/O.
 *
 * Every function that takes `confidence` accepts 0 < confidence < 1 (0.95 for a 95 % interval);
 * `confidence === 0` means "point estimate only" and returns a zero-width interval at the estimate.
 * Caller mistakes throw `RangeError` naming the parameter and the value.
 */
import { mulberry32 } from '../util/random.js';

/** The four cells of a paired 2×2 table of per-sample correctness, reference vs variant. */
export interface PairedCounts {
  /** Samples both models got right (Newcombe's a). */
  bothCorrect: number;
  /** Samples only the reference got right (b): each one is a sample the variant lost. */
  onlyReferenceCorrect: number;
  /** Samples only the variant got right (c). */
  onlyVariantCorrect: number;
  /** Samples both models got wrong (d). */
  bothWrong: number;
}

/** Caller options for {@link pairedDifferenceInterval} and {@link samplesToConfirmDrop}. */
export interface PairedIntervalOptions {
  /**
   * Apply Newcombe's (1998) continuity correction to the correlation estimate φ: ad − bc is
   * replaced by ad − bc − n/2 when above n/2, by 0 when in [0, n/2], and kept when negative.
   * This is the φ of the published method 10 (and of Fagerland, Lydersen & Laake's
   * implementation); it widens the interval slightly. Default true: the uncorrected φ gives a zero-width
   * interval when no pair disagrees and p = ½ (a bound "confirmed" on no evidence).
   */
  correctedPhi?: boolean;
}

/** Caller options for {@link bootstrapMeanInterval}. */
export interface BootstrapOptions {
  /** Seed of the mulberry32 generator; the same seed gives the same interval. Default 1. */
  seed?: number;
  /** Number of bootstrap resamples. Default 2000. */
  resamples?: number;
}

/** A point estimate of a mean with its percentile-bootstrap interval. */
export interface BootstrapMeanInterval {
  mean: number;
  interval: [number, number];
}

/** A point estimate of p_reference − p_variant (the top-1 drop as a fraction) with its interval. */
export interface PairedDifferenceInterval {
  estimate: number;
  interval: [number, number];
}

const DEFAULT_BOOTSTRAP_SEED = 1;
const DEFAULT_BOOTSTRAP_RESAMPLES = 2000;
const DEFAULT_MAX_SAMPLES = 10_000_000;

// ---------------------------------------------------------------------------------------------
// Validation

function checkConfidence(fn: string, confidence: number): void {
  if (confidence === 0) return;
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`${fn}: confidence must be 0 (point estimate) or strictly between 0 and 1, got ${confidence}`);
  }
}

function checkCount(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${value}`);
  }
}

function checkBinomial(fn: string, successes: number, trials: number): void {
  checkCount(fn, 'successes', successes);
  checkCount(fn, 'trials', trials);
  if (trials === 0) throw new RangeError(`${fn}: trials must be at least 1, got 0`);
  if (successes > trials) throw new RangeError(`${fn}: successes (${successes}) exceed trials (${trials})`);
}

function checkPairedCounts(fn: string, counts: PairedCounts): number {
  checkCount(fn, 'counts.bothCorrect', counts.bothCorrect);
  checkCount(fn, 'counts.onlyReferenceCorrect', counts.onlyReferenceCorrect);
  checkCount(fn, 'counts.onlyVariantCorrect', counts.onlyVariantCorrect);
  checkCount(fn, 'counts.bothWrong', counts.bothWrong);
  const n = counts.bothCorrect + counts.onlyReferenceCorrect + counts.onlyVariantCorrect + counts.bothWrong;
  if (n === 0) throw new RangeError(`${fn}: counts hold no samples (all four cells are 0)`);
  return n;
}

/** Two-sided critical value z with P(|Z| ≤ z) = confidence; exact for the lower tail (1 − c is exact near 1). */
function twoSidedZ(confidence: number): number {
  return -normalQuantile((1 - confidence) / 2);
}

// ---------------------------------------------------------------------------------------------
// Normal distribution

const SQRT_2PI = Math.sqrt(2 * Math.PI);

/**
 * erfc(z) for z ≥ 0: 1 − erf(z) by the all-positive series erf(z) = 2/√π e^{−z²} Σ 2ⁿ z^{2n+1}/(2n+1)!!
 * below 2.5, and the Laplace continued fraction for the tail above (modified Lentz).
 */
function erfcNonNegative(z: number): number {
  if (z < 2.5) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 500; n++) {
      term *= (2 * z * z) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * sum;
  }
  // erfc(z) = e^{−z²}/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + …)))))
  const tiny = 1e-300;
  let f = z;
  let c = z;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    d = z + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = z + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/** Standard normal CDF Φ(x) for x ≤ 0 (the lower tail, with full relative precision). */
function normalCdfLower(x: number): number {
  return 0.5 * erfcNonNegative(-x / Math.SQRT2);
}

// Acklam's rational approximations (relative error 1.15e-9 before refinement).
const ACKLAM_A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const ACKLAM_B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const ACKLAM_C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const ACKLAM_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const ACKLAM_P_LOW = 0.02425;

/**
 * Inverse standard normal CDF: the x with Φ(x) = p, by Acklam's algorithm plus one Halley step
 * (|error| < 1e-9 over (0, 1)); −∞ at 0, +∞ at 1. Throws RangeError outside [0, 1].
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  // 1 − p is exact for p ≥ 1/2 (Sterbenz), so the symmetry costs no precision.
  if (p > 0.5) return -lowerNormalQuantile(1 - p);
  return lowerNormalQuantile(p);
}

/** normalQuantile for 0 < p ≤ 1/2. */
function lowerNormalQuantile(p: number): number {
  const [a0, a1, a2, a3, a4, a5] = ACKLAM_A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = ACKLAM_B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = ACKLAM_C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = ACKLAM_D as [number, number, number, number];
  let x: number;
  if (p < ACKLAM_P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
  }
  if (x > 0) x = 0; // Acklam may overshoot 0 by ~1e-9 at p = 1/2; Φ below is for x ≤ 0.
  // One Halley step on Φ(x) − p = 0 (Acklam 2003, "refinement using Halley's rational method").
  const e = normalCdfLower(x) - p;
  const u = e * SQRT_2PI * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

// ---------------------------------------------------------------------------------------------
// Binomial intervals

/** Wilson score interval for a possibly non-integer success count k of n (no validation, z > 0). */
function wilsonRaw(k: number, n: number, z: number): [number, number] {
  const p = k / n;
  const z2 = z * z;
  const denom = n + z2;
  const centre = (k + z2 / 2) / denom;
  const half = ((z * Math.sqrt(n)) / denom) * Math.sqrt(Math.max(0, p * (1 - p)) + z2 / (4 * n));
  const lo = k <= 0 ? 0 : Math.min(p, Math.max(0, centre - half));
  const hi = k >= n ? 1 : Math.max(p, Math.min(1, centre + half));
  return [lo, hi];
}

/**
 * Wilson score interval of a binomial proportion successes/trials (Wilson 1927), as
 * scipy.stats.binomtest(...).proportion_ci(method='wilson'); lo is 0 at k = 0 and hi is 1 at k = n.
 */
export function wilsonInterval(successes: number, trials: number, confidence: number): [number, number] {
  checkBinomial('wilsonInterval', successes, trials);
  checkConfidence('wilsonInterval', confidence);
  if (confidence === 0) return [successes / trials, successes / trials];
  return wilsonRaw(successes, trials, twoSidedZ(confidence));
}

// Lanczos approximation, g = 7, 9 coefficients (relative error ~1e-15 for x > 0).
const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 by the Lanczos approximation (g = 7, n = 9). */
function logGamma(x: number): number {
  if (x < 0.5) {
    // Reflection: Γ(x)Γ(1 − x) = π / sin(πx); x ∈ (0, 1/2) here so sin(πx) > 0.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const xm1 = x - 1;
  let sum = LANCZOS_COEFFICIENTS[0]!;
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) sum += LANCZOS_COEFFICIENTS[i]! / (xm1 + i);
  const t = xm1 + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (xm1 + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction for the incomplete beta function, modified Lentz (Numerical Recipes §6.4 `betacf`). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const eps = 1e-16;
  // Convergence takes O(√max(a, b)) terms; allow plenty for n up to ~1e9.
  const maxIterations = 1000 + Math.ceil(10 * Math.sqrt(Math.max(a, b)));
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= maxIterations; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < eps) return h;
  }
  return h; // not converged to 1e-16 — still accurate far beyond what the callers need
}

/** Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1 (Numerical Recipes `betai`). */
function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(logFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** The x in [0, 1] with I_x(a, b) = target, by bisection to the resolution of doubles (I_x increases in x). */
function inverseRegularizedBeta(target: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (mid <= lo || mid >= hi) break;
    if (regularizedBeta(mid, a, b) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Clopper–Pearson "exact" interval of a binomial proportion successes/trials (Clopper & Pearson 1934):
 * the beta-quantile form lo = B⁻¹(α/2; k, n − k + 1), hi = B⁻¹(1 − α/2; k + 1, n − k), with lo = 0
 * at k = 0 and hi = 1 at k = n; as scipy's binomtest(...).proportion_ci(method='exact'), to ~1e-9.
 */
export function clopperPearsonInterval(successes: number, trials: number, confidence: number): [number, number] {
  checkBinomial('clopperPearsonInterval', successes, trials);
  checkConfidence('clopperPearsonInterval', confidence);
  const k = successes;
  const n = trials;
  if (confidence === 0) return [k / n, k / n];
  const halfAlpha = (1 - confidence) / 2;
  const lo = k === 0 ? 0 : inverseRegularizedBeta(halfAlpha, k, n - k + 1);
  // B⁻¹(1 − α/2; k + 1, n − k) = 1 − B⁻¹(α/2; n − k, k + 1): solve in the small tail for precision.
  const hi = k === n ? 1 : 1 - inverseRegularizedBeta(halfAlpha, n - k, k + 1);
  return [lo, hi];
}

// ---------------------------------------------------------------------------------------------
// Paired difference

/** Newcombe's hybrid score interval for real-valued (possibly scaled) cell counts; no validation. */
function newcombeRaw(a: number, b: number, c: number, d: number, z: number, correctedPhi: boolean): PairedDifferenceInterval {
  const n = a + b + c + d;
  const p1 = (a + b) / n;
  const p2 = (a + c) / n;
  const estimate = (b - c) / n;
  if (z === 0) return { estimate, interval: [estimate, estimate] };
  const [l1, u1] = wilsonRaw(a + b, n, z);
  const [l2, u2] = wilsonRaw(a + c, n, z);
  const denominator = Math.sqrt((a + b) * (c + d)) * Math.sqrt((a + c) * (b + d));
  let phi = 0;
  if (denominator > 0) {
    let numerator = a * d - b * c;
    if (correctedPhi) numerator = numerator > n / 2 ? numerator - n / 2 : numerator >= 0 ? 0 : numerator;
    phi = numerator / denominator;
  }
  const dl1 = p1 - l1;
  const du1 = u1 - p1;
  const dl2 = p2 - l2;
  const du2 = u2 - p2;
  const below = Math.sqrt(Math.max(0, dl1 * dl1 - 2 * phi * dl1 * du2 + du2 * du2));
  const above = Math.sqrt(Math.max(0, du1 * du1 - 2 * phi * du1 * dl2 + dl2 * dl2));
  return { estimate, interval: [Math.max(-1, estimate - below), Math.min(1, estimate + above)] };
}

/**
 * Interval of the paired accuracy drop p_reference − p_variant = (b − c)/n by Newcombe's hybrid
 * score method for paired proportions (method 10 of Newcombe 1998, Stat Med 17:2635–2650).
 *
 * With a = both correct, b = only reference correct, c = only variant correct, d = both wrong and
 * n = a + b + c + d: Wilson intervals (l1, u1) for p1 = (a + b)/n and (l2, u2) for p2 = (a + c)/n;
 * φ = (ad − bc)/√((a + b)(c + d)(a + c)(b + d)), 0 when that denominator is 0;
 * δ = √((p1 − l1)² − 2φ(p1 − l1)(u2 − p2) + (u2 − p2)²),
 * ε = √((u1 − p1)² − 2φ(u1 − p1)(p2 − l2) + (p2 − l2)²); the interval is [D − δ, D + ε] clamped to
 * [−1, 1]. By default φ is corrected as in the published method 10 (reproduces published values);
 * `options.correctedPhi: false` gives the uncorrected form.
 *
 * Why it does not collapse when no pair disagrees (b = c = 0): the conditional exact interval
 * built from McNemar's test uses only the m = b + c discordant pairs — it bounds b/m and rescales by
 * m/n — so with m = 0 it carries no information and is zero-width at 0, as if 0 disagreements among
 * n samples proved equality. Newcombe's interval is built from the marginal Wilson intervals,
 * whose half-widths are Θ(1/√n) whatever b and c are, and only discounts them by the estimated
 * correlation φ. At b = c = 0 the uncorrected φ is 1 (or 0 if a or d is 0), leaving a width equal
 * to the asymmetry of the Wilson interval (or the full Wilson half-width): non-zero and shrinking
 * with n, except in the single case p1 = p2 = 1/2 where the Wilson interval is symmetric and the
 * uncorrected width is 0. The corrected φ = 1 − n/(2ad) < 1 keeps a positive width there too.
 */
export function pairedDifferenceInterval(
  counts: PairedCounts,
  confidence: number,
  options: PairedIntervalOptions = {},
): PairedDifferenceInterval {
  checkPairedCounts('pairedDifferenceInterval', counts);
  checkConfidence('pairedDifferenceInterval', confidence);
  const z = confidence === 0 ? 0 : twoSidedZ(confidence);
  return newcombeRaw(
    counts.bothCorrect,
    counts.onlyReferenceCorrect,
    counts.onlyVariantCorrect,
    counts.bothWrong,
    z,
    options.correctedPhi !== false,
  );
}

/**
 * Two-sided exact McNemar p-value: min(1, 2·P(X ≤ min(b, c))) for X ~ Binomial(b + c, 1/2),
 * as scipy.stats.binomtest(b, b + c, 0.5).pvalue; 1 when there are no discordant pairs.
 */
export function exactMcNemarPValue(onlyReferenceCorrect: number, onlyVariantCorrect: number): number {
  checkCount('exactMcNemarPValue', 'onlyReferenceCorrect', onlyReferenceCorrect);
  checkCount('exactMcNemarPValue', 'onlyVariantCorrect', onlyVariantCorrect);
  const m = onlyReferenceCorrect + onlyVariantCorrect;
  const k = Math.min(onlyReferenceCorrect, onlyVariantCorrect);
  if (2 * k >= m) return 1;
  // P(X ≤ k) for X ~ Bin(m, p) is I_{1−p}(m − k, k + 1).
  const tail = regularizedBeta(0.5, m - k, k + 1);
  return Math.min(1, 2 * tail);
}

// ---------------------------------------------------------------------------------------------
// Bootstrap

/** Type-7 quantile (linear interpolation between closest ranks) of an ascending-sorted array, q in [0, 1]. */
function quantileSorted(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (h - lo);
}

/**
 * Percentile-bootstrap interval of the mean of `values`, deterministic for a given seed
 * (mulberry32; default seed 1, 2000 resamples). One value gives [v, v]; empty input throws RangeError.
 */
export function bootstrapMeanInterval(
  values: ArrayLike<number>,
  confidence: number,
  options: BootstrapOptions = {},
): BootstrapMeanInterval {
  const n = values.length;
  if (n === 0) throw new RangeError('bootstrapMeanInterval: values is empty');
  checkConfidence('bootstrapMeanInterval', confidence);
  const seed = options.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const resamples = options.resamples ?? DEFAULT_BOOTSTRAP_RESAMPLES;
  if (!Number.isInteger(seed)) throw new RangeError(`bootstrapMeanInterval: options.seed must be an integer, got ${seed}`);
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bootstrapMeanInterval: options.resamples must be a positive integer, got ${resamples}`);
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`bootstrapMeanInterval: values[${i}] is not finite, got ${v}`);
    sum += v;
  }
  const mean = sum / n;
  if (confidence === 0 || n === 1) return { mean, interval: [mean, mean] };
  const random = mulberry32(seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(random() * n)]!;
    means[r] = s / n;
  }
  means.sort();
  const halfAlpha = (1 - confidence) / 2;
  return { mean, interval: [quantileSorted(means, halfAlpha), quantileSorted(means, 1 - halfAlpha)] };
}

// ---------------------------------------------------------------------------------------------
// Sample-size planning

/**
 * Smallest sample count n ≥ currentSamples with upperBoundAt(n) ≤ bound, searched by doubling then
 * bisection (so upperBoundAt must decrease with n); null when even upperBoundAt(maxSamples) > bound.
 */
export function samplesToConfirm(
  upperBoundAt: (samples: number) => number,
  bound: number,
  currentSamples: number,
  maxSamples: number = DEFAULT_MAX_SAMPLES,
): number | null {
  if (Number.isNaN(bound)) throw new RangeError(`samplesToConfirm: bound must be a number, got ${bound}`);
  checkCount('samplesToConfirm', 'currentSamples', currentSamples);
  checkCount('samplesToConfirm', 'maxSamples', maxSamples);
  if (maxSamples < currentSamples) {
    throw new RangeError(`samplesToConfirm: maxSamples (${maxSamples}) is below currentSamples (${currentSamples})`);
  }
  const reaches = (samples: number): boolean => upperBoundAt(samples) <= bound;
  if (reaches(currentSamples)) return currentSamples;
  // Doubling: invariant !reaches(lo); stops at the first doubled count that reaches the bound.
  let lo = currentSamples;
  let hi = currentSamples;
  for (;;) {
    if (hi >= maxSamples) return null;
    hi = Math.min(maxSamples, Math.max(1, hi * 2));
    if (reaches(hi)) break;
    lo = hi;
  }
  // Bisection: invariant !reaches(lo), reaches(hi).
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (reaches(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Samples needed before the upper end of {@link pairedDifferenceInterval} falls to `boundFraction`,
 * assuming the observed cell proportions persist (the four counts scaled to n, non-integer allowed);
 * the current count when already there, null when the observed drop itself is ≥ the bound or more
 * than 10 000 000 samples would be needed.
 */
export function samplesToConfirmDrop(
  counts: PairedCounts,
  boundFraction: number,
  confidence: number,
  options: PairedIntervalOptions = {},
): number | null {
  const n0 = checkPairedCounts('samplesToConfirmDrop', counts);
  checkConfidence('samplesToConfirmDrop', confidence);
  if (!Number.isFinite(boundFraction)) {
    throw new RangeError(`samplesToConfirmDrop: boundFraction must be a finite number, got ${boundFraction}`);
  }
  const { bothCorrect: a, onlyReferenceCorrect: b, onlyVariantCorrect: c, bothWrong: d } = counts;
  if ((b - c) / n0 >= boundFraction) return null;
  const z = confidence === 0 ? 0 : twoSidedZ(confidence);
  const correctedPhi = options.correctedPhi !== false;
  const upperBoundAt = (samples: number): number => {
    const s = samples / n0;
    return newcombeRaw(a * s, b * s, c * s, d * s, z, correctedPhi).interval[1];
  };
  return samplesToConfirm(upperBoundAt, boundFraction, n0, Math.max(n0, DEFAULT_MAX_SAMPLES));
}

/** A confidence level edgetune accepts: 0 (point estimates) or strictly between 0 and 1. */
export function isConfidenceLevel(value: unknown): value is number {
  return typeof value === 'number' && (value === 0 || (value > 0 && value < 1));
}
