/**
 * The fidelity gate of `edgetune compress` (issue 13), through the built CLI: a variant that collapses (a real,
 * deliberately broken compression: 99.9 % of the weights zeroed) is refused with exit 1 and FIDELITY_FAILED and
 * nothing is written, unless --force; a bound is judged on held-out data and on the upper end of its interval;
 * bad validation data is refused with exit 2.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';

const RESCNN = 'test/fixtures/models/mnist-rescnn.onnx';
const CALIB = 'test/fixtures/data/mnist-calib';
const TEST = 'test/fixtures/data/mnist-test';
const TEST_FLAT = 'test/fixtures/data/mnist-test-flat';

interface CompressJson {
  notes: string[];
  fidelity: {
    judgedOn: string;
    samples: number;
    accuracy: { metric: string; drop: number; ci: [number, number]; samples: number; judgedOn: string } | null;
    bound: { met: boolean; unconfirmed: boolean; samplesNeeded: number | null } | null;
    gate: { passed: boolean; failures: string[]; forced: boolean };
    split: { fit: { samples: number }; validation: { samples: number }; stratified: boolean } | null;
  };
}

describe('compress: the fidelity gate', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  const noLeftovers = (): void => expect(readdirSync(dir).filter((f) => f.includes('edgetune-tmp') || f.includes('partial'))).toEqual([]);

  it('a collapsed variant: exit 1, FIDELITY_FAILED naming the collapse, nothing written', () => {
    const out = join(dir, 'collapsed.onnx');
    const r = runCli(['compress', RESCNN, '-o', out, '--method', 'sparsity', '--ratio', '0.999', '--data', CALIB]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/fails the fidelity gate/);
    expect(r.stderr).toMatch(/predicts class \d+ for all 256 samples/);
    expect(r.stderr).toMatch(/\[FIDELITY_FAILED\]/);
    expect(existsSync(out)).toBe(false);
    noLeftovers();
  });

  it('without data the gate runs on synthesized inputs and still refuses the collapsed variant', () => {
    const out = join(dir, 'collapsed-nodata.onnx');
    const r = runCli(['compress', RESCNN, '-o', out, '--method', 'sparsity', '--ratio', '0.999']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/synthesized inputs/);
    expect(r.stderr).toMatch(/\[FIDELITY_FAILED\]/);
    expect(existsSync(out)).toBe(false);
  });

  it('--force writes it and says so first', () => {
    const out = join(dir, 'forced.onnx');
    const r = runCli(['compress', RESCNN, '-o', out, '--method', 'sparsity', '--ratio', '0.999', '--data', CALIB, '--force', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as CompressJson;
    expect(report.notes[0]).toMatch(/^FORCED: written although/);
    expect(report.fidelity.gate).toMatchObject({ passed: false, forced: true });
    expect(existsSync(out)).toBe(true);
    const human = runCli(['compress', RESCNN, '-o', join(dir, 'forced2.onnx'), '--method', 'sparsity', '--ratio', '0.999', '--data', CALIB, '--force']);
    expect(human.stdout.split('\n')[0]).toMatch(/^FORCED:/);
  });

  it('a faithful variant passes, its fidelity judged on the calibration data when no bound is given', () => {
    const r = runCli(['compress', RESCNN, '-o', join(dir, 'fp16.onnx'), '--method', 'fp16', '--data', CALIB, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const f = (JSON.parse(r.stdout) as CompressJson).fidelity;
    expect(f.gate.passed).toBe(true);
    expect(f.judgedOn).toBe('calibration');
    expect(f.split).toBeNull();
  });

  it('a bound splits --data and is checked on the held-out half: 128 samples cannot confirm 1 pp', () => {
    const out = join(dir, 'bound.onnx');
    const r = runCli(['compress', RESCNN, '-o', out, '--method', 'int8', '--data', CALIB, '--max-accuracy-drop', '1', '--no-speed-check']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/judged on 128 held-out validation samples/);
    expect(r.stderr).toMatch(/cannot be confirmed; about \d+ validation samples would/);
    expect(existsSync(out)).toBe(false);
  });

  it('with --val-data of 2,000 held-out digits the same bound is confirmed, with its interval', () => {
    const r = runCli(['compress', RESCNN, '-o', join(dir, 'val.onnx'), '--method', 'int8', '--data', CALIB, '--val-data', TEST, '--max-accuracy-drop', '1', '--no-speed-check', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const f = (JSON.parse(r.stdout) as CompressJson).fidelity;
    expect(f.judgedOn).toBe('validation');
    expect(f.samples).toBe(2000);
    expect(f.accuracy!.metric).toBe('top1');
    expect(f.accuracy!.ci[0]).toBeLessThanOrEqual(f.accuracy!.drop);
    expect(f.accuracy!.ci[1]).toBeGreaterThanOrEqual(f.accuracy!.drop);
    expect(f.accuracy!.ci[1]).toBeLessThanOrEqual(1);
    expect(f.bound!.met).toBe(true);
  });

  it('--no-holdout judges the bound on the fitted data and says so', () => {
    const r = runCli(['compress', RESCNN, '-o', join(dir, 'noholdout.onnx'), '--method', 'fp16', '--data', CALIB, '--max-accuracy-drop', '5', '--no-holdout', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as CompressJson;
    expect(report.fidelity.judgedOn).toBe('calibration');
    expect(report.notes.join('\n')).toMatch(/judged on calibration data \(256 samples the variant was fitted to\)/);
    expect(report.notes.some((n) => n.startsWith('the fidelity above is not a held-out figure') && n.includes('--val-data DIR'))).toBe(true);
  });

  describe('bad validation data: exit 2, a message naming the problem, nothing written', () => {
    const refused = (valData: string, pattern: RegExp): void => {
      const out = join(dir, 'refused.onnx');
      const r = runCli(['compress', RESCNN, '-o', out, '--method', 'int8', '--data', CALIB, '--val-data', valData, '--max-accuracy-drop', '1']);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(existsSync(out)).toBe(false);
    };
    it('the calibration data itself', () => refused(CALIB, /is the calibration data itself.*\[DATASET_INVALID\]/));
    it('a copy of one calibration set among others', () => {
      const val = join(dir, 'overlap');
      for (const [i, src] of [[0, join(TEST, 'test_data_set_0')], [1, join(CALIB, 'test_data_set_3')]] as const) {
        mkdirSync(join(val, `test_data_set_${i}`), { recursive: true });
        for (const f of readdirSync(src)) copyFileSync(join(src, f), join(val, `test_data_set_${i}`, f));
      }
      refused(val, /shares 1 set\(s\) with the calibration data.*\[DATASET_INVALID\]/);
    });
    it('samples of another shape', () => refused(TEST_FLAT, /--val-data.*\[DATASET_INVALID\]/));
    it('no labels where the calibration data has them', () => {
      const val = join(dir, 'unlabelled');
      mkdirSync(join(val, 'test_data_set_0'), { recursive: true });
      copyFileSync(join(TEST, 'test_data_set_0', 'input_0.pb'), join(val, 'test_data_set_0', 'input_0.pb'));
      refused(val, /has no label\.pb.*top-1 is the metric.*\[DATASET_INVALID\]/);
    });
  });
});
