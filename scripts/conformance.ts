/**
 * Conformance of `compress` with the ONNX backend test suite (issue 19): every model of Debian's `libonnx-testdata`
 * through every method, each result either a model onnxruntime loads that matches the recorded outputs within the
 * method's tolerance, or a refusal (exit 2) with nothing written. The outcomes and tolerances are described in
 * scripts/lib/onnx-suite.ts; the test lane test/conformance/onnx-suite.test.ts runs a rotating slice of the same.
 *
 *   npx tsx scripts/conformance.ts [--method fp16,int8-dynamic,int4,sparsity,lowrank,int8] [--filter SUBSTR]
 *                                  [--json OUT.json] [--workers 2] [--timeout-s 120] [--root DIR]
 *
 * Prints a tally per method (applicable, matched, mismatched, unusable, refused with the top reasons, misrefused,
 * pass-failed, gated, crashed, timeout) and every case that is a defect, with its message. Writes `.cache/conformance/results.json`
 * (and OUT.json with --json). Exit 0 whatever was found: the findings are the output.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDefect, listSuiteModels, runSuite, SUITE_METHODS, SUITE_ROOT, tallyMethod, type MethodTally, type SuiteMethod } from './lib/onnx-suite.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.cache', 'conformance');

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const methods = (option('method')?.split(',') ?? [...SUITE_METHODS]) as SuiteMethod[];
for (const m of methods) if (!(SUITE_METHODS as readonly string[]).includes(m)) throw new RangeError(`--method: '${m}' is not one of ${SUITE_METHODS.join(', ')}`);
const filter = option('filter');
const jsonPath = option('json');
const workers = Number(option('workers') ?? Math.min(2, cpus().length));
const caseTimeoutMs = Number(option('timeout-s') ?? 120) * 1000;
const suiteRoot = option('root') ?? SUITE_ROOT;

const listing = listSuiteModels(suiteRoot);
const models = listing.models.filter((m) => !filter || m.id.includes(filter));
const workDir = mkdtempSync(join(tmpdir(), 'edgetune-conformance-'));
const startedAt = new Date().toISOString();
const commit = git(['rev-parse', 'HEAD']);
// Uncommitted changes under src/ when the run started (others edit concurrently): the run tested the working tree.
const srcChanges = git(['status', '--short', '--', 'src']).split('\n').filter(Boolean);
console.log(
  `ONNX backend test suite at ${suiteRoot}: ${listing.models.length} models (${listing.withoutModel.length} test dirs without model.onnx left out: ${listing.withoutModel.join(', ') || 'none'})`,
);
console.log(`running ${models.length} models × ${methods.length} methods (${methods.join(', ')}) on ${workers} workers, ${caseTimeoutMs / 1000} s per case`);

let lastProgress = 0;
const run = await runSuite(models, {
  methods,
  workDir,
  workers,
  caseTimeoutMs,
  onResult: (r, done, total) => {
    if (isDefect(r)) console.log(`  ${r.outcome.toUpperCase()} ${r.model} --method ${r.method}: ${r.message}`);
    if (done - lastProgress >= 200 || done === total) {
      lastProgress = done;
      console.log(`[${done}/${total}] ${((performance.now() / 1000) | 0)} s`);
    }
  },
});
rmSync(workDir, { recursive: true, force: true });

// Results in suite order, methods in the order asked (the workers finish out of order).
const order = new Map(models.map((m, i) => [m.id, i]));
const results = run.results.sort((a, b) => order.get(a.model)! - order.get(b.model)! || methods.indexOf(a.method as SuiteMethod) - methods.indexOf(b.method as SuiteMethod));
const tallies = methods.map((m) => tallyMethod(m, results));
const notApplicable = Object.entries(run.originals).filter(([, c]) => !c.applicable);

console.log(`\nwall time ${(run.seconds / 60).toFixed(1)} min; ${models.length - notApplicable.length} of ${models.length} models applicable (onnxruntime runs the original and matches the recorded outputs)`);
console.log(tallyTable(tallies));
for (const t of tallies) {
  if (t.refusalReasons.length === 0) continue;
  console.log(`\n${t.method}: refusals by reason (${t.refused})`);
  for (const r of t.refusalReasons.slice(0, 12)) console.log(`  ${String(r.count).padStart(4)}  ${r.reason}\n          e.g. ${r.example.slice(0, 220)}`);
  if (t.refusalReasons.length > 12) console.log(`  … ${t.refusalReasons.length - 12} more reasons`);
}
const defects = results.filter(isDefect);
console.log(`\ndefects (${defects.length}): every case that is neither matched nor refused (nor, where onnxruntime fails the original, unverified)`);
for (const d of defects) console.log(`  ${d.outcome.padEnd(11)} ${d.method.padEnd(12)} ${d.model}${d.applicable ? '' : ' (n/a)'}: ${d.message.slice(0, 400)}`);
console.log(`\nnot applicable (${notApplicable.length}), by reason:`);
for (const [reason, count] of groupCounts(notApplicable.map(([, c]) => c.reason)).slice(0, 12)) console.log(`  ${String(count).padStart(4)}  ${reason}`);

const record = {
  startedAt,
  suiteRoot,
  command: `npx tsx scripts/conformance.ts ${argv.join(' ')}`.trim(),
  commit,
  srcChanges,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  wallSeconds: run.seconds,
  models: models.length,
  withoutModel: listing.withoutModel,
  methods,
  tallies,
  notApplicable: Object.fromEntries(notApplicable.map(([id, c]) => [id, c.reason])),
  results,
};
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'results.json'), `${JSON.stringify(record, null, 1)}\n`);
if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify(record, null, 1)}\n`);
console.log(`\nwrote ${join(OUT, 'results.json')}${jsonPath ? ` and ${jsonPath}` : ''}`);

function tallyTable(ts: readonly MethodTally[]): string {
  const columns: Array<[string, (t: MethodTally) => string]> = [
    ['method', (t) => t.method],
    ['models', (t) => String(t.cases)],
    ['n/a', (t) => String(t.notApplicable)],
    ['applicable', (t) => String(t.applicable)],
    ['matched', (t) => `${t.matched} (${t.matchedChanged} changed)`],
    ['mismatched', (t) => String(t.mismatched)],
    ['unusable', (t) => String(t.unusable)],
    ['refused', (t) => String(t.refused)],
    ['misrefused', (t) => String(t.misrefused)],
    ['pass-failed', (t) => String(t.passFailed)],
    ['gated', (t) => String(t.gated)],
    ['crashed', (t) => String(t.crashed)],
    ['timeout', (t) => String(t.timeout)],
    ['n/a outcomes', (t) => Object.entries(t.notApplicableOutcomes).map(([o, n]) => `${o} ${n}`).join(', ')],
  ];
  const rows = [columns.map(([h]) => h), ...ts.map((t) => columns.map(([, f]) => f(t)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`).join('\n');
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function groupCounts(values: readonly string[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const v of values) {
    const key = v.replace(/'[^']*'/g, "'…'").replace('onnxruntime cannot load the original: onnxruntime could not load the model: ', 'cannot load: ').replace(/\b\d+(\.\d+)?\b/g, 'N').slice(0, 150);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}
