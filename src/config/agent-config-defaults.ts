import type { AgentConfigShape } from './agent-config-schema.js';

/** 256 KiB: the default artifact chunk (fits brokers with a 1 MB packet limit; use 64 KiB for 128 KB brokers). */
export const DEFAULT_CHUNK_SIZE_BYTES = 256 * 1024;

/** The lowest configuration layer: every key with its default (paths relative to the working directory). */
export const AGENT_CONFIG_DEFAULTS: AgentConfigShape = {
  deviceId: 'edgetune-device',
  groups: [],
  broker: {
    url: 'embedded',
    host: '127.0.0.1',
    port: 1883,
    keepaliveSeconds: 30,
    sessionExpirySeconds: 7 * 24 * 3600,
    willDelaySeconds: 15,
    receiveMaximum: 4,
    reconnectInitialMs: 1000,
    reconnectMaxMs: 60_000,
    artifactQos: 1,
  },
  topicPrefix: 'edgetune/v1',
  dataDir: './.edgetune',
  trustedKeys: [],
  allowUnsigned: false,
  chunkSizeBytes: DEFAULT_CHUNK_SIZE_BYTES,
  limits: {
    maxArtifactBytes: 1024 * 1024 * 1024,
    maxChunkBytes: 4 * 1024 * 1024,
    maxChunks: 16_384,
    maxProfileSeconds: 300,
    maxChildMemoryMb: 2048,
    maxQueuedJobs: 64,
    maxControlMessageBytes: 64 * 1024,
    transferWindowChunks: 16,
    transferStallSeconds: 10,
    transferTimeoutSeconds: 3600,
    // as long as `push` lets a job wait for an offline device by default (expiresAt = issuedAt + 7 days)
    jobReplayWindowSeconds: 7 * 24 * 3600,
    maxClockSkewSeconds: 600,
  },
  schedules: {
    heartbeat: '*/1 * * * *',
    reprofile: null,
    cleanup: '17 3 * * *',
  },
  logLevel: 'info',
};
