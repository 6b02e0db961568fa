/**
 * Accuracy and fidelity metrics (SPEC `eval` JSON), accumulated batch by batch. Pure. Rows are per-sample output
 * vectors (axis 0 = batch, the rest flattened); classification metrics need rank-2 outputs [batch, classes].
 * Fidelity is measured on every output given (`addOutputs`); the top-level cosine and SQNR are the worst output's.
 */

import { bootstrapMeanInterval, clopperPearsonInterval, isConfidenceLevel, pairedDifferenceInterval, type PairedCounts } from './confidence.js';
import { mulberry32 } from '../util/random.js';
import type { DetectionMetrics } from '../detect/detection-metrics.js';

/**
 * A model output is collapsed when the RMS spread of its values across samples is at most this fraction of the
 * reference's: near-constant where the original varies (a quantized map stuck at 0.5, logits that no input moves).
 */
export const COLLAPSE_RELATIVE_SPREAD = 1e-3;
/**
 * A classifier's predictions have collapsed when it gives one class for every sample while the original gives
 * other classes for at least this share of the samples (and at least two of them).
 */
export const COLLAPSE_MINORITY_SHARE = 0.05;
/** Default confidence of the intervals in the metrics. */
export const DEFAULT_CONFIDENCE = 0.95;
/** Seed of the bootstrap intervals: the same data gives the same interval. */
export const BOOTSTRAP_SEED = 20261202;
/** Resamples of the bootstrap intervals. */
export const BOOTSTRAP_RESAMPLES = 2000;

/** Fidelity of one model output against the reference's output of the same name (or position). */
export interface OutputFidelity {
  name: string;
  /** Mean over samples of the per-sample cosine similarity. */
  cosine: number;
  /** 10·log10(Σ ref² / Σ (out − ref)²) over all values of this output. */
  sqnrDb: number;
  maxAbsError: number;
  /** Near-constant across samples where the reference's output varies (a quantized output stuck at one value). */
  collapsed: boolean;
  /**
   * R² of the model's output against the original's variation across samples (per position, about its mean): 1 −
   * Σ error² / Σ (reference − mean)². ≤ 0 means no closer to the original than a constant output (a gate failure).
   */
  explainedVariation: number | null;
  /** The original's output itself held NaN or ±∞ on these samples (then NaN figures are the original's, not the variant's). */
  referenceNonFinite: boolean;
  /** Interval of `cosine` (bootstrap over samples, at `FidelityMetrics.intervals.confidence`). */
  cosineCi: [number, number];
  /** Interval of `sqnrDb` (bootstrap over samples). */
  sqnrDbCi: [number, number];
}

/** 95 % (or the chosen confidence) intervals of the metrics, computed on the same paired samples. */
export interface MetricIntervals {
  /** 0 = point estimates (each interval is [value, value]). */
  confidence: number;
  /** Top-1 drop as a fraction (reference − model), paired: Newcombe's hybrid score interval. */
  top1Drop: [number, number] | null;
  /** Agreement with the reference: exact (Clopper–Pearson) binomial interval. */
  agreement: [number, number] | null;
  /** Worst output's cosine: percentile bootstrap over samples (fixed seed). */
  cosine: [number, number] | null;
  /** Worst output's SQNR: percentile bootstrap over samples (fixed seed). */
  sqnrDb: [number, number] | null;
}

/**
 * Agreement of a sequence output ([batch, positions, classes], a text recognizer's per-step class scores) with the
 * reference: the class (argmax over the last axis) at each position.
 */
export interface SequenceAgreement {
  /** The output compared (the classification output). */
  output: string;
  /** Positions compared over all samples (Σ T). */
  positions: number;
  /** Share of positions whose class agrees with the reference's (mean over samples of each sample's share). */
  agreement: number;
  /** Interval of `agreement` (percentile bootstrap over samples, fixed seed): positions of one sample are not independent. */
  ci: [number, number];
  /** Samples whose class agrees at every position. */
  identicalSamples: number;
}

