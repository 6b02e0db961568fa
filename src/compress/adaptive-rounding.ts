/**
 * Adaptive weight rounding (the objective of AdaRound, Nagel et al. 2020, solved per output channel by greedy
 * up/down flips instead of a learned relaxation): int8 per-channel weights are rounded, each element up or down, to
 * minimise the error the layer's *output* sees, δᵀCδ with δ = ŵ − w and C the covariance of the layer's input
 * patches on the calibration data; the mean part of the error, δᵀμ, is absorbed into the bias. Nearest rounding
 * minimises ‖δ‖ instead, which is far from optimal where a channel computes a small difference of large weights
 * (an edge filter after a BatchNorm fold: M-LSD's first depthwise Conv alone cost its `scores` output 6 dB).
 *
 * The pass writes the chosen int8-grid values back into the float weights (ŵ = s·q, at the scale per-channel
 * quantization will compute, the channel's largest element kept where it is), so the quantizer's nearest rounding
 * reproduces them exactly and the float model in between already carries the int8 weights. Mutates `model`.
 *
 * Each layer is judged before it is rounded: with 6 or more calibration sets, every third set is held out, the
 * rounding fitted to the others must lower the layer's output error on the held-out sets' covariance, and only then
 * is the layer rounded again on all sets; otherwise it keeps nearest rounding (named in `skipped`).
 */
