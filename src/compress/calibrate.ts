import { DataType } from '../onnx/dtype.js';
import type { OnnxModel } from '../onnx/ir.js';
import { attr, makeNode, nameFactory } from '../onnx/graph.js';
import { encodeModel } from '../onnx/model-codec.js';
import { defaultOpset } from '../onnx/ir.js';
import { int64Tensor } from '../onnx/tensor.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import { Histogram, MinMaxAccumulator, entropyThreshold, mseRange, percentileRange, type CalibrationMethod, type TensorRange } from './calibration-stats.js';
import { EdgetuneError } from '../util/errors.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';
import { searchScales } from './scale-search.js';

/** Options for activation calibration. */
export interface CalibrationOptions {
  method: CalibrationMethod;
  /** Percentile for `percentile` (default 99.999). */
  percentile?: number;
  /** Histogram bins for `percentile`/`entropy` (default 2048). */
  bins?: number;
  /** Use at most this many dataset sets. */
  maxSets?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Calibrated ranges per tensor name and how they were obtained. */
export interface CalibrationResult {
  method: CalibrationMethod;
  samples: number;
  ranges: Map<string, TensorRange>;
  /** consumer-mse: how many tensors chose each candidate range. */
  chosen?: { candidates: string[]; counts: number[] };
}

/**
 * Run the model on the dataset and measure the range of each named float tensor. `minmax` adds ReduceMin/ReduceMax
 * nodes so only scalars leave onnxruntime; `percentile`/`entropy` take a second pass with fixed-range histograms.
 */
export async function calibrateRanges(model: OnnxModel, tensorNames: readonly string[], dataset: Dataset, options: CalibrationOptions): Promise<CalibrationResult> {
  // No float tensor (an integer, bool or string graph): nothing to calibrate, and onnxruntime refuses an empty fetch list.
  if (tensorNames.length === 0) return { method: options.method, samples: 0, ranges: new Map() };
  const sets = Math.min(dataset.setNames.length, options.maxSets ?? Number.POSITIVE_INFINITY);
  const passes = options.method === 'minmax' ? 1 : 2;
  const total = sets * passes;
  let done = 0;
  const tick = (): void => options.onProgress?.(++done, total);
  const minmax = await minMaxPass(model, tensorNames, dataset, sets, tick, options.signal);
  const ranges = new Map<string, TensorRange>();
  let samples = minmax.samples;
  if (options.method === 'minmax') {
    for (const [name, acc] of minmax.acc) ranges.set(name, acc.range());
    return { method: 'minmax', samples, ranges };
  }
  const bins = options.bins ?? 2048;
  const histograms = new Map<string, Histogram>();
  for (const [name, acc] of minmax.acc) {
    const r = acc.range();
    if (options.method === 'entropy') histograms.set(name, new Histogram(0, Math.max(Math.abs(r.min), Math.abs(r.max)), bins));
    else histograms.set(name, new Histogram(r.min, r.max, bins));
  }
  samples = await histogramPass(model, tensorNames, dataset, sets, histograms, options.method === 'entropy', tick, options.signal);
  if (options.method === 'consumer-mse') {
    // Candidates from the same histogram; the readers' output error picks one per tensor.
    const candidates = new Map<string, TensorRange[]>();
    for (const [name, histogram] of histograms) {
      const observed = minmax.acc.get(name)!.range();
      candidates.set(name, [observed, ...[99.999, 99.99, 99.9].map((p) => percentileRange(histogram, p, observed)), mseRange(histogram, observed)]);
    }
    const search = await searchScales(model, candidates, dataset, { ...(options.signal ? { signal: options.signal } : {}) });
    return { method: 'consumer-mse', samples, ranges: search.ranges, chosen: { candidates: ['minmax', 'p99.999', 'p99.99', 'p99.9', 'mse'], counts: search.chosen } };
  }
  for (const [name, histogram] of histograms) {
    const observed = minmax.acc.get(name)!.range();
    if (options.method === 'percentile') {
      ranges.set(name, percentileRange(histogram, options.percentile ?? 99.999, observed));
    } else if (options.method === 'mse') {
      ranges.set(name, mseRange(histogram, observed));
    } else {
      // KL on spiky distributions (a constant background, post-ReLU zeros) can pick a threshold that clips a
      // large share of real values (measured on the MNIST CNN: 20% of the first ReLU's outputs, top-1 → 10%).
      // Guard: never clip more than 0.1% of the mass.
      const t = Math.max(entropyThreshold(histogram, 128, Math.max(1, Math.floor(bins / 256))), histogram.quantile(0.999));
      ranges.set(name, { min: Math.max(observed.min, -t), max: Math.min(observed.max, t) });
    }
  }
  return { method: options.method, samples, ranges };
}

/** Ranges by minmax and by each of several percentiles, from one minmax pass and one histogram pass. */
export interface RangeCandidates {
  samples: number;
  minmax: Map<string, TensorRange>;
  /** Keyed by percentile. */
  percentiles: Map<number, Map<string, TensorRange>>;
}

/** minmax and percentile ranges of each named tensor from the same two passes (what `calibration: 'auto'` compares). */
export async function calibrateRangeCandidates(
  model: OnnxModel,
  tensorNames: readonly string[],
  dataset: Dataset,
  percentiles: readonly number[],
  options: { bins?: number; signal?: AbortSignal } = {},
): Promise<RangeCandidates> {
  const result: RangeCandidates = { samples: 0, minmax: new Map(), percentiles: new Map(percentiles.map((p) => [p, new Map()])) };
  if (tensorNames.length === 0) return result;
  const sets = dataset.setNames.length;
  const minmax = await minMaxPass(model, tensorNames, dataset, sets, () => undefined, options.signal);
  const histograms = new Map<string, Histogram>();
  for (const [name, acc] of minmax.acc) {
    const r = acc.range();
    result.minmax.set(name, r);
    histograms.set(name, new Histogram(r.min, r.max, options.bins ?? 2048));
  }
  result.samples = await histogramPass(model, tensorNames, dataset, sets, histograms, false, () => undefined, options.signal);
  for (const [name, histogram] of histograms) {
    for (const p of percentiles) result.percentiles.get(p)!.set(name, percentileRange(histogram, p, result.minmax.get(name)!));
  }
  return result;
}

async function minMaxPass(
  model: OnnxModel,
  tensorNames: readonly string[],
  dataset: Dataset,
  sets: number,
  tick: () => void,
  signal?: AbortSignal,
): Promise<{ acc: Map<string, MinMaxAccumulator>; samples: number }> {
  const { augmented, fetch: outputs } = withReduceMinMax(model, tensorNames, [], 'calib');
  const runner = await createInferenceRunner(encodeModel(augmented), { graphOptimizationLevel: 'disabled' });
  const acc = new Map(tensorNames.map((n) => [n, new MinMaxAccumulator()]));
  let samples = 0;
  try {
    const fetch = outputs.flatMap((o) => [o.min, o.max]);
    for (let s = 0; s < sets; s++) {
      if (signal?.aborted) throw new EdgetuneError('ABORTED', 'calibration aborted');
      const batch = dataset.load(s);
      for (const piece of feedsForBatch(model, batch)) {
        const result = await runner.run(piece.feeds, fetch).catch(refuseModelRunFailure('the model', batch.set));
        for (const o of outputs) {
          const lo = result.get(o.min)!.values as Float32Array;
          const hi = result.get(o.max)!.values as Float32Array;
          acc.get(o.tensor)!.addRange(lo[0]!, hi[0]!);
        }
        samples += piece.end - piece.start;
      }
      tick();
    }
  } finally {
    await runner.release();
  }
  return { acc, samples };
}

async function histogramPass(
  model: OnnxModel,
  tensorNames: readonly string[],
  dataset: Dataset,
  sets: number,
  histograms: Map<string, Histogram>,
  absolute: boolean,
  tick: () => void,
  signal?: AbortSignal,
): Promise<number> {
  const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  const exposed: OnnxModel = {
    ...model,
    graph: {
      ...model.graph,
      outputs: [...model.graph.outputs, ...tensorNames.filter((n) => !graphOutputs.has(n)).map((name) => ({ name, type: { elemType: DataType.FLOAT, shape: null } }))],
    },
  };
  const runner = await createInferenceRunner(encodeModel(exposed), { graphOptimizationLevel: 'disabled' });
  let samples = 0;
  try {
    for (let s = 0; s < sets; s++) {
      if (signal?.aborted) throw new EdgetuneError('ABORTED', 'calibration aborted');
      const batch = dataset.load(s);
      for (const piece of feedsForBatch(model, batch)) {
        const result = await runner.run(piece.feeds, tensorNames).catch(refuseModelRunFailure('the model', batch.set));
        for (const name of tensorNames) {
          const values = result.get(name)!.values as Float32Array;
          if (absolute) {
            const abs = new Float32Array(values.length);
            for (let i = 0; i < values.length; i++) abs[i] = Math.abs(values[i]!);
            histograms.get(name)!.add(abs);
          } else histograms.get(name)!.add(values);
        }
        samples += piece.end - piece.start;
      }
      tick();
    }
  } finally {
    await runner.release();
  }
  return samples;
}

/** Per-channel (axis 1) min and max of a rank-4 NCHW activation tensor over the calibration data. */
export interface ChannelRange {
  min: Float32Array;
  max: Float32Array;
}

/**
 * Measure per-channel (axis 1) ranges of rank-4 float tensors: ReduceMin/ReduceMax over axes 0, 2, 3 inside the
 * model, so only C values per tensor leave onnxruntime. Used by channel equalization.
 */
export async function calibrateChannelRanges(
  model: OnnxModel,
  tensorNames: readonly string[],
  dataset: Dataset,
  options: { maxSets?: number; signal?: AbortSignal } = {},
): Promise<Map<string, ChannelRange>> {
  const ranges = new Map<string, ChannelRange>();
  if (tensorNames.length === 0) return ranges;
  const { augmented, fetch } = withReduceMinMax(model, tensorNames, [0, 2, 3], 'chan');
  const runner = await createInferenceRunner(encodeModel(augmented), { graphOptimizationLevel: 'disabled' });
  const sets = Math.min(dataset.setNames.length, options.maxSets ?? Number.POSITIVE_INFINITY);
  try {
    for (let s = 0; s < sets; s++) {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'calibration aborted');
      const batch = dataset.load(s);
      for (const piece of feedsForBatch(model, batch)) {
        const result = await runner.run(piece.feeds, fetch.flatMap((f) => [f.min, f.max])).catch(refuseModelRunFailure('the model', batch.set));
        for (const f of fetch) {
          const lo = result.get(f.min)!.values as Float32Array;
          const hi = result.get(f.max)!.values as Float32Array;
          const known = ranges.get(f.tensor);
          if (!known) ranges.set(f.tensor, { min: Float32Array.from(lo), max: Float32Array.from(hi) });
          else for (let c = 0; c < lo.length; c++) {
            known.min[c] = Math.min(known.min[c]!, lo[c]!);
            known.max[c] = Math.max(known.max[c]!, hi[c]!);
          }
        }
      }
    }
  } finally {
    await runner.release();
  }
  return ranges;
}

