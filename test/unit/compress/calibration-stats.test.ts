import { describe, expect, it } from 'vitest';
import { Histogram, MinMaxAccumulator, entropyThreshold, klDivergence, percentileRange } from '../../../src/compress/calibration-stats.js';
import { seededRandom } from '../../../scripts/lib/mnist-pages.js';

function gaussian(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return out;
}

describe('calibration statistics', () => {
  it('tracks min and max over batches', () => {
    const acc = new MinMaxAccumulator();
    acc.add([1, -2, 3]);
    acc.add(new Float32Array([0.5, 7]));
    expect(acc.range()).toEqual({ min: -2, max: 7 });
    expect(new MinMaxAccumulator().range()).toEqual({ min: 0, max: 0 });
  });

  it('computes quantiles from a histogram', () => {
    const h = new Histogram(0, 100, 100);
    h.add(Float32Array.from({ length: 100 }, (_, i) => i + 0.5));
    expect(h.quantile(0.5)).toBeCloseTo(50, 0);
    expect(h.quantile(0.9)).toBeCloseTo(90, 0);
  });

  it('percentile drops extreme outliers but keeps the bulk', () => {
    const values = gaussian(100_000, 1);
    values[0] = 1000; // one outlier
    const acc = new MinMaxAccumulator();
    acc.add(values);
    const h = new Histogram(acc.range().min, acc.range().max, 2048);
    h.add(values);
    const r = percentileRange(h, 99.99, acc.range());
    expect(r.max).toBeLessThan(10);
    expect(r.max).toBeGreaterThan(2.5);
    expect(r.min).toBeLessThan(-2.5);
  });

  it('entropy calibration clips a long tail and returns a threshold inside the range', () => {
    const values = gaussian(200_000, 2).map(Math.abs);
    for (let i = 0; i < 20; i++) values[i] = 40 + i;
    const h = new Histogram(0, 60, 2048);
    h.add(values);
    const t = entropyThreshold(h, 128, 4);
    expect(t).toBeGreaterThan(2);
    expect(t).toBeLessThan(40);
  });

  it('KL divergence is zero for equal distributions and positive otherwise', () => {
    const p = Float64Array.from([1, 2, 3]);
    expect(klDivergence(p, Float64Array.from([1, 2, 3]), 3)).toBeCloseTo(0, 12);
    expect(klDivergence(p, Float64Array.from([3, 2, 1]), 3)).toBeGreaterThan(0.1);
  });
});
