/**
 * Fidelity of many candidates against one original: the original runs over the data once and its outputs are kept
 * in memory, so each candidate costs one pass over the data instead of two. The metrics are those of
 * `evaluateModelFiles` (the same accumulator); when the original's outputs would not fit the memory cap, the tune
 * falls back to `evaluateModelFiles`.
 */
import { openDataset, feedsForBatch, type Dataset } from '../compress/dataset.js';
import { FidelityAccumulator, type FidelityMetrics } from '../compress/fidelity.js';
import { validateGraph } from '../onnx/graph.js';
import { encodeModel } from '../onnx/model-codec.js';
import { loadModelFile } from '../onnx/model-file.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { EdgetuneError } from '../util/errors.js';

/** Default cap on the original's kept outputs. */
export const REFERENCE_CACHE_MAX_BYTES = 512 * 1024 * 1024;

interface KeptPiece {
  set: number;
  start: number;
  end: number;
  output: Float32Array;
  labels: ArrayLike<number | bigint> | undefined;
}

/** The original's outputs on a dataset, to score candidates against. */
export class ReferenceOutputs {
  private constructor(
    private readonly dataDir: string,
    private readonly pieces: KeptPiece[],
    /** The original's own metrics (top-1 where labels exist). */
    readonly baseline: FidelityMetrics,
    /** Every output batch was [batch, classes]: agreement applies (else only cosine-type metrics). */
    readonly classifier: boolean,
  ) {}

  /**
   * Run the original over the data and keep its first output; null when the outputs would pass `maxBytes` (the
   * caller then evaluates pairwise).
   */
  static async compute(modelPath: string, dataDir: string, options: { maxBytes?: number; signal?: AbortSignal } = {}): Promise<ReferenceOutputs | null> {
    const { model } = loadModelFile(modelPath);
    validateGraph(model);
    const dataset = openDataset(dataDir, model);
    const runner = await createInferenceRunner(encodeModel(model), { intraOpNumThreads: 0 });
    const maxBytes = options.maxBytes ?? REFERENCE_CACHE_MAX_BYTES;
    try {
      const name = runner.outputNames[0];
      if (!name) throw new EdgetuneError('MODEL_INVALID', `${modelPath}: the model has no output`);
      const pieces: KeptPiece[] = [];
      const acc = new FidelityAccumulator();
      let bytes = 0;
      let classifier = true;
      for (let s = 0; s < dataset.setNames.length; s++) {
        if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'evaluation aborted');
        const batch = dataset.load(s);
        for (const piece of feedsForBatch(model, batch)) {
          const out = (await runner.run(piece.feeds, [name])).get(name)!;
          const values = tensorToFloat32(out);
          if (out.dims.length !== 2) classifier = false;
          const labels = batch.labels ? (batch.labels.values as BigInt64Array | Int32Array).slice(piece.start, piece.end) : undefined;
          acc.add(values, out.dims, undefined, labels as ArrayLike<number | bigint> | undefined);
          bytes += values.byteLength;
          if (bytes > maxBytes) return null;
          pieces.push({ set: s, start: piece.start, end: piece.end, output: values, labels: labels as ArrayLike<number | bigint> | undefined });
        }
      }
      return new ReferenceOutputs(dataDir, pieces, acc.result(), classifier);
    } finally {
      await runner.release();
    }
  }

  /** Score a candidate model file against the kept outputs (the `eval` metrics with the original as reference). */
  async evaluate(candidatePath: string, signal?: AbortSignal): Promise<FidelityMetrics> {
    const { model } = loadModelFile(candidatePath);
    validateGraph(model);
    const dataset: Dataset = openDataset(this.dataDir, model);
    const runner = await createInferenceRunner(encodeModel(model), { intraOpNumThreads: 0 });
    try {
      const name = runner.outputNames[0];
      if (!name) throw new EdgetuneError('MODEL_INVALID', `${candidatePath}: the model has no output`);
      const acc = new FidelityAccumulator();
      let k = 0;
      for (let s = 0; s < dataset.setNames.length; s++) {
        if (signal?.aborted) throw new EdgetuneError('ABORTED', 'evaluation aborted');
        const batch = dataset.load(s);
        for (const piece of feedsForBatch(model, batch)) {
          const kept = this.pieces[k++];
          if (!kept || kept.set !== s || kept.start !== piece.start || kept.end !== piece.end) {
            throw new EdgetuneError('MODEL_INVALID', `${candidatePath}: its batch layout differs from the original's (set ${s}, rows ${piece.start}-${piece.end})`);
          }
          const out = (await runner.run(piece.feeds, [name])).get(name)!;
          acc.add(tensorToFloat32(out), out.dims, kept.output, kept.labels);
        }
      }
      return acc.result();
    } finally {
      await runner.release();
    }
  }
}
