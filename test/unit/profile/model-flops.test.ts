import { describe, expect, it } from 'vitest';
import { achievedThroughput, missingShapes, modelFlops, nodeFlops } from '../../../src/profile/model-flops.js';
import { inferTensorTypes, staticShape } from '../../../src/onnx/shape-inference.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { CONV_NET_FLOPS_PER_SAMPLE, CONV_NET_WEIGHT_BYTES, convNet, endlessLoop, info, model, weights } from './profile-test-models.js';

const shapes = (m: Record<string, number[]>) => (name: string) => m[name] ?? null;

describe('modelFlops', () => {
  it('counts the conv net per the conventions (2 per MAC, 1 per elementwise output, ...)', () => {
    const m = convNet();
    const types = inferTensorTypes(m, { inputShapes: { x: [1, 3, 8, 8] } });
    const f = modelFlops(m, (n) => staticShape(types, n));
    expect(f.flops).toBe(CONV_NET_FLOPS_PER_SAMPLE);
    expect(f.byOp).toEqual({ Conv: 14080, Relu: 256, GlobalAveragePool: 256, Flatten: 0, Gemm: 18, Softmax: 8 });
    expect(f.weightBytes).toBe(CONV_NET_WEIGHT_BYTES);
    expect(f.params).toBe(CONV_NET_WEIGHT_BYTES / 4);
    expect(f.uncounted).toEqual([]);
    expect(f.integerFlops).toBe(0);
  });

  it('scales with the batch', () => {
    const m = convNet();
    const types = inferTensorTypes(m, { inputShapes: { x: [3, 3, 8, 8] } });
    expect(modelFlops(m, (n) => staticShape(types, n)).flops).toBe(3 * CONV_NET_FLOPS_PER_SAMPLE);
  });

  it('lists what it cannot count instead of guessing, and which shapes it misses', () => {
    const m = convNet();
    const f = modelFlops(m, shapes({ x: [1, 3, 8, 8] }));
    expect(f.uncounted.map((u) => `${u.op}:${u.reason}`)).toEqual(['Conv:no shape', 'Relu:no shape', 'GlobalAveragePool:no shape', 'Gemm:no shape', 'Softmax:no shape']);
    expect(missingShapes(m, shapes({ x: [1, 3, 8, 8] }))).toEqual(expect.arrayContaining(['c', 'r', 'g', 'y']));
    expect(modelFlops(endlessLoop(), shapes({})).uncounted).toEqual([{ op: 'Loop', reason: 'subgraph', nodes: 1 }]);
  });

  it('MatMul with batch dims, grouped/depthwise Conv, ConvTranspose, pooling', () => {
    const mm = makeNode('MatMul', ['a', 'b'], ['y'], 'mm');
    expect(nodeFlops(mm, shapes({ a: [2, 5, 8], b: [8, 3], y: [2, 5, 3] }))).toBe(2 * 30 * 8);
    // depthwise: W [C, 1, 3, 3]: 9 MACs per output
    const dw = makeNode('Conv', ['x', 'w'], ['y'], 'dw', { group: attr.int(16) });
    expect(nodeFlops(dw, shapes({ x: [1, 16, 10, 10], w: [16, 1, 3, 3], y: [1, 16, 8, 8] }))).toBe(2 * 1024 * 9);
    // ConvTranspose: W [C_in, M/group, k, k]: every input element feeds M/group · k² outputs
    const ct = makeNode('ConvTranspose', ['x', 'w'], ['y'], 'ct');
    expect(nodeFlops(ct, shapes({ x: [1, 4, 5, 5], w: [4, 2, 2, 2], y: [1, 2, 10, 10] }))).toBe(2 * 100 * 8);
    const pool = makeNode('MaxPool', ['x'], ['y'], 'pool', { kernel_shape: attr.ints([2, 2]) });
    expect(nodeFlops(pool, shapes({ x: [1, 4, 8, 8], y: [1, 4, 4, 4] }))).toBe(64 * 4);
    expect(nodeFlops(makeNode('Reshape', ['x', 's'], ['y'], 'r'), shapes({}))).toBe(0);
    expect(nodeFlops(makeNode('Einsum', ['x'], ['y'], 'e'), shapes({ y: [3] }))).toBe('not modelled');
  });

  it('counts Constant-node weights and marks QDQ and integer matmuls as integer FLOPs', () => {
    const m = model({
      nodes: [
        makeNode('Constant', [], ['w'], 'cw', { value: attr.tensor(weights('w', [8, 3], 1)) }),
        makeNode('DequantizeLinear', ['xq', 's'], ['xd'], 'dqx'),
        makeNode('DequantizeLinear', ['wq', 's'], ['wd'], 'dqw'),
        makeNode('MatMul', ['xd', 'wd'], ['y'], 'mm'),
        makeNode('MatMulInteger', ['xq', 'wq'], ['z'], 'mmi'),
        makeNode('MatMul', ['xd', 'w'], ['u'], 'mm_float'),
      ],
      inputs: [info('xq', [2, 8])],
      outputs: [info('y', [2, 3])],
      initializers: new Map(),
    });
    const f = modelFlops(m, shapes({ xq: [2, 8], xd: [2, 8], wq: [8, 3], wd: [8, 3], w: [8, 3], y: [2, 3], z: [2, 3], u: [2, 3], s: [] }));
    expect(f.weightBytes).toBe(8 * 3 * 4);
    expect(f.flops).toBe(3 * 96); // three [2,8]x[8,3] matmuls; DequantizeLinear is data movement here
    expect(f.integerFlops).toBe(2 * 96);
  });
});

describe('achievedThroughput', () => {
  it('is FLOPs per second at the latency, and a share of the peak when known', () => {
    expect(achievedThroughput(2e9, 100, 40)).toEqual({ gflopsPerSec: 20, peakShare: 0.5 });
    expect(achievedThroughput(2e9, 100, null).peakShare).toBeNull();
  });
});