/** Final metrics; null where a metric does not apply (no labels, no reference, not a classifier). */
export interface FidelityMetrics {
  samples: number;
  /** top1, agreement, kl and referenceTop1 are those of the classification output (output 0 unless chosen). */
  top1: number | null;
  agreement: number | null;
  /** Cosine of the worst output (`worstOutput`); of the only output compared when outputs are not named. */
  cosine: number | null;
  /** SQNR of the worst output (`worstOutput`). */
  sqnrDb: number | null;
  kl: number | null;
  /** Top-1 of the reference model on the same labels (when both exist). */
  referenceTop1: number | null;
  /** Per-output fidelity in model output order; null without a reference or when outputs were not named (`add`). */
  outputs: OutputFidelity[] | null;
  /** Name of the output with the lowest cosine (ties: the lowest SQNR); null when `outputs` is. */
  worstOutput: string | null;
  /** Intervals of top-1 drop, agreement, cosine and SQNR on these samples. */
  intervals: MetricIntervals;
  /** Labelled samples through both models: which were right in each (null without labels and a reference). */
  pairedCounts: PairedCounts | null;
  /** What has collapsed, in words (an output constant across samples, one class for every sample); empty when nothing. */
  collapsed: string[];
  /**
   * Per-position agreement when the classification output is a sequence [batch, positions, classes] and a reference
   * was given (`agreement` is null then: it is the top-1 agreement of [batch, classes] outputs); null otherwise.
   * Optional: metrics read back from stored reports may predate it.
   */
  sequenceAgreement?: SequenceAgreement | null;
  /** Detector figures (mAP, agreement, hmean) when the eval ran with a decoder (`--task detection`); absent otherwise. */
  detection?: DetectionMetrics | null;
}

/** One output of one batch, for `FidelityAccumulator.addOutputs`. */
export interface OutputBatch {
  name: string;
  values: ArrayLike<number>;
  dims: readonly number[];
  /** The reference model's output of the same shape. */
  reference?: ArrayLike<number>;
}

/** Index of the largest value in row `r` of a [rows, width] array. */
export function argmaxRow(values: ArrayLike<number>, r: number, width: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let j = 0; j < width; j++) {
    const v = values[r * width + j]!;
    if (v > bestValue) {
      bestValue = v;
      best = j;
    }
  }
  return best;
}

/** Softmax of one row at temperature T, in float64. */
export function softmaxRow(values: ArrayLike<number>, r: number, width: number, temperature = 1): Float64Array {
  const out = new Float64Array(width);
  let max = -Infinity;
  for (let j = 0; j < width; j++) max = Math.max(max, values[r * width + j]! / temperature);
  let sum = 0;
  for (let j = 0; j < width; j++) {
    out[j] = Math.exp(values[r * width + j]! / temperature - max);
    sum += out[j]!;
  }
  for (let j = 0; j < width; j++) out[j]! /= sum;
  return out;
}

/** KL(p‖q) of two probability vectors, with q floored at 1e-12. */
export function klOfDistributions(p: Float64Array, q: Float64Array): number {
  let kl = 0;
  for (let j = 0; j < p.length; j++) if (p[j]! > 0) kl += p[j]! * Math.log(p[j]! / Math.max(q[j]!, 1e-12));
  return kl;
}

/** A growable Float64Array. */
class Float64List {
  private data = new Float64Array(64);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** SQNR in dB of summed signal and noise energies. */
function sqnrOf(signal: number, noise: number): number {
  return noise === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
}

/** Percentile-bootstrap interval of SQNR = Σ signal / Σ noise over resampled samples (fixed seed). */
function bootstrapSqnrInterval(signal: Float64Array, noise: Float64Array, confidence: number): [number, number] {
  const n = signal.length;
  let s = 0;
  let e = 0;
  for (let i = 0; i < n; i++) {
    s += signal[i]!;
    e += noise[i]!;
  }
  const point = sqnrOf(s, e);
  if (confidence === 0 || n < 2) return [point, point];
  const random = mulberry32(BOOTSTRAP_SEED);
  const values = new Float64Array(BOOTSTRAP_RESAMPLES);
  for (let r = 0; r < BOOTSTRAP_RESAMPLES; r++) {
    let rs = 0;
    let re = 0;
    for (let i = 0; i < n; i++) {
      const k = Math.floor(random() * n);
      rs += signal[k]!;
      re += noise[k]!;
    }
    values[r] = sqnrOf(rs, re);
  }
  values.sort();
  const alpha = (1 - confidence) / 2;
  const at = (q: number): number => values[Math.min(BOOTSTRAP_RESAMPLES - 1, Math.max(0, Math.floor(q * BOOTSTRAP_RESAMPLES)))]!;
  return [at(alpha), at(1 - alpha)];
}

/** Fidelity of one output, accumulated over samples: cosine, SQNR, max error, spread across samples. */
class OutputComparison {
  samples = 0;
  private readonly cosines = new Float64List();
  private readonly signals = new Float64List();
  private readonly noises = new Float64List();
  private maxAbsError = 0;
  // Spread across samples: squared deviation of every sample from the first one, for the model and the reference.
  private first: Float64Array | null = null;
  private firstReference: Float64Array | null = null;
  private spread = 0;
  private referenceSpread = 0;
  private widthVaries = false;
  // Per position, the reference's sum and sum of squares across samples: its variation, for R².
  private referenceSum: Float64Array | null = null;
  private referenceSumSq: Float64Array | null = null;
  private noiseTotal = 0;
  private referenceNonFinite = false;

