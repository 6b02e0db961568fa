import type { OnnxGraph, OnnxNode } from '../onnx/ir.js';
import { attr, attrInt, attrInts, attrString, consumerMap, dropUnreadInitializers, graphOutputNames, makeNode, nameFactory, producerMap, removeDeadCode } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import { DataType } from '../onnx/dtype.js';

const CHANNELS_LAST = [0, 2, 3, 1];

/**
 * A 1×1 Conv whose only reader is a Transpose to channels-last (NCHW → NHWC), as a channels-last Transpose of its
 * input and a MatMul (and Add of the bias): Transpose(Conv(x, W, b)) = Transpose(x)·Wᵀ + b. Exact up to the order
 * of the float sums. tf2onnx writes every TensorFlow detector head this way (BlazeFace: four, each followed by a
 * Reshape to [1, anchors, values]). Where the head stays float in an int8 model, onnxruntime runs the Conv in its
 * NCHWc layout with a reorder on each side plus the Transpose, while the Transpose written on the quantized input
 * runs on 8-bit data and cancels against the one around the channels-last QLinearConv that wrote it, leaving a
 * DequantizeLinear and a small MatMul. Only group 1, rank 4, stride and dilation 1, no padding, float weight and bias
 * initializers; only the Convs named in `only` (the int8 pass's float head layers). Pure; returns the names of the
 * Convs rewritten.
 */
export function pointwiseHeadAsMatMul(graph: OnnxGraph, only: ReadonlySet<string>): string[] {
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const fresh = nameFactory(graph);
  const replaced = new Map<OnnxNode, OnnxNode[]>();
  const rewritten: string[] = [];
  const channelsLast = new Map<string, string>();
  for (const conv of graph.nodes) {
    const name = conv.name || conv.outputs[0]!;
    if (!only.has(name) || !isPointwise(graph, conv)) continue;
    const out = conv.outputs[0]!;
    const readers = consumers.get(out) ?? [];
    const transpose = readers[0];
    if (outputs.has(out) || readers.length !== 1 || transpose!.opType !== 'Transpose' || transpose!.domain !== '') continue;
    if (attrInts(transpose!, 'perm', []).join() !== CHANNELS_LAST.join()) continue;
    const w = graph.initializers.get(conv.inputs[1]!)!;
    const [k, c] = w.dims as [number, number];
    const wName = fresh(`${name}_as_matmul_w`);
    graph.initializers.set(wName, floatTensor(wName, [c, k], transposed(tensorToFloat32(w), k, c)));
    // heads that read one tensor share its channels-last copy
    const input = conv.inputs[0]!;
    const nodes: OnnxNode[] = [];
    let xT = channelsLast.get(input);
    if (!xT) {
      xT = fresh(`${input}_channels_last`);
      channelsLast.set(input, xT);
      nodes.push(makeNode('Transpose', [input], [xT], fresh(`${input}_to_channels_last`), { perm: attr.ints(CHANNELS_LAST) }));
    }
    const bias = conv.inputs[2]; // [k]: broadcasts over the channels-last product as it is
    if (bias) {
      const product = fresh(`${name}_as_matmul`);
      nodes.push(makeNode('MatMul', [xT, wName], [product], fresh(`${name}_matmul`)));
      nodes.push(makeNode('Add', [product, bias], [transpose!.outputs[0]!], fresh(`${name}_bias`)));
    } else {
      nodes.push(makeNode('MatMul', [xT, wName], [transpose!.outputs[0]!], fresh(`${name}_matmul`)));
    }
    replaced.set(conv, nodes);
    replaced.set(transpose!, []);
    rewritten.push(name);
  }
  if (replaced.size === 0) return rewritten;
  graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
  dropUnreadInitializers(graph);
  return rewritten;
}

function isPointwise(graph: OnnxGraph, conv: OnnxNode): boolean {
  if (conv.opType !== 'Conv' || conv.domain !== '' || conv.outputs.length !== 1) return false;
  const w = graph.initializers.get(conv.inputs[1] ?? '');
  if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 4 || w.dims[2] !== 1 || w.dims[3] !== 1) return false;
  if (conv.inputs[2]) {
    const b = graph.initializers.get(conv.inputs[2]);
    if (!b || b.dataType !== DataType.FLOAT) return false;
  }
  if (attrInt(conv, 'group', 1) !== 1) return false;
  if (!attrInts(conv, 'strides', [1, 1]).every((s) => s === 1) || !attrInts(conv, 'dilations', [1, 1]).every((d) => d === 1)) return false;
  if (!attrInts(conv, 'pads', [0, 0, 0, 0]).every((p) => p === 0)) return false;
  const autoPad = attrString(conv, 'auto_pad', 'NOTSET');
  return autoPad === 'NOTSET' || autoPad === 'VALID';
}

