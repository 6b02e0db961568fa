/**
 * Dev tool: how much of int8's output error comes from the weights and how much from each activation's Q/DQ?
 * Builds, from one pipeline result, the same model with every activation QuantizeLinear→DequantizeLinear pair
 * removed (weights still int8: "weights only"), then puts the activation pairs back one at a time and measures the
 * worst output's SQNR and pooled cosine against fp32 on evaluation photos.
 * `npx tsx scripts/int8-error-split.ts ppocr-det [--calib 32] [--eval 4] [--opts JSON] [--each]`
 */
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { cloneModel, type OnnxModel } from '../src/onnx/ir.js';
import { openDataset, feedsForBatch } from '../src/compress/dataset.js';
import { runInt8Pipeline } from '../src/compress/int8-pipeline.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { tensorToFloat32 } from '../src/onnx/tensor.js';
import { THIRD_PARTY_MODELS, modelPath, photoDataset } from './lib/photo-datasets.js';

const args = process.argv.slice(2);
const flag = (n: string, d: string): string => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1]! : d);
const spec = THIRD_PARTY_MODELS[args[0]!]!;
const model = loadModelFile(modelPath(spec)).model;
normalizeModel(model, { minOpset: 13 });
const original = cloneModel(model);
const calib = openDataset(photoDataset(spec, 'calibration', Number(flag('calib', '32'))), model);
const evalSet = openDataset(photoDataset(spec, 'evaluation', Number(flag('eval', '4'))), model);
const result = await runInt8Pipeline(model, calib, { calibration: 'minmax', keepFloatMode: 'none', lookupIslands: false, equalizeLookupIslandInputs: true, ...JSON.parse(flag('opts', '{}')) });
const q = result.model;
if (process.env.DEBUG_ROUNDING && result.adaptiveRounding) for (const l of [...result.adaptiveRounding.perLayer].sort((a, b) => a.sqnrAdaptiveDb - b.sqnrAdaptiveDb).slice(0, 12)) console.log(`${l.sqnrNearestDb.toFixed(1)} -> ${l.sqnrAdaptiveDb.toFixed(1)} dB  ${l.kind} flipped ${l.flipped} rows ${l.rows} ${l.node}`);

