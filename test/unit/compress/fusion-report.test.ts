import { describe, expect, it } from 'vitest';
import { analyzeFusion, describeFusion, uselessQdqPairs } from '../../../src/compress/fusion-report.js';
import { DataType } from '../../../src/onnx/dtype.js';
import type { OnnxModel, OnnxNode, Tensor } from '../../../src/onnx/ir.js';
import { makeNode } from '../../../src/onnx/graph.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';
import { buildModel, randomWeight, tensorInfo } from './quantize-test-models.js';

// Hand-built pairs: a QDQ model as quantizeInt8 writes it, and the graph onnxruntime saves from it at 'extended'
// (names and rewiring as observed with onnxruntime-node 1.30: a fused node takes its target node's name and writes
// the output of the Q it absorbed; a node left float keeps its output name).

const scalars = (t: string): Tensor[] => [floatTensor(`${t}_scale`, [], [0.05]), makeTensor(`${t}_zero_point`, DataType.UINT8, [], [128])];
const q = (t: string): OnnxNode => makeNode('QuantizeLinear', [t, `${t}_scale`, `${t}_zero_point`], [`${t}_q`], `${t}_QuantizeLinear`);
const dq = (t: string): OnnxNode => makeNode('DequantizeLinear', [`${t}_q`, `${t}_scale`, `${t}_zero_point`], [`${t}_dq`], `${t}_DequantizeLinear`);
const weight = (name: string, dims: number[]): Tensor[] => [
  makeTensor(`${name}_quantized`, DataType.INT8, dims, new Int8Array(dims.reduce((a, b) => a * b, 1))),
  floatTensor(`${name}_scale`, [], [0.01]),
  makeTensor(`${name}_zero_point`, DataType.INT8, [], [0]),
];
const dqWeight = (name: string): OnnxNode => makeNode('DequantizeLinear', [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], [`${name}_dq`], `${name}_DequantizeLinear`);
const qlinearConv = (name: string, x: string, w: string, y: string): OnnxNode =>
  makeNode('QLinearConv', [`${x}_q`, `${x}_scale`, `${x}_zero_point`, `${w}_quantized`, `${w}_scale`, `${w}_zero_point`, `${y}_scale`, `${y}_zero_point`], [`${y}_q`], name);

/** x → Conv c1 → HardSwish hs → Conv c2 → Softmax sm → y, every activation behind a Q/DQ pair except y. */
function convHardSwishModel(): OnnxModel {
  return buildModel({
    inputs: [tensorInfo('x', ['N', 3, 8, 8])],
    outputs: [tensorInfo('y', null)],
    initializers: [...scalars('x'), ...scalars('a'), ...scalars('b'), ...scalars('c'), ...weight('w1', [4, 3, 3, 3]), ...weight('w2', [4, 4, 1, 1])],
    nodes: [
      q('x'), dq('x'), dqWeight('w1'),
      makeNode('Conv', ['x_dq', 'w1_dq'], ['a'], 'c1', { pads: { type: 'ints', value: [1, 1, 1, 1] } }),
      q('a'), dq('a'),
      makeNode('HardSwish', ['a_dq'], ['b'], 'hs'),
      q('b'), dq('b'), dqWeight('w2'),
      makeNode('Conv', ['b_dq', 'w2_dq'], ['c'], 'c2'),
      q('c'), dq('c'),
      makeNode('Softmax', ['c_dq'], ['y'], 'sm'),
    ],
  });
}

/** What onnxruntime makes of it: two QLinearConv, HardSwish inlined as unnamed HardSigmoid + Mul, Softmax float. */
function convHardSwishOptimized(): OnnxModel {
  return buildModel({
    inputs: [tensorInfo('x', ['N', 3, 8, 8])],
    outputs: [tensorInfo('y', null)],
    initializers: [...scalars('x'), ...scalars('a'), ...scalars('b'), ...scalars('c'), ...weight('w1', [4, 3, 3, 3]), ...weight('w2', [4, 4, 1, 1])],
    nodes: [
      q('x'),
      qlinearConv('c1', 'x', 'w1', 'a'),
      dq('a'),
      makeNode('HardSigmoid', ['a_dq'], ['_inlfunc_HardSwish_HS_X'], ''),
      makeNode('Mul', ['a_dq', '_inlfunc_HardSwish_HS_X'], ['b'], ''),
      q('b'),
      qlinearConv('c2', 'b', 'w2', 'c'),
      dq('c'),
      makeNode('Softmax', ['c_dq'], ['y'], 'sm'),
    ],
  });
}

