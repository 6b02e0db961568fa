import { rmSync } from 'node:fs';
import { SHA256_PATTERN } from '../../transport/topics.js';
import { EdgetuneError } from '../../util/errors.js';
import type { ActionHandler } from '../job-context.js';
import { summarizeVariant } from '../variants.js';

/** `delete`: remove a stored, non-live variant (`options.variantId`) and its file. */
export const deleteVariant: ActionHandler = async (ctx) => {
  const v = ctx.job.options.variantId;
  if (typeof v !== 'string' || !SHA256_PATTERN.test(v)) throw new EdgetuneError('JOB_INVALID', 'delete: options.variantId must be the sha256 of a stored variant');
  const removed = ctx.store.deleteVariant(v);
  rmSync(ctx.paths.model(v), { force: true });
  ctx.store.deleteArtifact(v);
  return { deleted: summarizeVariant(removed) };
};
