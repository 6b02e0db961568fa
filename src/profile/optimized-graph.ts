/**
 * The graph onnxruntime actually runs: a session is created at a chosen optimization level with
 * `optimizedModelFilePath`, and the model it saves is handed back as bytes (onnx-quantization.md §8, "Verifying
 * fusions from TypeScript"). The temp directory is always removed.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrtSession } from './ort-session.js';

/** Levels at which the optimized graph is worth reading ('disabled' would return the input). */
export const OPTIMIZED_GRAPH_LEVELS = ['basic', 'extended', 'all'] as const;

/** Caller input for optimizedGraphBytes. */
export interface OptimizedGraphOptions {
  /**
   * onnxruntime `graphOptimizationLevel`. 'extended' shows the QDQ fusions (QLinearConv, QGemm, ...); 'all' adds
   * hardware-specific layouts (x86 NCHWc, NHWC `com.microsoft:QLinearConv` between Transposes).
   */
  level: (typeof OPTIMIZED_GRAPH_LEVELS)[number];
  /** Execution provider; default 'cpu' (the QDQ selector fusions are CPU/DML only). */
  executionProvider?: string;
  /** Session config entries (`session.qdqisint8allowed`, ...); values must be strings. */
  configEntries?: Record<string, string>;
}

/**
 * Load `modelBytes` in onnxruntime at `options.level` and return the optimized model it saves. A model onnxruntime
 * refuses throws MODEL_INVALID / MODEL_UNSUPPORTED (from createOrtSession).
 */
export async function optimizedGraphBytes(modelBytes: Uint8Array, options: OptimizedGraphOptions): Promise<Uint8Array> {
  if (!OPTIMIZED_GRAPH_LEVELS.includes(options.level)) {
    throw new RangeError(`options.level must be one of ${OPTIMIZED_GRAPH_LEVELS.join(', ')}, got ${String(options.level)}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'edgetune-optimized-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await createOrtSession(modelBytes, {
      graphOptimizationLevel: options.level,
      optimizedModelFilePath: path,
      threads: 1,
      ...(options.executionProvider ? { executionProvider: options.executionProvider } : {}),
      ...(options.configEntries ? { configEntries: options.configEntries } : {}),
    });
    await session.release();
    return new Uint8Array(await readFile(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
