import { performance } from 'node:perf_hooks';
import { loadModelFile, saveModelFile } from '../onnx/model-file.js';
import { cloneModel, defaultOpset, elementCount, type OnnxModel } from '../onnx/ir.js';
import { validateGraph } from '../onnx/graph.js';
import { normalizeModel } from '../onnx/normalize.js';
import { openDataset } from './dataset.js';
import { loadCompressMethod } from './methods/registry.js';
import type { MethodOptions } from './methods/method-types.js';
import type { KeptNode, PassReport } from './pass.js';
import { EdgetuneError } from '../util/errors.js';
import { createOrtSession } from '../profile/ort-session.js';

/** Caller input for compressing a model file. */
export interface CompressFileOptions extends MethodOptions {
  inputPath: string;
  outputPath: string;
  method: string;
  dataDir?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

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
    notes: [...normalized.nodesConverted.map((n) => `opset upgrade converted ${n}`).slice(0, 20), ...outcome.report.notes],
    details: outcome.report.details ?? null,
    steps: outcome.steps ?? null,
  };
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
