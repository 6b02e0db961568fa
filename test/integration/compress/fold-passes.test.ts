import { describe, expect, it } from 'vitest';
import { foldConvAffine } from '../../../src/compress/fold-affine.js';
import { fuseHardSwish } from '../../../src/compress/fuse-activations.js';
import { foldBatchNorm } from '../../../src/compress/fold-batchnorm.js';
import { foldPadIntoConv } from '../../../src/compress/fold-pad.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { cloneModel, type OnnxModel } from '../../../src/onnx/ir.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';

/** Conv → BN → Mul(scalar) → Add([C,1,1]) → hard-swish written out as x·Clip(x+3,0,6)/6. */
function model(): OnnxModel {
  const c = 4;
  const w = new Float32Array(c * 3 * 9).map((_, i) => Math.sin(i) * 0.3);
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
      inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [1, 3, 8, 8] } }],
      outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: null } }],
      valueInfo: [],
      initializers: new Map([
        ['w', floatTensor('w', [c, 3, 3, 3], w)],
        ['gamma', floatTensor('gamma', [c], [1.5, 0.5, 2, 1])],
        ['beta', floatTensor('beta', [c], [0.1, -0.2, 0.3, 0])],
        ['mean', floatTensor('mean', [c], [0.05, -0.1, 0, 0.2])],
        ['var', floatTensor('var', [c], [1, 2, 0.5, 1.5])],
        ['a', floatTensor('a', [1], [0.7])],
        ['b', floatTensor('b', [c, 1, 1], [0.5, -0.5, 1, 0])],
        ['three', floatTensor('three', [], [3])],
        ['zero', floatTensor('zero', [], [0])],
        ['six', floatTensor('six', [], [6])],
      ]),
      nodes: [
        makeNode('Conv', ['x', 'w'], ['c'], 'conv', { pads: attr.ints([1, 1, 1, 1]) }),
        makeNode('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['bn'], 'bn'),
        makeNode('Mul', ['a', 'bn'], ['m'], 'lab_mul'),
        makeNode('Add', ['m', 'b'], ['s'], 'lab_add'),
        makeNode('Add', ['s', 'three'], ['s3'], 'hs_add'),
        makeNode('Clip', ['s3', 'zero', 'six'], ['clip'], 'hs_clip'),
        makeNode('Mul', ['s', 'clip'], ['prod'], 'hs_mul'),
        makeNode('Div', ['prod', 'six'], ['y'], 'hs_div'),
      ],
    },
  };
}

async function run(m: OnnxModel): Promise<Float32Array> {
  const runner = await createInferenceRunner(encodeModel(m));
  try {
    const x = floatTensor('x', [1, 3, 8, 8], new Float32Array(192).map((_, i) => Math.cos(i * 0.7) * 2));
    return (await runner.run({ x })).get('y')!.values as Float32Array;
  } finally {
    await runner.release();
  }
}

