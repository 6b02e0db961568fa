import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../../src/onnx/dtype.js';
import { float32ToFloat16Bits } from '../../../src/onnx/float16.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import type { AttributeValue, Tensor } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor, int64Tensor, makeTensor } from '../../../src/onnx/tensor.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { FP16_BLOCKED_OPS, FP16_BLOCKED_VARIANTS, quantizeFp16 } from '../../../src/compress/quantize-fp16.js';
import { buildModel, seededFloats, tensorInfo } from '../../unit/compress/quantize-test-models.js';
import {
  FIXTURE_MODELS,
  OCR,
  agreement,
  argmaxRows,
  cosine,
  digitPage,
  digitTextLine,
  loadModel,
  mnistTestSet,
  openSession,
  optimizedOpCounts,
  runFirst,
  type FloatInput,
} from './quantize-ort-helpers.js';

describe('fp16 on the MNIST fixtures', () => {
  for (const [file, flat] of [['mnist-mlp.onnx', true], ['mnist-rescnn.onnx', false]] as const) {
    it(`${file}: cosine ≥ 0.999 on every batch, same predictions, file about half`, async () => {
      const path = join(FIXTURE_MODELS, file);
      const set = mnistTestSet(flat, 5);
      const { model, report } = quantizeFp16(loadModel(path));
      expect(report.nodesKeptFloat).toEqual([]);
      const bytes = encodeModel(model);
      expect(statSync(path).size / bytes.length).toBeGreaterThan(1.9);
      const ref = await openSession(loadModel(path));
      const half = await openSession(bytes);
      expect(half.inputNames).toEqual(ref.inputNames);
      const a: number[] = [];
      const b: number[] = [];
      for (const x of set.inputs) {
        const r0 = await runFirst(ref, x);
        const r1 = await runFirst(half, x); // runFirst insists on a float32 output: keep_io_types holds
        expect(cosine(r0.data, r1.data)).toBeGreaterThanOrEqual(0.999);
        a.push(...argmaxRows(r0.data, 10));
        b.push(...argmaxRows(r1.data, 10));
      }
      expect(agreement(a, b)).toBeGreaterThanOrEqual(0.995);
    });
  }
});

describe('fp16 on PaddleOCR (third-party paddle2onnx models)', () => {
  const cases: Array<[keyof typeof OCR, () => FloatInput]> = [
    ['det', () => digitPage(3, 320)],
    ['rec', () => digitTextLine(5)],
    ['cls', () => digitTextLine(6, 192)],
  ];
  for (const [key, input] of cases) {
    it(`${key}: runs with float32 IO and cosine ≥ 0.999 against float32`, async () => {
      const { model, report } = quantizeFp16(loadModel(OCR[key]));
      const bytes = encodeModel(model);
      expect(statSync(OCR[key]).size / bytes.length).toBeGreaterThan(1.9);
      const x = input();
      const r0 = await runFirst(await openSession(loadModel(OCR[key])), x);
      const r1 = await runFirst(await openSession(bytes), x);
      expect(r1.dims).toEqual(r0.dims);
      expect(cosine(r0.data, r1.data)).toBeGreaterThanOrEqual(0.999);
      if (key === 'det') {
        // PP-OCRv4 det holds a BatchNormalization whose running variance reaches ~1e8: it must stay float32
        expect(report.nodesKeptFloat.map((k) => k.opType)).toEqual(['BatchNormalization']);
      } else {
        expect(report.nodesKeptFloat).toEqual([]);
      }
    });
  }

  it('after the lead\'s normalisation (constants lifted, opset 13) the det model converts the same way', async () => {
    const m = loadModel(OCR.det);
    normalizeModel(m, { minOpset: 13 });
    const { model } = quantizeFp16(m);
    const x = digitPage(4, 256);
    const r0 = await runFirst(await openSession(loadModel(OCR.det)), x);
    const r1 = await runFirst(await openSession(model), x);
    expect(cosine(r0.data, r1.data)).toBeGreaterThanOrEqual(0.999);
  });

  it('onnxruntime CPU runs most fp16 ops through inserted Casts (no float16 Conv kernel on x86)', async () => {
    const { model } = quantizeFp16(loadModel(OCR.cls));
    const ops = await optimizedOpCounts(model);
    // our model has 2 Casts (input and output); onnxruntime adds the rest around its float32-only kernels
    expect(ops.get('Cast')!).toBeGreaterThan(50);
  });
});

/** A float16 single-op model as a naive converter would write it. */
function fp16OpModel(op: string, opset: number, xDims: number[], extra: Tensor[], attrs: Record<string, AttributeValue> = {}, xType: number = DataType.FLOAT16) {
  return buildModel({
    opset,
    nodes: [makeNode(op, ['x', ...extra.map((t) => t.name)], ['y'], 'op', attrs)],
    inputs: [tensorInfo('x', xDims, xType)],
    outputs: [{ name: 'y', type: null }], // undeclared: onnxruntime infers it (an elemType of 0 fails every load)
    initializers: extra,
  });
}
const half = (name: string, dims: number[], values: number[]) => makeTensor(name, DataType.FLOAT16, dims, Uint16Array.from(values, float32ToFloat16Bits));

