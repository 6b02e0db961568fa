import { describe, expect, it } from 'vitest';
import { FidelityAccumulator, softmaxRow } from '../../../src/compress/fidelity.js';

describe('fidelity metrics', () => {
  it('identical outputs: full agreement, cosine 1, infinite SQNR, KL 0', () => {
    const acc = new FidelityAccumulator();
    const out = new Float32Array([1, 2, 3, 3, 2, 1]);
    acc.add(out, [2, 3], out, [2n, 0n]);
    const r = acc.result();
    expect(r.samples).toBe(2);
    expect(r.top1).toBe(1);
    expect(r.agreement).toBe(1);
    expect(r.cosine).toBeCloseTo(1, 12);
    expect(r.sqnrDb).toBe(Infinity);
    expect(r.kl).toBeCloseTo(0, 12);
  });

  it('scores top-1, agreement, cosine, SQNR and KL on known numbers', () => {
    const acc = new FidelityAccumulator();
    const ref = new Float32Array([1, 0, 0, 1]);
    const out = new Float32Array([1, 0, 1, 0]);
    acc.add(out, [2, 2], ref, [0n, 1n]);
    const r = acc.result();
    expect(r.top1).toBe(0.5);
    expect(r.referenceTop1).toBe(1);
    expect(r.agreement).toBe(0.5);
    expect(r.cosine).toBeCloseTo(0.5, 12); // rows: cos 1 and cos 0
    expect(r.sqnrDb).toBeCloseTo(10 * Math.log10(2 / 2), 9);
    const p = softmaxRow([0, 1], 0, 2);
    const q = softmaxRow([1, 0], 0, 2);
    const kl = p[0]! * Math.log(p[0]! / q[0]!) + p[1]! * Math.log(p[1]! / q[1]!);
    expect(r.kl).toBeCloseTo(kl / 2, 9);
  });

  it('has no classification metrics for non-rank-2 outputs and no reference metrics without reference', () => {
    const acc = new FidelityAccumulator();
    acc.add(new Float32Array(8), [1, 2, 2, 2]);
    const r = acc.result();
    expect(r.agreement).toBeNull();
    expect(r.cosine).toBeNull();
    expect(r.top1).toBeNull();
  });

  it('softens with temperature', () => {
    const sharp = softmaxRow([0, 4], 0, 2, 1);
    const soft = softmaxRow([0, 4], 0, 2, 4);
    expect(soft[1]!).toBeLessThan(sharp[1]!);
    expect(soft[0]! + soft[1]!).toBeCloseTo(1, 12);
  });
});
