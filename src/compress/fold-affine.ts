import type { OnnxGraph, OnnxNode, Tensor } from '../onnx/ir.js';
import { attrInt, consumerMap, dropUnreadInitializers, graphOutputNames, nameFactory, producerMap } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import { DataType } from '../onnx/dtype.js';
import { outputChannelLayout } from './output-channels.js';

/**
 * Fold a constant affine step after a Conv (or ConvTranspose) into its weights: `Conv → Mul(a) → Add(b)` (either step alone, a and b
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
      const side = op.inputs.findIndex((i) => producers.get(i)?.opType === 'Conv' || producers.get(i)?.opType === 'ConvTranspose');
      if (side < 0) continue;
      const conv = producers.get(op.inputs[side]!)!;
      const convOut = conv.outputs[0]!;
      if (outputs.has(convOut) || (consumers.get(convOut) ?? []).length !== 1) continue;
      const constant = graph.initializers.get(op.inputs[1 - side]!);
      const w = graph.initializers.get(conv.inputs[1]!);
      if (!constant || !w || w.dataType !== DataType.FLOAT || constant.dataType !== DataType.FLOAT) continue;
      const layout = outputChannelLayout(conv, w);
      if (!layout) continue;
      const channels = layout.channels;
      const perChannel = channelValues(constant, channels);
      if (!perChannel) continue;
      const bias = conv.inputs[2] ? graph.initializers.get(conv.inputs[2]) : undefined;
      if (conv.inputs[2] && !bias) continue;
      const b = bias ? Float32Array.from(tensorToFloat32(bias)) : new Float32Array(channels);
      let weights = tensorToFloat32(w);
      if (op.opType === 'Mul') {
        weights = Float32Array.from(weights, (v, i) => v * perChannel[layout.channelOf(i)]!);
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
  dropUnreadInitializers(graph);
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

/**
 * Fold a constant Add in front of 1×1 Convs into their bias: `Conv1x1(x + β) = Conv1x1(x) + W·β`, exact when
 * every reader is a 1×1, group-1 Conv without padding (padding would see 0 where x + β has β). PP-LCNet ends each
 * HardSwish island with an affine `·γ + β`; folding β saves a float op on each island that a pointwise Conv reads.
 * Pure; returns the number of Add nodes folded.
 */
export function foldAddIntoPointwiseConv(graph: OnnxGraph): number {
  const fresh = nameFactory(graph);
  const outputs = graphOutputNames(graph);
  const consumers = consumerMap(graph);
  const removed = new Set<OnnxNode>();
  for (const add of graph.nodes) {
    if (add.opType !== 'Add' || add.domain !== '' || add.inputs.length !== 2) continue;
    const side = graph.initializers.has(add.inputs[1]!) ? 1 : graph.initializers.has(add.inputs[0]!) ? 0 : -1;
    if (side < 0 || graph.initializers.has(add.inputs[1 - side]!)) continue;
    const out = add.outputs[0]!;
    const readers = consumers.get(out) ?? [];
    if (outputs.has(out) || readers.length === 0) continue;
    const pointwise = readers.every((r) => {
      const w = r.opType === 'Conv' && r.domain === '' && r.inputs[0] === out ? graph.initializers.get(r.inputs[1]!) : undefined;
      if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 4 || w.dims[2] !== 1 || w.dims[3] !== 1) return false;
      if (attrInt(r, 'group', 1) !== 1) return false;
      const pads = r.attributes.get('pads');
      if (pads && pads.type === 'ints' && pads.value.some((p) => p !== 0)) return false;
      const autoPad = r.attributes.get('auto_pad');
      if (autoPad && autoPad.type === 'string' && autoPad.value !== 'NOTSET' && autoPad.value !== 'VALID') return false;
      return !r.inputs[2] || graph.initializers.has(r.inputs[2]);
    });
    if (!pointwise) continue;
    const constant = graph.initializers.get(add.inputs[side]!)!;
    const inChannels = graph.initializers.get(readers[0]!.inputs[1]!)!.dims[1]!;
    const beta = constant.dataType === DataType.FLOAT ? channelValues(constant, inChannels) : undefined;
    if (!beta || readers.some((r) => graph.initializers.get(r.inputs[1]!)!.dims[1] !== inChannels)) continue;
    for (const conv of readers) {
      const w = graph.initializers.get(conv.inputs[1]!)!;
      const weights = tensorToFloat32(w);
      const outChannels = w.dims[0]!;
      const bias = conv.inputs[2] ? Float32Array.from(tensorToFloat32(graph.initializers.get(conv.inputs[2])!)) : new Float32Array(outChannels);
      for (let o = 0; o < outChannels; o++) {
        let shift = 0;
        for (let c = 0; c < inChannels; c++) shift += weights[o * inChannels + c]! * beta[c]!;
        bias[o]! += shift;
      }
      const bName = fresh(`${conv.name || conv.outputs[0]}_bias_add_folded`);
      graph.initializers.set(bName, floatTensor(bName, [outChannels], bias));
      conv.inputs = [add.inputs[1 - side]!, conv.inputs[1]!, bName];
    }
    removed.add(add);
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  return removed.size;
}
