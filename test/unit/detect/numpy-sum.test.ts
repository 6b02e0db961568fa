import { describe, expect, it } from 'vitest';
import { numpyMean, numpySum } from '../../../src/detect/numpy-sum.js';

// x[i] = 1 / (i + 1) + (i mod 7) · 0.1 (only correctly rounded operations, so Python and JS build the same values);
// expected values printed by numpy 2.4.6 (np.sum / np.mean of a float64 array).
const series = (n: number): number[] => Array.from({ length: n }, (_, i) => 1 / (i + 1) + (i % 7) * 0.1);
const NUMPY: Array<[number, number, number]> = [
  [7, 4.692857142857143, 0.6704081632653062],
  [100, 34.687377517639625, 0.3468737751763962],
  [300, 95.98266388029951, 0.3199422129343317],
  [1000, 307.18547086055037, 0.30718547086055037],
];

describe('numpySum / numpyMean', () => {
  for (const [n, sum, mean] of NUMPY) {
    it(`equal numpy bit for bit on ${n} values`, () => {
      expect(numpySum(series(n))).toBe(sum);
      expect(numpyMean(series(n))).toBe(mean);
    });
  }

  it('differ from a left fold where numpy does (100, 300 and 1000 values)', () => {
    const fold = (xs: number[]): number => xs.reduce((s, v) => s + v, 0);
    expect(fold(series(100))).not.toBe(numpySum(series(100)));
    expect(fold(series(300))).not.toBe(numpySum(series(300)));
    expect(fold(series(1000))).not.toBe(numpySum(series(1000)));
  });

  it('an empty sum is 0; an empty mean is a RangeError', () => {
    expect(numpySum([])).toBe(0);
    expect(() => numpyMean([])).toThrow(RangeError);
  });
});
