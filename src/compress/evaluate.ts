import { elementCount, type OnnxModel, type Tensor } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';

/** Re-exported for compression passes that run models on calibration data (it lives in the ORT adapter). */
export { refuseModelRunFailure };
import { feedsForBatch, openDataset, type Dataset } from './dataset.js';
import { FidelityAccumulator, type FidelityMetrics, type OutputBatch } from './fidelity.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { EdgetuneError } from '../util/errors.js';
import type { Decoder, Detection, RawOutput } from '../detect/detection-types.js';
import { toSourcePixels } from '../detect/detection-types.js';
import { detectionMetrics, type DetectionMetricsOptions, type ImageResult } from '../detect/detection-metrics.js';
import { imageOfSample } from '../detect/image-dataset.js';

/** What a detection eval needs besides the models: the decoder, the input layout and how to score. */
export interface DetectionEvalSpec {
  decoder: Decoder;
  layout: 'nchw' | 'nhwc';
  metrics: Omit<DetectionMetricsOptions, 'confidence'>;
}

/** Options for evaluating a model on a dataset. */
export interface EvaluateOptions {
  /** The reference (original) model, for agreement / cosine / SQNR / KL. */
  reference?: OnnxModel;
  /** Which model output the classification metrics (top-1, agreement, KL) score (default 0); fidelity covers all. */
  outputIndex?: number;
  /** Softmax temperature for KL (default 1). */
  temperature?: number;
  /** Use at most this many sets. */
  maxSets?: number;
  /** Confidence of the metric intervals (default 0.95; 0 = point estimates). */
  confidence?: number;
  /** Report outputs no closer to the original than a constant (default true; off for synthesized inputs). */
  checkExplainedVariation?: boolean;
  intraOpNumThreads?: number;
  /** Decode every sample's outputs with a detector decoder and score detections (mAP, agreement, hmean). */
  detection?: DetectionEvalSpec;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Run `model` (and the reference) over a dataset and compute the SPEC `eval` metrics. */
export async function evaluateModel(model: OnnxModel, data: string | Dataset, options: EvaluateOptions = {}): Promise<FidelityMetrics> {
  const dataset = typeof data === 'string' ? openDataset(data, model) : data;
  const runner = await createInferenceRunner(encodeModel(model), { intraOpNumThreads: options.intraOpNumThreads ?? 0 });
  let reference: InferenceRunner | undefined;
  try {
    reference = options.reference ? await createInferenceRunner(encodeModel(options.reference), { intraOpNumThreads: options.intraOpNumThreads ?? 0 }) : undefined;
    return await evaluateRunners(model, runner, reference, dataset, options);
  } finally {
    await runner.release();
    await reference?.release();
  }
}

/**
 * Evaluate already-created runners (used by the mixed-precision search to avoid reloading the reference). Every
 * numeric output is compared with the reference's output of the same name (of the same position when the names
 * differ); the top-level cosine and SQNR are the worst output's.
 */
export async function evaluateRunners(
  model: OnnxModel,
  runner: InferenceRunner,
  reference: InferenceRunner | undefined,
  dataset: Dataset,
  options: EvaluateOptions = {},
): Promise<FidelityMetrics> {
  const index = options.outputIndex ?? 0;
  const names = runner.outputNames;
  if (!names[index]) throw new EdgetuneError('USAGE', `the model has ${names.length} output(s); output ${index} does not exist`);
  const referenceNames = reference ? matchOutputs(names, reference.outputNames) : undefined;
  const acc = new FidelityAccumulator({
    temperature: options.temperature ?? 1,
    ...(options.confidence !== undefined ? { confidence: options.confidence } : {}),
    ...(options.checkExplainedVariation !== undefined ? { checkExplainedVariation: options.checkExplainedVariation } : {}),
  });
  const sets = Math.min(dataset.setNames.length, options.maxSets ?? Infinity);
  const detection = options.detection;
  const images: ImageResult[] = [];
  if (detection) detection.decoder.checkOutputs(declaredOutputs(model));
  for (let s = 0; s < sets; s++) {
    if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'evaluation aborted');
    const batch = dataset.load(s);
    for (const piece of feedsForBatch(model, batch)) {
      const outs = await runner.run(piece.feeds, names).catch(refuseModelRunFailure('the model', batch.set));
      const refs = reference && referenceNames ? await reference.run(piece.feeds, referenceNames).catch(refuseModelRunFailure('the reference model', batch.set)) : undefined;
      const outputs: OutputBatch[] = [];
      let classIndex = -1;
      for (let i = 0; i < names.length; i++) {
        const out = outs.get(names[i]!)!;
        // String outputs (labels of a classifier's ZipMap, say) have no fidelity; the scored output must be numeric.
        if (Array.isArray(out.values) && i !== index) continue;
        const ref = refs?.get(referenceNames![i]!);
        if (ref && elementCount(ref.dims) !== elementCount(out.dims)) {
          throw new EdgetuneError(
            'USAGE',
            `${batch.set}: the reference model's output '${referenceNames![i]}' [${ref.dims.join(',')}] and the model's output '${names[i]}' [${out.dims.join(',')}] differ in shape; they cannot be compared`,
          );
        }
        if (i === index) classIndex = outputs.length;
        outputs.push({ name: names[i]!, values: tensorToFloat32(out), dims: out.dims, ...(ref ? { reference: tensorToFloat32(ref) } : {}) });
      }
      const labels = batch.labels ? (batch.labels.values as BigInt64Array | Int32Array).slice(piece.start, piece.end) : undefined;
      const classOut = outs.get(names[index]!)!;
      if (labels) checkLabels(labels, classOut.dims, names[index]!, batch.set, piece.start);
      acc.addOutputs(outputs, labels as ArrayLike<number | bigint> | undefined, classIndex);
      if (detection) {
        for (let row = 0; row < piece.end - piece.start; row++) {
          const image = imageOfSample(batch, piece.start + row, detection.layout);
          const decode = (values: Map<string, Tensor>, outputNames: readonly string[]): Detection[] =>
            detection.decoder
              .decode(rawOutputsOf(values, outputNames, names, row), image.frame)
              .map((d) => toSourcePixels(d, image.frame));
          images.push({ fileName: image.fileName, model: decode(outs, names), reference: refs ? decode(refs, referenceNames!) : null });
        }
      }
    }
    options.onProgress?.(s + 1, sets);
  }
  const result = acc.result();
  if (detection) result.detection = detectionMetrics(images, { ...detection.metrics, confidence: result.intervals.confidence });
  return result;
}

