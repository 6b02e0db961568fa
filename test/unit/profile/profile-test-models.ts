/** Small hand-built models for the profiler tests: a conv net with a known FLOP count, and models that misbehave. */
import { DataType } from '../../../src/onnx/dtype.js';
import type { Dim, OnnxGraph, OnnxModel, OnnxNode, Tensor, ValueInfo } from '../../../src/onnx/ir.js';
import { floatTensor, int64Tensor, makeTensor } from '../../../src/onnx/tensor.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';

/** Deterministic values in [-0.5, 0.5). */
export function weights(name: string, dims: number[], seed: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v[i] = s / 2147483648 - 0.5;
  }
  return floatTensor(name, dims, v);
}

/** A tensor value_info. */
export function info(name: string, shape: Dim[] | null, elemType: number = DataType.FLOAT): ValueInfo {
  return { name, type: { elemType, shape } };
}

/** A model around a graph. */
export function model(graph: Omit<OnnxGraph, 'name' | 'valueInfo'> & { valueInfo?: ValueInfo[] }, opset = 13): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'edgetune-test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: { name: 'g', valueInfo: [], ...graph },
  };
}

/**
 * x[N,3,8,8] → Conv(4×3×3×3, pad 1) + bias → Relu → GlobalAveragePool → Flatten → Gemm(4→2) → Softmax → y[N,2].
 * FLOPs per sample (2 per MAC): Conv 2·256·27 + 256 bias = 14080; Relu 256; GAP 256; Gemm 2·2·4 + 2 = 18;
 * Softmax 4·2 = 8 → 14618.
 */
export const CONV_NET_FLOPS_PER_SAMPLE = 14618;
export const CONV_NET_WEIGHT_BYTES = (4 * 3 * 3 * 3 + 4 + 2 * 4 + 2) * 4;

/** The conv net above (batch symbolic). */
export function convNet(): OnnxModel {
  const nodes: OnnxNode[] = [
    makeNode('Conv', ['x', 'w', 'b'], ['c'], 'conv', { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) }),
    makeNode('Relu', ['c'], ['r'], 'relu'),
    makeNode('GlobalAveragePool', ['r'], ['p'], 'gap'),
    makeNode('Flatten', ['p'], ['f'], 'flatten'),
    makeNode('Gemm', ['f', 'fc_w', 'fc_b'], ['g'], 'fc', { transB: attr.int(1) }),
    makeNode('Softmax', ['g'], ['y'], 'softmax', { axis: attr.int(1) }),
  ];
  return model({
    nodes,
    inputs: [info('x', ['N', 3, 8, 8])],
    outputs: [info('y', ['N', 2])],
    initializers: new Map(
      [weights('w', [4, 3, 3, 3], 1), weights('b', [4], 2), weights('fc_w', [2, 4], 3), weights('fc_b', [2], 4)].map((t) => [t.name, t]),
    ),
  });
}

/** A Loop with no trip count whose condition stays true: onnxruntime never returns. */
export function endlessLoop(): OnnxModel {
  const body: OnnxGraph = {
    name: 'body',
    nodes: [makeNode('Identity', ['cond_in'], ['cond_out'], 'keep'), makeNode('Add', ['v_in', 'one'], ['v_out'], 'inc')],
    inputs: [info('iter', [], DataType.INT64), info('cond_in', [], DataType.BOOL), info('v_in', [1])],
    outputs: [info('cond_out', [], DataType.BOOL), info('v_out', [1])],
    valueInfo: [],
    initializers: new Map([['one', floatTensor('one', [1], [1])]]),
  };
  return model({
    nodes: [makeNode('Loop', ['', 'cond0', 'x'], ['v_final'], 'forever', { body: { type: 'graph', value: body } })],
    inputs: [info('x', [1])],
    outputs: [info('v_final', [1])],
    initializers: new Map([['cond0', makeTensor('cond0', DataType.BOOL, [], new Uint8Array([1]))]]),
  });
}

/** Expand a [1] input to `elements` floats: an enormous output that exhausts any sane memory limit. */
export function hugeExpand(elements: number): OnnxModel {
  return model({
    nodes: [makeNode('Expand', ['x', 'shape'], ['y'], 'expand')],
    inputs: [info('x', [1])],
    outputs: [info('y', [elements])],
    initializers: new Map([['shape', int64Tensor('shape', [1], [elements])]]),
  });
}
