/**
 * Dev tool: where does int8 error grow? Runs the fp32 model and the QDQ model (optimizations off, so Q/DQ are
 * simulated exactly) on evaluation photos and prints each shared activation tensor's SQNR in graph order.
 * `npx tsx scripts/int8-sqnr-trace.ts ppocr-det [--opts JSON] [--eval 2]`
 */
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { cloneModel, type OnnxModel } from '../src/onnx/ir.js';
import { DataType } from '../src/onnx/dtype.js';
import { openDataset, feedsForBatch } from '../src/compress/dataset.js';
import { runInt8Pipeline } from '../src/compress/int8-pipeline.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { tensorToFloat32 } from '../src/onnx/tensor.js';
import { fuseHardSwish } from '../src/compress/fuse-activations.js';
import { foldBatchNorm } from '../src/compress/fold-batchnorm.js';
import { foldConvAffine } from '../src/compress/fold-affine.js';
import { inferTensorTypes } from '../src/onnx/shape-inference.js';
import { THIRD_PARTY_MODELS, modelPath, photoDataset } from './lib/photo-datasets.js';

const args = process.argv.slice(2);
const flag = (n: string, d: string): string => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1]! : d);
const spec = THIRD_PARTY_MODELS[args[0]!]!;
const model = loadModelFile(modelPath(spec)).model;
normalizeModel(model, { minOpset: 13 });
const prepared = cloneModel(model);
fuseHardSwish(prepared); foldBatchNorm(prepared.graph); foldConvAffine(prepared.graph);
const calib = openDataset(photoDataset(spec, 'calibration', Number(flag('calib', '16'))), model);
const evalSet = openDataset(photoDataset(spec, 'evaluation', Number(flag('eval', '2'))), model);
const result = await runInt8Pipeline(cloneModel(model), calib, { calibration: 'minmax', keepFloatMode: 'none', ...JSON.parse(flag('opts', '{}')) });
const names = prepared.graph.nodes.flatMap((n) => n.outputs.map((o) => ({ o, op: n.opType })));
const qNames = new Set(result.model.graph.nodes.flatMap((n) => n.outputs));
const types = inferTensorTypes(prepared);
const shared = names.filter((x) => qNames.has(x.o) && types.get(x.o)?.elemType === DataType.FLOAT);
const expose = (m: OnnxModel): OnnxModel => ({ ...m, graph: { ...m.graph, outputs: [...m.graph.outputs, ...shared.filter((x) => !m.graph.outputs.some((g) => g.name === x.o)).map((x) => ({ name: x.o, type: { elemType: DataType.FLOAT, shape: null } }))] } });
const a = await createInferenceRunner(encodeModel(expose(prepared)), { graphOptimizationLevel: 'disabled' });
const b = await createInferenceRunner(encodeModel(expose(result.model)), { graphOptimizationLevel: 'disabled' });
const sig = new Map<string, number>(), noise = new Map<string, number>();
for (let s = 0; s < evalSet.setNames.length; s++) {
  for (const piece of feedsForBatch(model, evalSet.load(s))) {
    const ra = await a.run(piece.feeds, shared.map((x) => x.o));
    const rb = await b.run(piece.feeds, shared.map((x) => x.o));
    for (const { o } of shared) {
      const x = tensorToFloat32(ra.get(o)!), y = tensorToFloat32(rb.get(o)!);
      let sg = 0, nz = 0;
      for (let i = 0; i < x.length; i++) { sg += x[i]! * x[i]!; nz += (x[i]! - y[i]!) ** 2; }
      sig.set(o, (sig.get(o) ?? 0) + sg); noise.set(o, (noise.get(o) ?? 0) + nz);
    }
  }
}
for (const { o, op } of shared) console.log(`${(10 * Math.log10(sig.get(o)! / noise.get(o)!)).toFixed(1).padStart(6)} dB  ${op.padEnd(18)} ${o}`);
await a.release(); await b.release();
