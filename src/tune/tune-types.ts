/** The data of a tune: what the caller asks for, what each candidate gives, and the result (SPEC.md `tune` JSON). */
import type { ErrorCode } from '../util/errors.js';
import type { DetectionTaskFiles } from '../detect/load-detection-task.js';
import type { AccuracyMetric, BoundCheck, JudgedOn } from '../compress/accuracy-judgement.js';
import type { PairedCounts } from '../compress/confidence.js';
import type { SplitSummary } from '../compress/validation-data.js';
import type { EnergyMode } from '../profile/energy/energy-sampler.js';
import type { DetectedHardware } from '../hardware/detect-hardware.js';
import type { ProfileOptions, ProfileOutcome } from '../profile/profile-types.js';
import type { CandidateOrigin, CandidateSpec, CandidateStep } from './candidate-space.js';
import type { ParetoAxis } from './pareto.js';
import type { TuneConstraints, TuneObjective } from './select-candidate.js';

/** How each candidate is profiled. */
export interface TuneProfileSettings {
  /** Measured runs per candidate (default 30). */
  iterations?: number;
  /** Warm-up runs (default 5). */
  warmup?: number;
  /** Value of a symbolic batch dim (default 1). */
  batchSize?: number;
  /** `--shape NAME=DxDxD` for inputs with symbolic dims other than the batch. */
  shapes?: Record<string, number[]>;
  /** intra-op threads (default: the plan's big-core count). */
  threads?: number;
  /** `--energy` (default 'auto'). */
  energy?: EnergyMode;
  /** Idle baseline before each energy window (default 1000 ms). */
  baselineMs?: number;
  /** Minimum energy window (default 1000 ms; the profiler also waits for ≥ 20 sample periods). */
  energyMinDurationMs?: number;
  /** Wall-clock limit of one profile child (default 300 s). */
  timeLimitMs?: number;
  /** Resident-memory limit of one profile child (default 2 GiB). */
  memoryLimitBytes?: number;
}

/** Progress of a tune, for a bar, a log or MQTT events. */
export type TuneEvent =
  | { type: 'plan'; candidates: number; skipped: number }
  | { type: 'candidate-start'; id: string; index: number; total: number; resumed: boolean }
  | { type: 'stage'; id: string; stage: 'build' | 'fidelity' | 'self-distill' | 'profile'; step?: string }
  | { type: 'candidate-done'; id: string; index: number; total: number; state: CandidateState; resumed: boolean; summary: string }
  | { type: 'budget'; notTried: string[] };

/** Caller input of a tune. */
export interface TuneOptions {
  modelPath: string;
  /**
   * Fidelity / accuracy data (ONNX test-data layout); labels give top-1. Without `validationDataDir`,
   * `calibrationDataDir` or `noHoldout` it is split: candidates are fitted on one part and judged on the other.
   */
  dataDir?: string;
  /** Calibration / reconstruction data (default: the fit part of dataDir). */
  calibrationDataDir?: string;
  /** Explicit validation data: candidates are judged on it (dataDir, or calibrationDataDir, is then fitted on whole). */
  validationDataDir?: string;
  /** Judge on the data the candidates were fitted to (no split); every report says so. */
  noHoldout?: boolean;
  /** Confidence of the accuracy intervals and of the bound check (default 0.95; 0 = point estimates). */
  confidence?: number;
  /** Seed of the dataDir split. */
  splitSeed?: number;
  /**
   * `--task detection`: the data may be image folders (fitted to the model by the decoder's preset), and candidates
   * are judged by decoded detections — mAP@[.5:.95] (or hmean) against labels, or against the original's detections.
   */
  detection?: DetectionTaskFiles;
  constraints?: TuneConstraints;
  /** What the chosen candidate minimises (default 'latency'). */
  objective?: TuneObjective;
  /** Stop starting new candidates after this many seconds (the baseline always runs). */
  budgetSeconds?: number;
  /** Holds tune.sqlite and the built candidates. */
  workDir: string;
  /** Write the chosen model here (atomically). */
  outputPath?: string;
  /** Write a report here: .md or .html. */
  reportPath?: string;
  profile?: TuneProfileSettings;
  /** Plan for this device profile instead of the matched one. */
  profileName?: string;
  /** Read /proc and /sys under this root (tests). */
  sysroot?: string;
  /** A detectHardware() result to reuse (the agent probes once). */
  detected?: DetectedHardware;
  /** Replace the generated candidate list (the baseline 'fp32' is always added first). */
  candidates?: CandidateSpec[];
  /** Candidates tried after the generated ones. */
  extraCandidates?: CandidateSpec[];
  /** Only these candidate ids (plus the baseline). */
  only?: string[];
  /** Ignore and forget what the store holds for this model. */
  fresh?: boolean;
  onEvent?: (event: TuneEvent) => void;
  signal?: AbortSignal;
  /** The profiler (default profileInChild); tests wrap it to make one candidate's child fail for real. */
  profiler?: (options: ProfileOptions, candidateId: string, signal?: AbortSignal) => Promise<ProfileOutcome>;
}

