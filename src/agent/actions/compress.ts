import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionHandler, JobContext } from '../job-context.js';
import { installVariantFile, resolveJobModel, summarizeVariant } from '../variants.js';
import type { VariantRow } from '../../store/agent-store.js';
import type { CompressJson } from '../agent-services.js';
import type { DetectionTaskFiles } from '../../detect/load-detection-task.js';
import { compressGateOf } from '../fidelity-verdict.js';
import { compressPassThrough, detectionTaskOf, optionsOf } from './job-options.js';

/** A compression written to a scratch file, not yet stored as a variant. */
export interface CompressedFile {
  /** The scratch file (in the work directory); the caller installs it or removes it. */
  tempPath: string;
  result: CompressJson;
  /** The method the child reports it ran (the plan's choice for 'plan'). */
  method: string;
}

/**
 * Compress `source` with `method` in a child process into a scratch file (`options`: the job's compress flags;
 * `detection`: a detector's task, whose decoded boxes the child's gate and bound judge).
 */
export async function compressToFile(
  ctx: JobContext,
  source: VariantRow,
  sourcePath: string,
  method: string,
  options: Record<string, string | number | boolean>,
  detection?: DetectionTaskFiles,
): Promise<CompressedFile> {
  mkdirSync(ctx.paths.workDir, { recursive: true });
  const tempPath = join(ctx.paths.workDir, `compress-${randomBytes(8).toString('hex')}.onnx`);
  ctx.progress('compress', null, `${method} on ${source.variantId.slice(0, 12)}`);
  try {
    const result = await ctx.services.compress(
      {
        modelPath: sourcePath,
        outPath: tempPath,
        method,
        ...(ctx.job.data ? { dataDir: ctx.paths.dataset(ctx.job.data.sha256) } : {}),
        options,
        ...(detection ? { detection } : {}),
      },
      ctx.callOptions(),
    );
    return { tempPath, result, method: typeof result.method === 'string' ? result.method : method };
  } catch (error) {
    rmSync(tempPath, { force: true });
    throw error;
  }
}

/** Compress `source` with `method` in a child process and store the result as a new variant. */
export async function compressToVariant(
  ctx: JobContext,
  source: VariantRow,
  sourcePath: string,
  method: string,
  options: Record<string, string | number | boolean>,
  detection?: DetectionTaskFiles,
): Promise<{ variant: VariantRow; result: CompressJson }> {
  const file = await compressToFile(ctx, source, sourcePath, method, options, detection);
  const variant = await installVariantFile(ctx, file.tempPath, source.variantId, file.method, file.result);
  return { variant, result: file.result };
}

/**
 * `compress`: compress the job's model (by `options.method`, default the device plan) into a stored variant; with
 * `options.detection` the fidelity gate and `maxAccuracyDrop` judge decoded detections (`compress.fidelity.detection`).
 */
export const compress: ActionHandler = async (ctx) => {
  const o = optionsOf(ctx, 'compress');
  const { method, activate } = o;
  const { variant: source, path } = resolveJobModel(ctx);
  const { variant, result } = await compressToVariant(ctx, source, path, method, compressPassThrough(o), detectionTaskOf(o));
  const live = activate ? ctx.store.activateVariant(variant.variantId).live : ctx.store.getVariant(variant.variantId);
  // written with force although it failed the fidelity gate: the report says so (a later activate refuses it without force)
  const forced = compressGateOf(result)?.forced === true;
  return { source: summarizeVariant(source), variant: summarizeVariant(live ?? variant), forced, compress: result };
};
