/**
 * Conformance lane over the ONNX backend test suite (issue 19; Debian's libonnx-testdata, installed by .ci/run):
 * a FIXED ROTATION SAMPLE of the suite through every method — the models whose index (in the sorted listing of
 * `listSuiteModels`) mod ROTATION equals the UTC day of the year mod ROTATION — so that ROTATION successive days
 * cover every model. The full suite is `npx tsx scripts/conformance.ts` (about 2 minutes here); RELIABILITY.md records
 * its tally. Outcomes and tolerances: scripts/lib/onnx-suite.ts.
 *
 * Fails on any crash, timeout, exit 0 with an unusable model, mismatch beyond the method's tolerance, MODEL_INVALID
 * blamed on a model onnxruntime runs and matches, fidelity-gate refusal or PASS_FAILED — unless the (model, method)
 * pair is in KNOWN_FAILURES with the same outcome. A known pair that now passes (or fails differently) fails the lane
 * too, with "remove it from KNOWN_FAILURES": the list only shrinks as fixes land. Refusals (exit 2, nothing written)
 * pass; the tally printed by the lane counts them.
 *
 *   EDGETUNE_CONFORMANCE_SLICE=3 npx vitest run test/conformance   # another day's slice
 *   EDGETUNE_CONFORMANCE_SLICE=all npx vitest run test/conformance # the whole suite
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isDefect,
  listSuiteModels,
  runSuite,
  SUITE_METHODS,
  SUITE_ROOT,
  tallyMethod,
  type CaseOutcome,
  type SuiteMethod,
  type SuiteModel,
  type SuiteRun,
} from '../../scripts/lib/onnx-suite.js';

/**
 * Slices of the rotation. The whole suite (1,072 models × 6 methods) takes about 2.2 min on this 2-core machine
 * alone; a quarter keeps the lane well under 3 min while `npm test` runs other files beside it.
 */
const ROTATION = 4;
/** Models above this size are left to scripts/conformance.ts (the suite has none today: all are < 1 MB). */
const MAX_MODEL_BYTES = 50 * 2 ** 20;
/** A case past this is killed and counted as a timeout (the slowest case of a full run takes about 2 s). */
const CASE_TIMEOUT_MS = 120_000;

/**
 * Failures known today, grouped by cause: `message` is the observed one, `why` the cause as far as it is known.
 * From the full-suite run recorded in RELIABILITY.md ("ONNX backend test suite (issue 19)"). Delete a model when the
 * lane says FIXED; never add one to make a new failure pass without a reason in `why`.
 */
interface KnownFailureGroup {
  method: SuiteMethod;
  outcome: CaseOutcome;
  message: string;
  why: string;
  models: string[];
}

// Empty since the session of 2026-12-02 fixed the last three groups (int8 misrefusing integer-only graphs, Unique's
// int64 outputs and sequence values taken for float tensors by calibration).
const KNOWN_FAILURE_GROUPS: KnownFailureGroup[] = [];

/** (model|method) → its known failure. */
const KNOWN_FAILURES: ReadonlyMap<string, KnownFailureGroup> = new Map(KNOWN_FAILURE_GROUPS.flatMap((g) => g.models.map((m) => [`${m}|${g.method}`, g] as const)));

function rotationSlice(): number | 'all' {
  const forced = process.env.EDGETUNE_CONFORMANCE_SLICE;
  if (forced === 'all') return 'all';
  if (forced !== undefined) {
    const n = Number(forced);
    if (!Number.isInteger(n) || n < 0 || n >= ROTATION) throw new RangeError(`EDGETUNE_CONFORMANCE_SLICE must be 'all' or 0..${ROTATION - 1}, got '${forced}'`);
    return n;
  }
  const now = new Date();
  const dayOfYear = Math.floor((Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - Date.UTC(now.getUTCFullYear(), 0, 1)) / 86_400_000);
  return dayOfYear % ROTATION;
}

const available = existsSync(SUITE_ROOT);
const listing = available ? listSuiteModels() : { models: [], withoutModel: [] };
const slice = available ? rotationSlice() : 0;
const sample: SuiteModel[] = listing.models.filter((m, i) => (slice === 'all' || i % ROTATION === slice) && m.sizeBytes <= MAX_MODEL_BYTES);

describe.skipIf(!available)(`ONNX backend test suite, slice ${slice} of ${ROTATION}: a valid, matching result or a refusal`, () => {
  let run: SuiteRun;
  const workDir = mkdtempSync(join(tmpdir(), 'edgetune-conformance-'));

  beforeAll(async () => {
    run = await runSuite(sample, { methods: SUITE_METHODS, workDir, workers: 2, caseTimeoutMs: CASE_TIMEOUT_MS });
    const lines = SUITE_METHODS.map((m) => {
      const t = tallyMethod(m, run.results);
      return `  ${m.padEnd(12)} applicable ${t.applicable}, matched ${t.matched} (${t.matchedChanged} changed), mismatched ${t.mismatched}, unusable ${t.unusable}, refused ${t.refused}, misrefused ${t.misrefused}, pass-failed ${t.passFailed}, gated ${t.gated}, crashed ${t.crashed}, timeout ${t.timeout}; n/a ${t.notApplicable}`;
    });
    console.log(`conformance slice ${slice} of ${ROTATION}: ${sample.length} models × ${SUITE_METHODS.length} methods in ${run.seconds.toFixed(0)} s\n${lines.join('\n')}`);
  }, 20 * 60_000);

  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('runs every (model, method) pair of the slice', () => {
    expect(sample.length).toBeGreaterThan(0);
    expect(run.results).toHaveLength(sample.length * SUITE_METHODS.length);
  });

  it('never exits 0 with a model onnxruntime cannot load or run, nor leaves an output behind a failure', () => {
    const unusable = run.results.filter((r) => r.outcome === 'unusable').map((r) => `${r.model} --method ${r.method}: ${r.message}`);
    expect(unusable).toEqual([]);
  });

  it.each(SUITE_METHODS)('%s: no failure outside KNOWN_FAILURES, and no known failure that now passes', (method) => {
    const problems: string[] = [];
    for (const r of run.results.filter((x) => x.method === method)) {
      const key = `${r.model}|${r.method}`;
      const known = KNOWN_FAILURES.get(key);
      if (isDefect(r)) {
        if (!known) problems.push(`NEW ${r.outcome}: ${key}: ${r.message}`);
        else if (known.outcome !== r.outcome) problems.push(`CHANGED ${known.outcome} → ${r.outcome}: ${key}: ${r.message} (update KNOWN_FAILURES)`);
      } else if (known) {
        problems.push(`FIXED: ${key} is now ${r.outcome}: remove it from KNOWN_FAILURES`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('KNOWN_FAILURES names models of the suite, each pair once', () => {
    const ids = new Set(listing.models.map((m) => m.id));
    const pairs = KNOWN_FAILURE_GROUPS.flatMap((g) => g.models.map((m) => `${m}|${g.method}`));
    expect(pairs.filter((p) => !ids.has(p.split('|')[0]!))).toEqual([]);
    expect(new Set(pairs).size).toBe(pairs.length);
  });
});