import { DataType } from '../onnx/dtype.js';
import type { OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { cloneModel, elementCount } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { attrFloat, attrInt, attrString, nameFactory } from '../onnx/graph.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import { floatInitializer } from './prune-channels.js';
import { computeQuantParams, quantRange, roundHalfToEven } from './quant-params.js';
import { convGeometry, convPatch, type ConvGeometry } from './conv-patches.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';
import { NormalEquations } from './prune-recovery.js';
import { mulberry32 } from '../util/random.js';
import { EdgetuneError } from '../util/errors.js';

/** Tunables of adaptive rounding. */
export interface AdaptiveRoundingOptions {
  /** Calibration sets read (default 12: with 6 or more, every third judges the rounding fitted to the others). */
  maxSets?: number;
  /** Input patches sampled per layer (default 4096; fewer measurably lowered M-LSD's fidelity). */
  rowsPerLayer?: number;
  /** Dense layers with more inputs per output than this keep nearest rounding (default rowsPerLayer / 4). */
  maxInputsPerOutput?: number;
  /** Fewest samples to round from (default 8; PP-OCRv4 det fitted to 3 crops lost 2 dB on its own calibration data). */
  minSamples?: number;
  /** Same int8 grid as the quantizer's `reduceRange`. */
  reduceRange?: boolean;
  /** Nodes that stay float: their weights are left alone. */
  keepFloat?: ReadonlySet<string>;
  signal?: AbortSignal;
}

/** What adaptive rounding changed, per layer and in total. */
export interface AdaptiveRoundingReport {
  /** false when `calibration: 'auto'` judged nearest rounding better on its held-out sets and went back to it. */
  kept: boolean;
  /** Why nothing was rounded adaptively (too few samples), or null. */
  notApplied: string | null;
  /** Samples (images, rows of a batch) the covariances came from. */
  samples: number;
  layers: number;
  /** Weight elements rounded the other way than nearest. */
  flipped: number;
  /** Σ over layers of the output error (δᵀCδ summed over channels) relative to nearest rounding's: 1 = no gain. */
  meanErrorRatio: number;
  /** Layers left to nearest rounding, with why. */
  skipped: Array<{ node: string; reason: string }>;
  /**
   * Per layer: the output error of nearest and adaptive rounding (δᵀCδ summed over channels) and, as SQNR, against
   * the output's own variance (wᵀCw): how faithful the layer's int8 weights are on this data.
   */
  perLayer: Array<{
    node: string;
    kind: 'dense' | 'depthwise';
    rows: number;
    flipped: number;
    errorNearest: number;
    errorAdaptive: number;
    sqnrNearestDb: number;
    sqnrAdaptiveDb: number;
    /**
     * The output error on the held-out calibration sets of rounding fitted to the others, relative to nearest
     * rounding's (below 1: it generalises); null when too few sets were given to hold some out.
     */
    heldOutErrorRatio: number | null;
  }>;
}

/**
 * Round one output channel's weights adaptively. `w` (length f) the float weights, `scale` the channel's int8 step,
 * `cov` the f×f input covariance (row-major), `fixed` an index whose rounding must not move (the element that sets
 * the scale). Returns the integer values and the output error of nearest and of adaptive rounding (δᵀCδ). Pure.
 */
export function roundChannelAdaptively(
  w: ArrayLike<number>,
  scale: number,
  qmin: number,
  qmax: number,
  cov: Float64Array,
  fixed = -1,
  maxPasses = 8,
): { q: Int32Array; errorNearest: number; errorAdaptive: number; flipped: number } {
  const f = w.length;
  const q = new Int32Array(f);
  const delta = new Float64Array(f);
  for (let i = 0; i < f; i++) {
    const v = Math.min(qmax, Math.max(qmin, roundHalfToEven(w[i]! / scale)));
    q[i] = v;
    delta[i] = v * scale - w[i]!;
  }
  // g = C·δ, kept up to date as flips are taken.
  const g = new Float64Array(f);
  for (let i = 0; i < f; i++) {
    const row = i * f;
    let s = 0;
    for (let j = 0; j < f; j++) s += cov[row + j]! * delta[j]!;
    g[i] = s;
  }
  let errorNearest = 0;
  for (let i = 0; i < f; i++) errorNearest += delta[i]! * g[i]!;
  let error = errorNearest;
  const nearest = Int32Array.from(q);
  for (let pass = 0; pass < maxPasses; pass++) {
    let changed = false;
    for (let i = 0; i < f; i++) {
      if (i === fixed) continue;
      // The other rounding of element i: floor ↔ ceil of w/s (at most one step from nearest, within the grid).
      const exact = w[i]! / scale;
      const alt = q[i] === nearest[i] ? (exact > q[i]! ? q[i]! + 1 : q[i]! - 1) : nearest[i]!;
      if (alt < qmin || alt > qmax || Math.abs(alt - exact) >= 1) continue;
      const t = (alt - q[i]!) * scale;
      const gain = 2 * t * g[i]! + t * t * cov[i * f + i]!;
      if (gain >= -1e-9 * errorNearest) continue;
      q[i] = alt;
      delta[i]! += t;
      error += gain;
      for (let j = 0; j < f; j++) g[j]! += t * cov[j * f + i]!;
      changed = true;
    }
    if (!changed) break;
  }
  let flipped = 0;
  for (let i = 0; i < f; i++) if (q[i] !== nearest[i]) flipped++;
  return { q, errorNearest, errorAdaptive: Math.max(0, error), flipped };
}

/** A layer the pass rounds: a Conv (group 1 or depthwise) or a Gemm with a float weight initializer it alone reads. */
interface Target {
  node: OnnxNode;
  kind: 'dense' | 'depthwise';
  weight: Tensor;
  /** Output channels M and inputs per output f (cin·kh·kw, or kh·kw for depthwise). */
  m: number;
  f: number;
  geo: ConvGeometry | null;
  /** Gemm with transB = 0 stores W as [K, N]. */
  transposed: boolean;
  /** Input moments on the sets rounding is fitted to, and on the held-out sets that judge it. */
  fit: PatchMoments;
  held: PatchMoments;
}

/** Σx and Σxxᵀ of a layer's sampled input patches. */
interface PatchMoments {
  /** Σx per covariance block (one block for dense, one per channel for depthwise). */
  sums: Float64Array;
  /** Σxxᵀ: dense layers accumulate in 64-row blocks (XᵀX of a whole layer does not fit in cache); depthwise per channel. */
  dense: NormalEquations | null;
  products: Float64Array;
  rows: number;
}

/** Nothing accumulated; with `allocate` false, no room either (moments that will not be used). */
function emptyMoments(kind: 'dense' | 'depthwise', f: number, m: number, allocate = true): PatchMoments {
  if (!allocate) return { sums: new Float64Array(0), dense: null, products: new Float64Array(0), rows: 0 };
  return kind === 'dense'
    ? { sums: new Float64Array(f), dense: new NormalEquations(f, 0), products: new Float64Array(0), rows: 0 }
    : { sums: new Float64Array(m * f), dense: null, products: new Float64Array(m * f * f), rows: 0 };
}

/** The moments of both sets of rows together. */
function mergedMoments(a: PatchMoments, b: PatchMoments): PatchMoments {
  return {
    sums: a.sums.map((v, i) => v + b.sums[i]!),
    dense: a.dense && b.dense ? a.dense.plus(b.dense) : null,
    products: a.products.map((v, i) => v + b.products[i]!),
    rows: a.rows + b.rows,
  };
}

function targetsOf(model: OnnxModel, keepFloat: ReadonlySet<string>, maxInputs: number, skipped: AdaptiveRoundingReport['skipped'], judging: boolean): Target[] {
  const graph = model.graph;
  const readers = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  const targets: Target[] = [];
  for (const node of graph.nodes) {
    if (node.opType !== 'Conv' && node.opType !== 'Gemm') continue;
    const label = node.name || node.outputs[0]!;
    const weight = graph.initializers.get(node.inputs[1]!);
    if (!weight || weight.dataType !== DataType.FLOAT || keepFloat.has(label)) continue;
    if ((readers.get(weight.name) ?? 0) !== 1) {
      skipped.push({ node: label, reason: 'weight shared with another node' });
      continue;
    }
    if (node.opType === 'Gemm') {
      if (weight.dims.length !== 2) continue;
      const transposed = attrInt(node, 'transB', 0) === 0;
      const [m, f] = transposed ? [weight.dims[1]!, weight.dims[0]!] : [weight.dims[0]!, weight.dims[1]!];
      if (attrInt(node, 'transA', 0) !== 0) continue;
      if (f > maxInputs) {
        skipped.push({ node: label, reason: `${f} inputs per output, above the covariance budget (${maxInputs})` });
        continue;
      }
      targets.push({ node, kind: 'dense', weight, m, f, geo: null, transposed, fit: emptyMoments('dense', f, m), held: emptyMoments('dense', f, m, judging) });
      continue;
    }
    if (weight.dims.length !== 4 || attrString(node, 'auto_pad', 'NOTSET') !== 'NOTSET') continue;
    const group = attrInt(node, 'group', 1);
    const m = weight.dims[0]!;
    const geo = convGeometry(node, weight);
    const kk = geo.kh * geo.kw;
    if (group === 1) {
      const f = weight.dims[1]! * kk;
      if (f > maxInputs) {
        skipped.push({ node: label, reason: `${f} inputs per output, above the covariance budget (${maxInputs})` });
        continue;
      }
      targets.push({ node, kind: 'dense', weight, m, f, geo, transposed: false, fit: emptyMoments('dense', f, m), held: emptyMoments('dense', f, m, judging) });
    } else if (group === m && weight.dims[1] === 1) {
      targets.push({ node, kind: 'depthwise', weight, m, f: kk, geo, transposed: false, fit: emptyMoments('depthwise', kk, m), held: emptyMoments('depthwise', kk, m, judging) });
    }
  }
  return targets;
}

/** Accumulate into `into` Σx and Σxxᵀ of `rows` sampled input patches of `t` from its input activation `x`. */
function accumulate(t: Target, into: PatchMoments, x: Tensor, rows: number, random: () => number): void {
  const xv = tensorToFloat32(x);
  const dims = x.dims;
  const f = t.f;
  const patch = new Float64Array(t.kind === 'depthwise' ? f * t.m : f);
  if (!t.geo) {
    // Gemm: rows of the [N, K] input.
    const n = dims[0]!;
    for (let r = 0; r < Math.min(rows, n); r++) {
      const i = rows >= n ? r : Math.floor(random() * n);
      for (let k = 0; k < f; k++) patch[k] = xv[i * f + k]!;
      addDense(into, f, patch);
      into.rows++;
    }
    return;
  }
  const [n, c, h, wd] = [dims[0]!, dims[1]!, dims[2]!, dims[3]!];
  const { kh, kw, strides, pads, dil } = t.geo;
  const oh = Math.floor((h + pads[0]! + pads[2]! - dil[0]! * (kh - 1) - 1) / strides[0]!) + 1;
  const ow = Math.floor((wd + pads[1]! + pads[3]! - dil[1]! * (kw - 1) - 1) / strides[1]!) + 1;
  const positions = n * oh * ow;
  if (positions <= 0) return;
  for (let r = 0; r < Math.min(rows, positions); r++) {
    const p = rows >= positions ? r : Math.floor(random() * positions);
    const s = Math.floor(p / (oh * ow));
    const oy = Math.floor((p % (oh * ow)) / ow);
    const ox = p % ow;
    convPatch(xv, s, c, h, wd, 0, c, oy, ox, t.geo, patch);
    if (into.dense) addDense(into, f, patch);
    else for (let ch = 0; ch < t.m; ch++) addOuter(into.sums, into.products, patch, ch, f);
    into.rows++;
  }
}

const NO_TARGETS = new Float64Array(0);

function addDense(into: PatchMoments, f: number, x: Float64Array): void {
  for (let i = 0; i < f; i++) into.sums[i]! += x[i]!;
  into.dense!.add(x, NO_TARGETS);
}

/** Block `b` of size f: sums[b·f + i] += x_i, products[b·f² + i·f + j] += x_i·x_j (j ≥ i; mirrored on use). */
function addOuter(sums: Float64Array, products: Float64Array, x: Float64Array, b: number, f: number): void {
  const xo = b * f;
  const po = b * f * f;
  for (let i = 0; i < f; i++) {
    const xi = x[xo + i]!;
    sums[xo + i]! += xi;
    if (xi === 0) continue;
    const row = po + i * f;
    for (let j = i; j < f; j++) products[row + j]! += xi * x[xo + j]!;
  }
}

/** Fewest calibration samples adaptive rounding fits to. */
export const MIN_SAMPLES = 8;

/** Fewest sampled rows for a layer, absolutely and per input of an output (fewer: nearest rounding is kept). */
const MIN_ROWS = 256;
const ROWS_PER_INPUT = 4;

/**
 * Covariance of block `b` (f×f, full) and the mean, from the accumulated sums. To fit rounding (`shrunk`), shrunk
 * toward its diagonal by α = f / (f + rows) (under a diagonal covariance nearest rounding is optimal): with few rows
 * per input, the off-diagonal terms are mostly sampling noise, and fitting rounding to them overfits the calibration
 * photos. To judge it, as measured.
 */
function covarianceOf(f: number, moments: PatchMoments, b: number, shrunk = true): { cov: Float64Array; mean: Float64Array } {
  const n = Math.max(moments.rows, 1);
  const mean = new Float64Array(f);
  for (let i = 0; i < f; i++) mean[i] = moments.sums[b * f + i]! / n;
  const cov = new Float64Array(f * f);
  const shrink = shrunk ? f / (f + n) : 0;
  moments.dense?.flush();
  const products = moments.dense ? moments.dense.a : moments.products;
  const po = moments.dense ? 0 : b * f * f;
  for (let i = 0; i < f; i++) {
    for (let j = i; j < f; j++) {
      const v = (products[po + i * f + j]! / n - mean[i]! * mean[j]!) * (i === j ? 1 : 1 - shrink);
      cov[i * f + j] = v;
      cov[j * f + i] = v;
    }
  }
  return { cov, mean };
}

/**
 * Round the int8 weights of every Conv/Gemm adaptively (see the module comment), on the float model's own
 * activations over `dataset`. Mutates `model`: weights snapped to their int8 grid, biases shifted by −δᵀμ.
 */
export async function roundWeightsAdaptively(model: OnnxModel, dataset: Dataset, options: AdaptiveRoundingOptions = {}): Promise<AdaptiveRoundingReport> {
  const skipped: AdaptiveRoundingReport['skipped'] = [];
  const maxRows = options.rowsPerLayer ?? 4096;
  // A layer needs ROWS_PER_INPUT rows per input: wider ones are not worth sampling at all.
  const sets = Math.min(dataset.setNames.length, options.maxSets ?? 12);
  const judging = sets >= MIN_SETS_TO_JUDGE;
  const judged = (s: number): boolean => judging && s % 3 === 2;
  const targets = targetsOf(model, options.keepFloat ?? new Set(), options.maxInputsPerOutput ?? Math.floor(maxRows / ROWS_PER_INPUT), skipped, judging);
  const report: AdaptiveRoundingReport = { kept: true, notApplied: null, samples: 0, layers: 0, flipped: 0, meanErrorRatio: 1, skipped, perLayer: [] };
  if (targets.length === 0 || sets === 0) return report;
  let fitSets = 0;
  for (let s = 0; s < sets; s++) if (!judged(s)) fitSets++;
  const rowsPerSet = Math.ceil(maxRows / fitSets);
  // The inputs of every target as extra outputs of the float model.
  const probe = cloneModel(model);
  const inputs = [...new Set(targets.map((t) => t.node.inputs[0]!))];
  const have = new Set(probe.graph.outputs.map((o) => o.name));
  probe.graph.outputs.push(...inputs.filter((n) => !have.has(n)).map((name) => ({ name, type: { elemType: DataType.FLOAT, shape: null } })));
  const runner = await createInferenceRunner(encodeModel(probe), { graphOptimizationLevel: 'basic' });
  const random = mulberry32(0x5eed);
  try {
    for (let s = 0; s < sets; s++) {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'adaptive rounding aborted');
      const batch = dataset.load(s);
      for (const piece of feedsForBatch(model, batch)) {
        const out = await runner.run(piece.feeds, inputs).catch(refuseModelRunFailure('the model', batch.set));
        for (const t of targets) accumulate(t, judged(s) ? t.held : t.fit, out.get(t.node.inputs[0]!)!, rowsPerSet, random);
        report.samples += piece.end - piece.start;
      }
    }
  } finally {
    await runner.release();
  }
  const minSamples = options.minSamples ?? MIN_SAMPLES;
  if (report.samples < minSamples) {
    report.notApplied = `${report.samples} calibration sample(s), fewer than ${minSamples}: rounding fitted to so few pictures overfits them (nearest rounding kept)`;
    return report;
  }
  const [qmin, qmax] = quantRange('int8', true, options.reduceRange ?? false);
  const fresh = nameFactory(model.graph);
  let sumNearest = 0;
  let sumAdaptive = 0;
  for (const t of targets) {
    const label = t.node.name || t.node.outputs[0]!;
    const all = t.held.rows > 0 ? mergedMoments(t.fit, t.held) : t.fit;
    if (all.rows < Math.max(MIN_ROWS, ROWS_PER_INPUT * t.f)) {
      skipped.push({ node: label, reason: `${all.rows} input rows sampled for ${t.f} inputs per output` });
      continue;
    }
    const wv = tensorToFloat32(t.weight);
    // Judged first: rounding fitted to the fit sets must lower the layer's output error on the held-out sets.
    let heldOutErrorRatio: number | null = null;
    if (t.held.rows >= MIN_HELD_ROWS) {
      const trial = roundLayer(t, t.fit, wv, qmin, qmax);
      const judged = heldOutErrors(t, trial.snapped, wv, qmin, qmax);
      heldOutErrorRatio = judged.nearest > 0 ? judged.adaptive / judged.nearest : 1;
      if (!(judged.adaptive < judged.nearest)) {
        skipped.push({ node: label, reason: `rounding fitted to ${fitSets} set(s) did not lower the output error on ${sets - fitSets} held-out set(s) (${heldOutErrorRatio.toFixed(2)}× nearest's): nearest kept` });
        continue;
      }
    }
    const r = roundLayer(t, all, wv, qmin, qmax);
    model.graph.initializers.set(t.weight.name, { ...t.weight, values: r.snapped });
    addToBias(model, t.node, r.biasShift, fresh);
    report.layers++;
    report.flipped += r.flipped;
    sumNearest += r.errorNearest;
    sumAdaptive += r.errorAdaptive;
    const db = (e: number): number => (e > 0 && r.signal > 0 ? 10 * Math.log10(r.signal / e) : Infinity);
    report.perLayer.push({
      node: label,
      kind: t.kind,
      rows: all.rows,
      flipped: r.flipped,
      errorNearest: r.errorNearest,
      errorAdaptive: r.errorAdaptive,
      sqnrNearestDb: db(r.errorNearest),
      sqnrAdaptiveDb: db(r.errorAdaptive),
      heldOutErrorRatio,
    });
  }
  report.meanErrorRatio = sumNearest > 0 ? sumAdaptive / sumNearest : 1;
  return report;
}

