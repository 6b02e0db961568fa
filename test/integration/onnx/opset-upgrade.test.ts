import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { upgradeOpset } from '../../../src/onnx/normalize.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { cloneModel, defaultOpset, type OnnxModel } from '../../../src/onnx/ir.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { EdgetuneError } from '../../../src/util/errors.js';

/** An opset-9 model using every op whose signature changed between 9 and 13. */
function opset9Model(): OnnxModel {
  const f = DataType.FLOAT;
  return {
    irVersion: 4,
    opsetImports: [{ domain: '', version: 9 }],
    producerName: 'test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'old',
      inputs: [{ name: 'x', type: { elemType: f, shape: [2, 4, 6] } }],
      outputs: [
        { name: 'y', type: { elemType: f, shape: null } },
        { name: 'z', type: { elemType: f, shape: null } },
        { name: 'u', type: { elemType: f, shape: null } },
      ],
      valueInfo: [],
      initializers: new Map([['scales', floatTensor('scales', [4], [1, 1, 2, 2])]]),
      nodes: [
        makeNode('Clip', ['x'], ['c'], 'clip', { min: attr.float(-0.5), max: attr.float(0.75) }),
        makeNode('Unsqueeze', ['c'], ['u4'], 'unsq', { axes: attr.ints([1]) }),
        makeNode('Upsample', ['u4', 'scales'], ['up'], 'up', { mode: attr.string('nearest') }),
        makeNode('Squeeze', ['up'], ['sq'], 'sq', { axes: attr.ints([1]) }),
        makeNode('Slice', ['sq'], ['sl'], 'slice', { starts: attr.ints([1]), ends: attr.ints([7]), axes: attr.ints([1]) }),
        makeNode('Pad', ['sl'], ['pd'], 'pad', { pads: attr.ints([0, 1, 0, 0, 1, 0]), value: attr.float(0.25) }),
        makeNode('Dropout', ['pd'], ['dr'], 'drop', { ratio: attr.float(0.5) }),
        makeNode('Split', ['dr'], ['s1', 's2'], 'split', { axis: attr.int(2), split: attr.ints([4, 8]) }),
        makeNode('ReduceSum', ['s2'], ['rs'], 'rsum', { axes: attr.ints([2]), keepdims: attr.int(0) }),
        makeNode('Softmax', ['rs'], ['y'], 'softmax', { axis: attr.int(1) }),
        makeNode('Flatten', ['s1'], ['z'], 'flat', { axis: attr.int(1) }),
        makeNode('Identity', ['c'], ['u'], 'id'),
      ],
    },
  };
}

async function runAll(model: OnnxModel): Promise<Map<string, Float32Array>> {
  const runner = await createInferenceRunner(encodeModel(model));
  try {
    const x = new Float32Array(48).map((_, i) => Math.sin(i));
    const out = await runner.run({ x: floatTensor('x', [2, 4, 6], x) });
    return new Map([...out].map(([k, v]) => [k, v.values as Float32Array]));
  } finally {
    await runner.release();
  }
}

describe('opset upgrade', () => {
  it('converts Clip, Squeeze/Unsqueeze, Upsample, Slice, Pad, Dropout, Split, ReduceSum and Softmax from 9 to 13 with equal outputs', async () => {
    const old = opset9Model();
    const upgraded = cloneModel(old);
    const converted = upgradeOpset(upgraded, 13);
    expect(defaultOpset(upgraded)).toBe(13);
    expect(converted.length).toBeGreaterThanOrEqual(10);
    expect(upgraded.graph.nodes.find((n) => n.name === 'up')!.opType).toBe('Resize');
    const a = await runAll(old);
    const b = await runAll(upgraded);
    for (const [name, values] of a) {
      const other = b.get(name)!;
      expect(other.length, name).toBe(values.length);
      for (let i = 0; i < values.length; i++) expect(Math.abs(other[i]! - values[i]!), `${name}[${i}]`).toBeLessThan(1e-6);
    }
  });

  it('refuses a Softmax whose opset-13 meaning would differ, naming the op', () => {
    const m = opset9Model();
    m.graph.nodes.push(makeNode('Softmax', ['sq'], ['bad'], 'softmax3d', { axis: attr.int(1) }));
    m.graph.outputs.push({ name: 'bad', type: { elemType: DataType.FLOAT, shape: null } });
    expect(() => upgradeOpset(m, 13)).toThrowError(EdgetuneError);
    expect(() => upgradeOpset(opset9WithSoftmax3d(), 13)).toThrow(/Softmax 'softmax3d'/);
  });
});

function opset9WithSoftmax3d(): OnnxModel {
  const m = opset9Model();
  m.graph.nodes.push(makeNode('Softmax', ['sq'], ['bad'], 'softmax3d', { axis: attr.int(1) }));
  m.graph.outputs.push({ name: 'bad', type: { elemType: DataType.FLOAT, shape: null } });
  return m;
}
