/**
 * `calibration: 'auto'` on a real third-party model (the PP-OCR direction classifier, paddle2onnx) in the real
 * onnxruntime: every candidate is built and judged on held-out calibration crops, the best worst-output cosine wins (SQNR breaks ties), the
 * report and the note say what was tried, and the model written loads and runs. Through the CLI on the MNIST fixture.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runInt8Pipeline } from '../../../src/compress/int8-pipeline.js';
import { feedsForBatch, openDataset } from '../../../src/compress/dataset.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import type { OnnxModel } from '../../../src/onnx/ir.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS } from '../../../scripts/lib/photo-datasets.js';
import { runCli, tempDir } from '../cli/cli-helpers.js';

const SLOW = 300_000;
const CLS = THIRD_PARTY_MODELS['ppocr-cls']!;
const OPTIONS = { activationType: 'uint8', perChannel: true, reduceRange: false, keepFloatMode: 'none' } as const;

function load(): OnnxModel {
  const model = loadModelFile(modelPath(CLS)).model;
  normalizeModel(model, { minOpset: 13 });
  return model;
}

describe('int8 calibration auto on the PP-OCR direction classifier', () => {
  it('judges minmax and two percentiles, each with and without bias correction, then the best with nearest rounding, on a held-out quarter and keeps the best worst-output cosine', async () => {
    const model = load();
    const calibration = openDataset(photoDataset(CLS, 'calibration', 16), model);
    const result = await runInt8Pipeline(model, calibration, { ...OPTIONS, calibration: 'auto' });
    const auto = result.calibration.auto!;
    expect(auto).toMatchObject({ fitSets: 12, judgedSets: 4 });
    const adaptive = ['minmax + bias correction', 'minmax', 'percentile 99.99 + bias correction', 'percentile 99.99', 'percentile 99.999 + bias correction', 'percentile 99.999'];
    expect(auto.candidates.map((c) => c.label).slice(0, 6)).toEqual(adaptive);
    // The seventh: the best adaptive-rounding candidate rebuilt with nearest rounding.
    const leader = auto.candidates.slice(0, 6).sort((a, b) => b.worstCosine! - a.worstCosine! || b.worstSqnrDb! - a.worstSqnrDb!)[0]!;
    expect(auto.candidates).toHaveLength(7);
    expect(auto.candidates[6]!.label).toBe(`${leader.label}, nearest rounding`);
    expect(result.adaptiveRounding!.kept).toBe(!auto.chosen.endsWith('nearest rounding'));
    expect(result.adaptiveRounding!.layers).toBeGreaterThan(0);
    for (const c of auto.candidates) {
      expect(Number.isFinite(c.worstSqnrDb)).toBe(true);
      expect(c.worstCosine).toBeGreaterThan(0.5);
    }
    const best = [...auto.candidates].sort((a, b) => b.worstCosine! - a.worstCosine! || b.worstSqnrDb! - a.worstSqnrDb!)[0]!;
    expect(auto.chosen).toBe(best.label);
    expect(result.calibration.method).toBe(best.label.startsWith('percentile') ? 'percentile' : 'minmax');
    expect(result.biasCorrection === null).toBe(!best.label.includes('bias correction'));
    expect(result.report.notes[0]).toMatch(new RegExp(`^calibration auto: ${best.label.replace(/[.+]/g, '\\$&')} \\(worst-output cosine, and SQNR, on 4 held-out calibration set\\(s\\)`));
    // The model written loads and runs in onnxruntime on held-out photos.
    const evaluation = openDataset(photoDataset(CLS, 'evaluation', 2), model);
    const runner = await createInferenceRunner(encodeModel(result.model));
    try {
      const out = await runner.run(feedsForBatch(result.model, evaluation.load(0))[0]!.feeds);
      expect([...out.values()][0]!.dims).toEqual([1, 2]);
    } finally {
      await runner.release();
    }
  }, SLOW);

  it('without bias correction asked for, tries the three range methods only (too few sets for adaptive rounding); with fewer than 4 sets, says it cannot choose', async () => {
    const model = load();
    const noBias = await runInt8Pipeline(model, openDataset(photoDataset(CLS, 'calibration', 8), model), { ...OPTIONS, calibration: 'auto', biasCorrectionRounds: 0 });
    // 8 sets: adaptive rounding would fit to the 6 of the fit part, fewer than 8 samples, so it is not applied and
    // there is no nearest-rounding candidate to judge.
    expect(noBias.calibration.auto!.candidates.map((c) => c.label)).toEqual(['minmax', 'percentile 99.99', 'percentile 99.999']);
    expect(noBias.adaptiveRounding!.notApplied).toMatch(/^6 calibration sample\(s\), fewer than 8/);
    expect(noBias.biasCorrection).toBeNull();
    const few = load();
    const tooFew = await runInt8Pipeline(few, openDataset(photoDataset(CLS, 'calibration', 3), few), { ...OPTIONS, calibration: 'auto' });
    expect(tooFew.calibration.auto).toMatchObject({ candidates: [], judgedSets: 0, chosen: 'minmax + bias correction' });
    expect(tooFew.report.notes[0]).toBe('calibration auto: 3 calibration set(s), fewer than 4 to hold some out and choose; minmax + bias correction');
  }, SLOW);
});

describe('compress --method int8 --calibration auto', () => {
  it('reports what it tried in the JSON report; a calibration method it does not know exits 2', () => {
    const dir = tempDir('edgetune-auto-calib-');
    const r = runCli(['compress', 'test/fixtures/models/mnist-mlp.onnx', '-o', join(dir, 'auto.onnx'), '--method', 'int8', '--data', 'test/fixtures/data/mnist-calib-flat', '--calibration', 'auto', '--no-speed-check', '--json'], { timeoutMs: SLOW });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { notes: string[]; calibration: { method: string } };
    expect(report.notes.some((n) => /^calibration auto: .* \(worst-output cosine, and SQNR, on 2 held-out calibration set\(s\), fitted to the other 6: minmax \+ bias correction -?\d\.\d{4} \(-?\d/.test(n))).toBe(true);
    expect(['minmax', 'percentile']).toContain(report.calibration.method);
    const bad = runCli(['compress', 'test/fixtures/models/mnist-mlp.onnx', '-o', join(dir, 'bad.onnx'), '--method', 'int8', '--data', 'test/fixtures/data/mnist-calib-flat', '--calibration', 'best'], { timeoutMs: SLOW });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/calibration/);
  }, SLOW);
});
