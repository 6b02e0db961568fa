/**
 * Per-channel ranges of intermediate tensors on real data: why a model resists per-tensor int8 activations.
 * For each named tensor (channel axis 1): overall min/max and the smallest, median and largest per-channel max |x|.
 *
 *   npx tsx scripts/activation-ranges.ts MODEL --data DIR TENSOR [TENSOR ...]
 */
import { DataType } from '../src/onnx/dtype.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { openDataset, feedsForBatch } from '../src/compress/dataset.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';

const args = process.argv.slice(2);
const dataIndex = args.indexOf('--data');
const dataDir = args[dataIndex + 1]!;
const [modelPath, ...names] = args.filter((_, i) => i !== dataIndex && i !== dataIndex + 1);
const { model } = loadModelFile(modelPath!);
normalizeModel(model);
for (const n of names) model.graph.outputs.push({ name: n, type: { elemType: DataType.FLOAT, shape: null } });
const runner = await createInferenceRunner(encodeModel(model), { graphOptimizationLevel: 'disabled' });
const batch = openDataset(dataDir, model).load(0);
const out = await runner.run(feedsForBatch(model, batch)[0]!.feeds, names);
console.log('| tensor | shape | min | max | per-channel max |x|: smallest / median / largest |');
console.log('|---|---|---|---|---|');
for (const n of names) {
  const t = out.get(n)!;
  const v = t.values as Float32Array;
  const channels = t.dims[1]!;
  const inner = v.length / (t.dims[0]! * channels);
  const chMax = new Float64Array(channels);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const c = Math.floor(i / inner) % channels;
    chMax[c] = Math.max(chMax[c]!, Math.abs(v[i]!));
    lo = Math.min(lo, v[i]!);
    hi = Math.max(hi, v[i]!);
  }
  const sorted = Array.from(chMax).sort((a, b) => a - b);
  console.log(`| ${n} | ${t.dims.join('×')} | ${lo.toFixed(2)} | ${hi.toFixed(2)} | ${sorted[0]!.toFixed(2)} / ${sorted[channels >> 1]!.toFixed(2)} / ${sorted[channels - 1]!.toFixed(2)} |`);
}
await runner.release();