describe('graph folds before int8 quantization', () => {
  it('BatchNorm, the affine Mul/Add and hard-swish fold into Conv + HardSwish with the same outputs', async () => {
    const original = model();
    const folded = cloneModel(original);
    expect(fuseHardSwish(folded)).toBe(1);
    expect(foldBatchNorm(folded.graph)).toEqual(['bn']);
    expect(foldConvAffine(folded.graph)).toBe(2);
    expect(folded.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'HardSwish']);
    const a = await run(original);
    const b = await run(folded);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
  });

  it('leaves an affine step alone when the Conv output has another reader', () => {
    const m = model();
    m.graph.outputs.push({ name: 'c', type: { elemType: DataType.FLOAT, shape: null } });
    m.graph.nodes.splice(1, 1); // drop BN: Mul reads the conv output directly...
    m.graph.nodes[1]!.inputs = ['a', 'c'];
    expect(foldConvAffine(m.graph)).toBe(0); // ...which is also a graph output
  });

  // PP-OCR det's head: ConvTranspose(k2, s2) → Add(bias [C,1,1]) → BatchNormalization, twice; onnxruntime fuses
  // neither into the ConvTranspose. Grouped and with output_padding too (the padded row sees only bias and BN).
  it.each([
    { group: 1, outputPadding: [0, 0] },
    { group: 2, outputPadding: [1, 0] },
  ])('Add and BatchNorm after a ConvTranspose fold into its weights and bias (group $group, output_padding $outputPadding)', async ({ group, outputPadding }) => {
    const cin = 4;
    const perGroup = 3;
    const cout = perGroup * group;
    const m = model();
    const g = m.graph;
    g.initializers = new Map([
      ['wt', floatTensor('wt', [cin, perGroup, 2, 2], new Float32Array(cin * perGroup * 4).map((_, i) => Math.sin(i * 1.3) * 0.4))],
      ['bias', floatTensor('bias', [cout, 1, 1], new Float32Array(cout).map((_, i) => 0.1 * i - 0.2))],
      ['gamma', floatTensor('gamma', [cout], new Float32Array(cout).map((_, i) => 0.5 + 0.25 * i))],
      ['beta', floatTensor('beta', [cout], new Float32Array(cout).map((_, i) => 0.3 - 0.1 * i))],
      ['mean', floatTensor('mean', [cout], new Float32Array(cout).map((_, i) => 0.05 * i))],
      ['var', floatTensor('var', [cout], new Float32Array(cout).map((_, i) => 1 + 0.5 * i))],
    ]);
    g.inputs = [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [1, cin, 8, 8] } }];
    g.nodes = [
      makeNode('ConvTranspose', ['x', 'wt'], ['ct'], 'ct', { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]), group: attr.int(group), output_padding: attr.ints(outputPadding) }),
      makeNode('Add', ['ct', 'bias'], ['ctb'], 'ct_bias'),
      makeNode('BatchNormalization', ['ctb', 'gamma', 'beta', 'mean', 'var'], ['y'], 'bn'),
    ];
    const folded = cloneModel(m);
    expect(foldConvAffine(folded.graph)).toBe(1);
    expect(foldBatchNorm(folded.graph)).toEqual(['bn']);
    expect(folded.graph.nodes.map((n) => n.opType)).toEqual(['ConvTranspose']);
    const input = floatTensor('x', [1, cin, 8, 8], new Float32Array(cin * 64).map((_, i) => Math.cos(i * 0.7) * 2));
    const outputOf = async (model: OnnxModel): Promise<Float32Array> => {
      const runner = await createInferenceRunner(encodeModel(model));
      try {
        return (await runner.run({ x: input })).get('y')!.values as Float32Array;
      } finally {
        await runner.release();
      }
    };
    const a = await outputOf(m);
    const b = await outputOf(folded);
    expect(b.length).toBe(a.length);
    expect(a.length).toBe(cout * (16 + outputPadding[0]!) * (16 + outputPadding[1]!));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
  });

  // tf2onnx's 'SAME' padding of a stride-2 conv: an explicit Pad (right and bottom only here) before a pads-0 Conv
  it.each([
    { name: 'asymmetric, one reader', pads: [0, 0, 0, 0, 0, 0, 1, 1], readers: 1, value: null as number | null, mode: 'constant' },
    { name: 'both sides, two readers, explicit zero value', pads: [0, 0, 1, 2, 0, 0, 2, 1], readers: 2, value: 0, mode: 'constant' },
    { name: "amounts reordered by Split + Concat, as tf2onnx writes them (M-LSD)", pads: [0, 0, 0, 0, 0, 0, 1, 1], readers: 1, value: null, mode: 'split' },
  ])('a zero Pad folds into the Convs that read it ($name)', async ({ pads, readers, value, mode }) => {
    const m = padModel(pads, readers, value, 'constant');
    if (mode === 'split') {
      // NHWC amounts [0, 0, 0, 0, 0, 1, 1, 0] split into eight and concatenated in NCHW order
      m.graph.initializers.set('pads_nhwc', makeTensor('pads_nhwc', DataType.INT64, [8], [0, 0, 0, 0, 0, 1, 1, 0]));
      m.graph.initializers.set('split_sizes', makeTensor('split_sizes', DataType.INT64, [8], new Array(8).fill(1)));
      const parts = Array.from({ length: 8 }, (_, i) => `part${i}`);
      m.graph.nodes.unshift(
        makeNode('Split', ['pads_nhwc', 'split_sizes'], parts, 'split', { axis: attr.int(0) }),
        makeNode('Concat', [0, 3, 1, 2, 4, 7, 5, 6].map((i) => parts[i]!), ['pads_nchw'], 'concat', { axis: attr.int(0) }),
      );
      m.graph.nodes[2]!.inputs[1] = 'pads_nchw';
      m.graph.initializers.delete('pads');
    }
    const folded = cloneModel(m);
    expect(foldPadIntoConv(folded.graph)).toEqual(['pad']);
    expect(folded.graph.nodes.map((n) => n.opType)).toEqual(readers === 1 ? ['Conv'] : ['Conv', 'Conv', 'Add']);
    const a = await runPad(m);
    const b = await runPad(folded);
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
  });

  it.each([
    ['reflect mode', [0, 0, 1, 1, 0, 0, 1, 1], 0, 'reflect'],
    ['a non-zero value', [0, 0, 1, 1, 0, 0, 1, 1], 0.5, 'constant'],
    ['padding the channel axis', [0, 1, 1, 1, 0, 0, 1, 1], 0, 'constant'],
  ] as const)('leaves a Pad alone: %s', (_, pads, value, mode) => {
    const m = padModel([...pads], 1, value, mode);
    expect(foldPadIntoConv(m.graph)).toEqual([]);
    expect(m.graph.nodes[0]!.opType).toBe('Pad');
  });
});

