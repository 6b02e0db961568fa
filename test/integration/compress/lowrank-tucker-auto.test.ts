/** Tucker-2 of k×k Convs on the residual CNN and accuracy-bounded ranks on the MLP, run in onnxruntime. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModel } from '../../../src/compress/evaluate.js';
import type { LowRankLayer } from '../../../src/compress/low-rank.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'edgetune-lowrank-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MLP = 'test/fixtures/models/mnist-mlp.onnx';
const CNN = 'test/fixtures/models/mnist-rescnn.onnx';

describe('lowrank Tucker-2 on the residual CNN', () => {
  it('default energy factorises k×k Convs into 1×1 → k×k → 1×1 with fewer MACs; the model runs and keeps top-1', async () => {
    const out = join(dir, 'cnn-tucker.onnx');
    const report = await compressModelFile({ inputPath: CNN, outputPath: out, method: 'lowrank' });
    const layers = (report.details as { layers: LowRankLayer[] }).layers;
    expect(layers.length).toBeGreaterThan(0);
    expect(layers.every((l) => l.method === 'tucker2')).toBe(true);
    for (const l of layers) {
      expect(l.macsAfter!).toBeLessThan(l.macsBefore!);
      expect(l.paramsAfter).toBeLessThan(l.paramsBefore);
    }
    expect(report.params.after).toBeLessThan(report.params.before);
    const model = loadModelFile(out).model;
    expect(model.graph.nodes.filter((n) => n.opType === 'Conv').length).toBeGreaterThan(loadModelFile(CNN).model.graph.nodes.filter((n) => n.opType === 'Conv').length);
    const base = await evaluateModel(loadModelFile(CNN).model, 'test/fixtures/data/mnist-test', { maxSets: 5 });
    const got = await evaluateModel(model, 'test/fixtures/data/mnist-test', { maxSets: 5, reference: loadModelFile(CNN).model });
    expect(got.top1!).toBeGreaterThan(base.top1! - 0.015);
    expect(got.agreement!).toBeGreaterThan(0.98);
  }, 120_000);
});

describe('lowrank --max-accuracy-drop on the MLP', () => {
  it('chooses per-layer ranks that meet the bound on the data and cut the parameters', async () => {
    const out = join(dir, 'mlp-auto.onnx');
    // Point estimate on the fitting data (--no-holdout --confidence 0): the search's own bound, re-measured below.
    const report = await compressModelFile({ inputPath: MLP, outputPath: out, method: 'lowrank', dataDir: 'test/fixtures/data/mnist-calib-flat', maxAccuracyDropPp: 1, noHoldout: true, confidence: 0 });
    const details = report.details as { accuracy: { dropPp: number; metric: string; evaluations: number }; energies: Record<string, number> };
    expect(details.accuracy.metric).toBe('top1');
    expect(details.accuracy.dropPp).toBeLessThanOrEqual(1);
    expect(Object.keys(details.energies).length).toBeGreaterThan(0);
    expect(report.params.after).toBeLessThan(0.5 * report.params.before);
    // The bound is re-measured independently on the same data from the written file.
    const base = await evaluateModel(loadModelFile(MLP).model, 'test/fixtures/data/mnist-calib-flat');
    const got = await evaluateModel(loadModelFile(out).model, 'test/fixtures/data/mnist-calib-flat');
    expect((base.top1! - got.top1!) * 100).toBeLessThanOrEqual(1 + 1e-9);
  }, 180_000);

  it('with --val-data the bound is judged, on its interval, on 2,000 samples the search did not see', async () => {
    const out = join(dir, 'mlp-auto-heldout.onnx');
    const report = await compressModelFile({ inputPath: MLP, outputPath: out, method: 'lowrank', dataDir: 'test/fixtures/data/mnist-calib-flat', validationDataDir: 'test/fixtures/data/mnist-test-flat', maxAccuracyDropPp: 2 });
    expect(report.fidelity).toMatchObject({ judgedOn: 'validation', samples: 2000, gate: { passed: true } });
    expect(report.fidelity!.accuracy!.ci[1]).toBeLessThanOrEqual(2);
  }, 180_000);

  it('bad input: --max-accuracy-drop without --data, or with --ratio → USAGE and no output file', async () => {
    for (const extra of [{}, { dataDir: 'test/fixtures/data/mnist-calib-flat', ratio: 0.5 }]) {
      const out = join(dir, 'mlp-bad.onnx');
      const error = await compressModelFile({ inputPath: MLP, outputPath: out, method: 'lowrank', maxAccuracyDropPp: 1, ...extra }).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(EdgetuneError);
      expect((error as EdgetuneError).code).toBe('USAGE');
      expect(existsSync(out)).toBe(false);
    }
  });
});
