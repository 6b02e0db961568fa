import { Topics } from '../../transport/topics.js';
import { EdgetuneError } from '../../util/errors.js';
import { seqRanges, subtractRanges, countSeqs, type SeqRange } from '../../util/seq-ranges.js';
import type { ActionHandler } from '../job-context.js';
import { MAX_RESEND_SPAN, parseJobOptions } from './job-option-schemas.js';

export { MAX_RESEND_SPAN };

/** Validated `resend-reports` options; `toSeq` undefined means up to the highest seq committed. */
export interface ResendOptions {
  fromSeq: number;
  toSeq?: number;
}

/** Check `resend-reports` options (job-option-schemas.ts): `fromSeq` (integer >= 1, required), `toSeq` (>= fromSeq, at most 10,000 seqs). */
export function parseResendOptions(options: Record<string, unknown>): ResendOptions {
  const o = parseJobOptions('resend-reports', options);
  return o.toSeq === undefined ? { fromSeq: o.fromSeq } : { fromSeq: o.fromSeq, toSeq: o.toSeq };
}

function checkSpan(fromSeq: number, toSeq: number, what: string): void {
  const span = toSeq - fromSeq + 1;
  if (span > MAX_RESEND_SPAN) {
    throw new EdgetuneError('JOB_INVALID', `resend-reports: ${what} (${fromSeq}..${toSeq}) covers ${span} seqs; at most ${MAX_RESEND_SPAN} per job`);
  }
}

/** What a `resend-reports` report says, under `resend`. */
export interface ResendResult {
  fromSeq: number;
  /** The end of the range (options.toSeq, or the highest seq committed when it was omitted; below fromSeq: empty). */
  toSeq: number;
  /** The highest report seq this device had committed when the job ran (this job's own report comes after it). */
  lastReportSeq: number;
  /** Reports put back into the outbox, byte-identical (same reportId and payload): they follow this report's ack order. */
  resentCount: number;
  resent: SeqRange[];
  /** Seqs in the range this device does not have in its store (never had them, or not yet: above lastReportSeq). */
  notStoredCount: number;
  notStored: SeqRange[];
}

/**
 * `resend-reports`: re-publish the stored reports with seq in [fromSeq, toSeq] through the durable outbox, exactly
 * as they were first published, so the operator can recover reports a broker acknowledged (PUBACK) and then lost.
 * The report says how many were re-sent and which seqs in the range the device does not have. No child process.
 */
export const resendReports: ActionHandler = async (ctx) => {
  const options = parseResendOptions(ctx.job.options);
  const topic = new Topics(ctx.config.topicPrefix).device(ctx.deviceId, 'reports');
  let toSeq = options.toSeq;
  if (toSeq === undefined) {
    toSeq = ctx.store.lastReportSeq();
    if (toSeq >= options.fromSeq) checkSpan(options.fromSeq, toSeq, 'options.fromSeq up to the last report seq (options.toSeq omitted)');
  }
  const { seqs, lastReportSeq } = toSeq >= options.fromSeq ? ctx.store.requeueReports(options.fromSeq, toSeq, topic) : { seqs: [], lastReportSeq: ctx.store.lastReportSeq() };
  const resent = seqRanges(seqs);
  const notStored = toSeq >= options.fromSeq ? subtractRanges([[options.fromSeq, toSeq]], resent) : [];
  ctx.log.info(`re-queued ${seqs.length} report(s) with seq ${options.fromSeq}..${toSeq}; ${countSeqs(notStored)} not stored`);
  const result: ResendResult = {
    fromSeq: options.fromSeq,
    toSeq,
    lastReportSeq,
    resentCount: seqs.length,
    resent,
    notStoredCount: countSeqs(notStored),
    notStored,
  };
  return { resend: result };
};
