import { DataType } from '../onnx/dtype.js';
import type { OnnxModel, OnnxNode } from '../onnx/ir.js';
import { cloneModel } from '../onnx/ir.js';
import { attrInt, nameFactory, producerMap } from '../onnx/graph.js';
import { encodeModel } from '../onnx/model-codec.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import type { PassResult } from './pass.js';
import { EdgetuneError } from '../util/errors.js';

/** Options of empirical bias correction. */
export interface BiasCorrectionOptions {
  /** Measure-and-correct rounds; each sees the corrections of the rounds before it (default 1). */
  rounds?: number;
  /** Dataset sets used to measure (default 8). */
  maxSets?: number;
  signal?: AbortSignal;
}

/** What bias correction did. */
export interface BiasCorrectionReport {
  rounds: number;
  samples: number;
  correctedLayers: number;
  /**
   * Root of the summed squared per-channel mean shifts over all layers, as measured at the start of the first and
   * of the last round (equal with one round; a second round shows what the first left).
   */
  meanShiftBefore: number;
  meanShiftAfter: number;
}

/**
 * Add `sign` × the per-channel sums of a rank-2 or rank-4 [N, C, …] tensor into `sums` (length C), each value first
 * clamped to [lo, hi]. Returns the number of values per channel. Plain loops: this runs over every activation.
 */
export function accumulateChannelSums(values: Float32Array, dims: readonly number[], sums: Float64Array, sign: number, lo = -Infinity, hi = Infinity): number {
  const batch = dims[0] ?? 1;
  const channels = dims[1] ?? 1;
  let inner = 1;
  for (let d = 2; d < dims.length; d++) inner *= dims[d]!;
  const clamped = lo !== -Infinity || hi !== Infinity;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      let s = 0;
      const base = (n * channels + c) * inner;
      if (clamped) {
        for (let i = 0; i < inner; i++) {
          const v = values[base + i]!;
          s += v < lo ? lo : v > hi ? hi : v;
        }
      } else for (let i = 0; i < inner; i++) s += values[base + i]!;
      sums[c]! += sign * s;
    }
  }
  return batch * inner;
}

/**
 * Empirical bias correction (Nagel et al. 2019 §4.2, measured rather than taken from BatchNorm statistics; the
 * form AMD Quark uses on ONNX): in the int8 simulation of the model (optimizations off, so Q/DQ act exactly), each
 * quantized Conv/Gemm gets a float twin that reads the same dequantized input with the float weights and bias; the
 * per-channel mean of (int8 output − twin output) over the data is the bias the weight and bias rounding added,
 * and it is subtracted from the float model's bias before quantizing again. Only the layer's own error is removed:
 * correcting every layer at once against the float model's activations (which also contain the upstream drift)
 * over-corrects downstream layers and diverged on PP-OCR cls. Mutates `model`.
 */
