/** `edgetune profile`'s text report says which idle figure is which and flags a noisy machine (issue 20). */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { formatProfile } from '../../../src/cli/commands/profile.js';
import { latencyNoiseWarning, NOISY_LATENCY_CV } from '../../../src/profile/latency-stats.js';
import type { ProfileResult } from '../../../src/profile/profile-types.js';
import { convNet } from '../../unit/profile/profile-test-models.js';

// The CLI runs from dist/ (the test script builds it first).
const BIN = resolve(import.meta.dirname, '../../../bin/edgetune.js');
let dir: string;

function edgetune(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const ESTIMATE = ['--energy', 'estimate', '--baseline-seconds', '0.6', '--energy-seconds', '0.6', '--iterations', '20', '--warmup', '2'];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-profile-text-'));
  writeFileSync(join(dir, 'conv.onnx'), encodeModel(convNet()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edgetune profile: the energy lines name each idle figure', () => {
  it('the measured idle baseline and the power model idle are told apart, never a bare "idle"', async () => {
    const r = await edgetune(['profile', 'conv.onnx', ...ESTIMATE]);
    expect(r.code, r.stderr).toBe(0);
    const energy = r.stdout.split('\n').filter((l, i, all) => /^energy /.test(l) || (i > 0 && /^energy /.test(all[i - 1]!)) || (i > 1 && /^energy /.test(all[i - 2]!)));
    const text = energy.join('\n');
    expect(text).toMatch(/measured idle baseline \d+\.\d{2} W \(0\.6 s before the runs, model loaded\)/);
    expect(text).toMatch(/power-model idle \d+(\.\d+)? W, max \d+(\.\d+)? W/);
    expect(text).toMatch(/dynamic, above the idle baseline: -?\d+\.\d{2} mJ/);
    // Every "idle" figure says which idle it is.
    expect(text.match(/\bidle \d/g) ?? []).toHaveLength(1); // only "power-model idle N W"
    expect(text).not.toMatch(/, idle \d/);
  });
});

describe('edgetune profile: a noisy machine gets a warning line', () => {
  let result: ProfileResult;
  beforeAll(async () => {
    const r = await edgetune(['profile', 'conv.onnx', '--energy', 'off', '--iterations', '20', '--warmup', '2', '--threads', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    result = JSON.parse(r.stdout) as ProfileResult;
  });

  const withCv = (cv: number): ProfileResult => ({ ...result, latencyMs: { ...result.latencyMs, cv } });

  it('a CV above 20 % warns, naming the CV and suggesting more --iterations and --threads 1', () => {
    const text = formatProfile(withCv(0.35));
    expect(text).toMatch(/^warning +latency CV 35\.0 % is above 20 %: the machine was noisy .*more --iterations \(20 now\) or --threads 1 \(2 now\)$/m);
  });

  it('no warning at or below the threshold; one thread is not suggested to a one-thread run', () => {
    expect(formatProfile(withCv(NOISY_LATENCY_CV))).not.toMatch(/^warning/m);
    expect(formatProfile(withCv(0.05))).not.toMatch(/^warning/m);
    expect(latencyNoiseWarning({ cv: 0.5 }, 100, 1)).toMatch(/repeat with more --iterations \(100 now\)$/);
  });
});