describe('analyzeFusion', () => {
  const report = analyzeFusion(convHardSwishModel(), convHardSwishOptimized(), { inputShapes: { x: [1, 3, 8, 8] } });

  it('counts the integer kernels of the optimized graph and maps each float node to its fate', () => {
    expect(report.fusedOps).toEqual({ QLinearConv: 2 });
    expect(report.sourceOps['Conv']).toEqual({ nodes: 2, int8: 2, into: { QLinearConv: 2 } });
    expect(report.sourceOps['HardSwish']).toEqual({ nodes: 1, int8: 0, into: {} });
    expect(report.removedNodes).toBe(0);
  });

  it('lists the float islands with their FLOPs and splits the FLOPs between int8 and float', () => {
    // c1: 2·(4·8·8)·27 = 13824, c2: 2·256·4 = 2048; HardSwish and Softmax: 256 and 4·256 elements.
    expect(report.floatIslands).toEqual([
      { node: 'hs', opType: 'HardSwish', flops: 256 },
      { node: 'sm', opType: 'Softmax', flops: 1024 },
    ]);
    expect(report.flops).toBe(13824 + 2048 + 256 + 1024);
    expect(report.int8FlopsShare).toBeCloseTo(15872 / 17152, 9);
    expect(report.int8FlopsShare + report.floatFlopsShare).toBeCloseTo(1, 12);
    expect(report.uncountedNodes).toBe(0);
  });

  it('counts the Q and DQ left on activations (weights are not conversions at run time)', () => {
    expect(report.conversions).toBe(4);
  });

  it('with symbolic input dims and no shapes given, counts at batch 1', () => {
    const fallback = analyzeFusion(convHardSwishModel(), convHardSwishOptimized());
    expect(fallback.flops).toBe(report.flops);
  });

  it('reads a Relu onnxruntime dropped before a Q as part of the QLinearConv', () => {
    const quantized = buildModel({
      inputs: [tensorInfo('x', [1, 3, 4, 4])],
      outputs: [tensorInfo('r_dq', null)],
      initializers: [...scalars('x'), ...scalars('r'), ...weight('w1', [2, 3, 1, 1])],
      nodes: [q('x'), dq('x'), dqWeight('w1'), makeNode('Conv', ['x_dq', 'w1_dq'], ['a'], 'c1'), makeNode('Relu', ['a'], ['r'], 'relu'), q('r'), dq('r')],
    });
    const optimized = buildModel({
      inputs: [tensorInfo('x', [1, 3, 4, 4])],
      outputs: [tensorInfo('r_dq', null)],
      initializers: [...scalars('x'), ...scalars('r'), ...weight('w1', [2, 3, 1, 1])],
      nodes: [q('x'), qlinearConv('c1', 'x', 'w1', 'r'), dq('r')],
    });
    const r = analyzeFusion(quantized, optimized);
    expect(r.sourceOps['Relu']).toEqual({ nodes: 1, int8: 1, into: { QLinearConv: 1 } });
    expect(r.floatIslands).toEqual([]);
    expect(r.int8FlopsShare).toBe(1);
    expect(describeFusion(r)).toBe('onnxruntime fuses 1 of 1 Conv into QLinearConv; no float islands');
  });

  it('follows an output onnxruntime renamed when it propagated a Q backwards through MaxPool', () => {
    const quantized = buildModel({
      inputs: [tensorInfo('x', [1, 2, 4, 4])],
      outputs: [tensorInfo('p_dq', null)],
      initializers: [...scalars('x'), ...scalars('p')],
      nodes: [q('x'), dq('x'), makeNode('HardSwish', ['x_dq'], ['h'], 'hs'), makeNode('MaxPool', ['h'], ['p'], 'mp', { kernel_shape: { type: 'ints', value: [2, 2] } }), q('p'), dq('p')],
    });
    const optimized = buildModel({
      inputs: [tensorInfo('x', [1, 2, 4, 4])],
      outputs: [tensorInfo('p_dq', null)],
      initializers: [...scalars('x'), ...scalars('p')],
      nodes: [
        q('x'), dq('x'),
        makeNode('HardSigmoid', ['x_dq'], ['hs_x'], ''),
        makeNode('Mul', ['x_dq', 'hs_x'], ['h_pre_q'], ''),
        makeNode('QuantizeLinear', ['h_pre_q', 'p_scale', 'p_zero_point'], ['h_q_to_dq'], 'h_q'),
        makeNode('MaxPool', ['h_q_to_dq'], ['p_q'], 'mp', { kernel_shape: { type: 'ints', value: [2, 2] } }),
        dq('p'),
      ],
    });
    const r = analyzeFusion(quantized, optimized);
    expect(r.floatIslands.map((i) => i.node)).toEqual(['hs']);
    expect(r.sourceOps['MaxPool']).toEqual({ nodes: 1, int8: 1, into: { MaxPool: 1 } });
    expect(r.fusedOps).toEqual({ MaxPool: 1 });
  });

  it('leaves out nodes onnxruntime folded into constants', () => {
    const quantized = buildModel({
      inputs: [tensorInfo('x', [1, 4])],
      outputs: [tensorInfo('y', null)],
      initializers: [randomWeight('k', [1, 4], 3)],
      nodes: [makeNode('Neg', ['k'], ['nk'], 'neg'), makeNode('Add', ['x', 'nk'], ['y'], 'add')],
    });
    const optimized = buildModel({
      inputs: [tensorInfo('x', [1, 4])],
      outputs: [tensorInfo('y', null)],
      initializers: [randomWeight('nk', [1, 4], 3)],
      nodes: [makeNode('Add', ['x', 'nk'], ['y'], 'add')],
    });
    const r = analyzeFusion(quantized, optimized);
    expect(r.floatIslands.map((i) => i.node)).toEqual(['add']);
    expect(r.sourceOps['Neg']).toBeUndefined();
    expect(r.floatFlopsShare).toBe(1);
  });

  it('says what was fused and what stayed float in one line', () => {
    expect(describeFusion(report)).toBe('onnxruntime fuses 2 of 2 Conv into QLinearConv; float islands: HardSwish ×1, Softmax ×1 (7.5 % of FLOPs); 4 Q/DQ conversions at run time');
  });
});