describe('fp16 block list', () => {
  const rejected: Array<[string, ReturnType<typeof fp16OpModel>, number[]]> = [
    ['Celu', fp16OpModel('Celu', 13, [4], []), [4]],
    ['IsInf', fp16OpModel('IsInf', 13, [4], []), [4]],
    ['CumSum', fp16OpModel('CumSum', 13, [4], [int64Tensor('axis', [], [0])]), [4]],
    ['Range', fp16OpModel('Range', 13, [], [half('limit', [], [5]), half('delta', [], [1])]), []],
    ['NonMaxSuppression', fp16OpModel('NonMaxSuppression', 13, [1, 3, 4], [half('scores', [1, 1, 3], [0.1, 0.5, 0.9])]), [1, 3, 4]],
    ['MeanVarianceNormalization', fp16OpModel('MeanVarianceNormalization', 13, [1, 2, 3, 3], []), [1, 2, 3, 3]],
    ['AffineGrid', fp16OpModel('AffineGrid', 20, [1, 2, 3], [int64Tensor('size', [4], [1, 1, 4, 4])]), [1, 2, 3]],
  ];
  it('every op blocked as "rejected" really fails in onnxruntime 1.30 when fed float16', async () => {
    for (const [op, model, dims] of rejected) {
      expect(FP16_BLOCKED_OPS.get(op), op).toMatch(/rejects float16/);
      const n = dims.reduce((a, b) => a * b, 1);
      const run = async () => {
        const session = await openSession(model, { logSeverityLevel: 4 });
        await session.run({ x: new ort.Tensor('float16', Uint16Array.from({ length: n }, (_, i) => float32ToFloat16Bits(op === 'AffineGrid' ? [1, 0, 0, 0, 1, 0][i]! : 0.25 * i)), dims) });
      };
      await expect(run(), op).rejects.toThrow();
    }
    const listedAsRejected = [...FP16_BLOCKED_OPS].filter(([, reason]) => /rejects float16/.test(reason)).map(([op]) => op);
    expect(listedAsRejected.sort()).toEqual(rejected.map(([op]) => op).sort());
  });

  it('IsInf from opset 20 and CumSum from opset 14 do run in float16 (the pass converts IsInf there)', async () => {
    for (const [op, opset, extra] of [['IsInf', 20, []], ['CumSum', 14, [int64Tensor('axis', [], [0])]]] as const) {
      const session = await openSession(fp16OpModel(op, opset, [4], [...extra]), { logSeverityLevel: 4 });
      const out = await session.run({ x: new ort.Tensor('float16', Uint16Array.from([1, 2, 3, 4], float32ToFloat16Bits), [4]) });
      expect(out.y!.type, op).toBe(op === 'IsInf' ? 'bool' : 'float16');
    }
  });

  it('every attribute value blocked for ScatterND/ScatterElements fails at run time in float16, and the others run', async () => {
    const all = ['none', 'add', 'mul', 'min', 'max'];
    for (const variant of FP16_BLOCKED_VARIANTS) {
      const indices = variant.opType === 'ScatterND' ? int64Tensor('i', [1, 1], [1]) : int64Tensor('i', [1, 4], [1, 0, 2, 3]);
      for (const value of all) {
        const model = fp16OpModel(variant.opType, 18, [4, 4], [indices, half('u', [1, 4], [2, 2, 2, 2])], { [variant.attribute]: attr.string(value) });
        const run = async () => {
          const session = await openSession(model, { logSeverityLevel: 4 });
          await session.run({ x: new ort.Tensor('float16', Uint16Array.from({ length: 16 }, () => float32ToFloat16Bits(1)), [4, 4]) });
        };
        const label = `${variant.opType} ${variant.attribute}=${value}`;
        if (variant.values.includes(value)) await expect(run(), label).rejects.toThrow(/MLFloat16 data type is not supported/);
        else await expect(run(), label).resolves.toBeUndefined();
      }
    }
  });

  it('a model mixing blocked ops with float16-capable ones converts, runs and matches float32', async () => {
    const model = () =>
      buildModel({
        opset: 13,
        nodes: [
          makeNode('Resize', ['x', '', 'scales'], ['r'], 'resize', { mode: attr.string('nearest') }),
          makeNode('Celu', ['r'], ['c'], 'celu'),
          makeNode('Max', ['c', 'lo'], ['mx'], 'max'),
          makeNode('Min', ['mx', 'hi'], ['mn'], 'min'),
          makeNode('CumSum', ['mn', 'axis3'], ['cs'], 'cumsum'),
          makeNode('MeanVarianceNormalization', ['cs'], ['mvn'], 'mvn'),
          makeNode('Reshape', ['mvn', 'flat'], ['f'], 'reshape'),
          makeNode('TopK', ['f', 'k'], ['vals', 'idx'], 'topk'),
          makeNode('ReduceMean', ['vals'], ['mean'], 'mean', { keepdims: attr.int(0) }),
          makeNode('Range', ['zero', 'three', 'one'], ['rng'], 'range'),
          makeNode('Mul', ['mean', 'rng'], ['scaled'], 'scaled'),
          makeNode('Sigmoid', ['boxes_in'], ['b'], 'sig'),
          makeNode('Mul', ['b', 'ten'], ['boxes'], 'boxes'),
          makeNode('NonMaxSuppression', ['boxes', 'scores', 'max_out', 'iou', 'score_th'], ['selected'], 'nms'),
        ],
        inputs: [tensorInfo('x', [1, 4, 6, 6]), tensorInfo('boxes_in', [1, 5, 4]), tensorInfo('scores', [1, 1, 5])],
        outputs: [tensorInfo('vals', [1, 5]), tensorInfo('idx', [1, 5], DataType.INT64), tensorInfo('scaled', [3]), tensorInfo('selected', null, DataType.INT64)],
        initializers: [
          floatTensor('scales', [4], [1, 1, 2, 2]),
          floatTensor('lo', [1], [-0.5]),
          floatTensor('hi', [1], [1.5]),
          int64Tensor('axis3', [], [3]),
          int64Tensor('flat', [2], [1, -1]),
          int64Tensor('k', [1], [5]),
          floatTensor('zero', [], [0]),
          floatTensor('three', [], [3]),
          floatTensor('one', [], [1]),
          floatTensor('ten', [], [10]),
          int64Tensor('max_out', [1], [3]),
          floatTensor('iou', [1], [0.5]),
          floatTensor('score_th', [1], [0.1]),
        ],
      });
    const feeds = {
      x: new ort.Tensor('float32', seededFloats(144, 3, 2), [1, 4, 6, 6]),
      boxes_in: new ort.Tensor('float32', seededFloats(20, 4, 3), [1, 5, 4]),
      scores: new ort.Tensor('float32', Float32Array.from([0.9, 0.8, 0.05, 0.6, 0.3]), [1, 1, 5]),
    };
    const ref = await (await openSession(model())).run(feeds);
    const { model: converted, report } = quantizeFp16(model());
    expect(report.nodesKeptFloat.map((k) => k.opType).sort()).toEqual(['Celu', 'CumSum', 'MeanVarianceNormalization', 'NonMaxSuppression', 'Range', 'TopK']);
    const got = await (await openSession(converted)).run(feeds);
    for (const name of ['vals', 'scaled']) {
      expect(got[name]!.type).toBe('float32');
      expect(cosine(ref[name]!.data as Float32Array, got[name]!.data as Float32Array), name).toBeGreaterThan(0.999);
    }
    expect(Array.from(got.idx!.data as BigInt64Array)).toEqual(Array.from(ref.idx!.data as BigInt64Array));
    expect(Array.from(got.selected!.data as BigInt64Array)).toEqual(Array.from(ref.selected!.data as BigInt64Array));
  });
});

