/**
 * FLOPs and weight bytes of a model, from the IR and the static shape of every value (pure). Conventions: a
 * multiply-accumulate is 2 FLOPs (Conv, ConvTranspose, Gemm, MatMul and their integer/quantized forms count the
 * same way); an elementwise or activation op is 1 FLOP per output element; pooling is one per window element;
 * normalisations and Softmax a few per element (below); pure data movement (Reshape, Transpose, Gather, ...) is 0.
 * Ops whose shapes are unknown, or that are not modelled, are listed rather than guessed.
 */
import type { OnnxModel, OnnxNode } from '../onnx/ir.js';
import { elementCount } from '../onnx/ir.js';
import { attrInt, attrInts } from '../onnx/graph.js';
import { tensorByteLength } from '../onnx/tensor.js';

/** Static shape of a value by name, or null when unknown. */
export type ShapeLookup = (name: string) => readonly number[] | null;

/** Result of a FLOP count. */
export interface ModelFlops {
  /** Total FLOPs of one run of the model at the given input shapes (whole batch). */
  flops: number;
  /** FLOPs done in integer arithmetic: integer/quantized ops, and Conv/MatMul/Gemm fed by DequantizeLinear (QDQ). */
  integerFlops: number;
  /** FLOPs by op type. */
  byOp: Record<string, number>;
  /** Bytes of all initializers and Constant-node tensors as stored (int4 packed). */
  weightBytes: number;
  /** Parameters (elements of the same tensors). */
  params: number;
  /** Nodes counted / all nodes of the main graph. */
  countedNodes: number;
  totalNodes: number;
  /** Op types not counted, with why ('no shape' or 'not modelled'), and how many nodes. */
  uncounted: Array<{ op: string; reason: 'no shape' | 'not modelled' | 'subgraph'; nodes: number }>;
}

const ZERO_COST = new Set([
  'Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements',
  'GatherND', 'Shape', 'Size', 'Identity', 'Dropout', 'Constant', 'ConstantOfShape', 'Expand', 'Tile', 'Pad', 'Cast',
  'CastLike', 'DepthToSpace', 'SpaceToDepth', 'ScatterND', 'ScatterElements', 'OneHot', 'Range', 'NonZero',
  'QuantizeLinear', 'DequantizeLinear', 'Resize', 'Upsample',
]);

/** 1 FLOP per output element. */
const PER_OUTPUT = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'PRelu', 'Mod', 'Relu', 'LeakyRelu',
  'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Gelu', 'Erf', 'Exp', 'Log', 'Sqrt', 'Reciprocal',
  'Neg', 'Abs', 'Clip', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Softplus', 'Softsign', 'Mish',
  'ThresholdedRelu', 'Celu', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not',
  'IsNaN', 'IsInf',
]);

/** Per output element: normalisations (mean, variance, scale, shift) and softmax (max, exp, sum, divide). */
const PER_OUTPUT_FACTOR: Record<string, number> = {
  BatchNormalization: 2,
  InstanceNormalization: 5,
  LayerNormalization: 5,
  GroupNormalization: 5,
  Softmax: 4,
  LogSoftmax: 4,
  LRN: 5,
};

/** One FLOP per input element. */
const PER_INPUT = new Set([
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare',
  'ReduceLogSumExp', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool', 'ArgMax', 'ArgMin', 'CumSum', 'TopK',
]);

const INTEGER_OPS = new Set([
  'ConvInteger', 'QLinearConv', 'MatMulInteger', 'QLinearMatMul', 'com.microsoft:QLinearConv',
  'com.microsoft:MatMulIntegerToFloat', 'com.microsoft:DynamicQuantizeMatMul',
]);
/** Ops onnxruntime runs as int8 kernels when both activation and weight come out of DequantizeLinear. */
const QDQ_FUSABLE = new Set(['Conv', 'MatMul', 'Gemm', 'ConvTranspose']);

function isDefaultDomain(node: OnnxNode): boolean {
  return node.domain === '' || node.domain === 'ai.onnx';
}

function opKey(node: OnnxNode): string {
  return isDefaultDomain(node) ? node.opType : `${node.domain}:${node.opType}`;
}

