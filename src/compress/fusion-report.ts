/**
 * What onnxruntime made of a QDQ model (pure): which float nodes of the quantized model became integer kernels
 * (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, MatMulIntegerToFloat, ...) or run on 8-bit tensors after their
 * Q/DQ were dropped, and which stayed float islands between DequantizeLinear and QuantizeLinear, with their share
 * of FLOPs (onnx-quantization.md §8). The optimized graph is the one onnxruntime saves with
 * `optimizedModelFilePath` (profile/optimized-graph.ts), read at 'extended'.
 *
 * Matching: onnxruntime gives a fused node the name of its target node (DQ, DQ → Conv 'c1' → Q becomes QLinearConv
 * 'c1') and writes the output of the Q it absorbed; a node left float keeps its output tensor name (function ops such
 * as HardSwish are inlined into unnamed nodes that still write the original output). So a quantized-model node is
 * looked up by the producer of its output, then by its name, then along its single-consumer chain up to a Q.
 */
import { DataType } from '../onnx/dtype.js';
import type { OnnxGraph, OnnxModel, OnnxNode } from '../onnx/ir.js';
import { consumerMap, graphOutputNames, producerMap } from '../onnx/graph.js';
import { inferTensorTypes, staticShape, type TensorTypeMap } from '../onnx/shape-inference.js';
import { nodeFlops } from '../profile/model-flops.js';

/** A node of the quantized model that runs in float after onnxruntime's optimizations. */
export interface FloatIsland {
  /** Node name (its first output when the node is unnamed). */
  node: string;
  opType: string;
  /** FLOPs of the node at the analysed input shapes (0 when unknown). */
  flops: number;
}

/** Per op type of the quantized model: nodes, how many became 8-bit, and into which ops. */
export interface SourceOpFate {
  nodes: number;
  int8: number;
  /** Optimized op types the 8-bit ones became (`QLinearConv: 53`). */
  into: Record<string, number>;
}

/** The fusion analysis of one quantized model. */
export interface FusionReport {
  /** Integer kernels, and ops running on 8-bit tensors, in the optimized graph by op type (`QLinearConv: 53`). */
  fusedOps: Record<string, number>;
  /** Float-typed nodes of the quantized model by op type (Q/DQ and constant-folded nodes excluded). */
  sourceOps: Record<string, SourceOpFate>;
  /** Nodes that stayed float, in graph order. */
  floatIslands: FloatIsland[];
  /** FLOPs of the classified nodes (int8 + float). */
  flops: number;
  /** Share of `flops` in nodes that became 8-bit; with floatFlopsShare it sums to 1 (both 0 when flops is 0). */
  int8FlopsShare: number;
  floatFlopsShare: number;
  /** QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear nodes left on activations at run time. */
  conversions: number;
  /** Classified nodes whose FLOPs could not be counted (no static shape or op not modelled). */
  uncountedNodes: number;
  /** Float nodes onnxruntime removed without a trace in the optimized graph (Identity, Dropout, ...). */
  removedNodes: number;
}

/** Caller input for analyzeFusion. */
export interface FusionAnalysisOptions {
  /** Concrete input shapes for the FLOP count; default: declared shapes with symbolic dims set to 1. */
  inputShapes?: Record<string, number[]>;
}

/** Where one node of the quantized model ended up. */
type NodeFate = { kind: 'int8'; into: string } | { kind: 'float' } | { kind: 'gone' };

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);
const CONVERSIONS = new Set(['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear']);
/** Kernels that compute on integers (onnxruntime contrib ops included). */
const INTEGER_KERNELS = new Set([
  'QGemm', 'QAttention', 'QEmbedLayerNormalization', 'ConvInteger', 'MatMulInteger', 'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul', 'DynamicQuantizeLSTM', 'MatMulNBits',
]);
/** Integer kernels whose output is not an 8-bit activation (float, or int32 for ConvInteger/MatMulInteger). */
const WIDE_OUTPUT_KERNELS = new Set([
  'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'MatMulNBits', 'ConvInteger', 'MatMulInteger', 'DynamicQuantizeLSTM',
  'QAttention', 'QEmbedLayerNormalization',
]);
/** Ops that read an 8-bit tensor without computing on it. */
const NOT_EIGHT_BIT_COMPUTE = new Set(['DequantizeLinear', 'Cast', 'Shape', 'Size']);