  constructor(readonly name: string) {}

  /** Add `rows` samples of `width` values each. */
  add(output: ArrayLike<number>, reference: ArrayLike<number>, rows: number, width: number): void {
    for (let r = 0; r < rows; r++) {
      this.samples++;
      const base = r * width;
      if (!this.first) {
        this.first = new Float64Array(width);
        this.firstReference = new Float64Array(width);
        for (let j = 0; j < width; j++) {
          this.first[j] = output[base + j]!;
          this.firstReference[j] = reference[base + j]!;
        }
      }
      if (this.first.length !== width) this.widthVaries = true;
      const first = this.widthVaries ? null : this.first;
      const firstReference = this.firstReference!;
      let dot = 0;
      let na = 0;
      let nb = 0;
      let noise = 0;
      for (let j = 0; j < width; j++) {
        const a = output[base + j]!;
        const b = reference[base + j]!;
        if (!Number.isFinite(b)) this.referenceNonFinite = true;
        // The same NaN or infinity in both (sqrt of a negative, a cast of "NaN") is agreement, left out of the sums;
        // a non-finite value in one of them only propagates (NaN figures: the gate fails).
        if (!Number.isFinite(a) && (a === b || (Number.isNaN(a) && Number.isNaN(b)))) continue;
        dot += a * b;
        na += a * a;
        nb += b * b;
        const e = a - b;
        noise += e * e;
        const abs = Math.abs(e);
        if (abs > this.maxAbsError || Number.isNaN(abs)) this.maxAbsError = abs;
        if (first) {
          const da = a - first[j]!;
          const db = b - firstReference[j]!;
          if (Number.isFinite(da) && Number.isFinite(db)) {
            this.spread += da * da;
            this.referenceSpread += db * db;
          }
        }
      }
      if (!this.widthVaries) {
        this.referenceSum ??= new Float64Array(width);
        this.referenceSumSq ??= new Float64Array(width);
        for (let j = 0; j < width; j++) {
          const b = reference[base + j]!;
          const a = output[base + j]!;
          if (!Number.isFinite(a) && (a === b || (Number.isNaN(a) && Number.isNaN(b)))) continue;
          this.referenceSum[j]! += b;
          this.referenceSumSq[j]! += b * b;
        }
      }
      this.noiseTotal += noise;
      this.signals.push(nb);
      this.noises.push(noise);
      this.cosines.push(na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb));
    }
  }

  /** Near-constant across samples where the reference varies; the finding in words, or null. */
  /**
   * Share of the reference's variation across samples (per position, about its mean) that the model reproduces:
   * 1 − Σ error² / Σ (reference − its mean)². ≤ 0: no closer to the original than a constant output would be. Null
   * with fewer than two samples, varying widths, or a reference that does not vary.
   */
  explainedVariation(): number | null {
    if (this.samples < 2 || this.widthVaries || !this.referenceSum || !this.referenceSumSq) return null;
    let variation = 0;
    for (let j = 0; j < this.referenceSum.length; j++) variation += this.referenceSumSq[j]! - (this.referenceSum[j]! * this.referenceSum[j]!) / this.samples;
    return variation > 0 ? 1 - this.noiseTotal / variation : null;
  }

