/**
 * Paired latency of an int8 model with its float islands (as `lookupIslands: false` writes it) against the same model
 * with lookups, and both against fp32: the three alternate run by run in one process (load drift on a shared machine
 * hits all alike). Prints each p50, the speed-ups of the p50s over fp32, and the median over runs of the per-run ratio
 * islands / lookups (robust to load spikes that hit a whole round); first checks the two int8 models give the same
 * outputs bit for bit on every set of the data.
 *
 *   npx tsx scripts/bench-lookup-islands.ts FP32.onnx ISLANDS.onnx LOOKUPS.onnx --data DIR [--iterations 40] [--threads 2]
 */
import { readFileSync } from 'node:fs';
import { median } from '../src/profile/latency-stats.js';
import { alternatedRunTimesMs } from './lib/latency.js';
import { openDataset, feedsForBatch } from '../src/compress/dataset.js';
import { decodeModel } from '../src/onnx/model-codec.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const files = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (files.length !== 3) throw new TypeError('usage: bench-lookup-islands.ts FP32.onnx ISLANDS.onnx LOOKUPS.onnx --data DIR');
const iterations = Number(flag('iterations', '40'));
const threads = Number(flag('threads', '2'));
const model = decodeModel(readFileSync(files[1]!));
const data = openDataset(flag('data', ''), model);
const runners = await Promise.all(files.map((f) => createInferenceRunner(readFileSync(f), { intraOpNumThreads: threads })));
const [fp32, islands, lookups] = runners as [typeof runners[0], typeof runners[0], typeof runners[0]];

let values = 0;
let differing = 0;
for (let s = 0; s < data.setNames.length; s++) {
  for (const piece of feedsForBatch(model, data.load(s))) {
    const a = await islands.run(piece.feeds);
    const b = await lookups.run(piece.feeds);
    for (const [name, t] of a) {
      const u = t.values as Float32Array;
      const v = b.get(name)!.values as Float32Array;
      values += u.length;
      for (let i = 0; i < u.length; i++) if (!Object.is(u[i], v[i])) differing++;
    }
  }
}
console.log(`outputs: ${differing} of ${values} values differ between the island and the lookup model (${data.setNames.length} sets)`);

const feeds = feedsForBatch(model, data.load(0))[0]!.feeds;
const times = await alternatedRunTimesMs(runners, feeds, iterations);
const [tf, ti, tl] = times.map(median) as [number, number, number];
const ratio = median(times[1]!.map((t, i) => t / times[2]![i]!));
console.log(`p50 fp32 ${tf.toFixed(2)} ms, islands ${ti.toFixed(2)} ms (${(tf / ti).toFixed(2)}× fp32), lookups ${tl.toFixed(2)} ms (${(tf / tl).toFixed(2)}× fp32); per-run islands/lookups median ${ratio.toFixed(2)}×`);
console.log(`(${iterations} alternated runs each, ${threads} intra-op threads, input [${Object.values(feeds)[0]!.dims.join('x')}], ${new Date().toISOString()})`);
for (const r of runners) await r.release();