/** Final state of a candidate. */
export type CandidateState = 'done' | 'failed' | 'rejected' | 'skipped';

/** Accuracy against the original model on the data. */
export interface CandidateAccuracy {
  /** top1 with labels; agreement (top-1 match with the original) for classifiers without labels; cosine otherwise. */
  metric: AccuracyMetric;
  value: number;
  baseline: number;
  /** (baseline − value) × 100, in percentage points. */
  dropPp: number;
  /** Interval of dropPp at `confidence` (paired, on the judging samples). */
  ci: [number, number];
  confidence: number;
  judgedOn: JudgedOn;
  agreement: number | null;
  cosine: number | null;
  samples: number;
  /** Collapse findings (constant output, one class for all); a collapsed candidate is rejected. */
  collapsed: string[];
  /** Labelled samples right/wrong in each model (top-1 only), for the samples-needed estimate. */
  pairedCounts: PairedCounts | null;
  /** The `--max-accuracy-drop` check (null without a bound). */
  bound: BoundCheck | null;
  /**
   * A detector's figures (`--task detection`): mAP@.5 and mAP@.5:.95 against labels (or against the original's
   * detections), hmean for text; absent for other models and for stored results that predate it.
   */
  detection?: CandidateDetection | null;
}

/** The detection figures a tune table shows per candidate. */
export interface CandidateDetection {
  mode: 'labels' | 'reference';
  map50: number;
  map5095: number;
  hmean: number | null;
  /** Agreement F1 with the original's detections at the operating threshold (null without a reference run). */
  agreementF1: number | null;
}

/** A candidate's accuracy in the `tune` JSON (SPEC: `accuracy: { metric, drop, ci: [lo, hi], samples, judgedOn }`). */
export interface CandidateAccuracyJson {
  metric: CandidateAccuracy['metric'];
  /** Percentage points against the original. */
  drop: number;
  /** Interval of `drop`, percentage points, at `confidence`. */
  ci: [number, number];
  samples: number;
  judgedOn: JudgedOn;
  confidence: number;
  value: number;
  baseline: number;
  agreement: number | null;
  cosine: number | null;
  /** A detector's mAP / hmean figures (`--task detection`). */
  detection?: CandidateDetection;
}

/** What the profiler measured. */
export interface CandidateMeasurement {
  /** p50Ci: the profiler's distribution-free 95 % interval of the median (absent in older stored results). */
  latencyMs: { p50: number; mean: number; p90: number; p99: number; std: number; cv: number; min: number; p50Ci?: [number, number] };
  throughputPerSec: number;
  peakRssBytes: number;
  joulesPerInference: number | null;
  /** 'measured' or 'estimated' (the profiler's label), null without energy. */
  energyMethod: string | null;
  energySource: string | null;
  energyNote: string | null;
  iterations: number;
  batchSize: number;
  threads: number;
  throttled: boolean;
}

/** One candidate's outcome, as stored and reported. */
export interface CandidateResult {
  id: string;
  /** Method of each step ('fp32' for the baseline). */
  methods: string[];
  steps: CandidateStep[];
  origin: CandidateOrigin;
  note: string;
  state: CandidateState;
  /** Why it failed, was rejected or skipped. */
  reason: string | null;
  errorCode: ErrorCode | null;
  model: { path: string; sha256: string; bytes: number } | null;
  build: { seconds: number; notes: string[]; nodesKeptFloat: number; cachedSteps: number } | null;
  accuracy: CandidateAccuracy | null;
  profile: CandidateMeasurement | null;
  /** Seconds this candidate took when it ran (build + fidelity + profile). */
  seconds: number;
  /** True when it came from the store (an earlier, interrupted or finished run). */
  resumed: boolean;
  /**
   * What self-distillation did for a candidate rejected by --max-accuracy-drop (not applicable, not applied, or
   * applied without meeting the bound); kept out of `reason` so that a note shared by many rejections is said once.
   */
  selfDistillation?: string | null;
}

