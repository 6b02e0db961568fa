/**
 * Which encoding of an equalized HardSwish island onnxruntime runs fastest between two int8 convolutions: the float
 * island (DQ → Mul per channel → HardSwish → Mul, Add per channel → Q), the per-channel table lookup the int8
 * pipeline writes today (Cast + GatherElements), and HardSwish as integer ops: x · HardSigmoid(k·x) with the
 * HardSigmoid as a depthwise 1×1 QLinearConv whose uint8 output saturates at 0 and 1 (the clip for free), then a
 * QLinearMul, the affine folded into the next convolution (or kept as a depthwise 1×1 convolution when the next
 * convolution pads). Every variant runs between the same two 1×1 convolutions (so onnxruntime's NHWC layout and
 * its transposes are the same for all), alternating run by run in one process; each variant's output is compared
 * with the float island's.
 *
 *   npx tsx scripts/bench-hardswish-encodings.ts [--shape 1x48x120x120] [--iterations 40] [--threads 2]
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
const dims = flag('shape', '1x48x120x120').split('x').map(Number);
const iterations = Number(flag('iterations', '40'));
const threads = Number(flag('threads', '2'));
const channels = dims[1]!;
const count = dims.reduce((a, b) => a * b, 1);

let seed = 12345;
const random = (): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return (seed >>> 8) / 2 ** 24;
};
const perChannel = (lo: number, hi: number): number[] => Array.from({ length: channels }, () => lo + (hi - lo) * random());
const k = perChannel(0.3, 3); // equalization's channel scale in front of the HardSwish
const gamma = perChannel(0.5, 1.5); // the affine after it (PP-LCNet's learnable affine, equalized per channel)
const beta = perChannel(-0.5, 0.5);
const convWeights = (salt: number): number[] => Array.from({ length: channels * channels }, (_, i) => Math.sin(i * 12.9898 + salt) * 0.3);

function model(nodes: OnnxNode[], initializers: Tensor[]): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 14 }],
    producerName: 'bench-hardswish-encodings',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'g',
      nodes,
      inputs: [{ name: 'x', type: { elemType: DataType.UINT8, shape: dims } }],
      outputs: [{ name: 'y', type: { elemType: DataType.UINT8, shape: null } }],
      valueInfo: [],
      initializers: new Map(initializers.map((t) => [t.name, t])),
    },
  };
}

/** A QDQ 1×1 convolution C → C reading the 8-bit `input`, writing the 8-bit `output`; `inScale` scales input channels. */
function conv(prefix: string, input: string, inScale: number[] | null, inBias: number[] | null, q: [number, number], dq: [number, number], output: string, salt: number): { nodes: OnnxNode[]; inits: Tensor[] } {
  const w = convWeights(salt).map((v, i) => v * (inScale ? inScale[i % channels]! : 1));
  const wScale = Array.from({ length: channels }, (_, o) => Math.max(...w.slice(o * channels, (o + 1) * channels).map(Math.abs)) / 127);
  const wq = Int8Array.from(w, (v, i) => Math.round(v / wScale[Math.floor(i / channels)]!));
  const bias = Array.from({ length: channels }, (_, o) => 0.1 + (inBias ? inBias.reduce((s, b, c) => s + b * convWeights(salt)[o * channels + c]!, 0) : 0));
  const bScale = wScale.map((s) => s * dq[0]);
  return {
    nodes: [
      makeNode('DequantizeLinear', [input, `${prefix}_xs`, `${prefix}_xz`], [`${prefix}_xf`], `${prefix}_dqx`),
      makeNode('DequantizeLinear', [`${prefix}_w`, `${prefix}_ws`, `${prefix}_wz`], [`${prefix}_wf`], `${prefix}_dqw`, { axis: attr.int(0) }),
      makeNode('DequantizeLinear', [`${prefix}_b`, `${prefix}_bs`, `${prefix}_bz`], [`${prefix}_bf`], `${prefix}_dqb`, { axis: attr.int(0) }),
      makeNode('Conv', [`${prefix}_xf`, `${prefix}_wf`, `${prefix}_bf`], [`${prefix}_yf`], `${prefix}_conv`),
      makeNode('QuantizeLinear', [`${prefix}_yf`, `${prefix}_ys`, `${prefix}_yz`], [output], `${prefix}_q`),
    ],
    inits: [
      floatTensor(`${prefix}_xs`, [], [dq[0]]), makeTensor(`${prefix}_xz`, DataType.UINT8, [], [dq[1]]),
      makeTensor(`${prefix}_w`, DataType.INT8, [channels, channels, 1, 1], wq), floatTensor(`${prefix}_ws`, [channels], wScale), makeTensor(`${prefix}_wz`, DataType.INT8, [channels], new Int8Array(channels)),
      makeTensor(`${prefix}_b`, DataType.INT32, [channels], Int32Array.from(bias, (b, o) => Math.round(b / bScale[o]!))), floatTensor(`${prefix}_bs`, [channels], bScale), makeTensor(`${prefix}_bz`, DataType.INT32, [channels], new Int32Array(channels)),
      floatTensor(`${prefix}_ys`, [], [q[0]]), makeTensor(`${prefix}_yz`, DataType.UINT8, [], [q[1]]),
    ],
  };
}

