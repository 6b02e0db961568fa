/**
 * The agent's side of the fidelity gate (issue 13: a broken model is never called ok): the verdict on a variant
 * from its eval against the original, the figures a refusal names, and the verdict recorded with a stored variant
 * so that a later `activate` refuses it too. Pure.
 */
import { fidelityGate, judgedOnLabel, type AccuracyJudgement, type BoundCheck, type JudgedOn } from '../compress/accuracy-judgement.js';
import type { FidelityMetrics, MetricIntervals } from '../compress/fidelity.js';
import type { DetectionMetrics } from '../detect/detection-metrics.js';
import type { CompressJson, EvalJson } from './agent-services.js';

/** The compress child's own gate, as its JSON reports it (`fidelity.gate`). */
export interface CompressGate {
  passed: boolean;
  failures: string[];
  forced: boolean;
}

/** What a deploy's fidelity check found, and what it decided (the report's `fidelity`). */
export interface FidelityVerdict {
  /** The job's data also calibrated the variant: the figures are on fitted data unless compress held some out. */
  judgedOn: JudgedOn;
  samples: number;
  top1: number | null;
  referenceTop1: number | null;
  /** Top-1 agreement with the original (classifiers) and its interval. */
  agreement: number | null;
  agreementInterval: [number, number] | null;
  /** The worst output's mean cosine with the original, and its name. */
  cosine: number | null;
  worstOutput: string | null;
  sqnrDb: number | null;
  /** Collapse findings in words (an output constant across samples, one class for every sample). */
  collapsed: string[];
  accuracy: AccuracyJudgement | null;
  /** `maxAccuracyDrop` checked on these samples: only with `noHoldout` (otherwise compress checked it on held-out data). */
  bound: BoundCheck | null;
  /** The compress child's gate (null when it measured no fidelity). */
  compressGate: CompressGate | null;
  passed: boolean;
  /** Every failure, the eval's first, then the compress child's ones the eval did not repeat. */
  failures: string[];
  /** Failed and activated anyway (`options.force`). */
  forced: boolean;
  /** One line with the figures (agreement, worst-output cosine, collapse findings). */
  figures: string;
}

/** The gate's verdict as recorded with a stored variant (variant details `deployGate`). */
export interface RecordedGate {
  passed: boolean;
  failures: string[];
  forced: boolean;
  judgedOn: JudgedOn;
  samples: number;
  jobId: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function pairOrNull(v: unknown): [number, number] | null {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number' ? [v[0], v[1]] : null;
}

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}

/**
 * The eval JSON (SPEC `eval`, plus `collapsed` and `intervals`) as FidelityMetrics; `problems` lists what a
 * judgement needs and the JSON lacks (an eval that cannot say whether an output collapsed cannot pass the gate).
 */
export function fidelityMetricsOf(json: EvalJson): { metrics: FidelityMetrics; problems: string[] } {
  const problems: string[] = [];
  const collapsed = stringList(json.collapsed);
  if (!collapsed) problems.push("the eval result has no collapse findings ('collapsed'): the variant cannot be judged");
  const iv = isObject(json.intervals) ? json.intervals : null;
  if (!iv) problems.push("the eval result has no intervals ('intervals')");
  const intervals: MetricIntervals = {
    confidence: numberOrNull(iv?.confidence) ?? 0,
    top1Drop: pairOrNull(iv?.top1Drop),
    agreement: pairOrNull(iv?.agreement),
    cosine: pairOrNull(iv?.cosine),
    sqnrDb: pairOrNull(iv?.sqnrDb),
  };
  const paired = isObject(json.pairedCounts) ? (json.pairedCounts as unknown as FidelityMetrics['pairedCounts']) : null;
  const metrics: FidelityMetrics = {
    samples: numberOrNull(json.samples) ?? 0,
    top1: numberOrNull(json.top1),
    agreement: numberOrNull(json.agreement),
    cosine: numberOrNull(json.cosine),
    sqnrDb: numberOrNull(json.sqnrDb),
    kl: numberOrNull(json.kl),
    referenceTop1: numberOrNull(json.referenceTop1),
    outputs: Array.isArray(json.outputs) ? (json.outputs as FidelityMetrics['outputs']) : null,
    worstOutput: typeof json.worstOutput === 'string' ? json.worstOutput : null,
    intervals,
    pairedCounts: paired,
    collapsed: collapsed ?? [],
    // A detector's eval (`--task detection`): the figure and its drop are in points of mAP@.5:.95 (or hmean).
    detection: isDetectionJson(json.detection) ? json.detection : null,
  };
  return { metrics, problems };
}

