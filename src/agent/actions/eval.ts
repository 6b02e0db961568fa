import { EdgetuneError } from '../../util/errors.js';
import type { ActionHandler } from '../job-context.js';
import { resolveJobModel, summarizeVariant } from '../variants.js';
import { detectionTaskOf, optionsOf } from './job-options.js';

/**
 * `eval`: accuracy/fidelity of the job's model on the job's dataset; `options.reference` = 'source' or a variant
 * sha256; `options.detection` decodes a detector's outputs and scores the boxes (the report's `eval.detection`).
 */
export const evaluate: ActionHandler = async (ctx) => {
  if (!ctx.job.data) throw new EdgetuneError('JOB_INVALID', 'eval: the job carries no dataset (push --data DIR)');
  const o = optionsOf(ctx, 'eval');
  const { reference } = o;
  const detection = detectionTaskOf(o);
  const { variant, path } = resolveJobModel(ctx);
  let referencePath: string | undefined;
  if (reference !== undefined) {
    const refId = reference === 'source' ? variant.sourceSha256 : reference;
    if (!ctx.store.getVariant(refId)) throw new EdgetuneError('JOB_INVALID', `eval: reference variant ${refId} is not stored on this device`);
    referencePath = ctx.paths.model(refId);
  }
  ctx.progress('eval', null);
  const result = await ctx.services.evaluate(
    { modelPath: path, dataDir: ctx.paths.dataset(ctx.job.data.sha256), ...(referencePath ? { referencePath } : {}), ...(detection ? { detection } : {}) },
    ctx.callOptions(),
  );
  return { variant: summarizeVariant(variant), eval: result };
};
