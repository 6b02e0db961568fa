/**
 * Recovery after channel pruning, without training: refit each layer whose input channels were removed so that it
 * reproduces the ORIGINAL layer's output on the data (least squares over the pruned network's own activations, as in
 * channel-pruning / ThiNet reconstruction; for k×k Conv over im2col patches at sampled positions), then match the
 * BatchNormalization statistics of the pruned network to the original's (moment matching on the data). Layers are
 * processed in graph order, each with activations of the network as already repaired upstream.
 */
import { CholeskyDecomposition, Matrix, solve } from 'ml-matrix';
import type { OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { cloneModel, elementCount } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { attr, attrFloat, attrInt, attrInts, nameFactory } from '../onnx/graph.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import { floatInitializer } from './prune-channels.js';
import { EdgetuneError } from '../util/errors.js';

/** Recovery tunables. */
export interface RecoveryOptions {
  /** Samples of the dataset used (default 512). */
  maxSamples?: number;
  /** Rows of the least-squares problem per layer, at least 4× its unknowns where data allows (default 6000). */
  maxRows?: number;
  /** Ridge strength relative to the mean diagonal of XᵀX (default 1e-3). */
  ridge?: number;
  /** Refit consumer layers (default true). */
  refit?: boolean;
  /** Match BatchNormalization statistics to the original (default true). */
  batchNorm?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** What recovery did, per layer. */
export interface RecoveryReport {
  samples: number;
  refits: Array<{ node: string; rows: number; unknowns: number; errorBefore: number; errorAfter: number; applied: boolean }>;
  batchNorms: number;
}

/** Input to recovery: the pruned model (mutated), the original, the layers to refit, channel maps. */
export interface RecoveryInput {
  pruned: OnnxModel;
  original: OnnxModel;
  /** Names of Conv/Gemm/MatMul nodes to refit. */
  refitNodes: readonly string[];
  /** For each tensor whose channels were pruned: original channel index of each current channel. */
  channelMap: ReadonlyMap<string, readonly number[]>;
  dataset: Dataset;
}

interface Piece {
  feeds: Record<string, Tensor>;
}

function collectPieces(model: OnnxModel, dataset: Dataset, maxSamples: number): { pieces: Piece[]; samples: number } {
  const pieces: Piece[] = [];
  let samples = 0;
  for (let s = 0; s < dataset.setNames.length && samples < maxSamples; s++) {
    const batch = dataset.load(s);
    for (const p of feedsForBatch(model, batch)) {
      if (samples >= maxSamples) break;
      pieces.push({ feeds: p.feeds });
      samples += p.end - p.start;
    }
  }
  if (samples === 0) throw new EdgetuneError('DATASET_INVALID', `dataset '${dataset.dir}' has no samples`);
  return { pieces, samples };
}

/** A runner for `model` that also returns the named intermediate tensors. */
async function runnerWithOutputs(model: OnnxModel, names: readonly string[]): Promise<InferenceRunner> {
  const copy: OnnxModel = { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs] } };
  const existing = new Set(copy.graph.outputs.map((o) => o.name));
  for (const n of names) if (!existing.has(n)) copy.graph.outputs.push({ name: n, type: { elemType: 1, shape: null } });
  return createInferenceRunner(encodeModel(copy), { graphOptimizationLevel: 'basic' });
}

