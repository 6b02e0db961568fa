import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { quantizeDynamic } from '../../../src/compress/quantize-dynamic.js';
import { buildModel, randomWeight, seededFloats, tensorInfo } from '../../unit/compress/quantize-test-models.js';
import {
  FIXTURE_MODELS,
  OCR,
  agreement,
  argmaxRows,
  cosine,
  digitTextLine,
  loadModel,
  mnistTestSet,
  openSession,
  optimizedOpCounts,
  runFirst,
} from './quantize-ort-helpers.js';

const FORMATS = ['onnx', 'contrib'] as const;

describe('int8-dynamic in onnxruntime', () => {
  it('keeps Gemm/MatMul semantics (transA, transB, alpha, beta, bias) close to float32 in both formats', async () => {
    const model = () =>
      buildModel({
        nodes: [
          makeNode('Gemm', ['a', 'W1', 'C1'], ['h'], 'g1', { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) }),
          makeNode('Relu', ['h'], ['r'], 'relu'),
          makeNode('Gemm', ['r', 'W2', 'c'], ['g'], 'g2', { transA: attr.int(1), beta: attr.float(0.5) }),
          makeNode('MatMul', ['g', 'W3'], ['y'], 'mm'),
        ],
        inputs: [tensorInfo('a', [8, 32]), tensorInfo('c', [16, 24])],
        outputs: [tensorInfo('y', [16, 4])],
        initializers: [randomWeight('W1', [16, 32], 1, 0.3), randomWeight('C1', [16], 2), randomWeight('W2', [8, 24], 3, 0.3), randomWeight('W3', [24, 4], 4, 0.3)],
      });
    const feeds = { a: new ort.Tensor('float32', seededFloats(256, 7), [8, 32]), c: new ort.Tensor('float32', seededFloats(384, 8), [16, 24]) };
    const ref = (await (await openSession(model())).run(feeds)).y!.data as Float32Array;
    for (const format of FORMATS) {
      const { model: q, report } = quantizeDynamic(model(), { format });
      expect(report.details!.layersQuantized).toBe(3);
      const got = (await (await openSession(q)).run(feeds)).y!.data as Float32Array;
      expect(cosine(ref, got), format).toBeGreaterThan(0.995);
    }
  });

  it('onnxruntime fuses the onnx form into DynamicQuantizeMatMul (no MatMulInteger left)', async () => {
    const { model } = quantizeDynamic(
      buildModel({
        nodes: [makeNode('MatMul', ['x', 'W'], ['m'], 'mm'), makeNode('Add', ['m', 'b'], ['y'], 'bias')],
        inputs: [tensorInfo('x', ['batch', 64])],
        outputs: [tensorInfo('y', ['batch', 32])],
        initializers: [randomWeight('W', [64, 32], 1), randomWeight('b', [32], 2)],
      }),
    );
    const ops = await optimizedOpCounts(model);
    expect(ops.get('com.microsoft:DynamicQuantizeMatMul')).toBe(1);
    expect(ops.has('MatMulInteger')).toBe(false);
    expect(ops.has('DynamicQuantizeLinear')).toBe(false);
    // the bias Add is absorbed by the fusion
    expect(ops.has('Add')).toBe(false);
  });

  it('an activation shared by two MatMuls is quantized once: DynamicQuantizeLinear + 2 MatMulIntegerToFloat', async () => {
    const { model } = quantizeDynamic(
      buildModel({
        nodes: [makeNode('MatMul', ['x', 'Wq'], ['q'], 'q'), makeNode('MatMul', ['x', 'Wk'], ['k'], 'k'), makeNode('Add', ['q', 'k'], ['y'], 'add')],
        inputs: [tensorInfo('x', [1, 4, 16])],
        outputs: [tensorInfo('y', [1, 4, 16])],
        initializers: [randomWeight('Wq', [16, 16], 1), randomWeight('Wk', [16, 16], 2)],
      }),
    );
    const ops = await optimizedOpCounts(model);
    expect(ops.get('DynamicQuantizeLinear')).toBe(1);
    expect(ops.get('com.microsoft:MatMulIntegerToFloat')).toBe(2);
    expect(ops.has('MatMulInteger')).toBe(false);
  });
});

