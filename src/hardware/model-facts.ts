/**
 * Pure facts about a model that the compression planner needs: per-layer weight sizes of Conv/Gemm/MatMul, output
 * channels, whether a layer's channels can be pruned, the op histogram, MatMul-vs-Conv weight share, and whether
 * the float weights survive fp16.
 */
import { DataType, bitsPerElement, dataTypeName, isFloatType } from '../onnx/dtype.js';
import { FLOAT16_MAX } from '../onnx/float16.js';
import { elementCount, type OnnxGraph, type OnnxModel, type OnnxNode, type Tensor } from '../onnx/ir.js';
import { attrInt, graphOutputNames, producerMap, consumerMap } from '../onnx/graph.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { inferTensorTypes, staticShape } from '../onnx/shape-inference.js';
import { int8ConvTransposes } from '../compress/conv-transpose-as-conv.js';
import { int8HardSwishProducts } from '../compress/hardswish-product.js';

/** One weighted layer (Conv, ConvTranspose, Gemm, MatMul with a constant weight). */
export interface LayerFacts {
  /** Node name (or its first output when unnamed). */
  name: string;
  opType: 'Conv' | 'ConvTranspose' | 'Gemm' | 'MatMul';
  /** 'conv' (group 1), 'depthwise-conv', 'grouped-conv', 'gemm', 'matmul'. */
  kind: 'conv' | 'depthwise-conv' | 'grouped-conv' | 'gemm' | 'matmul';
  weightName: string;
  weightDims: number[];
  weightElements: number;
  /** Bytes of the weight as stored (int4 packed). */
  weightBytes: number;
  /** Element type of the stored weight ('float', 'float16', 'int8', ...). */
  weightType: string;
  /** Output channels (Conv dim 0, ConvTranspose dim 1 × group, Gemm N, MatMul last dim). */
  outChannels: number;
  /** Input channels seen by the weight (Conv dim 1 × group, Gemm K, MatMul dim −2). */
  inChannels: number;
  group: number;
  /** The output channels feed another weighted layer on every path (so they can be pruned without changing model outputs). */
  prunableOut: boolean;
  /** The input channels come from another weighted layer (pruning that layer shrinks this one too). */
  prunableIn: boolean;
  /** The weight passes through DequantizeLinear (already quantized). */
  quantized: boolean;
}

/** Facts about a whole model. */
export interface ModelFacts {
  layers: LayerFacts[];
  /** Elements of all numeric initializers (int64/int32 shape constants excluded). */
  totalParams: number;
  /** Bytes of all initializers as stored. */
  totalWeightBytes: number;
  /** Elements of the weighted layers' weights. */
  layerWeightElements: number;
  /** Share of layer weight elements in MatMul/Gemm (0..1; 0 when there are no layers). */
  matmulWeightShare: number;
  /** Share of layer weight elements in Conv/ConvTranspose. */
  convWeightShare: number;
  /** 'matmul' when MatMul/Gemm weights dominate (≥ 0.5), 'conv' when Conv does, 'none' without weighted layers. */
  dominantKind: 'matmul' | 'conv' | 'none';
  /** Node count per op type ('com.microsoft.MatMulNBits' for other domains). */
  opHistogram: Record<string, number>;
  /**
   * Hard-swishes the int8 pass runs as int8 products (QLinearConv + QLinearMul) rather than as float islands: a lower
   * bound, those read by Convs (int8HardSwishProducts).
   */
  int8HardSwishProducts: number;
  /** ConvTransposes with kernel = stride the int8 pass runs as QLinearConv + DepthToSpace (conv-transpose-as-conv.ts). */
  int8ConvTransposes: number;
  /** Quantization nodes present (QuantizeLinear, DequantizeLinear, QLinear*, MatMulInteger, MatMulNBits, ...). */
  quantizationNodes: number;
  /** Element type that holds most layer weight elements ('float', 'float16', 'int8', ...); null without layers. */
  weightElementType: string | null;
  /**
   * Share of the Conv multiply-accumulates done by depthwise convolutions (group = input channels > 1), at the
   * model's declared input shapes; null when an input or a Conv output has no static shape.
   */
  depthwiseFlopShare: number | null;
  fp16: {
    /** Largest |w| over float initializers. */
    maxAbsWeight: number;
    /** Share of non-zero float weights that round to zero in fp16 (|w| < 2^-25, half the smallest subnormal). */
    underflowShare: number;
    /** Whether converting weights to fp16 is safe: no overflow (≤ 65504) and underflowShare ≤ FP16_UNDERFLOW_SHARE_MAX. */
    friendly: boolean;
    /** Why not, when not friendly. */
    reason: string | null;
  };
}

