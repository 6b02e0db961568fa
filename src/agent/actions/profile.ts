import type { ActionHandler } from '../job-context.js';
import { resolveJobModel, summarizeVariant } from '../variants.js';
import { optionsOf, profileSettings } from './job-options.js';

/**
 * `profile`: profile the job's model (or options.variantId, or the live model) in a child process; store and report
 * it. `options.shapes` gives inputs with symbolic dims their concrete shape (`push --shape`, as `profile --shape`).
 */
export const profile: ActionHandler = async (ctx) => {
  const settings = profileSettings(optionsOf(ctx, 'profile'));
  const { variant, path } = resolveJobModel(ctx);
  ctx.progress('profile', null, `profiling ${variant.variantId.slice(0, 12)}`);
  const result = await ctx.services.profile(
    { modelPath: path, ...(ctx.job.data ? { dataDir: ctx.paths.dataset(ctx.job.data.sha256) } : {}), ...settings, hardware: await ctx.hardware() },
    ctx.callOptions(),
  );
  ctx.store.addProfile(variant.variantId, ctx.job.jobId, result);
  return { variant: summarizeVariant(variant), profile: result };
};