/** Whether a node is an integer kernel by its op type. */
function isIntegerKernel(node: OnnxNode): boolean {
  return node.opType.startsWith('QLinear') || INTEGER_KERNELS.has(node.opType);
}

/** The optimized graph's 8-bit nodes: integer kernels and ops whose data input is an 8-bit tensor. */
function eightBitNodes(graph: OnnxGraph): Set<OnnxNode> {
  const eightBit = new Set<string>();
  const nodes = new Set<OnnxNode>();
  for (const node of graph.nodes) {
    const first = node.inputs[0] ?? '';
    if (node.opType === 'QuantizeLinear' || node.opType === 'DynamicQuantizeLinear') {
      if (node.outputs[0]) eightBit.add(node.outputs[0]);
      continue;
    }
    if (isIntegerKernel(node)) {
      nodes.add(node);
      // QGemm writes float without y_scale (input 7).
      const wideOut = WIDE_OUTPUT_KERNELS.has(node.opType) || (node.opType === 'QGemm' && !node.inputs[7]);
      if (!wideOut && node.outputs[0]) eightBit.add(node.outputs[0]);
      continue;
    }
    if (!NOT_EIGHT_BIT_COMPUTE.has(node.opType) && eightBit.has(first)) {
      nodes.add(node);
      for (const out of node.outputs) if (out) eightBit.add(out);
    }
  }
  return nodes;
}

/** Graph lookups over the optimized model that the per-node matching needs. */
interface OptimizedView {
  producer: Map<string, OnnxNode>;
  byName: Map<string, OnnxNode>;
  eightBit: Set<OnnxNode>;
  initializers: ReadonlySet<string>;
  /** The producer of a tensor named `${name}_…`, for outputs onnxruntime renamed. */
  renamed(name: string): OnnxNode | undefined;
}

function viewOf(optimized: OnnxModel): OptimizedView {
  const graph = optimized.graph;
  const byName = new Map<string, OnnxNode>();
  const duplicate = new Set<string>();
  for (const node of graph.nodes) {
    if (!node.name) continue;
    if (byName.has(node.name)) duplicate.add(node.name);
    byName.set(node.name, node);
  }
  for (const name of duplicate) byName.delete(name);
  const producer = producerMap(graph);
  const renamed = (name: string): OnnxNode | undefined => {
    for (const [tensor, node] of producer) if (tensor.startsWith(`${name}_`)) return node;
    return undefined;
  };
  return { producer, byName, eightBit: eightBitNodes(graph), initializers: new Set(graph.initializers.keys()), renamed };
}

function fateOf(node: OnnxNode, view: OptimizedView): NodeFate {
  return view.eightBit.has(node) ? { kind: 'int8', into: node.opType } : { kind: 'float' };
}

/**
 * Where `node` of the quantized model ended up in the optimized graph: the producer of one of its outputs; else the
 * node of the same name; else, when its outputs feed only QuantizeLinear (a Relu/Clip onnxruntime dropped before a
 * Q), the producer of that Q's output; else an output onnxruntime renamed (`t` → `t_pre_q` when it propagates a Q
 * backwards through MaxPool or Reshape).
 */
