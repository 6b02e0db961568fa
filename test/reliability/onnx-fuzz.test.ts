/**
 * ONNX fuzzing through the library entry points (issue 8, "Bad input"): mutated models built from the MNIST
 * fixtures and a small hand-built CNN go through compressModelFile (fp16, int4, int8-dynamic, int8 with
 * calibration data) and evaluateModelFiles (as the model and as the reference). Each must end refused with an
 * EdgetuneError of a bad-input code (CLI exit 2), or with a valid result whose output onnxruntime loads; never
 * another exception, a hang past the per-case limit, runaway memory, a dead worker, or a file left behind.
 *
 * Reproduce or scale: EDGETUNE_FUZZ_SEED, EDGETUNE_FUZZ_COUNT (default 1000), EDGETUNE_FUZZ_CASES=i,j (rerun
 * cases), EDGETUNE_FUZZ_KIND (force one mutation kind). See fuzz/fuzz-settings.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFuzzCases, summarize } from './fuzz/fuzz-harness.js';
import { MUTATION_KINDS } from './fuzz/model-mutations.js';
import { describeFinding, fuzzSettings } from './fuzz/fuzz-settings.js';

const settings = fuzzSettings();
const indices = settings.only ?? Array.from({ length: settings.count }, (_, i) => i);
const workDir = mkdtempSync(join(tmpdir(), 'edgetune-fuzz-'));

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('ONNX fuzzing: mutated models through compress and eval', () => {
  it(`${indices.length} mutated models (seed ${settings.seed}) are each refused with a bad-input code or give a valid result`, async () => {
    const started = performance.now();
    const records = await runFuzzCases({
      seed: settings.seed,
      indices,
      workDir,
      repoRoot: process.cwd(),
      caseTimeoutMs: settings.caseTimeoutMs,
      memoryLimitBytes: 3 * 1024 ** 3,
      ...(settings.kind ? { forceKind: settings.kind } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    const summary = summarize(records);
    const refused = records.filter((r) => r.outcome.kind === 'refused').length;
    const ok = records.filter((r) => r.outcome.kind === 'ok').length;
    console.log(`onnx fuzz: ${records.length} cases in ${seconds.toFixed(1)} s: ${refused} refused, ${ok} valid results; codes ${JSON.stringify(summary.codes)}`);
    console.log(`by mutation: ${JSON.stringify(summary.byMutation)}`);
    console.log(`by target: ${JSON.stringify(summary.byTarget)}`);

    const findings = records.filter((r) => r.outcome.kind !== 'refused' && r.outcome.kind !== 'ok');
    expect(findings.map((r) => describeFinding(r, settings, 'test/reliability/onnx-fuzz.test.ts'))).toEqual([]);
    expect(records.map((r) => r.index)).toEqual(indices);
    if (!settings.only && !settings.kind && indices.length >= 500) {
      // The run means something only if every mutation kind was tried and both endings occurred.
      expect(new Set(records.map((r) => r.mutation))).toEqual(new Set(MUTATION_KINDS));
      expect(refused).toBeGreaterThan(indices.length / 2);
      expect(ok).toBeGreaterThan(0);
    }
  }, Math.max(240_000, indices.length * 2_000));
});