const inQ: [number, number] = [0.05, 100]; // the island's input (the first conv's output)
// The island's output: its float range, γ·HardSwish(k·u) + β for u in the input's range, over 255 steps.
const inRange = [-inQ[0] * inQ[1], inQ[0] * (255 - inQ[1])] as const;
const outMax = Math.max(...k.map((kc, c) => gamma[c]! * kc * inRange[1] + beta[c]!));
const outMin = Math.min(...k.map((_, c) => gamma[c]! * -0.375 + beta[c]!), 0);
const outQ: [number, number] = [(outMax - outMin) / 255, Math.round(-outMin / ((outMax - outMin) / 255))];
const pQ: [number, number] = [0.05, 100]; // x · HardSigmoid(k·x) lies within x's range: x's own parameters
const finalQ: [number, number] = [0.2, 128];
const first = conv('c1', 'x', null, null, inQ, [0.02, 128], 'u', 1);

/** The float island u → DQ → Mul k → HardSwish → Mul γ → Add β → Q, then the second conv. */
function floatIsland(): OnnxModel {
  const second = conv('c2', 'v', null, null, finalQ, outQ, 'y', 2);
  return model([
    ...first.nodes,
    makeNode('DequantizeLinear', ['u', 'is', 'iz'], ['uf'], 'dq'),
    makeNode('Mul', ['uf', 'k'], ['a'], 'mulk'),
    makeNode('HardSwish', ['a'], ['b'], 'hs'),
    makeNode('Mul', ['b', 'gamma'], ['c'], 'mulg'),
    makeNode('Add', ['c', 'beta'], ['d'], 'addb'),
    makeNode('QuantizeLinear', ['d', 'os', 'oz'], ['v'], 'q'),
    ...second.nodes,
  ], [
    ...first.inits, ...second.inits,
    floatTensor('is', [], [inQ[0]]), makeTensor('iz', DataType.UINT8, [], [inQ[1]]),
    floatTensor('os', [], [outQ[0]]), makeTensor('oz', DataType.UINT8, [], [outQ[1]]),
    floatTensor('k', [1, channels, 1, 1], k), floatTensor('gamma', [1, channels, 1, 1], gamma), floatTensor('beta', [1, channels, 1, 1], beta),
  ]);
}

/** The island in float with no requantization at its output: the reference every encoding is compared with. */
function unquantizedIsland(): OnnxModel {
  const m = floatIsland();
  const q = m.graph.nodes.find((n) => n.name === 'q')!;
  const dq = m.graph.nodes.find((n) => n.name === 'c2_dqx')!;
  m.graph.nodes = m.graph.nodes.filter((n) => n !== q && n !== dq);
  for (const n of m.graph.nodes) n.inputs = n.inputs.map((i) => (i === 'c2_xf' ? 'd' : i));
  return m;
}

