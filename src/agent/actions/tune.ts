import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EdgetuneError } from '../../util/errors.js';
import type { ActionHandler } from '../job-context.js';
import { installVariantFile, resolveJobModel, summarizeVariant } from '../variants.js';
import { boolOption, tunePassThrough } from './job-options.js';

/**
 * `tune`: search compressions of the job's model under the job's constraints (`edgetune tune` in a child, its
 * store kept under dataDir/tune so a re-run continues), store the chosen variant and make it live unless
 * `options.activate` is false. No candidate meeting the constraints is a result too: the report says so.
 */
export const tune: ActionHandler = async (ctx) => {
  const activate = boolOption(ctx, 'activate') ?? true;
  const options = tunePassThrough(ctx);
  const { variant: source, path } = resolveJobModel(ctx);
  mkdirSync(ctx.paths.workDir, { recursive: true });
  mkdirSync(ctx.paths.tuneDir, { recursive: true });
  const outPath = join(ctx.paths.workDir, `tune-${randomBytes(8).toString('hex')}.onnx`);
  ctx.progress('tune', null, `searching compressions of ${source.variantId.slice(0, 12)}`);
  const result = await ctx.services.tune(
    { modelPath: path, outPath, workDir: ctx.paths.tuneDir, ...(ctx.job.data ? { dataDir: ctx.paths.dataset(ctx.job.data.sha256) } : {}), options },
    ctx.callOptions(),
  );
  const chosen = typeof result.chosen === 'string' ? result.chosen : null;
  if (chosen === null) return { source: summarizeVariant(source), variant: null, activated: false, tune: result };
  if (!existsSync(outPath)) throw new EdgetuneError('RUNTIME_FAILED', `tune chose '${chosen}' but wrote no model`);
  const variant = await installVariantFile(ctx, outPath, source.variantId, `tune:${chosen}`, { chosen });
  const roles = activate ? ctx.store.activateVariant(variant.variantId) : null;
  return {
    source: summarizeVariant(ctx.store.getVariant(source.variantId) ?? source),
    variant: summarizeVariant(roles?.live ?? ctx.store.getVariant(variant.variantId) ?? variant),
    activated: activate,
    previous: roles?.previous ? summarizeVariant(roles.previous) : null,
    tune: result,
  };
};
