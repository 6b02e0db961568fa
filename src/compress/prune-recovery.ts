/**
 * Recovery after channel pruning, without training: layer-wise reconstruction as in ThiNet (Luo et al. 2017), He et
 * al. 2017 "Channel pruning" and AMC's reconstruction step. Layers are refitted in graph order, each by regularised
 * least squares over the pruned network's own activations (as already repaired upstream; for k×k Conv over im2col
 * patches at sampled positions) so that it reproduces the ORIGINAL model's activation; then BatchNormalization
 * statistics are matched to the original's (moment matching on the data).
 *
 * Scope 'next-layer' refits only the layers whose input channels were removed; 'sequential' (default) refits every
 * Conv/Gemm/MatMul whose input differs from the original's because of the pruning, and (option `depthwise`) each
 * depthwise Conv per channel (kh·kw + 1 unknowns per channel). With `blockOutput`, a layer that feeds a residual Add
 * (directly or through a BatchNormalization) is fitted to the original Add output minus the pruned network's other
 * operand, so it also cancels the error carried by the shortcut (the projection of an inverted residual is fitted
 * to the original block output).
 *
 * Each layer's ridge (pulling toward its current weights) is chosen on held-out samples: every fourth sample judges
 * the ridges of {@link RIDGE_GRID} fitted on the others, and a layer none of them improves there is left as it was.
 * A least-squares refit on a few images otherwise overfits them (PP-OCRv4 det: a text map that fires everywhere on
 * photos it did not see; BENCHMARKS.md, issue 15).
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
import { mulberry32 as random } from '../util/random.js';
import { convGeometry as geometryOf, convPatch as patch } from './conv-patches.js';

/** Which layers recovery refits: see the module comment. */
export type RefitScope = 'next-layer' | 'sequential';

