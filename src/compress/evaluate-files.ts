import { loadModelFile } from '../onnx/model-file.js';
import { validateGraph } from '../onnx/graph.js';
import { openDataset } from './dataset.js';
import { evaluateModel } from './evaluate.js';
import type { FidelityMetrics } from './fidelity.js';

/** Caller input for evaluating model files. */
export interface EvaluateFilesOptions {
  modelPath: string;
  dataDir: string;
  referencePath?: string;
  outputIndex?: number;
  temperature?: number;
  /** Confidence of the metric intervals (default 0.95; 0 = point estimates). */
  confidence?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The SPEC `eval` JSON: metrics plus which files were scored. */
export interface EvaluateFilesResult extends FidelityMetrics {
  model: { path: string; sha256: string };
  reference: { path: string; sha256: string } | null;
}

/** Load, validate and evaluate a model (and reference) on a dataset directory. */
export async function evaluateModelFiles(options: EvaluateFilesOptions): Promise<EvaluateFilesResult> {
  const loaded = loadModelFile(options.modelPath);
  validateGraph(loaded.model);
  const reference = options.referencePath ? loadModelFile(options.referencePath) : undefined;
  if (reference) validateGraph(reference.model);
  const dataset = openDataset(options.dataDir, loaded.model);
  dataset.load(0);
  const metrics = await evaluateModel(loaded.model, dataset, {
    ...(reference ? { reference: reference.model } : {}),
    outputIndex: options.outputIndex ?? 0,
    temperature: options.temperature ?? 1,
    ...(options.confidence !== undefined ? { confidence: options.confidence } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return {
    ...metrics,
    model: { path: loaded.path, sha256: loaded.sha256 },
    reference: reference ? { path: reference.path, sha256: reference.sha256 } : null,
  };
}