/** A candidate in the `tune` JSON (SPEC fields first). */
export interface TuneCandidateJson {
  id: string;
  methods: string[];
  latencyMs: number | null;
  sizeBytes: number | null;
  peakRssBytes: number | null;
  joulesPerInference: number | null;
  /** Percentage points against the original (null without data or when not measured). */
  accuracyDrop: number | null;
  pareto: boolean;
  state: CandidateState;
  reason: string | null;
  /** A rejected candidate's self-distillation attempt (CandidateResult.selfDistillation); the result's notes group them. */
  selfDistillation?: string | null;
  /** Constraints it misses (profiled candidates only). */
  violations: string[];
  /** Why it is off the front (profiled, feasible candidates only). */
  dominatedBy: string | null;
  whyLost: string | null;
  /** A quantized candidate whose p50 is not below fp32's: not eligible under the latency/energy objectives (a note says so). */
  slowerThanBaseline: boolean;
  speedup: number | null;
  sizeRatio: number | null;
  accuracyMetric: CandidateAccuracy['metric'] | null;
  accuracy: CandidateAccuracyJson | null;
  /** Collapse findings (rejected candidates only have them). */
  collapsed: string[];
  /** Set when it beats the original on the labels while disagreeing with it often: not chosen (the labels may be poor). */
  suspect: string | null;
  /** Interval of the p50 latency (ms) at the tune's confidence; null when not profiled. */
  latencyCiMs: [number, number] | null;
  /** Candidates whose latency interval overlaps this one's: not ranked as faster or slower than it. */
  indistinguishableFrom: string[];
  energyMethod: string | null;
  latencyCv: number | null;
  origin: CandidateOrigin;
  note: string;
  steps: CandidateStep[];
  resumed: boolean;
  seconds: number;
  modelPath: string | null;
  sha256: string | null;
}

/** The `tune` JSON of SPEC.md, plus what the report needs. */
export interface TuneResult {
  model: { path: string; sha256: string; bytes: number };
  device: { profile: string; board: string | null; cpu: string | null; arch: string | null; cores: number | null; caches: { l1d: number | null; l2: number | null; l3: number | null } };
  plan: { method: string | null; precision: string; pruningRatio: number | null; reasons: string[] };
  settings: {
    batchSize: number;
    iterations: number;
    warmup: number;
    threads: number | null;
    energy: string;
    dataDir: string | null;
    calibrationDataDir: string | null;
    accuracyMetric: CandidateAccuracy['metric'] | null;
    workDir: string;
    /** Explicit validation data, when given. */
    validationDataDir: string | null;
    /** What candidates were judged on: held-out samples, or the data they were fitted to (--no-holdout). */
    judgedOn: JudgedOn | null;
    /** How dataDir was split (null: not split). */
    split: SplitSummary | null;
    confidence: number;
    /** Input shapes profiled at, by input name (--shape, or the data's for inputs with symbolic dims); {} when none. */
    shapes: Record<string, number[]>;
  };
  baseline: {
    id: 'fp32';
    latencyMs: number | null;
    sizeBytes: number;
    peakRssBytes: number | null;
    joulesPerInference: number | null;
    accuracy: { metric: CandidateAccuracy['metric']; value: number } | null;
  };
  candidates: TuneCandidateJson[];
  chosen: string | null;
  chosenReason: string;
  objective: TuneObjective;
  objectiveUsed: TuneObjective;
  constraints: { maxAccuracyDropPp: number | null; maxLatencyMs: number | null; maxMemoryMb: number | null; maxSizeMb: number | null };
  front: string[];
  axes: ParetoAxis[];
  axesLeftOut: Array<{ axis: ParetoAxis; missingFor: string[] }>;
  /** Candidates not tried (time budget) or left out (method missing, not applicable), with the reason. */
  notTried: Array<{ id: string; reason: string }>;
  output: { path: string; sha256: string; bytes: number } | null;
  report: string | null;
  elapsedSeconds: number;
  budgetSeconds: number | null;
  /** Every generated candidate finished (none left for the budget). */
  complete: boolean;
  store: string;
  notes: string[];
}
