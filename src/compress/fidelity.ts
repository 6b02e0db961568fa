/**
 * Accuracy and fidelity metrics (SPEC `eval` JSON), accumulated batch by batch. Pure. Rows are per-sample output
 * vectors (axis 0 = batch, the rest flattened); classification metrics need rank-2 outputs [batch, classes].
 * Fidelity is measured on every output given (`addOutputs`); the top-level cosine and SQNR are the worst output's.
 */

/** A model output is collapsed when its values spread across samples by at most this fraction of the reference's. */
export const COLLAPSE_RELATIVE_SPREAD = 1e-6;

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

/** Fidelity of one output, accumulated over samples: cosine, SQNR, max error, spread across samples. */
class OutputComparison {
  samples = 0;
  private cosineSum = 0;
  private signal = 0;
  private noise = 0;
  private maxAbsError = 0;
  // Spread across samples: squared deviation of every sample from the first one, for the model and the reference.
  private first: Float64Array | null = null;
  private firstReference: Float64Array | null = null;
  private spread = 0;
  private referenceSpread = 0;
  private widthVaries = false;

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
      for (let j = 0; j < width; j++) {
        const a = output[base + j]!;
        const b = reference[base + j]!;
        dot += a * b;
        na += a * a;
        nb += b * b;
        this.signal += b * b;
        const e = a - b;
        this.noise += e * e;
        const abs = Math.abs(e);
        if (abs > this.maxAbsError || Number.isNaN(abs)) this.maxAbsError = abs;
        if (first) {
          const da = a - first[j]!;
          const db = b - firstReference[j]!;
          this.spread += da * da;
          this.referenceSpread += db * db;
        }
      }
      this.cosineSum += na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
    }
  }

  result(): OutputFidelity {
    // Constant values imply a constant per-sample mean, so the value spread alone decides. Squared sums: the
    // relative bound on the RMS spread is squared.
    const collapsed = this.samples > 1 && !this.widthVaries && this.referenceSpread > 0 && this.spread <= COLLAPSE_RELATIVE_SPREAD ** 2 * this.referenceSpread;
    return {
      name: this.name,
      cosine: this.cosineSum / this.samples,
      sqnrDb: this.noise === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(this.signal / this.noise),
      maxAbsError: this.maxAbsError,
      collapsed,
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

  constructor(private readonly temperature = 1) {}

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
    for (let r = 0; r < batch; r++) {
      this.samples++;
      const predicted = argmaxRow(output, r, width);
      if (labels) {
        const label = Number(labels[r]);
        this.labelled++;
        if (predicted === label) this.correct++;
        if (reference && argmaxRow(reference, r, width) === label) this.referenceCorrect++;
      }
      if (reference) {
        this.compared++;
        if (argmaxRow(reference, r, width) === predicted) this.agree++;
        this.klSum += klOfDistributions(softmaxRow(reference, r, width, this.temperature), softmaxRow(output, r, width, this.temperature));
      }
    }
  }

  /** The metrics so far. */
  result(): FidelityMetrics {
    const hasRef = this.compared > 0;
    const outputs = [...this.comparisons.values()].filter((c) => c.samples > 0).map((c) => c.result());
    const worst = worstOutputOf(outputs);
    return {
      samples: this.samples,
      top1: this.labelled > 0 && this.classifier ? this.correct / this.labelled : null,
      agreement: hasRef && this.classifier ? this.agree / this.compared : null,
      cosine: worst ? worst.cosine : null,
      sqnrDb: worst ? worst.sqnrDb : null,
      kl: hasRef && this.classifier ? this.klSum / this.compared : null,
      referenceTop1: hasRef && this.labelled > 0 && this.classifier ? this.referenceCorrect / this.labelled : null,
      outputs: this.named && worst ? outputs : null,
      worstOutput: this.named && worst ? worst.name : null,
    };
  }
}
