/**
 * `compress --method plan` on this machine times the quantized variant against fp32 and keeps it only if it is
 * faster (issue 12). No timed assertion: whatever the machine measures, the report must carry the figures and the
 * choice must follow from them (`measuredFaster`), and the written model must hold what the report says it chose.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compressModelFile, type CompressReport } from '../../../src/compress/compress-model.js';
import type { PlanPrecisionCheck } from '../../../src/compress/methods/plan-method.js';
import { quantizationOpCounts } from '../../../src/compress/methods/quantization-methods.js';
import { measuredFaster } from '../../../src/hardware/measured-precision.js';
import type { CompressionPlan } from '../../../src/hardware/planner.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS } from '../../../scripts/lib/photo-datasets.js';
import { tempDir } from '../cli/cli-helpers.js';

const SLOW = 240_000;
const BLAZEFACE = THIRD_PARTY_MODELS.blazeface!;

/** The check in the report agrees with its own numbers, the notes and the file written. */
function expectConsistent(report: CompressReport): PlanPrecisionCheck {
  const details = report.details as { plan: CompressionPlan; precisionCheck: PlanPrecisionCheck; applied: string[] };
  const check = details.precisionCheck;
  expect(check.planned).toBe(details.plan.precision);
  const written = loadModelFile(report.output.path).model;
  const quantized = (quantizationOpCounts(written).QuantizeLinear ?? 0) > 0;
  if (check.notMeasured !== null) {
    // Emulated lane or --no-speed-check: nothing timed, the plan is applied as planned.
    expect(check.measured).toEqual({ int8: null, fp16: null });
    return check;
  }
  const int8 = check.measured.int8!;
  expect(int8, 'int8 timed against fp32').not.toBeNull();
  expect(int8.runs).toBeGreaterThanOrEqual(10);
  expect(int8.speedup).toBeCloseTo(int8.fp32P50Ms / int8.variantP50Ms, 9);
  expect(int8.speedupCi![0]).toBeLessThanOrEqual(int8.speedupCi![1]);
  // fp16 is the next precision only on ARM with fp16 arithmetic (onnxruntime's x86 kernels do not compute in fp16).
  const fp16Possible = details.plan.basis.isa === 'arm64' && details.plan.basis.capabilities.fp16Arith === true;
  if (!fp16Possible || measuredFaster(int8)) expect(check.measured.fp16).toBeNull();
  const expected = measuredFaster(int8) ? 'int8' : check.measured.fp16 && measuredFaster(check.measured.fp16) ? 'fp16' : 'fp32';
  expect(check.chosen).toBe(expected);
  expect(details.applied.includes('int8')).toBe(expected === 'int8');
  expect(quantized).toBe(expected === 'int8');
  // The note a person reads carries the same figures.
  const note = report.notes.find((n) => n.startsWith('measured on this device: '));
  expect(note).toBeDefined();
  expect(note).toContain(`${int8.speedup.toFixed(2)}×`);
  expect(note).toContain(`${int8.runs} alternated runs`);
  expect(note).toContain(expected === 'int8' ? '→ int8' : expected === 'fp16' ? '→ fp16' : 'keep fp32');
  if (expected === 'int8') {
    expect((report.steps?.find((s) => s.pass === 'int8')?.details as { speed?: { speedup: number } }).speed?.speedup).toBe(int8.speedup);
  } else {
    expect(report.nodesChanged).toBe(0); // the fp32 model as it came in
  }
  return check;
}

describe('compress --method plan keeps int8 only where it measures faster than fp32 on this device', () => {
  const dir = tempDir('edgetune-plan-measured-');

  it(
    'BlazeFace (tf2onnx, from npm): the plan keeps fp32 by a rule of thumb; with --data its int8 candidate is built, timed, and kept only if faster',
    async () => {
      const report = await compressModelFile({
        inputPath: modelPath(BLAZEFACE),
        outputPath: join(dir, 'blazeface.onnx'),
        method: 'plan',
        dataDir: photoDataset(BLAZEFACE, 'calibration', 8),
      });
      const check = expectConsistent(report);
      if (check.notMeasured === null) expect(check.tried).toBe('int8');
      const planned = (report.details as { plan: CompressionPlan }).plan;
      if (planned.precision === 'fp32') expect(report.notes.some((n) => n.includes('int8 is built and timed against fp32 on this device'))).toBe(true);
    },
    SLOW,
  );

  it(
    'a model the plan puts in int8 (the residual CNN): timed too, and the choice follows the figures',
    async () => {
      const report = await compressModelFile({
        inputPath: 'test/fixtures/models/mnist-rescnn.onnx',
        outputPath: join(dir, 'rescnn.onnx'),
        method: 'plan',
        dataDir: 'test/fixtures/data/mnist-calib',
      });
      expectConsistent(report);
    },
    SLOW,
  );

  it(
    'planned for another device profile: nothing is timed here, and the report says why',
    async () => {
      const report = await compressModelFile({
        inputPath: 'test/fixtures/models/mnist-rescnn.onnx',
        outputPath: join(dir, 'avx2.onnx'),
        method: 'plan',
        profileName: 'x86-avx2',
        dataDir: 'test/fixtures/data/mnist-calib',
      });
      const check = (report.details as { precisionCheck: PlanPrecisionCheck }).precisionCheck;
      expect(check.notMeasured).toMatch(/planned for profile x86-avx2, not this machine/);
      expect(check.measured).toEqual({ int8: null, fp16: null });
      expect(check.chosen).toBe('int8');
      expect(report.steps?.map((s) => s.pass)).toEqual(['int8']);
    },
    SLOW,
  );
});