describe('int8-dynamic on the MNIST fixtures', () => {
  for (const format of FORMATS) {
    it(`MLP (${format}): top-1 agreement ≥ 99%, weights 4× smaller, fused kernels`, async () => {
      const path = join(FIXTURE_MODELS, 'mnist-mlp.onnx');
      const set = mnistTestSet(true);
      const { model, report } = quantizeDynamic(loadModel(path), { format });
      expect(report.details!.layersQuantized).toBe(3);
      expect(report.details!.weightRatio as number).toBeGreaterThan(3.9);
      const bytes = encodeModel(model);
      expect(statSync(path).size / bytes.length).toBeGreaterThan(3.5);
      const ref = await openSession(loadModel(path));
      const quant = await openSession(bytes);
      const a: number[] = [];
      const b: number[] = [];
      for (const x of set.inputs) {
        a.push(...argmaxRows((await runFirst(ref, x)).data, 10));
        b.push(...argmaxRows((await runFirst(quant, x)).data, 10));
      }
      expect(agreement(a, b)).toBeGreaterThanOrEqual(0.99);
      const ops = await optimizedOpCounts(bytes);
      expect(ops.get('com.microsoft:DynamicQuantizeMatMul')).toBe(3);
      expect(ops.has('Gemm')).toBe(false);
      expect(ops.has('MatMulInteger')).toBe(false);
    });
  }

  it('residual CNN: the classifier Gemm is quantized, Convs stay float (noted), predictions agree', async () => {
    const path = join(FIXTURE_MODELS, 'mnist-rescnn.onnx');
    const set = mnistTestSet(false, 5);
    const { model, report } = quantizeDynamic(loadModel(path));
    expect(report.details!.layersQuantized).toBe(1);
    expect(report.notes.join(' ')).toMatch(/9 Conv/);
    const ref = await openSession(loadModel(path));
    const quant = await openSession(model);
    const a: number[] = [];
    const b: number[] = [];
    for (const x of set.inputs) {
      a.push(...argmaxRows((await runFirst(ref, x)).data, 10));
      b.push(...argmaxRows((await runFirst(quant, x)).data, 10));
    }
    expect(agreement(a, b)).toBeGreaterThanOrEqual(0.99);
  });
});

describe('int8-dynamic on PaddleOCR PP-OCRv4 rec (third-party, MatMul-heavy)', () => {
  it('onnx form after the opset 9 → 11 upgrade, and contrib form on the raw file, read the same text', async () => {
    const ref = await openSession(loadModel(OCR.rec));
    const upgraded = loadModel(OCR.rec);
    normalizeModel(upgraded, { minOpset: 11 });
    const variants = [quantizeDynamic(upgraded, { format: 'onnx' }), quantizeDynamic(loadModel(OCR.rec), { format: 'contrib' })];
    for (const { model, report } of variants) {
      const format = report.details!.format as string;
      expect(report.details!.layersQuantized, format).toBe(9);
      const quant = await openSession(model);
      const a: number[] = [];
      const b: number[] = [];
      for (let seed = 1; seed <= 4; seed++) {
        const x = digitTextLine(seed);
        const r0 = await runFirst(ref, x);
        const r1 = await runFirst(quant, x);
        expect(cosine(r0.data, r1.data), format).toBeGreaterThan(0.99);
        a.push(...argmaxRows(r0.data, 6625));
        b.push(...argmaxRows(r1.data, 6625));
      }
      expect(agreement(a, b), format).toBeGreaterThanOrEqual(0.97);
      const ops = await optimizedOpCounts(model);
      expect(ops.get('com.microsoft:DynamicQuantizeMatMul'), format).toBe(9);
      // 4 activation × activation MatMuls (attention) stay float
      expect(ops.get('MatMul'), format).toBe(4);
    }
  });

  it('the onnx form refuses the raw opset 9 file with a message naming the opset', () => {
    expect(() => quantizeDynamic(loadModel(OCR.rec))).toThrow(/opset is 9.*opset 11/);
  });
});
