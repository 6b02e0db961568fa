/** The data of a profile: what the caller asks for, what it gets back, and the messages between parent and child. */
import type { ErrorCode } from '../util/errors.js';
import type { LatencyStats } from './latency-stats.js';
import type { PowerModel } from './energy/cpu-estimate.js';
import type { CommandRunner, EnergyMethod, EnergySourceId } from './energy/energy-source.js';
import type { EnergyMode, UnavailableSource } from './energy/energy-sampler.js';
import type { ThermalAssessment, CooldownResult } from './thermal.js';
import type { OpProfileSummary, OpTime } from './op-profile.js';
import type { ModelFlops } from './model-flops.js';
import type { Dim } from '../onnx/ir.js';
import type { FidelityMetrics } from '../compress/fidelity.js';
import type { EmulationInfo } from '../util/emulation.js';

/** A peak throughput figure and where it comes from. */
export interface PeakFigure {
  gopsPerSec: number;
  source: string;
  estimated: boolean;
}

/** Caller input for one profile. */
export interface ProfileOptions {
  modelPath: string;
  /** Measured runs (default 100); with minDurationMs the loop also runs at least that long. */
  iterations?: number;
  /** Runs after the first (cold) run and before measuring, excluded from the statistics (default 10). */
  warmup?: number;
  /** Keep measuring until this much time has passed as well as `iterations` runs (default 0). */
  minDurationMs?: number;
  /** intra-op threads (default: os.availableParallelism()). */
  threads?: number;
  /** Execution provider (default 'cpu'). */
  executionProvider?: string;
  /** `--shape` overrides by input name. */
  shapes?: Record<string, number[]>;
  /** Value for a symbolic batch dim (axis 0 of rank ≥ 2 inputs); default 1. */
  batchSize?: number;
  /** Real samples in the ONNX test-data layout instead of synthesized inputs. */
  dataDir?: string;
  /** `--energy` (default 'auto'). */
  energy?: EnergyMode;
  /** Minimum duration of the energy window (default 5000 ms; also ≥ 20 sample periods). */
  energyMinDurationMs?: number;
  /** Idle baseline before the energy window (default 5000 ms). */
  baselineMs?: number;
  /** Idle/max watts for the estimate (from the device profile); without it, no estimate. */
  powerModel?: PowerModel | null;
  /** The device's peak throughput (from the device profile), to report the share achieved; int8 is used for
   * models whose counted FLOPs are mostly integer (QDQ or integer ops), fp32 otherwise. */
  peak?: { fp32?: PeakFigure | null; int8?: PeakFigure | null } | null;
  /** Per-operator times from onnxruntime's profiler (default false). */
  opProfile?: boolean;
  /** Runs traced for the op profile (default min(iterations, 20)). */
  opProfileRuns?: number;
  /** Count FLOPs and weight bytes (default true). */
  flops?: boolean;
  /** The original model: with dataDir, the fidelity figures of `edgetune eval` (agreement, cosine, SQNR, KL). */
  referencePath?: string;
  /** Wait until the hottest thermal zone is at or below this before measuring. */
  cooldownC?: number;
  /** Longest cool-down wait (default 120 s). */
  cooldownMaxMs?: number;
  /** Wall-clock limit of the child (default 300 s). */
  timeLimitMs?: number;
  /** Resident-memory limit of the child (default 2 GiB); the child is killed above it. */
  memoryLimitBytes?: number;
  /** Root for /sys and /proc reads of the energy and thermal readers (default '/'). */
  sysroot?: string;
  /** Command runner for vcgencmd / nvidia-smi (default: execFile). */
  run?: CommandRunner;
  /** Anything describing the device, copied into the result (SPEC `device`). */
  device?: unknown;
  onProgress?: (progress: ProfileProgress) => void;
  /** Called with the child's pid once it runs. */
  onChildSpawn?: (pid: number) => void;
}

/** Phases a profile goes through, in order. */
export type ProfilePhase = 'cooldown' | 'load' | 'warmup' | 'latency' | 'baseline' | 'energy' | 'op-profile' | 'flops' | 'fidelity';

/** A progress event. */
export interface ProfileProgress {
  phase: ProfilePhase;
  done: number;
  total: number;
}

/** The energy part of a result. */
export interface EnergyResult {
  method: EnergyMethod;
  source: EnergySourceId;
  scope: string;
  joulesPerInference: number;
  dynamicJoulesPerInference: number;
  avgWatts: number;
  idleWatts: number;
  totalJoules: number;
  idleJoules: number;
  dynamicJoules: number;
  durationMs: number;
  inferences: number;
  baselineMs: number;
  nSamples: number;
  sampleHz: number;
  detail: string[];
  /** Sources tried before this one and why they were not used. */
  unavailable: UnavailableSource[];
  /** Reads that failed during the run (the figure is still integrated over the readings that succeeded). */
  readErrors: string[];
}

