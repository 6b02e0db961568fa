import { performance } from 'node:perf_hooks';
import { DataType } from '../onnx/dtype.js';
import type { OnnxModel } from '../onnx/ir.js';
import { cloneModel } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { inferTensorTypes } from '../onnx/shape-inference.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { calibrateChannelRanges, calibrateRangeCandidates, calibrateRanges, type CalibrationResult } from './calibrate.js';
import { equalizationCandidates, equalizeChannels, type EqualizeReport } from './equalize-channels.js';
import { correctBiases, type BiasCorrectionReport } from './bias-correction.js';
import { roundWeightsAdaptively, type AdaptiveRoundingReport } from './adaptive-rounding.js';
import type { CalibrationMethod } from './calibration-stats.js';
import type { Dataset } from './dataset.js';
import { evaluateRunners } from './evaluate.js';
import { judgeAccuracy } from './accuracy-judgement.js';
import { DEFAULT_CONFIDENCE } from './fidelity.js';
import { convTransposeAsDepthToSpace, type ConvTransposeRewriteReport } from './conv-transpose-as-conv.js';
import { channelsLastCopies, type ChannelsLastCopiesReport } from './channels-last-copies.js';
import { foldPadIntoConv } from './fold-pad.js';
import { pointwiseHeadAsMatMul } from './pointwise-head-as-matmul.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { fuseHardSwish } from './fuse-activations.js';
import { foldAddIntoPointwiseConv, foldConvAffine } from './fold-affine.js';
import { floatHeadLayerNames, quantizeInt8, type Int8Options } from './quantize-int8.js';
import { hardSwishAsProduct, type HardSwishProductReport } from './hardswish-product.js';
import { LOOKUP_MIN_ELEMENTS, elementsOf, lookupIslands, type LookupIslandsReport } from './lookup-islands.js';
import { realInputs } from './dataset.js';
import type { PassResult } from './pass.js';
import { EdgetuneError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';
import { DEFAULT_SPLIT_SEED } from './dataset-split.js';
import { restoreFloatWeights } from './float-weights.js';

/** Options for the whole static int8 flow: calibrate, quantize, and optionally keep sensitive layers float. */
export interface Int8PipelineOptions extends Int8Options {
  /** `auto` = choose the range method and bias correction by worst-output cosine on held-out calibration sets. */
  calibration: CalibrationMethod | 'auto';
  percentile?: number;
  /** `auto` = mixed precision driven by `maxAccuracyDrop`; a list = those node names stay float. */
  keepFloatMode?: 'none' | 'auto' | string[];
  /** Bound for `auto`, in percentage points of top-1 (or of agreement with the float model without labels). */
  maxAccuracyDropPp?: number;
  /** Per-channel activation equalization before calibration (default true); `full` also equalizes the inputs of float-only ops (more faithful, slower). */
  equalize?: boolean | 'full';
  /**
   * Round each int8 weight up or down to minimise the layer's output error on the data, instead of to nearest
   * (adaptive-rounding.ts; default true).
   */
  adaptiveRounding?: boolean;
  /** Empirical bias correction rounds after calibration (default 1; 0 = off). */
  biasCorrectionRounds?: number;
  /**
   * Replace float islands (8-bit → DequantizeLinear → elementwise float ops such as HardSwish → QuantizeLinear) by
   * exact 256-entry table lookups computed by onnxruntime, where the island's tensor has at least
   * LOOKUP_MIN_ELEMENTS elements at the calibration shape (default true; outputs are unchanged, the file grows by
   * 256 bytes per island and channel).
   */
  lookupIslands?: boolean;
  /**
   * Equalize the inputs of float islands large enough for a lookup (the channel-scale Mul lands in the table, free):
   * default = `lookupIslands`. Set it with `lookupIslands: false` to get the same model with its islands left float.
   */
  equalizeLookupIslandInputs?: boolean;
  /**
   * Run HardSwish as `x · HardSigmoid(x)` in int8 ops onnxruntime multithreads (a depthwise 1×1 QLinearConv that
   * saturates to HardSigmoid, then a QLinearMul), where every reader is a Conv that can take the channel scale and
   * affine around it, or there is none (hardswish-product.ts; default true with uint8 activations and per-channel
   * weights).
   */
  hardSwishProduct?: boolean;
  /**
   * ConvTranspose with kernel = stride as a 1×1 Conv + DepthToSpace, so that it runs in int8 (conv-transpose-as-conv.ts;
   * default true).
   */
  convTransposeAsConv?: boolean;
  /** 8-bit nearest Resize and DepthToSpace as channels-last block copies (channels-last-copies.ts; default true). */
  channelsLastCopies?: boolean;
  /**
   * A float head's 1×1 Conv read only by a channels-last Transpose as Transpose + MatMul, which onnxruntime runs
   * without layout reorders (pointwise-head-as-matmul.ts; default true).
   */
  pointwiseHeadAsMatMul?: boolean;
  /**
   * `--keep-float auto`: redo bias correction for the float set the search chose, and search again below it with each
   * candidate corrected for its own set (default true).
   */
  recorrectFloatSet?: boolean;
  /**
   * `--keep-float auto` accepts a candidate when the upper end of its drop's interval at this confidence is within
   * the bound, as the fidelity gate judges (default 0.95; 0 = the point estimate).
   */
  confidence?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** int8 result with the calibration facts the report needs. */
export interface Int8PipelineResult extends PassResult {
  /** `chosen`: with consumer-mse, how many tensors took each candidate range. */
  calibration: { method: CalibrationMethod; samples: number; chosen?: { candidates: string[]; counts: number[] }; auto?: AutoCalibrationReport };
  foldedBatchNorms: string[];
  /** Constant zero Pads folded into the Convs that read them. */
  foldedPads: string[];
  fusedHardSwish: number;
  /** Constant Mul/Add steps after a Conv folded into its weights. */
  foldedAffine: number;
  equalization: EqualizeReport | null;
  adaptiveRounding: AdaptiveRoundingReport | null;
  biasCorrection: BiasCorrectionReport | null;
  /** Float islands that became table lookups (null when off). */
  lookups: LookupIslandsReport | null;
  /** HardSwishes rewritten as a product of int8 ops (null when off). */
  hardSwishProduct: HardSwishProductReport | null;
  /** 8-bit nearest Resizes and DepthToSpaces written as channels-last copies (null when off). */
  channelsLastCopies: ChannelsLastCopiesReport | null;
  /** ConvTransposes rewritten as Conv + DepthToSpace (null when off). */
  convTransposeAsConv: ConvTransposeRewriteReport | null;
  /** Float head 1×1 Convs rewritten as channels-last MatMuls (null when off). */
  pointwiseHeads: string[] | null;
  /** Wall time of each stage, seconds. */
  stageSeconds: Record<string, number>;
  /**
   * `--keep-float auto`: the chosen variant's metric on the search's data; `upperPp` is the upper end of the drop's
   * interval at `confidence` (the drop at confidence 0).
   */
  accuracy?: { baseline: number; quantized: number; dropPp: number; metric: 'top1' | 'agreement' | 'cosine'; upperPp: number; confidence: number };
}

/** Static int8 quantization end to end. `model` must be normalised (opset ≥ 13, constants lifted). */
export async function runInt8Pipeline(model: OnnxModel, dataset: Dataset, options: Int8PipelineOptions): Promise<Int8PipelineResult> {
  const original = cloneModel(model);
  const stageSeconds: Record<string, number> = {};
  let mark = performance.now();
  const lap = (stage: string): void => {
    const now = performance.now();
    stageSeconds[stage] = (now - mark) / 1000;
    mark = now;
  };
  const fusedHardSwish = fuseHardSwish(model);
  const foldedBatchNorms = foldBatchNorm(model.graph);
  const foldedAffine = foldConvAffine(model.graph) + foldAddIntoPointwiseConv(model.graph);
  // a BN behind a bias Add, folded now that the Add is (PP-OCR det's head: ConvTranspose → Add → BatchNormalization)
  foldedBatchNorms.push(...foldBatchNorm(model.graph));
  const foldedPads = foldPadIntoConv(model.graph);
  const convTransposeAsConv = options.convTransposeAsConv === false ? null : convTransposeAsDepthToSpace(model.graph);
  const productOn = options.hardSwishProduct ?? (options.activationType !== 'int8' && options.perChannel !== false);
  const equalization = options.equalize === false ? null : await equalize(model, dataset, options, productOn);
  const hardSwishProduct = productOn ? hardSwishAsProduct(model.graph, { channelsOf: channelCount(model) }) : null;
  // After equalization, which folds its channel scales into the head Convs' weights (a MatMul behind a Transpose
  // would not take them, and that site would stay unequalized).
  const pointwiseHeads = options.pointwiseHeadAsMatMul === false ? null : pointwiseHeadAsMatMul(model.graph, floatHeadLayerNames(model.graph, options.floatHead !== false));
  if (hardSwishProduct && hardSwishProduct.hardSigmoidTensors.length > 0) {
    // Each HardSigmoid is [0, 1] exactly: at 1/255 steps its uint8 saturates where the Clip does.
    const pinnedRanges = new Map(options.pinnedRanges ?? []);
    for (const t of hardSwishProduct.hardSigmoidTensors) pinnedRanges.set(t, { min: 0, max: 1 });
    options = { ...options, pinnedRanges };
  }
  lap('equalize');
  const rounding = options.adaptiveRounding !== false && options.perChannel !== false;
  // With `auto`, adaptive rounding is one more choice judged on the held-out quarter: fitted to the other three
  // quarters only, so that judgement is on data it did not see; the model before it is kept to go back to.
  const autoSplit = options.calibration === 'auto' && dataset.setNames.length >= AUTO_MIN_SETS ? autoCalibrationSplit(dataset.setNames.length) : null;
  const unrounded = rounding && autoSplit ? cloneModel(model) : null;
  // Layers the mixed-precision search keeps float get back the weights and bias they had before adaptive rounding
  // and bias correction fitted them to int8 (equalization before this point is exact and stays).
  const floatWeights = options.keepFloatMode === 'auto' ? cloneModel(model) : null;
  const adaptiveRounding = !rounding
    ? null
    : await roundWeightsAdaptively(model, autoSplit ? subsetOf(dataset, autoSplit.fit) : dataset, {
          ...(options.reduceRange !== undefined ? { reduceRange: options.reduceRange } : {}),
          // Layers that will stay float keep their float weights: the user's list and a detector's head.
          keepFloat: new Set([...(Array.isArray(options.keepFloatMode) ? options.keepFloatMode : []), ...floatHeadLayerNames(model.graph, options.floatHead !== false)]),
          ...(options.signal ? { signal: options.signal } : {}),
        });
  lap('adaptive rounding');
  const types = inferTensorTypes(model);
  const activations = new Set<string>();
  for (const input of model.graph.inputs) if (!model.graph.initializers.has(input.name) && types.get(input.name)?.elemType === DataType.FLOAT) activations.add(input.name);
  for (const node of model.graph.nodes) for (const out of node.outputs) if (out && types.get(out)?.elemType === DataType.FLOAT) activations.add(out);
  const auto = options.calibration === 'auto' ? await chooseCalibration(model, original, types, [...activations], dataset, options, adaptiveRounding && adaptiveRounding.layers > 0 ? unrounded : null) : null;
  if (auto && adaptiveRounding && unrounded) {
    adaptiveRounding.kept = auto.chosen.adaptiveRounding !== false;
    if (!adaptiveRounding.kept) model.graph = unrounded.graph;
  }
  lap('auto calibration');
  const chosen = auto ? auto.chosen : { method: options.calibration as CalibrationMethod, percentile: options.percentile, biasCorrectionRounds: options.biasCorrectionRounds ?? 1 };
  const calibration: CalibrationResult = await calibrateRanges(model, [...activations], dataset, {
    method: chosen.method,
    ...(chosen.percentile !== undefined ? { percentile: chosen.percentile } : {}),
    onProgress: (d, t) => options.onProgress?.('calibrate', d, t),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  lap('calibrate');
  const rounds = chosen.biasCorrectionRounds;
  // The mixed-precision search ranks layers against the all-int8 correction, then corrects again for the float set
  // it chose (from the model as it was before any correction).
  const uncorrected = floatWeights && rounds > 0 && options.recorrectFloatSet !== false ? cloneModel(model) : null;
  const correct = (target: OnnxModel, keepFloat: ReadonlySet<string>): Promise<BiasCorrectionReport> =>
    correctBiases(target, (m) => quantizeInt8(m, types, calibration.ranges, { ...options, keepFloat }), dataset, {
      rounds,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  const biasCorrection =
    rounds > 0
      ? // against the model as it will be quantized: a layer on the user's float list is float here too (correcting its
        // readers for an int8 error it will not make: M-LSD tiny with its first depthwise Conv kept float, worst output
        // 0.62 with the all-int8 correction, 0.74 with this one; all-int8 0.73)
        await correct(model, new Set(Array.isArray(options.keepFloatMode) ? options.keepFloatMode : []))
      : null;
  lap('bias correction');
  const quantize = (keepFloat: ReadonlySet<string>): PassResult => {
    const copy = cloneModel(model);
    if (floatWeights) restoreFloatWeights(copy, floatWeights, keepFloat);
    return quantizeInt8(copy, types, calibration.ranges, { ...options, keepFloat });
  };
  const quantizeCorrected = uncorrected
    ? async (keepFloat: ReadonlySet<string>): Promise<PassResult> => {
        const copy = cloneModel(uncorrected);
        restoreFloatWeights(copy, floatWeights!, keepFloat);
        await correct(copy, keepFloat);
        return quantizeInt8(copy, types, calibration.ranges, { ...options, keepFloat });
      }
    : null;
  const mode = options.keepFloatMode ?? 'none';
  const base = {
    calibration: { method: calibration.method, samples: calibration.samples, ...(calibration.chosen ? { chosen: calibration.chosen } : {}), ...(auto ? { auto: auto.report } : {}) },
    foldedBatchNorms, foldedPads, fusedHardSwish, foldedAffine, convTransposeAsConv, pointwiseHeads, equalization, adaptiveRounding, biasCorrection, stageSeconds };
  let quantized: PassResult & { accuracy?: Int8PipelineResult['accuracy'] };
  if (mode === 'none') quantized = quantize(new Set());
  else if (Array.isArray(mode)) quantized = quantize(new Set(mode));
  else {
    const bound = options.maxAccuracyDropPp;
    if (bound === undefined) throw new EdgetuneError('USAGE', '--keep-float auto needs --max-accuracy-drop PP');
    quantized = await mixedPrecisionSearch(original, quantize, quantizeCorrected, dataset, bound, options);
  }
  lap('quantize');
  const lookups = options.lookupIslands === false ? null : await replaceIslands(quantized, dataset);
  lap('lookup islands');
  const copies = options.channelsLastCopies === false ? null : channelsLastCopies(quantized.model.graph);
  if (copies && copies.resizes.length + copies.depthToSpaces.length > 0) {
    const what = [copies.resizes.length > 0 ? `${copies.resizes.length} nearest Resize(s)` : '', copies.depthToSpaces.length > 0 ? `${copies.depthToSpaces.length} DepthToSpace` : ''].filter(Boolean).join(' and ');
    quantized.report.notes.push(`${what} on 8-bit data written as channels-last block copies (Transpose, Concat, Reshape; bit-exact), where onnxruntime's own kernels copy element by element`);
  }
  if (auto) quantized.report.notes.unshift(auto.note);
  if (hardSwishProduct) {
    quantized.report.notes.push(hardSwishProductNote(hardSwishProduct));
    quantized.report.details = { ...quantized.report.details, hardSwishProduct };
  }
  return { ...quantized, ...base, lookups, hardSwishProduct, channelsLastCopies: copies };
}

/** One configuration `calibration: 'auto'` tries. */
export interface CalibrationCandidate {
  method: CalibrationMethod;
  percentile?: number | undefined;
  biasCorrectionRounds: number;
  /** false: the weights rounded to nearest instead of adaptively (tried only for the best adaptive candidate). */
  adaptiveRounding?: boolean;
}

/** What `calibration: 'auto'` tried and chose. */
export interface AutoCalibrationReport {
  /** Calibration sets the candidates were fitted to / judged on (a seeded quarter is held out for judging). */
  fitSets: number;
  judgedSets: number;
  /**
   * Each candidate's worst-output SQNR (dB) and worst-output cosine (mean of per-sample cosines) against the original
   * on the held-out sets; null when it could not run.
   */
  candidates: Array<{ label: string; worstSqnrDb: number | null; worstCosine: number | null }>;
  /** Label of the chosen candidate. */
  chosen: string;
}

/** Range methods `auto` tries: minmax keeps every outlier; the percentiles trade clipping for resolution. */
const AUTO_RANGE_METHODS: ReadonlyArray<{ method: CalibrationMethod; percentile?: number }> = [
  { method: 'minmax' },
  { method: 'percentile', percentile: 99.99 },
  { method: 'percentile', percentile: 99.999 },
];

/** Fewest calibration sets with which `auto` chooses (three to fit, one to judge); below it, minmax with bias correction. */
export const AUTO_MIN_SETS = 4;

/** Human label of a candidate, as the report and the note name it. */
export function candidateLabel(c: CalibrationCandidate): string {
  const range = c.method === 'percentile' ? `percentile ${c.percentile}` : c.method;
  const label = c.biasCorrectionRounds > 0 ? `${range} + bias correction` : range;
  return c.adaptiveRounding === false ? `${label}, nearest rounding` : label;
}

/**
 * Split calibration sets: a seeded quarter (at least one) is held out to judge candidates, the rest fit them. Seeded
 * shuffle, not every fourth set: calibration sets are often ordered (by class, by source photo) and a stride aliases.
 */
export function autoCalibrationSplit(sets: number, seed = DEFAULT_SPLIT_SEED): { fit: number[]; judge: number[] } {
  const order = Array.from({ length: sets }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = sets - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const judged = new Set(order.slice(0, Math.max(1, Math.floor(sets / 4))));
  const fit: number[] = [];
  const judge: number[] = [];
  for (let i = 0; i < sets; i++) (judged.has(i) ? judge : fit).push(i);
  return { fit, judge };
}

function subsetOf(dataset: Dataset, indices: readonly number[]): Dataset {
  return { dir: dataset.dir, setNames: indices.map((i) => dataset.setNames[i]!), load: (k) => dataset.load(indices[k]!) };
}

/**
 * `calibration: 'auto'`: fit each candidate (range method × bias correction on/off) to three quarters of the
 * calibration sets, quantize, and judge its worst output's cosine against the original on the held-out quarter; the
 * best is then rebuilt on every set by the caller. Judged end to end: a per-tensor choice that is best locally is not
 * best at the outputs (see consumer-mse).
 */
async function chooseCalibration(
  prepared: OnnxModel,
  original: OnnxModel,
  types: ReturnType<typeof inferTensorTypes>,
  activations: string[],
  dataset: Dataset,
  options: Int8PipelineOptions,
  unrounded: OnnxModel | null = null,
): Promise<{ chosen: CalibrationCandidate; report: AutoCalibrationReport; note: string }> {
  const requestedRounds = options.biasCorrectionRounds ?? 1;
  const bcChoices = requestedRounds > 0 ? [requestedRounds, 0] : [0];
  const sets = dataset.setNames.length;
  if (sets < AUTO_MIN_SETS) {
    const chosen: CalibrationCandidate = { method: 'minmax', biasCorrectionRounds: requestedRounds };
    const label = candidateLabel(chosen);
    return {
      chosen,
      report: { fitSets: sets, judgedSets: 0, candidates: [], chosen: label },
      note: `calibration auto: ${sets} calibration set(s), fewer than ${AUTO_MIN_SETS} to hold some out and choose; ${label}`,
    };
  }
  const split = autoCalibrationSplit(sets);
  const fit = subsetOf(dataset, split.fit);
  const judge = subsetOf(dataset, split.judge);
  const keepFloat = new Set(Array.isArray(options.keepFloatMode) ? options.keepFloatMode : []);
  const reference = await createInferenceRunner(encodeModel(original));
  const tried: Array<{ candidate: CalibrationCandidate; label: string; worstSqnrDb: number | null; worstCosine: number | null }> = [];
  try {
    const percentiles = AUTO_RANGE_METHODS.flatMap((r) => (r.percentile !== undefined ? [r.percentile] : []));
    const ranges = await calibrateRangeCandidates(prepared, activations, fit, percentiles, options.signal ? { signal: options.signal } : {});
    const judgeCandidate = async (candidate: CalibrationCandidate, base: OnnxModel): Promise<void> => {
      const calibration = { ranges: candidate.percentile !== undefined ? ranges.percentiles.get(candidate.percentile)! : ranges.minmax };
      const rounds = candidate.biasCorrectionRounds;
      const model = cloneModel(base);
      const quantize = (m: OnnxModel): PassResult => quantizeInt8(m, types, calibration.ranges, { ...options, keepFloat });
      if (rounds > 0) await correctBiases(model, quantize, fit, { rounds, ...(options.signal ? { signal: options.signal } : {}) });
      const quantized = quantize(model);
      const runner = await createInferenceRunner(encodeModel(quantized.model));
      let worstSqnrDb: number | null = null;
      let worstCosine: number | null = null;
      try {
        const metrics = await evaluateRunners(quantized.model, runner, reference, judge, options.signal ? { signal: options.signal } : {});
        const outputs = metrics.outputs ?? [];
        const sqnrs = outputs.map((o) => o.sqnrDb).filter((v) => !Number.isNaN(v));
        const cosines = outputs.map((o) => o.cosine).filter((v) => !Number.isNaN(v));
        worstSqnrDb = sqnrs.length > 0 ? Math.min(...sqnrs) : metrics.sqnrDb;
        worstCosine = cosines.length > 0 ? Math.min(...cosines) : metrics.cosine;
      } catch (error) {
        if (error instanceof EdgetuneError && error.code === 'ABORTED') throw error;
      } finally {
        await runner.release();
      }
      tried.push({ candidate, label: candidateLabel(candidate), worstSqnrDb, worstCosine });
    };
    const total = AUTO_RANGE_METHODS.length * bcChoices.length + (unrounded ? 1 : 0);
    for (const range of AUTO_RANGE_METHODS) {
      for (const rounds of bcChoices) {
        options.onProgress?.('auto calibration', tried.length + 1, total);
        await judgeCandidate({ method: range.method, percentile: range.percentile, biasCorrectionRounds: rounds }, prepared);
      }
    }
    // The best of those again with nearest rounding: adaptive rounding is kept only where it judges better.
    const leader = rankCandidates(tried)[0];
    if (unrounded && leader) {
      options.onProgress?.('auto calibration', total, total);
      await judgeCandidate({ ...leader.candidate, adaptiveRounding: false }, unrounded);
    }
  } finally {
    await reference.release();
  }
  // The worst output is the one with the lowest cosine (as every accuracy bound reads it); SQNR breaks ties. On
  // M-LSD large the SQNR order picked a candidate 0.16 lower in scores cosine on the evaluation photos.
  const ranked = rankCandidates(tried);
  // Nothing ran (every candidate failed): the defaults, and the quantizer's own checks decide.
  const fallback: CalibrationCandidate = { method: 'minmax', biasCorrectionRounds: requestedRounds };
  const best = ranked[0] ?? { candidate: fallback, label: candidateLabel(fallback) };
  const figures = tried.map((t) => `${t.label} ${t.worstCosine === null ? 'failed' : `${t.worstCosine.toFixed(4)} (${t.worstSqnrDb?.toFixed(1)} dB)`}`).join(', ');
  return {
    chosen: best.candidate,
    report: { fitSets: split.fit.length, judgedSets: split.judge.length, candidates: tried.map((t) => ({ label: t.label, worstSqnrDb: t.worstSqnrDb, worstCosine: t.worstCosine })), chosen: best.label },
    note: `calibration auto: ${best.label} (worst-output cosine, and SQNR, on ${split.judge.length} held-out calibration set(s), fitted to the other ${split.fit.length}: ${figures})`,
  };
}

/** Candidates that ran, best first: highest worst-output cosine, SQNR breaking ties. */
function rankCandidates<T extends { worstSqnrDb: number | null; worstCosine: number | null }>(tried: readonly T[]): T[] {
  return tried
    .filter((t) => t.worstCosine !== null && !Number.isNaN(t.worstCosine))
    .sort((a, b) => b.worstCosine! - a.worstCosine! || (b.worstSqnrDb ?? -Infinity) - (a.worstSqnrDb ?? -Infinity));
}

/** Float islands on large tensors → exact table lookups, with the counts in the report's notes and details. */
async function replaceIslands(quantized: PassResult, dataset: Dataset): Promise<LookupIslandsReport> {
  const inputShapes = calibrationInputShapes(quantized.model, dataset);
  const { model, lookups } = await lookupIslands(quantized.model, { minElements: LOOKUP_MIN_ELEMENTS, inputShapes });
  quantized.model = model;
  quantized.report.nodesChanged += lookups.replaced;
  quantized.report.details = { ...quantized.report.details, lookupIslands: lookups };
  const small = lookups.leftSmall > 0 ? `; ${lookups.leftSmall} island(s) on tensors under ${lookups.minElements} elements left float (a lookup does not pay there)` : '';
  if (lookups.replaced > 0) {
    const chains = Object.entries(lookups.byChain).sort((a, b) => b[1] - a[1]).map(([chain, n]) => `${chain} ×${n}`).join(', ');
    quantized.report.notes.push(`${lookups.replaced} float island(s) replaced by exact table lookups (${chains}; ${(lookups.tableBytes / 1024).toFixed(0)} KiB of tables); outputs unchanged${small}`);
  } else if (lookups.leftSmall > 0) {
    quantized.report.notes.push(`lookup islands: none replaced${small}`);
  }
  return lookups;
}

/** Accuracy metric of a candidate: top-1 with labels, else agreement for classifiers, else cosine. */
type Metric = 'top1' | 'agreement' | 'cosine';

/** A candidate's figure on the search's data: the metric, and the upper end of its drop's interval in pp. */
interface CandidateScore {
  value: number;
  metric: Metric;
  baseline: number;
  /** Upper end of the drop's interval at the search's confidence (the drop itself at confidence 0). */
  upperPp: number;
}

/**
 * `--keep-float auto`: keep the fewest most sensitive layers float for which the drop's interval stays within the
 * bound (the fidelity gate's test), then correct biases again for that float set and search below it.
 */
async function mixedPrecisionSearch(
  original: OnnxModel,
  quantize: (keepFloat: ReadonlySet<string>) => PassResult,
  /** The same, with bias correction redone for that float set (null: no bias correction). */
  quantizeCorrected: ((keepFloat: ReadonlySet<string>) => Promise<PassResult>) | null,
  dataset: Dataset,
  boundPp: number,
  options: Int8PipelineOptions,
): Promise<PassResult & { accuracy: NonNullable<Int8PipelineResult['accuracy']> }> {
  const reference = await createInferenceRunner(encodeModel(original));
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  try {
    const score = async (candidate: PassResult, maxSets?: number): Promise<CandidateScore> => {
      const runner = await createInferenceRunner(encodeModel(candidate.model));
      try {
        const metrics = await evaluateRunners(candidate.model, runner, reference, dataset, {
          confidence,
          ...(maxSets ? { maxSets } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        const judged = judgeAccuracy(metrics, 'calibration');
        const scored = (value: number, metric: Metric, baseline: number): CandidateScore => {
          const dropPp = (baseline - value) * 100;
          const ci = judged?.metric === metric && confidence > 0 ? judged.ci : null;
          return { value, metric, baseline, upperPp: ci ? Math.max(dropPp, ci[1]) : dropPp };
        };
        if (metrics.top1 !== null && metrics.referenceTop1 !== null) return scored(metrics.top1, 'top1', metrics.referenceTop1);
        if (metrics.agreement !== null) return scored(metrics.agreement, 'agreement', 1);
        return scored(metrics.cosine ?? 0, 'cosine', 1);
      } finally {
        await runner.release();
      }
    };
    const full = quantize(new Set());
    const first = await score(full);
    const drop = (v: number): number => (first.baseline - v) * 100;
    const accuracyOf = (s: CandidateScore): NonNullable<Int8PipelineResult['accuracy']> => ({ baseline: s.baseline, quantized: s.value, dropPp: drop(s.value), metric: s.metric, upperPp: s.upperPp, confidence });
    if (first.upperPp <= boundPp) return { ...full, accuracy: accuracyOf(first) };
    const layers = quantizedComputeLayers(full);
    // Every layer float is where the search ends when no smaller set holds the bound. When even its interval exceeds
    // the bound, the spread across these samples, not int8, decides: search on the point estimate, and leave the
    // verdict to the fidelity gate (M-LSD tiny: the interval of every-layer-float reaches 17.2 pp on 32 crops).
    const allFloat = quantize(new Set(layers));
    const allFloatScore = await score(allFloat);
    const byInterval = allFloatScore.upperPp <= boundPp;
    const within = (s: CandidateScore): boolean => (byInterval ? s.upperPp : drop(s.value)) <= boundPp;
    const unconfirmable = byInterval
      ? ''
      : `the ${dataset.setNames.length} calibration set(s) cannot confirm a ${boundPp} pp bound even with every layer float (interval up to ${allFloatScore.upperPp.toFixed(2)} pp): judged on the point estimate; `;
    const judgedOn = `; judged on the ${dataset.setNames.length} calibration set(s) it was fitted to`;
    if (within(first)) {
      full.report.notes.push(`mixed precision: ${unconfirmable}every layer int8 (${first.metric} drop ${drop(first.value).toFixed(2)} pp, bound ${boundPp} pp)${judgedOn}`);
      return { ...full, accuracy: accuracyOf(first) };
    }
    // Sensitivity of each compute layer in isolation: quantize it alone, everything else float. Errors compound
    // across layers, so "keep one float" barely moves the metric; "quantize one alone" ranks layers cleanly.
    const sensitivitySets = Math.min(dataset.setNames.length, 2);
    const losses: Array<{ layer: string; loss: number }> = [];
    for (let i = 0; i < layers.length; i++) {
      options.onProgress?.('sensitivity', i + 1, layers.length);
      const others = new Set(layers.filter((_, j) => j !== i));
      const s = await score(quantize(others), sensitivitySets);
      losses.push({ layer: layers[i]!, loss: s.baseline - s.value });
    }
    losses.sort((a, b) => b.loss - a.loss);
    const keepOf = (k: number): Set<string> => new Set(losses.slice(0, k).map((l) => l.layer));
    // Binary search for the fewest most-sensitive layers kept float that meet the bound (k = 0 already failed).
    type Found = { k: number; result: PassResult; score: CandidateScore };
    const search = async (low: number, high: number, found: Found, build: (keep: Set<string>) => PassResult | Promise<PassResult>, stage: string): Promise<Found> => {
      let best = found;
      while (low < high) {
        const mid = Math.floor((low + high) / 2);
        options.onProgress?.(stage, mid, losses.length);
        const candidate = await build(keepOf(mid));
        const s = await score(candidate);
        if (within(s)) {
          best = { k: mid, result: candidate, score: s };
          high = mid;
        } else low = mid + 1;
      }
      return best;
    };
    let best = await search(1, losses.length, { k: losses.length, result: allFloat, score: allFloatScore }, quantize, 'mixed precision');
    // The candidates above share one bias correction, made for the all-int8 model, whose readers' input statistics
    // differ once layers before them stay float. Correct again for the chosen set; where that scores at least as well,
    // search again below it, each candidate corrected for its own set. The metric is not monotone in the number of
    // float layers, so that second search also finds smaller sets the first one stepped over (BlazeFace, bound 5 pp
    // at 95 %: 45 float → 17, with bias correction changing nothing there; M-LSD tiny, point estimate: 6 → 3).
    let recorrected = '';
    if (quantizeCorrected && best.k > 0 && best.k < losses.length && within(best.score)) {
      const before = best;
      const atBest = await quantizeCorrected(keepOf(best.k));
      const s = await score(atBest);
      if (s.value >= before.score.value) {
        best = await search(1, before.k, { k: before.k, result: atBest, score: s }, quantizeCorrected, 'mixed precision (bias corrected)');
        recorrected =
          `; bias correction redone for the ${before.k} float layer(s): ${first.metric} ${before.score.value.toFixed(4)} → ${s.value.toFixed(4)}` +
          (best.k < before.k ? `; a second search below them, each candidate corrected for its own float set, found ${best.k} enough (${best.score.value.toFixed(4)})` : '');
      } else recorrected = `; bias correction redone for the ${before.k} float layer(s) scored lower (${first.metric} ${s.value.toFixed(4)} against ${before.score.value.toFixed(4)}): kept the all-int8 correction`;
    }
    const keep = keepOf(best.k);
    const held = within(best.score);
    const interval = byInterval && confidence > 0 ? `, ${+(confidence * 100).toFixed(1)} % interval up to ${best.score.upperPp.toFixed(2)} pp` : '';
    best.result.report.notes.push(
      `mixed precision: ${unconfirmable}` +
        (held
          ? `${keep.size} of ${layers.length} layer(s) kept float to hold the ${first.metric} drop at ${drop(best.score.value).toFixed(2)} pp${interval} (bound ${boundPp} pp; fully quantized: ${drop(first.value).toFixed(2)} pp)`
          : `even with every quantized layer float the ${first.metric} drop is ${drop(best.score.value).toFixed(2)} pp (bound ${boundPp} pp)`) +
        recorrected +
        judgedOn,
    );
    for (const entry of best.result.report.nodesKeptFloat) {
      const l = losses.find((x) => x.layer === entry.node);
      if (l && keep.has(entry.node)) entry.reason = `accuracy-sensitive: quantized alone it costs ${(l.loss * 100).toFixed(2)} pp of ${first.metric}`;
    }
    return { ...best.result, accuracy: accuracyOf(best.score) };
  } finally {
    await reference.release();
  }
}

function quantizedComputeLayers(result: PassResult): string[] {
  const names: string[] = [];
  for (const node of result.model.graph.nodes) {
    if (!['Conv', 'Gemm', 'MatMul'].includes(node.opType)) continue;
    if (node.inputs.some((i) => i.endsWith('_DequantizeLinear_Output'))) names.push(node.name || node.outputs[0]!);
  }
  return names;
}

/** The static channel count (axis 1) of a rank-4 [N, C, H, W] tensor in `model`, else null (a 1×1 Conv needs rank 4). */
function channelCount(model: OnnxModel): (tensor: string) => number | null {
  const types = inferTensorTypes(model);
  return (tensor) => {
    const shape = types.get(tensor)?.shape;
    const c = shape && shape.length === 4 ? shape[1] : null;
    return typeof c === 'number' && c > 0 ? c : null;
  };
}

/** The compress report's line on HardSwishes run as int8 products. */
function hardSwishProductNote(report: HardSwishProductReport): string {
  const left = Object.entries(report.leftAlone).map(([why, n]) => `${n}: ${why}`).join('; ');
  return `${report.rewritten} HardSwish(es) run as x·HardSigmoid(x) in int8 ops (depthwise 1×1 QLinearConv + QLinearMul)${left ? `; left as they were — ${left}` : ''}`;
}

/**
 * Measure per-channel ranges of every rank-4 tensor a Conv or a float-only op writes, then equalize channels.
 * `products`: HardSwishes will become int8 products, whose channel scale is free (it lands in the HardSigmoid Conv).
 */
async function equalize(model: OnnxModel, dataset: Dataset, options: Int8PipelineOptions, products: boolean): Promise<EqualizeReport> {
  const candidates = equalizationCandidates(model, inferTensorTypes(model));
  const ranges = await calibrateChannelRanges(model, candidates, dataset, {
    maxSets: 16,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // Island inputs are equalized where the island will become a table lookup (the channel-scale Mul is folded into
  // the table); elsewhere only with `full`, since a Mul in front of a float island costs speed.
  const lookup = options.equalizeLookupIslandInputs ?? options.lookupIslands !== false ? becomesLookup(model, dataset) : () => false;
  const product = new Set(products ? hardSwishAsProduct(model.graph, { dryRun: true }).inputs : []);
  const islandInputs = options.equalize === 'full' ? true : (tensor: string): boolean => product.has(tensor) || lookup(tensor);
  return equalizeChannels(model.graph, ranges, { islandInputs });
}

/** The shapes of the model's real inputs in the first calibration sample. */
function calibrationInputShapes(model: OnnxModel, dataset: Dataset): Record<string, number[]> {
  const inputShapes: Record<string, number[]> = {};
  const first = dataset.load(0);
  realInputs(model).forEach((input, i) => {
    const t = first.inputs[i];
    if (t) inputShapes[input.name] = [...t.dims];
  });
  return inputShapes;
}

/** Whether an island on `tensor` will be big enough for the lookup pass (its size rule, at the calibration shape). */
function becomesLookup(model: OnnxModel, dataset: Dataset): (tensor: string) => boolean {
  const types = inferTensorTypes(model, { inputShapes: calibrationInputShapes(model, dataset) });
  return (tensor) => {
    const n = elementsOf(types.get(tensor)?.shape);
    return n === null || n >= LOOKUP_MIN_ELEMENTS;
  };
}
