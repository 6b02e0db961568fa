import { describe, expect, it } from 'vitest';
import { autoCalibrationSplit, candidateLabel } from '../../../src/compress/int8-pipeline.js';

describe('autoCalibrationSplit', () => {
  it('holds out a quarter (at least one), disjoint from the fit part, covering every set once', () => {
    for (const sets of [4, 5, 8, 13, 32, 100]) {
      const { fit, judge } = autoCalibrationSplit(sets);
      expect(judge).toHaveLength(Math.max(1, Math.floor(sets / 4)));
      expect([...fit, ...judge].sort((a, b) => a - b)).toEqual(Array.from({ length: sets }, (_, i) => i));
      expect(fit.filter((i) => judge.includes(i))).toEqual([]);
    }
  });

  it('is seeded: the same sets split the same way, another seed differently', () => {
    expect(autoCalibrationSplit(32)).toEqual(autoCalibrationSplit(32));
    expect(autoCalibrationSplit(32, 1).judge).not.toEqual(autoCalibrationSplit(32, 2).judge);
  });

  it('does not alias with a period of the set order (32 crops of 12 photos: every 4th set would judge on 3 photos)', () => {
    const photos = new Set(autoCalibrationSplit(32).judge.map((i) => i % 12));
    expect(photos.size).toBeGreaterThan(3);
  });
});

describe('candidateLabel', () => {
  it('names the range method and whether bias correction is on', () => {
    expect(candidateLabel({ method: 'minmax', biasCorrectionRounds: 1 })).toBe('minmax + bias correction');
    expect(candidateLabel({ method: 'percentile', percentile: 99.99, biasCorrectionRounds: 0 })).toBe('percentile 99.99');
    expect(candidateLabel({ method: 'minmax', biasCorrectionRounds: 1, adaptiveRounding: false })).toBe('minmax + bias correction, nearest rounding');
  });
});
