import { describe, expect, it } from 'vitest';
import { batchSizeOf, parseShapeArgs, resolveInputShapes, synthesizeFeeds, synthesizeInput } from '../../../src/profile/profile-inputs.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { float16BitsToFloat32 } from '../../../src/onnx/float16.js';

const img = { name: 'x', dataType: DataType.FLOAT, shape: ['batch', 3, 224, 224] };

describe('parseShapeArgs', () => {
  it('parses NAME=DxDxD, names may contain = and :', () => {
    expect(parseShapeArgs(['x=1x3x48x192', 'input:0=4'])).toEqual({ x: [1, 3, 48, 192], 'input:0': [4] });
  });
  it('rejects malformed, zero and repeated shapes with the flag in the message', () => {
    expect(() => parseShapeArgs(['x=1,3'])).toThrow(/--shape x=1,3: expected NAME=DxDxD/);
    expect(() => parseShapeArgs(['x=1x0'])).toThrow(/positive integer/);
    expect(() => parseShapeArgs(['x=1', 'x=2'])).toThrow(/given twice/);
  });
});

describe('resolveInputShapes', () => {
  it('fills a symbolic batch (axis 0 of rank ≥ 2) with the batch size', () => {
    expect(resolveInputShapes([img], {}).get('x')).toEqual([1, 3, 224, 224]);
    expect(resolveInputShapes([img], {}, 8).get('x')).toEqual([8, 3, 224, 224]);
  });
  it('names the input, the dim and the flag when a non-batch dim is symbolic', () => {
    const spec = { name: 'x', dataType: DataType.FLOAT, shape: ['N', 3, 'H', 'W'] };
    expect(() => resolveInputShapes([spec], {})).toThrow("input 'x' [N,3,H,W]: dim 2 is symbolic ('H') and cannot be guessed; give it with --shape x=1x3xNxN");
    expect(resolveInputShapes([spec], { x: [2, 3, 48, 192] }).get('x')).toEqual([2, 3, 48, 192]);
  });
  it('checks overrides against the model: unknown input, rank, fixed dims', () => {
    expect(() => resolveInputShapes([img], { y: [1] })).toThrow(/no input 'y' \(inputs: x\)/);
    expect(() => resolveInputShapes([img], { x: [1, 3, 224] })).toThrow(/has rank 4/);
    expect(() => resolveInputShapes([img], { x: [1, 4, 224, 224] })).toThrow(/dim 1 of 'x' is fixed to 3/);
  });
  it('a rank-1 symbolic dim is not a batch', () => {
    expect(() => resolveInputShapes([{ name: 'ids', dataType: DataType.INT64, shape: ['seq'] }], {})).toThrow(/dim 0 is symbolic \('seq'\)/);
    expect(() => resolveInputShapes([{ name: 'u', dataType: DataType.FLOAT, shape: null }], {})).toThrow(/no declared shape/);
  });
});

describe('synthesized inputs', () => {
  it('are deterministic and of the declared type and shape', () => {
    const a = synthesizeInput('x', DataType.FLOAT, [2, 3], 7);
    const b = synthesizeInput('x', DataType.FLOAT, [2, 3], 7);
    expect(a.values).toEqual(b.values);
    expect(a.dims).toEqual([2, 3]);
    for (const v of a.values as Float32Array) expect(v >= 0 && v < 1).toBe(true);
    const ids = synthesizeInput('ids', DataType.INT64, [5], 1).values as BigInt64Array;
    expect(ids).toBeInstanceOf(BigInt64Array);
    for (const v of ids) expect(v >= 0n && v < 10n).toBe(true);
    const mask = synthesizeInput('m', DataType.BOOL, [16], 1).values as Uint8Array;
    for (const v of mask) expect(v === 0 || v === 1).toBe(true);
  });
  it('refuses a declared shape too large to synthesize instead of failing to allocate (fuzz finding)', () => {
    expect(() => synthesizeInput('input', DataType.FLOAT, [1, 2 ** 40, 2 ** 31, 2 ** 40])).toThrow(
      expect.objectContaining({ code: 'MODEL_UNSUPPORTED', message: expect.stringMatching(/input 'input' has shape .* too large to synthesize/) }),
    );
    expect(() => synthesizeInput('x', DataType.FLOAT, [1, 2 ** 29])).toThrow(/too large to synthesize/);
    expect(synthesizeInput('x', DataType.FLOAT, [1, 3, 64, 64]).values).toHaveLength(3 * 64 * 64);
  });
  it('float16 values are valid halves in [0, 1)', () => {
    const h = synthesizeInput('h', DataType.FLOAT16, [64], 3).values as Uint16Array;
    for (const bits of h) {
      const f = float16BitsToFloat32(bits);
      expect(f >= 0 && f < 1).toBe(true);
      expect(Math.round(f * 1024)).toBeCloseTo(f * 1024, 9); // k/1024 exactly
    }
  });
  it('refuses strings', () => {
    expect(() => synthesizeInput('s', DataType.STRING, [1])).toThrow(/string tensor: pass real samples with --data/);
  });
  it('feeds every input; batch is axis 0 of a rank ≥ 2 first input', () => {
    const specs = [img, { name: 'scale', dataType: DataType.FLOAT, shape: [1] }];
    const shapes = resolveInputShapes(specs, {}, 4);
    expect(Object.keys(synthesizeFeeds(specs, shapes))).toEqual(['x', 'scale']);
    expect(batchSizeOf(specs, shapes)).toBe(4);
    expect(batchSizeOf([{ name: 'v', dataType: DataType.FLOAT, shape: [784] }], new Map([['v', [784]]]))).toBe(1);
  });
});