export async function correctBiases(model: OnnxModel, quantize: (m: OnnxModel) => PassResult, dataset: Dataset, options: BiasCorrectionOptions = {}): Promise<BiasCorrectionReport> {
  const rounds = options.rounds ?? 1;
  const sets = Math.min(dataset.setNames.length, options.maxSets ?? 8);
  const report: BiasCorrectionReport = { rounds, samples: 0, correctedLayers: 0, meanShiftBefore: 0, meanShiftAfter: 0 };
  const corrected = new Set<string>();
  // The twins use the float model's bias as it was, so later rounds see what is left of the shift (a corrected bias
  // gets a new initializer; the original stays in the float graph until the int8 pass drops what nothing reads).
  const originalBias = new Map<OnnxNode, string | undefined>(model.graph.nodes.map((n) => [n, n.inputs[2]]));
  for (let round = 0; round < rounds; round++) {
    const quantized = quantize(cloneModel(model)).model;
    const targets = correctionTargets(model, quantized);
    if (targets.length === 0) break;
    // The twins: float Conv/Gemm copies of each quantized node, on the same dequantized input.
    const shadow = quantized;
    const fresh = nameFactory(shadow.graph);
    const pairs: Array<{ int8: string; twin: string }> = [];
    for (const t of targets) {
      const q = shadow.graph.nodes.find((n) => n.outputs[0] === t.tensor)!;
      const twinOut = fresh(`${t.tensor}_float_twin`);
      const w = fresh(`${t.tensor}_twin_weight`);
      shadow.graph.initializers.set(w, { ...model.graph.initializers.get(t.node.inputs[1]!)!, name: w });
      const inputs = [q.inputs[0]!, w];
      const bias = originalBias.get(t.node);
      if (bias) {
        const b = fresh(`${t.tensor}_twin_bias`);
        shadow.graph.initializers.set(b, { ...model.graph.initializers.get(bias)!, name: b });
        inputs.push(b);
      }
      shadow.graph.nodes.push({ ...q, name: fresh(`${q.name}_float_twin`), inputs, outputs: [twinOut], attributes: new Map(q.attributes) });
      pairs.push({ int8: t.tensor, twin: twinOut });
    }
    const fetch = pairs.flatMap((p) => [p.int8, p.twin]);
    const have = new Set(shadow.graph.outputs.map((o) => o.name));
    shadow.graph.outputs.push(...fetch.filter((n) => !have.has(n)).map((name) => ({ name, type: { elemType: DataType.FLOAT, shape: null } })));
    const runner = await createInferenceRunner(encodeModel(shadow), { graphOptimizationLevel: 'disabled' });
    const sums = targets.map((t) => new Float64Array(t.channels));
    const counts = new Float64Array(targets.length);
    let samples = 0;
    try {
      for (let s = 0; s < sets; s++) {
        if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'bias correction aborted');
        const batch = dataset.load(s);
        for (const piece of feedsForBatch(model, batch)) {
          const out = await runner.run(piece.feeds, fetch).catch(refuseModelRunFailure('the int8 model', batch.set));
          targets.forEach((t, k) => {
            const twin = out.get(pairs[k]!.twin)!;
            const lo = t.clamp?.lo ?? -Infinity;
            const hi = t.clamp?.hi ?? Infinity;
            counts[k]! += accumulateChannelSums(tensorToFloat32(out.get(t.tensor)!), twin.dims, sums[k]!, 1, lo, hi);
            accumulateChannelSums(tensorToFloat32(twin), twin.dims, sums[k]!, -1, lo, hi);
          });
          samples += piece.end - piece.start;
        }
      }
    } finally {
      await runner.release();
    }
    report.samples = samples;
    let shift = 0;
    const freshName = nameFactory(model.graph);
    targets.forEach((t, k) => {
      const mean = Float32Array.from(sums[k]!, (v) => v / Math.max(counts[k]!, 1));
      for (const v of mean) shift += v * v;
      shiftBias(model, t.node, mean, freshName);
      corrected.add(t.node.name || t.tensor);
    });
    shift = Math.sqrt(shift);
    if (round === 0) report.meanShiftBefore = shift;
    report.meanShiftAfter = shift;
  }
  report.correctedLayers = corrected.size;
  return report;
}

interface Target {
  node: OnnxNode;
  tensor: string;
  channels: number;
  /** The float model applies Relu/Clip here, which the int8 graph leaves to its Q: clamp before comparing. */
  clamp?: { lo: number; hi: number };
}

/** Float Conv/Gemm nodes whose output (or the Relu/Clip output it was fused with) exists in the int8 model as a quantized op's output. */
function correctionTargets(model: OnnxModel, quantized: OnnxModel): Target[] {
  const quantizedOutputs = new Set<string>();
  for (const node of quantized.graph.nodes) {
    if ((node.opType === 'Conv' || node.opType === 'Gemm') && node.inputs.some((i) => i.endsWith('_DequantizeLinear_Output'))) quantizedOutputs.add(node.outputs[0]!);
  }
  const producers = producerMap(model.graph);
  const targets: Target[] = [];
  for (const tensor of quantizedOutputs) {
    let node = producers.get(tensor);
    let clamp: Target['clamp'];
    if (node && (node.opType === 'Relu' || node.opType === 'Clip')) {
      const bound = (i: number, fallback: number): number => {
        const t = node!.inputs[i] ? model.graph.initializers.get(node!.inputs[i]!) : undefined;
        return t ? tensorToFloat32(t)[0]! : fallback;
      };
      clamp = node.opType === 'Relu' ? { lo: 0, hi: Infinity } : { lo: bound(1, -Infinity), hi: bound(2, Infinity) };
      node = producers.get(node.inputs[0]!);
    }
    if (!node || (node.opType !== 'Conv' && node.opType !== 'Gemm')) continue;
    if (node.opType === 'Gemm' && attrInt(node, 'transB', 0) !== 1) continue;
    const w = model.graph.initializers.get(node.inputs[1]!);
    if (!w || w.dataType !== DataType.FLOAT) continue;
    if (node.inputs[2] && !model.graph.initializers.has(node.inputs[2])) continue;
    targets.push({ node, tensor, channels: w.dims[0]!, ...(clamp ? { clamp } : {}) });
  }
  return targets;
}

function shiftBias(model: OnnxModel, node: OnnxNode, mean: Float32Array, fresh: (b: string) => string): void {
  const old = node.inputs[2] ? model.graph.initializers.get(node.inputs[2]) : undefined;
  const values = old ? Float32Array.from(tensorToFloat32(old)) : new Float32Array(mean.length);
  if (values.length !== mean.length) return;
  for (let c = 0; c < mean.length; c++) values[c]! -= mean[c]!;
  const name = fresh(`${node.name || node.outputs[0]}_bias_corrected`);
  model.graph.initializers.set(name, floatTensor(name, [mean.length], values));
  node.inputs[2] = name;
}