/** Fewest sampled rows on the held-out sets to judge a layer's rounding (fewer: not judged). */
const MIN_HELD_ROWS = 64;
/** Fewest calibration sets read for some of them to judge the rounding (every third). */
const MIN_SETS_TO_JUDGE = 6;

/** One layer rounded adaptively on `moments`: the snapped float weights, the bias shift and the layer's errors. */
interface RoundedLayer {
  snapped: Float32Array;
  biasShift: Float32Array;
  flipped: number;
  errorNearest: number;
  errorAdaptive: number;
  /** wᵀCw summed over channels: the output's own variance. */
  signal: number;
}

/** The channel's int8 step and the index of its largest element (kept where it is), or null for an all-zero channel. */
function channelGrid(w: Float64Array, qmin: number, qmax: number): { scale: number; fixed: number } | null {
  let absMax = 0;
  let fixed = -1;
  for (let i = 0; i < w.length; i++) {
    if (Math.abs(w[i]!) > absMax) {
      absMax = Math.abs(w[i]!);
      fixed = i;
    }
  }
  return absMax === 0 ? null : { scale: computeQuantParams(-absMax, absMax, qmin, qmax, true).scale, fixed };
}

/** Channel k's weights of layer `t` into `w`; returns the index function into the stored tensor. */
function channelWeights(t: Target, wv: Float32Array, k: number, w: Float64Array): (i: number) => number {
  const at = (i: number): number => (t.transposed ? i * t.m + k : k * t.f + i);
  for (let i = 0; i < t.f; i++) w[i] = wv[at(i)]!;
  return at;
}