/** FLOPs, weight bytes and the roofline figures. */
export interface FlopsResult extends ModelFlops {
  /** Where the shapes came from. */
  shapeSource: 'static-inference' | 'static-inference+runtime';
  /** Achieved GFLOP/s at the p50 latency. */
  achievedGflopsPerSec: number;
  /** Which peak applies: int8 when most counted FLOPs are integer. */
  peakPrecision: 'fp32' | 'int8';
  peakGopsPerSec: number | null;
  peakSource: string | null;
  peakEstimated: boolean | null;
  peakShare: number | null;
}

/** A successful profile (SPEC.md `profile`, plus details). */
export interface ProfileResult {
  model: { path: string; bytes: number; sha256: string };
  executionProvider: string;
  iterations: number;
  warmup: number;
  threads: number;
  batchSize: number;
  inputs: Array<{ name: string; dataType: number; shape: Dim[] | null; profiledShape: number[] }>;
  inputSource: 'synthetic' | 'data';
  /**
   * With synthesized inputs: the fill the model ran on — 'random' (floats uniform in [0, 1), integers in 0–9), else
   * 'zeros', else 'ones', tried in that order; null with --data.
   */
  syntheticFill: 'random' | 'zeros' | 'ones' | null;
  latencyMs: LatencyStats;
  throughputPerSec: number;
  coldStart: { loadMs: number; firstRunMs: number };
  memory: { peakRssBytes: number; sessionRssBytes: number; baseRssBytes: number; modelBytes: number };
  energy: EnergyResult | null;
  /** Why energy is null (off, or no source and no power model). */
  energyNote: string | null;
  thermal: ThermalAssessment & { cooldown: CooldownResult | null };
  opProfile: OpTime[] | null;
  opProfileDetail: Omit<OpProfileSummary, 'top'> | null;
  flops: number | null;
  flopsDetail: FlopsResult | null;
  /** With dataDir: `edgetune eval` figures on that data (top1 needs labels; the rest need referencePath). */
  fidelity: FidelityMetrics | null;
  /** Why flops or opProfile are missing when they were asked for. */
  notes: string[];
  device: unknown;
  /**
   * True when the profile ran under user-mode emulation (qemu-user): latency, throughput, energy and thermal
   * figures are the emulator's on its host, not the device's. Fidelity figures still hold.
   */
  emulated: boolean;
  /** How emulation was told; null when not emulated. */
  emulation: EmulationInfo | null;
  startedAt: string;
  durationMs: number;
  childPid: number;
}

/** A failed profile: a stable code, a message, and what was known when it failed. */
export interface ProfileFailure {
  code: ErrorCode;
  message: string;
  peakRssBytes: number | null;
  durationMs: number;
}

/** What profileInChild resolves to; it never rejects for a bad model. */
export type ProfileOutcome = { state: 'ok'; result: ProfileResult } | { state: 'failed'; error: ProfileFailure };

/** The part of the options the child needs (JSON-safe). */
export interface ChildProfileRequest {
  modelPath: string;
  iterations: number;
  warmup: number;
  minDurationMs: number;
  threads: number;
  executionProvider: string;
  shapes: Record<string, number[]>;
  batchSize: number;
  dataDir: string | null;
  energy: boolean;
  opProfileRuns: number | null;
  flops: boolean;
  referencePath: string | null;
}

/** What the child measured (its part of ProfileResult). */
export interface ChildMeasurement {
  batchSize: number;
  inputs: ProfileResult['inputs'];
  inputSource: ProfileResult['inputSource'];
  syntheticFill: ProfileResult['syntheticFill'];
  latencySamplesMs: number[];
  coldStart: ProfileResult['coldStart'];
  memory: { peakRssBytes: number; sessionRssBytes: number; baseRssBytes: number };
  energyWindow: { startNs: string; endNs: string; inferences: number } | null;
}

/** Optional extras the child computes after the measurement. */
export interface ChildExtras {
  opProfile: OpProfileSummary | null;
  flops: (ModelFlops & { shapeSource: FlopsResult['shapeSource'] }) | null;
  fidelity: FidelityMetrics | null;
  notes: string[];
}

/** Parent → child. */
export type ParentMessage =
  | { type: 'start'; request: ChildProfileRequest }
  | { type: 'energy-go'; minDurationMs: number };

/** Child → parent. */
export type ChildMessage =
  | { type: 'progress'; progress: ProfileProgress }
  | { type: 'energy-ready' }
  | { type: 'energy-done'; startNs: string; endNs: string; inferences: number }
  | { type: 'measured'; measurement: ChildMeasurement }
  | { type: 'extras'; extras: ChildExtras }
  | { type: 'failed'; code: ErrorCode; message: string };