/** Deterministic PRNG for position sampling. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal-equation accumulator for y ≈ Wᵀx (+ b): rows added one by one, ridge solve with ml-matrix. */
export class NormalEquations {
  readonly a: Float64Array;
  readonly b: Float64Array;
  rows = 0;
  yy = 0;
  constructor(readonly f: number, readonly m: number) {
    this.a = new Float64Array(f * f);
    this.b = new Float64Array(f * m);
  }
  private readonly block = 64;
  private xt: Float64Array | null = null;
  private yt: Float64Array | null = null;
  private filled = 0;
  add(x: Float64Array, y: Float64Array): void {
    const { f, m, block } = this;
    this.xt ??= new Float64Array(f * block);
    this.yt ??= new Float64Array(m * block);
    const r = this.filled++;
    for (let i = 0; i < f; i++) this.xt[i * block + r] = x[i]!;
    for (let k = 0; k < m; k++) {
      this.yt[k * block + r] = y[k]!;
      this.yy += y[k]! * y[k]!;
    }
    this.rows++;
    if (this.filled === block) this.flush();
  }
  /** Fold the buffered rows into XᵀX and XᵀY (rows stored transposed so the inner loops are contiguous). */
  flush(): void {
    const { f, m, a, b, block } = this;
    const xt = this.xt;
    const yt = this.yt;
    const n = this.filled;
    if (!xt || !yt || n === 0) return;
    for (let i = 0; i < f; i++) {
      const io = i * block;
      for (let j = i; j < f; j++) {
        const jo = j * block;
        let s = 0;
        for (let r = 0; r < n; r++) s += xt[io + r]! * xt[jo + r]!;
        a[i * f + j]! += s;
      }
      for (let k = 0; k < m; k++) {
        const ko = k * block;
        let s = 0;
        for (let r = 0; r < n; r++) s += xt[io + r]! * yt[ko + r]!;
        b[i * m + k]! += s;
      }
    }
    this.filled = 0;
  }
  /** Σ‖y − Wᵀx‖² for W [f, m]. */
  error(w: Float64Array): number {
    this.flush();
    const { f, m, a, b } = this;
    let e = this.yy;
    for (let k = 0; k < m; k++) {
      let quad = 0;
      let lin = 0;
      for (let i = 0; i < f; i++) {
        const wi = w[i * m + k]!;
        if (wi === 0) continue;
        lin += wi * b[i * m + k]!;
        let s = a[i * f + i]! * wi;
        for (let j = i + 1; j < f; j++) s += 2 * a[i * f + j]! * w[j * m + k]!;
        quad += wi * s;
      }
      e += quad - 2 * lin;
    }
    return Math.max(0, e);
  }
  solve(ridge: number, unregularised: number | null): Float64Array {
    this.flush();
    const { f, m, a, b } = this;
    let trace = 0;
    for (let i = 0; i < f; i++) trace += a[i * f + i]!;
    const lambda = (ridge * trace) / f + 1e-12;
    const A = new Matrix(f, f);
    for (let i = 0; i < f; i++) {
      for (let j = i; j < f; j++) {
        const v = a[i * f + j]!;
        A.set(i, j, v);
        A.set(j, i, v);
      }
      if (i !== unregularised) A.set(i, i, A.get(i, i) + lambda);
    }
    const B = new Matrix(f, m);
    for (let i = 0; i < f; i++) for (let k = 0; k < m; k++) B.set(i, k, b[i * m + k]!);
    const chol = new CholeskyDecomposition(A);
    const X = chol.isPositiveDefinite() ? chol.solve(B) : solve(A, B);
    const out = new Float64Array(f * m);
    for (let i = 0; i < f; i++) for (let k = 0; k < m; k++) out[i * m + k] = X.get(i, k);
    return out;
  }
}

function pickChannels(values: Float32Array, dims: readonly number[], n: number, pos: number, channels: readonly number[] | null, out: Float64Array): void {
  // values [N, C, S] (S = spatial product, 1 for rank 2)
  const c = dims[1]!;
  const s = elementCount(dims.slice(2));
  const base = n * c * s;
  if (channels) channels.forEach((ch, k) => (out[k] = values[base + ch * s + pos]!));
  else for (let k = 0; k < c; k++) out[k] = values[base + k * s + pos]!;
}

/** The part of `model` needed to compute `target`, with `target` as its only output (runs faster than the whole). */
function truncatedModel(model: OnnxModel, target: string): OnnxModel {
  const producers = new Map<string, OnnxNode>();
  for (const n of model.graph.nodes) for (const o of n.outputs) producers.set(o, n);
  const needed = new Set<OnnxNode>();
  const stack = [target];
  while (stack.length) {
    const name = stack.pop()!;
    const p = producers.get(name);
    if (!p || needed.has(p)) continue;
    needed.add(p);
    stack.push(...p.inputs.filter(Boolean));
  }
  const nodes = model.graph.nodes.filter((n) => needed.has(n));
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = new Map([...model.graph.initializers].filter(([k]) => used.has(k)));
  const inputs = model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name) || used.has(i.name));
  return { ...model, graph: { ...model.graph, nodes, initializers, inputs, valueInfo: [], outputs: [{ name: target, type: { elemType: 1, shape: null } }] } };
}

/** A sampled row of a layer's least-squares problem: sample n of piece, output position p. */
interface RowPlan {
  piece: number;
  n: number;
  p: number;
}

