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

/** An opset-1/6 graph with the legacy forms (ORT 1.30 has no kernel for Add-6 etc., so results are checked by hand). */
function legacyModel(opset: number, nodes: OnnxModel['graph']['nodes'], inputs: Array<[string, number[]]>, outputs: string[], initializers: Array<[string, number[], number[]]> = []): OnnxModel {
  const f = DataType.FLOAT;
  return {
    irVersion: 3,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'legacy',
      inputs: inputs.map(([name, shape]) => ({ name, type: { elemType: f, shape } })),
      outputs: outputs.map((name) => ({ name, type: { elemType: f, shape: null } })),
      valueInfo: [],
      initializers: new Map(initializers.map(([name, dims, values]) => [name, floatTensor(name, dims, values)])),
      nodes,
    },
  };
}

async function runUpgraded(model: OnnxModel, feeds: Record<string, [number[], number[]]>): Promise<Map<string, { dims: number[]; values: number[] }>> {
  const runner = await createInferenceRunner(encodeModel(model));
  try {
    const out = await runner.run(Object.fromEntries(Object.entries(feeds).map(([k, [dims, v]]) => [k, floatTensor(k, dims, v)])));
    return new Map([...out].map(([k, v]) => [k, { dims: v.dims, values: Array.from(v.values as Float32Array) }]));
  } finally {
    await runner.release();
  }
}

describe('opset 1–6 upgrade', () => {
  const x = Array.from({ length: 24 }, (_, i) => i - 12); // [2,3,4]

  it('turns broadcast=1 axis=1 on a constant and on a computed operand into numpy broadcasting, with the legacy results', async () => {
    const model = legacyModel(
      6,
      [
        makeNode('Add', ['x', 'b'], ['added'], 'add', { broadcast: attr.int(1), axis: attr.int(1) }),
        makeNode('Neg', ['v'], ['nv'], 'neg'),
        makeNode('Mul', ['added', 'nv'], ['y'], 'mul', { broadcast: attr.int(1), axis: attr.int(1) }),
        makeNode('Sub', ['y', 'last'], ['z'], 'sub', { broadcast: attr.int(1) }),
      ],
      [['x', [2, 3, 4]], ['v', [3]]],
      ['z'],
      [['b', [3], [10, 20, 30]], ['last', [4], [1, 2, 3, 4]]],
    );
    const converted = upgradeOpset(model, 13);
    expect(converted).toEqual(expect.arrayContaining(["Add 'add'", "Mul 'mul'", "Sub 'sub'"]));
    const v = [2, -1, 0.5];
    const out = (await runUpgraded(model, { x: [[2, 3, 4], x], v: [[3], v] })).get('z')!;
    expect(out.dims).toEqual([2, 3, 4]);
    // Legacy semantics by hand: b and v are aligned with axis 1, `last` with the trailing axis.
    const want = x.map((value, i) => {
      const c = Math.floor(i / 4) % 3;
      return (value + [10, 20, 30][c]!) * -v[c]! - [1, 2, 3, 4][i % 4]!;
    });
    expect(out.values).toEqual(want);
  });

  it('converts opset-1 Cast by name, Concat without axis, Reshape by attribute and drops consumed_inputs', async () => {
    const model = legacyModel(
      1,
      [
        makeNode('Relu', ['x'], ['r'], 'relu', { consumed_inputs: attr.ints([0]) }),
        makeNode('Concat', ['r', 'x'], ['cat'], 'concat'),
        makeNode('Reshape', ['cat'], ['flat'], 'reshape', { shape: attr.ints([2, 24]) }),
        makeNode('Cast', ['flat'], ['y'], 'cast', { to: attr.string('FLOAT') }),
      ],
      [['x', [2, 3, 4]]],
      ['y'],
    );
    upgradeOpset(model, 13);
    const out = (await runUpgraded(model, { x: [[2, 3, 4], x] })).get('y')!;
    expect(out.dims).toEqual([2, 24]);
    // Concat on axis 1 (the opset-1 default): per batch row, relu(x) then x.
    expect(out.values.slice(0, 24)).toEqual([...x.slice(0, 12).map((t) => Math.max(0, t)), ...x.slice(0, 12)]);
  });

  it('refuses what it does not convert, naming the node: PRelu before opset 7', () => {
    const model = legacyModel(6, [makeNode('PRelu', ['x', 'slope'], ['y'], 'prelu')], [['x', [2, 3, 4]]], ['y'], [['slope', [3], [0.1, 0.2, 0.3]]]);
    expect(() => upgradeOpset(model, 13)).toThrow(/PRelu 'prelu': cannot upgrade from opset 6/);
  });
});
