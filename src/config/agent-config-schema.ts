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
  }),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  username: z.string().optional(),
  password: z.string().optional(),
  ca: nonEmptyPath.optional(),
  cert: nonEmptyPath.optional(),
  key: nonEmptyPath.optional(),
  protocolVersion: z.union([z.literal(4), z.literal(5)]).optional(),
  keepaliveSeconds: positiveInt.max(65535),
  sessionExpirySeconds: z.number().int().min(0).max(0xffffffff),
  willDelaySeconds: z.number().int().min(0).max(0xffffffff),
  /** MQTT 5 Receive Maximum: QoS 1 messages the broker may have in flight to us; bounds its memory per device. */
  receiveMaximum: positiveInt.max(65535),
  reconnectInitialMs: positiveInt,
  reconnectMaxMs: positiveInt,
});

/** Resource limits applied before any byte is written or any child is started. */
export const limitsConfigSchema = z.strictObject({
  maxArtifactBytes: positiveInt,
  maxChunkBytes: positiveInt.max(256 * 1024 * 1024),
  /** Most chunks one artifact may be cut into (the chunk bitmap and request bookkeeping grow with it). */
  maxChunks: positiveInt.max(1 << 24),
  maxProfileSeconds: positiveInt,
  maxChildMemoryMb: positiveInt,
  maxQueuedJobs: positiveInt,
  maxControlMessageBytes: positiveInt,
  transferWindowChunks: positiveInt.max(1024),
  transferStallSeconds: positiveInt,
  transferTimeoutSeconds: positiveInt,
  /** Jobs issued longer ago than this are refused as replays (the signed `issuedAt`); also bounds queued-job age. */
  jobReplayWindowSeconds: positiveInt,
  /** How far in the future a job's `issuedAt` may be (operator and device clocks differ). */
  maxClockSkewSeconds: z.number().int().min(0),
});

/** Cron schedules (node-cron syntax, optional seconds field); null disables a schedule. */
export const schedulesConfigSchema = z.strictObject({
  heartbeat: cronExpression.nullable(),
  reprofile: cronExpression.nullable(),
  cleanup: cronExpression.nullable(),
});

/** The whole agent.config.json after all layers are merged (every key present). */
export const agentConfigSchema = z.strictObject({
  deviceId,
  groups: z.array(z.string().regex(DEVICE_ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}')),
  broker: brokerConfigSchema,
  topicPrefix: z.string().regex(TOPIC_PREFIX_PATTERN, 'must be MQTT topic levels without wildcards, e.g. edgetune/v1'),
  dataDir: nonEmptyPath,
  trustedKeys: z.array(nonEmptyPath),
  allowUnsigned: z.boolean(),
  chunkSizeBytes: positiveInt.max(256 * 1024 * 1024),
  limits: limitsConfigSchema,
  schedules: schedulesConfigSchema,
  logLevel: z.enum(['error', 'warn', 'info', 'debug']),
  /** Optional: `name` forces a device profile, `override` deep-merges over the matched one (passed to the hw probe). */
  deviceProfile: deviceProfileConfigSchema.optional(),
});

/** The merged, validated agent configuration before paths are made absolute. */
export type AgentConfigShape = z.infer<typeof agentConfigSchema>;
