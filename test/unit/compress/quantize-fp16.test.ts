import { describe, expect, it } from 'vitest';
import { DataType } from '../../../src/onnx/dtype.js';
import { float16BitsToFloat32 } from '../../../src/onnx/float16.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { defaultOpset, type OnnxModel, type OnnxNode } from '../../../src/onnx/ir.js';
import { floatTensor, int64Tensor, makeTensor } from '../../../src/onnx/tensor.js';
import {
  FP16_BLOCKED_OPS,
  FP16_BLOCKED_VARIANTS,
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

  it('keeps control flow float32 and names it in the report (the outputs keep the body\'s declared type)', () => {
    const body = buildModel({ nodes: [makeNode('Neg', ['h'], ['b'], 'neg')], inputs: [], outputs: [tensorInfo('b', [2])] }).graph;
    const model = buildModel({
      nodes: [makeNode('Relu', ['x'], ['h'], 'relu'), makeNode('If', ['cond'], ['y'], 'branch', { then_branch: { type: 'graph', value: body }, else_branch: { type: 'graph', value: body } })],
      inputs: [tensorInfo('cond', [], DataType.BOOL), tensorInfo('x', [2])],
      outputs: [tensorInfo('y', null)],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(report.nodesKeptFloat).toEqual([{ node: 'branch', opType: 'If', reason: expect.stringMatching(/^control flow/) }]);
    // The Relu turns float16; the body reads its output through a Cast back to float32 and an Identity.
    expect(opTypes(out)).toEqual(['Cast', 'Relu', 'Cast', 'Identity', 'If']);
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

describe('quantizeFp16 on ops and types it must leave alone (issue 19)', () => {
  const castTargets = (model: OnnxModel): Array<[string, number]> =>
    model.graph.nodes.filter((n) => n.opType === 'Cast').map((n) => [n.inputs[0]!, (n.attributes.get('to') as { value: number }).value]);

  it('moves an opset-1 model to opset 6 when no op of it changed in between, so its Casts take an int `to`', () => {
    const model = buildModel({ opset: 1, nodes: [makeNode('Softsign', ['x'], ['y'], 'softsign')], inputs: [tensorInfo('x', [3, 4])], outputs: [tensorInfo('y', [3, 4])] });
    const { model: out, report } = quantizeFp16(model);
    expect(defaultOpset(out)).toBe(6);
    expect(report.opset).toEqual({ from: 1, to: 6 });
    expect(report.notes[0]).toMatch(/^default-domain opset moved from 1 to 6 \(no op of the model changed in between\)/);
    expect(opTypes(out)).toEqual(['Cast', 'Softsign', 'Cast']);
    expect(out.graph.nodes[0]!.attributes.get('to')).toEqual(attr.int(DataType.FLOAT16));
  });

  it('refuses an opset-1 model holding an op that changed by opset 6, naming it', () => {
    const model = buildModel({
      opset: 1,
      nodes: [makeNode('Softsign', ['x'], ['s'], 'softsign'), makeNode('Relu', ['s'], ['y'], 'relu1')],
      inputs: [tensorInfo('x', [3])],
      outputs: [tensorInfo('y', [3])],
    });
    expect(() => quantizeFp16(model)).toThrow(EdgetuneError);
    expect(() => quantizeFp16(model)).toThrow(/opset 1 .* node 'relu1' \(Relu\) has a new version at opset 6/);
  });

  it('leaves the opset of an old model with nothing to convert as it is', () => {
    const model = buildModel({ opset: 1, nodes: [makeNode('Not', ['x'], ['y'], 'not')], inputs: [tensorInfo('x', [3], DataType.BOOL)], outputs: [tensorInfo('y', [3], DataType.BOOL)] });
    const { model: out, report } = quantizeFp16(model);
    expect(defaultOpset(out)).toBe(1);
    expect(report.opset).toEqual({ from: 1, to: 1 });
  });

  it('converts IsInf from opset 20 (float16 in its schema) and keeps CumSum float32 at every opset, saying why', () => {
    const model = (opset: number) =>
      buildModel({
        opset,
        nodes: [makeNode('Relu', ['x'], ['r'], 'relu'), makeNode('IsInf', ['r'], ['inf'], 'isinf'), makeNode('CumSum', ['r', 'axis'], ['y'], 'cumsum')],
        inputs: [tensorInfo('x', [4])],
        outputs: [tensorInfo('inf', [4], DataType.BOOL), tensorInfo('y', [4])],
        initializers: [int64Tensor('axis', [], [0])],
      });
    const kept = (opset: number) => quantizeFp16(model(opset)).report.nodesKeptFloat.map((k) => [k.opType, k.reason]);
    expect(kept(13)).toEqual([['IsInf', FP16_BLOCKED_OPS.get('IsInf')], ['CumSum', FP16_BLOCKED_OPS.get('CumSum')]]);
    expect(kept(20)).toEqual([['CumSum', "kept float32 like onnxruntime's converter: a running sum loses precision in float16"]]);
    expect(node(quantizeFp16(model(20)).model, 'IsInf').inputs).toEqual(['r']); // float16, no Cast
  });

  it('keeps QLinearConv and QLinearMatMul float32: their float inputs are scales', () => {
    const u8 = (name: string, dims: number[], v: number) => makeTensor(name, DataType.UINT8, dims, new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(v));
    const model = buildModel({
      nodes: [makeNode('QLinearMatMul', ['a', 'a_scale', 'a_zp', 'b', 'b_scale', 'b_zp', 'y_scale', 'y_zp'], ['y'], 'qmm')],
      inputs: [tensorInfo('a', [2, 3], DataType.UINT8)],
      outputs: [tensorInfo('y', [2, 2], DataType.UINT8)],
      initializers: [floatTensor('a_scale', [], [0.1]), u8('a_zp', [], 0), u8('b', [3, 2], 3), floatTensor('b_scale', [], [0.2]), u8('b_zp', [], 0), floatTensor('y_scale', [], [0.3]), u8('y_zp', [], 0)],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(report.nodesKeptFloat).toEqual([{ node: 'qmm', opType: 'QLinearMatMul', reason: FP16_BLOCKED_OPS.get('QLinearMatMul') }]);
    expect(opTypes(out)).toEqual(['QLinearMatMul']);
    for (const name of ['a_scale', 'b_scale', 'y_scale']) expect(typeOf(out, name), name).toBe(DataType.FLOAT);
    expect(FP16_BLOCKED_OPS.get('QLinearConv')).toBe(FP16_BLOCKED_OPS.get('QLinearMatMul'));
  });

  it('keeps ScatterND with a reduction and ScatterElements with add/mul float32; min/max and none run in float16', () => {
    const scatter = (op: string, reduction: string) =>
      buildModel({
        opset: 18,
        nodes: [makeNode(op, ['x', 'i', 'u'], ['y'], 'scatter', { reduction: attr.string(reduction) })],
        inputs: [tensorInfo('x', [4, 4]), tensorInfo('u', [1, 4])],
        outputs: [tensorInfo('y', [4, 4])],
        initializers: [op === 'ScatterND' ? int64Tensor('i', [1, 1], [1]) : int64Tensor('i', [1, 4], [1, 0, 2, 3])],
      });
    const kept = (op: string, reduction: string) => quantizeFp16(scatter(op, reduction)).report.nodesKeptFloat.map((k) => k.reason);
    for (const reduction of ['add', 'mul', 'min', 'max']) expect(kept('ScatterND', reduction)[0]).toMatch(new RegExp(`rejects float16.*reduction='${reduction}'$`));
    for (const reduction of ['add', 'mul']) expect(kept('ScatterElements', reduction)[0]).toMatch(new RegExp(`reduction='${reduction}'$`));
    for (const reduction of ['min', 'max', 'none']) expect(kept('ScatterElements', reduction)).toEqual([]);
    expect(kept('ScatterND', 'none')).toEqual([]);
    expect(FP16_BLOCKED_VARIANTS.map((v) => `${v.opType}.${v.attribute}`)).toEqual(['ScatterND.reduction', 'ScatterElements.reduction']);
  });

  it('casts only the float output of Unique: indices, inverse_indices and counts are int64, and so is what reads them', () => {
    const model = buildModel({
      opset: 11,
      nodes: [
        makeNode('Unique', ['x'], ['u', 'idx', 'inv', 'counts'], 'unique', { sorted: attr.int(1) }),
        makeNode('Relu', ['u'], ['y'], 'relu'),
        makeNode('Gather', ['counts', 'inv'], ['g'], 'gather'),
      ],
      inputs: [tensorInfo('x', [6])],
      outputs: [tensorInfo('y', null), tensorInfo('idx', null, DataType.INT64), tensorInfo('g', null, DataType.INT64)],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(report.nodesKeptFloat).toEqual([]);
    expect(castTargets(out)).toEqual([['x', DataType.FLOAT16], ['y_fp16', DataType.FLOAT]]);
    expect(node(out, 'Gather').inputs).toEqual(['counts', 'inv']);
  });

  it('gives OneHot the type of its `values` input, not of its indices', () => {
    const model = buildModel({
      opset: 11,
      nodes: [makeNode('OneHot', ['indices', 'depth', 'values'], ['oh'], 'onehot', { axis: attr.int(1) }), makeNode('Sigmoid', ['oh'], ['y'], 'sig')],
      inputs: [tensorInfo('indices', [3], DataType.INT64), tensorInfo('depth', []), tensorInfo('values', [2])],
      outputs: [tensorInfo('y', [3, 10])],
    });
    const { model: out } = quantizeFp16(model);
    expect(opTypes(out)).toEqual(['Cast', 'Cast', 'OneHot', 'Sigmoid', 'Cast']);
    expect(typeOf(out, 'oh')).toBeUndefined(); // no value_info: nothing declared it int64
    expect(castTargets(out)).toEqual([['depth', DataType.FLOAT16], ['values', DataType.FLOAT16], ['y_fp16', DataType.FLOAT]]);
  });

  it('never casts a sequence: sequence producers and readers stay as they are, named in the report', () => {
    const model = buildModel({
      opset: 12,
      nodes: [makeNode('SplitToSequence', ['x'], ['seq'], 'split', { axis: attr.int(0) }), makeNode('SequenceLength', ['seq'], ['len'], 'len'), makeNode('Relu', ['x'], ['y'], 'relu')],
      inputs: [tensorInfo('x', [3, 2])],
      outputs: [tensorInfo('len', [], DataType.INT64), tensorInfo('y', [3, 2])],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(report.nodesKeptFloat.map((k) => [k.opType, k.reason])).toEqual([
      ['SplitToSequence', FP16_BLOCKED_OPS.get('SplitToSequence')],
      ['SequenceLength', "'seq' is a sequence (output of SplitToSequence): sequence and optional values are not converted"],
    ]);
    expect(node(out, 'SequenceLength').inputs).toEqual(['seq']);
    expect(node(out, 'SplitToSequence').inputs).toEqual(['x']);
    expect(castTargets(out).map(([x]) => x)).not.toContain('seq');
    expect(report.notes).toContain("1 sequence/optional value(s) and values read from them left as they are: 'seq' (a sequence (output of SplitToSequence))");
  });

  it('names a declared sequence or optional graph input by its ONNX type and keeps its readers float', () => {
    const model = buildModel({
      opset: 12,
      nodes: [makeNode('SequenceAt', ['seq', 'pos'], ['t'], 'at'), makeNode('Add', ['t', 'x'], ['y'], 'add')],
      inputs: [{ name: 'seq', type: null, rawType: { sequenceType: { elemType: { tensorType: { elemType: DataType.FLOAT } } } } }, tensorInfo('x', [2])],
      outputs: [tensorInfo('y', [2])],
      initializers: [int64Tensor('pos', [], [0])],
    });
    const { model: out, report } = quantizeFp16(model);
    expect(report.nodesKeptFloat.map((k) => [k.node, k.reason])).toEqual([
      ['at', FP16_BLOCKED_OPS.get('SequenceAt')],
      ['add', "'t' is of unknown type (output of SequenceAt reading 'seq'): sequence and optional values are not converted"],
    ]);
    expect(opTypes(out)).toEqual(['SequenceAt', 'Add']);
    expect(report.notes.at(-1)).toMatch(/'seq' \(seq\(tensor\(float\)\)\)/);
  });
});