function roundLayer(t: Target, moments: PatchMoments, wv: Float32Array, qmin: number, qmax: number): RoundedLayer {
  const snapped = new Float32Array(wv);
  const biasShift = new Float32Array(t.m);
  const out: RoundedLayer = { snapped, biasShift, flipped: 0, errorNearest: 0, errorAdaptive: 0, signal: 0 };
  const shared = t.kind === 'dense' ? covarianceOf(t.f, moments, 0) : null;
  const w = new Float64Array(t.f);
  for (let k = 0; k < t.m; k++) {
    const at = channelWeights(t, wv, k, w);
    const grid = channelGrid(w, qmin, qmax);
    if (!grid) continue;
    const { scale, fixed } = grid;
    const { cov, mean } = shared ?? covarianceOf(t.f, moments, k);
    const r = roundChannelAdaptively(w, scale, qmin, qmax, cov, fixed);
    out.signal += quadraticForm(cov, w);
    out.flipped += r.flipped;
    out.errorNearest += r.errorNearest;
    out.errorAdaptive += r.errorAdaptive;
    let shift = 0;
    for (let i = 0; i < t.f; i++) {
      const v = i === fixed ? w[i]! : Math.fround(r.q[i]! * scale);
      snapped[at(i)] = v;
      shift -= (v - w[i]!) * mean[i]!;
    }
    biasShift[k] = shift;
  }
  return out;
}

