import { describe, expect, it } from 'vitest';
import { matMulHeadsAsPointwiseConv, pointwiseHeadAsMatMul } from '../../../src/compress/pointwise-head-as-matmul.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { cloneModel, type OnnxModel } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { model as modelOf } from '../../unit/profile/profile-test-models.js';

const C = 6;

interface HeadCase {
  /** Attributes of the head Conv `a` (1×1 unless kernel is given). */
  kernel?: number;
  strides?: number[];
  perm?: number[];
  /** A second reader of a's output besides the Transpose. */
  secondReader?: boolean;
}

/**
 * x [1, 6, 5, 7] → 3×3 Conv → Relu → two heads, as tf2onnx writes BlazeFace's: `a` (1×1 Conv 6 → 4 with bias) →
 * Transpose to NHWC → Reshape [1, −1, 2] → ya; `b` (1×1 Conv 6 → 3, no bias) → Transpose to NHWC → yb.
 */
function model(c: HeadCase = {}): OnnxModel {
  const k = c.kernel ?? 1;
  const values = (n: number, f: number): Float32Array => new Float32Array(n).map((_, i) => Math.sin(i * f) * 0.5);
  const nodes = [
    makeNode('Conv', ['x', 'w0', 'b0'], ['t'], 'trunk', { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }),
    makeNode('Relu', ['t'], ['r'], 'relu'),
    makeNode('Conv', ['r', 'wa', 'ba'], ['ha'], 'a', { kernel_shape: attr.ints([k, k]), ...(c.strides ? { strides: attr.ints(c.strides) } : {}) }),
    makeNode('Transpose', ['ha'], ['ta'], 'a_nhwc', { perm: attr.ints(c.perm ?? [0, 2, 3, 1]) }),
    makeNode('Reshape', ['ta', 'shape'], ['ya'], 'a_reshape'),
    makeNode('Conv', ['r', 'wb'], ['hb'], 'b', { kernel_shape: attr.ints([1, 1]) }),
    makeNode('Transpose', ['hb'], ['yb'], 'b_nhwc', { perm: attr.ints([0, 2, 3, 1]) }),
  ];
  if (c.secondReader) nodes.push(makeNode('Relu', ['ha'], ['ra'], 'a_relu'));
  return modelOf({
    inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [1, C, 5, 7] } }],
    outputs: ['ya', 'yb', ...(c.secondReader ? ['ra'] : [])].map((name) => ({ name, type: { elemType: DataType.FLOAT, shape: null } })),
    initializers: new Map([
      ['w0', floatTensor('w0', [C, C, 3, 3], values(C * C * 9, 0.37))],
      ['b0', floatTensor('b0', [C], values(C, 1.3))],
      ['wa', floatTensor('wa', [4, C, k, k], values(4 * C * k * k, 0.91))],
      ['ba', floatTensor('ba', [4], [0.1, -0.2, 0.3, -0.4])],
      ['wb', floatTensor('wb', [3, C, 1, 1], values(3 * C, 0.53))],
      ['shape', { name: 'shape', dataType: DataType.INT64, dims: [3], values: new BigInt64Array([1n, -1n, 2n]) }],
    ]),
    nodes,
  });
}

async function run(m: OnnxModel): Promise<Map<string, Float32Array>> {
  const runner = await createInferenceRunner(encodeModel(m));
  try {
    const x = floatTensor('x', [1, C, 5, 7], new Float32Array(C * 35).map((_, i) => Math.cos(i * 0.71) * 1.5));
    const out = await runner.run({ x });
    return new Map([...out].map(([name, t]) => [name, t.values as Float32Array]));
  } finally {
    await runner.release();
  }
}

