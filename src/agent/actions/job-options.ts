import { EdgetuneError } from '../../util/errors.js';
import { isConfidenceLevel } from '../../compress/confidence.js';
import type { JobContext } from '../job-context.js';

/** An optional integer option within [min, max]; JOB_INVALID naming the option otherwise. */
export function intOption(ctx: JobContext, name: string, min: number, max: number): number | undefined {
  const v = ctx.job.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: options.${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** An optional number option within [min, max]. */
export function numberOption(ctx: JobContext, name: string, min: number, max: number): number | undefined {
  const v = ctx.job.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: options.${name} must be a number in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** An optional string option from a fixed set. */
export function enumOption<T extends string>(ctx: JobContext, name: string, allowed: readonly T[]): T | undefined {
  const v = ctx.job.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: options.${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** An optional boolean option. */
export function boolOption(ctx: JobContext, name: string): boolean | undefined {
  const v = ctx.job.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: options.${name} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** An optional string option matching a pattern. */
export function patternOption(ctx: JobContext, name: string, pattern: RegExp, describe: string): string | undefined {
  const v = ctx.job.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !pattern.test(v)) throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: options.${name} must be ${describe}, got ${JSON.stringify(v)}`);
  return v;
}

/** SPEC compress METHOD values (plus 'none' for deploy: keep the model as it is). */
export const COMPRESS_METHODS = ['int8', 'int8-dynamic', 'fp16', 'int4', 'prune', 'sparsity', 'lowrank', 'plan'] as const;

/** Compress options a job may pass through to `edgetune compress`, validated by type. */
export function compressPassThrough(ctx: JobContext): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const calibration = enumOption(ctx, 'calibration', ['minmax', 'percentile', 'entropy', 'mse', 'consumer-mse'] as const);
  if (calibration) out.calibration = calibration;
  const perChannel = boolOption(ctx, 'perChannel');
  if (perChannel !== undefined) out.perChannel = perChannel;
  const symmetric = boolOption(ctx, 'symmetric');
  if (symmetric !== undefined) out.symmetric = symmetric;
  const ratio = numberOption(ctx, 'ratio', 0, 1);
  if (ratio !== undefined) out.ratio = ratio;
  const targetCache = patternOption(ctx, 'targetCache', /^(l1|l2|l3|\d{1,12})$/, 'l1, l2, l3 or a byte count');
  if (targetCache !== undefined) out.targetCache = targetCache;
  const keepFloat = patternOption(ctx, 'keepFloat', /^(auto|[A-Za-z0-9_./:-]{1,200}(,[A-Za-z0-9_./:-]{1,200}){0,200})$/, "'auto' or a comma list of node names");
  if (keepFloat !== undefined) out.keepFloat = keepFloat;
  const maxDrop = numberOption(ctx, 'maxAccuracyDrop', 0, 100);
  if (maxDrop !== undefined) out.maxAccuracyDrop = maxDrop;
  const equalize = boolOption(ctx, 'equalize');
  if (equalize !== undefined) out.equalize = equalize;
  const equalizeFloatInputs = boolOption(ctx, 'equalizeFloatInputs');
  if (equalizeFloatInputs !== undefined) out.equalizeFloatInputs = equalizeFloatInputs;
  const biasCorrection = intOption(ctx, 'biasCorrection', 0, 5);
  if (biasCorrection !== undefined) out.biasCorrection = biasCorrection;
  const floatHead = boolOption(ctx, 'floatHead');
  if (floatHead !== undefined) out.floatHead = floatHead;
  Object.assign(out, fidelityPassThrough(ctx));
  return out;
}

/** The fidelity options of a job, read and validated once: `force`, `confidence`, `noHoldout`. */
export interface FidelityJobOptions {
  /** Write and activate a variant even when its fidelity gate fails (the report says `forced`). */
  force: boolean;
  /** Confidence of compress's intervals and bound check (0 = point estimates); undefined: compress's default. */
  confidence: number | undefined;
  /** Judge compress's bound on the data the variant was fitted to instead of a held-out split. */
  noHoldout: boolean;
}

/** `force`, `confidence` (0, or in (0, 1)) and `noHoldout`; JOB_INVALID naming the option for a bad value. */
export function fidelityOptions(ctx: JobContext): FidelityJobOptions {
  const force = boolOption(ctx, 'force') ?? false;
  const noHoldout = boolOption(ctx, 'noHoldout') ?? false;
  const confidence = ctx.job.options.confidence;
  if (confidence !== undefined && !isConfidenceLevel(confidence)) {
    throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: options.confidence must be 0 (point estimates) or a number in (0, 1), got ${JSON.stringify(confidence)}`);
  }
  return { force, confidence, noHoldout };
}

/** The fidelity options as `edgetune compress` flags: `--force`, `--confidence X`, `--no-holdout` (defaults left out). */
export function fidelityPassThrough(ctx: JobContext): Record<string, number | boolean> {
  const o = fidelityOptions(ctx);
  const out: Record<string, number | boolean> = {};
  if (o.force) out.force = true;
  if (o.confidence !== undefined) out.confidence = o.confidence;
  if (o.noHoldout) out.holdout = false;
  return out;
}

/** Profile settings from job options. */
export function profileSettings(ctx: JobContext): { iterations?: number; warmup?: number; threads?: number; energy?: string; opProfile?: boolean } {
  const out: { iterations?: number; warmup?: number; threads?: number; energy?: string; opProfile?: boolean } = {};
  const iterations = intOption(ctx, 'iterations', 1, 1_000_000);
  if (iterations !== undefined) out.iterations = iterations;
  const warmup = intOption(ctx, 'warmup', 0, 100_000);
  if (warmup !== undefined) out.warmup = warmup;
  const threads = intOption(ctx, 'threads', 1, 256);
  if (threads !== undefined) out.threads = threads;
  const energy = patternOption(ctx, 'energy', /^[a-z0-9_-]{1,32}$/, 'auto, off or an energy source name');
  if (energy !== undefined) out.energy = energy;
  const opProfile = boolOption(ctx, 'opProfile');
  if (opProfile !== undefined) out.opProfile = opProfile;
  return out;
}

/** `edgetune tune` options a job may pass, validated by type. */
export function tunePassThrough(ctx: JobContext): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const nums: Array<[string, number, number]> = [
    ['maxAccuracyDrop', 0, 100],
    ['maxLatencyMs', 0, 1e7],
    ['maxMemoryMb', 0, 1e7],
    ['maxSizeMb', 0, 1e7],
    ['budgetS', 1, 7 * 24 * 3600],
  ];
  for (const [name, min, max] of nums) {
    const v = numberOption(ctx, name, min, max);
    if (v !== undefined) out[name] = v;
  }
  const objective = enumOption(ctx, 'objective', ['latency', 'energy', 'size'] as const);
  if (objective) out.objective = objective;
  const candidates = patternOption(ctx, 'candidates', /^[A-Za-z0-9_.+-]{1,64}(,[A-Za-z0-9_.+-]{1,64}){0,63}$/, 'a comma list of candidate ids');
  if (candidates) out.candidates = candidates;
  const settings = profileSettings(ctx);
  if (settings.iterations !== undefined) out.iterations = settings.iterations;
  if (settings.warmup !== undefined) out.warmup = settings.warmup;
  if (settings.threads !== undefined) out.threads = settings.threads;
  if (settings.energy !== undefined) out.energy = settings.energy;
  // Judged on a held-out half of the job's data unless noHoldout; intervals at options.confidence (tune has no --force).
  const fidelity = fidelityPassThrough(ctx);
  if (fidelity.confidence !== undefined) out.confidence = fidelity.confidence;
  if (fidelity.holdout === false) out.holdout = false;
  return out;
}
