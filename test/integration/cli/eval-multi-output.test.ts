import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS } from '../../../scripts/lib/photo-datasets.js';

// The CLI runs from dist/ (the test script builds it first).
const BLAZEFACE = THIRD_PARTY_MODELS.blazeface!;

describe('edgetune eval on a model with several outputs (BlazeFace, 4 outputs)', () => {
  let compressed: string;
  let data: string;
  beforeAll(() => {
    const dir = tempDir();
    data = photoDataset(BLAZEFACE, 'evaluation', 3);
    compressed = join(dir, 'fp16.onnx');
    const r = runCli(['compress', modelPath(BLAZEFACE), '-o', compressed, '--method', 'fp16', '--data', photoDataset(BLAZEFACE, 'calibration', 3), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { fidelity: { judgedOn: string; outputs: unknown[]; worstOutput: string; cosine: number } };
    expect(report.fidelity.judgedOn).toBe('calibration');
    expect(report.fidelity.outputs).toHaveLength(4);
    expect(report.fidelity.cosine).toBeGreaterThan(0.999);
  });

  it('--json: outputs (one entry per output) and worstOutput, whose cosine is the top-level one', () => {
    const r = runCli(['eval', compressed, '--data', data, '--reference', modelPath(BLAZEFACE), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      samples: number;
      cosine: number;
      sqnrDb: number;
      outputs: Array<{ name: string; cosine: number; sqnrDb: number; maxAbsError: number; collapsed: boolean }>;
      worstOutput: string;
    };
    expect(result.samples).toBe(3);
    expect(result.outputs.map((o) => o.name)).toEqual(['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0']);
    for (const o of result.outputs) {
      expect(o.cosine).toBeGreaterThan(0.999);
      expect(o.cosine).toBeLessThanOrEqual(1 + 1e-9);
      expect(typeof o.sqnrDb).toBe('number');
      expect(o.collapsed).toBe(false);
    }
    const worst = result.outputs.find((o) => o.name === result.worstOutput)!;
    expect(worst.cosine).toBeCloseTo(Math.min(...result.outputs.map((o) => o.cosine)), 12);
    expect(result.cosine).toBeCloseTo(worst.cosine, 12);
    expect(result.sqnrDb).toBeCloseTo(worst.sqnrDb, 9);
  });

  it('text: one line per output with its cosine and SQNR', () => {
    const r = runCli(['eval', compressed, '--data', data, '--reference', modelPath(BLAZEFACE)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/worst output 'Identity(_\d)?:0'/);
    const lines = r.stdout.split('\n').filter((l) => /^ {2}output '/.test(l));
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l).toMatch(/cosine \d\.\d{5} {2}SQNR -?\d+\.\d{2} dB/);
    expect(r.stdout).not.toMatch(/COLLAPSED/);
  });

  it('without a reference (and no labels) there is nothing to score: exit 2, not a row of n/a (issue 20)', () => {
    const r = runCli(['eval', compressed, '--data', data, '--json']);
    expect(r.status, r.stderr).toBe(2);
    const result = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(result.error.code).toBe('USAGE');
    expect(result.error.message).toMatch(/no label\.pb .*--reference MODEL/);
  });
});
