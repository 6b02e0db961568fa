import { describe, expect, it } from 'vitest';
import { computeQuantParams, quantRange, quantizeBias, quantizeValue, quantizeWeightPerChannel, roundHalfToEven } from '../../../src/compress/quant-params.js';

describe('quantization arithmetic', () => {
  it('rounds half to even like QuantizeLinear', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfToEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });

  it('has the ranges of onnxruntime for every mode', () => {
    expect(quantRange('uint8', false, false)).toEqual([0, 255]);
    expect(quantRange('uint8', true, false)).toEqual([0, 254]);
    expect(quantRange('int8', true, false)).toEqual([-127, 127]);
    expect(quantRange('int8', false, true)).toEqual([-64, 64]);
    expect(quantRange('uint8', false, true)).toEqual([0, 127]);
  });

  it('always includes zero exactly and centres symmetric ranges', () => {
    const a = computeQuantParams(0.5, 2, 0, 255, false); // range grows to [0, 2]
    expect(a.zeroPoint).toBe(0);
    expect(a.scale).toBeCloseTo(2 / 255, 9);
    const b = computeQuantParams(-1, 3, 0, 255, false);
    expect(quantizeValue(0, b, 'uint8') - b.zeroPoint).toBe(0);
    const s = computeQuantParams(-1, 3, -127, 127, true);
    expect(s.zeroPoint).toBe(0);
    expect(s.scale).toBeCloseTo(6 / 254, 9);
  });

  it('falls back to scale 1 for an all-zero range', () => {
    expect(computeQuantParams(0, 0, 0, 255, false)).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('quantizes weights per output channel with zero points of 0', () => {
    const w = new Float32Array([1, -0.5, 0.25, 10, -20, 5]); // 2 channels × 3
    const { values, scales } = quantizeWeightPerChannel(w, [2, 3], 0, false);
    expect(scales[0]).toBeCloseTo(1 / 127, 7);
    expect(scales[1]).toBeCloseTo(20 / 127, 6);
    expect(Array.from(values)).toEqual([127, -64, 32, 64, -127, 32]);
    for (let i = 0; i < 6; i++) expect(Math.abs(values[i]! * scales[Math.floor(i / 3)]! - w[i]!)).toBeLessThanOrEqual(scales[Math.floor(i / 3)]! / 2 + 1e-7);
  });

  it('keeps 7-bit weights in [-64, 64] with reduce_range', () => {
    const { values } = quantizeWeightPerChannel(new Float32Array([3, -3, 1]), [1, 3], 0, true);
    expect(Math.max(...values)).toBe(64);
    expect(Math.min(...values)).toBe(-64);
  });

  it('quantizes bias at input scale × weight scale and grows the weight scale on overflow', () => {
    const q = quantizeBias(new Float32Array([0.3, -1]), 0.1, new Float32Array([0.01, 0.02]));
    expect(Array.from(q.values)).toEqual([300, -500]);
    expect(Array.from(q.weightScaleGrowth)).toEqual([1, 1]);
    const big = quantizeBias(new Float32Array([1e6]), 1e-4, new Float32Array([1e-6]));
    expect(big.weightScaleGrowth[0]).toBeGreaterThan(1);
    expect(Math.abs(big.values[0]!)).toBeLessThan(2 ** 31);
  });
});
