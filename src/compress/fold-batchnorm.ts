import type { OnnxGraph } from '../onnx/ir.js';
import { attrFloat, consumerMap, dropUnreadInitializers, graphOutputNames, nameFactory } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import { DataType } from '../onnx/dtype.js';
import { outputChannelLayout } from './output-channels.js';

/**
 * Fold BatchNormalization into the Conv or ConvTranspose before it (W' = W·γ/√(σ²+ε), b' = (b−μ)·γ/√(σ²+ε)+β)
 * where its output feeds only that BN (onnxruntime fuses Conv+BN itself, not ConvTranspose+BN). Pure; returns the names of the BN nodes folded.
 */
export function foldBatchNorm(graph: OnnxGraph): string[] {
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const producers = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const fresh = nameFactory(graph);
  const folded: string[] = [];
  const removed = new Set<object>();
  for (const bn of graph.nodes) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== '' || bn.outputs.length !== 1) continue;
    const conv = producers.get(bn.inputs[0]!);
    if (!conv || (conv.opType !== 'Conv' && conv.opType !== 'ConvTranspose') || conv.domain !== '') continue;
    const convOut = conv.outputs[0]!;
    if (outputs.has(convOut) || (consumers.get(convOut) ?? []).length !== 1) continue;
    const [, scaleName, biasName, meanName, varName] = bn.inputs;
    const w = graph.initializers.get(conv.inputs[1]!);
    const params = [scaleName, biasName, meanName, varName].map((n) => (n ? graph.initializers.get(n) : undefined));
    if (!w || w.dataType !== DataType.FLOAT || params.some((p) => !p || p.dataType !== DataType.FLOAT)) continue;
    const b = conv.inputs[2] ? graph.initializers.get(conv.inputs[2]) : undefined;
    if (conv.inputs[2] && !b) continue;
    const [gamma, beta, mean, variance] = params.map((p) => tensorToFloat32(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const layout = outputChannelLayout(conv, w);
    if (!layout || gamma.length !== layout.channels) continue;
    const m = layout.channels;
    const wValues = tensorToFloat32(w);
    const newW = new Float32Array(wValues.length);
    const newB = new Float32Array(m);
    const bValues = b ? tensorToFloat32(b) : new Float32Array(m);
    const factor = Float32Array.from(gamma, (g, c) => g / Math.sqrt(variance[c]! + eps));
    for (let i = 0; i < wValues.length; i++) newW[i] = wValues[i]! * factor[layout.channelOf(i)]!;
    for (let c = 0; c < m; c++) newB[c] = (bValues[c]! - mean[c]!) * factor[c]! + beta[c]!;
    // New initializer names: the originals may be shared with other nodes.
    const wName = fresh(`${conv.inputs[1]}_bnfolded`);
    const bName = fresh(`${conv.name || convOut}_bias_bnfolded`);
    graph.initializers.set(wName, floatTensor(wName, [...w.dims], newW));
    graph.initializers.set(bName, floatTensor(bName, [m], newB));
    conv.inputs = [conv.inputs[0]!, wName, bName];
    conv.outputs = [bn.outputs[0]!];
    removed.add(bn);
    folded.push(bn.name || bn.outputs[0]!);
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  // Drop initializers nobody reads any more.
  dropUnreadInitializers(graph);
  return folded;
}
