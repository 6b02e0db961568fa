/**
 * `prune + int8` on PP-OCRv4 det (issue 15's last target: ≥ 1.8× faster than fp32 at worst-output cosine ≥ 0.95), for
 * BENCHMARKS.md. Every variant is built through the CLI, as a user would chain it (there is no chained METHOD: one
 * `compress` per step, the int8 step calibrating on the pruned model):
 *
 *   edgetune compress det.onnx --method prune [--allocate sensitivity] --ratio R --data CALIB -o pruned.onnx
 *   edgetune compress pruned.onnx --method int8 --data CALIB -o pruned-int8.onnx
 *
 * Calibration: crops of the calibration photos; judged on crops of the other photos (scripts/lib/photo-datasets.ts),
 * against the fp32 original: mean per-sample cosine, pooled cosine, R² and SQNR of the (single) output. Latency: every
 * variant and fp32 alternating run by run in one process (fp32, v1, v2, …, fp32, v1, …), p50 of each, speed-up over
 * fp32's p50, at 1 and 2 intra-op threads.
 *
 *   npx tsx scripts/bench-prune-int8.ts [--calib 32] [--eval 32] [--rounds 40] [--flops-share 0.25] [--work DIR] [--json]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import type { OnnxModel, Tensor } from '../src/onnx/ir.js';
import { feedsForBatch, openDataset, type Dataset } from '../src/compress/dataset.js';
import { evaluateModel } from '../src/compress/evaluate.js';
import { createInferenceRunner, type InferenceRunner } from '../src/profile/ort-inference.js';
import { median } from '../src/profile/paired-latency.js';
import { tensorToFloat32 } from '../src/onnx/tensor.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS } from './lib/photo-datasets.js';
import { flopsOf, uniformRatioFor } from './lib/prune-flops.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const calibCount = Number(opt('calib', '32'));
const evalCount = Number(opt('eval', '32'));
const rounds = Number(opt('rounds', '40'));
const flopsShare = Number(opt('flops-share', '0.25'));
const work = opt('work', '.cache/bench-prune-int8');
const only = opt('variants', '').split(',').filter(Boolean);
const json = args.includes('--json');
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const CLI = join(process.cwd(), 'scripts/lib/edgetune-from-source.ts');

interface Built {
  id: string;
  path: string;
  /** The float model whose FLOPs are counted for this row (the pruned model for `prune + int8`). */
  flopsOf: string;
  seconds: number;
  /** The compress report(s) of the step(s), as printed with --json. */
  reports: Array<Record<string, unknown>>;
  note: string;
}

/** `edgetune compress ARGS --json` from the source tree; the report, or the error object with the exit status. */
function compress(cliArgs: string[]): { report: Record<string, unknown>; status: number; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'compress', ...cliArgs, '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60 * 60 * 1000 });
  const seconds = (performance.now() - t0) / 1000;
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(last) as Record<string, unknown>;
  } catch {
    report = { error: { code: 'NO_JSON', message: `${r.stderr.slice(-2000)}` } };
  }
  log(`  compress ${cliArgs.join(' ')} → exit ${r.status} in ${seconds.toFixed(1)} s`);
  if (r.status !== 0) log(`  ${JSON.stringify(report).slice(0, 1500)}`);
  return { report, status: r.status ?? -1, seconds };
}

/** Run a step; if only the fidelity gate refused it, run it again with --force and say so. */
function step(cliArgs: string[], built: Built): boolean {
  let r = compress(cliArgs);
  built.seconds += r.seconds;
  if (r.status !== 0 && (r.report.error as { code?: string } | undefined)?.code === 'FIDELITY_FAILED') {
    built.note += `${built.note ? '; ' : ''}gate refused (${(r.report.error as { message: string }).message.slice(0, 300)}), written with --force`;
    r = compress([...cliArgs, '--force']);
    built.seconds += r.seconds;
  }
  built.reports.push(r.report);
  return r.status === 0;
}

interface Fidelity {
  meanCosine: number;
  pooledCosine: number;
  r2: number | null;
  sqnrDb: number;
}

