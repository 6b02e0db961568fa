import { describe, expect, it } from 'vitest';
import {
  bootstrapMeanInterval,
  clopperPearsonInterval,
  exactMcNemarPValue,
  normalQuantile,
  pairedDifferenceInterval,
  samplesToConfirm,
  samplesToConfirmDrop,
  wilsonInterval,
  type PairedCounts,
} from '../../../src/compress/confidence.js';
import { mulberry32 } from '../../../src/util/random.js';

// Golden values below were computed once at dev time with Python 3 + scipy 1.17; the suite does not need Python.

/** Paired counts from the four cells a, b, c, d (Newcombe's notation). */
function paired(a: number, b: number, c: number, d: number): PairedCounts {
  return { bothCorrect: a, onlyReferenceCorrect: b, onlyVariantCorrect: c, bothWrong: d };
}

function expectInterval(actual: [number, number], expected: [number, number], tolerance: number): void {
  expect(Math.abs(actual[0] - expected[0])).toBeLessThanOrEqual(tolerance);
  expect(Math.abs(actual[1] - expected[1])).toBeLessThanOrEqual(tolerance);
}

describe('normalQuantile', () => {
  it('matches scipy.stats.norm.ppf to 1e-9 from the far tails to the centre', () => {
    // [p, float(scipy.stats.norm.ppf(p))]
    const golden: [number, number][] = [
      [1e-300, -37.0470962993612],
      [1e-20, -9.262340089798409],
      [1e-6, -4.753424308822899],
      [1e-3, -3.090232306167813],
      [0.02, -2.053748910631823],
      [0.025, -1.9599639845400545],
      [0.1, -1.2815515655446004],
      [0.3, -0.5244005127080409],
      [0.7, 0.5244005127080407],
      [0.975, 1.959963984540054],
      [0.999, 3.090232306167813],
      [1 - 1e-10, 6.361340889697422],
    ];
    for (const [p, x] of golden) expect(Math.abs(normalQuantile(p) - x)).toBeLessThan(1e-9);
  });

  it('is 0 at one half, ±∞ at the ends, and antisymmetric', () => {
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    for (const p of [0.01, 0.2, 0.45]) expect(normalQuantile(1 - p)).toBeCloseTo(-normalQuantile(p), 12);
  });

  it('rejects p outside [0, 1] and NaN, naming the value', () => {
    expect(() => normalQuantile(-0.1)).toThrow(RangeError);
    expect(() => normalQuantile(1.1)).toThrow(/1\.1/);
    expect(() => normalQuantile(Number.NaN)).toThrow(RangeError);
  });
});

