/**
 * Accuracy and fidelity metrics (SPEC `eval` JSON), accumulated batch by batch. Pure. Rows are per-sample output
 * vectors (axis 0 = batch, the rest flattened); classification metrics need rank-2 outputs [batch, classes].
 */

/** Final metrics; null where a metric does not apply (no labels, no reference, not a classifier). */
export interface FidelityMetrics {
  samples: number;
  top1: number | null;
  agreement: number | null;
  cosine: number | null;
  sqnrDb: number | null;
  kl: number | null;
  /** Top-1 of the reference model on the same labels (when both exist). */
  referenceTop1: number | null;
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

/** Streaming accumulator of the eval metrics. */
export class FidelityAccumulator {
  private samples = 0;
  private correct = 0;
  private referenceCorrect = 0;
  private labelled = 0;
  private agree = 0;
  private cosineSum = 0;
  private signal = 0;
  private noise = 0;
  private klSum = 0;
  private compared = 0;
  private classifier = true;

  constructor(private readonly temperature = 1) {}

  /**
   * Add one batch: `output` of the model under test with its dims, optional `reference` output of the same shape,
   * optional int labels.
   */
  add(output: ArrayLike<number>, dims: readonly number[], reference?: ArrayLike<number>, labels?: ArrayLike<number | bigint>): void {
    const batch = dims[0] ?? 1;
    const width = output.length / batch;
    if (dims.length !== 2) this.classifier = false;
    if (reference && reference.length !== output.length) {
      throw new RangeError(`reference output has ${reference.length} values, the model's has ${output.length}`);
    }
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
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let j = 0; j < width; j++) {
          const a = output[r * width + j]!;
          const b = reference[r * width + j]!;
          dot += a * b;
          na += a * a;
          nb += b * b;
          this.signal += b * b;
          this.noise += (a - b) * (a - b);
        }
        this.cosineSum += na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
        this.klSum += klOfDistributions(softmaxRow(reference, r, width, this.temperature), softmaxRow(output, r, width, this.temperature));
      }
    }
  }

  /** The metrics so far. */
  result(): FidelityMetrics {
    const hasRef = this.compared > 0;
    return {
      samples: this.samples,
      top1: this.labelled > 0 && this.classifier ? this.correct / this.labelled : null,
      agreement: hasRef && this.classifier ? this.agree / this.compared : null,
      cosine: hasRef ? this.cosineSum / this.compared : null,
      sqnrDb: hasRef ? (this.noise === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(this.signal / this.noise)) : null,
      kl: hasRef && this.classifier ? this.klSum / this.compared : null,
      referenceTop1: hasRef && this.labelled > 0 && this.classifier ? this.referenceCorrect / this.labelled : null,
    };
  }
}