function locate(node: OnnxNode, quantizedConsumers: Map<string, OnnxNode[]>, view: OptimizedView): NodeFate {
  const outputs = node.outputs.filter((o) => o);
  for (const out of outputs) {
    const producer = view.producer.get(out);
    if (producer) return fateOf(producer, view);
  }
  const named = node.name ? view.byName.get(node.name) : undefined;
  if (named) return fateOf(named, view);
  const consumers = quantizedConsumers.get(outputs[0] ?? '') ?? [];
  if (consumers.length > 0 && consumers.every((c) => c.opType === 'QuantizeLinear')) {
    for (const q of consumers) {
      const producer = view.producer.get(q.outputs[0] ?? '');
      if (producer) return fateOf(producer, view);
    }
  }
  for (const out of outputs) {
    const renamed = view.renamed(out);
    if (renamed) return fateOf(renamed, view);
  }
  return { kind: 'gone' };
}

/** One classified node of the quantized model. */
interface ClassifiedNode {
  node: OnnxNode;
  fate: NodeFate;
}

/**
 * Classify every float node of the quantized model (Q/DQ and nodes onnxruntime folded into constants excluded).
 * `isFloat` says whether a tensor of the quantized model is float-typed (unknown types count as float).
 */
function classify(quantized: OnnxModel, optimized: OnnxModel, isFloat: (name: string) => boolean): ClassifiedNode[] {
  const view = viewOf(optimized);
  const consumers = consumerMap(quantized.graph);
  const out: ClassifiedNode[] = [];
  for (const node of quantized.graph.nodes) {
    if (CONVERSIONS.has(node.opType) || node.opType === 'Constant') continue;
    const outputs = node.outputs.filter((o) => o);
    if (outputs.length === 0 || outputs.every((o) => view.initializers.has(o))) continue;
    if (isIntegerKernel(node)) {
      out.push({ node, fate: { kind: 'int8', into: node.opType } });
      continue;
    }
    if (!outputs.some(isFloat)) continue;
    out.push({ node, fate: locate(node, consumers, view) });
  }
  return out;
}

function floatPredicate(types: TensorTypeMap): (name: string) => boolean {
  return (name) => {
    const t = types.get(name)?.elemType;
    return t === undefined || t === 0 || FLOAT_TYPES.has(t);
  };
}

/** Declared input shapes with symbolic or unknown dims set to 1. */
function defaultInputShapes(model: OnnxModel): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const input of model.graph.inputs) {
    if (model.graph.initializers.has(input.name) || !input.type?.shape) continue;
    shapes[input.name] = input.type.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  }
  return shapes;
}

/**
 * Compare a QDQ model with the graph onnxruntime optimized from it: fused kernels, float islands with their FLOPs,
 * the int8/float split of the FLOPs, and the Q/DQ conversions left on activations.
 */
export function analyzeFusion(quantized: OnnxModel, optimized: OnnxModel, options: FusionAnalysisOptions = {}): FusionReport {
  const types = inferTensorTypes(quantized, { inputShapes: options.inputShapes ?? defaultInputShapes(quantized) });
  const classified = classify(quantized, optimized, floatPredicate(types));
  const shapeOf = (name: string): number[] | null => staticShape(types, name);

  const fusedOps: Record<string, number> = {};
  const eightBit = eightBitNodes(optimized.graph);
  for (const node of optimized.graph.nodes) if (eightBit.has(node)) fusedOps[node.opType] = (fusedOps[node.opType] ?? 0) + 1;

  const sourceOps: Record<string, SourceOpFate> = {};
  const floatIslands: FloatIsland[] = [];
  let int8Flops = 0;
  let floatFlops = 0;
  let uncountedNodes = 0;
  let removedNodes = 0;
  for (const { node, fate } of classified) {
    if (fate.kind === 'gone') {
      removedNodes++;
      continue;
    }
    const f = nodeFlops(node, shapeOf);
    const flops = typeof f === 'number' ? f : 0;
    if (typeof f !== 'number') uncountedNodes++;
    const op = sourceOps[node.opType] ?? (sourceOps[node.opType] = { nodes: 0, int8: 0, into: {} });
    op.nodes++;
    if (fate.kind === 'int8') {
      op.int8++;
      op.into[fate.into] = (op.into[fate.into] ?? 0) + 1;
      int8Flops += flops;
    } else {
      floatFlops += flops;
      floatIslands.push({ node: node.name || node.outputs[0]!, opType: node.opType, flops });
    }
  }
  const total = int8Flops + floatFlops;
  const initializers = optimized.graph.initializers;
  const conversions = optimized.graph.nodes.filter((n) => CONVERSIONS.has(n.opType) && !initializers.has(n.inputs[0] ?? '')).length;
  return {
    fusedOps,
    sourceOps,
    floatIslands,
    flops: total,
    int8FlopsShare: total > 0 ? int8Flops / total : 0,
    floatFlopsShare: total > 0 ? floatFlops / total : 0,
    conversions,
    uncountedNodes,
    removedNodes,
  };
}

