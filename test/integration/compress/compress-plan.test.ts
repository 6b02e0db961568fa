import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModelFiles } from '../../../src/compress/evaluate-files.js';

const CNN = 'test/fixtures/models/mnist-rescnn.onnx';
const CALIB = 'test/fixtures/data/mnist-calib';

describe('compress --method plan applies what the planner chose for the device', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-plan-'));

  it('x86 with AVX2 and no VNNI: static int8 with 7-bit weights (reduce_range)', async () => {
    const report = await compressModelFile({ inputPath: CNN, outputPath: join(dir, 'avx2.onnx'), method: 'plan', profileName: 'x86-avx2', dataDir: CALIB });
    const plan = (report.details as { plan: { precision: string; reduceRange: boolean } }).plan;
    expect(plan.precision).toBe('int8');
    expect(plan.reduceRange).toBe(true);
    expect(report.steps?.map((s) => s.pass)).toEqual(['int8']);
    expect(report.steps?.[0]?.details?.reduceRange).toBe(true);
    const ev = await evaluateModelFiles({ modelPath: join(dir, 'avx2.onnx'), dataDir: 'test/fixtures/data/mnist-test', referencePath: CNN });
    expect(ev.agreement!).toBeGreaterThan(0.98);
  });

  it('Raspberry Pi 4 (no int8 dot product): keeps fp32 and says to verify on the device', async () => {
    const report = await compressModelFile({ inputPath: CNN, outputPath: join(dir, 'pi4.onnx'), method: 'plan', profileName: 'pi4' });
    const plan = (report.details as { plan: { precision: string; verifyOnDevice: boolean } }).plan;
    expect(plan.precision).toBe('fp32');
    expect(plan.verifyOnDevice).toBe(true);
    expect(report.notes.join('\n')).toMatch(/keeps fp32/);
    expect(report.sizeRatio).toBeGreaterThan(0.95);
  });
});