/** Recovery tunables. */
export interface RecoveryOptions {
  /** Samples of the dataset used (default 512). */
  maxSamples?: number;
  /** Rows of the least-squares problem per layer, at least 4× its unknowns where data allows (default 6000). */
  maxRows?: number;
  /**
   * Ridge strength relative to the mean diagonal of XᵀX. The ridge pulls each refit toward the layer's current
   * (pruned original) weights, not toward zero: directions the data does not excite keep the original's weights, and
   * a strong ridge approaches plain pruning instead of fading the layer. Default 'held-out': each layer's ridge is
   * chosen from {@link RIDGE_GRID} by the error on every fourth sample, fitted on the others, and the layer is left as
   * it was when no ridge beats its current weights there (then refitted on all samples with the chosen ridge); with
   * fewer than 4 samples a fixed 1e-3. A number fixes the ridge for every layer (applied when it lowers the fit error).
   */
  ridge?: number | 'held-out';
  /** Refit layers (default true). */
  refit?: boolean;
  /** Which layers to refit: those whose input channels were removed, or every layer downstream (default 'sequential'). */
  scope?: RefitScope;
  /** Refit depthwise Conv filters per channel (scope 'sequential'; default true). */
  depthwise?: boolean;
  /** Fit a layer feeding a residual Add to the original Add output minus the pruned shortcut (default true). */
  blockOutput?: boolean;
  /** Match BatchNormalization statistics to the original (default true). */
  batchNorm?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Ridge strengths (× mean diagonal of XᵀX) recovery chooses from per layer, on held-out samples. */
export const RIDGE_GRID: readonly number[] = [1e-3, 1e-2, 1e-1, 1, 10];
/** Ridge used when it is not chosen on held-out samples (fewer than 4 samples). */
const FIXED_RIDGE = 1e-3;
/** Every HELD_OUT_EVERY-th sample judges the ridge (when there are at least that many samples). */
const HELD_OUT_EVERY = 4;

/** What recovery did, per layer. */
export interface RecoveryReport {
  samples: number;
  /**
   * errorBefore/After: mean squared error per row of the layer's fit over all its rows (summed over its outputs).
   * ridge: the ridge used. heldOutBefore/After: the same on the held-out samples, the current weights against the
   * chosen ridge's fit on the other samples (null when the ridge was fixed).
   */
  refits: Array<{
    node: string;
    kind: 'dense' | 'depthwise';
    target: 'output' | 'block';
    rows: number;
    unknowns: number;
    errorBefore: number;
    errorAfter: number;
    ridge: number;
    heldOutBefore: number | null;
    heldOutAfter: number | null;
    applied: boolean;
  }>;
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
  /** Index of the piece's first sample in the dataset order. */
  firstSample: number;
}

function collectPieces(model: OnnxModel, dataset: Dataset, maxSamples: number): { pieces: Piece[]; samples: number } {
  const pieces: Piece[] = [];
  let samples = 0;
  for (let s = 0; s < dataset.setNames.length && samples < maxSamples; s++) {
    const batch = dataset.load(s);
    for (const p of feedsForBatch(model, batch)) {
      if (samples >= maxSamples) break;
      pieces.push({ feeds: p.feeds, firstSample: samples });
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
      let j = i;
      // Four columns at a time: each x_i is loaded once for four products (about twice as fast as one by one).
      for (; j + 3 < f; j += 4) {
        const j0 = j * block;
        const j1 = j0 + block;
        const j2 = j1 + block;
        const j3 = j2 + block;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let r = 0; r < n; r++) {
          const x = xt[io + r]!;
          s0 += x * xt[j0 + r]!;
          s1 += x * xt[j1 + r]!;
          s2 += x * xt[j2 + r]!;
          s3 += x * xt[j3 + r]!;
        }
        const row = i * f + j;
        a[row]! += s0;
        a[row + 1]! += s1;
        a[row + 2]! += s2;
        a[row + 3]! += s3;
      }
      for (; j < f; j++) {
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
  /** A new accumulator holding this one's rows and `other`'s (same shape). */
  plus(other: NormalEquations): NormalEquations {
    this.flush();
    other.flush();
    const sum = new NormalEquations(this.f, this.m);
    for (let i = 0; i < this.a.length; i++) sum.a[i] = this.a[i]! + other.a[i]!;
    for (let i = 0; i < this.b.length; i++) sum.b[i] = this.b[i]! + other.b[i]!;
    sum.rows = this.rows + other.rows;
    sum.yy = this.yy + other.yy;
    return sum;
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
  /**
   * Ridge solve of (XᵀX + λI)W = XᵀY + λ·prior: with a prior (the current weights, [f, m]) a strong ridge keeps the
   * fit near them instead of shrinking it to zero. λ = ridge × mean diagonal of XᵀX; row `unregularised` (the bias)
   * gets none.
   */
  solve(ridge: number, unregularised: number | null, prior?: Float64Array): Float64Array {
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
    for (let i = 0; i < f; i++) for (let k = 0; k < m; k++) B.set(i, k, b[i * m + k]! + (prior && i !== unregularised ? lambda * prior[i * m + k]! : 0));
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

/** The part of `model` needed to compute `targets`, with them as its only outputs (runs faster than the whole). */
function truncatedModel(model: OnnxModel, targets: readonly string[]): OnnxModel {
  const producers = new Map<string, OnnxNode>();
  for (const n of model.graph.nodes) for (const o of n.outputs) producers.set(o, n);
  const needed = new Set<OnnxNode>();
  const stack = [...targets];
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
  const outputs = targets.map((name) => ({ name, type: { elemType: 1, shape: null } }));
  return { ...model, graph: { ...model.graph, nodes, initializers, inputs, valueInfo: [], outputs } };
}

/** A sampled row of a layer's least-squares problem: sample n of piece, output position p. */
interface RowPlan {
  piece: number;
  n: number;
  p: number;
}

/** One layer to refit and what it is fitted to. */
interface LayerPlan {
  node: OnnxNode;
  kind: 'dense' | 'depthwise';
  /** Tensor of the original model the layer reproduces: its own output, or the residual Add's output. */
  targetName: string;
  /** Block target: the Add's other operand (taken from the pruned network) and the BatchNormalization in between. */
  block: { skip: string; bn: OnnxNode | null } | null;
}

/** What one original-model pass stores for a refit: sampled rows and their target outputs. */
interface RefitTarget {
  plan: LayerPlan;
  rows: RowPlan[];
  y: Float64Array;
  /** Output channels (of the pruned layer). */
  m: number;
  /** Width of the output feature map (1 for rank 2). */
  outW: number;
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

const DENSE = new Set(['Conv', 'Gemm', 'MatMul']);

/** Depthwise Conv (ONNX Conv: W is [M, C/group, kH, kW]; depthwise when group = M = C and C/group = 1). */
function isDepthwise(graph: OnnxModel['graph'], node: OnnxNode): boolean {
  if (node.opType !== 'Conv') return false;
  const w = graph.initializers.get(node.inputs[1] ?? '');
  const group = attrInt(node, 'group', 1);
  return !!w && w.dims.length === 4 && group > 1 && w.dims[1] === 1 && w.dims[0] === group;
}

/** Conv (group 1) / Gemm / MatMul with constant weights and bias that recovery can refit. */
function isDense(graph: OnnxModel['graph'], node: OnnxNode): boolean {
  if (!DENSE.has(node.opType)) return false;
  const w = graph.initializers.get(node.inputs[1] ?? '');
  if (!w || (node.inputs[2] && !graph.initializers.has(node.inputs[2]))) return false;
  if (node.opType === 'Conv') return attrInt(node, 'group', 1) === 1 && w.dims.length === 4;
  return w.dims.length === 2 && (node.opType === 'MatMul' || attrInt(node, 'transA', 0) === 0);
}

/** Unknowns per output of a layer's least-squares problem (inputs × kernel + bias). */
function unknownsOf(pruned: OnnxModel, plan: LayerPlan): number {
  const node = plan.node;
  const w = pruned.graph.initializers.get(node.inputs[1]!)!;
  if (node.opType === 'Conv') return w.dims[1]! * elementCount(w.dims.slice(2)) + 1;
  const transB = node.opType === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
  return (transB ? w.dims[1]! : w.dims[0]!) + (node.opType === 'Gemm' ? 1 : 0);
}

/**
 * The residual Add that `node`'s output reaches through at most one BatchNormalization (each the only consumer),
 * with the Add's other operand; null when there is none.
 */
function blockOf(graph: OnnxModel['graph'], node: OnnxNode, consumers: Map<string, OnnxNode[]>): LayerPlan['block'] & { add: OnnxNode } | null {
  let out = node.outputs[0]!;
  let next = consumers.get(out) ?? [];
  let bn: OnnxNode | null = null;
  if (next.length === 1 && next[0]!.opType === 'BatchNormalization' && !next[0]!.outputs.slice(1).some(Boolean)) {
    bn = next[0]!;
    if (bn.inputs.slice(1, 5).some((n) => !graph.initializers.has(n))) return null;
    out = bn.outputs[0]!;
    next = consumers.get(out) ?? [];
  }
  if (next.length !== 1 || next[0]!.opType !== 'Add' || next[0]!.inputs.length !== 2) return null;
  const add = next[0]!;
  const skip = add.inputs[0] === out ? add.inputs[1]! : add.inputs[0]!;
  if (skip === out || graph.initializers.has(skip) || graph.outputs.some((o) => o.name === out)) return null;
  return { add, skip, bn };
}

/** Per-channel affine y = a·x + c of an inference BatchNormalization. */
function batchNormAffine(graph: OnnxModel['graph'], bn: OnnxNode): { a: Float32Array; c: Float32Array } {
  const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => tensorToFloat32(graph.initializers.get(bn.inputs[i]!)!));
  const eps = attrFloat(bn, 'epsilon', 1e-5);
  const a = new Float32Array(gamma!.length);
  const c = new Float32Array(gamma!.length);
  for (let k = 0; k < a.length; k++) {
    a[k] = gamma![k]! / Math.sqrt(variance![k]! + eps);
    c[k] = beta![k]! - mean![k]! * a[k]!;
  }
  return { a, c };
}

/** im2col row of channel c (or all channels from c0 to c1) at output position (oy, ox). */
type RefitRow = RecoveryReport['refits'][number];

/**
 * Run the truncated pruned model over the pieces that hold rows of `target`; for each row call `visit` with the
 * layer's input tensor values, its dims, the row and the row's target outputs (block targets already turned into the
 * layer's own output: (Add − skip − c) / a).
 */
async function visitRows(
  input: RecoveryInput,
  target: RefitTarget,
  pieces: Piece[],
  visit: (xv: Float32Array, dims: readonly number[], row: RowPlan, y: Float64Array) => void,
): Promise<void> {
  const { plan, m } = target;
  const graph = input.pruned.graph;
  const inName = plan.node.inputs[0]!;
  const outputs = plan.block ? [inName, plan.block.skip] : [inName];
  const affine = plan.block?.bn ? batchNormAffine(graph, plan.block.bn) : null;
  const runner = await createInferenceRunner(encodeModel(truncatedModel(input.pruned, outputs)), { graphOptimizationLevel: 'basic' });
  const y = new Float64Array(m);
  let row = 0;
  try {
    for (let pi = 0; pi < pieces.length; pi++) {
      if (target.rows[row]?.piece !== pi) continue;
      const got = await runner.run(pieces[pi]!.feeds, outputs);
      const xt = got.get(inName)!;
      const xv = tensorToFloat32(xt);
      const skip = plan.block ? got.get(plan.block.skip)! : null;
      const sv = skip ? tensorToFloat32(skip) : null;
      for (; row < target.rows.length && target.rows[row]!.piece === pi; row++) {
        const r = target.rows[row]!;
        for (let k = 0; k < m; k++) y[k] = target.y[row * m + k]!;
        if (skip && sv) {
          const s = elementCount(skip.dims.slice(2));
          for (let k = 0; k < m; k++) {
            const v = y[k]! - sv[(r.n * m + k) * s + r.p]!;
            y[k] = affine ? (v - affine.c[k]!) / affine.a[k]! : v;
          }
        }
        visit(xv, xt.dims, r, y);
      }
    }
  } finally {
    await runner.release();
  }
}

/** Whether a row's sample judges the ridge (every HELD_OUT_EVERY-th sample), or null when the ridge is fixed. */
function heldOutSplit(pieces: Piece[], samples: number, ridge: number | 'held-out'): ((row: RowPlan) => boolean) | null {
  if (ridge !== 'held-out' || samples < HELD_OUT_EVERY) return null;
  return (row) => (pieces[row.piece]!.firstSample + row.n) % HELD_OUT_EVERY === HELD_OUT_EVERY - 1;
}

/** A layer's solved refit: one solution per problem (one problem for a dense layer, one per channel for depthwise). */
export interface LayerSolution {
  solutions: Float64Array[];
  /** The problems over all rows (fit and held-out), to report errors on. */
  all: NormalEquations[];
  ridge: number;
  heldOutBefore: number | null;
  heldOutAfter: number | null;
}

/**
 * Solve a layer's problems with one ridge. With held-out problems, each ridge of {@link RIDGE_GRID} is fitted on
 * `fit` and judged on `heldOut` (summed over the problems); the best is then solved on all rows.
 */
export function solveLayer(fit: NormalEquations[], heldOut: NormalEquations[] | null, current: Float64Array[], unregularised: number | null, ridge: number | 'held-out'): LayerSolution {
  if (heldOut === null) {
    const fixed = typeof ridge === 'number' ? ridge : FIXED_RIDGE;
    return { solutions: fit.map((eq, k) => eq.solve(fixed, unregularised, current[k])), all: fit, ridge: fixed, heldOutBefore: null, heldOutAfter: null };
  }
  let before = 0;
  for (let k = 0; k < fit.length; k++) before += heldOut[k]!.error(current[k]!);
  let best = { ridge: RIDGE_GRID[0]!, error: Infinity };
  for (const r of RIDGE_GRID) {
    let error = 0;
    for (let k = 0; k < fit.length; k++) error += heldOut[k]!.error(fit[k]!.solve(r, unregularised, current[k]));
    if (error < best.error) best = { ridge: r, error };
  }
  const all = fit.map((eq, k) => eq.plus(heldOut[k]!));
  return { solutions: all.map((eq, k) => eq.solve(best.ridge, unregularised, current[k])), all, ridge: best.ridge, heldOutBefore: before, heldOutAfter: best.error };
}

/** Per-row mean of a summed held-out error (null stays null). */
function perRow(error: number | null, rows: number): number | null {
  return error === null ? null : error / Math.max(1, rows);
}

/** Refit one Conv (group 1) / Gemm / MatMul to its stored targets; returns the report row. */
async function refitDense(input: RecoveryInput, target: RefitTarget, pieces: Piece[], samples: number, ridge: number | 'held-out'): Promise<RefitRow | null> {
  const graph = input.pruned.graph;
  const { node } = target.plan;
  const op = node.opType;
  const w = graph.initializers.get(node.inputs[1]!)!;
  const outName = node.outputs[0]!;
  const isConv = op === 'Conv';
  const transB = op === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
  const m = isConv || transB ? w.dims[0]! : w.dims[1]!;
  if (m !== target.m) return null;
  const cIn = isConv ? w.dims[1]! : transB ? w.dims[1]! : w.dims[0]!;
  const geo = geometryOf(node, w);
  const kh = isConv ? geo.kh : 1;
  const kw = isConv ? geo.kw : 1;
  const hasBias = op !== 'MatMul';
  const f = cIn * kh * kw + (hasBias ? 1 : 0);
  const isHeldOut = heldOutSplit(pieces, samples, ridge);
  const fitEq = new NormalEquations(f, m);
  const heldEq = isHeldOut ? new NormalEquations(f, m) : null;
  const x = new Float64Array(f);
  await visitRows(input, target, pieces, (xv, dims, row, y) => {
    const { n, p } = row;
    if (!isConv) pickChannels(xv, dims, n, 0, null, x);
    else patch(xv, n, cIn, dims[2] ?? 1, dims[3] ?? 1, 0, cIn, Math.floor(p / target.outW), p % target.outW, geo, x);
    if (hasBias) x[f - 1] = 1;
    (heldEq && isHeldOut!(row) ? heldEq : fitEq).add(x, y);
  });
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
  const layer = solveLayer([fitEq], heldEq && heldEq.rows > 0 ? [heldEq] : null, [current], hasBias ? f - 1 : null, ridge);
  const eq = layer.all[0]!;
  const solved = layer.solutions[0]!;
  const errorBefore = eq.error(current);
  const errorAfter = eq.error(solved);
  const applied = layer.heldOutBefore !== null ? layer.heldOutAfter! < layer.heldOutBefore : errorAfter < errorBefore;
  if (applied) {
    const newW = new Float32Array(m * inner);
    for (let k = 0; k < m; k++) for (let i = 0; i < inner; i++) newW[isConv || transB ? k * inner + i : i * m + k] = solved[i * m + k]!;
    graph.initializers.set(w.name, { ...w, values: newW });
    if (hasBias) {
      const b = new Float32Array(m);
      for (let k = 0; k < m; k++) b[k] = solved[(f - 1) * m + k]!;
      setBias(input.pruned, node, b, outName);
      if (op === 'Gemm') {
        node.attributes.set('alpha', attr.float(1));
        node.attributes.set('beta', attr.float(1));
      }
    }
  }
  const rows = Math.max(1, eq.rows);
  return {
    node: node.name || outName,
    kind: 'dense',
    target: target.plan.block ? 'block' : 'output',
    rows: eq.rows,
    unknowns: f * m,
    errorBefore: errorBefore / rows,
    errorAfter: (applied ? errorAfter : errorBefore) / rows,
    ridge: layer.ridge,
    heldOutBefore: perRow(layer.heldOutBefore, heldEq?.rows ?? 0),
    heldOutAfter: perRow(layer.heldOutAfter, heldEq?.rows ?? 0),
    applied,
  };
}

/** Write bias `b` ([M]) of `node`, adding a bias input when it has none. */
function setBias(model: OnnxModel, node: OnnxNode, b: Float32Array, label: string): void {
  const graph = model.graph;
  const biasName = node.inputs[2];
  const old = biasName ? graph.initializers.get(biasName) : undefined;
  if (old && elementCount(old.dims) === b.length) graph.initializers.set(biasName!, { ...old, values: b, dims: [b.length] });
  else {
    const name = nameFactory(graph)(`${node.name || label}_refit_bias`);
    graph.initializers.set(name, floatInitializer(name, [b.length], b));
    node.inputs[2] = name;
  }
}

/** Refit a depthwise Conv channel by channel: each channel is its own problem with kh·kw + 1 unknowns. */
async function refitDepthwise(input: RecoveryInput, target: RefitTarget, pieces: Piece[], samples: number, ridge: number | 'held-out'): Promise<RefitRow | null> {
  const graph = input.pruned.graph;
  const { node } = target.plan;
  const w = graph.initializers.get(node.inputs[1]!)!;
  const m = w.dims[0]!;
  if (m !== target.m) return null;
  const geo = geometryOf(node, w);
  const inner = geo.kh * geo.kw;
  const f = inner + 1;
  const isHeldOut = heldOutSplit(pieces, samples, ridge);
  const fitEqs = Array.from({ length: m }, () => new NormalEquations(f, 1));
  const heldEqs = isHeldOut ? Array.from({ length: m }, () => new NormalEquations(f, 1)) : null;
  const x = new Float64Array(f);
  const yk = new Float64Array(1);
  await visitRows(input, target, pieces, (xv, dims, row, y) => {
    const oy = Math.floor(row.p / target.outW);
    const ox = row.p % target.outW;
    const into = heldEqs && isHeldOut!(row) ? heldEqs : fitEqs;
    for (let k = 0; k < m; k++) {
      patch(xv, row.n, m, dims[2] ?? 1, dims[3] ?? 1, k, k + 1, oy, ox, geo, x);
      x[f - 1] = 1;
      yk[0] = y[k]!;
      into[k]!.add(x, yk);
    }
  });
  const wv = tensorToFloat32(w);
  const biasName = node.inputs[2];
  const bias = biasName ? tensorToFloat32(graph.initializers.get(biasName)!) : null;
  const newW = Float32Array.from(wv);
  const newB = new Float32Array(m);
  let before = 0;
  let after = 0;
  let applied = false;
  const currents = Array.from({ length: m }, (_, k) => {
    const current = new Float64Array(f);
    for (let i = 0; i < inner; i++) current[i] = wv[k * inner + i]!;
    current[inner] = bias ? bias[k]! : 0;
    newB[k] = current[inner]!;
    return current;
  });
  const layer = solveLayer(fitEqs, heldEqs && heldEqs[0]!.rows > 0 ? heldEqs : null, currents, inner, ridge);
  const layerHelps = layer.heldOutBefore === null || layer.heldOutAfter! < layer.heldOutBefore;
  const eqs = layer.all;
  for (let k = 0; k < m; k++) {
    const e0 = eqs[k]!.error(currents[k]!);
    const solved = layer.solutions[k]!;
    const e1 = eqs[k]!.error(solved);
    before += e0;
    if (layerHelps && e1 < e0) {
      for (let i = 0; i < inner; i++) newW[k * inner + i] = solved[i]!;
      newB[k] = solved[inner]!;
      applied = true;
      after += e1;
    } else after += e0;
  }
  if (applied) {
    graph.initializers.set(w.name, { ...w, values: newW });
    setBias(input.pruned, node, newB, node.outputs[0]!);
  }
  const rows = Math.max(1, eqs[0]?.rows ?? 0);
  const heldRows = heldEqs?.[0]?.rows ?? 0;
  return {
    node: node.name || node.outputs[0]!,
    kind: 'depthwise',
    target: target.plan.block ? 'block' : 'output',
    rows: eqs[0]?.rows ?? 0,
    unknowns: f * m,
    errorBefore: before / rows,
    errorAfter: after / rows,
    ridge: layer.ridge,
    heldOutBefore: perRow(layer.heldOutBefore, heldRows),
    heldOutAfter: perRow(layer.heldOutAfter, heldRows),
    applied,
  };
}

async function matchBatchNorm(input: RecoveryInput, node: OnnxNode, pieces: Piece[], theirs: Moments): Promise<boolean> {
  const graph = input.pruned.graph;
  const name = node.inputs[0]!;
  const mean = graph.initializers.get(node.inputs[3]!)!;
  const variance = graph.initializers.get(node.inputs[4]!)!;
  const c = mean.dims[0]!;
  if (theirs.sum.length !== c) return false;
  const runner = await createInferenceRunner(encodeModel(truncatedModel(input.pruned, [name])), { graphOptimizationLevel: 'basic' });
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

/** The layers to refit, in graph order, with what each is fitted to. */
function planLayers(input: RecoveryInput, options: RecoveryOptions): LayerPlan[] {
  if (options.refit === false) return [];
  const graph = input.pruned.graph;
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const refitSet = new Set(input.refitNodes);
  const chosen: OnnxNode[] = [];
  if ((options.scope ?? 'sequential') === 'next-layer') {
    chosen.push(...graph.nodes.filter((n) => refitSet.has(n.name) && isDense(graph, n)));
  } else {
    // Every layer whose input differs from the original's: downstream of a layer that lost input channels.
    const affected = new Set<string>();
    for (const n of graph.nodes) {
      if (!refitSet.has(n.name) && !n.inputs.some((i) => affected.has(i))) continue;
      for (const o of n.outputs) affected.add(o);
      if (isDense(graph, n) || (options.depthwise !== false && isDepthwise(graph, n))) chosen.push(n);
    }
  }
  return chosen.map((node) => {
    const block = options.blockOutput !== false ? blockOf(graph, node, consumers) : null;
    return {
      node,
      kind: isDepthwise(graph, node) ? 'depthwise' : 'dense',
      targetName: block ? block.add.outputs[0]! : node.outputs[0]!,
      block: block ? { skip: block.skip, bn: block.bn } : null,
    };
  });
}

/**
 * Refit the layers and match BatchNorm statistics, in graph order (mutates `input.pruned`). One pass of the
 * original model stores the sampled targets and moments; then one pass of the (truncated) pruned model per layer.
 */
export async function recoverPrunedModel(input: RecoveryInput, options: RecoveryOptions = {}): Promise<RecoveryReport> {
  const maxSamples = options.maxSamples ?? 512;
  const maxRows = options.maxRows ?? 6000;
  const ridge = options.ridge ?? 'held-out';
  const { pieces, samples } = collectPieces(input.pruned, input.dataset, maxSamples);
  const graph = input.pruned.graph;
  const nodes = graph.nodes;
  const plans = planLayers(input, options);
  const planOf = new Map(plans.map((p) => [p.node, p]));
  const refitSet = new Set(input.refitNodes);
  // A BatchNormalization folded into a block target is already accounted for by the refit before it.
  const blockNorms = new Set(plans.flatMap((p) => (p.block?.bn ? [p.block.bn] : [])));
  const firstIndex = nodes.findIndex((n) => refitSet.has(n.name) || planOf.has(n) || input.channelMap.has(n.outputs[0] ?? ''));
  const work = nodes.filter(
    (n, i) =>
      planOf.has(n) ||
      (options.batchNorm !== false && n.opType === 'BatchNormalization' && !blockNorms.has(n) && i >= Math.max(0, firstIndex) && graph.initializers.has(n.inputs[3] ?? '')),
  );
  const rand = random(1234);
  // One original pass: sampled targets for each refit, moments for each BN.
  const targets = new Map<OnnxNode, RefitTarget>();
  const moments = new Map<OnnxNode, Moments>();
  const yRows = new Map<OnnxNode, number[]>();
  const names = [...new Set(work.map((n) => (n.opType === 'BatchNormalization' ? n.inputs[0]! : planOf.get(n)!.targetName)))];
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
        const plan = planOf.get(node)!;
        const t = outs.get(plan.targetName)!;
        const channels = input.channelMap.get(plan.targetName) ?? null;
        const m = channels?.length ?? t.dims[1]!;
        const batch = t.dims[0]!;
        const positions = elementCount(t.dims.slice(2));
        let target = targets.get(node);
        if (!target) {
          target = { plan, rows: [], y: new Float64Array(0), m, outW: t.dims[3] ?? 1 };
          targets.set(node, target);
          yRows.set(node, []);
        }
        // A depthwise refit is m problems of kh·kw + 1 unknowns: rows are cheap, take the most.
        const rowsWanted = plan.kind === 'depthwise' ? maxRows : Math.min(maxRows, Math.max(4 * unknownsOf(input.pruned, plan), 2000));
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
  const biasFree = new Set(plans.filter((p) => p.node.opType === 'Conv' && !p.node.inputs[2]).map((p) => p.node));
  for (const node of work) {
    if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'recovery aborted');
    if (node.opType === 'BatchNormalization') {
      if (await matchBatchNorm(input, node, pieces, moments.get(node)!)) report.batchNorms++;
    } else {
      const target = targets.get(node)!;
      const row = target.plan.kind === 'depthwise' ? await refitDepthwise(input, target, pieces, samples, ridge) : await refitDense(input, target, pieces, samples, ridge);
      if (row) report.refits.push(row);
    }
    options.onProgress?.('recover', ++done, work.length);
  }
  for (const node of biasFree) if (node.inputs[2]) foldBiasIntoBatchNorm(input.pruned, node);
  return report;
}

/**
 * A bias that recovery gave a bias-free Conv moves into the BatchNormalization that alone reads it (BN(y + b) is BN(y)
 * with mean − b), so the refitted model has the original's inputs and FLOPs.
 */
function foldBiasIntoBatchNorm(model: OnnxModel, node: OnnxNode): void {
  const graph = model.graph;
  const out = node.outputs[0]!;
  const readers = graph.nodes.filter((n) => n.inputs.includes(out));
  const bn = readers[0];
  if (readers.length !== 1 || bn!.opType !== 'BatchNormalization' || bn!.inputs[0] !== out || graph.outputs.some((o) => o.name === out)) return;
  const meanName = bn!.inputs[3]!;
  const mean = graph.initializers.get(meanName);
  const biasName = node.inputs[2]!;
  const bias = graph.initializers.get(biasName);
  if (!mean || !bias || graph.nodes.filter((n) => n.inputs.includes(meanName) || n.inputs.includes(biasName)).length !== 2) return;
  const mu = tensorToFloat32(mean);
  const b = tensorToFloat32(bias);
  if (mu.length !== b.length) return;
  graph.initializers.set(meanName, { ...mean, values: mu.map((v, k) => v - b[k]!), dims: [mu.length] });
  graph.initializers.delete(biasName);
  node.inputs.length = 2;
}
