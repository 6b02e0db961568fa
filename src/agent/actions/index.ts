import type { JobAction } from '../../transport/messages.js';
import { EdgetuneError } from '../../util/errors.js';
import type { ActionHandler } from '../job-context.js';
import { activate } from './activate.js';
import { compress } from './compress.js';
import { deleteVariant } from './delete.js';
import { deploy } from './deploy.js';
import { evaluate } from './eval.js';
import { ping } from './ping.js';
import { profile } from './profile.js';
import { rollback } from './rollback.js';

const tune: ActionHandler = async () => {
  throw new EdgetuneError('RUNTIME_FAILED', 'tune is not available on this agent yet (the tuning issue has not landed)');
};

/** Job action → handler: one file per action. */
export const ACTION_HANDLERS: Readonly<Record<JobAction, ActionHandler>> = {
  ping,
  deploy,
  profile,
  compress,
  eval: evaluate,
  activate,
  rollback,
  delete: deleteVariant,
  tune,
};