/** The layer's output error (δᵀCδ over channels, C measured on the held-out sets) of nearest rounding and of `snapped`. */
function heldOutErrors(t: Target, snapped: Float32Array, wv: Float32Array, qmin: number, qmax: number): { nearest: number; adaptive: number } {
  const shared = t.kind === 'dense' ? covarianceOf(t.f, t.held, 0, false) : null;
  const w = new Float64Array(t.f);
  const deltaNearest = new Float64Array(t.f);
  const deltaAdaptive = new Float64Array(t.f);
  let nearest = 0;
  let adaptive = 0;
  for (let k = 0; k < t.m; k++) {
    const at = channelWeights(t, wv, k, w);
    const grid = channelGrid(w, qmin, qmax);
    if (!grid) continue;
    for (let i = 0; i < t.f; i++) {
      deltaNearest[i] = i === grid.fixed ? 0 : Math.min(qmax, Math.max(qmin, roundHalfToEven(w[i]! / grid.scale))) * grid.scale - w[i]!;
      deltaAdaptive[i] = snapped[at(i)]! - w[i]!;
    }
    const { cov } = shared ?? covarianceOf(t.f, t.held, k, false);
    nearest += quadraticForm(cov, deltaNearest);
    adaptive += quadraticForm(cov, deltaAdaptive);
  }
  return { nearest, adaptive };
}

