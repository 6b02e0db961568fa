import type { OnnxGraph, OnnxNode, Tensor } from '../onnx/ir.js';
import { consumerMap, graphOutputNames, nameFactory, producerMap } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import { DataType } from '../onnx/dtype.js';

/**
 * Fold a constant affine step after a Conv into its weights: `Conv → Mul(a) → Add(b)` (either step alone, a and b
 * scalars or per-output-channel [C,1,1] / [1,C,1,1]) becomes one Conv with W' = a·W, b' = a·bias + b. This is the
 * "learnable affine block" of PP-LCNet-style models; folded, the int8 graph has two float ops fewer per block and
 * the Conv's output is the tensor the next op reads. Exact. Pure; returns the number of Mul/Add nodes folded.
 */
export function foldConvAffine(graph: OnnxGraph): number {
  const fresh = nameFactory(graph);
  const outputs = graphOutputNames(graph);
  let folded = 0;
  let changed = true;
  while (changed) {
    changed = false;
    const consumers = consumerMap(graph);
    const producers = producerMap(graph);
    for (const op of graph.nodes) {
      if ((op.opType !== 'Mul' && op.opType !== 'Add') || op.domain !== '') continue;
      const side = op.inputs.findIndex((i) => producers.get(i)?.opType === 'Conv');
      if (side < 0) continue;
      const conv = producers.get(op.inputs[side]!)!;
      const convOut = conv.outputs[0]!;
      if (outputs.has(convOut) || (consumers.get(convOut) ?? []).length !== 1) continue;
      const constant = graph.initializers.get(op.inputs[1 - side]!);
      const w = graph.initializers.get(conv.inputs[1]!);
      if (!constant || !w || w.dataType !== DataType.FLOAT || constant.dataType !== DataType.FLOAT) continue;
      const channels = w.dims[0]!;
      const perChannel = channelValues(constant, channels);
      if (!perChannel) continue;
      const bias = conv.inputs[2] ? graph.initializers.get(conv.inputs[2]) : undefined;
      if (conv.inputs[2] && !bias) continue;
      const b = bias ? Float32Array.from(tensorToFloat32(bias)) : new Float32Array(channels);
      let weights = tensorToFloat32(w);
      if (op.opType === 'Mul') {
        const per = weights.length / channels;
        weights = Float32Array.from(weights, (v, i) => v * perChannel[Math.floor(i / per)]!);
        for (let c = 0; c < channels; c++) b[c]! *= perChannel[c]!;
      } else {
        for (let c = 0; c < channels; c++) b[c]! += perChannel[c]!;
      }
      const wName = fresh(`${conv.inputs[1]}_affine`);
      const bName = fresh(`${conv.name || convOut}_bias_affine`);
      graph.initializers.set(wName, floatTensor(wName, [...w.dims], weights));
      graph.initializers.set(bName, floatTensor(bName, [channels], b));
      conv.inputs = [conv.inputs[0]!, wName, bName];
      conv.outputs = [op.outputs[0]!];
      graph.nodes = graph.nodes.filter((n) => n !== op);
      folded++;
      changed = true;
      break;
    }
  }
  const read = new Set(graph.nodes.flatMap((n: OnnxNode) => n.inputs));
  const inputs = new Set(graph.inputs.map((i) => i.name));
  for (const name of [...graph.initializers.keys()]) if (!read.has(name) && !inputs.has(name)) graph.initializers.delete(name);
  return folded;
}

/** The per-output-channel values of a constant that broadcasts over [N, C, H, W] only along C, or undefined. */
function channelValues(t: Tensor, channels: number): Float32Array | undefined {
  const v = tensorToFloat32(t);
  if (v.length === 1) return new Float32Array(channels).fill(v[0]!);
  const dims = t.dims;
  const nonOne = dims.filter((d) => d !== 1);
  if (nonOne.length !== 1 || nonOne[0] !== channels) return undefined;
  // Must sit on the channel axis of a rank-4 activation: [C,1,1] or [1,C,1,1].
  const axisFromEnd = dims.length - 1 - dims.indexOf(channels);
  return axisFromEnd === 2 ? Float32Array.from(v) : undefined;
}
