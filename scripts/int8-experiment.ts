/**
 * Dev tool: int8 on one third-party model with given pipeline options; worst-output cosine on the evaluation photos
 * and a paired latency ratio. `npx tsx scripts/int8-experiment.ts ppocr-det [--calib 16] [--eval 8] [--opts JSON] [--save F] [--model PATH]`
 * (`--model PATH`: another file with the same inputs, e.g. a rewritten copy; the evaluation photos stay the model id's).
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { cloneModel } from '../src/onnx/ir.js';
import { openDataset, feedsForBatch } from '../src/compress/dataset.js';
import { runInt8Pipeline } from '../src/compress/int8-pipeline.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { tensorToFloat32 } from '../src/onnx/tensor.js';
import { THIRD_PARTY_MODELS, modelPath, photoDataset } from './lib/photo-datasets.js';

const args = process.argv.slice(2);
const flag = (n: string, d: string): string => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1]! : d);
const spec = THIRD_PARTY_MODELS[args[0]!]!;
const model = loadModelFile(flag('model', modelPath(spec))).model;
normalizeModel(model, { minOpset: 13 });
const original = cloneModel(model);
const calib = openDataset(photoDataset(spec, 'calibration', Number(flag('calib', '16'))), model);
const evalSet = openDataset(photoDataset(spec, 'evaluation', Number(flag('eval', '8'))), model);
const t0 = performance.now();
const result = await runInt8Pipeline(model, calib, { calibration: 'minmax', keepFloatMode: 'none', ...JSON.parse(flag('opts', '{}')) });
const seconds = (performance.now() - t0) / 1000;
const bytes = encodeModel(result.model);
if (args.includes('--save')) writeFileSync(flag('save', ''), bytes);
const ref = await createInferenceRunner(encodeModel(original), { intraOpNumThreads: 2 });
const q = await createInferenceRunner(bytes, { intraOpNumThreads: 2 });
const cos = new Map<string, number[]>();
const pooled = new Map<string, { dot: number; nx: number; ny: number }>();
for (let s = 0; s < evalSet.setNames.length; s++) {
  for (const piece of feedsForBatch(original, evalSet.load(s))) {
    const a = await ref.run(piece.feeds);
    const b = await q.run(piece.feeds);
    for (const [name, t] of a) {
      const x = tensorToFloat32(t);
      const y = tensorToFloat32(b.get(name)!);
      let dot = 0, nx = 0, ny = 0;
      for (let i = 0; i < x.length; i++) { dot += x[i]! * y[i]!; nx += x[i]! * x[i]!; ny += y[i]! * y[i]!; }
      const c = nx === 0 && ny === 0 ? 1 : nx === 0 || ny === 0 ? 0 : dot / Math.sqrt(nx * ny); if (!Number.isFinite(c)) console.log("non-finite", name, nx, ny, dot);
      const p = pooled.get(name) ?? { dot: 0, nx: 0, ny: 0 };
      p.dot += dot; p.nx += nx; p.ny += ny; pooled.set(name, p);
      if (!cos.has(name)) cos.set(name, []);
      cos.get(name)!.push(c);
    }
  }
}
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
if (process.env.PER_SAMPLE) for (const [n, v] of cos) console.log(n, v.map((x) => x.toFixed(3)).join(" "));
const per = [...cos].map(([n, v]) => { const p = pooled.get(n)!; return `${n}: ${mean(v).toFixed(4)} (min ${Math.min(...v).toFixed(3)}, pooled ${(p.dot / Math.sqrt(p.nx * p.ny)).toFixed(4)})`; });
// paired latency
const feeds = feedsForBatch(original, evalSet.load(0))[0]!.feeds;
for (let i = 0; i < 3; i++) { await ref.run(feeds); await q.run(feeds); }
const ta: number[] = [], tb: number[] = [];
for (let i = 0; i < Number(flag('iters', '15')); i++) {
  let t = performance.now(); await ref.run(feeds); ta.push(performance.now() - t);
  t = performance.now(); await q.run(feeds); tb.push(performance.now() - t);
}
const p50 = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;
console.log(`${spec.id} ${flag('opts', '{}')}: worst cosine ${Math.min(...[...cos.values()].map(mean)).toFixed(4)} | ${per.join(' | ')} | speed-up ${(p50(ta) / p50(tb)).toFixed(2)}× (fp32 ${p50(ta).toFixed(1)} ms) | ${seconds.toFixed(1)} s | kept float ${result.report.nodesKeptFloat.length}`);
for (const note of result.report.notes) console.log("  note:", note);
if (process.env.SHOW_BC) console.log(JSON.stringify((result as any).biasCorrection));
if (result.calibration.auto) console.log("  auto:", JSON.stringify(result.calibration.auto.candidates.map((c) => `${c.label}: ${c.worstSqnrDb?.toFixed(1)} dB ${c.worstCosine?.toFixed(4)}`)));
console.log("  stages:", JSON.stringify(result.stageSeconds));
await ref.release(); await q.release();