/** True when an eval's `detection` has what a judgement reads (metric, mode, figures, drop); the child wrote the rest. */
function isDetectionJson(v: unknown): v is DetectionMetrics {
  if (!isObject(v)) return false;
  if ((v.metric !== 'map5095' && v.metric !== 'hmean') || (v.mode !== 'labels' && v.mode !== 'reference')) return false;
  if (numberOrNull(v.map5095) === null || numberOrNull(v.images) === null) return false;
  const drop = v.drop;
  if (drop !== null && !(isObject(drop) && numberOrNull(drop.points) !== null && pairOrNull(drop.ci) !== null)) return false;
  if (drop !== null && v.mode === 'labels' && v.metric === 'map5095' && !(isObject(v.referenceMap) && numberOrNull(v.referenceMap.map5095) !== null)) return false;
  if (v.metric === 'hmean' && !(isObject(v.hmean) && numberOrNull(v.hmean.hmean) !== null && (drop === null || v.mode !== 'labels' || (isObject(v.hmean.reference) && numberOrNull(v.hmean.reference.hmean) !== null)))) return false;
  return true;
}

/** The compress child's gate from its JSON (`fidelity.gate`), or null when it measured no fidelity. */
export function compressGateOf(result: CompressJson | null): CompressGate | null {
  const fidelity = isObject(result?.fidelity) ? result.fidelity : null;
  const gate = isObject(fidelity?.gate) ? fidelity.gate : null;
  if (!gate || typeof gate.passed !== 'boolean') return null;
  return { passed: gate.passed, failures: stringList(gate.failures) ?? [], forced: gate.forced === true };
}

const fixed = (v: number, digits: number): string => v.toFixed(digits);

/** "agreement 0.1328 (95 % interval 0.0950 … 0.1797), top-1 0.1328 (original 1.0000), worst output 'logits' cosine 0.39146 on 256 samples". */
export function describeFigures(m: FidelityMetrics): string {
  const parts: string[] = [];
  const d = m.detection;
  if (d) {
    const label = d.metric === 'hmean' ? 'hmean' : 'mAP@.5:.95';
    const value = d.metric === 'hmean' ? (d.hmean?.hmean ?? d.map5095) : d.map5095;
    const against = d.mode === 'labels' ? `${d.objects} labelled objects` : "the original's detections";
    const drop = d.drop ? `, drop ${fixed(d.drop.points, 2)} points${d.drop.confidence > 0 ? ` (${+(d.drop.confidence * 100).toFixed(1)} % interval ${fixed(d.drop.ci[0], 2)} … ${fixed(d.drop.ci[1], 2)})` : ''}` : '';
    parts.push(`${label} ${fixed(value, 4)} against ${against}${drop}`);
  }
  if (m.agreement !== null) {
    const iv = m.intervals.agreement && m.intervals.confidence > 0 ? ` (${+(m.intervals.confidence * 100).toFixed(1)} % interval ${fixed(m.intervals.agreement[0], 4)} … ${fixed(m.intervals.agreement[1], 4)})` : '';
    parts.push(`agreement ${fixed(m.agreement, 4)}${iv}`);
  }
  if (m.top1 !== null) parts.push(`top-1 ${fixed(m.top1, 4)}${m.referenceTop1 !== null ? ` (original ${fixed(m.referenceTop1, 4)})` : ''}`);
  if (m.cosine !== null) parts.push(`${m.worstOutput !== null ? `worst output '${m.worstOutput}'` : 'output'} cosine ${fixed(m.cosine, 5)}`);
  if (parts.length === 0) return `no comparison with the original on ${m.samples} samples`;
  return `${parts.join(', ')} on ${m.samples} samples`;
}