/**
 * The inverse of pointwiseHeadAsMatMul where `reference` (the model before compression) still has the Conv: each
 * output tensor T that `graph` writes by MatMul (+ Add of a bias) from a channels-last Transpose of x, possibly through
 * QuantizeLinear → DequantizeLinear pairs (the int8 pass puts one after the Transpose, with its input's parameters,
 * so dropping it is exact), and that `reference` writes by a channels-last Transpose of a 1×1 Conv's output X,
 * becomes that Conv again: Conv(x) → X → Transpose → T, with the reference's node and tensor names, so that a head
 * refit (distill-detector.ts) can match X against the reference. Pure; returns the names of the Convs restored.
 */
export function matMulHeadsAsPointwiseConv(graph: OnnxGraph, reference: OnnxGraph): string[] {
  const producers = producerMap(graph);
  const referenceProducers = producerMap(reference);
  const consumers = consumerMap(graph);
  const fresh = nameFactory(graph);
  const restored: string[] = [];
  const replaced = new Map<OnnxNode, OnnxNode[]>();
  for (const node of graph.nodes) {
    const t = node.outputs[0]!;
    const referenceTranspose = referenceProducers.get(t);
    if (!referenceTranspose || referenceTranspose.opType !== 'Transpose' || attrInts(referenceTranspose, 'perm', []).join() !== CHANNELS_LAST.join()) continue;
    const referenceConv = referenceProducers.get(referenceTranspose.inputs[0]!);
    if (!referenceConv || !isPointwise(reference, referenceConv)) continue;
    // T = Add(MatMul(a, W), b) or MatMul(a, W)
    let matmul = node;
    let bias: string | undefined;
    if (node.opType === 'Add') {
      const [p, b] = node.inputs as [string, string];
      const product = producers.get(p);
      if (!product || product.opType !== 'MatMul' || !graph.initializers.has(b) || (consumers.get(p) ?? []).length !== 1) continue;
      matmul = product;
      bias = b;
    }
    if (matmul.opType !== 'MatMul' || matmul.domain !== '') continue;
    const w = graph.initializers.get(matmul.inputs[1]!);
    if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 2) continue;
    const x = channelsLastSource(matmul.inputs[0]!, producers);
    if (!x) continue;
    const [c, k] = w.dims as [number, number];
    const b = bias ? graph.initializers.get(bias)! : undefined;
    if (b && (b.dataType !== DataType.FLOAT || b.dims.length !== 1 || b.values.length !== k)) continue;
    const name = referenceConv.name || referenceConv.outputs[0]!;
    const wName = fresh(`${name}_w`);
    graph.initializers.set(wName, floatTensor(wName, [k, c, 1, 1], transposed(tensorToFloat32(w), c, k)));
    const inputs = bias ? [x, wName, bias] : [x, wName];
    const convOut = referenceTranspose.inputs[0]!;
    replaced.set(node, [
      makeNode('Conv', inputs, [convOut], name, { kernel_shape: attr.ints([1, 1]) }),
      makeNode('Transpose', [convOut], [t], referenceTranspose.name || fresh(`${name}_to_channels_last`), { perm: attr.ints(CHANNELS_LAST) }),
    ]);
    if (matmul !== node) replaced.set(matmul, []);
    restored.push(name);
  }
  if (replaced.size === 0) return restored;
  graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
  removeDeadCode(graph);
  return restored;
}

/** The [cols, rows] transpose of a row-major [rows, cols] matrix. */
function transposed(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

/** x when `name` is Transpose(x, [0, 2, 3, 1]), directly or through QuantizeLinear → DequantizeLinear pairs. */
function channelsLastSource(name: string, producers: ReadonlyMap<string, OnnxNode>): string | undefined {
  let node = producers.get(name);
  while (node && node.opType === 'DequantizeLinear') {
    const q = producers.get(node.inputs[0]!);
    if (!q || q.opType !== 'QuantizeLinear' || q.inputs[1] !== node.inputs[1] || q.inputs[2] !== node.inputs[2]) return undefined;
    node = producers.get(q.inputs[0]!);
  }
  if (!node || node.opType !== 'Transpose' || attrInts(node, 'perm', []).join() !== CHANNELS_LAST.join()) return undefined;
  return node.inputs[0]!;
}
