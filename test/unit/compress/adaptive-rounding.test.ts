import { describe, expect, it } from 'vitest';
import { roundChannelAdaptively } from '../../../src/compress/adaptive-rounding.js';

/** δᵀCδ for integer values q at step s against w. */
function outputError(w: number[], q: Int32Array, s: number, cov: Float64Array): number {
  const f = w.length;
  const d = w.map((v, i) => q[i]! * s - v);
  let e = 0;
  for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) e += d[i]! * cov[i * f + j]! * d[j]!;
  return e;
}

describe('roundChannelAdaptively', () => {
  it('keeps nearest rounding when the inputs are uncorrelated (diagonal covariance): nearest is optimal there', () => {
    const w = [0.31, -0.77, 1.26, 0.049, -2.5];
    const cov = new Float64Array(25);
    [1, 4, 0.5, 2, 3].forEach((v, i) => (cov[i * 5 + i] = v));
    const r = roundChannelAdaptively(w, 0.1, -127, 127, cov, 4);
    expect(Array.from(r.q)).toEqual([3, -8, 13, 0, -25]);
    expect(r.flipped).toBe(0);
    expect(r.errorAdaptive).toBeCloseTo(r.errorNearest, 12);
  });

  it('cancels the summed rounding error when every input moves together (an edge filter on a flat patch)', () => {
    // w/s = 0.4 four times: nearest rounds all down (Σδ = −1.6 s); with equal inputs the output error is (Σδ)²,
    // and the best up/down choice is two up (Σδ = +0.4 s): error 0.16 s².
    const s = 0.01;
    const w = [0.004, 0.004, 0.004, 0.004, 1.27];
    const cov = new Float64Array(25).fill(1);
    const r = roundChannelAdaptively(w, s, -127, 127, cov, 4);
    expect(r.errorNearest).toBeCloseTo((1.6 * s) ** 2, 10);
    expect(r.errorAdaptive).toBeCloseTo((0.4 * s) ** 2, 10);
    expect(r.flipped).toBe(2);
    expect(outputError(w, r.q, s, cov)).toBeCloseTo(r.errorAdaptive, 12);
  });

  it('never moves the fixed element, stays within one step of w/s and inside the grid', () => {
    const f = 12;
    const w: number[] = [];
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < f; i++) w.push((rand() - 0.5) * 2);
    w[3] = 1.27;
    // A dense covariance: C = AᵀA for a random A (positive semidefinite, correlated inputs).
    const a = Array.from({ length: 20 * f }, () => rand() - 0.5);
    const cov = new Float64Array(f * f);
    for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) for (let k = 0; k < 20; k++) cov[i * f + j]! += a[k * f + i]! * a[k * f + j]!;
    const s = 0.01;
    const r = roundChannelAdaptively(w, s, -127, 127, cov, 3);
    expect(r.q[3]).toBe(127);
    for (let i = 0; i < f; i++) {
      expect(Math.abs(r.q[i]! - w[i]! / s)).toBeLessThan(1);
      expect(Math.abs(r.q[i]!)).toBeLessThanOrEqual(127);
    }
    expect(r.errorAdaptive).toBeLessThanOrEqual(r.errorNearest);
    expect(outputError(w, r.q, s, cov)).toBeCloseTo(r.errorAdaptive, 10);
  });
});