/**
 * Above this share of non-zero weights that fp16 flushes to zero, fp16 weights are not "friendly". (Weights in the
 * subnormal range keep an absolute error below 2^-25 and are not counted.)
 */
export const FP16_UNDERFLOW_SHARE_MAX = 0.01;
/** Magnitudes below this round to zero in fp16 (round-to-nearest-even at half the smallest subnormal 2^-24). */
const FP16_UNDERFLOW = 2 ** -25;

const QUANT_OPS = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'QLinearConv',
  'QLinearMatMul',
  'MatMulInteger',
  'ConvInteger',
  'MatMulNBits',
  'QGemm',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'QLinearAdd',
  'QLinearMul',
]);

const WEIGHTED_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** Facts about a model's main graph (subgraphs of If/Loop are counted in the histogram only). */
export function modelFacts(model: OnnxModel): ModelFacts {
  const graph = model.graph;
  const opHistogram: Record<string, number> = {};
  let quantizationNodes = 0;
  countOps(graph, opHistogram, (op) => {
    if (QUANT_OPS.has(op)) quantizationNodes++;
  });

  const producers = producerMap(graph);
  const layers: LayerFacts[] = [];
  const layerNodes = new Set<OnnxNode>();
  for (const node of graph.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    if (!WEIGHTED_OPS.has(node.opType)) continue;
    const weight = constantWeight(graph, producers, node.inputs[1] ?? '');
    if (!weight) continue;
    const layer = describeLayer(node, weight.tensor, weight.quantized);
    if (!layer) continue;
    layers.push(layer);
    layerNodes.add(node);
  }
  markPrunable(graph, layers, layerNodes);

  let totalParams = 0;
  let totalWeightBytes = 0;
  let maxAbsWeight = 0;
  let nonZero = 0;
  let underflow = 0;
  for (const t of graph.initializers.values()) {
    if (Array.isArray(t.values)) continue;
    totalWeightBytes += Math.ceil((t.values.length * bitsPerElement(t.dataType)) / 8);
    if (t.dataType === DataType.INT64 || t.dataType === DataType.UINT64 || t.dataType === DataType.BOOL) continue;
    if (t.dataType === DataType.INT32 && t.values.length <= 8) continue; // shape-like constants
    totalParams += t.values.length;
    if (t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE) {
      const v = tensorToFloat32(t);
      for (let i = 0; i < v.length; i++) {
        const a = Math.abs(v[i]!);
        if (a > maxAbsWeight) maxAbsWeight = a;
        if (a !== 0) {
          nonZero++;
          if (a < FP16_UNDERFLOW) underflow++;
        }
      }
    }
  }
  const underflowShare = nonZero > 0 ? underflow / nonZero : 0;
  let fp16Reason: string | null = null;
  if (maxAbsWeight > FLOAT16_MAX) fp16Reason = `a weight of magnitude ${maxAbsWeight.toExponential(3)} overflows fp16 (max 65504)`;
  else if (underflowShare > FP16_UNDERFLOW_SHARE_MAX) fp16Reason = `${(underflowShare * 100).toFixed(1)}% of non-zero weights round to zero in fp16 (|w| < 2^-25)`;

  const layerWeightElements = layers.reduce((s, l) => s + l.weightElements, 0);
  const matmulElements = layers.filter((l) => l.kind === 'gemm' || l.kind === 'matmul').reduce((s, l) => s + l.weightElements, 0);
  const matmulWeightShare = layerWeightElements > 0 ? matmulElements / layerWeightElements : 0;
  const convWeightShare = layerWeightElements > 0 ? 1 - matmulWeightShare : 0;
  const byType = new Map<string, number>();
  for (const l of layers) byType.set(l.weightType, (byType.get(l.weightType) ?? 0) + l.weightElements);
  const weightElementType = [...byType.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;

  return {
    layers,
    totalParams,
    totalWeightBytes,
    layerWeightElements,
    matmulWeightShare,
    convWeightShare,
    dominantKind: layers.length === 0 ? 'none' : matmulWeightShare >= 0.5 ? 'matmul' : 'conv',
    opHistogram,
    int8HardSwishProducts: (opHistogram.HardSwish ?? 0) + Math.min(opHistogram.Clip ?? 0, opHistogram.Div ?? 0) + (opHistogram.HardSigmoid ?? 0) > 0 ? int8HardSwishProducts(model) : 0,
    int8ConvTransposes: (opHistogram.ConvTranspose ?? 0) > 0 ? int8ConvTransposes(model) : 0,
    quantizationNodes,
    weightElementType,
    depthwiseFlopShare: depthwiseFlopShare(model, layerNodes),
    fp16: { maxAbsWeight, underflowShare, friendly: fp16Reason === null, reason: fp16Reason },
  };
}

/** Depthwise share of the Conv MACs (2·outputs·C/group·kH·kW each), or null without static shapes. */
function depthwiseFlopShare(model: OnnxModel, layerNodes: ReadonlySet<OnnxNode>): number | null {
  const convs = [...layerNodes].filter((n) => n.opType === 'Conv');
  if (convs.length === 0) return null;
  let types: ReturnType<typeof inferTensorTypes>;
  try {
    types = inferTensorTypes(model);
  } catch {
    return null;
  }
  let all = 0;
  let depthwise = 0;
  for (const node of convs) {
    const out = staticShape(types, node.outputs[0]!);
    const weight = model.graph.initializers.get(node.inputs[1]!) ?? null;
    const wShape = weight?.dims ?? staticShape(types, node.inputs[1]!);
    if (!out || !wShape || wShape.length < 3) return null;
    const macs = elementCount(out) * elementCount(wShape.slice(1));
    all += macs;
    const group = attrInt(node, 'group', 1);
    if (group > 1 && wShape[1] === 1) depthwise += macs;
  }
  return all > 0 ? depthwise / all : null;
}

function countOps(graph: OnnxGraph, histogram: Record<string, number>, each: (op: string) => void): void {
  for (const node of graph.nodes) {
    const key = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}.${node.opType}`;
    histogram[key] = (histogram[key] ?? 0) + 1;
    each(node.opType);
    for (const a of node.attributes.values()) {
      if (a.type === 'graph') countOps(a.value, histogram, each);
      else if (a.type === 'graphs') for (const g of a.value) countOps(g, histogram, each);
    }
  }
}

/** The initializer behind a weight input: directly, or through DequantizeLinear / Transpose / Cast of a constant. */
function constantWeight(graph: OnnxGraph, producers: Map<string, OnnxNode>, name: string): { tensor: Tensor; quantized: boolean } | null {
  if (!name) return null;
  const direct = graph.initializers.get(name);
  if (direct) return { tensor: direct, quantized: false };
  const producer = producers.get(name);
  if (!producer) return null;
  if (producer.opType === 'Constant') {
    const value = producer.attributes.get('value');
    return value?.type === 'tensor' ? { tensor: value.value, quantized: false } : null;
  }
  if (producer.opType === 'DequantizeLinear' || producer.opType === 'Cast' || producer.opType === 'Transpose') {
    const inner = constantWeight(graph, producers, producer.inputs[0] ?? '');
    if (!inner) return null;
    if (producer.opType === 'Transpose' && inner.tensor.dims.length === 2) {
      return { tensor: { ...inner.tensor, dims: [inner.tensor.dims[1]!, inner.tensor.dims[0]!] }, quantized: inner.quantized };
    }
    return { tensor: inner.tensor, quantized: inner.quantized || producer.opType === 'DequantizeLinear' };
  }
  return null;
}

function describeLayer(node: OnnxNode, w: Tensor, quantized: boolean): LayerFacts | null {
  const dims = w.dims;
  if (dims.some((d) => !Number.isFinite(d) || d <= 0)) return null;
  const elements = elementCount(dims);
  const base = {
    name: node.name || node.outputs[0] || '(unnamed)',
    weightName: w.name,
    weightDims: [...dims],
    weightElements: elements,
    weightBytes: Math.ceil((elements * bitsPerElement(w.dataType)) / 8),
    weightType: isFloatType(w.dataType) || bitsPerElement(w.dataType) > 0 ? dataTypeName(w.dataType) : `dtype(${w.dataType})`,
    prunableOut: false,
    prunableIn: false,
    quantized,
  };
  if (node.opType === 'Conv') {
    if (dims.length < 3) return null;
    // ONNX Conv: W is [M, C/group, kH, kW...]
    const group = attrInt(node, 'group', 1);
    const out = dims[0]!;
    const inPerGroup = dims[1]!;
    const kind = group === 1 ? 'conv' : inPerGroup === 1 && group > 1 ? 'depthwise-conv' : 'grouped-conv';
    return { ...base, opType: 'Conv', kind, outChannels: out, inChannels: inPerGroup * group, group };
  }
  if (node.opType === 'ConvTranspose') {
    if (dims.length < 3) return null;
    // ONNX ConvTranspose: W is [C, M/group, kH, kW...]
    const group = attrInt(node, 'group', 1);
    return { ...base, opType: 'ConvTranspose', kind: group === 1 ? 'conv' : 'grouped-conv', outChannels: dims[1]! * group, inChannels: dims[0]!, group };
  }
  if (node.opType === 'Gemm') {
    if (dims.length !== 2) return null;
    // ONNX Gemm: B is [K, N], or [N, K] with transB=1
    const transB = attrInt(node, 'transB', 0) === 1;
    return { ...base, opType: 'Gemm', kind: 'gemm', outChannels: transB ? dims[0]! : dims[1]!, inChannels: transB ? dims[1]! : dims[0]!, group: 1 };
  }
  if (dims.length < 2) return null;
  // MatMul with constant B [..., K, N]: channels on the last axis.
  return { ...base, opType: 'MatMul', kind: 'matmul', outChannels: dims[dims.length - 1]!, inChannels: dims[dims.length - 2]!, group: 1 };
}

/**
 * prunableOut: every path from the layer's output reaches another weighted layer before a graph output.
 * prunableIn: every path back from the layer's data input reaches another weighted layer before a graph input.
 * (Grouped, non-depthwise convs are never pruned; depthwise convs pass channels through.)
 */
function markPrunable(graph: OnnxGraph, layers: LayerFacts[], layerNodes: Set<OnnxNode>): void {
  const producers = producerMap(graph);
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const inputs = new Set(graph.inputs.map((i) => i.name).filter((n) => !graph.initializers.has(n)));
  const stopsAt = (n: OnnxNode): boolean => layerNodes.has(n) && !isDepthwise(n);
  const nodeByName = new Map<string, OnnxNode>();
  for (const n of layerNodes) nodeByName.set(n.name || n.outputs[0] || '(unnamed)', n);

  for (const layer of layers) {
    const node = nodeByName.get(layer.name);
    if (!node || layer.kind === 'grouped-conv') continue;
    // Forward: from the layer's outputs.
    let ok = true;
    const seen = new Set<string>();
    const queue = [...node.outputs.filter(Boolean)];
    while (ok && queue.length > 0) {
      const t = queue.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      if (outputs.has(t)) ok = false;
      for (const c of consumers.get(t) ?? []) {
        if (stopsAt(c)) continue;
        if (c.outputs.every((o) => !o)) ok = false;
        queue.push(...c.outputs.filter(Boolean));
      }
    }
    layer.prunableOut = ok && seen.size > 0;
    // Backward: from the data input.
    ok = true;
    let reachedLayer = false;
    const back = new Set<string>();
    const stack = [node.inputs[0] ?? ''];
    while (ok && stack.length > 0) {
      const t = stack.pop()!;
      if (!t || back.has(t) || graph.initializers.has(t)) continue;
      back.add(t);
      if (inputs.has(t)) {
        ok = false;
        break;
      }
      const p = producers.get(t);
      if (!p) continue;
      if (stopsAt(p)) {
        reachedLayer = true;
        continue;
      }
      stack.push(...p.inputs.filter((i) => i && !graph.initializers.has(i)));
    }
    layer.prunableIn = ok && reachedLayer;
  }
}

function isDepthwise(node: OnnxNode): boolean {
  return node.opType === 'Conv' && attrInt(node, 'group', 1) > 1;
}
