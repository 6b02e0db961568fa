import { describe, expect, it } from 'vitest';
import { decodeModel, decodeTensor, encodeModel, encodeTensor } from '../../../src/onnx/model-codec.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { makeTensor, floatTensor, int64Tensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { attr, makeNode, topologicalSort, validateGraph } from '../../../src/onnx/graph.js';
import type { OnnxModel } from '../../../src/onnx/ir.js';
import { EdgetuneError } from '../../../src/util/errors.js';

/** A two-node model: y = Relu(x + bias). */
export function tinyModel(): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'g',
      nodes: [makeNode('Add', ['x', 'bias'], ['s'], 'add'), makeNode('Relu', ['s'], ['y'], 'relu')],
      inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: ['batch', 4] } }],
      outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: ['batch', 4] } }],
      valueInfo: [],
      initializers: new Map([['bias', floatTensor('bias', [4], [1, -2, 3, -4])]]),
    },
  };
}

describe('model codec', () => {
  it('round-trips a model through the IR', () => {
    const bytes = encodeModel(tinyModel());
    const back = decodeModel(bytes);
    expect(back.graph.nodes.map((n) => n.opType)).toEqual(['Add', 'Relu']);
    expect(back.graph.inputs[0]!.type!.shape).toEqual(['batch', 4]);
    expect(Array.from(tensorToFloat32(back.graph.initializers.get('bias')!))).toEqual([1, -2, 3, -4]);
    expect(Buffer.compare(Buffer.from(encodeModel(back)), Buffer.from(bytes))).toBe(0);
  });

  it('round-trips tensors of every common dtype', () => {
    const cases = [
      makeTensor('f16', DataType.FLOAT16, [3], [1, -2, 0.5]),
      makeTensor('i8', DataType.INT8, [3], new Int8Array([-128, 0, 127])),
      makeTensor('u8', DataType.UINT8, [2], new Uint8Array([0, 255])),
      makeTensor('i32', DataType.INT32, [2], new Int32Array([-5, 7])),
      int64Tensor('i64', [2], [-9, 2 ** 40]),
      makeTensor('b', DataType.BOOL, [2], new Uint8Array([1, 0])),
      makeTensor('bf', DataType.BFLOAT16, [1], new Uint16Array([0x3fc0])),
      makeTensor('i4', DataType.INT4, [3], new Int8Array([-8, 7, -1])),
      makeTensor('u4', DataType.UINT4, [3], new Uint8Array([0, 15, 9])),
      makeTensor('f64', DataType.DOUBLE, [1], new Float64Array([Math.PI])),
    ];
    for (const t of cases) {
      const back = decodeTensor(encodeTensor(t));
      expect(back.dataType).toBe(t.dataType);
      expect(back.dims).toEqual(t.dims);
      expect(Array.from(back.values as ArrayLike<unknown>)).toEqual(Array.from(t.values as ArrayLike<unknown>));
    }
  });

  it('packs int4 two per byte, first element in the low nibble', () => {
    const bytes = encodeTensor(makeTensor('i4', DataType.INT4, [2], new Int8Array([1, -2])));
    // raw_data field: tag 0x4a, length 1, byte 0xE1 (low nibble 1, high nibble 0xE = -2).
    expect(Array.from(bytes)).toContain(0xe1);
  });

  it('rejects bytes that are not a model, naming the problem', () => {
    expect(() => decodeModel(new TextEncoder().encode('this is not onnx'))).toThrowError(EdgetuneError);
    expect(() => decodeModel(encodeModel(tinyModel()).subarray(0, 20))).toThrow(/not a valid ONNX model|truncated|invalid|index out of range/);
  });

  it('rejects raw data whose size does not match the shape', () => {
    const t = floatTensor('w', [4], [1, 2, 3, 4]);
    t.dims = [5];
    expect(() => decodeTensor(encodeTensor(t))).toThrow(/raw_data has 16 bytes/);
  });

  it('finds missing tensors and cycles', () => {
    const missing = tinyModel();
    missing.graph.nodes[1]!.inputs = ['nowhere'];
    expect(() => validateGraph(missing)).toThrow(/reads 'nowhere'/);
    const cyclic = tinyModel();
    cyclic.graph.nodes[0]!.inputs = ['x', 'y'];
    expect(() => topologicalSort(cyclic.graph)).toThrow(/cycle/);
  });

  it('keeps attributes of every kind', () => {
    const m = tinyModel();
    m.graph.nodes[0]!.attributes.set('i', attr.int(3));
    m.graph.nodes[0]!.attributes.set('f', attr.float(0.25));
    m.graph.nodes[0]!.attributes.set('s', attr.string('héllo'));
    m.graph.nodes[0]!.attributes.set('is', attr.ints([1, -2]));
    m.graph.nodes[0]!.attributes.set('t', attr.tensor(floatTensor('t', [1], [5])));
    const back = decodeModel(encodeModel(m)).graph.nodes[0]!.attributes;
    expect(back.get('i')).toEqual({ type: 'int', value: 3 });
    expect(back.get('f')).toEqual({ type: 'float', value: 0.25 });
    expect(back.get('s')).toEqual({ type: 'string', value: 'héllo' });
    expect(back.get('is')).toEqual({ type: 'ints', value: [1, -2] });
    expect(back.get('t')?.type).toBe('tensor');
  });
});
