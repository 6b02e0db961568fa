import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { dequantizeBlockwiseInt4, quantizeInt4 } from '../../../src/compress/quantize-int4.js';
import { buildModel, randomWeight, seededFloats, tensorInfo } from '../../unit/compress/quantize-test-models.js';
import {
  FIXTURE_MODELS,
  OCR,
  agreement,
  argmaxRows,
  cosine,
  digitTextLine,
  loadModel,
  maxAbsDiff,
  mnistTestSet,
  openSession,
  optimizedOpCounts,
  runFirst,
} from './quantize-ort-helpers.js';

describe('int4 MatMulNBits in onnxruntime', () => {
  const cases = [
    { k: 40, n: 5, blockSize: 32 as const, symmetric: false },
    { k: 128, n: 7, blockSize: 64 as const, symmetric: true },
    { k: 200, n: 3, blockSize: 128 as const, symmetric: false },
    { k: 96, n: 16, blockSize: 32 as const, symmetric: true },
  ];
  for (const c of cases) {
    it(`computes x · dequant(W) from our packing (K=${c.k}, N=${c.n}, block ${c.blockSize}, ${c.symmetric ? 'symmetric' : 'asymmetric'})`, async () => {
      const model = buildModel({
        nodes: [makeNode('MatMul', ['x', 'W'], ['y'], 'fc')],
        inputs: [tensorInfo('x', ['batch', c.k])],
        outputs: [tensorInfo('y', ['batch', c.n])],
        initializers: [randomWeight('W', [c.k, c.n], c.k + c.n)],
      });
      // accuracy level 0: float32 compute, so the result must match x · dequant(W) to rounding
      const { model: q } = quantizeInt4(model, { blockSize: c.blockSize, symmetric: c.symmetric, accuracyLevel: 0 });
      const node = q.graph.nodes[0]!;
      const init = (i: number) => q.graph.initializers.get(node.inputs[i]!)!;
      const kBlocks = Math.ceil(c.k / c.blockSize);
      const weights = dequantizeBlockwiseInt4(
        { packed: init(1).values as Uint8Array, scales: init(2).values as Float32Array, zeroPoints: c.symmetric ? null : (init(3).values as Uint8Array), kBlocks },
        c.k,
        c.n,
        c.blockSize,
      );
      const rows = 3;
      const x = seededFloats(rows * c.k, 5);
      const expected = new Float32Array(rows * c.n);
      for (let r = 0; r < rows; r++) for (let j = 0; j < c.n; j++) {
        let sum = 0;
        for (let kk = 0; kk < c.k; kk++) sum += x[r * c.k + kk]! * weights[kk * c.n + j]!;
        expected[r * c.n + j] = sum;
      }
      const session = await openSession(q);
      const got = await runFirst(session, { data: x, dims: [rows, c.k] });
      expect(got.dims).toEqual([rows, c.n]);
      expect(maxAbsDiff(got.data, expected)).toBeLessThan(1e-4);
      await session.release();
      // accuracy level 4 (the default) quantizes x per block to int8 as well: close, not exact
      q.graph.nodes[0]!.attributes.set('accuracy_level', attr.int(4));
      const fast = await openSession(q);
      expect(cosine((await runFirst(fast, { data: x, dims: [rows, c.k] })).data, expected)).toBeGreaterThan(0.999);
      await fast.release();
    });
  }

  it('keeps Gemm semantics (transA, transB, alpha, beta, constant and run-time C) close to float32', async () => {
    const variants: Array<{ attrs: Record<string, ReturnType<typeof attr.int>>; cDims: number[] | null; cInput?: boolean; aDims: number[] }> = [
      { attrs: { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) }, cDims: [16], aDims: [4, 64] },
      { attrs: { transA: attr.int(1) }, cDims: [4, 16], aDims: [64, 4] },
      { attrs: { beta: attr.float(-1) }, cDims: [1, 16], aDims: [4, 64] },
      { attrs: { beta: attr.float(0.25) }, cDims: [4, 16], cInput: true, aDims: [4, 64] },
      { attrs: {}, cDims: null, aDims: [4, 64] },
    ];
    for (const [i, v] of variants.entries()) {
      const transB = v.attrs.transB !== undefined;
      const inputs = [tensorInfo('a', v.aDims)];
      const initializers = [randomWeight('W', transB ? [16, 64] : [64, 16], 20 + i, 0.2)];
      if (v.cDims && v.cInput) inputs.push(tensorInfo('c', v.cDims));
      else if (v.cDims) initializers.push(randomWeight('c', v.cDims, 40 + i));
      const model = () =>
        buildModel({
          nodes: [makeNode('Gemm', v.cDims ? ['a', 'W', 'c'] : ['a', 'W'], ['y'], 'gemm', v.attrs)],
          inputs,
          outputs: [tensorInfo('y', [4, 16])],
          initializers,
        });
      const feeds: Record<string, ort.Tensor> = { a: new ort.Tensor('float32', seededFloats(256, 60 + i), v.aDims) };
      if (v.cInput) feeds.c = new ort.Tensor('float32', seededFloats(64, 80 + i), v.cDims!);
      const ref = await (await openSession(model())).run(feeds);
      const { model: q } = quantizeInt4(model());
      const got = await (await openSession(q)).run(feeds);
      const a = ref.y!.data as Float32Array;
      const b = got.y!.data as Float32Array;
      expect(cosine(a, b), `variant ${i}`).toBeGreaterThan(0.99);
      expect(maxAbsDiff(a, b), `variant ${i}`).toBeLessThan(0.25);
    }
  });
});