/** The island as the int8 pipeline's per-channel lookup: Reshape [0, C, −1] + Cast int32 + GatherElements axis 2. */
function lookup(table: Uint8Array): OnnxModel {
  const second = conv('c2', 'v', null, null, finalQ, outQ, 'y', 2);
  return model([
    ...first.nodes,
    makeNode('Shape', ['u'], ['shape'], 'shape'),
    makeNode('Reshape', ['u', 'flat'], ['uflat'], 'flatten'),
    makeNode('Cast', ['uflat'], ['idx'], 'cast', { to: attr.int(DataType.INT32) }),
    makeNode('GatherElements', ['table', 'idx'], ['vflat'], 'gather', { axis: attr.int(2) }),
    makeNode('Reshape', ['vflat', 'shape'], ['v'], 'unflatten'),
    ...second.nodes,
  ], [...first.inits, ...second.inits, makeTensor('table', DataType.UINT8, [1, channels, 256], table), int64Tensor('flat', [3], [0, channels, -1])]);
}

/**
 * HardSwish as integer ops: t = DW1×1 conv (weight k/6, bias ½) → Q(1/255, 0) saturating to HardSigmoid; P = u · t
 * → Q (QLinearMul). `affineConv` false: γ·k folded into the next conv's input channels, β into its bias (what the
 * int8 pipeline does when no reader pads); true: the affine stays as a DW1×1 conv (weight γ·k, bias β) on P, written
 * at the island's output parameters (what it does when a reader pads).
 */
function integerOps(affineConv: boolean): OnnxModel {
  const scale = gamma.map((g, c) => g * k[c]!);
  const second = affineConv ? conv('c2', 'v', null, null, finalQ, outQ, 'y', 2) : conv('c2', 'p', scale, beta, finalQ, pQ, 'y', 2);
  const depthwise = (prefix: string, input: string, inQ: [number, number], weights: number[], bias: number[], outName: string, outParams: [string, string]): { nodes: OnnxNode[]; inits: Tensor[] } => {
    const wScale = weights.map((v) => Math.abs(v) / 127);
    const bScale = wScale.map((s) => s * inQ[0]);
    return {
      nodes: [
        makeNode('DequantizeLinear', [input, `${prefix}_is`, `${prefix}_iz`], [`${prefix}_xf`], `${prefix}_dqx`),
        makeNode('DequantizeLinear', [`${prefix}_w`, `${prefix}_ws`, `${prefix}_wz`], [`${prefix}_wf`], `${prefix}_dqw`, { axis: attr.int(0) }),
        makeNode('DequantizeLinear', [`${prefix}_b`, `${prefix}_bs`, `${prefix}_bz`], [`${prefix}_bf`], `${prefix}_dqb`, { axis: attr.int(0) }),
        makeNode('Conv', [`${prefix}_xf`, `${prefix}_wf`, `${prefix}_bf`], [`${prefix}_yf`], `${prefix}_conv`, { group: attr.int(channels) }),
        makeNode('QuantizeLinear', [`${prefix}_yf`, ...outParams], [outName], `${prefix}_q`),
      ],
      inits: [
        floatTensor(`${prefix}_is`, [], [inQ[0]]), makeTensor(`${prefix}_iz`, DataType.UINT8, [], [inQ[1]]),
        makeTensor(`${prefix}_w`, DataType.INT8, [channels, 1, 1, 1], Int8Array.from(weights, (v) => Math.sign(v) * 127)), floatTensor(`${prefix}_ws`, [channels], wScale), makeTensor(`${prefix}_wz`, DataType.INT8, [channels], new Int8Array(channels)),
        makeTensor(`${prefix}_b`, DataType.INT32, [channels], Int32Array.from(bias, (b, c) => Math.round(b / bScale[c]!))), floatTensor(`${prefix}_bs`, [channels], bScale), makeTensor(`${prefix}_bz`, DataType.INT32, [channels], new Int32Array(channels)),
      ],
    };
  };
  const hsig = depthwise('t', 'u', inQ, k.map((v) => v / 6), new Array(channels).fill(0.5), 't', ['ts', 'tz']);
  const nodes: OnnxNode[] = [
    ...first.nodes,
    ...hsig.nodes,
    makeNode('DequantizeLinear', ['u', 'is', 'iz'], ['uf2'], 'dq_u'),
    makeNode('DequantizeLinear', ['t', 'ts', 'tz'], ['tf2'], 'dq_t2'),
    makeNode('Mul', ['uf2', 'tf2'], ['pf'], 'mul'),
    makeNode('QuantizeLinear', ['pf', 'ps', 'pz'], ['p'], 'q_p'),
  ];
  const inits: Tensor[] = [
    ...first.inits, ...second.inits, ...hsig.inits,
    floatTensor('is', [], [inQ[0]]), makeTensor('iz', DataType.UINT8, [], [inQ[1]]),
    floatTensor('ts', [], [1 / 255]), makeTensor('tz', DataType.UINT8, [], [0]),
    floatTensor('ps', [], [pQ[0]]), makeTensor('pz', DataType.UINT8, [], [pQ[1]]),
  ];
  if (affineConv) {
    const affine = depthwise('a', 'p', pQ, scale, beta, 'v', ['os', 'oz']);
    nodes.push(...affine.nodes);
    inits.push(...affine.inits, floatTensor('os', [], [outQ[0]]), makeTensor('oz', DataType.UINT8, [], [outQ[1]]));
  }
  return model([...nodes, ...second.nodes], inits);
}

