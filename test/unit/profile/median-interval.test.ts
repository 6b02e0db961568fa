import { describe, expect, it } from 'vitest';
import { medianIntervalSorted, summarizeLatency } from '../../../src/profile/latency-stats.js';

const ranks = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('medianIntervalSorted (distribution-free 95 % interval of the median)', () => {
  it('uses the binomial ranks (scipy.stats.binom: largest j with cdf(j−1; n, ½) ≤ 0.025)', () => {
    // n=6 → ranks 1, 6; n=30 → 10, 21; n=100 → 40, 61 (computed with scipy 1.17).
    expect(medianIntervalSorted(ranks(6))).toEqual([1, 6]);
    expect(medianIntervalSorted(ranks(30))).toEqual([10, 21]);
    expect(medianIntervalSorted(ranks(100))).toEqual([40, 61]);
  });
  it('is [min, max] when too few samples reach 95 %', () => {
    expect(medianIntervalSorted(ranks(5))).toEqual([1, 5]);
    expect(medianIntervalSorted([7])).toEqual([7, 7]);
  });
  it('is not widened by a long tail, unlike mean ± std', () => {
    const samples = [...Array.from({ length: 28 }, (_, i) => 1 + i * 0.001), 50, 80];
    const s = summarizeLatency(samples);
    expect(s.p50Ci[1]).toBeLessThan(1.03);
    expect(s.std).toBeGreaterThan(10);
  });
});
