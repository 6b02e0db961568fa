/**
 * From eval metrics to a decision: the accuracy figure of a variant against its original with its confidence
 * interval, whether a bound on its drop is confirmed, and the fidelity gate that every command writing or
 * activating a variant applies (collapsed outputs, a missed bound). Pure.
 */
import { clopperPearsonInterval, samplesToConfirm, samplesToConfirmDrop } from './confidence.js';
import type { FidelityMetrics } from './fidelity.js';

/**
 * top1 with labels; agreement (top-1 match with the original) for classifiers without labels; cosine otherwise;
 * for detectors (`--task detection`) COCO mAP@[.5:.95] or, for text detectors, hmean — against labels, or against
 * the original's own detections.
 */
export type AccuracyMetric = 'top1' | 'agreement' | 'cosine' | 'map5095' | 'hmean';
/** How a metric is named in messages: `mAP@.5:.95` rather than `map5095`. */
export function accuracyMetricLabel(metric: AccuracyMetric): string {
  return metric === 'map5095' ? 'mAP@.5:.95' : metric;
}

/** The samples a figure was measured on: held out from every fit, or the data the variant was fitted to. */
export type JudgedOn = 'validation' | 'calibration' | 'synthetic';

/** An accuracy figure of a variant against its original (SPEC: tune candidates' `accuracy`). */
export interface AccuracyJudgement {
  metric: AccuracyMetric;
  /** The variant's value of the metric (top-1 as a fraction, agreement as a fraction, mean cosine of the worst output). */
  value: number;
  /** The original's value on the same samples (1 for agreement and cosine). */
  baseline: number;
  /** (baseline − value) × 100, in percentage points. */
  drop: number;
  /** Interval of `drop` in percentage points, at `confidence` (paired: the same samples through both models). */
  ci: [number, number];
  confidence: number;
  samples: number;
  judgedOn: JudgedOn;
  /** Top-1 agreement with the original (classifiers), and the worst output's mean cosine. */
  agreement: number | null;
  cosine: number | null;
  /** Collapse findings (an output constant across samples, one class for all); empty when none. */
  collapsed: string[];
}

/** Whether a drop bound is met, and if not, whether the samples could ever have confirmed it. */
export interface BoundCheck {
  boundPp: number;
  /** The interval's upper end (the point estimate at confidence 0) is within the bound. */
  met: boolean;
  /** The point estimate is within the bound but the interval is too wide to confirm it. */
  unconfirmed: boolean;
  /** About how many samples (at the observed rates) would confirm the bound; null when the estimate misses it or it cannot be said. */
  samplesNeeded: number | null;
  /** One sentence with the figures. */
  message: string;
}