// The per-channel table: the float island alone, run once on every channel's 256 values.
const islandOnly: OnnxModel = model([
  makeNode('DequantizeLinear', ['x', 'is', 'iz'], ['uf'], 'dq'),
  makeNode('Mul', ['uf', 'k'], ['a'], 'mulk'),
  makeNode('HardSwish', ['a'], ['b'], 'hs'),
  makeNode('Mul', ['b', 'gamma'], ['c'], 'mulg'),
  makeNode('Add', ['c', 'beta'], ['d'], 'addb'),
  makeNode('QuantizeLinear', ['d', 'os', 'oz'], ['y'], 'q'),
], [
  floatTensor('is', [], [inQ[0]]), makeTensor('iz', DataType.UINT8, [], [inQ[1]]),
  floatTensor('os', [], [outQ[0]]), makeTensor('oz', DataType.UINT8, [], [outQ[1]]),
  floatTensor('k', [1, channels, 1, 1], k), floatTensor('gamma', [1, channels, 1, 1], gamma), floatTensor('beta', [1, channels, 1, 1], beta),
]);
islandOnly.graph.inputs[0]!.type!.shape = [1, channels, 1, 256];
const tableRunner = await createInferenceRunner(encodeModel(islandOnly));
const tableIn = new Uint8Array(channels * 256).map((_, i) => i & 255);
const table = Uint8Array.from((await tableRunner.run({ x: makeTensor('x', DataType.UINT8, [1, channels, 1, 256], tableIn) })).get('y')!.values as Uint8Array);
await tableRunner.release();

const variants: Record<string, OnnxModel> = {
  'float island, no requantization (reference)': unquantizedIsland(),
  'float island': floatIsland(),
  'per-channel lookup (today)': lookup(table),
  'DW1×1 QLinearConv + QLinearMul, β folded': integerOps(false),
  'DW1×1 QLinearConv + QLinearMul + DW1×1 affine': integerOps(true),
};

const input = new Uint8Array(count);
for (let i = 0; i < count; i++) input[i] = Math.floor(40 + 176 * random());
const feeds = { x: makeTensor('x', DataType.UINT8, dims, input) };
const names = Object.keys(variants);
const runners = await Promise.all(names.map((n) => createInferenceRunner(encodeModel(variants[n]!), { intraOpNumThreads: threads })));
const reference = (await runners[0]!.run(feeds)).get('y')!.values as Uint8Array;
for (let v = 1; v < runners.length; v++) {
  const out = (await runners[v]!.run(feeds)).get('y')!.values as Uint8Array;
  let differ = 0;
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs(out[i]! - reference[i]!);
    if (d) differ++;
    worst = Math.max(worst, d);
  }
  console.log(`${names[v]}: ${((100 * differ) / count).toFixed(1)} % of the final conv's outputs differ from the reference (the island without requantization), by at most ${worst} step(s)`);
}
const times = await alternatedRunTimesMs(runners, feeds, iterations);
const base = median(times[1]!);
console.log(`| encoding (HardSwish island between two 1×1 convs, [${dims.join('x')}]) | p50 ms | speed-up over the float island |\n|---|---|---|`);
names.forEach((n, v) => console.log(`| ${n} | ${median(times[v]!).toFixed(3)} | ${(base / median(times[v]!)).toFixed(2)}× |`));
console.log(`(${iterations} alternated runs each, ${threads} intra-op threads, ${new Date().toISOString()})`);
for (const r of runners) await r.release();
