import type { Tensor } from '../onnx/ir.js';
import { createOrtSession } from './ort-session.js';

/** Session options for compression and evaluation; `graphOptimizationLevel: 'disabled'` keeps tensor names for calibration. */
export interface InferenceSessionOptions {
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** intra-op threads; 0 or absent = onnxruntime's choice. */
  intraOpNumThreads?: number;
  /** Write the optimized model here (to check which fused kernels onnxruntime chose). */
  optimizedModelFilePath?: string;
  executionProvider?: string;
  configEntries?: Record<string, string>;
}

/** A loaded model ready to run, speaking edgetune tensors: the small surface compression and evaluation need. */
export interface InferenceRunner {
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Run with named inputs; returns the requested (default: all) outputs. */
  run(feeds: Record<string, Tensor>, outputNames?: readonly string[]): Promise<Map<string, Tensor>>;
  release(): Promise<void>;
}

/** Create a runner from model bytes (over ort-session.ts, the onnxruntime adapter). */
export async function createInferenceRunner(modelBytes: Uint8Array, options: InferenceSessionOptions = {}): Promise<InferenceRunner> {
  const session = await createOrtSession(modelBytes, {
    ...(options.graphOptimizationLevel ? { graphOptimizationLevel: options.graphOptimizationLevel } : {}),
    ...(options.intraOpNumThreads ? { threads: options.intraOpNumThreads } : {}),
    ...(options.optimizedModelFilePath ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
    ...(options.executionProvider ? { executionProvider: options.executionProvider } : {}),
    ...(options.configEntries ? { configEntries: options.configEntries } : {}),
  });
  return {
    inputNames: session.inputs.map((i) => i.name),
    outputNames: session.outputs.map((o) => o.name),
    run: (feeds, outputNames) => session.run(feeds, outputNames),
    release: () => session.release(),
  };
}
