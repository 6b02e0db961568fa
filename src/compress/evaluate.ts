import { elementCount, type OnnxModel } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';

/** Re-exported for compression passes that run models on calibration data (it lives in the ORT adapter). */
export { refuseModelRunFailure };
import { feedsForBatch, openDataset, type Dataset } from './dataset.js';
import { FidelityAccumulator, type FidelityMetrics } from './fidelity.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { EdgetuneError } from '../util/errors.js';

/** Options for evaluating a model on a dataset. */
export interface EvaluateOptions {
  /** The reference (original) model, for agreement / cosine / SQNR / KL. */
  reference?: OnnxModel;
  /** Which model output to compare (default 0). */
  outputIndex?: number;
  /** Softmax temperature for KL (default 1). */
  temperature?: number;
  /** Use at most this many sets. */
  maxSets?: number;
  intraOpNumThreads?: number;
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

/** Evaluate already-created runners (used by the mixed-precision search to avoid reloading the reference). */
export async function evaluateRunners(
  model: OnnxModel,
  runner: InferenceRunner,
  reference: InferenceRunner | undefined,
  dataset: Dataset,
  options: EvaluateOptions = {},
): Promise<FidelityMetrics> {
  const index = options.outputIndex ?? 0;
  const outputName = runner.outputNames[index];
  if (!outputName) throw new EdgetuneError('USAGE', `the model has ${runner.outputNames.length} output(s); output ${index} does not exist`);
  const referenceName = reference?.outputNames[index];
  const acc = new FidelityAccumulator(options.temperature ?? 1);
  const sets = Math.min(dataset.setNames.length, options.maxSets ?? Infinity);
  for (let s = 0; s < sets; s++) {
    if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'evaluation aborted');
    const batch = dataset.load(s);
    for (const piece of feedsForBatch(model, batch)) {
      const out = (await runner.run(piece.feeds, [outputName]).catch(refuseModelRunFailure('the model', batch.set))).get(outputName)!;
      const ref = reference && referenceName ? (await reference.run(piece.feeds, [referenceName]).catch(refuseModelRunFailure('the reference model', batch.set))).get(referenceName)! : undefined;
      if (ref && elementCount(ref.dims) !== elementCount(out.dims)) {
        throw new EdgetuneError('USAGE', `${batch.set}: the reference model's output [${ref.dims.join(',')}] and the model's output [${out.dims.join(',')}] differ in shape; they cannot be compared`);
      }
      const labels = batch.labels ? (batch.labels.values as BigInt64Array | Int32Array).slice(piece.start, piece.end) : undefined;
      acc.add(tensorToFloat32(out), out.dims, ref ? tensorToFloat32(ref) : undefined, labels as ArrayLike<number | bigint> | undefined);
    }
    options.onProgress?.(s + 1, sets);
  }
  return acc.result();
}
