import type { OnnxGraph, OnnxNode } from '../onnx/ir.js';
import { attr, attrInt, attrInts, attrString, consumerMap, graphOutputNames, producerMap, removeDeadCode } from '../onnx/graph.js';
import { tensorToFloat32 } from '../onnx/tensor.js';

/**
 * Fold a constant zero Pad of the spatial axes into the Convs that read it: Conv(Pad(x)) = Conv(x) with the Pad's
 * amounts added to the Conv's own `pads`. tf2onnx writes TensorFlow's asymmetric 'SAME' padding of stride-2 convs
 * as an explicit Pad (M-LSD: 3). onnxruntime fuses such a Pad into a float Conv itself, but in a QDQ model the Pad
 * sits between DequantizeLinear and QuantizeLinear and runs as its own 8-bit op (M-LSD large: 1.2 of 27 traced ms).
 * A quantized Conv pads with its input's zero point, which is what the 8-bit Pad writes: exact in float and in int8.
 * Only mode 'constant' with value 0 (or none), no `axes` input, non-negative amounts, none on the batch and channel
 * axes, every reader a Conv with explicit (or no) `pads`. Pure; returns the names of the Pads folded.
 */
export function foldPadIntoConv(graph: OnnxGraph): string[] {
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const folded: string[] = [];
  const removed = new Set<OnnxNode>();
  for (const pad of graph.nodes) {
    const amounts = spatialPads(graph, pad);
    if (!amounts) continue;
    const out = pad.outputs[0]!;
    const readers = consumers.get(out) ?? [];
    if (outputs.has(out) || readers.length === 0) continue;
    const spatial = amounts.length / 2;
    const convs = readers.every((r) => r.opType === 'Conv' && r.domain === '' && r.inputs[0] === out && !r.inputs.slice(1).includes(out) && attrString(r, 'auto_pad', 'NOTSET') === 'NOTSET' && attrInts(r, 'pads', new Array<number>(2 * spatial).fill(0)).length === 2 * spatial);
    if (!convs) continue;
    for (const conv of readers) {
      const own = attrInts(conv, 'pads', new Array<number>(2 * spatial).fill(0));
      conv.attributes.set('pads', attr.ints(own.map((p, i) => p + amounts[i]!)));
      conv.inputs = [pad.inputs[0]!, ...conv.inputs.slice(1)];
    }
    removed.add(pad);
    folded.push(pad.name || out);
  }
  if (removed.size === 0) return folded;
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  removeDeadCode(graph); // the Split/Concat that computed the amounts, and their constants
  return folded;
}

/**
 * The Conv-order pads ([x1_begin, x2_begin, …, x1_end, x2_end, …]) of a constant zero Pad of a rank ≥ 3 tensor that
 * pads only its spatial axes (2…), or null.
 */
function spatialPads(graph: OnnxGraph, pad: OnnxNode): number[] | null {
  if (pad.opType !== 'Pad' || pad.domain !== '' || pad.outputs.length !== 1) return null;
  if (attrString(pad, 'mode', 'constant') !== 'constant') return null;
  if ((pad.inputs[3] ?? '') !== '') return null; // axes
  const values = pad.inputs[1] ? constantVector(graph, producerMap(graph), pad.inputs[1], 4) : attrInts(pad, 'pads', []);
  if (!values) return null;
  if (values.length < 6 || values.length % 2 !== 0) return null;
  if ((pad.inputs[2] ?? '') !== '') {
    const value = graph.initializers.get(pad.inputs[2]!);
    if (!value || value.values.length !== 1 || tensorToFloat32(value)[0] !== 0) return null;
  }
  const rank = values.length / 2;
  if (values.some((v) => v < 0) || values[0] !== 0 || values[1] !== 0 || values[rank] !== 0 || values[rank + 1] !== 0) return null;
  return [...values.slice(2, rank), ...values.slice(rank + 2)];
}

/**
 * The values of a constant 1-D integer tensor: an initializer, or Split / Concat (axis 0) of such — tf2onnx reorders
 * TensorFlow's NHWC pad amounts into ONNX's order that way. Null for anything else.
 */
function constantVector(graph: OnnxGraph, producers: Map<string, OnnxNode>, name: string, depth: number): number[] | null {
  const init = graph.initializers.get(name);
  if (init) return init.dims.length <= 1 ? Array.from(init.values as ArrayLike<number | bigint>, Number) : null;
  const node = producers.get(name);
  if (!node || node.domain !== '' || depth === 0 || attrInt(node, 'axis', 0) !== 0) return null;
  if (node.opType === 'Concat') {
    const parts = node.inputs.map((i) => constantVector(graph, producers, i, depth - 1));
    return parts.every((p) => p !== null) ? (parts as number[][]).flat() : null;
  }
  if (node.opType === 'Split') {
    const whole = constantVector(graph, producers, node.inputs[0]!, depth - 1);
    const sizes = node.inputs[1] ? constantVector(graph, producers, node.inputs[1], depth - 1) : attrInts(node, 'split', []);
    if (!whole || !sizes || sizes.length !== node.outputs.length || sizes.reduce((a, b) => a + b, 0) !== whole.length) return null;
    const k = node.outputs.indexOf(name);
    const start = sizes.slice(0, k).reduce((a, b) => a + b, 0);
    return whole.slice(start, start + sizes[k]!);
  }
  return null;
}
