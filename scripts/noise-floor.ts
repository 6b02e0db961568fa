/**
 * Dev tool: the fp32 model's own noise floor. Runs the fp32 model on the evaluation crops and on the same crops moved
 * by seeded uniform noise of ±half a pixel level (what rounding the image to 8 bits once more would do) and prints,
 * per output, the fidelity figures the int8 tables use: mean per-sample cosine, pooled cosine, SQNR. No quantizer can
 * be expected to beat these by much: they are how far the original moves on an imperceptible change of its input.
 * `npx tsx scripts/noise-floor.ts ppocr-det [--eval 16] [--seed 12345]`
 */
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { openDataset, feedsForBatch } from '../src/compress/dataset.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { tensorToFloat32 } from '../src/onnx/tensor.js';
import { mulberry32 } from '../src/util/random.js';
import type { Tensor } from '../src/onnx/ir.js';
import { THIRD_PARTY_MODELS, modelPath, photoDataset } from './lib/photo-datasets.js';

const args = process.argv.slice(2);
const flag = (n: string, d: string): string => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1]! : d);
const spec = THIRD_PARTY_MODELS[args[0]!]!;
const model = loadModelFile(modelPath(spec)).model;
normalizeModel(model, { minOpset: 13 });
const evalSet = openDataset(photoDataset(spec, 'evaluation', Number(flag('eval', '16'))), model);
const input = spec.input as { layout: string; channels: string; scale?: number; std: readonly number[] };
const random = mulberry32(Number(flag('seed', '12345')));
/** One pixel level in the model's input units, per colour channel; 0 for a constant channel (M-LSD's channel of ones). */
const step = (c: number): number => (input.channels === 'rgb1' && c === 3 ? 0 : (input.scale ?? 1) / input.std[c % 3]!);
function jitter(t: Tensor): Tensor {
  const v = new Float32Array(t.values as Float32Array);
  const channels = input.layout === 'nchw' ? t.dims[1]! : t.dims[3]!;
  const plane = input.layout === 'nchw' ? t.dims[2]! * t.dims[3]! : 1;
  for (let k = 0; k < v.length; k++) v[k] = v[k]! + (random() - 0.5) * step(Math.floor(k / plane) % channels);
  return { ...t, values: v };
}
const runner = await createInferenceRunner(encodeModel(model), { intraOpNumThreads: 2 });
const acc = new Map<string, { sig: number; noise: number; dot: number; ny: number; cos: number[] }>();
for (let s = 0; s < evalSet.setNames.length; s++) {
  for (const piece of feedsForBatch(model, evalSet.load(s))) {
    const a = await runner.run(piece.feeds);
    const moved = Object.fromEntries(Object.entries(piece.feeds).map(([k, t], i) => [k, i === 0 ? jitter(t) : t]));
    const b = await runner.run(moved);
    for (const [name, t] of a) {
      const x = tensorToFloat32(t), y = tensorToFloat32(b.get(name)!);
      let sig = 0, noise = 0, dot = 0, ny = 0;
      for (let k = 0; k < x.length; k++) { sig += x[k]! ** 2; noise += (x[k]! - y[k]!) ** 2; dot += x[k]! * y[k]!; ny += y[k]! ** 2; }
      const e = acc.get(name) ?? { sig: 0, noise: 0, dot: 0, ny: 0, cos: [] };
      e.sig += sig; e.noise += noise; e.dot += dot; e.ny += ny;
      e.cos.push(sig === 0 && ny === 0 ? 1 : sig === 0 || ny === 0 ? 0 : dot / Math.sqrt(sig * ny));
      acc.set(name, e);
    }
  }
}
await runner.release();
for (const [name, e] of acc) {
  const mean = e.cos.reduce((p, q) => p + q, 0) / e.cos.length;
  console.log(`${spec.id} ${name}: per-sample cosine ${mean.toFixed(4)} (min ${Math.min(...e.cos).toFixed(3)}), pooled ${(e.dot / Math.sqrt(e.sig * e.ny)).toFixed(4)}, SQNR ${(10 * Math.log10(e.sig / e.noise)).toFixed(1)} dB`);
}
