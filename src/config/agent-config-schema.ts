import { z } from 'zod';
import { deviceProfileConfigSchema } from '../hardware/device-profile.js';

/** A device id or group name: SPEC.md `[A-Za-z0-9_-]{1,64}`. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A topic prefix: MQTT levels of safe characters, no wildcards, no leading or trailing slash. */
const TOPIC_PREFIX_PATTERN = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

const deviceId = z.string().regex(DEVICE_ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}');
const nonEmptyPath = z.string().min(1, 'must be a non-empty path');
const positiveInt = z.number().int('must be an integer').positive('must be > 0');
const cronExpression = z.string().min(1, 'must be a cron expression');

/** The broker section: `embedded` or an mqtt:// / mqtts:// URL, with credentials and TLS files beside it. */
export const brokerConfigSchema = z.strictObject({
  url: z.string().refine((u) => u === 'embedded' || /^mqtts?:\/\/[^\s]+$/.test(u), {
    message: 'must be "embedded" or an mqtt:// or mqtts:// URL',
  }).describe('`embedded` (an in-process aedes broker on `host`:`port`) or an mqtt:// / mqtts:// URL'),
  urls: z
    .array(z.string().regex(/^mqtts?:\/\/[^\s,]+$/, 'must be an mqtt:// or mqtts:// URL'))
    .min(1, 'must list at least one node')
    .refine((l) => new Set(l).size === l.length, { message: 'lists a node twice' })
    .optional()
    .describe('the nodes of a clustered broker (mqtt:// / mqtts:// URLs), tried in order: a lost node fails over to the next, round to the first again; replaces `url`'),
  host: z.string().min(1).describe('address the embedded broker listens on'),
  port: z.number().int().min(0).max(65535).describe('port of the embedded broker'),
  username: z.string().optional().describe('broker username'),
  password: z.string().optional().describe('broker password'),
  ca: nonEmptyPath.optional().describe('CA certificate (PEM) that mqtts:// checks the broker against'),
  cert: nonEmptyPath.optional().describe('client certificate (PEM)'),
  key: nonEmptyPath.optional().describe('client certificate key (PEM)'),
  protocolVersion: z.union([z.literal(4), z.literal(5)]).optional().describe('MQTT protocol level: 4 (3.1.1) or 5; unset: 5, falling back to 3.1.1 (the embedded broker speaks 4)'),
  keepaliveSeconds: positiveInt.max(65535).describe('MQTT keepalive'),
  sessionExpirySeconds: z.number().int().min(0).max(0xffffffff).describe('how long the broker keeps the persistent session (and queued QoS 1 jobs) while the agent is away'),
  willDelaySeconds: z.number().int().min(0).max(0xffffffff).describe('delay before the broker publishes the Last Will (`offline` status) after the agent drops'),
  /** MQTT 5 Receive Maximum: QoS 1 messages the broker may have in flight to us; bounds its memory per device. */
  receiveMaximum: positiveInt.max(65535).describe('MQTT 5 Receive Maximum: QoS 1 messages the broker may have in flight to the agent (bounds its memory per device)'),
  reconnectInitialMs: positiveInt.describe('first reconnect delay (doubles per attempt, with jitter, up to `reconnectMaxMs`)'),
  reconnectMaxMs: positiveInt.describe('longest reconnect delay'),
  artifactQos: z
    .union([z.literal(0), z.literal(1)])
    .describe(
      'QoS of artifact transfers (manifest and chunk subscriptions; the operator publishes chunks at it when given this file): 1 lets the broker pace each device (Receive Maximum); 0 for a clustered broker that keeps a persistent consumer per QoS 1 subscription (NATS JetStream), where a lost chunk is asked for again after `limits.transferStallSeconds`',
    ),
});

/** Resource limits applied before any byte is written or any child is started. */
export const limitsConfigSchema = z.strictObject({
  maxArtifactBytes: positiveInt.describe('largest model or dataset a job may bring'),
  maxChunkBytes: positiveInt.max(256 * 1024 * 1024).describe('largest chunk size a manifest may use'),
  /** Most chunks one artifact may be cut into (the chunk bitmap and request bookkeeping grow with it). */
  maxChunks: positiveInt.max(1 << 24).describe('most chunks one artifact may be cut into'),
  maxProfileSeconds: positiveInt.describe('wall-clock limit of one child process (compress, profile, tune step)'),
  maxChildMemoryMb: positiveInt.describe('memory limit of one child process'),
  maxQueuedJobs: positiveInt.describe('jobs queued or running at once; more are refused with LIMIT_EXCEEDED'),
  maxControlMessageBytes: positiveInt.describe('largest JSON control message (job, manifest) accepted'),
  transferWindowChunks: positiveInt.max(1024).describe('chunks requested at a time during a transfer'),
  transferStallSeconds: positiveInt.describe('seconds without a chunk before the agent asks again'),
  transferTimeoutSeconds: positiveInt.describe('longest one artifact transfer may take'),
  /** Jobs issued longer ago than this are refused as replays (the signed `issuedAt`); also bounds queued-job age. */
  jobReplayWindowSeconds: positiveInt.describe('a signed job whose `issuedAt` is older is refused as a replay (also bounds queued-job age)'),
  /** How far in the future a job's `issuedAt` may be (operator and device clocks differ). */
  maxClockSkewSeconds: z.number().int().min(0).describe("how far in the future a job's `issuedAt` may be"),
});

/** Cron schedules (node-cron syntax, optional seconds field); null disables a schedule. */
export const schedulesConfigSchema = z.strictObject({
  heartbeat: cronExpression.nullable().describe('publish the retained heartbeat'),
  reprofile: cronExpression.nullable().describe('profile the live model again'),
  cleanup: cronExpression.nullable().describe('checkpoint the store, prune sent reports older than 7 days, remove stale files'),
});

/** The whole agent.config.json after all layers are merged (every key present). */
export const agentConfigSchema = z.strictObject({
  deviceId: deviceId.describe('this device: its topics are `devices/{deviceId}/…`'),
  groups: z.array(z.string().regex(DEVICE_ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}')).describe('groups this device takes `groups/{group}/jobs` from'),
  broker: brokerConfigSchema.describe('the MQTT broker'),
  topicPrefix: z.string().regex(TOPIC_PREFIX_PATTERN, 'must be MQTT topic levels without wildcards, e.g. edgetune/v1').describe('first levels of every topic'),
  dataDir: nonEmptyPath.describe('the SQLite store, artifacts and variants'),
  trustedKeys: z.array(nonEmptyPath).describe('ed25519 public keys (PEM, made by `npx edgetune keygen`) whose signed jobs are accepted'),
  allowUnsigned: z.boolean().describe('accept unsigned jobs (for a closed test network only)'),
  chunkSizeBytes: positiveInt.max(256 * 1024 * 1024).describe('artifact chunk size used by operator commands given this file (`--config`)'),
  limits: limitsConfigSchema.describe('resource limits, applied before any byte is written or any child is started'),
  schedules: schedulesConfigSchema.describe('cron schedules (node-cron syntax, optional seconds field); null disables one'),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).describe('log level on stderr'),
  /** Optional: `name` forces a device profile, `override` deep-merges over the matched one (passed to the hw probe). */
  deviceProfile: deviceProfileConfigSchema.optional().describe('device profile choice, passed to the hardware probe and to every child that plans'),
});

/** The merged, validated agent configuration before paths are made absolute. */
export type AgentConfigShape = z.infer<typeof agentConfigSchema>;
