import { describe, expect, it } from 'vitest';
import { DataType } from '../../../src/onnx/dtype.js';
import { float16BitsToFloat32 } from '../../../src/onnx/float16.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import type { OnnxModel, OnnxNode } from '../../../src/onnx/ir.js';
import { floatTensor, int64Tensor } from '../../../src/onnx/tensor.js';
import {
  FP16_BLOCKED_OPS,
  float32ToFloat16Clamped,
  quantizeFp16,
  tensorToFloat16,
  type Fp16ClampCounts,
} from '../../../src/compress/quantize-fp16.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { buildModel, opTypes, randomWeight, tensorInfo } from './quantize-test-models.js';

describe('float32ToFloat16Clamped', () => {
  it('converts normal values with round to nearest even', () => {
    expect(float32ToFloat16Clamped(1)).toBe(0x3c00);
    expect(float32ToFloat16Clamped(-2)).toBe(0xc000);
    expect(float32ToFloat16Clamped(65504)).toBe(0x7bff);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to the even mantissa (1)
    expect(float32ToFloat16Clamped(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16Clamped(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('clamps finite overflow to ±65504 and counts it; infinities and NaN pass through', () => {
    const counts: Fp16ClampCounts = { overflow: 0, underflow: 0 };
    expect(float32ToFloat16Clamped(70000, counts)).toBe(0x7bff);
    expect(float32ToFloat16Clamped(-3.4e38, counts)).toBe(0xfbff);
    expect(counts.overflow).toBe(2);
    expect(float32ToFloat16Clamped(Infinity, counts)).toBe(0x7c00);
    expect(float32ToFloat16Clamped(-Infinity, counts)).toBe(0xfc00);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Clamped(NaN, counts)))).toBe(true);
    expect(counts.overflow).toBe(2);
  });

  it('keeps subnormals, raises non-zero magnitudes below 2^-24 to ±2^-24 and keeps signed zero', () => {
    const counts: Fp16ClampCounts = { overflow: 0, underflow: 0 };
    expect(float32ToFloat16Clamped(2 ** -24, counts)).toBe(0x0001);
    expect(float32ToFloat16Clamped(2 ** -20, counts)).toBe(0x0010);
    expect(float32ToFloat16Clamped(1023 * 2 ** -24, counts)).toBe(0x03ff); // largest subnormal
    expect(float32ToFloat16Clamped(1.5 * 2 ** -24, counts)).toBe(0x0002); // tie → even
    expect(counts.underflow).toBe(0);
    expect(float32ToFloat16Clamped(1e-12, counts)).toBe(0x0001);
    expect(float32ToFloat16Clamped(-1e-12, counts)).toBe(0x8001);
    expect(counts.underflow).toBe(2);
    expect(float32ToFloat16Clamped(0)).toBe(0);
    expect(float32ToFloat16Clamped(-0)).toBe(0x8000);
  });

  it('converts a tensor and keeps its shape', () => {
    const t = tensorToFloat16(floatTensor('w', [2, 2], [0.1, -1e6, 1e-30, 3]));
    expect(t.dataType).toBe(DataType.FLOAT16);
    expect(t.dims).toEqual([2, 2]);
    expect(Array.from(t.values as Uint16Array, float16BitsToFloat32)).toEqual([float16BitsToFloat32(0x2e66), -65504, 2 ** -24, 3]);
  });
});

const typeOf = (model: OnnxModel, name: string): number | undefined => {
  const init = model.graph.initializers.get(name);
  if (init) return init.dataType;
  return [...model.graph.inputs, ...model.graph.outputs, ...model.graph.valueInfo].find((v) => v.name === name)?.type?.elemType;
};
const node = (model: OnnxModel, opType: string): OnnxNode => model.graph.nodes.find((n) => n.opType === opType)!;

describe('quantizeFp16 graph rewrite', () => {
  it('converts weights, casts the float32 input and output at the boundaries, keeps IO types', () => {
    const model = buildModel({
      nodes: [makeNode('Conv', ['x', 'W', 'B'], ['c'], 'conv'), makeNode('Relu', ['c'], ['y'], 'relu')],
      inputs: [tensorInfo('x', [1, 2, 5, 5])],
      outputs: [tensorInfo('y', [1, 3, 3, 3])],
      initializers: [randomWeight('W', [3, 2, 3, 3], 1), randomWeight('B', [3], 2)],
      valueInfo: [tensorInfo('c', [1, 3, 3, 3])],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(opTypes(out)).toEqual(['Cast', 'Conv', 'Relu', 'Cast']);
    expect(out.graph.nodes[0]!.inputs).toEqual(['x']);
    expect(out.graph.nodes[0]!.attributes.get('to')).toEqual(attr.int(DataType.FLOAT16));
    expect(out.graph.nodes[3]!.outputs).toEqual(['y']);
    expect(out.graph.nodes[3]!.attributes.get('to')).toEqual(attr.int(DataType.FLOAT));
    expect(typeOf(out, 'W')).toBe(DataType.FLOAT16);
    expect(typeOf(out, 'B')).toBe(DataType.FLOAT16);
    expect(typeOf(out, 'x')).toBe(DataType.FLOAT);
    expect(typeOf(out, 'y')).toBe(DataType.FLOAT);
    expect(typeOf(out, 'c')).toBe(DataType.FLOAT16); // value_info follows
    expect(report.details!.weightBytesBefore).toBe((54 + 3) * 4);
    expect(report.details!.weightBytesAfter).toBe((54 + 3) * 2);
    expect(report.nodesKeptFloat).toEqual([]);
  });

  it('keepIoTypes false declares float16 inputs and outputs without boundary casts', () => {
    const model = buildModel({
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'], 'mm')],
      inputs: [tensorInfo('x', [1, 4])],
      outputs: [tensorInfo('y', [1, 2])],
      initializers: [randomWeight('W', [4, 2], 1)],
    });
    const { model: out } = quantizeFp16(model, { keepIoTypes: false });
    expect(opTypes(out)).toEqual(['MatMul']);
    expect(out.graph.inputs[0]!.type!.elemType).toBe(DataType.FLOAT16);
    expect(out.graph.outputs[0]!.type!.elemType).toBe(DataType.FLOAT16);
  });

  it('keeps blocked ops in float32 with casts around them and reports why', () => {
    const model = buildModel({
      nodes: [
        makeNode('Relu', ['x'], ['r'], 'relu'),
        makeNode('TopK', ['r', 'k'], ['vals', 'idx'], 'topk', { axis: attr.int(-1) }),
        makeNode('Sigmoid', ['vals'], ['y'], 'sig'),
      ],
      inputs: [tensorInfo('x', [1, 8])],
      outputs: [tensorInfo('y', [1, 3]), tensorInfo('idx', [1, 3], DataType.INT64)],
      initializers: [int64Tensor('k', [1], [3])],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(opTypes(out)).toEqual(['Cast', 'Relu', 'Cast', 'TopK', 'Cast', 'Sigmoid', 'Cast']);
    const topk = node(out, 'TopK');
    const castIn = out.graph.nodes.find((n) => n.outputs[0] === topk.inputs[0])!;
    expect(castIn.attributes.get('to')).toEqual(attr.int(DataType.FLOAT));
    expect(report.nodesKeptFloat).toEqual([{ node: 'topk', opType: 'TopK', reason: FP16_BLOCKED_OPS.get('TopK') }]);
  });

  it('keeps Resize scales in float32 (a constant read only there stays float32) and converts roi', () => {
    const model = buildModel({
      opset: 13,
      nodes: [makeNode('Resize', ['x', 'roi', 'scales'], ['y'], 'resize', { mode: attr.string('nearest') })],
      inputs: [tensorInfo('x', [1, 1, 2, 2])],
      outputs: [tensorInfo('y', [1, 1, 4, 4])],
      initializers: [floatTensor('roi', [0], []), floatTensor('scales', [4], [1, 1, 2, 2])],
    });
    const { model: out } = quantizeFp16(model);
    expect(typeOf(out, 'scales')).toBe(DataType.FLOAT);
    expect(typeOf(out, 'roi')).toBe(DataType.FLOAT16);
    expect(node(out, 'Resize').inputs[2]).toBe('scales');
  });

  it('gives an initializer read by float16 and float32 nodes two copies', () => {
    const model = buildModel({
      nodes: [makeNode('Add', ['x', 'c'], ['a'], 'add'), makeNode('CumSum', ['c', 'axis'], ['cs'], 'cumsum'), makeNode('Mul', ['a', 'cs'], ['y'], 'mul')],
      inputs: [tensorInfo('x', [4])],
      outputs: [tensorInfo('y', [4])],
      initializers: [floatTensor('c', [4], [1, 2, 3, 4]), int64Tensor('axis', [], [0])],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(node(out, 'CumSum').inputs[0]).toBe('c');
    expect(typeOf(out, 'c')).toBe(DataType.FLOAT);
    const copy = node(out, 'Add').inputs[1]!;
    expect(copy).not.toBe('c');
    expect(typeOf(out, copy)).toBe(DataType.FLOAT16);
    expect(report.details!.initializersDuplicated).toBe(1);
  });

  it('turns Cast(to=FLOAT) into Cast(to=FLOAT16) where every reader runs in float16', () => {
    const model = buildModel({
      nodes: [
        makeNode('Shape', ['x'], ['s'], 'shape'),
        makeNode('Cast', ['s'], ['sf'], 'cast', { to: attr.int(DataType.FLOAT) }),
        makeNode('Mul', ['sf', 'half'], ['y'], 'mul'),
      ],
      inputs: [tensorInfo('x', [2, 3])],
      outputs: [tensorInfo('y', [2])],
      initializers: [floatTensor('half', [], [0.5])],
    });
    const { model: out } = quantizeFp16(model);
    expect(opTypes(out)).toEqual(['Shape', 'Cast', 'Mul', 'Cast']);
    expect(node(out, 'Shape').inputs).toEqual(['x']); // Shape accepts any type: no cast for it
    expect(out.graph.nodes[1]!.attributes.get('to')).toEqual(attr.int(DataType.FLOAT16));
  });

  it('removes Cast round trips: float32 → float16 → float32 reads the original', () => {
    const model = buildModel({
      nodes: [
        makeNode('Cast', ['x'], ['h'], 'to16', { to: attr.int(DataType.FLOAT16) }),
        makeNode('Cast', ['h'], ['f'], 'to32', { to: attr.int(DataType.FLOAT) }),
        makeNode('CumSum', ['f', 'axis'], ['y'], 'cumsum'),
      ],
      inputs: [tensorInfo('x', [4])],
      outputs: [tensorInfo('y', [4])],
      initializers: [int64Tensor('axis', [], [0])],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(opTypes(out)).toEqual(['CumSum']);
    expect(out.graph.nodes[0]!.inputs[0]).toBe('x');
    expect(report.details!.castsRemoved).toBe(2);
  });

  it('keeps the readers of a weight beyond the float16 range in float32 (BatchNormalization variance 1e8)', () => {
    const model = buildModel({
      nodes: [makeNode('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['bn'], 'bn'), makeNode('Relu', ['bn'], ['y'], 'relu')],
      inputs: [tensorInfo('x', [1, 2, 2, 2])],
      outputs: [tensorInfo('y', [1, 2, 2, 2])],
      initializers: [floatTensor('s', [2], [1, 1]), floatTensor('b', [2], [0, 0]), floatTensor('m', [2], [0, 0]), floatTensor('v', [2], [1e8, 2])],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(typeOf(out, 'v')).toBe(DataType.FLOAT);
    expect(report.nodesKeptFloat[0]!.reason).toMatch(/'v' holds values up to 1.00e\+8/);
    expect(report.details!.clamped).toEqual({ overflow: 0, underflow: 0 });
    expect(opTypes(out)).toEqual(['BatchNormalization', 'Cast', 'Relu', 'Cast']);
  });

  it('lifts float Constant nodes and converts them; honours keepFloat and opBlockList', () => {
    const model = buildModel({
      nodes: [
        makeNode('Constant', [], ['k'], 'const', { value: attr.tensor(floatTensor('', [1], [2])) }),
        makeNode('Mul', ['x', 'k'], ['a'], 'mul'),
        makeNode('Sigmoid', ['a'], ['b'], 'sig'),
        makeNode('Tanh', ['b'], ['y'], 'tanh'),
      ],
      inputs: [tensorInfo('x', [3])],
      outputs: [tensorInfo('y', [3])],
    });
    const { model: out, report } = quantizeFp16(model, { keepFloat: ['sig'], opBlockList: ['Tanh'] });
    expect(typeOf(out, 'k')).toBe(DataType.FLOAT16);
    expect(report.details!.constantsLifted).toBe(1);
    expect(report.nodesKeptFloat.map((k) => k.node)).toEqual(['sig', 'tanh']);
    expect(opTypes(out)).toEqual(['Cast', 'Mul', 'Cast', 'Sigmoid', 'Tanh']);
  });

  it('leaves ai.onnx.ml and contrib ops in float32', () => {
    const model = buildModel({
      nodes: [makeNode('Relu', ['x'], ['r'], 'relu'), makeNode('Normalizer', ['r'], ['y'], 'norm', { norm: attr.string('L2') }, 'ai.onnx.ml')],
      inputs: [tensorInfo('x', [1, 3])],
      outputs: [tensorInfo('y', [1, 3])],
    });
    model.opsetImports.push({ domain: 'ai.onnx.ml', version: 1 });
    const { report } = quantizeFp16(model);
    expect(report.nodesKeptFloat).toEqual([{ node: 'norm', opType: 'Normalizer', reason: 'ai.onnx.ml ops have no float16 kernels' }]);
  });

  it('refuses control flow with MODEL_UNSUPPORTED naming the node', () => {
    const body = buildModel({ nodes: [], inputs: [], outputs: [] }).graph;
    const model = buildModel({
      nodes: [makeNode('If', ['cond'], ['y'], 'branch', { then_branch: { type: 'graph', value: body }, else_branch: { type: 'graph', value: body } })],
      inputs: [tensorInfo('cond', [], DataType.BOOL)],
      outputs: [tensorInfo('y', null)],
    });
    expect(() => quantizeFp16(model)).toThrow(EdgetuneError);
    expect(() => quantizeFp16(model)).toThrow(/'branch' \(If\) has a subgraph/);
  });

  it('leaves a model that already holds float16 tensors consistent', () => {
    const model = buildModel({
      nodes: [makeNode('Cast', ['x'], ['h'], 'c', { to: attr.int(DataType.FLOAT16) }), makeNode('Relu', ['h'], ['r'], 'relu'), makeNode('Cast', ['r'], ['y'], 'back', { to: attr.int(DataType.FLOAT) })],
      inputs: [tensorInfo('x', [3])],
      outputs: [tensorInfo('y', [3])],
    });
    const { model: out } = quantizeFp16(model);
    expect(opTypes(out)).toEqual(['Cast', 'Relu', 'Cast']);
  });
});