async function fidelityOf(variantPath: string, originalPath: string, original: OnnxModel, evalDir: string): Promise<Fidelity> {
  const variant = loadModelFile(variantPath).model;
  const m = await evaluateModel(variant, openDataset(evalDir, variant), { reference: original, confidence: 0 });
  const worst = m.outputs?.find((o) => o.name === m.worstOutput) ?? m.outputs?.[0];
  // Pooled cosine: every sample's values together (the per-sample mean is fragile on crops without text).
  const ds = openDataset(evalDir, original);
  const a = await createInferenceRunner(readFileSync(originalPath), {});
  const b = await createInferenceRunner(readFileSync(variantPath), {});
  let dot = 0;
  let na = 0;
  let nb = 0;
  try {
    for (let i = 0; i < ds.setNames.length; i++) {
      for (const { feeds } of feedsForBatch(original, ds.load(i))) {
        const ra = tensorToFloat32((await a.run(feeds)).get(a.outputNames[0]!)!);
        const rb = tensorToFloat32((await b.run(feeds)).get(b.outputNames[0]!)!);
        for (let k = 0; k < ra.length; k++) {
          dot += ra[k]! * rb[k]!;
          na += ra[k]! * ra[k]!;
          nb += rb[k]! * rb[k]!;
        }
      }
    }
  } finally {
    await a.release();
    await b.release();
  }
  return { meanCosine: m.cosine ?? Number.NaN, pooledCosine: dot / Math.sqrt(na * nb), r2: worst?.explainedVariation ?? null, sqnrDb: m.sqnrDb ?? Number.NaN };
}

/** Every model alternating run by run (one round = each model once, in order), p50 of each. */
async function alternated(files: string[], feeds: Record<string, Tensor>, threads: number): Promise<number[]> {
  const runners: InferenceRunner[] = [];
  for (const f of files) runners.push(await createInferenceRunner(readFileSync(f), { intraOpNumThreads: threads }));
  try {
    for (const r of runners) for (let i = 0; i < 3; i++) await r.run(feeds);
    const times = runners.map(() => [] as number[]);
    for (let i = 0; i < rounds; i++) {
      for (let k = 0; k < runners.length; k++) {
        const t = performance.now();
        await runners[k]!.run(feeds);
        times[k]!.push(performance.now() - t);
      }
    }
    return times.map((t) => median(t));
  } finally {
    for (const r of runners) await r.release();
  }
}

