import { describe, expect, it } from 'vitest';
import { objectWeights, outputMapsOf, positionSampler } from '../../../src/compress/position-sampling.js';

/** A 1-channel 8×8 "text map": background 1e-4, an object at rows 2–3, columns 4–7. */
function textMap(): Float32Array {
  const v = new Float32Array(64).fill(1e-4);
  for (let y = 2; y < 4; y++) for (let x = 4; x < 8; x++) v[y * 8 + x] = 0.9;
  return v;
}

describe('objectWeights', () => {
  it('puts the weight where the output stands out, at the layer resolution (a 4×4 map covers 2×2 output pixels)', () => {
    const w = objectWeights(outputMapsOf([{ values: textMap(), dims: [1, 1, 8, 8] }], 0), 4, 4);
    expect([...w].map((v) => Math.round(v))).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('skips outputs that are not maps (a classifier) and gives all zeros then', () => {
    const maps = outputMapsOf([{ values: new Float32Array([0.1, 0.9]), dims: [1, 2] }], 0);
    expect(maps).toHaveLength(0);
    expect([...objectWeights(maps, 2, 2)]).toEqual([0, 0, 0, 0]);
  });

  it('takes sample n of a batch', () => {
    const both = new Float32Array(128).fill(1e-4);
    both.set(textMap(), 64);
    expect(Math.max(...objectWeights(outputMapsOf([{ values: both, dims: [2, 1, 8, 8] }], 0), 4, 4))).toBe(0);
    expect(Math.max(...objectWeights(outputMapsOf([{ values: both, dims: [2, 1, 8, 8] }], 1), 4, 4))).toBe(1);
  });
});

describe('positionSampler', () => {
  const seeded = (): (() => number) => {
    let s = 7;
    return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  };

  it('draws objectShare of the rows from the weighted positions, the rest uniformly', () => {
    const weights = new Float64Array(100);
    weights[42] = 1;
    const sample = positionSampler(weights, 0.5, seeded());
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (sample() === 42) hits++;
    // 0.5 from the object + 0.5 × 1/100 uniformly.
    expect(hits / 10_000).toBeGreaterThan(0.48);
    expect(hits / 10_000).toBeLessThan(0.53);
  });

  it('is uniform without weights or with share 0', () => {
    for (const sample of [positionSampler(new Float64Array(10), 0.9, seeded()), positionSampler(Float64Array.from({ length: 10 }, (_, i) => (i === 3 ? 1 : 0)), 0, seeded())]) {
      const counts = new Array<number>(10).fill(0);
      for (let i = 0; i < 10_000; i++) counts[sample()]!++;
      expect(Math.max(...counts)).toBeLessThan(1200);
      expect(Math.min(...counts)).toBeGreaterThan(800);
    }
  });
});