describe('wilsonInterval and clopperPearsonInterval', () => {
  // [k, n, confidence, wilson, exact] from r = scipy.stats.binomtest(k, n);
  // r.proportion_ci(confidence, method='wilson') and r.proportion_ci(confidence, method='exact').
  const golden: [number, number, number, [number, number], [number, number]][] = [
    [0, 10, 0.95, [0, 0.27753279986288926], [0, 0.30849710781876294]],
    [10, 10, 0.95, [0.7224672001371109, 1], [0.6915028921812371, 1]],
    [3, 10, 0.95, [0.10779126740630102, 0.6032218525388546], [0.06673951117773447, 0.652452850060008]],
    [45, 50, 0.95, [0.7863976856252034, 0.9565242350681095], [0.7818646335657977, 0.9667249064109785]],
    [981, 1000, 0.99, [0.9663012567415561, 0.9893580426213666], [0.9668570333147256, 0.9903149407136549]],
    [1, 2, 0.8, [0.1642517200298993, 0.8357482799701007], [0.0513167019494874, 0.9486832980505125]],
    [9500, 10000, 0.95, [0.9455528841569758, 0.9541015173094152], [0.9455454729716412, 0.9541900578012293]],
  ];

  it('Wilson matches scipy method="wilson"', () => {
    for (const [k, n, confidence, wilson] of golden) expectInterval(wilsonInterval(k, n, confidence), wilson, 1e-12);
  });

  it('Clopper–Pearson matches scipy method="exact" to 1e-9', () => {
    for (const [k, n, confidence, , exact] of golden) expectInterval(clopperPearsonInterval(k, n, confidence), exact, 1e-9);
  });

  it('pins the ends exactly at k = 0 and k = n', () => {
    expect(clopperPearsonInterval(0, 25, 0.95)[0]).toBe(0);
    expect(clopperPearsonInterval(25, 25, 0.95)[1]).toBe(1);
    expect(wilsonInterval(0, 25, 0.95)[0]).toBe(0);
    expect(wilsonInterval(25, 25, 0.95)[1]).toBe(1);
  });

  it('contains the estimate, nests by confidence and narrows as n grows', () => {
    for (const interval of [wilsonInterval, clopperPearsonInterval]) {
      let previousWidth = Number.POSITIVE_INFINITY;
      for (const n of [20, 200, 2000, 20000]) {
        const k = Math.round(0.9 * n);
        const [lo, hi] = interval(k, n, 0.95);
        expect(lo).toBeLessThanOrEqual(k / n);
        expect(hi).toBeGreaterThanOrEqual(k / n);
        expect(hi - lo).toBeLessThan(previousWidth);
        previousWidth = hi - lo;
        const [lo99, hi99] = interval(k, n, 0.99);
        expect(lo99).toBeLessThan(lo);
        expect(hi99).toBeGreaterThan(hi);
      }
    }
  });

  it('gives the point estimate at confidence 0', () => {
    expect(wilsonInterval(3, 4, 0)).toEqual([0.75, 0.75]);
    expect(clopperPearsonInterval(3, 4, 0)).toEqual([0.75, 0.75]);
  });

  it('rejects bad confidence and bad counts with RangeError naming the value', () => {
    for (const interval of [wilsonInterval, clopperPearsonInterval]) {
      expect(() => interval(3, 10, 1)).toThrow(/confidence.*got 1$/);
      expect(() => interval(3, 10, 95)).toThrow(RangeError);
      expect(() => interval(3, 10, -0.5)).toThrow(RangeError);
      expect(() => interval(3, 10, Number.NaN)).toThrow(/NaN/);
      expect(() => interval(11, 10, 0.95)).toThrow(/exceed/);
      expect(() => interval(0, 0, 0.95)).toThrow(/trials/);
      expect(() => interval(2.5, 10, 0.95)).toThrow(/2\.5/);
      expect(() => interval(-1, 10, 0.95)).toThrow(RangeError);
      expect(() => interval(3, Number.POSITIVE_INFINITY, 0.95)).toThrow(RangeError);
    }
  });
});

