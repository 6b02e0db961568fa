/**
 * Adaptive weight rounding on a real onnxruntime run: a Conv → Relu → depthwise edge filter (two large weights of
 * opposite sign, small ones around them, as a BatchNorm fold leaves them in MobileNet-style models) fed smooth images.
 * Fitted on one dataset, judged on other images: the output error of the int8-grid weights it chooses is below
 * nearest rounding's, and every weight it wrote is reproduced exactly by the quantizer's per-channel grid.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { roundWeightsAdaptively } from '../../../src/compress/adaptive-rounding.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { writeDataset } from '../../../src/compress/dataset-writer.js';
import { quantizeWeightPerChannel } from '../../../src/compress/quant-params.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { cloneModel, type OnnxModel } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { buildModel, randomWeight, seededFloats, tensorInfo } from '../../unit/compress/quantize-test-models.js';
import { tempDir } from '../cli/cli-helpers.js';

const C = 8;
const SIZE = 16;

function edgeFilterModel(): OnnxModel {
  // Depthwise filters: +a at one tap, −0.97a at the next, small weights (≈ 2–5 int8 steps) elsewhere.
  const small = seededFloats(C * 9, 11, 0.04);
  const w2 = new Float32Array(C * 9);
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < 9; k++) w2[c * 9 + k] = small[c * 9 + k]! * (1 + c);
    w2[c * 9 + 4] = 1.27 * (1 + c);
    w2[c * 9 + ((c % 4) * 2 + 1 === 4 ? 5 : (c % 4) * 2 + 1)] = -1.23 * (1 + c);
  }
  return buildModel({
    inputs: [tensorInfo('x', [1, 3, SIZE, SIZE])],
    outputs: [tensorInfo('y', null)],
    initializers: [randomWeight('w1', [C, 3, 3, 3], 1), floatTensor('b1', [C], new Float32Array(C).fill(0.5)), floatTensor('w2', [C, 1, 3, 3], w2)],
    nodes: [
      makeNode('Conv', ['x', 'w1', 'b1'], ['a'], 'conv1', { pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Relu', ['a'], ['r'], 'relu'),
      makeNode('Conv', ['r', 'w2'], ['y'], 'edge', { group: attr.int(C), pads: attr.ints([1, 1, 1, 1]) }),
    ],
  });
}

/** Smooth images: a random plane gradient plus a little noise, seeded. */
function smoothImage(seed: number): Float32Array {
  const [gx, gy, off] = seededFloats(3, seed, 1);
  const noise = seededFloats(3 * SIZE * SIZE, seed + 1000, 0.02);
  const v = new Float32Array(3 * SIZE * SIZE);
  for (let c = 0; c < 3; c++) for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
    const i = (c * SIZE + y) * SIZE + x;
    v[i] = off! + (gx! * x + gy! * y) / SIZE + noise[i]!;
  }
  return v;
}

/** Mean squared difference of `model`'s output from `reference`'s over the given images. */
async function outputMse(model: OnnxModel, reference: OnnxModel, images: Float32Array[]): Promise<number> {
  const a = await createInferenceRunner(encodeModel(model));
  const b = await createInferenceRunner(encodeModel(reference));
  let sum = 0;
  let count = 0;
  for (const img of images) {
    const feeds = { x: floatTensor('x', [1, 3, SIZE, SIZE], img) };
    const ya = tensorToFloat32((await a.run(feeds)).get('y')!);
    const yb = tensorToFloat32((await b.run(feeds)).get('y')!);
    for (let i = 0; i < ya.length; i++) sum += (ya[i]! - yb[i]!) ** 2;
    count += ya.length;
  }
  await a.release();
  await b.release();
  return sum / count;
}

describe('roundWeightsAdaptively', () => {
  it('chooses int8-grid weights whose output error on unseen images is below nearest rounding\'s', async () => {
    const original = edgeFilterModel();
    const dir = join(tempDir(), 'calib');
    writeDataset(dir, Array.from({ length: 8 }, (_, i) => ({ inputs: [floatTensor('x', [1, 3, SIZE, SIZE], smoothImage(i + 1))] })));
    const rounded = cloneModel(original);
    const report = await roundWeightsAdaptively(rounded, openDataset(dir, rounded));
    expect(report.layers).toBe(2);
    expect(report.flipped).toBeGreaterThan(0);
    expect(report.meanErrorRatio).toBeLessThan(1);
    expect(report.perLayer.find((l) => l.node === 'edge')!.kind).toBe('depthwise');
    // 8 sets: sets 2 and 5 judged the rounding fitted to the other six before it was refitted on all eight.
    for (const layer of report.perLayer) expect(layer.heldOutErrorRatio!, layer.node).toBeLessThan(1);

    // Every rounded weight is on the grid the quantizer computes for it, so quantizing reproduces it exactly.
    const nearest = cloneModel(original);
    for (const name of ['w1', 'w2']) {
      const w = rounded.graph.initializers.get(name)!;
      const { values, scales } = quantizeWeightPerChannel(tensorToFloat32(w), w.dims, 0, false);
      const per = values.length / scales.length;
      const snapped = tensorToFloat32(w);
      for (let i = 0; i < values.length; i++) expect(Math.abs(values[i]! * scales[Math.floor(i / per)]! - snapped[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(snapped[i]!) + 1e-9);
      // The nearest-rounding twin: the original weights through the same grid.
      const o = original.graph.initializers.get(name)!;
      const q = quantizeWeightPerChannel(tensorToFloat32(o), o.dims, 0, false);
      nearest.graph.initializers.set(name, floatTensor(name, o.dims, Float32Array.from(q.values, (v, i) => v * q.scales[Math.floor(i / per)]!)));
    }
    // The edge layer had no bias: the mean error went into a new one.
    expect(rounded.graph.nodes.find((n) => n.name === 'edge')!.inputs[2]).toBeDefined();

    const unseen = Array.from({ length: 6 }, (_, i) => smoothImage(100 + i));
    const mseAdaptive = await outputMse(rounded, original, unseen);
    const mseNearest = await outputMse(nearest, original, unseen);
    // Measured: 0.505 × nearest rounding's error.
    expect(mseAdaptive).toBeLessThan(0.75 * mseNearest);
  });

  it('keeps nearest rounding for a layer whose adaptive rounding does not hold on the held-out sets', async () => {
    // The held-out sets (every third: 2 and 5) are white noise, whose covariance is diagonal: there nearest rounding is
    // optimal, so rounding fitted to the smooth images of the other sets can only lose on them.
    const original = edgeFilterModel();
    const dir = join(tempDir(), 'calib-mismatch');
    const noise = (seed: number): Float32Array => seededFloats(3 * SIZE * SIZE, seed, 1);
    writeDataset(dir, Array.from({ length: 8 }, (_, i) => ({ inputs: [floatTensor('x', [1, 3, SIZE, SIZE], i % 3 === 2 ? noise(500 + i) : smoothImage(i + 1))] })));
    const rounded = cloneModel(original);
    const report = await roundWeightsAdaptively(rounded, openDataset(dir, rounded));
    const edge = report.skipped.find((s) => s.node === 'edge');
    expect(edge?.reason).toMatch(/did not lower the output error on 2 held-out set\(s\) \(\d+\.\d+× nearest's\): nearest kept/);
    expect(report.perLayer.some((l) => l.node === 'edge')).toBe(false);
    // Left exactly as it was: nearest rounding is the quantizer's own.
    expect(tensorToFloat32(rounded.graph.initializers.get('w2')!)).toEqual(tensorToFloat32(original.graph.initializers.get('w2')!));
  });
});
