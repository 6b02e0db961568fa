import { DataType } from '../onnx/dtype.js';
import type { OnnxModel } from '../onnx/ir.js';
import { cloneModel } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { inferTensorTypes } from '../onnx/shape-inference.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { calibrateRanges, type CalibrationResult } from './calibrate.js';
import type { CalibrationMethod } from './calibration-stats.js';
import type { Dataset } from './dataset.js';
import { evaluateRunners } from './evaluate.js';
import type { FidelityMetrics } from './fidelity.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { fuseHardSwish } from './fuse-activations.js';
import { quantizeInt8, type Int8Options } from './quantize-int8.js';
import type { PassResult } from './pass.js';
import { EdgetuneError } from '../util/errors.js';

/** Options for the whole static int8 flow: calibrate, quantize, and optionally keep sensitive layers float. */
export interface Int8PipelineOptions extends Int8Options {
  calibration: CalibrationMethod;
  percentile?: number;
  /** `auto` = mixed precision driven by `maxAccuracyDrop`; a list = those node names stay float. */
  keepFloatMode?: 'none' | 'auto' | string[];
  /** Bound for `auto`, in percentage points of top-1 (or of agreement with the float model without labels). */
  maxAccuracyDropPp?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** int8 result with the calibration facts the report needs. */
export interface Int8PipelineResult extends PassResult {
  calibration: { method: CalibrationMethod; samples: number };
  foldedBatchNorms: string[];
  fusedHardSwish: number;
  accuracy?: { baseline: number; quantized: number; dropPp: number; metric: 'top1' | 'agreement' };
}

/** Static int8 quantization end to end. `model` must be normalised (opset ≥ 13, constants lifted). */
export async function runInt8Pipeline(model: OnnxModel, dataset: Dataset, options: Int8PipelineOptions): Promise<Int8PipelineResult> {
  const original = cloneModel(model);
  const fusedHardSwish = fuseHardSwish(model);
  const foldedBatchNorms = foldBatchNorm(model.graph);
  const types = inferTensorTypes(model);
  const activations = new Set<string>();
  for (const input of model.graph.inputs) if (!model.graph.initializers.has(input.name) && types.get(input.name)?.elemType === DataType.FLOAT) activations.add(input.name);
  for (const node of model.graph.nodes) for (const out of node.outputs) if (out && types.get(out)?.elemType === DataType.FLOAT) activations.add(out);
  const calibration: CalibrationResult = await calibrateRanges(model, [...activations], dataset, {
    method: options.calibration,
    ...(options.percentile !== undefined ? { percentile: options.percentile } : {}),
    onProgress: (d, t) => options.onProgress?.('calibrate', d, t),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const quantize = (keepFloat: ReadonlySet<string>): PassResult => quantizeInt8(cloneModel(model), types, calibration.ranges, { ...options, keepFloat });
  const mode = options.keepFloatMode ?? 'none';
  const base = { calibration: { method: calibration.method, samples: calibration.samples }, foldedBatchNorms, fusedHardSwish };
  if (mode === 'none') return { ...quantize(new Set()), ...base };
  if (Array.isArray(mode)) return { ...quantize(new Set(mode)), ...base };
  const bound = options.maxAccuracyDropPp;
  if (bound === undefined) throw new EdgetuneError('USAGE', '--keep-float auto needs --max-accuracy-drop PP');
  return { ...(await mixedPrecisionSearch(original, quantize, dataset, bound, options)), ...base };
}

async function mixedPrecisionSearch(
  original: OnnxModel,
  quantize: (keepFloat: ReadonlySet<string>) => PassResult,
  dataset: Dataset,
  boundPp: number,
  options: Int8PipelineOptions,
): Promise<PassResult & { accuracy: NonNullable<Int8PipelineResult['accuracy']> }> {
  const reference = await createInferenceRunner(encodeModel(original));
  try {
    const score = async (candidate: PassResult): Promise<{ metrics: FidelityMetrics; value: number; metric: 'top1' | 'agreement' }> => {
      const runner = await createInferenceRunner(encodeModel(candidate.model));
      try {
        const metrics = await evaluateRunners(candidate.model, runner, reference, dataset, options.signal ? { signal: options.signal } : {});
        if (metrics.top1 !== null && metrics.referenceTop1 !== null) return { metrics, value: metrics.top1, metric: 'top1' };
        if (metrics.agreement !== null) return { metrics, value: metrics.agreement, metric: 'agreement' };
        return { metrics, value: metrics.cosine ?? 0, metric: 'agreement' };
      } finally {
        await runner.release();
      }
    };
    const full = quantize(new Set());
    const first = await score(full);
    const baseline = first.metric === 'top1' ? first.metrics.referenceTop1! : 1;
    const drop = (v: number): number => (baseline - v) * 100;
    if (drop(first.value) <= boundPp) {
      return { ...full, accuracy: { baseline, quantized: first.value, dropPp: drop(first.value), metric: first.metric } };
    }
    // Sensitivity of each quantized compute layer: the gain from keeping it alone in float.
    const layers = quantizedComputeLayers(full);
    const gains: Array<{ layer: string; gain: number }> = [];
    for (let i = 0; i < layers.length; i++) {
      options.onProgress?.('sensitivity', i + 1, layers.length);
      const s = await score(quantize(new Set([layers[i]!])));
      gains.push({ layer: layers[i]!, gain: s.value - first.value + (s.metrics.cosine ?? 0) * 1e-6 });
    }
    gains.sort((a, b) => b.gain - a.gain);
    const keep = new Set<string>();
    let best: PassResult = full;
    let bestValue = first.value;
    for (const { layer } of gains) {
      keep.add(layer);
      const candidate = quantize(keep);
      const s = await score(candidate);
      best = candidate;
      bestValue = s.value;
      if (drop(s.value) <= boundPp) break;
    }
    const dropPp = drop(bestValue);
    best.report.notes.push(
      dropPp <= boundPp
        ? `mixed precision: ${keep.size} layer(s) kept float to hold the ${first.metric} drop at ${dropPp.toFixed(2)} pp (bound ${boundPp} pp)`
        : `mixed precision: even with every quantized layer float the drop is ${dropPp.toFixed(2)} pp (bound ${boundPp} pp)`,
    );
    for (const entry of best.report.nodesKeptFloat) {
      if (keep.has(entry.node)) {
        const g = gains.find((x) => x.layer === entry.node)!;
        entry.reason = `accuracy-sensitive: quantizing it alone costs ${(g.gain * 100).toFixed(2)} pp of ${first.metric}`;
      }
    }
    return { ...best, accuracy: { baseline, quantized: bestValue, dropPp, metric: first.metric } };
  } finally {
    await reference.release();
  }
}

function quantizedComputeLayers(result: PassResult): string[] {
  const names: string[] = [];
  for (const node of result.model.graph.nodes) {
    if (!['Conv', 'Gemm', 'MatMul'].includes(node.opType)) continue;
    if (node.inputs.some((i) => i.endsWith('_DequantizeLinear_Output'))) names.push(node.name || node.outputs[0]!);
  }
  return names;
}
