import type { DetectionTaskFiles } from '../../detect/load-detection-task.js';
import type { JobAction } from '../../transport/messages.js';
import type { JobContext } from '../job-context.js';
import { parseJobOptions, type JobOptionsOf } from './job-option-schemas.js';

/** The running job's options parsed by its action's schema (job-option-schemas.ts); JOB_INVALID naming the option. */
export function optionsOf<A extends JobAction>(ctx: JobContext, action: A): JobOptionsOf<A> {
  return parseJobOptions(action, ctx.job.options);
}

/** The job options `edgetune compress` takes as flags (parsed by the compress or deploy schema). */
export type CompressFlagOptions = Pick<
  JobOptionsOf<'compress'>,
  | 'calibration'
  | 'perChannel'
  | 'symmetric'
  | 'ratio'
  | 'targetCache'
  | 'allocate'
  | 'targetLatencyMs'
  | 'keepFloat'
  | 'maxAccuracyDrop'
  | 'equalize'
  | 'equalizeFloatInputs'
  | 'biasCorrection'
  | 'floatHead'
  | 'lookupIslands'
  | 'hardSwishProduct'
  | 'adaptiveRounding'
  | 'force'
  | 'confidence'
  | 'noHoldout'
>;

/** The options given, as `edgetune compress` flags (`noHoldout` → `--no-holdout`; defaults left out). */
export function compressPassThrough(o: CompressFlagOptions): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const key of ['calibration', 'perChannel', 'symmetric', 'ratio', 'targetCache', 'allocate', 'targetLatencyMs', 'keepFloat', 'maxAccuracyDrop', 'equalize', 'equalizeFloatInputs', 'biasCorrection', 'floatHead', 'lookupIslands', 'hardSwishProduct', 'adaptiveRounding'] as const) {
    const v = o[key];
    if (v !== undefined) out[key] = v;
  }
  if (o.force) out.force = true;
  if (o.confidence !== undefined) out.confidence = o.confidence;
  if (o.noHoldout) out.holdout = false;
  return out;
}

/** Profile settings of a job (profile, deploy, tune): what the profiling child takes. */
export interface ProfileSettings {
  iterations?: number;
  warmup?: number;
  threads?: number;
  energy?: string;
  opProfile?: boolean;
  shapes?: Record<string, number[]>;
}

/** The profile settings among the parsed options (absent ones left out). */
export function profileSettings(o: ProfileSettings): ProfileSettings {
  const out: ProfileSettings = {};
  if (o.iterations !== undefined) out.iterations = o.iterations;
  if (o.warmup !== undefined) out.warmup = o.warmup;
  if (o.threads !== undefined) out.threads = o.threads;
  if (o.energy !== undefined) out.energy = o.energy;
  if (o.opProfile !== undefined) out.opProfile = o.opProfile;
  if (o.shapes !== undefined && Object.keys(o.shapes).length > 0) out.shapes = o.shapes;
  return out;
}

/** The tune options as `edgetune tune` flags; `shapes` go separately (`--shape NAME=DxD`, repeated). */
export function tunePassThrough(o: JobOptionsOf<'tune'>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const key of ['maxAccuracyDrop', 'maxLatencyMs', 'maxMemoryMb', 'maxSizeMb', 'budgetS', 'objective', 'candidates', 'iterations', 'warmup', 'threads', 'energy'] as const) {
    const v = o[key];
    if (v !== undefined) out[key] = v;
  }
  // Judged on a held-out half of the job's data unless noHoldout; intervals at options.confidence (tune has no --force).
  if (o.confidence !== undefined) out.confidence = o.confidence;
  if (o.noHoldout) out.holdout = false;
  return out;
}

/** The job's `detection` option as the task the `eval`, `compress` and `tune` children take (config and labels inline). */
export function detectionTaskOf(o: { detection?: JobOptionsOf<'eval'>['detection'] }): DetectionTaskFiles | undefined {
  const d = o.detection;
  if (!d) return undefined;
  return {
    decoder: d.decoder,
    ...(d.decoderConfig !== undefined ? { decoderConfig: d.decoderConfig } : {}),
    ...(d.labels !== undefined ? { labels: d.labels } : {}),
    ...(d.refConf !== undefined ? { refConf: d.refConf } : {}),
  };
}
