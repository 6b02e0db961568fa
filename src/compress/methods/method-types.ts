import type { OnnxModel } from '../../onnx/ir.js';
import type { Dataset } from '../dataset.js';
import type { CalibrationMethod } from '../calibration-stats.js';
import type { PassReport } from '../pass.js';

/** `edgetune compress --method` values (SPEC.md). */
export const COMPRESS_METHODS = ['int8', 'int8-dynamic', 'fp16', 'int4', 'prune', 'sparsity', 'lowrank', 'plan'] as const;
/** One compression method id. */
export type CompressMethod = (typeof COMPRESS_METHODS)[number];

/** Method options as the CLI and the agent give them (all optional; each method reads what it needs). */
export interface MethodOptions {
  calibration?: CalibrationMethod | 'auto';
  percentile?: number;
  perChannel?: boolean;
  /** int8: symmetric int8 activations instead of asymmetric uint8. */
  symmetric?: boolean;
  reduceRange?: boolean;
  /** Ratio for prune (channels), sparsity (zeros), lowrank (parameter budget). */
  ratio?: number;
  /** prune: l1 | l2 | l3 | bytes. */
  targetCache?: string;
  /** prune: channel importance, filter norms (l1, l2), mean |activation| on --data, or reconstruction on --data. */
  importance?: 'l1' | 'l2' | 'activation' | 'reconstruction';
  /** prune: iterative steps. */
  steps?: number;
  /** prune: one ratio for every group ('uniform', default) or per-group widths by measured latency and sensitivity. */
  allocate?: 'uniform' | 'sensitivity';
  /** prune: latency (batch 1, one thread, measured here) the pruned model should reach; implies allocate 'sensitivity'. */
  targetLatencyMs?: number;
  /** lowrank: retained singular-value energy. */
  energy?: number;
  /** int8/int4/fp16: 'auto' (needs maxAccuracyDropPp) or node names. */
  keepFloat?: 'auto' | string[];
  maxAccuracyDropPp?: number;
  /** Confidence of the intervals and of every bound check, the mixed-precision search's too (default 0.95; 0 = point estimates). */
  confidence?: number;
  /** int4 block size. */
  blockSize?: 32 | 64 | 128;
  /** int8: per-channel activation equalization (default true). */
  equalize?: boolean;
  /** int8: also equalize the inputs of float-only ops such as HardSwish (more faithful, a Mul each: slower; default false). */
  equalizeFloatInputs?: boolean;
  /** int8: empirical bias correction rounds (default 1, 0 = off). */
  biasCorrectionRounds?: number;
  /** int8: keep a detector's output tail and head layers float (default true). */
  floatHead?: boolean;
  /** int8: float islands on tensors of ≥ 65,536 elements become exact table lookups (default true). */
  lookupIslands?: boolean;
  /** int8: HardSwish as x·HardSigmoid(x) in int8 ops onnxruntime multithreads (default true). */
  hardSwishProduct?: boolean;
  /** int8: ConvTranspose with kernel = stride as Conv + DepthToSpace (default true; dev-time benches turn it off). */
  convTransposeAsConv?: boolean;
  /** int8: 8-bit nearest Resize and DepthToSpace as channels-last copies (default true; dev-time benches turn it off). */
  channelsLastCopies?: boolean;
  /** int8: a float head's 1×1 Conv before a channels-last Transpose as a MatMul (default true; dev-time benches turn it off). */
  pointwiseHeadAsMatMul?: boolean;
  /** int8: adaptive weight rounding (default true). */
  adaptiveRounding?: boolean;
  /** int8: measure fp32 against int8 in alternation after quantizing and report the speed-up (default true). */
  speedCheck?: boolean;
  /** plan: device profile to plan for, and sysroot to probe. */
  profileName?: string;
  sysroot?: string;
}

/** What a method gets: the normalised model (it may mutate it), the original, and the data when given. */
export interface MethodContext {
  model: OnnxModel;
  original: OnnxModel;
  dataset: Dataset | undefined;
  options: MethodOptions;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** What a method returns. */
export interface MethodOutcome {
  model: OnnxModel;
  report: PassReport;
  calibration?: { method: string; samples: number } | null;
  /** Further pass reports when a method chains passes (plan: prune → quantize). */
  steps?: PassReport[];
}

/** A compression method: the lowest default-domain opset it needs, whether it needs data, and the work. */
export interface CompressMethodRunner {
  minOpset: number;
  needsData: boolean;
  run(context: MethodContext): Promise<MethodOutcome>;
}