  /** No closer to the original than a constant output would be (and not already collapsed); in words, or null. */
  uninformative(): string | null {
    if (this.collapse() !== null) return null;
    const r2 = this.explainedVariation();
    if (r2 === null || !(r2 <= 0)) return null;
    return `output '${this.name}' is no closer to the original than a constant output would be: its error is ${(1 - r2).toFixed(2)} × the original's variation across the ${this.samples} samples (R² ${r2.toFixed(2)})`;
  }

  collapse(): string | null {
    // Constant values imply a constant per-sample mean, so the value spread alone decides. Squared sums: the
    // relative bound on the RMS spread is squared.
    if (this.samples > 1 && !this.widthVaries && this.referenceSpread > 0 && this.spread <= COLLAPSE_RELATIVE_SPREAD ** 2 * this.referenceSpread) {
      const ratio = Math.sqrt(this.spread / this.referenceSpread);
      return `output '${this.name}' is ${ratio === 0 ? 'constant' : 'near-constant'} across the ${this.samples} samples where the original's varies (spread ${ratio === 0 ? '0' : ratio.toExponential(1)} × the original's)`;
    }
    return null;
  }

  result(confidence: number): OutputFidelity {
    const cosines = this.cosines.view();
    const signals = this.signals.view();
    const noises = this.noises.view();
    let signal = 0;
    let noise = 0;
    for (let i = 0; i < signals.length; i++) {
      signal += signals[i]!;
      noise += noises[i]!;
    }
    // A non-finite cosine (NaN outputs) has no interval: the mean is NaN and so are its ends.
    const finite = cosines.every((v) => Number.isFinite(v));
    const cosine = finite
      ? bootstrapMeanInterval(cosines, confidence, { seed: BOOTSTRAP_SEED, resamples: BOOTSTRAP_RESAMPLES })
      : { mean: Number.NaN, interval: [Number.NaN, Number.NaN] as [number, number] };
    return {
      name: this.name,
      cosine: cosine.mean,
      sqnrDb: sqnrOf(signal, noise),
      maxAbsError: this.maxAbsError,
      collapsed: this.collapse() !== null,
      explainedVariation: this.explainedVariation(),
      referenceNonFinite: this.referenceNonFinite,
      cosineCi: cosine.interval,
      sqnrDbCi: bootstrapSqnrInterval(signals, noises, confidence),
    };
  }
}

/** Whether output fidelity `a` is worse than `b`: lower cosine (NaN lowest), then lower SQNR. */
function worse(a: OutputFidelity, b: OutputFidelity): boolean {
  const ca = Number.isNaN(a.cosine) ? -Infinity : a.cosine;
  const cb = Number.isNaN(b.cosine) ? -Infinity : b.cosine;
  if (ca !== cb) return ca < cb;
  const sa = Number.isNaN(a.sqnrDb) ? -Infinity : a.sqnrDb;
  const sb = Number.isNaN(b.sqnrDb) ? -Infinity : b.sqnrDb;
  return sa < sb;
}

/** The worst of several output fidelities (lowest cosine, ties by SQNR); the first on a full tie. */
export function worstOutputOf(outputs: readonly OutputFidelity[]): OutputFidelity | undefined {
  let worst: OutputFidelity | undefined;
  for (const o of outputs) if (!worst || worse(o, worst)) worst = o;
  return worst;
}

/** Options of a `FidelityAccumulator`. */
export interface FidelityOptions {
  /** Softmax temperature for KL (default 1). */
  temperature?: number;
  /** Confidence of the intervals (default 0.95; 0 = point estimates). */
  confidence?: number;
  /**
   * Report an output with R² ≤ 0 (no closer to the original than a constant) as a finding (default true). Off for
   * synthesized inputs: the original's variation across random inputs is no scale for the error on real ones.
   */
  checkExplainedVariation?: boolean;
}

