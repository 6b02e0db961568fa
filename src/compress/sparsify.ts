/**
 * Unstructured magnitude pruning (pure): zero the smallest-magnitude weights of Conv / ConvTranspose / Gemm /
 * MatMul constant weights to a target sparsity, per layer or with one global threshold. Zeros compress, so the
 * report gives the gzip size of the model before and after; dense CPU kernels do the same work on zeros, so the
 * model is not faster.
 */
import { gzipSync } from 'node:zlib';
import type { OnnxModel, Tensor } from '../onnx/ir.js';
import { defaultOpset } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { DataType } from '../onnx/dtype.js';
import type { PassResult } from './pass.js';
import { EdgetuneError } from '../util/errors.js';

/** Options for magnitude pruning. */
export interface SparsifyOptions {
  /** Share of weights set to zero, in (0, 1). */
  sparsity: number;
  /** 'layer': each layer to the target (default); 'global': one magnitude threshold across all layers. */
  scope?: 'layer' | 'global';
  /** Skip weights smaller than this many elements (default 64: tiny layers such as SE convs). */
  minElements?: number;
}

const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** Bytes of `bytes` after gzip (level 9): what zeros buy in storage and transfer. */
export function gzipBytes(bytes: Uint8Array): number {
  return gzipSync(bytes, { level: 9 }).length;
}

/** k-th smallest |value| (0-based) of a set of arrays. */
function magnitudeThreshold(arrays: Float32Array[], k: number): number {
  let total = 0;
  for (const a of arrays) total += a.length;
  const all = new Float32Array(total);
  let o = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) all[o++] = Math.abs(a[i]!);
  all.sort();
  return all[Math.min(total - 1, Math.max(0, k))]!;
}

/** Zero the smallest weights (mutates and returns the model) and report sizes. */
export function sparsifyModel(model: OnnxModel, options: SparsifyOptions): PassResult {
  const { sparsity } = options;
  if (!(sparsity > 0 && sparsity < 1)) throw new EdgetuneError('USAGE', `--ratio (target sparsity) must be in (0, 1); got ${sparsity}`);
  const scope = options.scope ?? 'layer';
  const minElements = options.minElements ?? 64;
  const graph = model.graph;
  const gzipBefore = gzipBytes(encodeModel(model));
  const weights = new Map<string, Tensor>();
  for (const n of graph.nodes) {
    if (!WEIGHTED.has(n.opType) || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const t = graph.initializers.get(n.inputs[1] ?? '');
    if (t && t.dataType === DataType.FLOAT && t.values.length >= minElements) weights.set(t.name, t);
  }
  if (weights.size === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', 'no float Conv/Gemm/MatMul weights to sparsify');
  const layers: Array<{ name: string; elements: number; zeros: number }> = [];
  let globalThreshold: number | null = null;
  if (scope === 'global') {
    const arrays = [...weights.values()].map((t) => t.values as Float32Array);
    const total = arrays.reduce((n, a) => n + a.length, 0);
    globalThreshold = magnitudeThreshold(arrays, Math.floor(total * sparsity) - 1);
  }
  let zeros = 0;
  let elements = 0;
  for (const t of weights.values()) {
    const v = Float32Array.from(t.values as Float32Array);
    let budget = Infinity;
    let threshold: number;
    if (globalThreshold !== null) threshold = globalThreshold;
    else {
      const k = Math.floor(v.length * sparsity);
      threshold = magnitudeThreshold([v], k - 1);
      budget = k; // ties at the threshold: stop at exactly k zeros
    }
    let z = 0;
    for (let i = 0; i < v.length && z < budget; i++) {
      if (Math.abs(v[i]!) <= threshold) {
        v[i] = 0;
        z++;
      }
    }
    z = 0;
    for (let i = 0; i < v.length; i++) if (v[i] === 0) z++;
    graph.initializers.set(t.name, { ...t, values: v });
    layers.push({ name: t.name, elements: v.length, zeros: z });
    zeros += z;
    elements += v.length;
  }
  const gzipAfter = gzipBytes(encodeModel(model));
  const opset = defaultOpset(model);
  return {
    model,
    report: {
      pass: 'sparsity',
      nodesChanged: weights.size,
      nodesKeptFloat: [],
      opset: { from: opset, to: opset },
      notes: [
        `${(100 * zeros / elements).toFixed(1)}% of ${elements} weights in ${weights.size} layer(s) set to zero (${scope} magnitude threshold)`,
        `gzip size ${gzipBefore} → ${gzipAfter} bytes (${(gzipBefore / gzipAfter).toFixed(2)}×); the .onnx file itself stays dense`,
        'dense CPU kernels do the same work on zeros: expect no speed-up from sparsity in onnxruntime; use prune (structured) for speed',
      ],
      details: { sparsity, scope, achievedSparsity: zeros / elements, gzipBytes: { before: gzipBefore, after: gzipAfter }, layers },
    },
  };
}
