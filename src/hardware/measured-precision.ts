/**
 * The plan's precision, checked against a measurement on the device (issue 12: "`plan` never chooses an int8 variant
 * that measures slower than fp32"). Pure: the caller times fp32 and the quantized variant in alternation on the
 * device and passes the figures in; this decides what to keep and says why, with the numbers.
 *
 * A variant counts as faster only when its p50 speed-up is above 1 and, where the caller gives the interval of the
 * per-pair speed-ups, the whole interval is above 1: a tie, or a difference within the machine's noise, is "not
 * faster" (the rule `tune` applies to quantized candidates). When int8 does not pay, the next precision is fp16 only
 * where the device has fp16 arithmetic that onnxruntime's CPU kernels use (ARM asimdhp; on x86, even with
 * AVX512-FP16, an fp16 model runs through Casts: BENCHMARKS.md issue 14, 0.90× on PP-OCRv4 det) and the weights fit
 * fp16, and only if it too measures faster; otherwise fp32. Which devices qualify is the caller's
 * (`fp16Unavailable`).
 */

/** A quantized variant timed against fp32 on the device, fp32 and the variant alternating run by run. */
export interface MeasuredSpeedup {
  fp32P50Ms: number;
  variantP50Ms: number;
  /** fp32's p50 / the variant's p50. */
  speedup: number;
  /** Interval of the median of the per-pair speed-ups (null when the caller has none). */
  speedupCi: [number, number] | null;
  /** Alternated runs of each. */
  runs: number;
}

/** Precisions `compress --method plan` ends with after the check. */
export type MeasuredPrecisionName = 'int8' | 'fp16' | 'fp32';

/** What to measure and what was measured. */
export interface MeasuredPrecisionInput {
  /** The plan's own precision: int8; fp16 (a device with fp16 arithmetic); or fp32 with int8 as a candidate. */
  planned: 'int8' | 'fp16' | 'fp32';
  /** int8 against fp32 on this device; null: not measured (the plan is kept as it was, unverified). Ignored when fp16 was planned. */
  int8: MeasuredSpeedup | null;
  /** Why fp16 is no alternative here ("no fp16 arithmetic on this device", …); null: it is one, to be measured. */
  fp16Unavailable: string | null;
  /** fp16 against fp32, once int8 did not pay: undefined = not measured yet, null = could not be measured. */
  fp16?: MeasuredSpeedup | null;
}

/** The decision: a precision, or "measure fp16 next" (then call again with `fp16`). */
export type MeasuredPrecision = { precision: MeasuredPrecisionName; reason: string } | { precision: null; measureNext: 'fp16'; reason: string };

/** True when `m` says the variant is faster than fp32 on this device (p50 ratio and its whole interval above 1). */
export function measuredFaster(m: MeasuredSpeedup): boolean {
  if (!(m.speedup > 1)) return false;
  return m.speedupCi === null || m.speedupCi[0] > 1;
}

/** "0.78× of fp32 (p50 13.40 vs 10.45 ms, per-pair interval 0.71–0.86, 20 alternated runs)". */
export function describeMeasuredSpeedup(what: string, m: MeasuredSpeedup): string {
  const ci = m.speedupCi ? `, per-pair interval ${m.speedupCi[0].toFixed(2)}–${m.speedupCi[1].toFixed(2)}` : '';
  return `${what} runs at ${m.speedup.toFixed(2)}× the speed of fp32 on this device (p50 ${m.variantP50Ms.toFixed(2)} vs ${m.fp32P50Ms.toFixed(2)} ms${ci}, ${m.runs} alternated runs)`;
}

/** Which precision to keep, given what was measured on the device. Pure. */
export function chooseMeasuredPrecision(input: MeasuredPrecisionInput): MeasuredPrecision {
  const { planned, int8 } = input;
  if (planned === 'fp16') {
    if (input.fp16 === undefined) return { precision: null, measureNext: 'fp16', reason: 'the plan chose fp16 → measure it against fp32' };
    if (input.fp16 === null) return { precision: 'fp16', reason: 'fp16 not timed against fp32 on this device: the plan\'s fp16 is kept unverified' };
    const text = describeMeasuredSpeedup('fp16', input.fp16);
    return measuredFaster(input.fp16)
      ? { precision: 'fp16', reason: `${text}: faster → fp16` }
      : { precision: 'fp32', reason: `${text}: ${input.fp16.speedup > 1 ? 'not distinguishably faster' : 'not faster'} → keep fp32` };
  }
  if (int8 === null) {
    return planned === 'int8'
      ? { precision: 'int8', reason: 'int8 not timed against fp32 on this device: the plan\'s int8 is kept unverified' }
      : { precision: 'fp32', reason: 'int8 not timed against fp32 on this device: the plan\'s fp32 is kept' };
  }
  const int8Text = describeMeasuredSpeedup('int8', int8);
  if (measuredFaster(int8)) {
    return {
      precision: 'int8',
      reason: `${int8Text}: faster → int8${planned === 'fp32' ? ' (the plan\'s rule of thumb expected it not to pay; the measurement overrides it)' : ''}`,
    };
  }
  const notFaster = `${int8Text}: ${int8.speedup > 1 ? 'not distinguishably faster' : 'not faster'}`;
  if (input.fp16Unavailable !== null) return { precision: 'fp32', reason: `${notFaster} → keep fp32 (fp16 is no alternative: ${input.fp16Unavailable})` };
  if (input.fp16 === undefined) return { precision: null, measureNext: 'fp16', reason: `${notFaster}; the device has fp16 arithmetic → measure fp16` };
  if (input.fp16 === null) return { precision: 'fp32', reason: `${notFaster}; fp16 could not be timed → keep fp32` };
  const fp16Text = describeMeasuredSpeedup('fp16', input.fp16);
  return measuredFaster(input.fp16)
    ? { precision: 'fp16', reason: `${notFaster}; ${fp16Text}: faster → fp16` }
    : { precision: 'fp32', reason: `${notFaster}; ${fp16Text}: not faster either → keep fp32` };
}
