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

describe('types of ops whose outputs are not their first input\'s type', () => {
  const model = (nodes: OnnxModel['graph']['nodes'], extraInputs: OnnxModel['graph']['inputs'] = []): OnnxModel => {
    const m = cnn();
    m.graph.nodes = nodes;
    m.graph.inputs = [{ name: 'f', type: { elemType: DataType.FLOAT, shape: [6] } }, ...extraInputs];
    return m;
  };
  it('Unique: values keep their type, indices and counts are int64', () => {
    const types = inferTensorTypes(model([makeNode('Unique', ['f'], ['u', 'idx', 'inv', 'cnt'], 'unique')]));
    expect(['u', 'idx', 'inv', 'cnt'].map((n) => types.get(n)?.elemType)).toEqual([DataType.FLOAT, DataType.INT64, DataType.INT64, DataType.INT64]);
  });
  it('OneHot: the type of its values input', () => {
    const types = inferTensorTypes(
      model([makeNode('OneHot', ['i', 'depth', 'vals'], ['oh'], 'onehot')], [
        { name: 'i', type: { elemType: DataType.INT64, shape: [4] } },
        { name: 'depth', type: { elemType: DataType.INT64, shape: [] } },
        { name: 'vals', type: { elemType: DataType.FLOAT, shape: [2] } },
      ]),
    );
    expect(types.get('oh')?.elemType).toBe(DataType.FLOAT);
  });
  it('sequence ops: not tensors (element type 0), SequenceLength an int64 scalar', () => {
    const types = inferTensorTypes(model([makeNode('SequenceConstruct', ['f', 'f'], ['seq'], 'sc'), makeNode('SequenceLength', ['seq'], ['len'], 'sl'), makeNode('SequenceAt', ['seq', 'len'], ['at'], 'sa')]));
    expect(types.get('seq')?.elemType).toBe(0);
    expect(types.get('len')).toEqual({ elemType: DataType.INT64, shape: [] });
    expect(types.get('at')?.elemType).toBe(0);
  });
  it('If: the then-branch\'s declared output types, not the condition\'s bool', () => {
    const branch = { name: 'b', nodes: [], inputs: [], outputs: [{ name: 'f', type: { elemType: DataType.FLOAT, shape: [6] } }], valueInfo: [], initializers: new Map() };
    const types = inferTensorTypes(
      model([makeNode('If', ['c'], ['out'], 'if', { then_branch: { type: 'graph', value: branch }, else_branch: { type: 'graph', value: branch } })], [{ name: 'c', type: { elemType: DataType.BOOL, shape: [] } }]),
    );
    expect(types.get('out')?.elemType).toBe(DataType.FLOAT);
  });
});
