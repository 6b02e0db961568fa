import { describe, expect, it } from 'vitest';
import { convTransposeAsDepthToSpace } from '../../../src/compress/conv-transpose-as-conv.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { cloneModel, type OnnxModel } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';

interface Case {
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  group?: number;
  pads?: number[];
  after?: 'Relu' | 'Clip' | null;
}

/** x [1, cin, 5, 6] → ConvTranspose (with bias) → optional Relu/Clip → y. */
function model(c: Case): OnnxModel {
  const group = c.group ?? 1;
  const w = new Float32Array(c.cin * (c.cout / group) * c.kernel * c.kernel).map((_, i) => Math.sin(i * 0.37) * 0.5);
  const nodes = [
    makeNode('ConvTranspose', ['x', 'w', 'b'], [c.after ? 't' : 'y'], 'ct', {
      kernel_shape: attr.ints([c.kernel, c.kernel]),
      strides: attr.ints([c.stride, c.stride]),
      ...(group !== 1 ? { group: attr.int(group) } : {}),
      ...(c.pads ? { pads: attr.ints(c.pads) } : {}),
    }),
  ];
  if (c.after === 'Relu') nodes.push(makeNode('Relu', ['t'], ['y'], 'act'));
  if (c.after === 'Clip') nodes.push(makeNode('Clip', ['t', 'lo', 'hi'], ['y'], 'act'));
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
      inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [1, c.cin, 5, 6] } }],
      outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: null } }],
      valueInfo: [],
      initializers: new Map([
        ['w', floatTensor('w', [c.cin, c.cout / group, c.kernel, c.kernel], w)],
        ['b', floatTensor('b', [c.cout], new Float32Array(c.cout).map((_, i) => 0.1 * i - 0.3))],
        ['lo', floatTensor('lo', [], [0])],
        ['hi', floatTensor('hi', [], [0.8])],
      ]),
      nodes,
    },
  };
}

async function run(m: OnnxModel, cin: number): Promise<Float32Array> {
  const runner = await createInferenceRunner(encodeModel(m));
  try {
    const x = floatTensor('x', [1, cin, 5, 6], new Float32Array(cin * 30).map((_, i) => Math.cos(i * 0.71) * 1.5));
    return (await runner.run({ x })).get('y')!.values as Float32Array;
  } finally {
    await runner.release();
  }
}

describe('ConvTranspose (kernel = stride) as a 1×1 Conv + DepthToSpace', () => {
  it.each<Case>([
    { cin: 6, cout: 8, kernel: 2, stride: 2, after: 'Relu' },
    { cin: 3, cout: 2, kernel: 3, stride: 3, after: 'Clip' },
    { cin: 4, cout: 16, kernel: 2, stride: 2, after: null },
  ])('gives the same output in onnxruntime: $cin→$cout, k=s=$kernel, then $after', async (c) => {
    const original = model(c);
    const rewritten = cloneModel(original);
    const report = convTransposeAsDepthToSpace(rewritten.graph);
    expect(report.rewritten).toEqual(['ct']);
    expect(report.movedActivations).toBe(c.after ? 1 : 0);
    expect(rewritten.graph.nodes.map((n) => n.opType)).toEqual(c.after ? ['Conv', c.after, 'DepthToSpace'] : ['Conv', 'DepthToSpace']);
    const a = await run(original, c.cin);
    const b = await run(rewritten, c.cin);
    expect(b.length).toBe(a.length);
    expect(a.length).toBe(c.cout * 5 * c.stride * 6 * c.stride);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
  });

  it.each<[string, Case]>([
    ['kernel 3, stride 2 (blocks overlap)', { cin: 4, cout: 8, kernel: 3, stride: 2 }],
    ['group 2', { cin: 4, cout: 8, kernel: 2, stride: 2, group: 2 }],
    ['padded', { cin: 4, cout: 8, kernel: 2, stride: 2, pads: [1, 1, 0, 0] }],
    ['fewer than 16 Conv channels (24 → 1 at s = 2, as PP-OCR det\'s last upsampling: measured no faster)', { cin: 24, cout: 1, kernel: 2, stride: 2 }],
  ])('leaves it alone: %s', (_, c) => {
    const m = model(c);
    expect(convTransposeAsDepthToSpace(m.graph).rewritten).toEqual([]);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['ConvTranspose']);
  });
});
