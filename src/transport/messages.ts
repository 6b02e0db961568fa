import { z } from 'zod';
import { EdgetuneError } from '../util/errors.js';
import { DEVICE_ID_PATTERN } from '../config/agent-config-schema.js';
import { SHA256_PATTERN } from './topics.js';

/**
 * Job actions an agent understands (SPEC.md jobs; `tune` arrives with the tuning issue; `resend-reports` re-publishes
 * stored reports a broker acknowledged and then lost).
 */
export const JOB_ACTIONS = ['deploy', 'profile', 'compress', 'eval', 'activate', 'rollback', 'delete', 'ping', 'tune', 'resend-reports'] as const;
/** One job action. */
export type JobAction = (typeof JOB_ACTIONS)[number];

/** Actions that need the artifact's bytes on the device before they can run. */
export const ACTIONS_NEEDING_ARTIFACT: ReadonlySet<JobAction> = new Set<JobAction>(['deploy', 'profile', 'compress', 'eval', 'tune']);

const sha256 = z.string().regex(SHA256_PATTERN, 'must be 64 lower-case hex digits');
const id = z.string().regex(DEVICE_ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}');
const isoTime = z.string().datetime({ offset: true, message: 'must be an ISO 8601 date-time' });

/** Reference to an artifact: its digest and size decide everything, `name` is display only (never a path). */
export const artifactRefSchema = z.strictObject({
  sha256,
  bytes: z.number().int().nonnegative(),
  name: z.string().max(256),
});
/** An artifact reference inside a job. */
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

/** A job as published on `devices/{id}/jobs` or `groups/{g}/jobs`. */
export const jobMessageSchema = z.strictObject({
  jobId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must match [A-Za-z0-9_.:-]{1,128}'),
  action: z.enum(JOB_ACTIONS),
  target: z.union([z.strictObject({ device: id }), z.strictObject({ group: id })]),
  artifact: artifactRefSchema.optional(),
  data: artifactRefSchema.optional(),
  options: z.record(z.string(), z.unknown()),
  issuedAt: isoTime,
  expiresAt: isoTime.optional(),
  keyId: z.string().max(128).optional(),
  signature: z.string().max(1024).nullable(),
});
/** A job. */
export type JobMessage = z.infer<typeof jobMessageSchema>;

/** Artifact kinds: an ONNX model, or a dataset bundle (the ONNX test-data layout packed by the operator). */
export const ARTIFACT_KINDS = ['model', 'dataset'] as const;

/** The retained manifest on `artifacts/{sha256}/manifest`. */
export const manifestMessageSchema = z.strictObject({
  sha256,
  bytes: z.number().int().nonnegative(),
  chunkSize: z.number().int().positive(),
  chunks: z.number().int().nonnegative(),
  name: z.string().max(256),
  kind: z.enum(ARTIFACT_KINDS),
  keyId: z.string().max(128).optional(),
  signature: z.string().max(1024).nullable(),
});
/** A manifest. */
export type ManifestMessage = z.infer<typeof manifestMessageSchema>;

/**
 * `devices/{id}/requests`: chunks the device still needs; an empty `missing` says the artifact is complete.
 * `retry` says the device may have been sent these already and lost them (reconnect, stall): re-send to it alone.
 */
export const requestMessageSchema = z.strictObject({
  sha256,
  missing: z.array(z.number().int().nonnegative()).max(100_000),
  complete: z.boolean(),
  received: z.number().int().nonnegative(),
  chunks: z.number().int().nonnegative(),
  retry: z.boolean().optional(),
});
/** A chunk request. */
export type RequestMessage = z.infer<typeof requestMessageSchema>;

/** `devices/{id}/events` (QoS 0): progress of a job. */
export const eventMessageSchema = z.looseObject({
  jobId: z.string(),
  stage: z.string(),
  progress: z.number().min(0).max(1).nullable(),
  message: z.string().optional(),
  at: isoTime,
});
/** A progress event. */
export type EventMessage = z.infer<typeof eventMessageSchema>;

/** `devices/{id}/status` (retained; also the Last Will). */
export const statusMessageSchema = z.looseObject({
  state: z.enum(['online', 'offline']),
  version: z.string(),
  since: isoTime,
  deviceId: id.optional(),
});
/** A status message. */
export type StatusMessage = z.infer<typeof statusMessageSchema>;

