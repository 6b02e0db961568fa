import { describe, expect, it } from 'vitest';
import { mean, median, percentileSorted, sampleStd, summarizeLatency, throughputPerSec } from '../../../src/profile/latency-stats.js';

describe('percentileSorted (type 7, as numpy.percentile)', () => {
  const oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it('interpolates between closest ranks', () => {
    // numpy.percentile(range(1, 11), [50, 90, 99]) = [5.5, 9.1, 9.91]
    expect(percentileSorted(oneToTen, 50)).toBeCloseTo(5.5, 12);
    expect(percentileSorted(oneToTen, 90)).toBeCloseTo(9.1, 12);
    expect(percentileSorted(oneToTen, 99)).toBeCloseTo(9.91, 12);
    // numpy.percentile([15, 20, 35, 40, 50], 40) = 29.0
    expect(percentileSorted([15, 20, 35, 40, 50], 40)).toBeCloseTo(29, 12);
  });
  it('returns the ends at 0 and 100 and the value of a single sample', () => {
    expect(percentileSorted(oneToTen, 0)).toBe(1);
    expect(percentileSorted(oneToTen, 100)).toBe(10);
    expect(percentileSorted([4.2], 99)).toBe(4.2);
  });
  it('rejects an empty set and a p outside [0, 100]', () => {
    expect(() => percentileSorted([], 50)).toThrow(RangeError);
    expect(() => percentileSorted([1], 101)).toThrow(RangeError);
    expect(() => percentileSorted([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarizeLatency', () => {
  it('gives mean, sample std, percentiles, min, max and CV of unsorted samples', () => {
    const s = summarizeLatency([10, 2, 8, 4, 6]);
    expect(s.count).toBe(5);
    expect(s.mean).toBeCloseTo(6, 12);
    // sample std of 2,4,6,8,10 = sqrt(40/4) = sqrt(10)
    expect(s.std).toBeCloseTo(Math.sqrt(10), 12);
    expect(s.p50).toBeCloseTo(6, 12);
    expect(s.p90).toBeCloseTo(9.2, 12);
    expect(s.p99).toBeCloseTo(9.92, 12);
    expect(s.min).toBe(2);
    expect(s.max).toBe(10);
    expect(s.cv).toBeCloseTo(Math.sqrt(10) / 6, 12);
  });
  it('has zero std and CV for one sample', () => {
    const s = summarizeLatency([3]);
    expect(s.std).toBe(0);
    expect(s.cv).toBe(0);
    expect(s.p99).toBe(3);
  });
  it('rejects empty, negative and non-finite samples', () => {
    expect(() => summarizeLatency([])).toThrow(RangeError);
    expect(() => summarizeLatency([1, -1])).toThrow(RangeError);
    expect(() => summarizeLatency([1, Number.POSITIVE_INFINITY])).toThrow(RangeError);
  });
});

describe('helpers', () => {
  it('mean, median and sampleStd agree with hand values', () => {
    expect(mean([1, 2, 3, 4])).toBeCloseTo(2.5, 12);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBeCloseTo(2.5, 12);
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138089935299395, 12);
  });
  it('throughput scales with the batch', () => {
    expect(throughputPerSec(4, 1)).toBeCloseTo(250, 9);
    expect(throughputPerSec(4, 8)).toBeCloseTo(2000, 9);
    expect(throughputPerSec(0, 8)).toBe(0);
  });
});
