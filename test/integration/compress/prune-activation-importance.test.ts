import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureActivationImportance } from '../../../src/compress/activation-importance.js';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModelFiles } from '../../../src/compress/evaluate-files.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const CNN = 'test/fixtures/models/mnist-rescnn.onnx';
const CALIB = 'test/fixtures/data/mnist-calib';

describe('data-driven channel importance (mean |activation| on --data)', () => {
  it('measures one non-negative score per output channel of every weighted layer, after its BatchNorm', async () => {
    const { model } = loadModelFile(CNN);
    const scores = await measureActivationImportance(model, openDataset(CALIB, model), { maxSets: 2 });
    const convs = model.graph.nodes.filter((n) => n.opType === 'Conv');
    expect(scores.size).toBe(convs.length + 1); // 9 Conv + the classifier Gemm
    for (const conv of convs) {
      const s = scores.get(conv.outputs[0]!)!;
      expect(s.length).toBe(model.graph.initializers.get(conv.inputs[1]!)!.dims[0]);
      expect(s.every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
      expect(Math.max(...s)).toBeGreaterThan(0);
    }
  });

  it('prunes the residual CNN by 25% with activation importance and recovery, top-1 within 1.5 points', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'edgetune-act-')), 'pruned.onnx');
    const report = await compressModelFile({ inputPath: CNN, outputPath: out, method: 'prune', ratio: 0.25, importance: 'activation', dataDir: CALIB });
    expect((report.details as { importance: string }).importance).toBe('activation');
    expect(report.params.after).toBeLessThan(report.params.before * 0.7);
    const ev = await evaluateModelFiles({ modelPath: out, dataDir: 'test/fixtures/data/mnist-test', referencePath: CNN });
    expect(ev.referenceTop1! - ev.top1!).toBeLessThanOrEqual(0.015);
  });

  it('prunes iteratively (--steps 2) to 50% with recovery after each step, top-1 within 4 points', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'edgetune-steps-')), 'pruned.onnx');
    const report = await compressModelFile({ inputPath: CNN, outputPath: out, method: 'prune', ratio: 0.5, steps: 2, dataDir: CALIB });
    expect((report.details as { steps: number; recovery: unknown }).steps).toBe(2);
    expect((report.details as { recovery: unknown }).recovery).not.toBeNull();
    expect(report.params.after).toBeLessThan(report.params.before * 0.4);
    const ev = await evaluateModelFiles({ modelPath: out, dataDir: 'test/fixtures/data/mnist-test', referencePath: CNN });
    expect(ev.referenceTop1! - ev.top1!).toBeLessThanOrEqual(0.04);
    // 44 s alone on the 2-core machine; 120 s was not enough beside another compress job (2026-12-04).
  }, 300_000);

  it('refuses activation importance without data', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'edgetune-act-')), 'x.onnx');
    const error = await compressModelFile({ inputPath: CNN, outputPath: out, method: 'prune', ratio: 0.25, importance: 'activation' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).message).toMatch(/--importance activation needs --data/);
  });
});
