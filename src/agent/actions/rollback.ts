import type { ActionHandler } from '../job-context.js';
import { summarizeVariant } from '../variants.js';

/** `rollback`: swap the live variant with the previous one. */
export const rollback: ActionHandler = async (ctx) => {
  const { live, previous } = ctx.store.rollbackVariant();
  return { live: summarizeVariant(live), previous: summarizeVariant(previous) };
};
