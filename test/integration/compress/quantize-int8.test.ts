import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressModelFile, type CompressReport } from '../../../src/compress/compress-model.js';
import { evaluateModelFiles, type EvaluateFilesResult } from '../../../src/compress/evaluate-files.js';
import { decodeModel } from '../../../src/onnx/model-codec.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';

const CNN = 'test/fixtures/models/mnist-rescnn.onnx';
const CALIB = 'test/fixtures/data/mnist-calib';
const TEST = 'test/fixtures/data/mnist-test';

/** Op histogram of the model onnxruntime actually runs (saved at 'extended', before hardware-specific layouts). */
async function fusedOps(path: string): Promise<Map<string, number>> {
  const optimized = join(mkdtempSync(join(tmpdir(), 'edgetune-opt-')), 'optimized.onnx');
  const runner = await createInferenceRunner(readFileSync(path), { graphOptimizationLevel: 'extended', optimizedModelFilePath: optimized });
  await runner.release();
  const ops = new Map<string, number>();
  for (const n of decodeModel(readFileSync(optimized)).graph.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
  return ops;
}

describe('int8 static quantization of the residual CNN fixture', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-int8-'));
  let report: CompressReport;
  let evaluation: EvaluateFilesResult;

  beforeAll(async () => {
    report = await compressModelFile({ inputPath: CNN, outputPath: join(dir, 'int8.onnx'), method: 'int8', dataDir: CALIB });
    evaluation = await evaluateModelFiles({ modelPath: join(dir, 'int8.onnx'), dataDir: TEST, referencePath: CNN });
  });

  it('reports the SPEC compress fields', () => {
    expect(report.method).toBe('int8');
    // The default, calibration auto: the chosen range method, and what it tried (six candidates on 2 of the 8 sets,
    // then the best of them with nearest instead of adaptive weight rounding).
    expect(report.calibration).toMatchObject({ samples: 256, auto: { fitSets: 6, judgedSets: 2 } });
    expect(['minmax', 'percentile']).toContain(report.calibration!.method);
    const candidates = (report.calibration as unknown as { auto: { candidates: Array<{ label: string }> } }).auto.candidates;
    expect(candidates).toHaveLength(7);
    expect(candidates[6]!.label).toMatch(/, nearest rounding$/);
    expect(report.details?.adaptiveRounding).toMatchObject({ layers: expect.any(Number) });
    expect(report.opset.to).toBeGreaterThanOrEqual(13);
    expect(report.sizeRatio).toBeGreaterThan(3.5);
    expect(report.nodesChanged).toBeGreaterThan(10);
    expect(report.output.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps top-1 within 0.5 points of fp32 and agrees with it on ≥ 99% of samples', () => {
    expect(evaluation.samples).toBe(2000);
    expect(evaluation.referenceTop1).not.toBeNull();
    expect(evaluation.referenceTop1! - evaluation.top1!).toBeLessThanOrEqual(0.005);
    expect(evaluation.agreement!).toBeGreaterThanOrEqual(0.99);
    expect(evaluation.cosine!).toBeGreaterThan(0.99);
  });

  it('is fused by onnxruntime into QLinearConv / QLinearAdd / QGemm kernels', async () => {
    const ops = await fusedOps(join(dir, 'int8.onnx'));
    expect(ops.get('QLinearConv') ?? 0).toBeGreaterThanOrEqual(9);
    expect(ops.get('Conv') ?? 0).toBe(0);
    expect((ops.get('QLinearAdd') ?? 0) + (ops.get('QLinearGlobalAveragePool') ?? 0)).toBeGreaterThan(0);
    expect(ops.get('QGemm') ?? 0).toBe(1);
  });

  it('percentile and entropy calibration and per-tensor weights also give a working model', async () => {
    for (const [name, options] of [
      ['percentile', { calibration: 'percentile' as const }],
      ['entropy', { calibration: 'entropy' as const }],
      ['per-tensor', { perChannel: false }],
    ] as const) {
      const out = join(dir, `${name}.onnx`);
      await compressModelFile({ inputPath: CNN, outputPath: out, method: 'int8', dataDir: CALIB, ...options });
      const ev = await evaluateModelFiles({ modelPath: out, dataDir: TEST, referencePath: CNN });
      expect(ev.agreement!, name).toBeGreaterThan(0.97);
    }
  });

  it('mixed precision keeps sensitive layers float until the bound holds, and says why', async () => {
    const out = join(dir, 'mixed.onnx');
    // The search's own bound on its data: judged as a point estimate on that data (--no-holdout --confidence 0);
    // held-out judgement is tested in test/integration/cli/compress-fidelity-gate.test.ts.
    const mixed = await compressModelFile({ inputPath: CNN, outputPath: out, method: 'int8', dataDir: CALIB, keepFloat: 'auto', maxAccuracyDropPp: 0, noHoldout: true, confidence: 0 });
    const accuracy = (mixed.details as { accuracy?: { dropPp: number } }).accuracy;
    expect(accuracy).toBeDefined();
    expect(accuracy!.dropPp).toBeLessThanOrEqual(0);
    const explained = mixed.nodesKeptFloat.filter((k) => k.reason.startsWith('accuracy-sensitive'));
    if (mixed.notes.some((n) => n.includes('kept float to hold'))) expect(explained.length).toBeGreaterThan(0);
  });

  it('mixed precision says when its data cannot confirm the bound at all, and judges on the point estimate', async () => {
    // 256 calibration digits, int8 agrees on every one (measured): the 95 % interval of a zero drop still reaches
    // 1.48 pp with every layer float, so a 1 pp bound cannot be confirmed; keeping layers float would not change that.
    const mixed = await compressModelFile({ inputPath: CNN, outputPath: join(dir, 'mixed-unconfirmable.onnx'), method: 'int8', dataDir: CALIB, keepFloat: 'auto', maxAccuracyDropPp: 1, noHoldout: true, confidence: 0.95, force: true });
    const accuracy = (mixed.details as { accuracy: { dropPp: number; upperPp: number; confidence: number } }).accuracy;
    expect(accuracy.confidence).toBe(0.95);
    expect(accuracy.dropPp).toBeLessThanOrEqual(1);
    expect(accuracy.upperPp).toBeGreaterThan(1);
    expect(mixed.notes.join('\n')).toMatch(/mixed precision: the 8 calibration set\(s\) cannot confirm a 1 pp bound even with every layer float \(interval up to [\d.]+ pp\): judged on the point estimate; every layer int8/);
    expect(mixed.nodesKeptFloat.filter((k) => k.reason.startsWith('accuracy-sensitive'))).toHaveLength(0);
  });
});