/**
 * The deploy gate on a variant's eval against its original: failed when an output collapsed, when the eval cannot
 * say, or (`maxAccuracyDropPp`, only where no data was held out) when the bound is not confirmed; the compress
 * child's own failures (present only when it was forced) count as well. `force` activates a failed variant anyway.
 */
export function deployVerdict(
  evalJson: EvalJson,
  options: { judgedOn: JudgedOn; maxAccuracyDropPp?: number | undefined; compress: CompressJson | null; force: boolean },
): FidelityVerdict {
  const { metrics, problems } = fidelityMetricsOf(evalJson);
  const gate = fidelityGate(metrics, { judgedOn: options.judgedOn, maxAccuracyDropPp: options.maxAccuracyDropPp });
  const compressGate = compressGateOf(options.compress);
  const failures = [...problems, ...gate.failures];
  if (compressGate && !compressGate.passed) for (const f of compressGate.failures) if (!failures.includes(f)) failures.push(`compress: ${f}`);
  const passed = failures.length === 0;
  return {
    judgedOn: options.judgedOn,
    samples: metrics.samples,
    top1: metrics.top1,
    referenceTop1: metrics.referenceTop1,
    agreement: metrics.agreement,
    agreementInterval: metrics.intervals.agreement,
    cosine: metrics.cosine,
    worstOutput: metrics.worstOutput,
    sqnrDb: metrics.sqnrDb,
    collapsed: metrics.collapsed,
    accuracy: gate.judgement,
    bound: gate.bound,
    compressGate,
    passed,
    failures,
    forced: !passed && options.force,
    figures: describeFigures(metrics),
  };
}

/** "the int8 variant 1a2b3c4d5e6f fails the fidelity gate (judged on …): FIGURES; FAILURES". */
export function describeVerdict(what: string, v: FidelityVerdict): string {
  return `${what} fails the fidelity gate (${judgedOnLabel(v.judgedOn, v.samples)}): ${v.figures}; ${v.failures.join('; ')}`;
}

/** The verdict in the form kept with the stored variant (its details' `deployGate`). */
export function recordedGate(v: FidelityVerdict, jobId: string): RecordedGate {
  return { passed: v.passed, failures: v.failures, forced: v.forced, judgedOn: v.judgedOn, samples: v.samples, jobId };
}

/**
 * The fidelity failures recorded with a stored variant: its compress result's `fidelity.gate` (written with
 * `--force`) and a deploy's `deployGate`. Empty when it passed, was never judged, or the details are unreadable.
 */
export function recordedGateFailures(details: string | null): string[] {
  if (details === null) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(details);
  } catch {
    return [];
  }
  if (!isObject(parsed)) return [];
  // A deploy's verdict already holds the compress child's failures (those its eval did not repeat).
  const deployGate = isObject(parsed.deployGate) ? parsed.deployGate : null;
  if (deployGate && typeof deployGate.passed === 'boolean') {
    if (deployGate.passed) return [];
    const list = stringList(deployGate.failures) ?? [];
    return list.length > 0 ? list : ['deploy: fidelity gate failed'];
  }
  const failures: string[] = [];
  const compressGate = compressGateOf(parsed as CompressJson);
  if (compressGate && !compressGate.passed) failures.push(...(compressGate.failures.length > 0 ? compressGate.failures.map((f) => `compress: ${f}`) : ['compress: fidelity gate failed']));
  return failures;
}