async function main(): Promise<void> {
  const det = THIRD_PARTY_MODELS['ppocr-det']!;
  const fp32Path = modelPath(det);
  const calibDir = photoDataset(det, 'calibration', calibCount);
  const evalDir = photoDataset(det, 'evaluation', evalCount);
  mkdirSync(work, { recursive: true });
  const original = loadModelFile(fp32Path).model;
  normalizeModel(original, {});
  const calib: Dataset = openDataset(calibDir, original);
  const feeds = feedsForBatch(original, calib.load(0))[0]!.feeds;
  const inputShapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]]));
  const started = new Date().toISOString();
  log(`start ${started}; calibration ${calibDir}, evaluation ${evalDir}`);

  const uniformRatio = Number(uniformRatioFor(original, flopsShare, inputShapes).toFixed(3));
  log(`uniform channel ratio removing ~${flopsShare} of the FLOPs: ${uniformRatio}`);
  const out = (name: string): string => join(work, `${name}.onnx`);
  // `flopsOf`: the float graph whose FLOPs count (an int8 model's QLinearConv is not counted as float FLOPs).
  const plans: Array<{ id: string; flopsOf?: string; steps: Array<{ input: string; output: string; args: string[] }> }> = [
    { id: 'int8', flopsOf: fp32Path, steps: [{ input: fp32Path, output: out('int8'), args: ['--method', 'int8'] }] },
    { id: `prune uniform ${uniformRatio}`, steps: [{ input: fp32Path, output: out('uniform'), args: ['--method', 'prune', '--ratio', String(uniformRatio)] }] },
    { id: `prune uniform ${uniformRatio} + int8`, flopsOf: out('uniform'), steps: [{ input: out('uniform'), output: out('uniform-int8'), args: ['--method', 'int8'] }] },
    { id: `prune sensitivity --ratio ${flopsShare}`, steps: [{ input: fp32Path, output: out('sensitivity'), args: ['--method', 'prune', '--allocate', 'sensitivity', '--ratio', String(flopsShare)] }] },
    { id: `prune sensitivity --ratio ${flopsShare} + int8`, flopsOf: out('sensitivity'), steps: [{ input: out('sensitivity'), output: out('sensitivity-int8'), args: ['--method', 'int8'] }] },
  ];
  const built: Built[] = [];
  for (const p of plans) {
    const b: Built = { id: p.id, path: p.steps[p.steps.length - 1]!.output, flopsOf: p.flopsOf ?? p.steps[p.steps.length - 1]!.output, seconds: 0, reports: [], note: '' };
    if (only.length > 0 && !only.some((o) => p.id.includes(o))) {
      if (!existsSync(b.path)) continue;
      b.note = 'reused from an earlier run';
    } else {
      log(`build ${p.id}`);
      let ok = true;
      for (const s of p.steps) if (ok) ok = step([s.input, '-o', s.output, '--data', calibDir, ...s.args], b);
      if (!ok) {
        log(`  ${p.id}: failed`);
        built.push({ ...b, path: '' });
        continue;
      }
    }
    built.push(b);
  }
  writeFileSync(join(work, 'reports.json'), JSON.stringify(built, null, 1));

  const usable = built.filter((b) => b.path && existsSync(b.path));
  const files = [fp32Path, ...usable.map((b) => b.path)];
  const latency: Record<number, number[]> = {};
  for (const threads of [1, 2]) {
    latency[threads] = await alternated(files, feeds, threads);
    log(`latency ${threads} thread(s): ${files.map((f, k) => `${k === 0 ? 'fp32' : usable[k - 1]!.id} ${latency[threads]![k]!.toFixed(1)} ms`).join(', ')}`);
  }
  const rows = [];
  for (const [k, b] of usable.entries()) {
    const f = await fidelityOf(b.path, fp32Path, original, evalDir);
    const flopsRemoved = 1 - flopsOf(loadModelFile(b.flopsOf).model, inputShapes) / flopsOf(original, inputShapes);
    const speed = (t: number): { p50Ms: number; fp32P50Ms: number; speedup: number } => ({ p50Ms: latency[t]![k + 1]!, fp32P50Ms: latency[t]![0]!, speedup: latency[t]![0]! / latency[t]![k + 1]! });
    const row = { id: b.id, bytes: statSync(b.path).size, flopsRemoved, ...f, speed1: speed(1), speed2: speed(2), buildSeconds: b.seconds, note: b.note, steps: b.reports.map(summary) };
    log(`${b.id}: ${JSON.stringify(row)}`);
    rows.push(row);
  }
  const result = { started, finished: new Date().toISOString(), calibCount, evalCount, rounds, fp32Bytes: statSync(fp32Path).size, uniformRatio, rows };
  writeFileSync(join(work, 'result.json'), JSON.stringify(result, null, 1));
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    const lines = [
      `| variant | size | FLOPs removed | speed-up 1 thread (p50 ms) | speed-up 2 threads (p50 ms) | worst-output cosine (pooled) | R² | SQNR dB | build s |`,
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const r of rows) {
      lines.push(
        `| ${r.id} | ${(r.bytes / 1024).toFixed(0)} KiB | ${(r.flopsRemoved * 100).toFixed(1)} % | ${r.speed1.speedup.toFixed(2)}× (${r.speed1.fp32P50Ms.toFixed(1)} → ${r.speed1.p50Ms.toFixed(1)}) | ${r.speed2.speedup.toFixed(2)}× (${r.speed2.fp32P50Ms.toFixed(1)} → ${r.speed2.p50Ms.toFixed(1)}) | ${r.meanCosine.toFixed(4)} (${r.pooledCosine.toFixed(4)}) | ${r.r2?.toFixed(4) ?? '–'} | ${r.sqnrDb.toFixed(1)} | ${r.buildSeconds.toFixed(0)} |`,
      );
    }
    for (const r of rows) if (r.note) lines.push(`- ${r.id}: ${r.note}`);
    for (const r of rows) lines.push(`- ${r.id}: ${JSON.stringify(r.steps)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

/** What matters of a compress report here. */
function summary(report: Record<string, unknown>): Record<string, unknown> {
  if (report.error) return { error: report.error };
  const details = (report.details ?? {}) as Record<string, unknown>;
  const fidelity = report.fidelity as { cosine?: number; judgedOn?: string; samples?: number } | null;
  return {
    method: report.method,
    seconds: report.seconds,
    calibration: report.calibration,
    speed: details.speed ?? null,
    latency: details.latency ?? null,
    flops: details.flops ?? null,
    fidelity: fidelity ? { cosine: fidelity.cosine, judgedOn: fidelity.judgedOn, samples: fidelity.samples } : null,
    notes: (report.notes as string[] | undefined)?.slice(0, 12),
  };
}

await main();