describe('a float head 1×1 Conv before a channels-last Transpose as Transpose + MatMul', () => {
  it('gives the same outputs in onnxruntime, with and without a bias', async () => {
    const original = model();
    const rewritten = cloneModel(original);
    expect(pointwiseHeadAsMatMul(rewritten.graph, new Set(['a', 'b']))).toEqual(['a', 'b']);
    const ops = rewritten.graph.nodes.map((n) => n.opType);
    expect(ops.filter((op) => op === 'Conv')).toHaveLength(1); // the trunk
    expect(ops.filter((op) => op === 'MatMul')).toHaveLength(2);
    expect(ops.filter((op) => op === 'Add')).toHaveLength(1); // a's bias; b has none
    expect(ops.filter((op) => op === 'Transpose')).toHaveLength(1); // both heads read one channels-last copy of r
    expect(rewritten.graph.initializers.has('wa')).toBe(false); // the Conv weights are gone, not stored twice
    const before = await run(original);
    const after = await run(rewritten);
    for (const name of ['ya', 'yb']) {
      const a = before.get(name)!;
      const b = after.get(name)!;
      expect(b.length, name).toBe(a.length);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${name}[${i}]`).toBeLessThan(1e-5);
    }
  });

  it('rewrites only the Convs it is given (the int8 pass passes its float head layers)', () => {
    const m = model();
    expect(pointwiseHeadAsMatMul(m.graph, new Set(['b']))).toEqual(['b']);
    expect(m.graph.nodes.find((n) => n.name === 'a')?.opType).toBe('Conv');
  });

  it.each<[string, HeadCase]>([
    ['a 3×3 kernel', { kernel: 3 }],
    ['stride 2', { strides: [2, 2] }],
    ['a Transpose that is not NCHW → NHWC', { perm: [0, 3, 2, 1] }],
    ['a second reader of the Conv output', { secondReader: true }],
  ])('leaves it alone: %s', (_, c) => {
    const m = model(c);
    expect(pointwiseHeadAsMatMul(m.graph, new Set(['a']))).toEqual([]);
    expect(m.graph.nodes.find((n) => n.name === 'a')?.opType).toBe('Conv');
  });

  it('is undone for a head refit: the reference model\'s Conv comes back, with its names, through the int8 pass\'s Q/DQ pair', async () => {
    const original = model();
    const rewritten = cloneModel(original);
    pointwiseHeadAsMatMul(rewritten.graph, new Set(['a', 'b']));
    // what the int8 pass adds behind the shared-scale Transpose: Q → DQ with its input's parameters
    const g = rewritten.graph;
    const transpose = g.nodes.find((n) => n.opType === 'Transpose')!;
    const xT = transpose.outputs[0]!;
    g.initializers.set('s', floatTensor('s', [], [0.02]));
    g.initializers.set('z', { name: 'z', dataType: DataType.UINT8, dims: [], values: new Uint8Array([0]) });
    for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === xT ? 'xT_dq' : i));
    g.nodes.splice(g.nodes.indexOf(transpose) + 1, 0, makeNode('QuantizeLinear', [xT, 's', 'z'], ['xT_q'], 'q'), makeNode('DequantizeLinear', ['xT_q', 's', 'z'], ['xT_dq'], 'dq'));
    const restored = matMulHeadsAsPointwiseConv(g, original.graph);
    expect(restored.sort()).toEqual(['a', 'b']);
    expect(g.nodes.map((n) => n.opType).sort()).toEqual(['Conv', 'Conv', 'Conv', 'Relu', 'Reshape', 'Transpose', 'Transpose']);
    expect(g.nodes.find((n) => n.name === 'a')?.outputs).toEqual(['ha']);
    expect(g.nodes.find((n) => n.name === 'b')?.outputs).toEqual(['hb']);
    const before = await run(original);
    const after = await run(rewritten);
    for (const name of ['ya', 'yb']) {
      const a = before.get(name)!;
      const b = after.get(name)!;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${name}[${i}]`).toBeLessThan(1e-5);
    }
  });

  it('leaves a MatMul alone that the reference does not write as a channels-last 1×1 Conv', () => {
    const original = model();
    const rewritten = cloneModel(original);
    pointwiseHeadAsMatMul(rewritten.graph, new Set(['a']));
    const reference = model({ perm: [0, 3, 2, 1] });
    expect(matMulHeadsAsPointwiseConv(rewritten.graph, reference.graph)).toEqual([]);
    expect(rewritten.graph.nodes.some((n) => n.opType === 'MatMul')).toBe(true);
  });
});
