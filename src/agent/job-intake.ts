import type { KeyObject } from 'node:crypto';
import type { ResolvedAgentConfig } from '../config/load-agent-config.js';
import type { AgentStore } from '../store/agent-store.js';
import { decodeMessage, type JobMessage } from '../transport/messages.js';
import { verifyJobSignature } from '../transport/signature.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import type { Logger } from './logger.js';
import { jobOptionProblems } from './actions/job-option-schemas.js';

/** Where a job came from. */
export type JobSource = { kind: 'device'; deviceId: string } | { kind: 'group'; group: string };

/** Outcome of taking in one job message. */
export type IntakeOutcome =
  | { outcome: 'accepted'; job: JobMessage }
  | { outcome: 'refused'; jobId: string; action: string; error: EdgetuneError; job: JobMessage | null; payloadText: string }
  | { outcome: 'duplicate'; jobId: string };

const JOB_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Best-effort jobId/action from a payload that failed validation (so the refusal names the job). */
export function salvageJobIdentity(payload: Buffer, maxBytes: number): { jobId: string | null; action: string } {
  if (payload.length > maxBytes) return { jobId: null, action: 'unknown' };
  try {
    const v = JSON.parse(payload.toString('utf8')) as { jobId?: unknown; action?: unknown };
    const jobId = typeof v.jobId === 'string' && JOB_ID.test(v.jobId) ? v.jobId : null;
    const action = typeof v.action === 'string' && /^[a-z-]{1,32}$/.test(v.action) ? v.action : 'unknown';
    return { jobId, action };
  } catch {
    // Not JSON at all (e.g. truncated): a plain "jobId": "..." in the text still lets the operator match the refusal.
    const text = payload.toString('utf8');
    const jobId = /"jobId"\s*:\s*"([A-Za-z0-9_.:-]{1,128})"/.exec(text)?.[1] ?? null;
    const action = /"action"\s*:\s*"([a-z-]{1,32})"/.exec(text)?.[1] ?? 'unknown';
    return { jobId, action };
  }
}

/**
 * Validates a job message before anything else happens: size, JSON, schema, target vs. the topic it came on,
 * expiry, replay window and clock skew on the signed `issuedAt`, signature against the trusted keys, artifact size
 * limits, the action's options (job-option-schemas.ts), queue limit. Pure apart from the clock and the store's queue
 * count; persistence is the caller's (inside the MQTT ack-after-persist window).
 */
export class JobValidator {
  private readonly config: ResolvedAgentConfig;
  private readonly trustedKeys: readonly KeyObject[];
  private readonly store: AgentStore;
  private readonly log: Logger;

  constructor(config: ResolvedAgentConfig, trustedKeys: readonly KeyObject[], store: AgentStore, log: Logger) {
    this.config = config;
    this.trustedKeys = trustedKeys;
    this.store = store;
    this.log = log;
  }

  /** Decode and check a job payload that arrived on `source`. */
  validate(payload: Buffer, source: JobSource, nowMs: number = Date.now()): Exclude<IntakeOutcome, { outcome: 'duplicate' }> {
    const limits = this.config.limits;
    const payloadText = payload.length <= limits.maxControlMessageBytes ? payload.toString('utf8') : `(${payload.length} bytes, not stored)`;
    let job: JobMessage;
    try {
      job = decodeMessage('jobs', payload, limits.maxControlMessageBytes);
    } catch (error) {
      const { jobId, action } = salvageJobIdentity(payload, limits.maxControlMessageBytes);
      const e = error instanceof EdgetuneError ? error : new EdgetuneError('JOB_INVALID', messageOf(error));
      return { outcome: 'refused', jobId: jobId ?? '', action, error: e, job: null, payloadText };
    }
    const refuse = (code: 'JOB_INVALID' | 'SIGNATURE_INVALID' | 'LIMIT_EXCEEDED', message: string): Exclude<IntakeOutcome, { outcome: 'duplicate' }> => ({
      outcome: 'refused',
      jobId: job.jobId,
      action: job.action,
      error: new EdgetuneError(code, message),
      job,
      payloadText,
    });
    if (source.kind === 'device') {
      if (!('device' in job.target) || job.target.device !== this.config.deviceId) {
        return refuse('JOB_INVALID', `job ${job.jobId} is addressed to ${JSON.stringify(job.target)}, not to device ${this.config.deviceId}`);
      }
    } else if (!('group' in job.target) || job.target.group !== source.group || !this.config.groups.includes(source.group)) {
      return refuse('JOB_INVALID', `job ${job.jobId} on the jobs topic of group ${source.group} is addressed to ${JSON.stringify(job.target)}`);
    }
    if (job.expiresAt !== undefined && Date.parse(job.expiresAt) < nowMs) {
      return refuse('JOB_INVALID', `job ${job.jobId} expired at ${job.expiresAt}`);
    }
    const ageSeconds = (nowMs - Date.parse(job.issuedAt)) / 1000;
    if (ageSeconds > limits.jobReplayWindowSeconds) {
      return refuse(
        'JOB_INVALID',
        `job ${job.jobId} was issued at ${job.issuedAt}, ${Math.round(ageSeconds)} s ago, outside the replay window of ${limits.jobReplayWindowSeconds} s (limits.jobReplayWindowSeconds)`,
      );
    }
    if (-ageSeconds > limits.maxClockSkewSeconds) {
      return refuse(
        'JOB_INVALID',
        `job ${job.jobId} was issued at ${job.issuedAt}, ${Math.round(-ageSeconds)} s in this device's future (limits.maxClockSkewSeconds ${limits.maxClockSkewSeconds}); check the device clock (NTP)`,
      );
    }
    const mustVerify = !this.config.allowUnsigned || (job.signature !== null && this.trustedKeys.length > 0);
    if (mustVerify) {
      try {
        verifyJobSignature(job, this.trustedKeys);
      } catch (error) {
        return refuse('SIGNATURE_INVALID', `job ${job.jobId}: ${messageOf(error)}`);
      }
    } else if (job.signature === null) {
      this.log.warn(`job ${job.jobId} is unsigned; accepted because allowUnsigned is true`);
    }
    for (const [what, ref] of [['artifact', job.artifact], ['data', job.data]] as const) {
      if (ref && ref.bytes > limits.maxArtifactBytes) {
        return refuse('LIMIT_EXCEEDED', `job ${job.jobId}: ${what} ${ref.sha256} is ${ref.bytes} bytes, over limits.maxArtifactBytes ${limits.maxArtifactBytes}`);
      }
    }
    if (job.action === 'deploy' && !job.artifact) return refuse('JOB_INVALID', `job ${job.jobId}: deploy needs a model artifact`);
    if (job.action === 'eval' && !job.data) return refuse('JOB_INVALID', `job ${job.jobId}: eval needs a dataset (data)`);
    const problems = jobOptionProblems(job.action, job.options);
    if (problems.length > 0) return refuse('JOB_INVALID', `job ${job.jobId} (${job.action}): ${problems.map((p) => p.message).join('; ')}`);
    const open = this.store.openJobCount();
    if (open >= limits.maxQueuedJobs) {
      return refuse('LIMIT_EXCEEDED', `job ${job.jobId}: ${open} jobs are already queued (limits.maxQueuedJobs ${limits.maxQueuedJobs})`);
    }
    return { outcome: 'accepted', job };
  }
}
