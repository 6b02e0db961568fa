import type { JobAction } from '../../transport/messages.js';
import type { ActionHandler } from '../job-context.js';
import { activate } from './activate.js';
import { compress } from './compress.js';
import { deleteVariant } from './delete.js';
import { deploy } from './deploy.js';
import { evaluate } from './eval.js';
import { ping } from './ping.js';
import { profile } from './profile.js';
import { resendReports } from './resend-reports.js';
import { rollback } from './rollback.js';
import { tune } from './tune.js';

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
  'resend-reports': resendReports,
};
