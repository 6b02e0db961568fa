import { describe, expect, it } from 'vitest';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import {
  dequantizeBlockwiseInt4,
  quantizeBlockwiseInt4,
  quantizeInt4,
  roundHalfAwayFromZero,
} from '../../../src/compress/quantize-int4.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { buildModel, opTypes, randomWeight, seededFloats, tensorInfo } from './quantize-test-models.js';

describe('roundHalfAwayFromZero (C roundf)', () => {
  it('rounds ties away from zero on both sides', () => {
    expect(roundHalfAwayFromZero(2.5)).toBe(3);
    expect(roundHalfAwayFromZero(-2.5)).toBe(-3);
    expect(roundHalfAwayFromZero(0.5)).toBe(1);
    expect(roundHalfAwayFromZero(-0.5)).toBe(-1);
    expect(roundHalfAwayFromZero(1.4999)).toBe(1);
    expect(roundHalfAwayFromZero(-1.4999)).toBe(-1);
  });
});

describe('quantizeBlockwiseInt4 packing', () => {
  it('puts element 2i in the low nibble and 2i+1 in the high nibble (symmetric, scale 1)', () => {
    // One column, K = 32: values -8..7 twice. Extreme value -8 → scale = -8 / -8 = 1, zp 8, q = w + 8.
    const w = Float32Array.from({ length: 32 }, (_, k) => (k % 16) - 8);
    const q = quantizeBlockwiseInt4(w, 32, 1, 32, true);
    expect(q.kBlocks).toBe(1);
    expect(q.zeroPoints).toBeNull();
    expect(Array.from(q.scales)).toEqual([1]);
    expect(q.packed.length).toBe(16);
    expect(Array.from(q.packed.slice(0, 8))).toEqual([0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
    expect(Array.from(q.packed.slice(8))).toEqual([0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
  });

  it('lays B out as [N, kBlocks, blockSize/2] with column n block kb at B[n][kb]', () => {
    // K = 64, N = 2: column 0 is all 1 (block max 1), column 1 all -2; symmetric.
    const k = 64;
    const w = new Float32Array(k * 2);
    for (let r = 0; r < k; r++) {
      w[r * 2] = r < 32 ? 1 : 0.5;
      w[r * 2 + 1] = -2;
    }
    const q = quantizeBlockwiseInt4(w, k, 2, 32, true);
    expect(q.kBlocks).toBe(2);
    // column 0, block 0: scale 1/-8, q = round(1 / (-1/8) + 8) = 0 → bytes 0x00
    expect(q.scales[0]).toBeCloseTo(-0.125, 7);
    expect(Array.from(q.packed.slice(0, 16)).every((b) => b === 0x00)).toBe(true);
    // column 0, block 1: extreme 0.5 → scale -1/16, q 0
    expect(q.scales[1]).toBeCloseTo(-0.0625, 7);
    // column 1: extreme -2 → scale 0.25, q = round(-8 + 8) = 0
    expect(q.scales[2]).toBeCloseTo(0.25, 7);
    expect(q.scales[3]).toBeCloseTo(0.25, 7);
    const back = dequantizeBlockwiseInt4(q, k, 2, 32);
    for (let i = 0; i < w.length; i++) expect(back[i]).toBeCloseTo(w[i]!, 6);
  });

  it('asymmetric: range widened to include 0, scale (max−min)/15, zp roundf(−min/scale)', () => {
    const w = new Float32Array(32).fill(0.2);
    w[0] = -1;
    w[1] = 0.5;
    const q = quantizeBlockwiseInt4(w, 32, 1, 32, false);
    expect(q.scales[0]).toBeCloseTo(0.1, 7);
    expect(q.zeroPoints).not.toBeNull();
    expect(q.zeroPoints![0]! & 0x0f).toBe(10);
    // q(-1) = 0, q(0.5) = 15, q(0.2) = 12
    expect(q.packed[0]).toBe(0 | (15 << 4));
    expect(q.packed[1]).toBe(12 | (12 << 4));
    const positive = quantizeBlockwiseInt4(new Float32Array(32).fill(3), 32, 1, 32, false);
    expect(positive.scales[0]).toBeCloseTo(0.2, 7);
    expect(positive.zeroPoints![0]).toBe(0);
  });

  it('packs zero points two per byte, even block in the low nibble, padded per column', () => {
    // K = 96 → 3 blocks; blocks have minima 0, -1, -2 with max 1.5 → distinct zero points.
    const k = 96;
    const w = new Float32Array(k);
    for (let r = 0; r < k; r++) w[r] = r % 32 === 0 ? -Math.floor(r / 32) : 1.5;
    const q = quantizeBlockwiseInt4(w, k, 1, 32, false);
    expect(q.kBlocks).toBe(3);
    expect(q.zeroPoints!.length).toBe(2);
    const zp0 = 0;
    const zp1 = roundHalfAwayFromZero(1 / (2.5 / 15));
    const zp2 = roundHalfAwayFromZero(2 / (3.5 / 15));
    expect(q.zeroPoints![0]).toBe(zp0 | (zp1 << 4));
    expect(q.zeroPoints![1]).toBe(zp2);
  });

  it('zero-pads the tail of the last block (K not a multiple of the block size)', () => {
    const k = 40;
    const w = seededFloats(k * 3, 7);
    const q = quantizeBlockwiseInt4(w, k, 3, 32, false);
    expect(q.kBlocks).toBe(2);
    expect(q.packed.length).toBe(3 * 2 * 16);
    // the padded elements hold the block's zero point, i.e. dequantize to exactly 0
    const zps = q.zeroPoints!;
    for (let col = 0; col < 3; col++) {
      const zp = zps[col] >> 4;
      const tail = q.packed.slice((col * 2 + 1) * 16 + 4, (col * 2 + 2) * 16);
      for (const byte of tail) {
        expect(byte & 0x0f).toBe(zp);
        expect(byte >> 4).toBe(zp);
      }
    }
  });

  it('dequantizes within half a step of every weight, and an all-zero block stays exactly zero', () => {
    for (const symmetric of [false, true]) {
      const k = 128;
      const n = 5;
      const w = seededFloats(k * n, 11, 0.3);
      for (let r = 64; r < 96; r++) w[r * n + 2] = 0; // one all-zero block in column 2
      const q = quantizeBlockwiseInt4(w, k, n, 32, symmetric);
      const back = dequantizeBlockwiseInt4(q, k, n, 32);
      for (let col = 0; col < n; col++) {
        for (let r = 0; r < k; r++) {
          const step = Math.abs(q.scales[col * q.kBlocks + Math.floor(r / 32)]!);
          // symmetric clips the side opposite the extreme at 7 steps, so allow a full step there
          expect(Math.abs(back[r * n + col]! - w[r * n + col]!)).toBeLessThanOrEqual(step * (symmetric ? 1 : 0.5) + 1e-7);
        }
      }
      for (let r = 64; r < 96; r++) expect(back[r * n + 2]).toBe(0);
      expect(q.scales[2 * q.kBlocks + 2]).toBe(0);
    }
  });

  it('symmetric scale is negative when the largest magnitude is positive (MLAS)', () => {
    const w = new Float32Array(32).fill(-1);
    w[5] = 4;
    const q = quantizeBlockwiseInt4(w, 32, 1, 32, true);
    expect(q.scales[0]).toBeCloseTo(-0.5, 7);
    const back = dequantizeBlockwiseInt4(q, 32, 1, 32);
    expect(back[5]).toBeCloseTo(4, 6);
    expect(back[0]).toBeCloseTo(-1, 6);
  });
});

function matmulModel(k = 64, n = 16) {
  return buildModel({
    nodes: [makeNode('MatMul', ['x', 'W'], ['y'], 'fc')],
    inputs: [tensorInfo('x', ['batch', k])],
    outputs: [tensorInfo('y', ['batch', n])],
    initializers: [randomWeight('W', [k, n], 1)],
  });
}

describe('quantizeInt4 graph rewrite', () => {
  it('rewrites MatMul with a constant weight to com.microsoft MatMulNBits', () => {
    const { model, report } = quantizeInt4(matmulModel(64, 16));
    expect(opTypes(model)).toEqual(['com.microsoft:MatMulNBits']);
    const node = model.graph.nodes[0]!;
    expect(node.outputs).toEqual(['y']);
    expect(node.attributes.get('K')).toEqual(attr.int(64));
    expect(node.attributes.get('N')).toEqual(attr.int(16));
    expect(node.attributes.get('bits')).toEqual(attr.int(4));
    expect(node.attributes.get('block_size')).toEqual(attr.int(32));
    expect(node.attributes.get('accuracy_level')).toEqual(attr.int(4));
    const [, b, scales, zp] = node.inputs.map((name) => model.graph.initializers.get(name!));
    expect(b!.dataType).toBe(DataType.UINT8);
    expect(b!.dims).toEqual([16, 2, 16]);
    expect(scales!.dims).toEqual([16, 2]);
    expect(zp!.dims).toEqual([16, 1]);
    expect(model.graph.initializers.has('W')).toBe(false);
    expect(model.opsetImports).toContainEqual({ domain: 'com.microsoft', version: 1 });
    expect(report.pass).toBe('int4');
    expect(report.details!.weightBytesBefore).toBe(64 * 16 * 4);
    expect(report.details!.weightBytesAfter).toBe(16 * 2 * 16 + 16 * 2 * 4 + 16);
    expect(report.nodesKeptFloat).toEqual([]);
  });

  it('symmetric drops the zero points; block size is an attribute; accuracy level 0 leaves it unset', () => {
    const { model } = quantizeInt4(matmulModel(128, 8), { symmetric: true, blockSize: 64, accuracyLevel: 0 });
    const node = model.graph.nodes[0]!;
    expect(node.inputs.length).toBe(3);
    expect(node.attributes.get('block_size')).toEqual(attr.int(64));
    expect(node.attributes.has('accuracy_level')).toBe(false);
    expect(quantizeInt4(matmulModel(), { accuracyLevel: 1 }).model.graph.nodes[0]!.attributes.get('accuracy_level')).toEqual(attr.int(1));
    expect(model.graph.initializers.get(node.inputs[1]!)!.dims).toEqual([8, 2, 32]);
  });

  it('folds Gemm transB and alpha into the weight and beta·C into the bias input', () => {
    const wt = randomWeight('W', [8, 32], 3); // [N, K] with transB
    const model = buildModel({
      nodes: [makeNode('Gemm', ['x', 'W', 'C'], ['y'], 'gemm', { transB: attr.int(1), alpha: attr.float(2), beta: attr.float(0.5) })],
      inputs: [tensorInfo('x', [4, 32])],
      outputs: [tensorInfo('y', [4, 8])],
      initializers: [wt, floatTensor('C', [8], [1, 2, 3, 4, 5, 6, 7, 8])],
    });
    const { model: out } = quantizeInt4(model, { symmetric: true });
    expect(opTypes(out)).toEqual(['com.microsoft:MatMulNBits']);
    const node = out.graph.nodes[0]!;
    expect(node.inputs[3]).toBe('');
    expect(node.inputs[4]).toBe('');
    expect(Array.from(out.graph.initializers.get(node.inputs[5]!)!.values as Float32Array)).toEqual([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
    // dequantized weight ≈ alpha · Wᵀ
    const q = out.graph.initializers.get(node.inputs[1]!)!;
    const s = out.graph.initializers.get(node.inputs[2]!)!;
    const back = dequantizeBlockwiseInt4({ packed: q.values as Uint8Array, scales: s.values as Float32Array, zeroPoints: null, kBlocks: 1 }, 32, 8, 32);
    const src = wt.values as Float32Array;
    for (let kk = 0; kk < 32; kk++) for (let nn = 0; nn < 8; nn++) expect(Math.abs(back[kk * 8 + nn]! - 2 * src[nn * 32 + kk]!)).toBeLessThan(0.2);
  });

  it('Gemm with transA and a full [M, N] bias gets a Transpose and an Add', () => {
    const model = buildModel({
      nodes: [makeNode('Gemm', ['x', 'W', 'C'], ['y'], 'gemm', { transA: attr.int(1) })],
      inputs: [tensorInfo('x', [32, 4])],
      outputs: [tensorInfo('y', [4, 8])],
      initializers: [randomWeight('W', [32, 8], 3), randomWeight('C', [4, 8], 4)],
    });
    const { model: out, report } = quantizeInt4(model);
    expect(opTypes(out)).toEqual(['Transpose', 'com.microsoft:MatMulNBits', 'Add']);
    expect(out.graph.nodes[2]!.outputs).toEqual(['y']);
    expect(report.nodesChanged).toBe(3);
  });

  it('Gemm with a non-constant C and beta ≠ 1 scales C at run time', () => {
    const model = buildModel({
      nodes: [makeNode('Gemm', ['x', 'W', 'c'], ['y'], 'gemm', { beta: attr.float(3) })],
      inputs: [tensorInfo('x', [4, 32]), tensorInfo('c', [4, 8])],
      outputs: [tensorInfo('y', [4, 8])],
      initializers: [randomWeight('W', [32, 8], 3)],
    });
    const { model: out } = quantizeInt4(model);
    expect(opTypes(out)).toEqual(['com.microsoft:MatMulNBits', 'Mul', 'Add']);
  });

  it('leaves activation × activation MatMuls, non-2-D weights and requested nodes in float, with reasons', () => {
    const model = buildModel({
      nodes: [
        makeNode('MatMul', ['x', 'x2'], ['a'], 'qk'),
        makeNode('MatMul', ['a', 'W3'], ['b'], 'batched'),
        makeNode('MatMul', ['b', 'W'], ['y'], 'keep_me'),
      ],
      inputs: [tensorInfo('x', [2, 4, 32]), tensorInfo('x2', [2, 32, 32])],
      outputs: [tensorInfo('y', null)],
      initializers: [randomWeight('W3', [2, 32, 32], 1), randomWeight('W', [32, 8], 2)],
    });
    const { model: out, report } = quantizeInt4(model, { keepFloat: ['keep_me'] });
    expect(opTypes(out)).toEqual(['MatMul', 'MatMul', 'MatMul']);
    expect(report.nodesKeptFloat.map((k) => [k.node, k.reason.split(' ')[0]])).toEqual([
      ['qk', 'B'],
      ['batched', 'B'],
      ['keep_me', 'kept'],
    ]);
    expect(report.notes.join(' ')).toMatch(/unchanged/);
    expect(out.opsetImports.some((o) => o.domain === 'com.microsoft')).toBe(false);
  });

  it('quantizes a weight shared by two MatMuls once, and reads weights held in Constant nodes', () => {
    const w = randomWeight('W', [32, 32], 9);
    const model = buildModel({
      nodes: [
        makeNode('Constant', [], ['Wc'], 'const', { value: attr.tensor(w) }),
        makeNode('MatMul', ['x', 'Wc'], ['h'], 'fc1'),
        makeNode('MatMul', ['h', 'Wc'], ['y'], 'fc2'),
      ],
      inputs: [tensorInfo('x', [1, 32])],
      outputs: [tensorInfo('y', [1, 32])],
    });
    const { model: out, report } = quantizeInt4(model);
    expect(opTypes(out)).toEqual(['com.microsoft:MatMulNBits', 'com.microsoft:MatMulNBits']);
    expect(out.graph.nodes[0]!.inputs[1]).toBe(out.graph.nodes[1]!.inputs[1]);
    expect(out.graph.initializers.size).toBe(3);
    expect(report.details!.layersQuantized).toBe(2);
    expect(report.details!.weightsQuantized).toBe(1);
  });

  it('rejects block sizes other than 32, 64, 128', () => {
    expect(() => quantizeInt4(matmulModel(), { blockSize: 16 as 32 })).toThrow(EdgetuneError);
    expect(() => quantizeInt4(matmulModel(), { blockSize: 512 as 32 })).toThrow(/32, 64 or 128/);
  });
});
