/**
 * Channel pruning in onnxruntime: on each coupling pattern the pruned model must equal the original with the
 * removed input channels of every consumer zeroed (the math of structured pruning), and on the residual CNN
 * fixture least-squares recovery must bring accuracy back where plain pruning destroys it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pruneChannels } from '../../../src/compress/prune-channels.js';
import { pruneAndRecover } from '../../../src/compress/methods/prune-method.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { evaluateModel } from '../../../src/compress/evaluate.js';
import { cloneModel, type OnnxModel } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { attrInt } from '../../../src/onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { seededFloats } from '../../unit/compress/quantize-test-models.js';
import { channelPadModel, chainModel, concatModel, depthwiseModel, flattenGemmModel, gapGemmModel, residualModel, seModel, transposeModel } from '../../unit/compress/prune-test-models.js';
import { writeMnistDigitDataset } from '../../../scripts/lib/mnist-pages.js';

async function run(model: OnnxModel, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const runner = await createInferenceRunner(encodeModel(model));
  try {
    const out = await runner.run({ x: floatTensor('x', dims, x) });
    return tensorToFloat32(out.get(model.graph.outputs[0]!.name)!);
  } finally {
    await runner.release();
  }
}

/** The original with the removed input channels of each pruned consumer set to zero. */
function masked(original: OnnxModel, sinks: ReturnType<typeof pruneChannels>['sinks']): OnnxModel {
  const m = cloneModel(original);
  for (const s of sinks) {
    const node = m.graph.nodes.find((n) => n.name === s.node)!;
    const w = m.graph.initializers.get(node.inputs[1]!)!;
    const v = w.values as Float32Array;
    const kept = new Set(s.keptIn);
    const transB = s.opType === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
    if (s.opType === 'Conv') {
      const [mOut, c] = w.dims as [number, number];
      const k = v.length / (mOut * c);
      for (let o = 0; o < mOut; o++) for (let ci = 0; ci < c; ci++) if (!kept.has(ci)) v.fill(0, (o * c + ci) * k, (o * c + ci + 1) * k);
    } else if (transB) {
      const [n, k] = w.dims as [number, number];
      for (let o = 0; o < n; o++) for (let j = 0; j < k; j++) if (!kept.has(j)) v[o * k + j] = 0;
    } else {
      const [k, n] = w.dims as [number, number];
      for (let j = 0; j < k; j++) if (!kept.has(j)) v.fill(0, j * n, (j + 1) * n);
    }
  }
  return m;
}

describe('pruned coupling patterns run in onnxruntime and keep the math', () => {
  const cases: Array<[string, () => OnnxModel, number[]]> = [
    ['Conv→BN→Relu→Conv', chainModel, [2, 3, 8, 8]],
    ['residual Add', residualModel, [2, 3, 8, 8]],
    ['Concat offsets', concatModel, [2, 3, 8, 8]],
    ['depthwise Conv', depthwiseModel, [2, 3, 8, 8]],
    ['MaxPool→GAP→Flatten→Gemm', gapGemmModel, [2, 3, 8, 8]],
    ['Flatten(H·W=4)→Gemm→MatMul', flattenGemmModel, [2, 3, 2, 2]],
    ['SE + hard-swish + Resize', seModel, [2, 3, 8, 8]],
    ['Transpose NHWC→MatMul→NCHW, SE through Reshape', transposeModel, [2, 3, 8, 8]],
    ['channel pad by ConstantOfShape→Concat', () => channelPadModel('constant-of-shape'), [1, 3, 8, 8]],
    ['channel pad by a zero initializer in Concat', () => channelPadModel('zero-initializer'), [1, 3, 8, 8]],
    ['channel pad by Pad', () => channelPadModel('pad'), [1, 3, 8, 8]],
  ];
  for (const [name, build, dims] of cases) {
    it(name, async () => {
      const original = build();
      const pruned = pruneChannels(cloneModel(original), { ratio: 0.5 });
      expect(pruned.sinks.length).toBeGreaterThan(0);
      const x = seededFloats(dims.reduce((a, b) => a * b, 1), 7, 1);
      const want = await run(masked(original, pruned.sinks), x, dims);
      const got = await run(pruned.model, x, dims);
      expect(got.length).toBe(want.length);
      let maxErr = 0;
      let maxAbs = 0;
      for (let i = 0; i < got.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
        maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
      }
      expect(maxErr).toBeLessThan(1e-4 * Math.max(1, maxAbs));
      // and pruning really changed the function (the removed channels mattered)
      const full = await run(original, x, dims);
      expect(full.some((v, i) => Math.abs(v - got[i]!) > 1e-3)).toBe(true);
    });
  }
});

describe('residual CNN fixture: prune 50 % with and without recovery', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-prune-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** Labelled digits from the mnist package, normalised like the fixture's training data. */
  function digitsDataset(path: string, sets: number, batch: number, seed: number): string {
    return writeMnistDigitDataset(path, { flat: false, sets, batch, seed });
  }

  it('plain pruning collapses, least-squares recovery restores top-1 (and the model shrinks)', async () => {
    const calib = digitsDataset(join(dir, 'calib'), 2, 64, 11);
    const test = digitsDataset(join(dir, 'test'), 4, 100, 12);
    const base = loadModelFile('test/fixtures/models/mnist-rescnn.onnx').model;
    normalizeModel(base, { minOpset: 13 });
    const baseTop1 = (await evaluateModel(base, test)).top1!;
    const plain = cloneModel(base);
    await pruneAndRecover(plain, base, undefined, { ratio: 0.5 });
    const recovered = cloneModel(base);
    const result = await pruneAndRecover(recovered, base, openDataset(calib, recovered), { ratio: 0.5 });
    const plainTop1 = (await evaluateModel(plain, test)).top1!;
    const recoveredTop1 = (await evaluateModel(recovered, test)).top1!;
    expect(result.recovery[0]!.refits.length).toBe(9);
    expect(result.recovery[0]!.refits.every((r) => r.errorAfter < r.errorBefore)).toBe(true);
    expect(recovered.graph.initializers.get('features.5.body.0.0.weight')!.dims).toEqual([64, 64, 3, 3]);
    expect(baseTop1).toBeGreaterThan(0.95);
    expect(plainTop1).toBeLessThan(baseTop1 - 0.2);
    expect(recoveredTop1).toBeGreaterThan(baseTop1 - 0.04);
  }, 120_000);
});
