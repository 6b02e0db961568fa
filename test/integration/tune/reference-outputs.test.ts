import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModelFiles } from '../../../src/compress/evaluate-files.js';
import { ReferenceOutputs } from '../../../src/tune/reference-outputs.js';
import { accuracyOf } from '../../../src/tune/tune-model.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS } from '../../../scripts/lib/photo-datasets.js';

const MLP = 'test/fixtures/models/mnist-mlp.onnx';
const TEST = 'test/fixtures/data/mnist-test-flat';

describe('ReferenceOutputs: the original runs once, candidates are scored against its kept outputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-refout-'));
  const candidate = join(dir, 'int4.onnx');
  beforeAll(async () => {
    await compressModelFile({ inputPath: MLP, outputPath: candidate, method: 'int4' });
  });

  it('gives the same metrics as evaluateModelFiles with the original as reference', async () => {
    const ref = await ReferenceOutputs.compute(MLP, TEST);
    expect(ref).not.toBeNull();
    const cached = await ref!.evaluate(candidate);
    const pairwise = await evaluateModelFiles({ modelPath: candidate, dataDir: TEST, referencePath: MLP });
    expect(cached.samples).toBe(pairwise.samples);
    expect(cached.top1).toBeCloseTo(pairwise.top1!, 12);
    expect(cached.referenceTop1).toBeCloseTo(pairwise.referenceTop1!, 12);
    expect(cached.agreement).toBeCloseTo(pairwise.agreement!, 12);
    expect(cached.cosine).toBeCloseTo(pairwise.cosine!, 9);
    expect(cached.kl).toBeCloseTo(pairwise.kl!, 9);
    expect(ref!.classifier).toBe(true); // [batch, 10] logits: agreement applies
    // The original's own top-1, from the same pass.
    expect(ref!.baseline.top1).toBeCloseTo(pairwise.referenceTop1!, 12);
    // The original against itself is perfect.
    const self = await ref!.evaluate(MLP);
    expect(self.agreement).toBe(1);
    expect(self.cosine!).toBeCloseTo(1, 6);
  });

  it('declines (null) when the outputs would pass the memory cap', async () => {
    expect(await ReferenceOutputs.compute(MLP, TEST, { maxBytes: 1000 })).toBeNull();
  });
});

describe('ReferenceOutputs on a multi-output detector (BlazeFace): every output kept, the worst one scores', () => {
  // BlazeFace (tf2onnx): input [1,256,256,3], four outputs (scores and boxes for the 16×16 and 8×8 anchors).
  const BLAZEFACE = THIRD_PARTY_MODELS.blazeface!;
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-refout-multi-'));
  const candidate = join(dir, 'fp16.onnx');
  let evaluation: string;
  beforeAll(async () => {
    evaluation = photoDataset(BLAZEFACE, 'evaluation', 3);
    const report = await compressModelFile({ inputPath: modelPath(BLAZEFACE), outputPath: candidate, method: 'fp16', dataDir: evaluation, fidelitySets: 0 });
    expect(report.fidelity).toBeNull(); // fidelitySets 0: the tune's build step does not pay for it
  });

  it('keeps all four outputs and matches evaluateModelFiles output by output, worst output included', async () => {
    const ref = await ReferenceOutputs.compute(modelPath(BLAZEFACE), evaluation);
    expect(ref).not.toBeNull();
    expect(ref!.outputNames).toEqual(['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0']);
    expect(ref!.classifier).toBe(false);
    const cached = await ref!.evaluate(candidate);
    const pairwise = await evaluateModelFiles({ modelPath: candidate, dataDir: evaluation, referencePath: modelPath(BLAZEFACE) });
    expect(cached.samples).toBe(pairwise.samples);
    expect(cached.outputs!.map((o) => o.name)).toEqual(pairwise.outputs!.map((o) => o.name));
    for (let i = 0; i < cached.outputs!.length; i++) {
      expect(cached.outputs![i]!.cosine).toBeCloseTo(pairwise.outputs![i]!.cosine, 9);
      expect(cached.outputs![i]!.sqnrDb).toBeCloseTo(pairwise.outputs![i]!.sqnrDb, 6);
    }
    expect(cached.worstOutput).toBe(pairwise.worstOutput);
    const worst = Math.min(...cached.outputs!.map((o) => o.cosine));
    expect(cached.cosine).toBeCloseTo(worst, 12);
    // The tune's accuracy figure of a detector is the worst output's cosine.
    const accuracy = accuracyOf(cached, null);
    expect(accuracy.metric).toBe('cosine');
    expect(accuracy.value).toBeCloseTo(worst, 12);
  });
});
