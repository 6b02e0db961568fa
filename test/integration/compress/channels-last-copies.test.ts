import { describe, expect, it } from 'vitest';
import { channelsLastCopies } from '../../../src/compress/channels-last-copies.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { cloneModel, type OnnxModel } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';

interface Case {
  scales: [number, number];
  coordinates: string;
  rounding: string;
  mode?: string;
  /** zero point of the Q after the Resize (the one before uses 128) */
  outZeroPoint?: number;
  sizes?: boolean;
}

const H = 5;
const W = 7;
const C = 3;

/** x → Q → DQ → Resize → Q → DQ → y, as the int8 pass writes a nearest upsampling between two quantized ops. */
function model(c: Case): OnnxModel {
  const [sh, sw] = c.scales;
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
      inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [2, C, H, W] } }],
      outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: null } }],
      valueInfo: [],
      initializers: new Map([
        ['s', floatTensor('s', [], [0.05])],
        ['z', makeTensor('z', DataType.UINT8, [], [128])],
        ['z_out', makeTensor('z_out', DataType.UINT8, [], [c.outZeroPoint ?? 128])],
        ['scales', floatTensor('scales', [4], [1, 1, sh, sw])],
        ['sizes', makeTensor('sizes', DataType.INT64, [4], [2, C, H * sh, W * sw])],
      ]),
      nodes: [
        makeNode('QuantizeLinear', ['x', 's', 'z'], ['xq'], 'q_in'),
        makeNode('DequantizeLinear', ['xq', 's', 'z'], ['xf'], 'dq_in'),
        makeNode('Resize', c.sizes ? ['xf', '', '', 'sizes'] : ['xf', '', 'scales'], ['r'], 'resize', {
          mode: attr.string(c.mode ?? 'nearest'),
          coordinate_transformation_mode: attr.string(c.coordinates),
          nearest_mode: attr.string(c.rounding),
        }),
        makeNode('QuantizeLinear', ['r', 's', 'z_out'], ['rq'], 'q_out'),
        makeNode('DequantizeLinear', ['rq', 's', 'z_out'], ['y'], 'dq_out'),
      ],
    },
  };
}

async function run(m: OnnxModel): Promise<Float32Array> {
  const runner = await createInferenceRunner(encodeModel(m));
  try {
    const x = floatTensor('x', [2, C, H, W], new Float32Array(2 * C * H * W).map((_, i) => Math.sin(i * 0.913) * 6));
    return (await runner.run({ x })).get('y')!.values as Float32Array;
  } finally {
    await runner.release();
  }
}

describe('8-bit nearest Resize as channels-last copies (channelsLastCopies)', () => {
  it.each<Case>([
    { scales: [2, 2], coordinates: 'asymmetric', rounding: 'floor' },
    { scales: [4, 4], coordinates: 'asymmetric', rounding: 'floor' },
    { scales: [3, 2], coordinates: 'half_pixel', rounding: 'round_prefer_floor' },
    { scales: [1, 4], coordinates: 'pytorch_half_pixel', rounding: 'round_prefer_ceil' },
    { scales: [8, 1], coordinates: 'half_pixel', rounding: 'round_prefer_ceil' },
  ])('is bit-exact in onnxruntime: ×$scales, $coordinates, $rounding', async (c) => {
    const original = model(c);
    const rewritten = cloneModel(original);
    expect(channelsLastCopies(rewritten.graph)).toEqual({ resizes: ['resize'], depthToSpaces: [] });
    expect(rewritten.graph.nodes.some((n) => n.opType === 'Resize')).toBe(false);
    const a = await run(original);
    const b = await run(rewritten);
    expect(a.length).toBe(2 * C * H * c.scales[0] * W * c.scales[1]);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it.each<[string, Case]>([
    ['asymmetric with round_prefer_floor (×4: source 0.75 rounds to 1, not floor 0)', { scales: [4, 4], coordinates: 'asymmetric', rounding: 'round_prefer_floor' }],
    ['align_corners', { scales: [2, 2], coordinates: 'align_corners', rounding: 'floor' }],
    ['linear', { scales: [2, 2], coordinates: 'asymmetric', rounding: 'floor', mode: 'linear' }],
    ['different Q parameters on the two sides', { scales: [2, 2], coordinates: 'asymmetric', rounding: 'floor', outZeroPoint: 120 }],
    ['sizes instead of scales', { scales: [2, 2], coordinates: 'asymmetric', rounding: 'floor', sizes: true }],
  ])('leaves it alone: %s', async (_, c) => {
    const m = model(c);
    expect(channelsLastCopies(m.graph).resizes).toEqual([]);
    expect(m.graph.nodes.map((n) => n.opType)).toContain('Resize');
  });

  it('the case it refuses is indeed not floor(y / s): asymmetric round_prefer_floor ×4 differs from the copies', async () => {
    // the rewrite forced onto it (by renaming the rounding) gives another output: the guard is needed
    const refused = model({ scales: [4, 4], coordinates: 'asymmetric', rounding: 'round_prefer_floor' });
    const forced = cloneModel(refused);
    forced.graph.nodes[2]!.attributes.set('nearest_mode', attr.string('floor'));
    expect(channelsLastCopies(forced.graph).resizes).toHaveLength(1);
    expect(Array.from(await run(forced))).not.toEqual(Array.from(await run(refused)));
  });
});

/** x [2, bs²·C, H, W] → Q → DQ → DepthToSpace → Q → DQ → y. */
function depthToSpaceModel(bs: number, mode: string): OnnxModel {
  const m = model({ scales: [2, 2], coordinates: 'asymmetric', rounding: 'floor' });
  m.graph.inputs = [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [2, bs * bs * C, H, W] } }];
  m.graph.nodes[2] = makeNode('DepthToSpace', ['xf'], ['r'], 'd2s', { blocksize: attr.int(bs), mode: attr.string(mode) });
  return m;
}

async function runDepthToSpace(m: OnnxModel, bs: number): Promise<Float32Array> {
  const runner = await createInferenceRunner(encodeModel(m));
  try {
    const n = 2 * bs * bs * C * H * W;
    const x = floatTensor('x', [2, bs * bs * C, H, W], new Float32Array(n).map((_, i) => Math.sin(i * 0.913) * 6));
    return (await runner.run({ x })).get('y')!.values as Float32Array;
  } finally {
    await runner.release();
  }
}

describe('8-bit DepthToSpace (DCR) as channels-last copies (channelsLastCopies)', () => {
  it.each([2, 3])('is bit-exact in onnxruntime: blocksize %i', async (bs) => {
    const original = depthToSpaceModel(bs, 'DCR');
    const rewritten = cloneModel(original);
    expect(channelsLastCopies(rewritten.graph)).toEqual({ resizes: [], depthToSpaces: ['d2s'] });
    expect(rewritten.graph.nodes.some((n) => n.opType === 'DepthToSpace')).toBe(false);
    const a = await runDepthToSpace(original, bs);
    const b = await runDepthToSpace(rewritten, bs);
    expect(a.length).toBe(2 * C * H * bs * W * bs);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('leaves CRD mode alone (its channels-last form is not a single-axis move)', () => {
    const m = depthToSpaceModel(2, 'CRD');
    expect(channelsLastCopies(m.graph).depthToSpaces).toEqual([]);
    expect(m.graph.nodes.map((n) => n.opType)).toContain('DepthToSpace');
  });
});