/** The model's outputs with their declared dims (null for a symbolic or unknown axis), for a decoder's check. */
export function declaredOutputs(model: OnnxModel): Array<{ name: string; dims: Array<number | null> }> {
  return model.graph.outputs.map((o) => ({ name: o.name, dims: (o.type?.shape ?? []).map((d) => (typeof d === 'number' ? d : null)) }));
}

/** One row of each output, as float32, under the model's output names (the reference's are matched by position). */
function rawOutputsOf(values: Map<string, Tensor>, outputNames: readonly string[], modelNames: readonly string[], row: number): RawOutput[] {
  return outputNames.map((name, i) => {
    const out = values.get(name)!;
    const all = tensorToFloat32(out);
    const batch = out.dims[0] ?? 1;
    const per = batch > 0 ? all.length / batch : all.length;
    return { name: modelNames[i]!, dims: [1, ...out.dims.slice(1)], values: batch > 1 ? all.subarray(row * per, (row + 1) * per) : all };
  });
}

/**
 * Labels must be classes of a classifier output [batch, classes]: 0 ≤ label < classes. DATASET_INVALID naming the set,
 * the sample and the label otherwise (top-1 would count it wrong whatever the model predicts). Other output ranks
 * have no classes to check against (their labels are not scored).
 */
function checkLabels(labels: ArrayLike<number | bigint>, dims: readonly number[], output: string, set: string, first: number): void {
  if (dims.length !== 2) return;
  const classes = dims[1]!;
  for (let k = 0; k < labels.length; k++) {
    const label = Number(labels[k]);
    if (label < 0 || label >= classes) {
      throw new EdgetuneError(
        'DATASET_INVALID',
        `${set}: label.pb holds label ${label} (sample ${first + k}), outside the classes of output '${output}' [${dims.join(',')}] (0 to ${classes - 1})`,
      );
    }
  }
}

/**
 * The reference output compared with each model output: the same name when every model output name is one of the
 * reference's, else the same position when both have as many outputs.
 */
function matchOutputs(names: readonly string[], referenceNames: readonly string[]): readonly string[] {
  if (names.every((n) => referenceNames.includes(n))) return names;
  if (names.length === referenceNames.length) return referenceNames;
  throw new EdgetuneError(
    'USAGE',
    `the model's outputs (${names.join(', ')}) and the reference model's (${referenceNames.join(', ')}) match neither by name nor by position; they cannot be compared`,
  );
}