describe('fp16 around control flow', () => {
  /** x → Mul (float16) → an If whose branches read the Mul's output and an outer weight by name → Relu (float16). */
  const branch = (name: string, op: 'Add' | 'Sub'): AttributeValue => ({
    type: 'graph',
    value: {
      name,
      nodes: [makeNode(op, ['m', 'outer_w'], [`${name}_out`], `${name}_op`)],
      inputs: [],
      outputs: [tensorInfo(`${name}_out`, [1, 4])],
      valueInfo: [],
      initializers: new Map(),
    },
  });
  const model = () =>
    buildModel({
      opset: 13,
      nodes: [
        makeNode('Mul', ['x', 'w'], ['m'], 'mul'),
        makeNode('If', ['cond'], ['branched'], 'if', { then_branch: branch('then', 'Add'), else_branch: branch('else', 'Sub') }),
        makeNode('Relu', ['branched'], ['y'], 'relu'),
      ],
      inputs: [tensorInfo('x', [1, 4]), tensorInfo('cond', [], DataType.BOOL)],
      outputs: [tensorInfo('y', [1, 4])],
      initializers: [floatTensor('w', [4], [0.5, -1.5, 2, 3]), floatTensor('outer_w', [4], [0.25, 0.5, -4, 1])],
    });

  it('keeps the If and its bodies float32, feeds them float32 copies of the outer tensors, and matches on both branches', async () => {
    const { model: converted, report } = quantizeFp16(model());
    expect(report.nodesKeptFloat).toEqual([expect.objectContaining({ opType: 'If', reason: expect.stringContaining('control flow') })]);
    // The Mul and the Relu did turn float16.
    expect(report.details?.nodesFloat16).toBe(2);
    const ref = await openSession(model());
    const half = await openSession(converted);
    for (const cond of [true, false]) {
      const feeds = { x: new ort.Tensor('float32', Float32Array.from([1, 2, -3, 0.5]), [1, 4]), cond: new ort.Tensor('bool', Uint8Array.from([cond ? 1 : 0]), []) };
      const want = (await ref.run(feeds)).y!.data as Float32Array;
      const got = (await half.run(feeds)).y!;
      expect(got.type).toBe('float32');
      expect(Array.from(got.data as Float32Array).map((v) => Number(v.toFixed(2)))).toEqual(Array.from(want).map((v) => Number(v.toFixed(2))));
    }
  });
});
