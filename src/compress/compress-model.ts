import { performance } from 'node:perf_hooks';
import { loadModelFile, saveModelFile } from '../onnx/model-file.js';
import { cloneModel, defaultOpset, elementCount, type OnnxModel } from '../onnx/ir.js';
import { validateGraph } from '../onnx/graph.js';
import { normalizeModel } from '../onnx/normalize.js';
import { openDataset, type Dataset } from './dataset.js';
import { loadCompressMethod } from './methods/registry.js';
import type { MethodOptions } from './methods/method-types.js';
import type { KeptNode, PassReport } from './pass.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { createOrtSession } from '../profile/ort-session.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import { encodeModel } from '../onnx/model-codec.js';
import { evaluateRunners } from './evaluate.js';
import type { OutputFidelity } from './fidelity.js';

/** Caller input for compressing a model file. */
export interface CompressFileOptions extends MethodOptions {
  inputPath: string;
  outputPath: string;
  method: string;
  dataDir?: string;
  /** Sets of `dataDir` the report's fidelity is measured on (default 8; 0 = none). */
  fidelitySets?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Per-output fidelity of the compressed model against the input model, on the calibration data. */
export interface CompressFidelity {
  /** Judged on the data the method calibrated on, not on held-out data. */
  judgedOn: 'calibration data';
  samples: number;
  outputs: OutputFidelity[];
  /** The output with the lowest cosine; `cosine` and `sqnrDb` are its. */
  worstOutput: string;
  cosine: number;
  sqnrDb: number;
}

/** Default number of dataset sets the compress report's fidelity is measured on. */
export const COMPRESS_FIDELITY_SETS = 8;

/** The `compress` JSON of SPEC.md, plus the pass details. */
export interface CompressReport {
  method: string;
  input: { path: string; bytes: number; sha256: string };
  output: { path: string; bytes: number; sha256: string };
  sizeRatio: number;
  params: { before: number; after: number };
  nodesChanged: number;
  nodesKeptFloat: KeptNode[];
  opset: { from: number; to: number };
  calibration: { method: string; samples: number } | null;
  seconds: number;
  constantsLifted: number;
  notes: string[];
  details: Record<string, unknown> | null;
  steps: PassReport[] | null;
  /** With `dataDir`, when the method changed the model: fidelity to the input model on the calibration data. */
  fidelity: CompressFidelity | null;
}

/** Parameter count: elements of every initializer (quantized weights count once, scales included). */
export function countParameters(model: OnnxModel): number {
  let n = 0;
  for (const t of model.graph.initializers.values()) n += elementCount(t.dims);
  return n;
}

/**
 * Compress a model file: load and validate, normalise (Constant lifting, opset upgrade where the method needs it),
 * run the method, write the output atomically. Bad input throws before anything is written; the input is never
 * overwritten.
 */
export async function compressModelFile(options: CompressFileOptions): Promise<CompressReport> {
  const started = performance.now();
  const runner = await loadCompressMethod(options.method);
  const loaded = loadModelFile(options.inputPath);
  const model = loaded.model;
  validateGraph(model);
  await checkOnnxruntimeLoads(options.inputPath);
  const fidelitySets = options.dataDir ? (options.fidelitySets ?? COMPRESS_FIDELITY_SETS) : 0;
  // The input as loaded (before normalisation, which the method may mutate): the reference of the fidelity check.
  const fidelityNotes: string[] = [];
  let inputBytes: Uint8Array | undefined;
  try {
    inputBytes = fidelitySets > 0 ? encodeModel(model) : undefined;
  } catch (error) {
    fidelityNotes.push(`fidelity not measured: ${messageOf(error)}`);
  }
  const from = defaultOpset(model);
  const normalized = normalizeModel(model, runner.minOpset > 0 ? { minOpset: runner.minOpset } : {});
  // After Constant lifting, so weights kept in Constant nodes (paddle2onnx) are counted.
  const paramsBefore = countParameters(model);
  if (runner.needsData && !options.dataDir) {
    throw new EdgetuneError('USAGE', `method '${options.method}' needs data: --data DIR (ONNX test-data layout)`);
  }
  const dataset = options.dataDir ? openDataset(options.dataDir, model) : undefined;
  if (dataset) dataset.load(0); // fail on a mismatched dataset before any work
  const outcome = await runner.run({
    model,
    original: cloneModel(model),
    dataset,
    options,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // Only what the method changed is measured (nodesChanged 0: an already-quantized model, nothing to factorise…).
  const measured = dataset && inputBytes && outcome.report.nodesChanged > 0 ? await compressionFidelity(inputBytes, outcome.model, dataset, fidelitySets, options) : { fidelity: null, notes: fidelityNotes };
  const saved = saveModelFile(options.outputPath, outcome.model, { inputPath: options.inputPath });
  return {
    method: options.method,
    input: { path: loaded.path, bytes: loaded.bytes, sha256: loaded.sha256 },
    output: { path: saved.path, bytes: saved.bytes, sha256: saved.sha256 },
    sizeRatio: loaded.bytes / saved.bytes,
    params: { before: paramsBefore, after: countParameters(outcome.model) },
    nodesChanged: outcome.report.nodesChanged,
    nodesKeptFloat: outcome.report.nodesKeptFloat,
    opset: { from, to: defaultOpset(outcome.model) },
    calibration: outcome.calibration ?? null,
    seconds: (performance.now() - started) / 1000,
    constantsLifted: normalized.constantsLifted,
    notes: [...normalized.nodesConverted.map((n) => `opset upgrade converted ${n}`).slice(0, 20), ...outcome.report.notes, ...measured.notes],
    details: outcome.report.details ?? null,
    steps: outcome.steps ?? null,
    fidelity: measured.fidelity,
  };
}

/**
 * Per-output fidelity of the output model against the input model (both in memory) on the first `maxSets` sets of
 * the dataset. A model that cannot be compared (outputs of another shape, a run
 * failure) is reported in a note, not thrown: the compression itself succeeded.
 */
async function compressionFidelity(
  inputBytes: Uint8Array,
  output: OnnxModel,
  dataset: Dataset,
  maxSets: number,
  options: CompressFileOptions,
): Promise<{ fidelity: CompressFidelity | null; notes: string[] }> {
  let outputBytes: Uint8Array;
  try {
    outputBytes = encodeModel(output);
  } catch (error) {
    return { fidelity: null, notes: [`fidelity not measured: ${messageOf(error)}`] };
  }
  let reference: InferenceRunner | undefined;
  let runner: InferenceRunner | undefined;
  try {
    reference = await createInferenceRunner(inputBytes);
    runner = await createInferenceRunner(outputBytes);
    const m = await evaluateRunners(output, runner, reference, dataset, {
      maxSets,
      ...(options.onProgress ? { onProgress: (done: number, total: number) => options.onProgress!('fidelity', done, total) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!m.outputs || m.worstOutput === null || m.cosine === null || m.sqnrDb === null) return { fidelity: null, notes: ['fidelity not measured: no output could be compared'] };
    return {
      fidelity: { judgedOn: 'calibration data', samples: m.samples, outputs: m.outputs, worstOutput: m.worstOutput, cosine: m.cosine, sqnrDb: m.sqnrDb },
      notes: [
        `fidelity judged on the calibration data (${m.samples} samples), not on held-out data: worst output '${m.worstOutput}' cosine ${m.cosine.toFixed(5)}, SQNR ${m.sqnrDb.toFixed(1)} dB` +
          (m.outputs.some((o) => o.collapsed) ? `; collapsed (constant across samples): ${m.outputs.filter((o) => o.collapsed).map((o) => `'${o.name}'`).join(', ')}` : ''),
      ],
    };
  } catch (error) {
    if (error instanceof EdgetuneError && error.code === 'ABORTED') throw error;
    return { fidelity: null, notes: [`fidelity not measured: ${messageOf(error)}`] };
  } finally {
    await runner?.release();
    await reference?.release();
  }
}

/**
 * Refuse (MODEL_INVALID / MODEL_UNSUPPORTED) an input onnxruntime will not load: its checker, type inference and
 * kernel lookup see what edgetune's graph validation does not (attribute types, arity, opset, IR version), and a
 * pass would only turn such a model into an output onnxruntime refuses too.
 */
async function checkOnnxruntimeLoads(path: string): Promise<void> {
  // Default optimisation level: its graph transformers re-run shape inference, which finds more than 'disabled'.
  const session = await createOrtSession(path, { threads: 1 });
  await session.release();
}
