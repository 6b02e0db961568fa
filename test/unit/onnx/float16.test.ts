import { describe, expect, it } from 'vitest';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from '../../../src/onnx/float16.js';

describe('float16 conversion', () => {
  it('round-trips exactly representable values', () => {
    for (const v of [0, 1, -1, 0.5, 2, 65504, -65504, 1 / 1024, 2 ** -14]) expect(float16BitsToFloat32(float32ToFloat16Bits(v))).toBe(v);
  });
  it('rounds half to even and keeps subnormals', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even → 1.
    expect(float16BitsToFloat32(float32ToFloat16Bits(1 + 2 ** -11))).toBe(1);
    expect(float16BitsToFloat32(float32ToFloat16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 * 2 ** -10);
    expect(float16BitsToFloat32(float32ToFloat16Bits(2 ** -24))).toBe(2 ** -24);
    expect(float32ToFloat16Bits(2 ** -26)).toBe(0);
  });
  it('overflows to infinity and keeps NaN', () => {
    expect(float16BitsToFloat32(float32ToFloat16Bits(1e6))).toBe(Infinity);
    expect(float16BitsToFloat32(float32ToFloat16Bits(-1e6))).toBe(-Infinity);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
  });
  it('converts bfloat16 with rounding', () => {
    expect(bfloat16BitsToFloat32(float32ToBfloat16Bits(1.5))).toBe(1.5);
    expect(Math.abs(bfloat16BitsToFloat32(float32ToBfloat16Bits(3.14159)) - 3.14159)).toBeLessThan(0.02);
  });
});