/** xᵀCx for a symmetric f×f C (row-major). */
function quadraticForm(cov: Float64Array, x: Float64Array): number {
  const f = x.length;
  let sum = 0;
  for (let i = 0; i < f; i++) {
    if (x[i] === 0) continue;
    let row = 0;
    for (let j = 0; j < f; j++) row += cov[i * f + j]! * x[j]!;
    sum += x[i]! * row;
  }
  return sum;
}

/** bias += shift ([M]); a node without a bias gets one (Gemm: only when beta is 1 and C absent). */
function addToBias(model: OnnxModel, node: OnnxNode, shift: Float32Array, fresh: (base: string) => string): void {
  const graph = model.graph;
  const name = node.inputs[2];
  const old = name ? graph.initializers.get(name) : undefined;
  if (name && !old) return; // a computed bias: leave it (the mean error stays)
  const gemmAlpha = node.opType === 'Gemm' ? attrFloat(node, 'alpha', 1) : 1;
  const gemmBeta = node.opType === 'Gemm' ? attrFloat(node, 'beta', 1) : 1;
  if (old && old.dataType === DataType.FLOAT && elementCount(old.dims) === shift.length) {
    const b = Float32Array.from(tensorToFloat32(old), (v, k) => v + (shift[k]! * gemmAlpha) / gemmBeta);
    const readers = graph.nodes.filter((n) => n.inputs.includes(name!)).length;
    if (readers === 1) graph.initializers.set(name!, { ...old, values: b });
    else {
      const renamed = fresh(`${name}_rounded`);
      graph.initializers.set(renamed, floatInitializer(renamed, [b.length], b));
      node.inputs[2] = renamed;
    }
    return;
  }
  if (old) return; // a broadcast bias of another shape: leave it
  if (gemmBeta !== 1) return;
  const added = fresh(`${node.name || node.outputs[0]}_rounding_bias`);
  graph.initializers.set(added, floatInitializer(added, [shift.length], Float32Array.from(shift, (v) => v * gemmAlpha)));
  node.inputs[2] = added;
}
