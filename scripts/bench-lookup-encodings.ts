/**
 * Which ONNX encoding of a 256-entry uint8 table lookup onnxruntime runs fastest on CPU, against the float island it
 * would replace (uint8 → DequantizeLinear → HardSwish → QuantizeLinear → uint8). Every variant runs on the same
 * uint8 tensor, all alternating run by run in one process; each lookup's output is checked equal to the island's.
 *
 *   npx tsx scripts/bench-lookup-encodings.ts [--shape 1x16x240x240] [--iterations 40] [--threads 2] [--op HardSwish]
 */
import { median } from '../src/profile/latency-stats.js';
import { alternatedRunTimesMs } from './lib/latency.js';
import { DataType } from '../src/onnx/dtype.js';
import type { OnnxModel, OnnxNode, Tensor } from '../src/onnx/ir.js';
import { attr, makeNode } from '../src/onnx/graph.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { floatTensor, int64Tensor, makeTensor } from '../src/onnx/tensor.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const dims = flag('shape', '1x16x240x240').split('x').map(Number);
const iterations = Number(flag('iterations', '40'));
const threads = Number(flag('threads', '2'));
const op = flag('op', 'HardSwish');
const count = dims.reduce((a, b) => a * b, 1);

function model(nodes: OnnxNode[], initializers: Tensor[], opset = 14): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'bench-lookup-encodings',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'g',
      nodes,
      inputs: [{ name: 'x', type: { elemType: DataType.UINT8, shape: dims.map((d, i) => (i === 0 ? 'N' : d)) } }],
      outputs: [{ name: 'y', type: { elemType: DataType.UINT8, shape: null } }],
      valueInfo: [],
      initializers: new Map(initializers.map((t) => [t.name, t])),
    },
  };
}

const qdq = [floatTensor('s1', [], [0.05]), makeTensor('z1', DataType.UINT8, [], [100]), floatTensor('s2', [], [0.03]), makeTensor('z2', DataType.UINT8, [], [20])];
const island = (input: number[] | null): OnnxModel => {
  const m = model([
    makeNode('DequantizeLinear', ['x', 's1', 'z1'], ['f'], 'dq'),
    makeNode(op, ['f'], ['g'], 'op'),
    makeNode('QuantizeLinear', ['g', 's2', 'z2'], ['y'], 'q'),
  ], qdq);
  if (input) m.graph.inputs[0]!.type!.shape = [input.length];
  return m;
};

// The table: the island itself run once on the 256 values.
const tableRunner = await createInferenceRunner(encodeModel(island(Array.from({ length: 256 }, (_, i) => i))));
const tableOut = await tableRunner.run({ x: makeTensor('x', DataType.UINT8, [256], Uint8Array.from({ length: 256 }, (_, i) => i)) });
const table = Uint8Array.from(tableOut.get('y')!.values as Uint8Array);
await tableRunner.release();

const tableTensor = (name: string, shape: number[]): Tensor => makeTensor(name, DataType.UINT8, shape, table);
const variants: Record<string, OnnxModel> = {
  island: island(null),
  'Cast int32 + Gather': model([
    makeNode('Cast', ['x'], ['i'], 'cast', { to: attr.int(DataType.INT32) }),
    makeNode('Gather', ['table', 'i'], ['y'], 'gather', { axis: attr.int(0) }),
  ], [tableTensor('table', [256])]),
  'Cast int64 + Gather': model([
    makeNode('Cast', ['x'], ['i'], 'cast', { to: attr.int(DataType.INT64) }),
    makeNode('Gather', ['table', 'i'], ['y'], 'gather', { axis: attr.int(0) }),
  ], [tableTensor('table', [256])]),
  'Cast int32 + GatherElements [1,N]': model([
    makeNode('Cast', ['x'], ['i'], 'cast', { to: attr.int(DataType.INT32) }),
    makeNode('Shape', ['x'], ['shape'], 'shape'),
    makeNode('Reshape', ['i', 'flat'], ['i2'], 'flatten'),
    makeNode('GatherElements', ['table', 'i2'], ['y2'], 'gather', { axis: attr.int(1) }),
    makeNode('Reshape', ['y2', 'shape'], ['y'], 'unflatten'),
  ], [tableTensor('table', [1, 256]), int64Tensor('flat', [2], [1, -1])]),
};

const input = new Uint8Array(count);
let seed = 12345;
for (let i = 0; i < count; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  input[i] = 60 + ((seed >>> 16) % 120); // a spread like a real activation around the zero point
}
const feeds = { x: makeTensor('x', DataType.UINT8, dims, input) };
const names = Object.keys(variants);
const runners = await Promise.all(names.map((n) => createInferenceRunner(encodeModel(variants[n]!), { intraOpNumThreads: threads })));
const reference = (await runners[0]!.run(feeds)).get('y')!.values as Uint8Array;
for (let k = 1; k < runners.length; k++) {
  const out = (await runners[k]!.run(feeds)).get('y')!.values as Uint8Array;
  let diff = 0;
  for (let i = 0; i < count; i++) if (out[i] !== reference[i]) diff++;
  console.log(`${names[k]}: ${diff} of ${count} values differ from the island`);
}
const times = await alternatedRunTimesMs(runners, feeds, iterations);
const p50 = median;
const base = p50(times[0]!);
console.log(`| encoding (${op}, [${dims.join('x')}]) | p50 ms | speed-up over the island |\n|---|---|---|`);
names.forEach((n, k) => console.log(`| ${n} | ${p50(times[k]!).toFixed(3)} | ${(base / p50(times[k]!)).toFixed(2)}× |`));
console.log(`(${iterations} alternated runs each, ${threads} intra-op threads, ${new Date().toISOString()})`);
for (const r of runners) await r.release();