describe('pairedDifferenceInterval (Newcombe hybrid score, paired)', () => {
  it('reproduces the published Cavo et al. (2012) example with the corrected φ of method 10', () => {
    // Fagerland, Lydersen & Laake, paired 2×2 table (complete response before/after consolidation,
    // Cavo et al. 2012): a = 59, b = 6, c = 16, d = 80; Newcombe square-and-add 95 % CI
    // "estimate = -0.0621 (95% CI -0.1186 to -0.0046)", as asserted in the authors' R package
    // contingencytables, tests/testthat/test-ch8.R (published to 4 decimals).
    const r = pairedDifferenceInterval(paired(59, 6, 16, 80), 0.95, { correctedPhi: true });
    expect(r.estimate).toBeCloseTo(-10 / 161, 12);
    expectInterval(r.interval, [-0.1186, -0.0046], 5e-5);
  });

  it('matches an independent Python implementation (corrected φ by default)', () => {
    // [a, b, c, d, confidence, uncorrected, corrected]: the method-10 formula written out separately in
    // Python with scipy.stats.norm.ppf for z and scipy's Wilson limits.
    const golden: [number, number, number, number, number, [number, number], [number, number]][] = [
      [59, 6, 16, 80, 0.95, [-0.11735092760633908, -0.005923505431808522], [-0.11862119563870992, -0.004625113933050061]],
      [1, 1, 7, 12, 0.95, [-0.5016625403015134, -0.036052553488836514], [-0.506920226686141, -0.02555912416485978]],
      [90, 0, 0, 10, 0.95, [-0.029594798565588675, 0.029594798565588675], [-0.03529570914725509, 0.035295709147255085]],
      [180, 7, 2, 11, 0.95, [-0.0059508806651817035, 0.05990713446210678], [-0.00750339995134424, 0.061175045171486135]],
      [180, 7, 2, 11, 0.9, [-0.00029679493550543307, 0.05323814245427534], [-0.0016313284090367051, 0.05435403452156716]],
      [100, 0, 0, 0, 0.95, [-0.03699349820698572, 0.03699349820698572], [-0.03699349820698572, 0.03699349820698572]],
    ];
    for (const [a, b, c, d, confidence, uncorrected, corrected] of golden) {
      expectInterval(pairedDifferenceInterval(paired(a, b, c, d), confidence, { correctedPhi: false }).interval, uncorrected, 1e-12);
      expectInterval(pairedDifferenceInterval(paired(a, b, c, d), confidence).interval, corrected, 1e-12);
    }
  });

  it('reports the drop (b − c)/n inside its interval', () => {
    for (const counts of [paired(180, 7, 2, 11), paired(1, 1, 7, 12), paired(0, 3, 0, 0), paired(0, 0, 5, 0)]) {
      const { estimate, interval } = pairedDifferenceInterval(counts, 0.95);
      const n = counts.bothCorrect + counts.onlyReferenceCorrect + counts.onlyVariantCorrect + counts.bothWrong;
      expect(estimate).toBeCloseTo((counts.onlyReferenceCorrect - counts.onlyVariantCorrect) / n, 15);
      expect(interval[0]).toBeLessThanOrEqual(estimate);
      expect(interval[1]).toBeGreaterThanOrEqual(estimate);
      expect(interval[0]).toBeGreaterThanOrEqual(-1);
      expect(interval[1]).toBeLessThanOrEqual(1);
    }
  });

  it('narrows as the same proportions are observed on more samples', () => {
    let previousWidth = Number.POSITIVE_INFINITY;
    for (const scale of [1, 4, 16, 64]) {
      const [lo, hi] = pairedDifferenceInterval(paired(180 * scale, 7 * scale, 2 * scale, 11 * scale), 0.95).interval;
      expect(hi - lo).toBeLessThan(previousWidth);
      previousWidth = hi - lo;
    }
  });

  it('keeps a non-zero upper end when no pair disagrees (b = c = 0), shrinking with n', () => {
    let previousUpper = Number.POSITIVE_INFINITY;
    for (const scale of [1, 10, 100]) {
      const { estimate, interval } = pairedDifferenceInterval(paired(90 * scale, 0, 0, 10 * scale), 0.95);
      expect(estimate).toBe(0);
      expect(interval[1]).toBeGreaterThan(0);
      expect(interval[1]).toBeLessThan(previousUpper);
      previousUpper = interval[1];
    }
    // All correct on both sides: φ's denominator is 0, φ = 0, the Wilson half-width remains.
    expect(pairedDifferenceInterval(paired(100, 0, 0, 0), 0.95).interval[1]).toBeGreaterThan(0.03);
  });

  it('collapses at b = c = 0 with p = 1/2 only with the uncorrected φ (why the corrected φ is the default)', () => {
    // Python (as above): uncorrected [0, 0]; corrected [-0.019233693926800913, 0.019233693926800913].
    expectInterval(pairedDifferenceInterval(paired(50, 0, 0, 50), 0.95, { correctedPhi: false }).interval, [0, 0], 1e-12);
    const corrected = pairedDifferenceInterval(paired(50, 0, 0, 50), 0.95).interval;
    expectInterval(corrected, [-0.019233693926800913, 0.019233693926800913], 1e-12);
  });

  it('gives the point estimate at confidence 0', () => {
    expect(pairedDifferenceInterval(paired(180, 7, 2, 11), 0).interval).toEqual([0.025, 0.025]);
  });

  it('rejects bad counts and confidence with RangeError', () => {
    expect(() => pairedDifferenceInterval(paired(0, 0, 0, 0), 0.95)).toThrow(/no samples/);
    expect(() => pairedDifferenceInterval(paired(10, 1.5, 0, 0), 0.95)).toThrow(/onlyReferenceCorrect.*1\.5/);
    expect(() => pairedDifferenceInterval(paired(10, 0, -1, 0), 0.95)).toThrow(/onlyVariantCorrect/);
    expect(() => pairedDifferenceInterval(paired(10, 1, 1, Number.NaN), 0.95)).toThrow(/bothWrong/);
    expect(() => pairedDifferenceInterval(paired(10, 1, 1, 1), 1)).toThrow(/confidence/);
    expect(() => pairedDifferenceInterval(paired(10, 1, 1, 1), Number.NaN)).toThrow(RangeError);
  });

  it('covers the true drop in at least 92 % of 400 simulated paired experiments', () => {
    // Cell probabilities of a typical int8 variant: true drop = pB − pC = 0.03.
    const scenarios = [
      { pA: 0.85, pB: 0.05, pC: 0.02, samples: 300, seed: 11 },
      // Near-equivalent variant with rare disagreements: true drop 0.
      { pA: 0.9, pB: 0.01, pC: 0.01, samples: 400, seed: 12 },
    ];
    for (const { pA, pB, pC, samples, seed } of scenarios) {
      const random = mulberry32(seed);
      const trueDrop = pB - pC;
      let covered = 0;
      const experiments = 400;
      for (let e = 0; e < experiments; e++) {
        let a = 0;
        let b = 0;
        let c = 0;
        let d = 0;
        for (let i = 0; i < samples; i++) {
          const u = random();
          if (u < pA) a++;
          else if (u < pA + pB) b++;
          else if (u < pA + pB + pC) c++;
          else d++;
        }
        const [lo, hi] = pairedDifferenceInterval(paired(a, b, c, d), 0.95).interval;
        if (lo <= trueDrop && trueDrop <= hi) covered++;
      }
      expect(covered / experiments).toBeGreaterThanOrEqual(0.92);
    }
  });
});

