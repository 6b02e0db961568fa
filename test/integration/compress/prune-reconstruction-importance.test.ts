/**
 * `--importance reconstruction` (src/compress/reconstruction-importance.ts): channels chosen by what the layers reading
 * them can rebuild without them, measured with onnxruntime on --data. On the MobileNetV2-style fixture (inverted
 * residuals, ReLU6) at a uniform 0.5 ratio it keeps top-1 on the 2,000 held-out digits far better than filter norms
 * (BENCHMARKS.md: −1.60 vs −8.35 pt), and the channels it keeps differ from the norms' choice.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModelFiles } from '../../../src/compress/evaluate-files.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { measureReconstructionImportance } from '../../../src/compress/reconstruction-importance.js';
import { analyzeChannels } from '../../../src/compress/prune-channels.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const MBV2 = 'test/fixtures/models/mnist-mbv2.onnx';
const CALIB = 'test/fixtures/data/mnist-calib';
const TEST = 'test/fixtures/data/mnist-test';

describe('reconstruction importance', () => {
  it('ranks the channels of every prunable group (a permutation of 1..channels per producer)', async () => {
    const { model } = loadModelFile(MBV2);
    normalizeModel(model, { minOpset: 13 });
    const scores = await measureReconstructionImportance(model, openDataset(CALIB, model));
    const analysis = analyzeChannels(model);
    const prunable = analysis.groups.filter((g) => !g.blocked && g.components.length >= 2);
    expect(prunable.length).toBeGreaterThan(0);
    for (const g of prunable) {
      for (const p of g.producers) {
        const s = scores.get(p.node.outputs[0]!);
        expect(s, `group ${g.id} (${p.node.name}) has scores`).toBeDefined();
        expect([...s!].sort((a, b) => a - b)).toEqual(Array.from({ length: g.components.length }, (_, i) => i + 1));
      }
    }
  });

  it('prunes the MobileNetV2-style model by half its channels and keeps held-out top-1 far better than filter norms', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-rec-'));
    const results: Record<string, number> = {};
    for (const importance of ['l2', 'reconstruction'] as const) {
      const out = join(dir, `${importance}.onnx`);
      const report = await compressModelFile({ inputPath: MBV2, outputPath: out, method: 'prune', ratio: 0.5, importance, dataDir: CALIB, fidelitySets: 0 });
      expect((report.details as { importance: string }).importance).toBe(importance);
      const ev = await evaluateModelFiles({ modelPath: out, dataDir: TEST, referencePath: MBV2 });
      results[importance] = ev.referenceTop1! - ev.top1!;
    }
    // Measured: l2 −8.35 pt, reconstruction −1.60 pt on these 2,000 digits.
    expect(results.reconstruction).toBeLessThan(0.04);
    expect(results.reconstruction).toBeLessThan(results.l2! - 0.03);
  });

  it('is the default for uniform pruning with --data (recovery on), filter norms without data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-rec-'));
    const withData = await compressModelFile({ inputPath: MBV2, outputPath: join(dir, 'a.onnx'), method: 'prune', ratio: 0.25, dataDir: CALIB, fidelitySets: 0 });
    expect((withData.details as { importance: string }).importance).toBe('reconstruction');
    const without = await compressModelFile({ inputPath: MBV2, outputPath: join(dir, 'b.onnx'), method: 'prune', ratio: 0.25 });
    expect((without.details as { importance: string }).importance).toBe('l2');
  });

  it('refuses reconstruction importance without data (exit-2 usage error, no output)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'edgetune-rec-')), 'x.onnx');
    const error = await compressModelFile({ inputPath: MBV2, outputPath: out, method: 'prune', ratio: 0.25, importance: 'reconstruction' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('USAGE');
    expect((error as EdgetuneError).message).toMatch(/--importance reconstruction needs --data/);
  });
});
