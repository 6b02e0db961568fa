/**
 * Probe which ONNX ops onnxruntime-node's CPU provider can load and run with float16 tensors. Prints one line per
 * op: ok, or the error. The fp16 pass's block list (src/compress/quantize-fp16.ts) is checked against this.
 * Run: npx tsx scripts/probe-fp16-ops.ts
 */
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../src/onnx/model-codec.js';
import { DataType } from '../src/onnx/dtype.js';
import { attr, makeNode } from '../src/onnx/graph.js';
import type { AttributeValue, OnnxModel, Tensor } from '../src/onnx/ir.js';
import { float32ToFloat16Bits } from '../src/onnx/float16.js';
import { int64Tensor, makeTensor } from '../src/onnx/tensor.js';

interface Probe {
  op: string;
  opset?: number;
  /** Shape of the fp16 input x. */
  x?: number[];
  /** Extra constant inputs (fp16 when dataType FLOAT16). */
  extra?: Array<Tensor | ''>;
  attrs?: Record<string, AttributeValue>;
  outputs?: number;
  domain?: string;
  /** Extra inputs fed as float16 graph inputs with the same shape as x (binary ops). */
  binary?: boolean;
  /** Where: a bool condition (x > 0) is computed first. */
  whereFirst?: boolean;
}

const h = (name: string, dims: number[], fill: (i: number) => number): Tensor => {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = new Uint16Array(n);
  for (let i = 0; i < n; i++) v[i] = float32ToFloat16Bits(fill(i));
  return makeTensor(name, DataType.FLOAT16, dims, v);
};
const f = (name: string, dims: number[], values: number[]): Tensor => makeTensor(name, DataType.FLOAT, dims, Float32Array.from(values));