describe('exactMcNemarPValue', () => {
  it('matches scipy.stats.binomtest(b, b + c, 0.5).pvalue', () => {
    const golden: [number, number, number][] = [
      [6, 16, 0.052478790283203125],
      [0, 5, 0.0625],
      [1, 7, 0.0703125],
      [120, 80, 0.005685155996750306],
      [3, 40, 3.0213413992896676e-9],
      [1000, 1200, 2.1817026407914194e-5],
    ];
    for (const [b, c, p] of golden) {
      expect(Math.abs(exactMcNemarPValue(b, c) - p) / p).toBeLessThan(1e-9);
      expect(Math.abs(exactMcNemarPValue(c, b) - p) / p).toBeLessThan(1e-9);
    }
  });

  it('is 1 with no or balanced discordance', () => {
    expect(exactMcNemarPValue(0, 0)).toBe(1);
    expect(exactMcNemarPValue(10, 10)).toBe(1);
    expect(exactMcNemarPValue(10, 11)).toBe(1);
  });

  it('rejects non-integer and negative counts', () => {
    expect(() => exactMcNemarPValue(1.5, 2)).toThrow(/onlyReferenceCorrect.*1\.5/);
    expect(() => exactMcNemarPValue(1, -2)).toThrow(/onlyVariantCorrect/);
  });
});

