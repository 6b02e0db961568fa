/**
 * Helpers shared by the weight-rewriting passes (int4, int8-dynamic, fp16): find constant tensors whether they
 * are initializers or still sit in `Constant` nodes (paddle2onnx exports), and drop the ones a rewrite orphaned.
 */
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { consumerMap, graphOutputNames } from '../onnx/graph.js';
import type { OnnxGraph, OnnxNode, Tensor } from '../onnx/ir.js';
import type { TensorTypeMap } from '../onnx/shape-inference.js';
import { makeTensor, tensorToFloat32 } from '../onnx/tensor.js';

/** A constant value and where it lives. */
export interface ConstantSource {
  tensor: Tensor;
  /** The Constant node that produces it, or null for an initializer. */
  node: OnnxNode | null;
}

/** The tensor a Constant node holds (value, value_float(s), value_int(s)), or undefined for other forms. */
export function constantNodeTensor(node: OnnxNode): Tensor | undefined {
  const name = node.outputs[0] ?? '';
  for (const [key, a] of node.attributes) {
    if (key === 'value' && a.type === 'tensor') return { ...a.value, name };
    if (key === 'value_float' && a.type === 'float') return makeTensor(name, DataType.FLOAT, [], Float32Array.of(a.value));
    if (key === 'value_floats' && a.type === 'floats') return makeTensor(name, DataType.FLOAT, [a.value.length], Float32Array.from(a.value));
    if (key === 'value_int' && a.type === 'int') return makeTensor(name, DataType.INT64, [], BigInt64Array.of(BigInt(a.value)));
    if (key === 'value_ints' && a.type === 'ints') return makeTensor(name, DataType.INT64, [a.value.length], BigInt64Array.from(a.value.map((v) => BigInt(v))));
  }
  return undefined;
}

/**
 * Every constant of the main graph by name: initializers that are not also graph inputs (an overridable
 * initializer is not a constant), and outputs of Constant nodes.
 */
export function constantSources(graph: OnnxGraph): Map<string, ConstantSource> {
  const inputs = new Set(graph.inputs.map((i) => i.name));
  const out = new Map<string, ConstantSource>();
  for (const [name, tensor] of graph.initializers) if (!inputs.has(name)) out.set(name, { tensor, node: null });
  for (const node of graph.nodes) {
    if (node.opType !== 'Constant' || (node.domain !== '' && node.domain !== 'ai.onnx') || !node.outputs[0]) continue;
    const tensor = constantNodeTensor(node);
    if (tensor) out.set(node.outputs[0], { tensor, node });
  }
  return out;
}

/** Remove the named initializers and Constant nodes when nothing reads them any more. Returns how many went. */
export function removeUnusedConstants(graph: OnnxGraph, names: Iterable<string>): number {
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const inputs = new Set(graph.inputs.map((i) => i.name));
  const dead = new Set<string>();
  for (const name of names) {
    if ((consumers.get(name)?.length ?? 0) > 0 || outputs.has(name) || inputs.has(name)) continue;
    dead.add(name);
  }
  let removed = 0;
  for (const name of dead) if (graph.initializers.delete(name)) removed++;
  const before = graph.nodes.length;
  graph.nodes = graph.nodes.filter((n) => !(n.opType === 'Constant' && n.outputs.length === 1 && dead.has(n.outputs[0]!)));
  removed += before - graph.nodes.length;
  graph.valueInfo = graph.valueInfo.filter((v) => !dead.has(v.name));
  return removed;
}

/** A 2-D MatMul/Gemm weight as row-major [K, N] float32: transposed when stored [N, K] (Gemm transB), times alpha. */
export function weightAsKN(w: Tensor, transposed: boolean, alpha: number): Float32Array {
  const src = tensorToFloat32(w);
  const [rows, cols] = w.dims as [number, number];
  const out = new Float32Array(rows * cols);
  if (!transposed) {
    for (let i = 0; i < out.length; i++) out[i] = alpha === 1 ? src[i]! : src[i]! * alpha;
    return out;
  }
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = alpha === 1 ? src[r * cols + c]! : src[r * cols + c]! * alpha;
  return out;
}

/**
 * The constant 2-D float32 weight (input B) of a MatMul/Gemm that a weight-rewriting pass can quantize, or the
 * reason it cannot (for the pass report). `rankReason` says why the pass needs a 2-D weight.
 */
export function quantizableWeight(
  graph: OnnxGraph,
  node: OnnxNode,
  constants: ReadonlyMap<string, ConstantSource>,
  types: TensorTypeMap,
  rankReason: string,
): { weight: Tensor; source: ConstantSource } | { reason: string } {
  const weightName = node.inputs[1] ?? '';
  const source = constants.get(weightName);
  if (!source) {
    return { reason: graph.initializers.has(weightName) ? 'B is an initializer also listed as a graph input (overridable), not a constant' : 'B is not a constant (activation × activation product)' };
  }
  const w = source.tensor;
  if (w.dataType !== DataType.FLOAT) return { reason: `B is ${dataTypeName(w.dataType)}; only float32 weights are quantized` };
  if (w.dims.length !== 2) return { reason: `B has rank ${w.dims.length}; ${rankReason}` };
  const aType = types.get(node.inputs[0] ?? '');
  if (aType?.elemType && aType.elemType !== DataType.FLOAT) return { reason: `A is ${dataTypeName(aType.elemType)}; only float32 activations are quantized` };
  return { weight: w, source };
}