/** x [1, 3, 9, 9] → Pad → Conv 3×3 stride 2 (→ a second Conv and an Add when two readers). */
function padModel(pads: number[], readers: number, value: number | null, mode: string): OnnxModel {
  const m = model();
  const g = m.graph;
  g.inputs = [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [1, 3, 9, 9] } }];
  const cout = pads[1] === 0 ? 3 : 4;
  g.initializers = new Map([
    ['pads', makeTensor('pads', DataType.INT64, [8], pads)],
    ['value', floatTensor('value', [], [value ?? 0])],
    ['w1', floatTensor('w1', [2, cout, 3, 3], new Float32Array(2 * cout * 9).map((_, i) => Math.sin(i * 0.77) * 0.4))],
    ['w2', floatTensor('w2', [2, cout, 3, 3], new Float32Array(2 * cout * 9).map((_, i) => Math.cos(i * 0.51) * 0.4))],
  ]);
  g.nodes = [makeNode('Pad', value === null ? ['x', 'pads'] : ['x', 'pads', 'value'], ['p'], 'pad', { mode: attr.string(mode) })];
  const conv = (w: string, out: string, name: string): ReturnType<typeof makeNode> => makeNode('Conv', ['p', w], [out], name, { strides: attr.ints([2, 2]), pads: attr.ints([1, 0, 0, 1]) });
  if (readers === 1) g.nodes.push(conv('w1', 'y', 'c1'));
  else g.nodes.push(conv('w1', 'a', 'c1'), conv('w2', 'b', 'c2'), makeNode('Add', ['a', 'b'], ['y'], 'add'));
  return m;
}

async function runPad(m: OnnxModel): Promise<Float32Array> {
  const runner = await createInferenceRunner(encodeModel(m));
  try {
    const x = floatTensor('x', [1, 3, 9, 9], new Float32Array(243).map((_, i) => Math.cos(i * 0.7) * 2));
    return (await runner.run({ x })).get('y')!.values as Float32Array;
  } finally {
    await runner.release();
  }
}