const X4 = [1, 4, 6, 6];
const probes: Probe[] = [
  ...['Abs', 'Neg', 'Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Erf', 'Sin', 'Cos',
    'Softplus', 'Softsign', 'Elu', 'Selu', 'HardSigmoid', 'LeakyRelu', 'ThresholdedRelu', 'Celu', 'Identity', 'IsNaN', 'IsInf',
    'GlobalAveragePool', 'GlobalMaxPool', 'Shape', 'Size', 'NonZero', 'Dropout', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh',
    'MeanVarianceNormalization', 'Hardmax', 'Softmax', 'LogSoftmax'].map((op) => ({ op })),
  { op: 'Gelu', opset: 20 },
  { op: 'HardSwish', opset: 14 },
  { op: 'Mish', opset: 18 },
  { op: 'IsInf', opset: 20 },
  { op: 'Trilu', opset: 14, x: [6, 6] },
  { op: 'Bernoulli', opset: 15, x: [4] },
  ...['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Min', 'Max', 'Sum', 'Mean', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'PRelu', 'Mod'].map((op) => ({ op, binary: true, attrs: op === 'Mod' ? { fmod: attr.int(1) } : {} })),
  { op: 'Clip', extra: [h('mn', [], () => 0), h('mx', [], () => 6)] },
  { op: 'Clip', opset: 9, attrs: { min: attr.float(0), max: attr.float(6) } },
  { op: 'Conv', extra: [h('w', [8, 4, 3, 3], (i) => Math.sin(i)), h('b', [8], (i) => i / 8)] },
  { op: 'ConvTranspose', extra: [h('w', [4, 8, 3, 3], (i) => Math.sin(i)), h('b', [8], (i) => i / 8)], attrs: { strides: attr.ints([2, 2]) } },
  { op: 'MaxPool', attrs: { kernel_shape: attr.ints([2, 2]) } },
  { op: 'AveragePool', attrs: { kernel_shape: attr.ints([2, 2]) } },
  { op: 'LpPool', attrs: { kernel_shape: attr.ints([2, 2]) } },
  { op: 'BatchNormalization', extra: [h('s', [4], () => 1.5), h('b', [4], () => 0.1), h('m', [4], () => 0.2), h('v', [4], () => 2)] },
  { op: 'InstanceNormalization', extra: [h('s', [4], () => 1.5), h('b', [4], () => 0.1)] },
  { op: 'LayerNormalization', opset: 17, extra: [h('s', [6], () => 1.5), h('b', [6], () => 0.1)], attrs: { axis: attr.int(-1) } },
  { op: 'GroupNormalization', opset: 21, extra: [h('s', [4], () => 1.5), h('b', [4], () => 0.1)], attrs: { num_groups: attr.int(2) } },
  { op: 'LRN', attrs: { size: attr.int(3) } },
  { op: 'LpNormalization' },
  { op: 'MatMul', x: [2, 6], extra: [h('w', [6, 5], (i) => Math.cos(i))] },
  { op: 'Gemm', x: [2, 6], extra: [h('w', [6, 5], (i) => Math.cos(i)), h('c', [5], (i) => i)] },
  { op: 'Einsum', x: [2, 6], extra: [h('w', [6, 5], (i) => Math.cos(i))], attrs: { equation: attr.string('ij,jk->ik') } },
  { op: 'Concat', binary: true, attrs: { axis: attr.int(1) } },
  { op: 'Reshape', extra: [int64Tensor('s', [2], [4, -1])] },
  { op: 'Transpose', attrs: { perm: attr.ints([0, 2, 3, 1]) } },
  { op: 'Flatten' },
  { op: 'Squeeze', extra: [int64Tensor('a', [1], [0])] },
  { op: 'Unsqueeze', extra: [int64Tensor('a', [1], [0])] },
  { op: 'Slice', extra: [int64Tensor('st', [1], [1]), int64Tensor('en', [1], [3]), int64Tensor('ax', [1], [1])] },
  { op: 'Gather', extra: [int64Tensor('i', [2], [0, 2])], attrs: { axis: attr.int(1) } },
  { op: 'GatherElements', extra: [makeTensor('i', DataType.INT64, [1, 1, 1, 1], BigInt64Array.from([0n]))] },
  { op: 'GatherND', extra: [int64Tensor('i', [1, 1], [0])] },
  { op: 'Split', extra: [int64Tensor('sp', [2], [2, 2])], attrs: { axis: attr.int(1) }, outputs: 2 },
  { op: 'Pad', extra: [int64Tensor('p', [8], [0, 0, 1, 1, 0, 0, 1, 1])] },
  { op: 'Pad', extra: [int64Tensor('p', [8], [0, 0, 1, 1, 0, 0, 1, 1])], attrs: { mode: attr.string('reflect') } },
  { op: 'Pad', extra: [int64Tensor('p', [8], [0, 0, 1, 1, 0, 0, 1, 1]), h('cv', [], () => 0.5)] },
  { op: 'Expand', extra: [int64Tensor('s', [4], [2, 4, 6, 6])] },
  { op: 'Tile', extra: [int64Tensor('r', [4], [1, 1, 2, 1])] },
  { op: 'DepthToSpace', attrs: { blocksize: attr.int(2) } },
  { op: 'SpaceToDepth', attrs: { blocksize: attr.int(2) } },
  { op: 'Resize', extra: ['', f('sc', [4], [1, 1, 2, 2])], attrs: { mode: attr.string('nearest') } },
  { op: 'Resize', extra: ['', f('sc', [4], [1, 1, 2, 2])], attrs: { mode: attr.string('linear') } },
  { op: 'Resize', extra: ['', h('sc', [4], (i) => [1, 1, 2, 2][i]!)], attrs: { mode: attr.string('nearest') } },
  { op: 'Resize', extra: [h('roi', [0], () => 0), f('sc', [4], [1, 1, 2, 2])], attrs: { mode: attr.string('nearest') } },
  { op: 'Resize', extra: ['', '', int64Tensor('sz', [4], [1, 4, 12, 12])], attrs: { mode: attr.string('linear') } },
  { op: 'Resize', opset: 11, extra: [f('roi', [0], []), f('sc', [4], [1, 1, 2, 2])], attrs: { mode: attr.string('nearest') } },
  { op: 'Resize', opset: 11, extra: [h('roi', [0], () => 0), f('sc', [4], [1, 1, 2, 2])], attrs: { mode: attr.string('nearest') } },
  { op: 'Upsample', opset: 9, extra: [f('sc', [4], [1, 1, 2, 2])] },
  ...['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp', 'ReduceLogSum'].map((op) => ({ op, opset: 17, attrs: { axes: attr.ints([1]) } })),
  { op: 'ReduceSum', extra: [int64Tensor('a', [1], [1])] },
  { op: 'ReduceMean', opset: 18, extra: [int64Tensor('a', [1], [1])] },
  { op: 'ArgMax', attrs: { axis: attr.int(1) } },
  { op: 'ArgMin', attrs: { axis: attr.int(1) } },
  { op: 'TopK', extra: [int64Tensor('k', [1], [2])], outputs: 2 },
  { op: 'CumSum', extra: [int64Tensor('a', [], [1])] },
  { op: 'Where', whereFirst: true, extra: [h('y', X4, (i) => -i)], x: X4 },
  { op: 'Cast', attrs: { to: attr.int(DataType.FLOAT) } },
  { op: 'CastLike', opset: 15, extra: [f('like', [1], [0])] },
    { op: 'ScatterND', extra: [int64Tensor('i', [1, 1], [0]), h('u', [1, 4, 6, 6], () => 1)] },
  { op: 'ScatterElements', extra: [makeTensor('i', DataType.INT64, [1, 1, 1, 1], BigInt64Array.from([0n])), h('u', [1, 1, 1, 1], () => 7)] },
  { op: 'OneHot', x: [3], extra: [int64Tensor('d', [], [4]), h('v', [2], (i) => i)] },
  { op: 'Det', x: [3, 3] },
  { op: 'GridSample', opset: 16, extra: [h('g', [1, 3, 3, 2], (i) => Math.sin(i))] },
  { op: 'RoiAlign', extra: [h('r', [1, 4], (i) => i), makeTensor('bi', DataType.INT64, [1], BigInt64Array.from([0n]))] },
  { op: 'NonMaxSuppression', x: [1, 3, 4], extra: [h('sc', [1, 1, 3], (i) => i / 3)] },
  { op: 'Range', x: [], extra: [h('lim', [], () => 5), h('d', [], () => 1)] },
  { op: 'EyeLike', x: [4, 4] },
  { op: 'RandomNormalLike' },
  { op: 'Compress', extra: [makeTensor('c', DataType.BOOL, [2], Uint8Array.from([1, 0]))], attrs: { axis: attr.int(1) } },
  { op: 'ReverseSequence', x: [4, 3], extra: [int64Tensor('l', [3], [1, 2, 3])], attrs: { batch_axis: attr.int(1), time_axis: attr.int(0) } },
  { op: 'Unique', x: [6] },
  { op: 'MaxRoiPool', extra: [h('r', [1, 5], (i) => [0, 0, 0, 3, 3][i]!)], attrs: { pooled_shape: attr.ints([2, 2]) } },
  { op: 'AffineGrid', opset: 20, x: [1, 2, 3], extra: [int64Tensor('s', [4], [1, 1, 4, 4])] },
  { op: 'Col2Im', opset: 18, x: [1, 4, 9], extra: [int64Tensor('is', [2], [4, 4]), int64Tensor('bs', [2], [2, 2])] },
  { op: 'CenterCropPad', opset: 18, extra: [int64Tensor('s', [4], [1, 4, 4, 4])] },
  { op: 'DFT', opset: 17, x: [1, 8, 1] },
  { op: 'STFT', opset: 17, x: [1, 16, 1], extra: [int64Tensor('step', [], [4]), h('win', [8], () => 1)] },
  { op: 'HammingWindow', opset: 17, x: [] },
  { op: 'Shrink' },
];

