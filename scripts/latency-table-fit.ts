/**
 * How well does a latency model explain the pruning latency table? (issue 15; the figure behind
 * src/compress/prune-latency-model.ts). Reads the `--json` report of `compress --method prune --allocate sensitivity`
 * (or `--target-latency-ms`), takes every width's measured gain (measuredLatencyMs when the report has it), and prints
 * the residual RMS of least-squares fits through the origin: gain = a·FLOPs removed, and gain = a·FLOPs +
 * b·intermediate tensor elements removed. Reports written before the elements were recorded get them recounted by
 * pruning MODEL to each width again.
 *
 *   npx tsx scripts/latency-table-fit.ts REPORT.json MODEL.onnx [--input-shape 1,3,480,480]
 */
import { readFileSync } from 'node:fs';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { cloneModel, type OnnxModel } from '../src/onnx/ir.js';
import { inferTensorTypes, staticShape } from '../src/onnx/shape-inference.js';
import { analyzeChannels, pruneChannels } from '../src/compress/prune-channels.js';

const [reportPath, modelPath] = process.argv.slice(2);
if (!reportPath || !modelPath) throw new Error('usage: latency-table-fit.ts REPORT.json MODEL.onnx [--input-shape 1,3,480,480]');
const shapeArg = process.argv.indexOf('--input-shape');
interface Option { kept: number; latencyMs: number; measuredLatencyMs?: number; flops: number; activations?: number }
const d = JSON.parse(readFileSync(reportPath, 'utf8')).details as {
  latency: { tableBaseMs: number; inputShapes: Record<string, number[]> };
  flops: { before: number };
  table: Array<{ id: number; options: Option[] }>;
};
const inputShapes = shapeArg > 0 ? { [Object.keys(d.latency.inputShapes)[0]!]: process.argv[shapeArg + 1]!.split(',').map(Number) } : d.latency.inputShapes;
const original = loadModelFile(modelPath).model;
normalizeModel(original);
const elementsOf = (m: OnnxModel): number => {
  const types = inferTensorTypes(m, { inputShapes });
  let e = 0;
  for (const n of m.graph.nodes) for (const o of n.outputs) {
    const s = o ? staticShape(types, o) : null;
    if (s) e += s.reduce((a, b) => a * b, 1);
  }
  return e;
};
const baseElements = elementsOf(original);
const analysis = analyzeChannels(original);
const base = d.latency.tableBaseMs;
const rows = d.table.flatMap((g) =>
  g.options.map((o) => {
    let elements = o.activations;
    if (elements === undefined) {
      const m = cloneModel(original);
      const channels = analysis.groups.find((x) => x.id === g.id)!.components.length;
      const groupRatios = new Map(analysis.groups.map((x) => [x.id, x.id === g.id ? 1 - o.kept / channels : 0]));
      pruneChannels(m, { ratio: 1 - o.kept / channels, groupRatios, importance: 'l2' });
      elements = elementsOf(m);
    }
    return { f: (d.flops.before - o.flops) / 1e9, e: (baseElements - elements) / 1e6, gain: base - (o.measuredLatencyMs ?? o.latencyMs) };
  }),
);
const rms = (res: number[]): number => Math.sqrt(res.reduce((s, x) => s + x * x, 0) / res.length);
let ff = 0, fe = 0, ee = 0, fy = 0, ey = 0;
for (const r of rows) { ff += r.f * r.f; fe += r.f * r.e; ee += r.e * r.e; fy += r.f * r.gain; ey += r.e * r.gain; }
const k = fy / ff;
const det = ff * ee - fe * fe;
const a = (fy * ee - ey * fe) / det;
const b = (ey * ff - fy * fe) / det;
console.log(`${rows.length} widths, table base ${base.toFixed(2)} ms`);
console.log(`FLOPs only: ${k.toFixed(2)} ms/GFLOP, residual RMS ${rms(rows.map((r) => r.gain - k * r.f)).toFixed(3)} ms`);
console.log(`FLOPs + elements: ${a.toFixed(2)} ms/GFLOP + ${b.toFixed(3)} ms/M elements, residual RMS ${rms(rows.map((r) => r.gain - a * r.f - b * r.e)).toFixed(3)} ms`);
