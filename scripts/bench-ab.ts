/**
 * A/B latency of two or more models on the same synthetic or real input, timed run by run in alternation in one
 * process (so load drift on a shared machine hits all alike): p50 of each and the speed-up of each over the first.
 *
 *   npx tsx scripts/bench-ab.ts BASE.onnx OTHER.onnx [MORE.onnx ...] [--shape 1x3x640x640] [--data DIR] [--iterations 20] [--threads 2]
 */
import { readFileSync } from 'node:fs';
import { median } from '../src/profile/latency-stats.js';
import { alternatedRunTimesMs } from './lib/latency.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { PAIRED_SESSION_CONFIG } from '../src/profile/paired-latency.js';
import { openDataset } from '../src/compress/dataset.js';
import { floatTensor } from '../src/onnx/tensor.js';
import type { Tensor } from '../src/onnx/ir.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const models = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const iterations = Number(flag('iterations') ?? 20);
const threads = Number(flag('threads') ?? 2);
const runners = await Promise.all(models.map((m) => createInferenceRunner(readFileSync(m), { intraOpNumThreads: threads, configEntries: { ...PAIRED_SESSION_CONFIG } })));
const inputName = runners[0]!.inputNames[0]!;
let input: Tensor;
const data = flag('data');
if (data) input = { ...openDataset(data).load(0).inputs[0]!, name: inputName };
else {
  const dims = (flag('shape') ?? '1x3x640x640').split('x').map(Number);
  const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.37);
  input = floatTensor(inputName, dims, values);
}
const feeds = { [inputName]: input };
const times = await alternatedRunTimesMs(runners, feeds, iterations);
const p50 = median;
const base = p50(times[0]!);
console.log(`| model | p50 ms | speed-up over ${models[0]} |\n|---|---|---|`);
models.forEach((m, k) => console.log(`| ${m} | ${p50(times[k]!).toFixed(2)} | ${(base / p50(times[k]!)).toFixed(2)}× |`));
console.log(`(${iterations} alternated runs each, ${threads} intra-op threads, input [${input.dims.join('x')}], ${new Date().toISOString()})`);
for (const r of runners) await r.release();