/** Streaming accumulator of the eval metrics. */
export class FidelityAccumulator {
  private samples = 0;
  private correct = 0;
  private referenceCorrect = 0;
  private labelled = 0;
  private agree = 0;
  private klSum = 0;
  private compared = 0;
  private classifier = true;
  private readonly comparisons = new Map<string, OutputComparison>();
  private named = false;
  private readonly temperature: number;
  private readonly confidence: number;
  private readonly checkExplainedVariation: boolean;
  // Labelled samples through both models: both right, only the reference right, only the model right, both wrong.
  private readonly paired = { bothCorrect: 0, onlyReferenceCorrect: 0, onlyVariantCorrect: 0, bothWrong: 0 };
  // Predicted classes (classification output), of the model and of the reference.
  private readonly predicted = new Map<number, number>();
  private readonly referencePredicted = new Map<number, number>();
  private classOutputName = '';
  // Sequence outputs [batch, positions, classes]: per sample, the share of positions whose class agrees.
  private readonly sequenceShares = new Float64List();
  private sequencePositions = 0;
  private sequenceIdentical = 0;

  /** `options` as a number is the temperature (older callers). */
  constructor(options: FidelityOptions | number = {}) {
    const o = typeof options === 'number' ? { temperature: options } : options;
    this.temperature = o.temperature ?? 1;
    this.confidence = o.confidence ?? DEFAULT_CONFIDENCE;
    this.checkExplainedVariation = (typeof options === 'number' ? undefined : options.checkExplainedVariation) ?? true;
    if (!isConfidenceLevel(this.confidence)) throw new RangeError(`confidence must be 0 or in (0, 1); got ${this.confidence}`);
  }

  /**
   * Add one batch of a single output: `output` of the model under test with its dims, optional `reference` output of
   * the same shape, optional int labels. The result then has no per-output list (`outputs: null`).
   */
  add(output: ArrayLike<number>, dims: readonly number[], reference?: ArrayLike<number>, labels?: ArrayLike<number | bigint>): void {
    this.addBatch([{ name: '', values: output, dims, ...(reference ? { reference } : {}) }], 0, labels);
  }

  /**
   * Add one batch of every output of the model: fidelity is measured on each output with a reference, the
   * classification metrics (top-1, agreement, KL) on `outputs[classIndex]`.
   */
  addOutputs(outputs: readonly OutputBatch[], labels?: ArrayLike<number | bigint>, classIndex = 0): void {
    if (!outputs[classIndex]) throw new RangeError(`classIndex ${classIndex} is not one of the ${outputs.length} output(s)`);
    this.named = true;
    this.addBatch(outputs, classIndex, labels);
  }

  private addBatch(outputs: readonly OutputBatch[], classIndex: number, labels: ArrayLike<number | bigint> | undefined): void {
    for (const o of outputs) {
      if (o.reference && o.reference.length !== o.values.length) {
        throw new RangeError(`reference output${o.name ? ` '${o.name}'` : ''} has ${o.reference.length} values, the model's has ${o.values.length}`);
      }
    }
    const main = outputs[classIndex]!;
    this.classOutputName = main.name;
    const batch = main.dims[0] ?? 1;
    this.addClassification(main, batch, labels);
    for (const o of outputs) {
      if (!o.reference) continue;
      let comparison = this.comparisons.get(o.name);
      if (!comparison) {
        comparison = new OutputComparison(o.name);
        this.comparisons.set(o.name, comparison);
      }
      // An output without the batch axis first (its size not a multiple of the batch) counts as one sample.
      const rows = o.values.length % batch === 0 ? batch : 1;
      comparison.add(o.values, o.reference, rows, o.values.length / rows);
    }
  }

  private addClassification(o: OutputBatch, batch: number, labels: ArrayLike<number | bigint> | undefined): void {
    const { values: output, reference } = o;
    const width = output.length / batch;
    if (o.dims.length !== 2) this.classifier = false;
    if (o.dims.length === 3 && reference && width > 0) this.addSequence(output, reference, batch, o.dims[1]!, o.dims[2]!);
    for (let r = 0; r < batch; r++) {
      this.samples++;
      const predicted = argmaxRow(output, r, width);
      const referencePredicted = reference ? argmaxRow(reference, r, width) : -1;
      this.predicted.set(predicted, (this.predicted.get(predicted) ?? 0) + 1);
      if (labels) {
        const label = Number(labels[r]);
        this.labelled++;
        if (predicted === label) this.correct++;
        if (reference) {
          const referenceRight = referencePredicted === label;
          if (referenceRight) this.referenceCorrect++;
          const key = referenceRight ? (predicted === label ? 'bothCorrect' : 'onlyReferenceCorrect') : predicted === label ? 'onlyVariantCorrect' : 'bothWrong';
          this.paired[key]++;
        }
      }
      if (reference) {
        this.compared++;
        this.referencePredicted.set(referencePredicted, (this.referencePredicted.get(referencePredicted) ?? 0) + 1);
        if (referencePredicted === predicted) this.agree++;
        this.klSum += klOfDistributions(softmaxRow(reference, r, width, this.temperature), softmaxRow(output, r, width, this.temperature));
      }
    }
  }

