import type { TopicPayloads } from './messages.js';
import type { ParsedTopic } from './topics.js';

/** Who publishes on a topic, seen from the device. */
export type TopicDirection = 'agent → operator' | 'operator → agent' | 'operator → agents';

/** What one edgetune topic is for: the reference table behind docs/mqtt.md. */
export interface TopicEntry {
  /** The topic after the prefix, with `{id}`, `{group}`, `{sha256}` and `{n}` standing for its variable levels. */
  pattern: string;
  direction: TopicDirection;
  qos: 0 | 1;
  retained: boolean;
  /** The payload: a JSON message kind of messages.ts, or the raw bytes of one artifact chunk. */
  payload: keyof TopicPayloads | 'chunk-bytes';
  /** One line: what it carries and when it is sent. */
  describe: string;
}

/**
 * Every topic `Topics` builds and parses (SPEC.md "MQTT" and its additions), keyed by the kind `Topics.parse`
 * returns, so that a new kind does not compile until it is described here.
 */
export const TOPIC_TABLE: Readonly<Record<ParsedTopic['kind'], TopicEntry>> = {
  status: {
    pattern: 'devices/{id}/status',
    direction: 'agent → operator',
    qos: 1,
    retained: true,
    payload: 'status',
    describe: 'online on connect; also the Last Will (`offline`), published by the broker after `broker.willDelaySeconds`',
  },
  hello: {
    pattern: 'devices/{id}/hello',
    direction: 'agent → operator',
    qos: 1,
    retained: true,
    payload: 'hello',
    describe: 'the `hw` JSON, the matched device profile and the live model, on every connect',
  },
  heartbeat: {
    pattern: 'devices/{id}/heartbeat',
    direction: 'agent → operator',
    qos: 0,
    retained: true,
    payload: 'heartbeat',
    describe: 'load, memory, temperature, throttling, queued jobs and `lastReportSeq`, on the `schedules.heartbeat` cron',
  },
  jobs: {
    pattern: 'devices/{id}/jobs',
    direction: 'operator → agent',
    qos: 1,
    retained: false,
    payload: 'jobs',
    describe: 'a signed job for one device',
  },
  'group-jobs': {
    pattern: 'groups/{group}/jobs',
    direction: 'operator → agents',
    qos: 1,
    retained: false,
    payload: 'group-jobs',
    describe: 'the same job for every member of the group (`groups` in agent.config.json)',
  },
  manifest: {
    pattern: 'artifacts/{sha256}/manifest',
    direction: 'operator → agents',
    qos: 1,
    retained: true,
    payload: 'manifest',
    describe: 'size, chunk layout, kind (`model` or `dataset`) and signature of an artifact',
  },
  chunk: {
    pattern: 'artifacts/{sha256}/chunks/{n}',
    direction: 'operator → agents',
    qos: 1,
    retained: false,
    payload: 'chunk-bytes',
    describe: 'raw bytes of chunk n, broadcast once to every device receiving the artifact',
  },
  'device-chunk': {
    pattern: 'devices/{id}/chunks/{sha256}/{n}',
    direction: 'operator → agent',
    qos: 1,
    retained: false,
    payload: 'chunk-bytes',
    describe: 'a chunk re-sent to one device (it joined late, or asked again with `retry: true`)',
  },
  requests: {
    pattern: 'devices/{id}/requests',
    direction: 'agent → operator',
    qos: 1,
    retained: false,
    payload: 'requests',
    describe: 'chunks the device still misses (empty `missing` with `complete: true`: the artifact is whole)',
  },
  events: {
    pattern: 'devices/{id}/events',
    direction: 'agent → operator',
    qos: 0,
    retained: false,
    payload: 'events',
    describe: 'progress of a running job',
  },
  reports: {
    pattern: 'devices/{id}/reports',
    direction: 'agent → operator',
    qos: 1,
    retained: false,
    payload: 'reports',
    describe: 'the result of a job, stored on the device first and re-sent until the broker acknowledges it',
  },
};
