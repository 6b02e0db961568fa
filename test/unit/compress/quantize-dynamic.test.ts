import { describe, expect, it } from 'vitest';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { quantizeDynamic, quantizeWeightInt8, roundHalfToEven } from '../../../src/compress/quantize-dynamic.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { buildModel, opTypes, randomWeight, tensorInfo } from './quantize-test-models.js';

describe('roundHalfToEven', () => {
  it('rounds ties to the even neighbour like numpy', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfToEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });
});

describe('quantizeWeightInt8', () => {
  it('reduce_range: symmetric [-64, 64], scale = max|w| / 64', () => {
    const w = Float32Array.from([1, -2, 0.5, 0.0312, 2, -1.99]);
    const q = quantizeWeightInt8(w, 3, 2, true, false);
    expect(q.scales.length).toBe(1);
    expect(q.scales[0]).toBeCloseTo(2 / 64, 8);
    expect(Array.from(q.values)).toEqual([32, -64, 16, 1, 64, -64]);
  });

  it('full range: [-127, 127], scale = max|w| / 127', () => {
    const w = Float32Array.from([1.27, -0.635, 0.005, 0.015]);
    const q = quantizeWeightInt8(w, 2, 2, false, false);
    expect(q.scales[0]).toBeCloseTo(0.01, 8);
    expect(Array.from(q.values)).toEqual([127, -64, 0, 2]); // 0.5 → 0 and 1.5 → 2: ties to even
  });

  it('per channel: one scale per column; an all-zero column gets scale 1', () => {
    const w = Float32Array.from([1, 0, -4, 0, 2, 0]); // [K=3, N=2]
    const q = quantizeWeightInt8(w, 3, 2, true, true);
    expect(Array.from(q.scales)).toEqual([Math.fround(4 / 64), 1]);
    expect(Array.from(q.values)).toEqual([16, 0, -64, 0, 32, 0]);
  });
});

function mlp(opset = 13) {
  return buildModel({
    opset,
    nodes: [
      makeNode('Gemm', ['x', 'W1', 'B1'], ['h'], 'fc1', { transB: attr.int(1) }),
      makeNode('Relu', ['h'], ['r'], 'relu'),
      makeNode('MatMul', ['r', 'W2'], ['y'], 'fc2'),
    ],
    inputs: [tensorInfo('x', ['batch', 16])],
    outputs: [tensorInfo('y', ['batch', 4])],
    initializers: [randomWeight('W1', [8, 16], 1), floatTensor('B1', [8], [1, 2, 3, 4, 5, 6, 7, 8]), randomWeight('W2', [8, 4], 2)],
  });
}