/** What one original-model pass stores for a refit: sampled rows and their target outputs. */
interface RefitTarget {
  node: OnnxNode;
  rows: RowPlan[];
  y: Float64Array;
  m: number;
}

interface Moments {
  sum: Float64Array;
  sq: Float64Array;
  count: number;
}

/** Per-channel sums over N and spatial positions (channels: which channels of t, in order). */
function channelMoments(t: Tensor, channels: readonly number[] | null, acc: Moments): void {
  const v = tensorToFloat32(t);
  const [n, c] = t.dims as [number, number];
  const s = elementCount(t.dims.slice(2));
  const list = channels ?? Array.from({ length: c }, (_, i) => i);
  list.forEach((ch, k) => {
    let sum = 0;
    let sq = 0;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * s;
      for (let i = 0; i < s; i++) {
        const x = v[base + i]!;
        sum += x;
        sq += x * x;
      }
    }
    acc.sum[k]! += sum;
    acc.sq[k]! += sq;
  });
  acc.count += n * s;
}

/** Unknowns per output of a layer's least-squares problem (inputs × kernel + bias). */
function unknownsOf(pruned: OnnxModel, node: OnnxNode): number {
  const w = pruned.graph.initializers.get(node.inputs[1]!)!;
  if (node.opType === 'Conv') return w.dims[1]! * elementCount(w.dims.slice(2)) + 1;
  const transB = node.opType === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
  return (transB ? w.dims[1]! : w.dims[0]!) + (node.opType === 'Gemm' ? 1 : 0);
}

/** Refit one Conv (group 1) / Gemm / MatMul to its stored targets; returns the report row. */
async function refitNode(input: RecoveryInput, target: RefitTarget, pieces: Piece[], ridge: number) {
  const { pruned } = input;
  const graph = pruned.graph;
  const node = target.node;
  const op = node.opType;
  const w = graph.initializers.get(node.inputs[1]!)!;
  const inName = node.inputs[0]!;
  const outName = node.outputs[0]!;
  const isConv = op === 'Conv';
  const transB = op === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
  const m = isConv || transB ? w.dims[0]! : w.dims[1]!;
  if (m !== target.m) return null;
  const cIn = isConv ? w.dims[1]! : transB ? w.dims[1]! : w.dims[0]!;
  const kh = isConv ? w.dims[2]! : 1;
  const kw = isConv ? w.dims[3]! : 1;
  const hasBias = op !== 'MatMul';
  const f = cIn * kh * kw + (hasBias ? 1 : 0);
  const eq = new NormalEquations(f, m);
  const strides = attrInts(node, 'strides', [1, 1]);
  const dil = attrInts(node, 'dilations', [1, 1]);
  const pads = attrInts(node, 'pads', [0, 0, 0, 0]);
  const runner = await createInferenceRunner(encodeModel(truncatedModel(pruned, inName)), { graphOptimizationLevel: 'basic' });
  const x = new Float64Array(f);
  const y = new Float64Array(m);
  let row = 0;
  try {
    for (let pi = 0; pi < pieces.length; pi++) {
      if (target.rows[row]?.piece !== pi) continue;
      const xt = (await runner.run(pieces[pi]!.feeds, [inName])).get(inName)!;
      const xv = tensorToFloat32(xt);
      const h = xt.dims[2] ?? 1;
      const wd = xt.dims[3] ?? 1;
      for (; row < target.rows.length && target.rows[row]!.piece === pi; row++) {
        const { n, p } = target.rows[row]!;
        if (!isConv) {
          pickChannels(xv, xt.dims, n, 0, null, x);
        } else {
          const outW = (rowsOutWidth.get(target) ?? 1);
          const oy = Math.floor(p / outW);
          const ox = p % outW;
          let idx = 0;
          for (let c = 0; c < cIn; c++) {
            const base = (n * cIn + c) * h * wd;
            for (let i = 0; i < kh; i++) {
              const iy = oy * strides[0]! - pads[0]! + i * dil[0]!;
              for (let j = 0; j < kw; j++) {
                const ix = ox * strides[1]! - pads[1]! + j * dil[1]!;
                x[idx++] = iy >= 0 && iy < h && ix >= 0 && ix < wd ? xv[base + iy * wd + ix]! : 0;
              }
            }
          }
        }
        if (hasBias) x[f - 1] = 1;
        for (let k = 0; k < m; k++) y[k] = target.y[row * m + k]!;
        eq.add(x, y);
      }
    }
  } finally {
    await runner.release();
  }
  const wv = tensorToFloat32(w);
  const biasName = hasBias ? node.inputs[2] : undefined;
  const bias = biasName ? tensorToFloat32(graph.initializers.get(biasName)!) : null;
  const alpha = op === 'Gemm' ? attrFloat(node, 'alpha', 1) : 1;
  const beta = op === 'Gemm' ? attrFloat(node, 'beta', 1) : 1;
  const inner = cIn * kh * kw;
  const current = new Float64Array(f * m);
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < inner; i++) current[i * m + k] = alpha * (isConv || transB ? wv[k * inner + i]! : wv[i * m + k]!);
    if (hasBias && bias) current[(f - 1) * m + k] = beta * (bias.length === m ? bias[k]! : bias[0]!);
  }
  const errorBefore = eq.error(current);
  const solved = eq.solve(ridge, hasBias ? f - 1 : null);
  const errorAfter = eq.error(solved);
  const applied = errorAfter < errorBefore;
  if (applied) {
    const newW = new Float32Array(m * inner);
    for (let k = 0; k < m; k++) for (let i = 0; i < inner; i++) newW[isConv || transB ? k * inner + i : i * m + k] = solved[i * m + k]!;
    graph.initializers.set(w.name, { ...w, values: newW });
    if (hasBias) {
      const b = new Float32Array(m);
      for (let k = 0; k < m; k++) b[k] = solved[(f - 1) * m + k]!;
      const old = biasName ? graph.initializers.get(biasName) : undefined;
      if (old && elementCount(old.dims) === m) graph.initializers.set(biasName!, { ...old, values: b, dims: [m] });
      else {
        const name = nameFactory(graph)(`${node.name || outName}_refit_bias`);
        graph.initializers.set(name, floatInitializer(name, [m], b));
        node.inputs[2] = name;
      }
      if (op === 'Gemm') {
        node.attributes.set('alpha', attr.float(1));
        node.attributes.set('beta', attr.float(1));
      }
    }
  }
  return { node: node.name || outName, rows: eq.rows, unknowns: f * m, errorBefore: errorBefore / Math.max(1, eq.rows), errorAfter: errorAfter / Math.max(1, eq.rows), applied };
}

