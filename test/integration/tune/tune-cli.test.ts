/** `edgetune tune` through the built bin (run `npm run build` first; `npm test` does). */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../cli/cli-helpers.js';
import { openDataset, sliceBatch } from '../../../src/compress/dataset.js';
import { writeDataset } from '../../../src/compress/dataset-writer.js';

const MLP = resolve('test/fixtures/models/mnist-mlp.onnx');
const TEST = resolve('test/fixtures/data/mnist-test-flat');
const CALIB = resolve('test/fixtures/data/mnist-calib-flat');
const FAST = ['--iterations', '5', '--warmup', '1', '--energy', 'off'];

/** A 12-sample dataset (too small to split in two halves of at least 8). */
function tiny(): string {
  const out = join(tempDir(), 'tiny');
  const set = openDataset(CALIB).load(0);
  writeDataset(out, [{ inputs: set.inputs.map((t) => sliceBatch(t, 0, 12)), labels: sliceBatch(set.labels!, 0, 12) }]);
  return out;
}

describe('edgetune tune', () => {
  const dir = tempDir('edgetune-tune-cli-');
  const work = join(dir, 'work');
  const out = join(dir, 'chosen.onnx');
  const report = join(dir, 'report.html');

  it('--json prints one JSON object with the SPEC tune fields, writes -o and the report', () => {
    const r = runCli(['tune', MLP, '--data', TEST, '--calib', CALIB, '--candidates', 'int8-dyn,int4', '--max-accuracy-drop', '1', '--max-size-mb', '1.5', '--objective', 'size', ...FAST, '--work-dir', work, '-o', out, '--report', report, '--json']);
    expect(r.stderr).toContain('[1/3] fp32');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['baseline', 'candidates', 'chosen', 'constraints', 'report']));
    expect(j.baseline).toMatchObject({ id: 'fp32', sizeBytes: readFileSync(MLP).length });
    expect(j.baseline.latencyMs).toBeGreaterThan(0);
    expect(j.candidates.map((c: { id: string }) => c.id)).toEqual(['fp32', 'int8-dyn', 'int4']);
    for (const c of j.candidates) {
      expect(Object.keys(c)).toEqual(expect.arrayContaining(['id', 'methods', 'latencyMs', 'sizeBytes', 'peakRssBytes', 'joulesPerInference', 'accuracyDrop', 'pareto']));
      expect(c.joulesPerInference).toBeNull(); // --energy off
    }
    const fp32 = j.candidates[0];
    expect(fp32.methods).toEqual(['fp32']);
    // 2 MiB fp32 misses --max-size-mb 1.5: not on the front, and the JSON says why.
    expect(fp32.pareto).toBe(false);
    expect(fp32.violations[0]).toMatch(/^--max-size-mb: 2\.04 MiB > 1\.5 MB/);
    expect(j.constraints).toEqual({ maxAccuracyDropPp: 1, maxLatencyMs: null, maxMemoryMb: null, maxSizeMb: 1.5 });
    // Objective size: int4 is the smallest, if it keeps accuracy within the bound.
    const int4 = j.candidates.find((c: { id: string }) => c.id === 'int4');
    if (int4.state === 'done' && int4.accuracyDrop <= 1) expect(j.chosen).toBe('int4');
    expect(j.chosen).not.toBeNull();
    const chosen = j.candidates.find((c: { id: string }) => c.id === j.chosen);
    expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(chosen.sha256);
    expect(j.report).toBe(report);
    expect(readFileSync(report, 'utf8')).toContain('<svg xmlns="http://www.w3.org/2000/svg" id="pareto-chart"');
  });

  it('a second run continues from the store and prints the table', () => {
    const r = runCli(['tune', MLP, '--data', TEST, '--calib', CALIB, '--candidates', 'int8-dyn,int4', '--max-accuracy-drop', '1', '--max-size-mb', '1.5', '--objective', 'size', ...FAST, '--work-dir', work]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^fp32\s+done \(stored\)/m);
    expect(r.stdout).toMatch(/^int8-dyn\s.*done \(stored\)/m);
    expect(r.stdout).toMatch(/^chosen: /m);
    expect(r.stderr).not.toContain(': build');
  });

  it('bad input exits 2 with a message naming the problem, and writes nothing', () => {
    const bad = join(dir, 'bad');
    const o = join(bad, 'x.onnx');
    const rep = join(bad, 'x.html');
    mkdirSync(bad); // the outputs' directory exists: each case is refused for its own reason (issue 20)
    const cases: Array<[string[], RegExp]> = [
      [['tune', join(dir, 'missing.onnx')], /model file '.*missing\.onnx' does not exist \[MODEL_INVALID\]/],
      [['tune', MLP, '--report', join(bad, 'r.txt')], /--report must name a \.md or \.html file/],
      [['tune', MLP, '--max-accuracy-drop', '1'], /--max-accuracy-drop needs --data DIR/],
      [['tune', MLP, '--objective', 'speed'], /Invalid values|objective/],
      [['tune', MLP, '--max-latency-ms', '-5'], /--max-latency-ms must be a number > 0; got -5/],
      [['tune', MLP, '-o', MLP], /never overwrites its input/],
      [['tune', MLP, '--candidates', 'int9'], /unknown candidate id\(s\) int9/],
      [['tune', MLP, '--data', join(dir, 'nowhere')], /DATASET_INVALID/],
      [['tune', MLP, '--batch', '0'], /--batch must be an integer ≥ 1/],
      [['tune', MLP, '--confidence', '1'], /--confidence must be 0 \(point estimates\) or in \(0, 1\); got 1/],
      [['tune', MLP, '--data', CALIB, '--val-data', CALIB], /--val-data .* is the calibration data itself.*\[DATASET_INVALID\]/],
      [['tune', MLP, '--data', tiny()], /--data has 12 samples: a 50 % validation split leaves 6 to judge on, fewer than 8; give --val-data DIR or --no-holdout.*\[DATASET_INVALID\]/],
    ];
    for (const [args, message] of cases) {
      const r = runCli([...args, '--work-dir', join(bad, 'work'), ...(args.includes('-o') ? [] : ['-o', o]), ...(args.includes('--report') ? [] : ['--report', rep])]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(existsSync(o)).toBe(false);
    expect(existsSync(rep)).toBe(false);
    if (existsSync(bad)) expect(readdirSync(bad).filter((f) => f !== 'work')).toEqual([]);
  });
});
