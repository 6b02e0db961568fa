/**
 * Fidelity of many candidates against one original: the original runs over the data once and its outputs are kept
 * in memory, so each candidate costs one pass over the data instead of two. The metrics are those of
 * `evaluateModelFiles` (the same accumulator, `addOutputs`): every numeric output is kept and compared, the
 * classification metrics score output 0, and the top-level cosine and SQNR are the worst output's (a detector's
 * boxes count as much as its scores). When the original's outputs would not fit the memory cap, the tune falls back
 * to `evaluateModelFiles`.
 */
import { openDataset, feedsForBatch, type Dataset } from '../compress/dataset.js';
import { DEFAULT_CONFIDENCE, FidelityAccumulator, type FidelityMetrics, type OutputBatch } from '../compress/fidelity.js';
import { validateGraph } from '../onnx/graph.js';
import { encodeModel } from '../onnx/model-codec.js';
import { loadModelFile } from '../onnx/model-file.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { EdgetuneError } from '../util/errors.js';

/** Default cap on the original's kept outputs. */
export const REFERENCE_CACHE_MAX_BYTES = 512 * 1024 * 1024;

/** The original's outputs on one piece of one set. */
interface KeptPiece {
  set: number;
  start: number;
  end: number;
  /** Every numeric output, in the original's output order (`ReferenceOutputs.outputNames`). */
  outputs: Float32Array[];
  labels: ArrayLike<number | bigint> | undefined;
}

/** The original's outputs on a dataset, to score candidates against. */
export class ReferenceOutputs {
  private constructor(
    private readonly dataDir: string,
    /** The original's numeric outputs that are kept, output 0 first (string outputs have no fidelity). */
    readonly outputNames: readonly string[],
    private readonly pieces: KeptPiece[],
    /** The original's own metrics (top-1 where labels exist). */
    readonly baseline: FidelityMetrics,
    /** Every batch of output 0 was [batch, classes]: agreement applies (else only cosine-type metrics). */
    readonly classifier: boolean,
    /** Confidence of the candidates' metric intervals. */
    private readonly confidence: number,
  ) {}

  /**
   * Run the original over the data and keep every numeric output; null when the outputs would pass `maxBytes` (the
   * caller then evaluates pairwise).
   */
  static async compute(modelPath: string, dataDir: string, options: { maxBytes?: number; signal?: AbortSignal; confidence?: number } = {}): Promise<ReferenceOutputs | null> {
    const { model } = loadModelFile(modelPath);
    validateGraph(model);
    const dataset = openDataset(dataDir, model);
    const runner = await createInferenceRunner(encodeModel(model), { intraOpNumThreads: 0 });
    const maxBytes = options.maxBytes ?? REFERENCE_CACHE_MAX_BYTES;
    try {
      const all = runner.outputNames;
      if (all.length === 0) throw new EdgetuneError('MODEL_INVALID', `${modelPath}: the model has no output`);
      const pieces: KeptPiece[] = [];
      const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
      const acc = new FidelityAccumulator({ confidence });
      let bytes = 0;
      let classifier = true;
      // Decided on the first batch: string outputs (a ZipMap's labels) are not kept, output 0 always is.
      let kept: string[] | null = null;
      for (let s = 0; s < dataset.setNames.length; s++) {
        if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'evaluation aborted');
        const batch = dataset.load(s);
        for (const piece of feedsForBatch(model, batch)) {
          const outs = await runner.run(piece.feeds, all);
          kept ??= all.filter((n, i) => i === 0 || !Array.isArray(outs.get(n)!.values));
          const batches: OutputBatch[] = [];
          const values: Float32Array[] = [];
          for (const n of kept) {
            const out = outs.get(n)!;
            const v = tensorToFloat32(out);
            values.push(v);
            batches.push({ name: n, values: v, dims: out.dims });
            bytes += v.byteLength;
          }
          if (batches[0]!.dims.length !== 2) classifier = false;
          const labels = batch.labels ? ((batch.labels.values as BigInt64Array | Int32Array).slice(piece.start, piece.end) as ArrayLike<number | bigint>) : undefined;
          acc.addOutputs(batches, labels, 0);
          if (bytes > maxBytes) return null;
          pieces.push({ set: s, start: piece.start, end: piece.end, outputs: values, labels });
        }
      }
      return new ReferenceOutputs(dataDir, kept ?? all.slice(0, 1), pieces, acc.result(), classifier, confidence);
    } finally {
      await runner.release();
    }
  }

  /**
   * Score a candidate model file against the kept outputs (the `eval` metrics with the original as reference): each
   * kept output is compared with the candidate's output of the same name (of the same position when the names
   * differ), as `evaluateRunners` does.
   */
  async evaluate(candidatePath: string, signal?: AbortSignal, confidence = this.confidence): Promise<FidelityMetrics> {
    const { model } = loadModelFile(candidatePath);
    validateGraph(model);
    const dataset: Dataset = openDataset(this.dataDir, model);
    const runner = await createInferenceRunner(encodeModel(model), { intraOpNumThreads: 0 });
    try {
      const names = candidateOutputs(candidatePath, runner.outputNames, this.outputNames);
      const acc = new FidelityAccumulator({ confidence });
      let k = 0;
      for (let s = 0; s < dataset.setNames.length; s++) {
        if (signal?.aborted) throw new EdgetuneError('ABORTED', 'evaluation aborted');
        const batch = dataset.load(s);
        for (const piece of feedsForBatch(model, batch)) {
          const kept = this.pieces[k++];
          if (!kept || kept.set !== s || kept.start !== piece.start || kept.end !== piece.end) {
            throw new EdgetuneError('MODEL_INVALID', `${candidatePath}: its batch layout differs from the original's (set ${s}, rows ${piece.start}-${piece.end})`);
          }
          const outs = await runner.run(piece.feeds, names);
          const batches: OutputBatch[] = names.map((n, i) => {
            const out = outs.get(n)!;
            const values = tensorToFloat32(out);
            const reference = kept.outputs[i]!;
            if (values.length !== reference.length) {
              throw new EdgetuneError(
                'MODEL_INVALID',
                `${candidatePath}: output '${n}' [${out.dims.join(',')}] has ${values.length} values, the original's '${this.outputNames[i]}' ${reference.length} (set ${s}); they cannot be compared`,
              );
            }
            return { name: n, values, dims: out.dims, reference };
          });
          acc.addOutputs(batches, kept.labels, 0);
        }
      }
      return acc.result();
    } finally {
      await runner.release();
    }
  }
}

/**
 * The candidate's output compared with each kept output of the original: the same name when every kept name is one
 * of the candidate's, else the same position when both have as many outputs.
 */
function candidateOutputs(candidatePath: string, names: readonly string[], kept: readonly string[]): string[] {
  if (names.length === 0) throw new EdgetuneError('MODEL_INVALID', `${candidatePath}: the model has no output`);
  if (kept.every((n) => names.includes(n))) return [...kept];
  if (kept.length === 1) return [names[0]!];
  if (names.length === kept.length) return [...names];
  throw new EdgetuneError(
    'MODEL_INVALID',
    `${candidatePath}: its outputs (${names.join(', ')}) and the original's (${kept.join(', ')}) match neither by name nor by position; they cannot be compared`,
  );
}