describe('uselessQdqPairs', () => {
  it('names the activations whose Q/DQ pair sits between float nodes only', () => {
    // hs → Q/DQ(b) → Conv c2 is needed (c2 fuses); Conv c1 → Q/DQ(a) → hs too (c1 fuses). Add a float tail:
    // Softmax sm → Q/DQ(s) → Sigmoid sg, both float in the optimized graph.
    const quantized = convHardSwishModel();
    quantized.graph.initializers.set('s_scale', floatTensor('s_scale', [], [0.01]));
    quantized.graph.initializers.set('s_zero_point', makeTensor('s_zero_point', DataType.UINT8, [], [0]));
    quantized.graph.nodes.push(q('s'), dq('s'), makeNode('Sigmoid', ['s_dq'], ['z'], 'sg'));
    quantized.graph.nodes.find((n) => n.name === 'sm')!.outputs = ['s'];
    quantized.graph.outputs = [tensorInfo('z', null)];
    const optimized = convHardSwishOptimized();
    optimized.graph.nodes.find((n) => n.name === 'sm')!.outputs = ['s'];
    optimized.graph.nodes.push(q('s'), dq('s'), makeNode('Sigmoid', ['s_dq'], ['z'], 'sg'));
    optimized.graph.outputs = [tensorInfo('z', null)];
    expect(uselessQdqPairs(quantized, optimized)).toEqual(['s']);
  });

  it('keeps pairs that feed or follow a fused kernel', () => {
    expect(uselessQdqPairs(convHardSwishModel(), convHardSwishOptimized())).toEqual([]);
  });
});