/** FLOPs of one node, or a reason it cannot be counted. */
export function nodeFlops(node: OnnxNode, shapeOf: ShapeLookup): number | 'no shape' | 'not modelled' | 'subgraph' {
  const op = opKey(node);
  const shape = (i: number): readonly number[] | null => (node.inputs[i] ? shapeOf(node.inputs[i]!) : null);
  const out = (i = 0): readonly number[] | null => (node.outputs[i] ? shapeOf(node.outputs[i]!) : null);
  if (['If', 'Loop', 'Scan'].includes(op)) return 'subgraph';
  if (ZERO_COST.has(op)) return 0;
  if (PER_OUTPUT.has(op)) {
    const y = out();
    return y ? elementCount(y) : 'no shape';
  }
  if (PER_OUTPUT_FACTOR[op] !== undefined) {
    const y = out();
    return y ? elementCount(y) * PER_OUTPUT_FACTOR[op]! : 'no shape';
  }
  if (PER_INPUT.has(op)) {
    const x = shape(0);
    return x ? elementCount(x) : 'no shape';
  }
  switch (op) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv':
    case 'com.microsoft:FusedConv':
    case 'com.microsoft:QLinearConv': {
      // ONNX Conv: W is [M, C/group, k1, k2, ...]; every output element is C/group · Πk MACs.
      const quant = op.endsWith('QLinearConv');
      const w = shape(quant ? 3 : 1);
      const y = out();
      if (!w || !y) return 'no shape';
      const macsPerOutput = elementCount(w.slice(1));
      const bias = node.inputs[quant ? 8 : 2] ? elementCount(y) : 0;
      return 2 * elementCount(y) * macsPerOutput + bias;
    }
    case 'ConvTranspose': {
      // W is [C, M/group, k...]; every input element scatters into M/group · Πk outputs.
      const x = shape(0);
      const w = shape(1);
      const y = out();
      if (!x || !w || !y) return 'no shape';
      return 2 * elementCount(x) * elementCount(w.slice(1)) + (node.inputs[2] ? elementCount(y) : 0);
    }
    case 'Gemm': {
      const a = shape(0);
      const y = out();
      if (!a || !y || a.length !== 2) return 'no shape';
      const k = attrInt(node, 'transA', 0) ? a[0]! : a[1]!;
      const mn = elementCount(y);
      // Y = alpha·A·B + beta·C: 2·M·N·K, plus M·N adds when C is given.
      return 2 * mn * k + (node.inputs[2] ? mn : 0);
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul':
    case 'com.microsoft:MatMulIntegerToFloat':
    case 'com.microsoft:DynamicQuantizeMatMul': {
      const a = shape(0);
      const y = out();
      if (!a || !y || a.length === 0) return 'no shape';
      return 2 * elementCount(y) * a[a.length - 1]!;
    }
    case 'com.microsoft:MatMulNBits': {
      const y = out();
      const k = attrInt(node, 'K', 0);
      if (!y || !k) return 'no shape';
      return 2 * elementCount(y) * k;
    }
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const y = out();
      if (!y) return 'no shape';
      return elementCount(y) * elementCount(attrInts(node, 'kernel_shape', [1]));
    }
    default:
      return 'not modelled';
  }
}

/** Count FLOPs over the main graph and the bytes of all initializers. */
export function modelFlops(model: OnnxModel, shapeOf: ShapeLookup): ModelFlops {
  const byOp: Record<string, number> = {};
  const uncounted = new Map<string, { op: string; reason: 'no shape' | 'not modelled' | 'subgraph'; nodes: number }>();
  let flops = 0;
  let integerFlops = 0;
  let counted = 0;
  const dequantized = new Set(model.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').flatMap((n) => n.outputs));
  for (const node of model.graph.nodes) {
    const f = nodeFlops(node, shapeOf);
    const op = opKey(node);
    if (typeof f === 'number') {
      flops += f;
      if (INTEGER_OPS.has(op) || (QDQ_FUSABLE.has(op) && node.inputs.slice(0, 2).every((i) => dequantized.has(i)))) integerFlops += f;
      byOp[op] = (byOp[op] ?? 0) + f;
      counted++;
    } else {
      const key = `${op}|${f}`;
      const u = uncounted.get(key) ?? { op, reason: f, nodes: 0 };
      u.nodes++;
      uncounted.set(key, u);
    }
  }
  let weightBytes = 0;
  let params = 0;
  // Weights are initializers, and Constant nodes in exporters that emit them that way (paddle2onnx, older tf2onnx).
  const constants = model.graph.nodes.flatMap((n) => {
    const v = n.opType === 'Constant' && isDefaultDomain(n) ? n.attributes.get('value') : undefined;
    return v?.type === 'tensor' ? [v.value] : [];
  });
  for (const t of [...model.graph.initializers.values(), ...constants]) {
    weightBytes += tensorByteLength(t);
    params += elementCount(t.dims);
  }
  return { flops, integerFlops, byOp, weightBytes, params, countedNodes: counted, totalNodes: model.graph.nodes.length, uncounted: [...uncounted.values()] };
}

/** Names of values whose shapes modelFlops needs and `shapeOf` does not know (for a runtime fallback). */
export function missingShapes(model: OnnxModel, shapeOf: ShapeLookup): string[] {
  const missing = new Set<string>();
  for (const node of model.graph.nodes) {
    if (nodeFlops(node, shapeOf) !== 'no shape') continue;
    for (const name of [...node.inputs, ...node.outputs]) if (name && !shapeOf(name)) missing.add(name);
  }
  return [...missing];
}

/** Achieved GFLOP/s for `flops` per run at a run latency, and the share of a peak when one is known. */
export function achievedThroughput(flops: number, latencyMs: number, peakGflopsPerSec: number | null): { gflopsPerSec: number; peakShare: number | null } {
  const gflopsPerSec = latencyMs > 0 ? flops / (latencyMs / 1000) / 1e9 : 0;
  return { gflopsPerSec, peakShare: peakGflopsPerSec && peakGflopsPerSec > 0 ? gflopsPerSec / peakGflopsPerSec : null };
}