const rowsOutWidth = new WeakMap<RefitTarget, number>();

async function matchBatchNorm(input: RecoveryInput, node: OnnxNode, pieces: Piece[], theirs: Moments): Promise<boolean> {
  const graph = input.pruned.graph;
  const name = node.inputs[0]!;
  const mean = graph.initializers.get(node.inputs[3]!)!;
  const variance = graph.initializers.get(node.inputs[4]!)!;
  const c = mean.dims[0]!;
  if (theirs.sum.length !== c) return false;
  const runner = await createInferenceRunner(encodeModel(truncatedModel(input.pruned, name)), { graphOptimizationLevel: 'basic' });
  const mine: Moments = { sum: new Float64Array(c), sq: new Float64Array(c), count: 0 };
  try {
    for (const piece of pieces) {
      const got = (await runner.run(piece.feeds, [name])).get(name)!;
      if (got.dims.length < 2 || got.dims[1] !== c) return false;
      channelMoments(got, null, mine);
    }
  } finally {
    await runner.release();
  }
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const mu = tensorToFloat32(mean);
  const va = tensorToFloat32(variance);
  const newMean = new Float32Array(c);
  const newVar = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const m1 = mine.sum[k]! / mine.count;
    const s1 = Math.sqrt(Math.max(mine.sq[k]! / mine.count - m1 * m1, 0));
    const m0 = theirs.sum[k]! / theirs.count;
    const s0 = Math.sqrt(Math.max(theirs.sq[k]! / theirs.count - m0 * m0, 0));
    const sigma = Math.sqrt(va[k]! + eps);
    if (s0 < 1e-8 || s1 < 1e-8) {
      newMean[k] = mu[k]! + (m1 - m0);
      newVar[k] = va[k]!;
      continue;
    }
    // Map the pruned activation onto the original's moments, then apply the original normalisation.
    const ratio = s1 / s0;
    const sigmaNew = sigma * ratio;
    newMean[k] = m1 - (m0 - mu[k]!) * ratio;
    newVar[k] = Math.max(sigmaNew * sigmaNew - eps, 1e-12);
  }
  graph.initializers.set(mean.name, { ...mean, values: newMean, dims: [c] });
  graph.initializers.set(variance.name, { ...variance, values: newVar, dims: [c] });
  return true;
}

