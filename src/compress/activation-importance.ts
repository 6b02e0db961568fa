import { DataType } from '../onnx/dtype.js';
import type { OnnxModel, OnnxNode } from '../onnx/ir.js';
import { consumerMap } from '../onnx/graph.js';
import { encodeModel } from '../onnx/model-codec.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';
import { EdgetuneError } from '../util/errors.js';

/** Options for measuring data-driven channel importance. */
export interface ActivationImportanceOptions {
  /** Use at most this many dataset sets (default 4). */
  maxSets?: number;
  signal?: AbortSignal;
}

/**
 * Data-driven channel importance: the mean |activation| of each output channel of every Conv/Gemm/MatMul with a
 * constant weight, measured on the data after the BatchNormalization that follows the layer (when one does), since
 * that is the scale the next layer sees. Returns producer output name → per-channel score, the shape
 * `pruneChannels({ channelScores })` takes.
 */
export async function measureActivationImportance(model: OnnxModel, dataset: Dataset, options: ActivationImportanceOptions = {}): Promise<Map<string, Float64Array>> {
  const graph = model.graph;
  const consumers = consumerMap(graph);
  const targets: Array<{ producerOutput: string; measured: string; channelAxis: 'second' | 'last' }> = [];
  for (const node of graph.nodes) {
    if (!isWeightedLayer(model, node)) continue;
    const out = node.outputs[0]!;
    const next = consumers.get(out) ?? [];
    const bn = next.length === 1 && next[0]!.opType === 'BatchNormalization' ? next[0]! : undefined;
    targets.push({ producerOutput: out, measured: bn ? bn.outputs[0]! : out, channelAxis: node.opType === 'Conv' ? 'second' : 'last' });
  }
  if (targets.length === 0) return new Map();
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const exposed: OnnxModel = {
    ...model,
    graph: {
      ...graph,
      outputs: [...graph.outputs, ...[...new Set(targets.map((t) => t.measured))].filter((n) => !outputs.has(n)).map((name) => ({ name, type: { elemType: DataType.FLOAT, shape: null } }))],
    },
  };
  const runner = await createInferenceRunner(encodeModel(exposed), { graphOptimizationLevel: 'disabled' });
  const sums = new Map<string, Float64Array>();
  let samples = 0;
  try {
    const fetch = [...new Set(targets.map((t) => t.measured))];
    const sets = Math.min(dataset.setNames.length, options.maxSets ?? 4);
    for (let s = 0; s < sets; s++) {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'activation importance aborted');
      const batch = dataset.load(s);
      for (const piece of feedsForBatch(model, batch)) {
        const result = await runner.run(piece.feeds, fetch).catch(refuseModelRunFailure('the model', batch.set));
        for (const t of targets) {
          const tensor = result.get(t.measured)!;
          const values = tensor.values as Float32Array;
          const dims = tensor.dims;
          const axis = t.channelAxis === 'second' ? 1 : dims.length - 1;
          const channels = dims[axis]!;
          const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
          const acc = sums.get(t.producerOutput) ?? new Float64Array(channels);
          for (let i = 0; i < values.length; i++) acc[Math.floor(i / inner) % channels]! += Math.abs(values[i]!);
          sums.set(t.producerOutput, acc);
        }
        samples += piece.end - piece.start;
      }
    }
  } finally {
    await runner.release();
  }
  for (const acc of sums.values()) for (let c = 0; c < acc.length; c++) acc[c]! /= Math.max(1, samples);
  return sums;
}

function isWeightedLayer(model: OnnxModel, node: OnnxNode): boolean {
  if (node.domain !== '' || !['Conv', 'Gemm', 'MatMul'].includes(node.opType)) return false;
  return model.graph.initializers.has(node.inputs[1] ?? '');
}