describe('bootstrapMeanInterval', () => {
  function normalSample(count: number, seed: number): Float64Array {
    const random = mulberry32(seed);
    return Float64Array.from({ length: count }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
  }

  it('is deterministic for a fixed seed and differs for another seed', () => {
    const values = normalSample(200, 3);
    const first = bootstrapMeanInterval(values, 0.95);
    expect(bootstrapMeanInterval(values, 0.95)).toEqual(first);
    expect(bootstrapMeanInterval(values, 0.95, { seed: 1, resamples: 2000 })).toEqual(first);
    expect(bootstrapMeanInterval(values, 0.95, { seed: 2 }).interval).not.toEqual(first.interval);
  });

  it('contains the mean and agrees with the normal-theory interval on a large sample', () => {
    const values = normalSample(2000, 4);
    const { mean, interval } = bootstrapMeanInterval(values, 0.95);
    let ss = 0;
    for (const v of values) ss += (v - mean) ** 2;
    const standardError = Math.sqrt(ss / (values.length - 1) / values.length);
    expect(interval[0]).toBeLessThan(mean);
    expect(interval[1]).toBeGreaterThan(mean);
    // mean ± 1.96·SE, within 10 % of the half-width
    expect(Math.abs(interval[0] - (mean - 1.96 * standardError))).toBeLessThan(0.1 * 1.96 * standardError);
    expect(Math.abs(interval[1] - (mean + 1.96 * standardError))).toBeLessThan(0.1 * 1.96 * standardError);
  });

  it('is narrower for a larger sample', () => {
    const small = bootstrapMeanInterval(normalSample(100, 5), 0.95).interval;
    const large = bootstrapMeanInterval(normalSample(1600, 5), 0.95).interval;
    expect(large[1] - large[0]).toBeLessThan((small[1] - small[0]) / 2);
  });

  it('handles one value, confidence 0 and plain arrays', () => {
    expect(bootstrapMeanInterval([4.5], 0.95)).toEqual({ mean: 4.5, interval: [4.5, 4.5] });
    expect(bootstrapMeanInterval([1, 2, 3, 6], 0)).toEqual({ mean: 3, interval: [3, 3] });
  });

  it('rejects empty input, bad confidence, bad options and non-finite values', () => {
    expect(() => bootstrapMeanInterval([], 0.95)).toThrow(/empty/);
    expect(() => bootstrapMeanInterval([1, 2], 1)).toThrow(/confidence/);
    expect(() => bootstrapMeanInterval([1, 2], 0.95, { resamples: 0 })).toThrow(/resamples/);
    expect(() => bootstrapMeanInterval([1, 2], 0.95, { seed: 0.5 })).toThrow(/seed/);
    expect(() => bootstrapMeanInterval([1, Number.NaN], 0.95)).toThrow(/values\[1\]/);
  });
});

describe('samplesToConfirm', () => {
  it('finds the exact boundary of a decreasing bound', () => {
    // 1/√n ≤ 0.01 first at n = 10 000.
    const upperBoundAt = (n: number): number => 1 / Math.sqrt(n);
    expect(samplesToConfirm(upperBoundAt, 0.01, 50)).toBe(10_000);
    expect(samplesToConfirm(upperBoundAt, 0.01, 0)).toBe(10_000);
    expect(samplesToConfirm(upperBoundAt, 0.01, 12_345)).toBe(12_345);
    expect(samplesToConfirm(upperBoundAt, 0.01, 50, 9_999)).toBeNull();
    expect(samplesToConfirm(upperBoundAt, 0.01, 50, 10_000)).toBe(10_000);
  });

  it('lands where upperBoundAt(n) ≤ bound < upperBoundAt(n − 1) for a Wilson-style bound', () => {
    const upperBoundAt = (n: number): number => 0.02 + 1.96 * Math.sqrt((0.1 * 0.9) / n) + 3 / n;
    for (const [bound, current] of [[0.03, 100], [0.025, 1], [0.05, 20]] as const) {
      const n = samplesToConfirm(upperBoundAt, bound, current);
      expect(n).not.toBeNull();
      expect(upperBoundAt(n!)).toBeLessThanOrEqual(bound);
      expect(upperBoundAt(n! - 1)).toBeGreaterThan(bound);
    }
    expect(samplesToConfirm(upperBoundAt, 0.05, 777)).toBe(777); // already below the bound
    expect(samplesToConfirm(upperBoundAt, 0.02, 100)).toBeNull();
  });

  it('rejects bad sample counts', () => {
    const f = (n: number): number => 1 / n;
    expect(() => samplesToConfirm(f, 0.1, -1)).toThrow(/currentSamples/);
    expect(() => samplesToConfirm(f, 0.1, 10, 5)).toThrow(/maxSamples/);
    expect(() => samplesToConfirm(f, Number.NaN, 10)).toThrow(/bound/);
  });
});

describe('samplesToConfirmDrop', () => {
  it('matches a brute-force scan of the scaled Newcombe upper end', () => {
    // Python: the independent Newcombe formula above on counts·n/n₀, scanning n = n₀, n₀ + 1, … for the
    // first upper end ≤ the bound (each answer clears the bound by > 1e-7 on both sides of the boundary).
    expect(samplesToConfirmDrop(paired(180, 7, 2, 11), 0.04, 0.95, { correctedPhi: false })).toBe(867);
    expect(samplesToConfirmDrop(paired(180, 7, 2, 11), 0.04, 0.95)).toBe(884);
    expect(samplesToConfirmDrop(paired(900, 12, 8, 80), 0.01, 0.95, { correctedPhi: false })).toBe(2287);
  });

  it('scales all-zero discordance (b = c = 0) through the Wilson width', () => {
    expect(samplesToConfirmDrop(paired(95, 0, 0, 5), 0.01, 0.95, { correctedPhi: false })).toBe(342);
    expect(samplesToConfirmDrop(paired(95, 0, 0, 5), 0.01, 0.95)).toBe(395);
  });

  it('returns the current count when already confirmed and null when the observed drop reaches the bound', () => {
    expect(samplesToConfirmDrop(paired(180, 7, 2, 11), 0.1, 0.95)).toBe(200);
    expect(samplesToConfirmDrop(paired(180, 7, 2, 11), 0.04, 0)).toBe(200);
    expect(samplesToConfirmDrop(paired(180, 7, 2, 11), 0.025, 0.95)).toBeNull();
    expect(samplesToConfirmDrop(paired(180, 9, 2, 9), 0.01, 0.95)).toBeNull();
  });

  it('rejects bad input', () => {
    expect(() => samplesToConfirmDrop(paired(180, 7, 2, 11), Number.NaN, 0.95)).toThrow(/boundFraction/);
    expect(() => samplesToConfirmDrop(paired(180, 7, 2, 11), 0.04, 1.5)).toThrow(/confidence/);
    expect(() => samplesToConfirmDrop(paired(0, 0, 0, 0), 0.04, 0.95)).toThrow(/no samples/);
  });
});
