import { EdgetuneError } from '../../util/errors.js';
import type { ActionHandler } from '../job-context.js';
import { registerReceivedModel, summarizeVariant } from '../variants.js';
import { compressToVariant } from './compress.js';
import { COMPRESS_METHODS, boolOption, enumOption, profileSettings } from './job-options.js';

/**
 * `deploy`: store the model, compress it by the device's plan (or `options.method`; 'none' keeps it as is),
 * profile the result (the health check), evaluate it against the original when a dataset came with the job, then
 * make it the live variant (the previous one is kept for rollback). Any failure leaves the live model untouched.
 */
export const deploy: ActionHandler = async (ctx) => {
  if (!ctx.job.artifact) throw new EdgetuneError('JOB_INVALID', 'deploy: the job names no model artifact');
  const method = enumOption(ctx, 'method', [...COMPRESS_METHODS, 'none'] as const) ?? 'plan';
  const activate = boolOption(ctx, 'activate') ?? true;
  const settings = profileSettings(ctx);
  const original = registerReceivedModel(ctx);
  const originalPath = ctx.paths.model(original.variantId);

  let plan: unknown = null;
  if (method === 'plan') {
    ctx.progress('plan', 0.1);
    plan = await ctx.services.plan(originalPath, ctx.callOptions());
  }
  let variant = original;
  let compress: unknown = null;
  if (method !== 'none') {
    ctx.progress('compress', 0.3);
    const out = await compressToVariant(ctx, original, originalPath, method);
    variant = out.variant;
    compress = out.result;
  }
  ctx.progress('profile', 0.6);
  const dataDir = ctx.job.data ? ctx.paths.dataset(ctx.job.data.sha256) : undefined;
  const profile = await ctx.services.profile(
    { modelPath: ctx.paths.model(variant.variantId), ...(dataDir ? { dataDir } : {}), ...settings, hardware: await ctx.hardware() },
    ctx.callOptions(),
  );
  ctx.store.addProfile(variant.variantId, ctx.job.jobId, profile);
  let evaluation: unknown = null;
  if (dataDir) {
    ctx.progress('eval', 0.85);
    evaluation = await ctx.services.evaluate(
      { modelPath: ctx.paths.model(variant.variantId), dataDir, ...(variant.variantId !== original.variantId ? { referencePath: originalPath } : {}) },
      ctx.callOptions(),
    );
  }
  const roles = activate ? ctx.store.activateVariant(variant.variantId) : null;
  return {
    source: summarizeVariant(ctx.store.getVariant(original.variantId) ?? original),
    variant: summarizeVariant(roles?.live ?? ctx.store.getVariant(variant.variantId) ?? variant),
    activated: activate,
    previous: roles?.previous ? summarizeVariant(roles.previous) : null,
    plan,
    compress,
    profile,
    eval: evaluation,
  };
};
