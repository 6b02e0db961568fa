import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressModelFile, type CompressReport } from '../../../src/compress/compress-model.js';
import { evaluateModel } from '../../../src/compress/evaluate.js';
import { evaluateModelFiles } from '../../../src/compress/evaluate-files.js';
import type { OutputFidelity } from '../../../src/compress/fidelity.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS } from '../../../scripts/lib/photo-datasets.js';
import { tempDir } from '../cli/cli-helpers.js';

// BlazeFace (tf2onnx, MediaPipe's back-camera face detector): input 'input:0' [1,256,256,3], four outputs
// (scores and boxes for the 16×16 and 8×8 anchors).
const BLAZEFACE = THIRD_PARTY_MODELS.blazeface!;
const OUTPUTS = ['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0'];

const expectWorstIsMin = (outputs: OutputFidelity[], worst: string | null, cosine: number | null, sqnrDb: number | null): void => {
  const min = Math.min(...outputs.map((o) => o.cosine));
  const w = outputs.find((o) => o.name === worst)!;
  expect(w).toBeDefined();
  expect(w.cosine).toBeCloseTo(min, 12);
  expect(cosine).toBeCloseTo(w.cosine, 12);
  expect(sqnrDb).toBeCloseTo(w.sqnrDb, 9);
};

describe('fidelity on every output of a real multi-output detector (BlazeFace)', () => {
  let dir: string;
  let calibration: string;
  let evaluation: string;
  let int8: CompressReport;
  let fp16: CompressReport;

  beforeAll(async () => {
    dir = tempDir();
    calibration = photoDataset(BLAZEFACE, 'calibration', 4);
    evaluation = photoDataset(BLAZEFACE, 'evaluation', 4);
    int8 = await compressModelFile({ inputPath: modelPath(BLAZEFACE), outputPath: join(dir, 'int8.onnx'), method: 'int8', dataDir: calibration });
    fp16 = await compressModelFile({ inputPath: modelPath(BLAZEFACE), outputPath: join(dir, 'fp16.onnx'), method: 'fp16', dataDir: calibration });
  });

  it('eval scores all four outputs against the original; the top-level cosine and SQNR are the worst output’s', async () => {
    const r = await evaluateModelFiles({ modelPath: int8.output.path, dataDir: evaluation, referencePath: modelPath(BLAZEFACE) });
    expect(r.samples).toBe(4);
    expect(r.outputs!.map((o) => o.name)).toEqual(OUTPUTS);
    for (const o of r.outputs!) {
      expect(o.cosine).toBeGreaterThan(0);
      expect(o.cosine).toBeLessThanOrEqual(1 + 1e-9);
      expect(o.cosine).toBeLessThan(0.9999); // int8 is not exact
      expect(Number.isFinite(o.sqnrDb)).toBe(true);
      expect(o.maxAbsError).toBeGreaterThan(0);
      expect(o.collapsed).toBe(false);
    }
    expectWorstIsMin(r.outputs!, r.worstOutput, r.cosine, r.sqnrDb);
    // Not classifiers ([1, N, 1] and [1, N, 16]): no top-1, agreement or KL.
    expect(r.agreement).toBeNull();
    expect(r.kl).toBeNull();
  });

  it('the original against itself: every output exact', async () => {
    const { model } = loadModelFile(modelPath(BLAZEFACE));
    const r = await evaluateModel(model, evaluation, { reference: model, maxSets: 2 });
    expect(r.outputs).toHaveLength(4);
    for (const o of r.outputs!) {
      expect(o.cosine).toBeCloseTo(1, 9);
      expect(o.sqnrDb).toBe(Infinity);
      expect(o.collapsed).toBe(false);
    }
  });

  it('the compress report carries per-output fidelity on the calibration data', () => {
    for (const report of [int8, fp16]) {
      const f = report.fidelity!;
      expect(f).not.toBeNull();
      expect(f.judgedOn).toBe('calibration');
      expect(f.samples).toBe(4);
      expect(f.outputs.map((o) => o.name)).toEqual(OUTPUTS);
      for (const o of f.outputs) {
        expect(o.cosine).toBeGreaterThan(0);
        expect(o.cosine).toBeLessThanOrEqual(1 + 1e-9);
      }
      expectWorstIsMin(f.outputs, f.worstOutput, f.cosine, f.sqnrDb);
      expect(report.notes.some((n) => n.includes('judged on calibration data'))).toBe(true);
      expect(f.gate.passed).toBe(true);
    }
    // fp16 is much closer to the original than int8.
    expect(fp16.fidelity!.cosine).toBeGreaterThan(0.9999);
    expect(fp16.fidelity!.sqnrDb).toBeGreaterThan(int8.fidelity!.sqnrDb + 20);
  });

  it('a method that changes nothing (int8-dynamic on an all-Conv model) reports no fidelity; without data the gate runs on synthesized inputs', async () => {
    const unchanged = await compressModelFile({ inputPath: modelPath(BLAZEFACE), outputPath: join(dir, 'dyn.onnx'), method: 'int8-dynamic', dataDir: calibration });
    expect(unchanged.nodesChanged).toBe(0);
    expect(unchanged.fidelity).toBeNull();
    const noData = await compressModelFile({ inputPath: modelPath(BLAZEFACE), outputPath: join(dir, 'fp16-nodata.onnx'), method: 'fp16' });
    expect(noData.fidelity).toMatchObject({ judgedOn: 'synthetic', samples: 8, gate: { passed: true } });
    expect(noData.fidelity!.outputs.map((o) => o.name)).toEqual(OUTPUTS);
  });

  it('refuses a reference whose outputs match the model’s neither by name nor by position', async () => {
    const { model } = loadModelFile(modelPath(BLAZEFACE));
    const mnist = loadModelFile('test/fixtures/models/mnist-mlp.onnx').model;
    await expect(evaluateModel(model, evaluation, { reference: mnist })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/match neither by name nor by position/) });
  });
});