/**
 * A copy of `model` that also outputs ReduceMin/ReduceMax of each named tensor over `axes` (empty: every axis, a
 * scalar), as opset < 18 (attribute) or ≥ 18 (input) wants them.
 */
function withReduceMinMax(model: OnnxModel, tensorNames: readonly string[], axes: number[], tag: string): { augmented: OnnxModel; fetch: Array<{ tensor: string; min: string; max: string }> } {
  const augmented: OnnxModel = { ...model, graph: { ...model.graph, nodes: [...model.graph.nodes], outputs: [...model.graph.outputs], initializers: new Map(model.graph.initializers) } };
  const fresh = nameFactory(augmented.graph);
  const opset = defaultOpset(model);
  const fetch: Array<{ tensor: string; min: string; max: string }> = [];
  for (const name of tensorNames) {
    const min = fresh(`${name}__${tag}_min`);
    const max = fresh(`${name}__${tag}_max`);
    for (const [op, out] of [['ReduceMin', min], ['ReduceMax', max]] as const) {
      if (opset >= 18) {
        const axesName = fresh(`${name}__${tag}_axes`);
        augmented.graph.initializers.set(axesName, int64Tensor(axesName, [axes.length], axes));
        augmented.graph.nodes.push(makeNode(op, [name, axesName], [out], fresh(`${name}_${tag}_${op}`), { keepdims: attr.int(0), noop_with_empty_axes: attr.int(0) }));
      } else {
        augmented.graph.nodes.push(makeNode(op, [name], [out], fresh(`${name}_${tag}_${op}`), { keepdims: attr.int(0), ...(axes.length > 0 ? { axes: attr.ints(axes) } : {}) }));
      }
    }
    augmented.graph.outputs.push({ name: min, type: { elemType: DataType.FLOAT, shape: null } }, { name: max, type: { elemType: DataType.FLOAT, shape: null } });
    fetch.push({ tensor: name, min, max });
  }
  return { augmented, fetch };
}
