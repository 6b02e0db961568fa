import { SHA256_PATTERN } from '../../transport/topics.js';
import { EdgetuneError } from '../../util/errors.js';
import type { ActionHandler } from '../job-context.js';
import { registerReceivedModel, summarizeVariant } from '../variants.js';

/** `activate`: make a stored variant live (`options.variantId`, or the job's model); the live one becomes previous. */
export const activate: ActionHandler = async (ctx) => {
  let variantId: string;
  if (ctx.job.artifact) variantId = registerReceivedModel(ctx).variantId;
  else {
    const v = ctx.job.options.variantId;
    if (typeof v !== 'string' || !SHA256_PATTERN.test(v)) throw new EdgetuneError('JOB_INVALID', 'activate: options.variantId must be the sha256 of a stored variant');
    variantId = v;
  }
  const { live, previous } = ctx.store.activateVariant(variantId);
  return { live: summarizeVariant(live), previous: previous ? summarizeVariant(previous) : null };
};