function build(p: Probe, variant: number): OnnxModel {
  const x = p.x ?? X4;
  const inputs = ['x'];
  const initializers = new Map<string, Tensor>();
  if (p.binary) inputs.push('y');
  for (const [i, t] of (p.extra ?? []).entries()) {
    if (t === '') {
      inputs.push('');
      continue;
    }
    const name = `c${i}_${t.name}`;
    initializers.set(name, { ...t, name });
    inputs.push(name);
  }
  const outputs = Array.from({ length: p.outputs ?? 1 }, (_, i) => `out${i}`);
  const nodes = [];
  if (p.whereFirst) {
    initializers.set('zero', h('zero', [], () => 0));
    nodes.push(makeNode('Greater', ['x', 'zero'], ['cond'], 'cond'));
    inputs.unshift('cond');
  }
  nodes.push(makeNode(p.op, inputs, outputs, `probe_${variant}`, p.attrs ?? {}, p.domain ?? ''));
  const xType = p.op === 'OneHot' ? DataType.INT64 : p.op === 'HammingWindow' ? DataType.INT64 : DataType.FLOAT16;
  const graphInputs = [{ name: 'x', type: { elemType: xType, shape: x } }];
  if (p.binary) graphInputs.push({ name: 'y', type: { elemType: DataType.FLOAT16, shape: x } });
  return {
    irVersion: 10,
    opsetImports: [{ domain: '', version: p.opset ?? 13 }],
    producerName: 'probe', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadataProps: [],
    graph: { name: 'g', nodes, inputs: graphInputs, outputs: outputs.map((name) => ({ name, type: null })), valueInfo: [], initializers },
  };
}

async function main(): Promise<void> {
  const failures: string[] = [];
  for (const [i, p] of probes.entries()) {
    const model = build(p, i);
    const label = `${p.op}${p.opset ? `@${p.opset}` : ''}${p.extra ? `(${p.extra.map((e) => (e === '' ? '-' : `${e.name}:${e.dataType === DataType.FLOAT16 ? 'f16' : e.dataType === DataType.FLOAT ? 'f32' : 'int'}`)).join(',')})` : ''}${p.attrs?.mode ? `[${(p.attrs.mode as { value: string }).value}]` : ''}`;
    try {
      const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 4 });
      const xDims = p.x ?? X4;
      const n = xDims.reduce((a, b) => a * b, 1);
      const feeds: Record<string, ort.Tensor> = {};
      const isInt = p.op === 'OneHot' || p.op === 'HammingWindow';
      feeds.x = isInt ? new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, k) => BigInt(k % 3)), xDims) : new ort.Tensor('float16', Uint16Array.from({ length: n }, (_, k) => float32ToFloat16Bits(p.op === 'Det' ? (k === 0 || k === 4 || k === 8 ? 2 : 0.5) : Math.sin(k) + 0.1)), xDims);
      if (p.binary) feeds.y = new ort.Tensor('float16', Uint16Array.from({ length: n }, (_, k) => float32ToFloat16Bits(Math.cos(k) + 1.5)), xDims);
      const out = await session.run(feeds);
      const first = out.out0!;
      console.log(`ok    ${label} -> ${first.type}[${first.dims.join(',')}]`);
      await session.release();
    } catch (error) {
      const msg = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 220);
      console.log(`FAIL  ${label}: ${msg}`);
      failures.push(label);
    }
  }
  console.log(`\n${failures.length} failing: ${failures.join(' ')}`);
}

await main();
