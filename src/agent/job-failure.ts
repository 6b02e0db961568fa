import { EdgetuneError, type ErrorCode } from '../util/errors.js';
import type { ActionResult } from './job-context.js';

/**
 * A job failure that carries report fields besides its code and message: the figures behind a refusal (a fidelity
 * gate's agreement, cosine and collapse findings, the variant that stays live). The failed report is
 * `{ ...report, state: 'failed', error: { code, message } }`; the report's own fields (reportId, state, …) win.
 */
export class JobFailure extends EdgetuneError {
  readonly report: ActionResult;

  constructor(code: ErrorCode, message: string, report: ActionResult, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'JobFailure';
    this.report = report;
  }
}

/** The report fields a failed job's error carries: a JobFailure's, none for any other error. */
export function failureReportFields(error: EdgetuneError): ActionResult {
  return error instanceof JobFailure ? error.report : {};
}
