/**
 * Benchmark of per-group pruning allocation (issue 15), for BENCHMARKS.md: uniform channel ratio vs widths allocated
 * by measured latency and sensitivity (`compress --method prune --allocate sensitivity`), both with least-squares
 * recovery, at the same share of FLOPs removed; and `--target-latency-ms` against the latency then measured.
 * Every model is fitted on its calibration data and judged on separate evaluation data: the residual CNN on
 * test/fixtures/data/mnist-{calib,test} (top-1, agreement, worst-output cosine), PP-OCRv4 det on photoDataset
 * calibration vs evaluation photos (worst-output cosine and R²), and test/fixtures/models/mnist-mbv2.onnx when
 * present. Latency: p50 at batch 1, one thread, the pruned model alternated run by run with the original.
 *
 *   npx tsx scripts/bench-prune-allocation.ts [--models rescnn,det,mbv2] [--flops-share 0.25] [--json]
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { cloneModel, type OnnxModel } from '../src/onnx/ir.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { feedsForBatch, openDataset, sliceBatch } from '../src/compress/dataset.js';
import { evaluateModel } from '../src/compress/evaluate.js';
import { pruneAndRecover, pruneMethod } from '../src/compress/methods/prune-method.js';
import { comparePairedLatency } from '../src/profile/paired-latency.js';
import type { Tensor } from '../src/onnx/ir.js';
import { photoDataset, THIRD_PARTY_MODELS } from './lib/photo-datasets.js';
import { flopsOf, uniformRatioFor } from './lib/prune-flops.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const models = opt('models', 'rescnn,det,mbv2').split(',');
const flopsShare = Number(opt('flops-share', '0.25'));
const json = args.includes('--json');
const log = (s: string): void => void process.stderr.write(`${s}\n`);

interface Row {
  model: string;
  variant: string;
  flopsRemoved: number;
  speedup: number;
  p50Ms: number;
  baseP50Ms: number;
  top1: number | null;
  agreement: number | null;
  worstCosine: number | null;
  worstR2: number | null;
  seconds: number;
  note: string;
}

async function judge(
  name: string,
  variant: string,
  original: OnnxModel,
  pruned: OnnxModel,
  evalDir: string,
  feeds: Record<string, Tensor>,
  inputShapes: Record<string, number[]>,
  seconds: number,
  note: string,
): Promise<Row> {
  const m = await evaluateModel(pruned, openDataset(evalDir, pruned), { reference: original, confidence: 0 });
  const pair = await comparePairedLatency(encodeModel(original), encodeModel(pruned), feeds, { threads: 1, iterations: 60, warmup: 5 });
  const worstR2 = Math.min(...(m.outputs ?? []).map((o) => o.explainedVariation ?? Number.NaN));
  const row: Row = {
    model: name,
    variant,
    flopsRemoved: 1 - flopsOf(pruned, inputShapes) / flopsOf(original, inputShapes),
    speedup: pair.speedup,
    p50Ms: pair.bP50Ms,
    baseP50Ms: pair.aP50Ms,
    top1: m.top1,
    agreement: m.agreement,
    worstCosine: m.cosine,
    worstR2: Number.isFinite(worstR2) ? worstR2 : null,
    seconds,
    note,
  };
  log(`${name} ${variant}: FLOPs −${(row.flopsRemoved * 100).toFixed(1)} %, ${row.speedup.toFixed(2)}× (${row.baseP50Ms.toFixed(3)} → ${row.p50Ms.toFixed(3)} ms), top-1 ${fmt(row.top1)}, agreement ${fmt(row.agreement)}, worst cosine ${row.worstCosine?.toFixed(4)}, worst R² ${row.worstR2?.toFixed(4)} (${seconds.toFixed(0)} s) ${note}`);
  return row;
}

function fmt(v: number | null): string {
  return v === null ? 'n/a' : `${(v * 100).toFixed(2)} %`;
}

async function benchModel(name: string, path: string, calibDir: string, evalDir: string, rows: Row[]): Promise<void> {
  const original = loadModelFile(path).model;
  normalizeModel(original, {});
  const calib = openDataset(calibDir, original);
  const first = feedsForBatch(original, calib.load(0))[0]!.feeds;
  const feeds: Record<string, Tensor> = {};
  const inputShapes: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(first)) {
    feeds[k] = t.dims[0]! > 1 ? sliceBatch(t, 0, 1) : t;
    inputShapes[k] = [...feeds[k]!.dims];
  }
  const base = await evaluateModel(original, openDataset(evalDir, original), { confidence: 0 });
  log(`${name}: original top-1 ${fmt(base.top1)}`);

  // Uniform: one channel ratio, chosen to remove the same share of FLOPs.
  const ratio = uniformRatioFor(original, flopsShare, inputShapes);
  let t0 = performance.now();
  const uniform = cloneModel(original);
  await pruneAndRecover(uniform, original, calib, { ratio });
  rows.push(await judge(name, `uniform ratio ${ratio.toFixed(3)}`, original, uniform, evalDir, feeds, inputShapes, (performance.now() - t0) / 1000, ''));

  // Sensitivity-allocated to the same share of FLOPs.
  t0 = performance.now();
  const allocated = await pruneMethod.run({ model: cloneModel(original), original, dataset: calib, options: { allocate: 'sensitivity', ratio: flopsShare } });
  const d = allocated.report.details as { allocation: Array<{ id: number; kept: number; channels: number; status: string }>; latency: { tableBaseMs: number } };
  const widths = d.allocation.map((g) => `${g.id}:${g.kept}/${g.channels}${g.status === 'left alone' ? '!' : ''}`).join(' ');
  rows.push(await judge(name, `sensitivity --ratio ${flopsShare} (FLOPs)`, original, allocated.model, evalDir, feeds, inputShapes, (performance.now() - t0) / 1000, `widths ${widths}`));

  // --target-latency-ms: 80 % of the unpruned latency the table measured.
  const target = Number((d.latency.tableBaseMs * 0.8).toFixed(3));
  t0 = performance.now();
  const timed = await pruneMethod.run({ model: cloneModel(original), original, dataset: calib, options: { targetLatencyMs: target } });
  const lat = (timed.report.details as { latency: { tableBaseMs: number; speedup: number; rounds: unknown[] } }).latency;
  const onClock = lat.tableBaseMs / lat.speedup;
  rows.push(
    await judge(name, `--target-latency-ms ${target}`, original, timed.model, evalDir, feeds, inputShapes, (performance.now() - t0) / 1000, `measured in the method ${onClock.toFixed(3)} ms (${((onClock / target - 1) * 100).toFixed(1)} % off the target, ${lat.rounds.length} round(s))`),
  );
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  if (models.includes('rescnn')) await benchModel('mnist-rescnn', 'test/fixtures/models/mnist-rescnn.onnx', 'test/fixtures/data/mnist-calib', 'test/fixtures/data/mnist-test', rows);
  if (models.includes('mbv2')) {
    if (existsSync('test/fixtures/models/mnist-mbv2.onnx')) await benchModel('mnist-mbv2', 'test/fixtures/models/mnist-mbv2.onnx', 'test/fixtures/data/mnist-calib', 'test/fixtures/data/mnist-test', rows);
    else log('mnist-mbv2: test/fixtures/models/mnist-mbv2.onnx not present, skipped');
  }
  if (models.includes('det')) {
    const det = THIRD_PARTY_MODELS['ppocr-det']!;
    await benchModel('ppocr-det', det.path, photoDataset(det, 'calibration', 32), photoDataset(det, 'evaluation', 32), rows);
  }
  if (json) process.stdout.write(`${JSON.stringify({ flopsShare, rows })}\n`);
  else {
    const lines = [
      `FLOPs share asked ${flopsShare}; latency p50 batch 1, 1 thread, alternated with the original (60 pairs); fidelity on the evaluation split`,
      '',
      '| model | variant | FLOPs removed | speed-up | p50 ms (orig → pruned) | top-1 | agreement | worst cosine | worst R² | s |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const r of rows) {
      lines.push(`| ${r.model} | ${r.variant} | ${(r.flopsRemoved * 100).toFixed(1)} % | ${r.speedup.toFixed(2)}× | ${r.baseP50Ms.toFixed(3)} → ${r.p50Ms.toFixed(3)} | ${fmt(r.top1)} | ${fmt(r.agreement)} | ${r.worstCosine?.toFixed(4) ?? 'n/a'} | ${r.worstR2?.toFixed(4) ?? 'n/a'} | ${r.seconds.toFixed(0)} |`);
    }
    for (const r of rows) if (r.note) lines.push(`- ${r.model} ${r.variant}: ${r.note}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

await main();
