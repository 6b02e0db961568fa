import { describe, expect, it } from 'vitest';
import { inferTensorTypes, broadcastShapes } from '../../../src/onnx/shape-inference.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor, int64Tensor } from '../../../src/onnx/tensor.js';
import type { OnnxModel } from '../../../src/onnx/ir.js';

function cnn(): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'g',
      inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: ['n', 3, 32, 32] } }],
      outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: null } }],
      valueInfo: [],
      initializers: new Map([
        ['w', floatTensor('w', [8, 3, 3, 3], new Float32Array(216))],
        ['shape', int64Tensor('shape', [2], [0, -1])],
        ['fc', floatTensor('fc', [10, 512], new Float32Array(5120))],
      ]),
      nodes: [
        makeNode('Conv', ['x', 'w'], ['c'], 'conv', { pads: attr.ints([1, 1, 1, 1]), strides: attr.ints([2, 2]) }),
        makeNode('MaxPool', ['c'], ['p'], 'pool', { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }),
        makeNode('Reshape', ['p', 'shape'], ['r'], 'reshape'),
        makeNode('Gemm', ['r', 'fc'], ['y'], 'fc', { transB: attr.int(1) }),
        makeNode('Shape', ['c'], ['s'], 'shape_of'),
        makeNode('Equal', ['y', 'y'], ['eq'], 'eq'),
      ],
    },
  };
}

describe('type and shape inference', () => {
  it('propagates shapes through conv, pool, reshape and gemm with a concrete batch', () => {
    const types = inferTensorTypes(cnn(), { inputShapes: { x: [4, 3, 32, 32] } });
    expect(types.get('c')?.shape).toEqual([4, 8, 16, 16]);
    expect(types.get('p')?.shape).toEqual([4, 8, 8, 8]);
    expect(types.get('r')?.shape).toEqual([4, 512]);
    expect(types.get('y')?.shape).toEqual([4, 10]);
    expect(types.get('s')).toEqual({ elemType: DataType.INT64, shape: [4] });
    expect(types.get('eq')?.elemType).toBe(DataType.BOOL);
  });

  it('keeps symbolic dims symbolic', () => {
    const types = inferTensorTypes(cnn());
    expect(types.get('c')?.shape).toEqual(['n', 8, 16, 16]);
  });

  it('broadcasts numpy-style', () => {
    expect(broadcastShapes([[4, 1, 3], [5, 1]])).toEqual([4, 5, 3]);
    expect(broadcastShapes([[2], null])).toBeNull();
  });
});