describe('int4 on the MNIST MLP fixture', () => {
  it('keeps ≥ 98% top-1 agreement with weights ≥ 6× smaller, and onnxruntime runs MatMulNBits', async () => {
    const path = join(FIXTURE_MODELS, 'mnist-mlp.onnx');
    const set = mnistTestSet(true);
    const { model, report } = quantizeInt4(normalizeWith(path));
    expect(report.details!.layersQuantized).toBe(3);
    expect(report.details!.weightRatio as number).toBeGreaterThanOrEqual(6);
    const bytes = encodeModel(model);
    expect(statSync(path).size / bytes.length).toBeGreaterThan(5.5);
    const ref = await openSession(loadModel(path));
    const quant = await openSession(bytes);
    const a: number[] = [];
    const b: number[] = [];
    for (const x of set.inputs) {
      a.push(...argmaxRows((await runFirst(ref, x)).data, 10));
      b.push(...argmaxRows((await runFirst(quant, x)).data, 10));
    }
    expect(a.length).toBeGreaterThanOrEqual(1000);
    expect(agreement(a, b)).toBeGreaterThanOrEqual(0.98);
    expect(agreement(b, set.labels)).toBeGreaterThan(agreement(a, set.labels) - 0.01);
    const ops = await optimizedOpCounts(bytes);
    expect(ops.get('com.microsoft:MatMulNBits')).toBe(3);
    expect(ops.has('Gemm')).toBe(false);
  });

  it('accuracy level 0 (float32 compute), block 64, symmetric agrees as well', async () => {
    const path = join(FIXTURE_MODELS, 'mnist-mlp.onnx');
    const set = mnistTestSet(true, 5);
    const { model } = quantizeInt4(normalizeWith(path), { accuracyLevel: 0, blockSize: 64, symmetric: true });
    const ref = await openSession(loadModel(path));
    const quant = await openSession(model);
    const a: number[] = [];
    const b: number[] = [];
    for (const x of set.inputs) {
      a.push(...argmaxRows((await runFirst(ref, x)).data, 10));
      b.push(...argmaxRows((await runFirst(quant, x)).data, 10));
    }
    expect(agreement(a, b)).toBeGreaterThanOrEqual(0.98);
  });
});

describe('int4 on PaddleOCR (third-party paddle2onnx models)', () => {
  it('PP-OCRv4 rec straight from the file (weights in Constant nodes, opset 9): 9 MatMulNBits, same text', async () => {
    const { model, report } = quantizeInt4(loadModel(OCR.rec));
    expect(report.details!.layersQuantized).toBe(9);
    // the attention products Q·Kᵀ and softmax·V have no constant weight
    expect(report.nodesKeptFloat).toHaveLength(4);
    expect(report.nodesKeptFloat.every((k) => /not a constant/.test(k.reason))).toBe(true);
    const ref = await openSession(loadModel(OCR.rec));
    const quant = await openSession(model);
    const a: number[] = [];
    const b: number[] = [];
    for (let seed = 1; seed <= 4; seed++) {
      const x = digitTextLine(seed);
      const r0 = await runFirst(ref, x);
      const r1 = await runFirst(quant, x);
      expect(r1.dims).toEqual(r0.dims);
      expect(cosine(r0.data, r1.data)).toBeGreaterThan(0.99);
      a.push(...argmaxRows(r0.data, 6625));
      b.push(...argmaxRows(r1.data, 6625));
    }
    expect(a.filter((v) => v !== 0).length).toBeGreaterThan(20); // the lines are read as characters, not blanks
    expect(agreement(a, b)).toBeGreaterThanOrEqual(0.97);
    const ops = await optimizedOpCounts(model);
    expect(ops.get('com.microsoft:MatMulNBits')).toBe(9);
  });

  it('PP-OCR direction classifier after normalisation: its classifier MatMul runs as MatMulNBits', async () => {
    const m = loadModel(OCR.cls);
    normalizeModel(m);
    const { model, report } = quantizeInt4(m);
    expect(report.details!.layersQuantized).toBe(1);
    const ref = await openSession(loadModel(OCR.cls));
    const quant = await openSession(model);
    for (const flipped of [false, true]) {
      const x = digitTextLine(9, 192, flipped);
      const r0 = await runFirst(ref, x);
      const r1 = await runFirst(quant, x);
      expect(cosine(r0.data, r1.data)).toBeGreaterThan(0.99);
      expect(argmaxRows(r1.data, 2)).toEqual(argmaxRows(r0.data, 2));
    }
  });
});

function normalizeWith(path: string) {
  const m = loadModel(path);
  normalizeModel(m);
  return m;
}