  /** Per-position class agreement of a [batch, positions, classes] output with its reference. */
  private addSequence(output: ArrayLike<number>, reference: ArrayLike<number>, batch: number, positions: number, classes: number): void {
    if (positions * classes * batch !== output.length || classes === 0) return;
    for (let r = 0; r < batch; r++) {
      let same = 0;
      for (let t = 0; t < positions; t++) {
        const row = r * positions + t;
        if (argmaxRow(output, row, classes) === argmaxRow(reference, row, classes)) same++;
      }
      this.sequencePositions += positions;
      if (same === positions) this.sequenceIdentical++;
      this.sequenceShares.push(positions === 0 ? 1 : same / positions);
    }
  }

  private sequenceResult(): SequenceAgreement | null {
    const shares = this.sequenceShares.view();
    if (shares.length === 0) return null;
    const { mean, interval } = bootstrapMeanInterval(shares, this.confidence, { seed: BOOTSTRAP_SEED, resamples: BOOTSTRAP_RESAMPLES });
    return { output: this.classOutputName, positions: this.sequencePositions, agreement: mean, ci: interval, identicalSamples: this.sequenceIdentical };
  }

  /** The classifier gives one class for every sample where the reference gives several; in words, or null. */
  private predictionCollapse(): string | null {
    if (!this.classifier || this.compared < 2 || this.predicted.size !== 1) return null;
    let majority = 0;
    for (const count of this.referencePredicted.values()) majority = Math.max(majority, count);
    const minority = this.compared - majority;
    if (minority < 2 || minority / this.compared < COLLAPSE_MINORITY_SHARE) return null;
    const only = [...this.predicted.keys()][0]!;
    return `${this.classOutputName ? `output '${this.classOutputName}' predicts` : 'the model predicts'} class ${only} for all ${this.compared} samples; the original predicts ${this.referencePredicted.size} classes (${((100 * minority) / this.compared).toFixed(1)} % outside its most common one)`;
  }

  /** The metrics so far. */
  result(): FidelityMetrics {
    const hasRef = this.compared > 0;
    const outputs = [...this.comparisons.values()].filter((c) => c.samples > 0).map((c) => c.result(this.confidence));
    const worst = worstOutputOf(outputs);
    const classification = hasRef && this.classifier;
    const pairedCounts = classification && this.labelled > 0 ? { ...this.paired } : null;
    const collapsed = [...this.comparisons.values()]
      .flatMap((c) => [c.collapse(), this.checkExplainedVariation ? c.uninformative() : null])
      .filter((c): c is string => c !== null);
    const prediction = hasRef ? this.predictionCollapse() : null;
    if (prediction) collapsed.unshift(prediction);
    return {
      samples: this.samples,
      top1: this.labelled > 0 && this.classifier ? this.correct / this.labelled : null,
      agreement: classification ? this.agree / this.compared : null,
      cosine: worst ? worst.cosine : null,
      sqnrDb: worst ? worst.sqnrDb : null,
      kl: classification ? this.klSum / this.compared : null,
      referenceTop1: hasRef && this.labelled > 0 && this.classifier ? this.referenceCorrect / this.labelled : null,
      outputs: this.named && worst ? outputs : null,
      worstOutput: this.named && worst ? worst.name : null,
      intervals: {
        confidence: this.confidence,
        top1Drop: pairedCounts ? pairedDifferenceInterval(pairedCounts, this.confidence).interval : null,
        agreement: classification ? clopperPearsonInterval(this.agree, this.compared, this.confidence) : null,
        cosine: worst ? worst.cosineCi : null,
        sqnrDb: worst ? worst.sqnrDbCi : null,
      },
      pairedCounts,
      collapsed,
      sequenceAgreement: this.sequenceResult(),
    };
  }
}