/** `devices/{id}/hello` (retained): the hardware JSON and the matched device profile. */
export const helloMessageSchema = z.looseObject({
  deviceId: id,
  groups: z.array(id),
  version: z.string(),
  startedAt: isoTime,
  hw: z.unknown().nullable(),
  profile: z.string().nullable(),
  activeModel: z.looseObject({ sha256, variantId: z.string() }).nullable().optional(),
});
/** A hello message. */
export type HelloMessage = z.infer<typeof helloMessageSchema>;

/**
 * `devices/{id}/heartbeat` (retained, QoS 0): load, memory, temperature, throttle state. `lastReportSeq` (optional:
 * older agents omit it) is the highest report seq the agent has committed, so the operator sees a lost newest report.
 * `nextAt` (optional) is when the next heartbeat is due by the agent's schedule: a device still "online" (its Will
 * not fired: a hung process with its TCP alive, or a clustered broker whose node died with the Will) whose next
 * heartbeat is well overdue is flagged by `devices`.
 */
export const heartbeatMessageSchema = z.looseObject({
  deviceId: id,
  at: isoTime,
  uptimeSeconds: z.number(),
  load1: z.number().nullable(),
  memoryFreeBytes: z.number().nullable(),
  memoryTotalBytes: z.number().nullable(),
  agentRssBytes: z.number(),
  temperatureC: z.number().nullable(),
  throttled: z.boolean().nullable(),
  queuedJobs: z.number().int(),
  lastReportSeq: z.number().int().nonnegative().optional(),
  nextAt: isoTime.optional(),
});
/** A heartbeat. */
export type HeartbeatMessage = z.infer<typeof heartbeatMessageSchema>;

/** Final state of a job as reported. */
export const REPORT_STATES = ['ok', 'failed'] as const;

/** `devices/{id}/reports`: `{ reportId, jobId, action, ...result }`; result keys are per action (profile, compress, …). */
export const reportMessageSchema = z.looseObject({
  reportId: z.string().min(1).max(128),
  jobId: z.string().min(1).max(128),
  action: z.string().min(1).max(32),
  deviceId: id,
  seq: z.number().int().nonnegative(),
  state: z.enum(REPORT_STATES),
  createdAt: isoTime,
  artifact: artifactRefSchema.nullable(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});
/** A report. */
export type ReportMessage = z.infer<typeof reportMessageSchema>;

/** Topic kind → payload type: what each edgetune topic carries. */
export interface TopicPayloads {
  status: StatusMessage;
  hello: HelloMessage;
  heartbeat: HeartbeatMessage;
  jobs: JobMessage;
  'group-jobs': JobMessage;
  requests: RequestMessage;
  events: EventMessage;
  reports: ReportMessage;
  manifest: ManifestMessage;
}

const SCHEMAS: { [K in keyof TopicPayloads]: z.ZodType<TopicPayloads[K]> } = {
  status: statusMessageSchema,
  hello: helloMessageSchema,
  heartbeat: heartbeatMessageSchema,
  jobs: jobMessageSchema,
  'group-jobs': jobMessageSchema,
  requests: requestMessageSchema,
  events: eventMessageSchema,
  reports: reportMessageSchema,
  manifest: manifestMessageSchema,
};

/** Error code used when a message of the given kind is malformed. */
function codeFor(kind: keyof TopicPayloads): 'JOB_INVALID' | 'ARTIFACT_INVALID' | 'USAGE' {
  if (kind === 'jobs' || kind === 'group-jobs') return 'JOB_INVALID';
  if (kind === 'manifest') return 'ARTIFACT_INVALID';
  return 'USAGE';
}

/**
 * Decode a JSON control message: size checked before JSON.parse, then validated.
 * Throws EdgetuneError (JOB_INVALID / ARTIFACT_INVALID / LIMIT_EXCEEDED) naming every problem.
 */
export function decodeMessage<K extends keyof TopicPayloads>(kind: K, payload: Uint8Array, maxBytes: number): TopicPayloads[K] {
  if (payload.byteLength > maxBytes) {
    throw new EdgetuneError('LIMIT_EXCEEDED', `${kind} message of ${payload.byteLength} bytes is over the ${maxBytes}-byte limit for control messages`);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (error) {
    throw new EdgetuneError(codeFor(kind), `${kind} message is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = SCHEMAS[kind].safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
    throw new EdgetuneError(codeFor(kind), `${kind} message is malformed: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Encode a message as UTF-8 JSON bytes. */
export function encodeMessage<K extends keyof TopicPayloads>(_kind: K, message: TopicPayloads[K]): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}