/**
 * Activation tensors whose Q → DQ pair in the quantized model sits between a producer (or graph input) and
 * consumers (or graph outputs) that all stayed float in the optimized graph: the pair only adds two conversions and
 * rounding. Returned in graph order.
 */
export function uselessQdqPairs(quantized: OnnxModel, optimized: OnnxModel): string[] {
  const graph = quantized.graph;
  const fates = new Map(classify(quantized, optimized, floatPredicate(inferTensorTypes(quantized))).map((c) => [c.node, c.fate]));
  const producers = producerMap(graph);
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const int8 = (node: OnnxNode): boolean => fates.get(node)?.kind === 'int8' || isIntegerKernel(node);
  const useless: string[] = [];
  for (const q of graph.nodes) {
    const tensor = q.inputs[0];
    if (q.opType !== 'QuantizeLinear' || !tensor || graph.initializers.has(tensor) || !q.outputs[0]) continue;
    const producer = producers.get(tensor);
    if (producer && (int8(producer) || CONVERSIONS.has(producer.opType) || producer.opType === 'Constant')) continue;
    const dqs = consumers.get(q.outputs[0]) ?? [];
    if (dqs.length === 0 || dqs.some((d) => d.opType !== 'DequantizeLinear') || outputs.has(q.outputs[0])) continue;
    const readers = dqs.flatMap((d) => (d.outputs[0] ? consumers.get(d.outputs[0]) ?? [] : []));
    if (readers.some((r) => int8(r) || CONVERSIONS.has(r.opType))) continue;
    useless.push(tensor);
  }
  return useless;
}

/** One line for the compress notes: Conv/MatMul/Gemm fusion counts and the float islands by op with their FLOP share. */
export function describeFusion(report: FusionReport): string {
  const parts: string[] = [];
  for (const [op, fate] of Object.entries(report.sourceOps)) {
    if (!['Conv', 'MatMul', 'Gemm', 'ConvTranspose'].includes(op)) continue;
    const into = Object.entries(fate.into).sort((a, b) => b[1] - a[1]).map(([k]) => k).join('/');
    parts.push(`${fate.int8} of ${fate.nodes} ${op}${into ? ` into ${into}` : ''}`);
  }
  const head = `onnxruntime fuses ${parts.length > 0 ? parts.join(', ') : 'no Conv/MatMul/Gemm'}`;
  if (report.floatIslands.length === 0) return `${head}; no float islands`;
  const byOp = new Map<string, number>();
  for (const island of report.floatIslands) byOp.set(island.opType, (byOp.get(island.opType) ?? 0) + 1);
  const islands = [...byOp].sort((a, b) => b[1] - a[1]);
  const shown = islands.slice(0, 6).map(([op, n]) => `${op} ×${n}`);
  if (islands.length > 6) shown.push(`${islands.length - 6} more op types`);
  const pct = (report.floatFlopsShare * 100).toFixed(1);
  return `${head}; float islands: ${shown.join(', ')} (${pct} % of FLOPs); ${report.conversions} Q/DQ conversions at run time`;
}
