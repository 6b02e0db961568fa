/**
 * Pruning that survives inverted residuals: on the MobileNetV2-style fixture (depthwise 3×3 between 1×1 expand and
 * project, ReLU6, identity shortcuts), channel pruning with sequential recovery, fitted on mnist-calib, keeps top-1
 * on the 2,000 held-out digits (mnist-test) within the bound at a quarter of the FLOPs removed; and reconstructing the depthwise unit (depthwise filters per channel,
 * projection against the original block output) brings every block's output closer to the original's than
 * refitting only the layers whose input channels were removed.
 */
import { describe, expect, it } from 'vitest';
import { pruneChannels } from '../../../src/compress/prune-channels.js';
import { recoverPrunedModel, type RecoveryOptions } from '../../../src/compress/prune-recovery.js';
import { feedsForBatch, openDataset } from '../../../src/compress/dataset.js';
import { evaluateModel } from '../../../src/compress/evaluate.js';
import { cloneModel, elementCount, type OnnxModel } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { attrInt } from '../../../src/onnx/graph.js';
import { inferTensorTypes, staticShape } from '../../../src/onnx/shape-inference.js';
import { modelFlops } from '../../../src/profile/model-flops.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';

const CALIB = 'test/fixtures/data/mnist-calib';
const TEST = 'test/fixtures/data/mnist-test';

function loadMbv2(): OnnxModel {
  const model = loadModelFile('test/fixtures/models/mnist-mbv2.onnx').model;
  normalizeModel(model, { minOpset: 13 });
  return model;
}

function flopsOf(model: OnnxModel): number {
  const types = inferTensorTypes(model, { inputShapes: { [model.graph.inputs[0]!.name]: [1, 1, 28, 28] } });
  return modelFlops(model, (n) => staticShape(types, n)).flops;
}

async function pruned(original: OnnxModel, ratio: number, options: RecoveryOptions) {
  const model = cloneModel(original);
  const result = pruneChannels(model, { ratio });
  const report = await recoverPrunedModel(
    { pruned: model, original, refitNodes: result.sinks.map((s) => s.node), channelMap: result.keptChannels, dataset: openDataset(CALIB, model) },
    options,
  );
  return { model, keptChannels: result.keptChannels, report };
}

/** Output of each inverted residual block: the Add after the projection's BatchNormalization, or that BN itself. */
function blockOutputs(model: OnnxModel): string[] {
  const consumers = new Map<string, string[]>();
  for (const n of model.graph.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.opType]);
  const byOutput = new Map(model.graph.nodes.map((n) => [n.outputs[0]!, n]));
  const outs: string[] = [];
  for (const n of model.graph.nodes) {
    // project BN: BatchNormalization after a 1×1 Conv whose input comes from the depthwise BN → Clip
    if (n.opType !== 'BatchNormalization') continue;
    const conv = byOutput.get(n.inputs[0]!);
    const clip = conv ? byOutput.get(conv.inputs[0]!) : undefined;
    const dwBn = clip ? byOutput.get(clip.inputs[0]!) : undefined;
    const dw = dwBn ? byOutput.get(dwBn.inputs[0]!) : undefined;
    if (conv?.opType !== 'Conv' || !dw || dw.opType !== 'Conv' || attrInt(dw, 'group', 1) === 1) continue;
    const next = model.graph.nodes.find((c) => c.inputs.includes(n.outputs[0]!));
    outs.push(next?.opType === 'Add' ? next.outputs[0]! : n.outputs[0]!);
  }
  return outs;
}

/** Mean squared error of each named tensor of `model` against the original's (at the kept channels), on held-out data. */
async function blockErrors(original: OnnxModel, model: OnnxModel, names: string[], kept: ReadonlyMap<string, number[]>): Promise<number[]> {
  const withOutputs = (m: OnnxModel): Uint8Array =>
    encodeModel({ ...m, graph: { ...m.graph, outputs: [...m.graph.outputs, ...names.map((name) => ({ name, type: { elemType: 1, shape: null } }))] } });
  const a = await createInferenceRunner(withOutputs(original));
  const b = await createInferenceRunner(withOutputs(model));
  const sums = names.map(() => 0);
  const counts = names.map(() => 0);
  try {
    const data = openDataset(TEST, original);
    for (let s = 0; s < 5; s++) {
      for (const piece of feedsForBatch(original, data.load(s))) {
        const ra = await a.run(piece.feeds, names);
        const rb = await b.run(piece.feeds, names);
        names.forEach((name, i) => {
          const ta = ra.get(name)!;
          const tb = rb.get(name)!;
          const va = tensorToFloat32(ta);
          const vb = tensorToFloat32(tb);
          const channels = kept.get(name) ?? Array.from({ length: ta.dims[1]! }, (_, c) => c);
          const [n, cb] = tb.dims as [number, number];
          const ca = ta.dims[1]!;
          const sp = elementCount(ta.dims.slice(2));
          expect(cb).toBe(channels.length);
          for (let k = 0; k < n; k++) {
            channels.forEach((ch, j) => {
              for (let p = 0; p < sp; p++) {
                const d = va[(k * ca + ch) * sp + p]! - vb[(k * cb + j) * sp + p]!;
                sums[i]! += d * d;
              }
            });
          }
          counts[i]! += n * channels.length * sp;
        });
      }
    }
  } finally {
    await a.release();
    await b.release();
  }
  return sums.map((s, i) => s / counts[i]!);
}

describe('MobileNetV2-style fixture: pruning with sequential recovery', () => {
  it('a quarter of the FLOPs removed (ratio 0.15), recovered on mnist-calib: held-out top-1 within 1.5 pt of fp32', async () => {
    const original = loadMbv2();
    const baseTop1 = (await evaluateModel(original, TEST)).top1!;
    const { model, report } = await pruned(original, 0.15, {});
    const top1 = (await evaluateModel(model, TEST)).top1!;
    expect(baseTop1).toBeGreaterThan(0.985);
    expect(1 - flopsOf(model) / flopsOf(original)).toBeGreaterThan(0.25);
    expect(report.refits.some((r) => r.kind === 'depthwise' && r.applied)).toBe(true);
    expect(report.refits.some((r) => r.target === 'block' && r.applied)).toBe(true);
    expect(top1).toBeGreaterThan(baseTop1 - 0.015);
  }, 300_000);

  it('channel ratio 0.25 (about 41 % of the FLOPs), recovered: held-out top-1 within 3 pt of fp32 (no recovery: chance)', async () => {
    const original = loadMbv2();
    const baseTop1 = (await evaluateModel(original, TEST)).top1!;
    const plain = cloneModel(original);
    pruneChannels(plain, { ratio: 0.25 });
    const { model } = await pruned(original, 0.25, {});
    expect((await evaluateModel(plain, TEST)).top1!).toBeLessThan(0.2);
    expect((await evaluateModel(model, TEST)).top1!).toBeGreaterThan(baseTop1 - 0.03);
  }, 300_000);

  it('depthwise unit reconstruction brings every block output closer to the original than next-layer refit', async () => {
    const original = loadMbv2();
    const names = blockOutputs(original);
    expect(names.length).toBe(5);
    const nextLayer = await pruned(original, 0.5, { scope: 'next-layer', blockOutput: false });
    const unit = await pruned(original, 0.5, {});
    const before = await blockErrors(original, nextLayer.model, names, nextLayer.keptChannels);
    const after = await blockErrors(original, unit.model, names, unit.keptChannels);
    for (let i = 0; i < names.length; i++) expect(after[i]!, names[i]).toBeLessThan(before[i]!);
  }, 300_000);
});