describe('quantizeDynamic graph rewrite', () => {
  it('onnx format: DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scales) (+ Add bias for Gemm)', () => {
    const { model, report } = quantizeDynamic(mlp());
    expect(opTypes(model)).toEqual([
      'DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add', 'Relu',
      'DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul',
    ]);
    const mmi = model.graph.nodes[1]!;
    const wq = model.graph.initializers.get(mmi.inputs[1]!)!;
    expect(wq.dataType).toBe(DataType.INT8);
    expect(wq.dims).toEqual([16, 8]); // transB folded: [K, N]
    const zp = model.graph.initializers.get(mmi.inputs[3]!)!;
    expect(zp.dataType).toBe(DataType.INT8);
    expect(zp.dims).toEqual([]);
    expect(Math.max(...Array.from(wq.values as Int8Array, Math.abs))).toBe(64); // reduce_range by default
    expect(model.graph.nodes[2]!.attributes.get('to')).toEqual(attr.int(DataType.FLOAT));
    expect(model.graph.nodes.at(-1)!.outputs).toEqual(['y']);
    expect(model.graph.initializers.has('W1')).toBe(false);
    expect(model.graph.initializers.has('W2')).toBe(false);
    expect(report.details!.layersQuantized).toBe(2);
    expect(report.details!.weightBytesBefore).toBe((8 * 16 + 8 * 4) * 4);
    expect(report.details!.weightBytesAfter).toBe(8 * 16 + 8 * 4 + 2 * 4 + 2);
    expect(model.opsetImports).toEqual([{ domain: '', version: 13 }]);
  });

  it('quantizes an activation once when it feeds several MatMuls', () => {
    const model = buildModel({
      nodes: [makeNode('MatMul', ['x', 'Wq'], ['q'], 'q'), makeNode('MatMul', ['x', 'Wk'], ['k'], 'k')],
      inputs: [tensorInfo('x', [1, 4, 16])],
      outputs: [tensorInfo('q', null), tensorInfo('k', null)],
      initializers: [randomWeight('Wq', [16, 16], 1), randomWeight('Wk', [16, 16], 2)],
    });
    const { model: out } = quantizeDynamic(model);
    expect(opTypes(out).filter((t) => t === 'DynamicQuantizeLinear')).toHaveLength(1);
    expect(opTypes(out).filter((t) => t === 'MatMulInteger')).toHaveLength(2);
  });

  it('contrib format: one DynamicQuantizeMatMul per layer, the Gemm bias as its bias input', () => {
    const { model } = quantizeDynamic(mlp(), { format: 'contrib', perChannel: true, reduceRange: false });
    expect(opTypes(model)).toEqual(['com.microsoft:DynamicQuantizeMatMul', 'Relu', 'com.microsoft:DynamicQuantizeMatMul']);
    const first = model.graph.nodes[0]!;
    expect(first.inputs).toHaveLength(5);
    expect(model.graph.initializers.get(first.inputs[2]!)!.dims).toEqual([8]); // per-column scales
    expect(model.graph.initializers.get(first.inputs[3]!)!.dims).toEqual([8]);
    expect(Array.from(model.graph.initializers.get(first.inputs[4]!)!.values as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(model.opsetImports).toContainEqual({ domain: 'com.microsoft', version: 1 });
  });

  it('contrib format takes a following Add of a constant [N] vector as the bias input', () => {
    const model = buildModel({
      nodes: [makeNode('MatMul', ['x', 'W'], ['m'], 'mm'), makeNode('Add', ['bias', 'm'], ['y'], 'add'), makeNode('MatMul', ['y', 'W2'], ['m2'], 'mm2'), makeNode('Add', ['m2', 'full'], ['z'], 'add2')],
      inputs: [tensorInfo('x', [2, 8])],
      outputs: [tensorInfo('z', [2, 4])],
      initializers: [randomWeight('W', [8, 4], 1), floatTensor('bias', [4], [1, 2, 3, 4]), randomWeight('W2', [4, 4], 2), randomWeight('full', [2, 4], 3)],
    });
    const { model: out } = quantizeDynamic(model, { format: 'contrib' });
    // the second Add reads a [2, 4] constant: not a bias vector, so it stays
    expect(opTypes(out)).toEqual(['com.microsoft:DynamicQuantizeMatMul', 'com.microsoft:DynamicQuantizeMatMul', 'Add']);
    expect(out.graph.nodes[0]!.inputs[4]).toBe('bias');
    expect(out.graph.nodes[0]!.outputs).toEqual(['y']);
  });

  it('refuses the onnx format below opset 11 with MODEL_UNSUPPORTED naming the opset', () => {
    let error: unknown;
    try {
      quantizeDynamic(mlp(10));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('MODEL_UNSUPPORTED');
    expect((error as EdgetuneError).message).toMatch(/opset is 10/);
    // the contrib op does not depend on the default opset
    expect(() => quantizeDynamic(mlp(10), { format: 'contrib' })).not.toThrow();
  });

  it('reports LSTM/GRU and activation × activation MatMuls as kept float, and notes Convs', () => {
    const model = buildModel({
      nodes: [
        makeNode('LSTM', ['x', 'W', 'R'], ['seq'], 'lstm', { hidden_size: attr.int(4) }),
        makeNode('MatMul', ['seq', 'seq2'], ['y'], 'qk'),
        makeNode('Conv', ['img', 'K'], ['c'], 'conv'),
      ],
      inputs: [tensorInfo('x', [3, 1, 4]), tensorInfo('seq2', null), tensorInfo('img', [1, 1, 4, 4])],
      outputs: [tensorInfo('y', null), tensorInfo('c', null)],
      initializers: [randomWeight('W', [1, 16, 4], 1), randomWeight('R', [1, 16, 4], 2), randomWeight('K', [1, 1, 3, 3], 3)],
    });
    const { model: out, report } = quantizeDynamic(model);
    expect(opTypes(out)).toEqual(['LSTM', 'MatMul', 'Conv']);
    expect(report.nodesKeptFloat.map((k) => k.opType)).toEqual(['LSTM', 'MatMul']);
    expect(report.nodesKeptFloat[0]!.reason).toMatch(/DynamicQuantizeLSTM/);
    expect(report.notes.join(' ')).toMatch(/1 Conv/);
  });

  it('rejects an unknown format', () => {
    expect(() => quantizeDynamic(mlp(), { format: 'qoperator' as 'onnx' })).toThrow(/unknown format/);
  });
});