/** Activation Q→DQ pairs: a QuantizeLinear whose input is not an initializer. */
const activationQs = q.graph.nodes.filter((n) => n.opType === 'QuantizeLinear' && !q.graph.initializers.has(n.inputs[0]!));
function without(keep: ReadonlySet<string>, unclipped?: string): OnnxModel {
  const m = cloneModel(q);
  const rename = new Map<string, string>();
  const drop = new Set<object>();
  const added: typeof m.graph.nodes = [];
  for (const node of m.graph.nodes) {
    if (node.opType !== 'QuantizeLinear' || m.graph.initializers.has(node.inputs[0]!) || keep.has(node.outputs[0]!)) continue;
    const dqs = m.graph.nodes.filter((d) => d.opType === 'DequantizeLinear' && d.inputs[0] === node.outputs[0]);
    const others = m.graph.nodes.some((d) => d.opType !== 'DequantizeLinear' && d.inputs.includes(node.outputs[0]!));
    if (others || m.graph.outputs.some((o) => o.name === node.outputs[0])) continue;
    // The pair's clipping stays (it carries folded Relu/Clip); only the rounding goes.
    const scale = m.graph.initializers.get(node.inputs[1]!)!;
    const zp = m.graph.initializers.get(node.inputs[2]!)!;
    if (scale.values.length !== 1) continue;
    const s = Number(scale.values[0]), z = Number(zp.values[0]);
    const [qmin, qmax] = zp.dataType === 2 ? [0, 255] : [-128, 127];
    if (node.outputs[0] === unclipped) {
      for (const dq of dqs) { rename.set(dq.outputs[0]!, node.inputs[0]!); drop.add(dq); }
      drop.add(node);
      continue;
    }
    const lo = `${node.outputs[0]}_split_lo`, hi = `${node.outputs[0]}_split_hi`, out = `${node.outputs[0]}_split_clip`;
    m.graph.initializers.set(lo, { name: lo, dataType: 1, dims: [], values: new Float32Array([(qmin - z) * s]) });
    m.graph.initializers.set(hi, { name: hi, dataType: 1, dims: [], values: new Float32Array([(qmax - z) * s]) });
    added.push({ opType: 'Clip', name: out, inputs: [node.inputs[0]!, lo, hi], outputs: [out], attributes: new Map() } as never);
    for (const dq of dqs) { rename.set(dq.outputs[0]!, out); drop.add(dq); }
    drop.add(node);
  }
  m.graph.nodes = [...m.graph.nodes.filter((n) => !drop.has(n)), ...added];
  for (const n of m.graph.nodes) n.inputs = n.inputs.map((i) => rename.get(i) ?? i);
  for (const o of m.graph.outputs) if (rename.has(o.name)) throw new Error('output renamed');
  m.graph.nodes = topoSort(m.graph.nodes);
  return m;
}
function topoSort<T extends { inputs: string[]; outputs: string[] }>(nodes: T[]): T[] {
  const producer = new Map<string, T>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const done = new Set<T>(), order: T[] = [];
  const visit = (n: T): void => { if (done.has(n)) return; done.add(n); for (const i of n.inputs) { const p = producer.get(i); if (p) visit(p); } order.push(n); };
  for (const n of nodes) visit(n);
  return order;
}
const ref = await createInferenceRunner(encodeModel(original), { intraOpNumThreads: 2 });
const refOut: Array<Map<string, Float32Array>> = [];
const feedsList: Array<Record<string, unknown>> = [];
for (let s = 0; s < evalSet.setNames.length; s++) for (const piece of feedsForBatch(original, evalSet.load(s))) {
  feedsList.push(piece.feeds);
  const r = await ref.run(piece.feeds);
  refOut.push(new Map([...r].map(([k, v]) => [k, tensorToFloat32(v)])));
}
await ref.release();
async function judge(m: OnnxModel, feedsOf: (f: Record<string, unknown>) => Record<string, unknown> = (f) => f): Promise<{ sqnrDb: number; pooled: number; perSample: number; output: string }> {
  const runner = await createInferenceRunner(encodeModel(m), { intraOpNumThreads: 2 });
  const acc = new Map<string, { sig: number; noise: number; dot: number; ny: number; cos: number[] }>();
  for (let i = 0; i < feedsList.length; i++) {
    const r = await runner.run(feedsOf(feedsList[i]!) as never);
    for (const [name, x] of refOut[i]!) {
      const y = tensorToFloat32(r.get(name)!);
      const a = acc.get(name) ?? { sig: 0, noise: 0, dot: 0, ny: 0, cos: [] };
      let sig = 0, noise = 0, dot = 0, ny = 0;
      for (let k = 0; k < x.length; k++) { sig += x[k]! ** 2; noise += (x[k]! - y[k]!) ** 2; dot += x[k]! * y[k]!; ny += y[k]! ** 2; }
      a.sig += sig; a.noise += noise; a.dot += dot; a.ny += ny; a.cos.push(sig === 0 && ny === 0 ? 1 : sig === 0 || ny === 0 ? 0 : dot / Math.sqrt(sig * ny));
      acc.set(name, a);
    }
  }
  await runner.release();
  let worst = { sqnrDb: Infinity, pooled: 1, perSample: 1, output: '' };
  for (const [name, a] of acc) {
    const sqnrDb = 10 * Math.log10(a.sig / a.noise);
    if (sqnrDb < worst.sqnrDb) worst = { sqnrDb, pooled: a.dot / Math.sqrt(a.sig * a.ny), perSample: a.cos.reduce((x, y) => x + y, 0) / a.cos.length, output: name };
  }
  return worst;
}
const fmt = (j: Awaited<ReturnType<typeof judge>>): string => `SQNR ${j.sqnrDb.toFixed(1)} dB, pooled ${j.pooled.toFixed(4)}, per-sample ${j.perSample.toFixed(4)} (${j.output})`;
console.log(`${spec.id} ${flag('opts', '{}')}: ${activationQs.length} activation Q/DQ pairs`);
console.log('int8 as built     :', fmt(await judge(q)));
console.log('weights only      :', fmt(await judge(without(new Set()))));
{
  // Clipping only: weights (and biases) back to the float values the quantizer started from.
  const m = without(new Set());
  const rename = new Map<string, string>();
  m.graph.nodes = m.graph.nodes.filter((n) => {
    if (n.opType !== 'DequantizeLinear' || !m.graph.initializers.has(n.inputs[0]!)) return true;
    const base = n.outputs[0]!.replace(/_DequantizeLinear_Output$/, '');
    const w = model.graph.initializers.get(base);
    if (!w) return true;
    m.graph.initializers.set(base, w);
    rename.set(n.outputs[0]!, base);
    return false;
  });
  for (const n of m.graph.nodes) n.inputs = n.inputs.map((i) => rename.get(i) ?? i);
  console.log(`clipping only     : ${fmt(await judge(m))} (${rename.size} weights and biases float)`);
  if (args.includes('--each-clip')) {
    // From "clipping only": drop one tensor's clipping at a time (weights int8 here) and see what that recovers.
    const rows: Array<{ t: string; j: Awaited<ReturnType<typeof judge>> }> = [];
    for (const node of activationQs) rows.push({ t: node.inputs[0]!, j: await judge(without(new Set(), node.outputs[0]!)) });
    rows.sort((a, b) => b.j.sqnrDb - a.j.sqnrDb);
    for (const r of rows.slice(0, 12)) console.log(`unclipped ${r.j.sqnrDb.toFixed(1).padStart(6)} dB ${r.j.pooled.toFixed(4)}  ${r.t}`);
  }
  console.log('float, prepared   :', fmt(await judge(model)));
}
{
  // Noise floor: the fp32 model against itself, its input moved by uniform noise of ±half a pixel level (what
  // rounding the image to 8 bits once more would do), seeded.
  const input = spec.input as { scale: number; std: readonly number[]; layout: string };
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const jitter = (f: Record<string, unknown>): Record<string, unknown> => {
    const [name, t] = Object.entries(f)[0]! as [string, { dims: number[]; values: Float32Array }];
    const v = new Float32Array(t.values);
    const plane = t.dims[2]! * t.dims[3]!;
    for (let k = 0; k < v.length; k++) { const c = input.layout === 'nchw' ? Math.floor(k / plane) % 3 : k % 3; v[k]! += (rand() - 0.5) * input.scale / input.std[c]!; }
    return { ...f, [name]: { ...t, values: v } };
  };
  console.log('fp32, input ±½ px :', fmt(await judge(original, jitter)));
}
if (args.includes('--each')) {
  const rows: Array<{ t: string; j: Awaited<ReturnType<typeof judge>> }> = [];
  for (const node of activationQs) {
    const j = await judge(without(new Set([node.outputs[0]!])));
    rows.push({ t: node.inputs[0]!, j });
  }
  rows.sort((a, b) => a.j.sqnrDb - b.j.sqnrDb);
  for (const r of rows) console.log(`${r.j.sqnrDb.toFixed(1).padStart(6)} dB ${r.j.pooled.toFixed(4)}  ${r.t}`);
}
if (args.includes('--each-weight')) {
  // Weight/bias rounding one at a time: from "weights only" (activation rounding removed), restore one quantized
  // initializer to its float value and measure how much that alone recovers.
  const base = without(new Set());
  const rows: Array<{ t: string; j: Awaited<ReturnType<typeof judge>> }> = [];
  for (const dq of base.graph.nodes.filter((n) => n.opType === 'DequantizeLinear' && base.graph.initializers.has(n.inputs[0]!))) {
    const name = dq.outputs[0]!.replace(/_DequantizeLinear_Output$/, '');
    const w = model.graph.initializers.get(name);
    if (!w) continue;
    const m = cloneModel(base);
    m.graph.nodes = m.graph.nodes.filter((n) => n.outputs[0] !== dq.outputs[0]);
    m.graph.initializers.set(name, w);
    for (const n of m.graph.nodes) n.inputs = n.inputs.map((i) => (i === dq.outputs[0] ? name : i));
    rows.push({ t: `${name} [${w.dims.join('x')}]`, j: await judge(m) });
  }
  rows.sort((a, b) => b.j.sqnrDb - a.j.sqnrDb);
  for (const r of rows.slice(0, 25)) console.log(`${r.j.sqnrDb.toFixed(1).padStart(6)} dB ${r.j.pooled.toFixed(4)}  ${r.t}`);
}
if (process.env.DEBUG_SPLIT) {
  const m = without(new Set());
  const r = await createInferenceRunner(encodeModel(m), { intraOpNumThreads: 2 });
  const out = await r.run(feedsList[0] as never);
  for (const [k, v] of out) { const f = tensorToFloat32(v); let mn = Infinity, mx = -Infinity; for (const x of f) { mn = Math.min(mn, x); mx = Math.max(mx, x); } console.log(k, mn, mx, [...refOut[0]!.get(k)!].slice(0, 3)); }
  const ops = new Map<string, number>(); for (const n of m.graph.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1); console.log([...ops]);
}
