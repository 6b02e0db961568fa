import { DataType } from '../onnx/dtype.js';
import type { OnnxModel, OnnxNode } from '../onnx/ir.js';
import { attr, consumerMap, makeNode, nameFactory } from '../onnx/graph.js';
import { encodeModel } from '../onnx/model-codec.js';
import { floatTensor, makeTensor } from '../onnx/tensor.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import type { TensorRange } from './calibration-stats.js';
import { computeQuantParams, quantRange } from './quant-params.js';
import { EdgetuneError } from '../util/errors.js';

/** Options of the consumer-output scale search. */
export interface ScaleSearchOptions {
  /** Dataset sets to measure on (default 8). */
  maxSets?: number;
  /** Readers of a tensor whose output error is measured (default 2). */
  maxReaders?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Which candidate each tensor got, for the report. */
export interface ScaleSearchResult {
  ranges: Map<string, TensorRange>;
  /** Per candidate index, how many tensors chose it. */
  chosen: number[];
  samples: number;
}

/**
 * For each activation tensor, the clipping range (one of `candidates`, e.g. min–max, percentiles, MSE) that
 * minimises the squared error at the output of the ops that read it, measured with onnxruntime on the data: per
 * candidate, one model where every tensor feeds a quantize–dequantize of itself into a float twin of each reader,
 * and the twin's mean squared difference from the real reader's output is computed inside the graph (a scalar per
 * tensor leaves onnxruntime). Readers see the float upstream, so the choices are independent of each other. uint8
 * asymmetric activations as the int8 pass writes them.
 */
export async function searchScales(model: OnnxModel, candidates: ReadonlyMap<string, readonly TensorRange[]>, dataset: Dataset, options: ScaleSearchOptions = {}): Promise<ScaleSearchResult> {
  const count = Math.max(0, ...[...candidates.values()].map((c) => c.length));
  const sets = Math.min(dataset.setNames.length, options.maxSets ?? 8);
  const errors = new Map<string, Float64Array>([...candidates.keys()].map((name) => [name, new Float64Array(count)]));
  let samples = 0;
  for (let k = 0; k < count; k++) {
    const { bytes, probes } = probeModel(model, candidates, k, options.maxReaders ?? 2);
    if (probes.length === 0) break;
    const runner = await createInferenceRunner(bytes, { graphOptimizationLevel: 'disabled' });
    samples = 0;
    try {
      for (let s = 0; s < sets; s++) {
        if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'scale search aborted');
        const batch = dataset.load(s);
        for (const piece of feedsForBatch(model, batch)) {
          const out = await runner.run(piece.feeds, probes.map((p) => p.output)).catch(refuseModelRunFailure('the model', batch.set));
          for (const p of probes) errors.get(p.tensor)![k]! += (out.get(p.output)!.values as Float32Array)[0]!;
          samples += piece.end - piece.start;
        }
      }
    } finally {
      await runner.release();
    }
    options.onProgress?.(k + 1, count);
  }
  const ranges = new Map<string, TensorRange>();
  const chosen = new Array<number>(count).fill(0);
  for (const [name, list] of candidates) {
    const e = errors.get(name)!;
    let best = 0;
    for (let k = 1; k < list.length; k++) if (e[k]! < e[best]!) best = k;
    ranges.set(name, list[best]!);
    chosen[best]!++;
  }
  return { ranges, chosen, samples };
}

/** The probe model for candidate `k`: per tensor, Q/DQ at that range, a twin of each float reader, its MSE. */
function probeModel(model: OnnxModel, candidates: ReadonlyMap<string, readonly TensorRange[]>, k: number, maxReaders: number): { bytes: Uint8Array; probes: Array<{ tensor: string; output: string }> } {
  const graph = { ...model.graph, nodes: [...model.graph.nodes], outputs: [...model.graph.outputs], initializers: new Map(model.graph.initializers) };
  const fresh = nameFactory(graph);
  const consumers = consumerMap(model.graph);
  const [qmin, qmax] = quantRange('uint8', false, false);
  const probes: Array<{ tensor: string; output: string }> = [];
  for (const [tensor, list] of candidates) {
    const range = list[Math.min(k, list.length - 1)]!;
    const readers = (consumers.get(tensor) ?? []).filter(twinnable).slice(0, maxReaders);
    const params = computeQuantParams(range.min, range.max, qmin, qmax, false);
    const scale = fresh(`${tensor}_probe_scale`);
    const zero = fresh(`${tensor}_probe_zero_point`);
    graph.initializers.set(scale, floatTensor(scale, [], [params.scale]));
    graph.initializers.set(zero, makeTensor(zero, DataType.UINT8, [], [params.zeroPoint]));
    const q = fresh(`${tensor}_probe_q`);
    const dq = fresh(`${tensor}_probe_dq`);
    graph.nodes.push(makeNode('QuantizeLinear', [tensor, scale, zero], [q], fresh(`${tensor}_probe_Q`)));
    graph.nodes.push(makeNode('DequantizeLinear', [q, scale, zero], [dq], fresh(`${tensor}_probe_DQ`)));
    // With no float reader to twin (a graph output, or only Shape-like readers), the tensor's own error.
    const pairs: Array<[string, string]> = readers.length === 0 ? [[tensor, dq]] : [];
    for (const reader of readers) {
      const twinOut = fresh(`${reader.outputs[0]}_probe_twin`);
      graph.nodes.push({ ...reader, name: fresh(`${reader.name}_probe_twin`), inputs: reader.inputs.map((i) => (i === tensor ? dq : i)), outputs: [twinOut], attributes: new Map(reader.attributes) });
      pairs.push([reader.outputs[0]!, twinOut]);
    }
    const terms: string[] = [];
    for (const [reference, twin] of pairs) {
      const diff = fresh(`${twin}_diff`);
      const sq = fresh(`${twin}_sq`);
      const mean = fresh(`${twin}_mse`);
      graph.nodes.push(makeNode('Sub', [twin, reference], [diff], fresh(`${twin}_Sub`)));
      graph.nodes.push(makeNode('Mul', [diff, diff], [sq], fresh(`${twin}_Mul`)));
      graph.nodes.push(makeNode('ReduceMean', [sq], [mean], fresh(`${twin}_ReduceMean`), { keepdims: attr.int(0) }));
      terms.push(mean);
    }
    let total = terms[0]!;
    for (let i = 1; i < terms.length; i++) {
      const sum = fresh(`${tensor}_probe_sum`);
      graph.nodes.push(makeNode('Add', [total, terms[i]!], [sum], fresh(`${tensor}_probe_Add`)));
      total = sum;
    }
    graph.outputs.push({ name: total, type: { elemType: DataType.FLOAT, shape: [] } });
    probes.push({ tensor, output: total });
  }
  return { bytes: encodeModel({ ...model, graph }), probes };
}

/** A reader that can be cloned with one input swapped: one float output, no subgraph, not a shape op. */
function twinnable(node: OnnxNode): boolean {
  if (node.domain !== '' || node.outputs.length !== 1) return false;
  if (['Shape', 'Size', 'QuantizeLinear', 'DequantizeLinear', 'If', 'Loop', 'Scan', 'Equal', 'Greater', 'Less', 'Cast', 'ArgMax', 'ArgMin', 'TopK', 'NonMaxSuppression'].includes(node.opType)) return false;
  return ![...node.attributes.values()].some((a) => a.type === 'graph' || a.type === 'graphs');
}