/**
 * Refit the given layers and match BatchNorm statistics, in graph order (mutates `input.pruned`). One pass of the
 * original model stores the sampled targets and moments; then one pass of the (truncated) pruned model per layer.
 */
export async function recoverPrunedModel(input: RecoveryInput, options: RecoveryOptions = {}): Promise<RecoveryReport> {
  const maxSamples = options.maxSamples ?? 512;
  const maxRows = options.maxRows ?? 6000;
  const { pieces, samples } = collectPieces(input.pruned, input.dataset, maxSamples);
  const refitSet = new Set(options.refit === false ? [] : input.refitNodes);
  const nodes = input.pruned.graph.nodes;
  const firstIndex = nodes.findIndex((n) => refitSet.has(n.name) || input.channelMap.has(n.outputs[0] ?? ''));
  const work = nodes.filter(
    (n, i) =>
      (refitSet.has(n.name) && ['Conv', 'Gemm', 'MatMul'].includes(n.opType)) ||
      (options.batchNorm !== false && n.opType === 'BatchNormalization' && i >= Math.max(0, firstIndex) && input.pruned.graph.initializers.has(n.inputs[3] ?? '')),
  );
  const rand = random(1234);
  // One original pass: sampled targets for each refit, moments for each BN.
  const targets = new Map<OnnxNode, RefitTarget>();
  const moments = new Map<OnnxNode, Moments>();
  const yRows = new Map<OnnxNode, number[]>();
  const names = [...new Set(work.map((n) => (n.opType === 'BatchNormalization' ? n.inputs[0]! : n.outputs[0]!)))];
  const origRunner = await runnerWithOutputs(cloneModel(input.original), names);
  try {
    for (let pi = 0; pi < pieces.length; pi++) {
      const outs = await origRunner.run(pieces[pi]!.feeds, names);
      for (const node of work) {
        if (node.opType === 'BatchNormalization') {
          const t = outs.get(node.inputs[0]!)!;
          const channels = input.channelMap.get(node.inputs[0]!) ?? null;
          const c = channels?.length ?? t.dims[1]!;
          const acc = moments.get(node) ?? { sum: new Float64Array(c), sq: new Float64Array(c), count: 0 };
          channelMoments(t, channels, acc);
          moments.set(node, acc);
          continue;
        }
        const t = outs.get(node.outputs[0]!)!;
        const channels = input.channelMap.get(node.outputs[0]!) ?? null;
        const m = channels?.length ?? t.dims[1]!;
        const batch = t.dims[0]!;
        const positions = elementCount(t.dims.slice(2));
        let target = targets.get(node);
        if (!target) {
          target = { node, rows: [], y: new Float64Array(0), m };
          targets.set(node, target);
          yRows.set(node, []);
          rowsOutWidth.set(target, t.dims[3] ?? 1);
        }
        const rowsWanted = Math.min(maxRows, Math.max(4 * unknownsOf(input.pruned, node), 2000));
        const perSample = rowsWanted / samples;
        const vals = tensorToFloat32(t);
        const ys = yRows.get(node)!;
        const y = new Float64Array(m);
        for (let n = 0; n < batch; n++) {
          const take = perSample >= positions ? positions : Math.floor(perSample) + (rand() < perSample - Math.floor(perSample) ? 1 : 0);
          for (let r = 0; r < take; r++) {
            const p = take === positions ? r : Math.floor(rand() * positions);
            target.rows.push({ piece: pi, n, p });
            pickChannels(vals, t.dims, n, p, channels, y);
            for (let k = 0; k < m; k++) ys.push(y[k]!);
          }
        }
      }
    }
  } finally {
    await origRunner.release();
  }
  for (const [node, target] of targets) target.y = Float64Array.from(yRows.get(node)!);
  const report: RecoveryReport = { samples, refits: [], batchNorms: 0 };
  let done = 0;
  for (const node of work) {
    if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'recovery aborted');
    if (node.opType === 'BatchNormalization') {
      if (await matchBatchNorm(input, node, pieces, moments.get(node)!)) report.batchNorms++;
    } else {
      const row = await refitNode(input, targets.get(node)!, pieces, options.ridge ?? 1e-3);
      if (row) report.refits.push(row);
    }
    options.onProgress?.('recover', ++done, work.length);
  }
  return report;
}