const pct = (v: number): string => (Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const confidenceLabel = (c: number): string => `${+(c * 100).toFixed(1)} %`;

/** The accuracy figure of a variant from its eval against the original: top-1 with labels, else agreement, else cosine. */
export function judgeAccuracy(m: FidelityMetrics, judgedOn: JudgedOn): AccuracyJudgement | null {
  const confidence = m.intervals.confidence;
  const common = { confidence, samples: m.samples, judgedOn, agreement: m.agreement, cosine: m.cosine, collapsed: m.collapsed };
  const d = m.detection;
  if (d) {
    if (!d.drop) return null;
    // Labels: the original's figure on them; without: the variant against the original's detections (1 = identical).
    const value = d.metric === 'hmean' ? d.hmean!.hmean : d.map5095;
    const baseline = d.mode === 'labels' ? (d.metric === 'hmean' ? d.hmean!.reference!.hmean : d.referenceMap!.map5095) : 1;
    const shown = d.mode === 'labels' ? value : baseline - d.drop.points / 100;
    return { metric: d.metric, value: shown, baseline, drop: d.drop.points, ci: d.drop.ci, ...common, samples: d.images };
  }
  if (m.top1 !== null && m.referenceTop1 !== null && m.intervals.top1Drop) {
    const [lo, hi] = m.intervals.top1Drop;
    return { metric: 'top1', value: m.top1, baseline: m.referenceTop1, drop: (m.referenceTop1 - m.top1) * 100, ci: [lo * 100, hi * 100], ...common };
  }
  if (m.agreement !== null && m.intervals.agreement) {
    const [lo, hi] = m.intervals.agreement;
    return { metric: 'agreement', value: m.agreement, baseline: 1, drop: (1 - m.agreement) * 100, ci: [(1 - hi) * 100, (1 - lo) * 100], ...common };
  }
  if (m.cosine !== null && m.intervals.cosine) {
    const [lo, hi] = m.intervals.cosine;
    return { metric: 'cosine', value: m.cosine, baseline: 1, drop: (1 - m.cosine) * 100, ci: [(1 - hi) * 100, (1 - lo) * 100], ...common };
  }
  return null;
}

/** The judgement of the original against itself: no drop, no interval. */
export function identityJudgement(metric: AccuracyMetric, baseline: number, samples: number, judgedOn: JudgedOn, confidence: number): AccuracyJudgement {
  return { metric, value: baseline, baseline, drop: 0, ci: [0, 0], confidence, samples, judgedOn, agreement: metric === 'cosine' ? null : 1, cosine: 1, collapsed: [] };
}

/**
 * Check a drop bound on a judgement: met only when the interval's upper end is within it (the point estimate at
 * confidence 0). When the estimate is within but the interval is not, the message says how wide the interval is
 * and about how many samples would confirm the bound.
 */
export function checkBound(j: AccuracyJudgement, boundPp: number, pairedCounts: FidelityMetrics['pairedCounts'] = null): BoundCheck {
  const upper = j.confidence === 0 ? j.drop : j.ci[1];
  const what = `${accuracyMetricLabel(j.metric)} drop ${pct(j.drop)} pp`;
  const interval = j.confidence === 0 ? '' : ` (${confidenceLabel(j.confidence)} interval ${pct(j.ci[0])} … ${pct(j.ci[1])} pp, ${j.samples} samples)`;
  if (upper <= boundPp) return { boundPp, met: true, unconfirmed: false, samplesNeeded: null, message: `${what}${interval} within the ${boundPp} pp bound` };
  if (j.drop >= boundPp) return { boundPp, met: false, unconfirmed: false, samplesNeeded: null, message: `${what}${interval} exceeds the ${boundPp} pp bound` };
  const needed = samplesToConfirmBound(j, boundPp, pairedCounts);
  return {
    boundPp,
    met: false,
    unconfirmed: true,
    samplesNeeded: needed,
    message:
      `${what}, but with ${j.samples} samples the ${confidenceLabel(j.confidence)} interval reaches ${pct(j.ci[1])} pp: a ${boundPp} pp bound cannot be confirmed` +
      (needed !== null ? `; about ${needed} validation samples would (at the observed rates)` : ''),
  };
}

function samplesToConfirmBound(j: AccuracyJudgement, boundPp: number, pairedCounts: FidelityMetrics['pairedCounts']): number | null {
  if (j.metric === 'top1' && pairedCounts) return samplesToConfirmDrop(pairedCounts, boundPp / 100, j.confidence);
  if (j.metric === 'agreement') {
    const rate = j.value;
    return samplesToConfirm((n) => (1 - clopperPearsonInterval(Math.round(rate * n), n, j.confidence)[0]) * 100, boundPp, j.samples);
  }
  // cosine: a bootstrap interval's half-width shrinks as 1/√n.
  const half = j.ci[1] - j.drop;
  if (!(half > 0)) return null;
  return samplesToConfirm((n) => j.drop + half * Math.sqrt(j.samples / n), boundPp, j.samples);
}

/** The outcome of a fidelity gate: passed, or the failures in words. */
export interface FidelityGate {
  passed: boolean;
  /** Why it failed (collapse findings, a missed or unconfirmed bound); empty when it passed. */
  failures: string[];
  judgement: AccuracyJudgement | null;
  bound: BoundCheck | null;
}

/**
 * The gate of every command that writes or activates a variant: it fails when an output collapsed (constant where
 * the original varies, one class for every sample) or when a bound was given and is not confirmed.
 */
export function fidelityGate(m: FidelityMetrics, options: { judgedOn: JudgedOn; maxAccuracyDropPp?: number | undefined }): FidelityGate {
  const judgement = judgeAccuracy(m, options.judgedOn);
  const failures = [...m.collapsed];
  // A NaN figure with a finite original comes from NaN or ∞ the variant introduced. When the original's own output
  // is not finite on this data there is nothing sound to compare with, and the gate does not blame the variant.
  for (const o of m.outputs ?? []) {
    if ((Number.isNaN(o.cosine) || Number.isNaN(o.sqnrDb)) && !o.referenceNonFinite) failures.push(`output '${o.name}' has NaN or infinite values where the original's are finite`);
  }
  let bound: BoundCheck | null = null;
  if (options.maxAccuracyDropPp !== undefined) {
    if (!judgement) failures.push(`a ${options.maxAccuracyDropPp} pp bound cannot be checked: no output could be compared with the original`);
    else {
      bound = checkBound(judgement, options.maxAccuracyDropPp, m.pairedCounts);
      if (!bound.met) failures.push(bound.message);
    }
  }
  return { passed: failures.length === 0, failures, judgement, bound };
}

/** "judged on 256 validation samples" / "judged on the calibration data (256 samples)". */
export function judgedOnLabel(judgedOn: JudgedOn, samples: number): string {
  if (judgedOn === 'validation') return `judged on ${samples} held-out validation samples`;
  if (judgedOn === 'synthetic') return `judged on ${samples} synthesized inputs (no data given)`;
  return `judged on calibration data (${samples} samples the variant was fitted to)`;
}
