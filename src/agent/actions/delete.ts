import { rmSync } from 'node:fs';
import type { ActionHandler } from '../job-context.js';
import { summarizeVariant } from '../variants.js';
import { optionsOf } from './job-options.js';

/** `delete`: remove a stored, non-live variant (`options.variantId`) and its file. */
export const deleteVariant: ActionHandler = async (ctx) => {
  const { variantId: v } = optionsOf(ctx, 'delete');
  const removed = ctx.store.deleteVariant(v);
  rmSync(ctx.paths.model(v), { force: true });
  ctx.store.deleteArtifact(v);
  return { deleted: summarizeVariant(removed) };
};
