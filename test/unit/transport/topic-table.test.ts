import { describe, expect, it } from 'vitest';
import { TOPIC_TABLE } from '../../../src/transport/topic-table.js';
import { Topics } from '../../../src/transport/topics.js';

const SHA = 'ab'.repeat(32);

/** A table pattern with its placeholders filled in. */
function instantiate(pattern: string): string {
  return pattern.replace('{id}', 'pi-kitchen-01').replace('{group}', 'cameras').replace('{sha256}', SHA).replace('{n}', '7');
}

describe('TOPIC_TABLE', () => {
  const topics = new Topics('edgetune/v1');

  it('every pattern parses back to the kind it is listed under', () => {
    for (const [kind, entry] of Object.entries(TOPIC_TABLE)) {
      expect(topics.parse(`edgetune/v1/${instantiate(entry.pattern)}`)?.kind, entry.pattern).toBe(kind);
    }
  });

  it('every pattern is what the Topics builder makes', () => {
    const built: Record<keyof typeof TOPIC_TABLE, string> = {
      status: topics.device('pi-kitchen-01', 'status'),
      hello: topics.device('pi-kitchen-01', 'hello'),
      heartbeat: topics.device('pi-kitchen-01', 'heartbeat'),
      jobs: topics.device('pi-kitchen-01', 'jobs'),
      requests: topics.device('pi-kitchen-01', 'requests'),
      events: topics.device('pi-kitchen-01', 'events'),
      reports: topics.device('pi-kitchen-01', 'reports'),
      'group-jobs': topics.groupJobs('cameras'),
      manifest: topics.manifest(SHA),
      chunk: topics.chunk(SHA, 7),
      'device-chunk': topics.deviceChunk('pi-kitchen-01', SHA, 7),
    };
    for (const [kind, entry] of Object.entries(TOPIC_TABLE)) {
      expect(`edgetune/v1/${instantiate(entry.pattern)}`, kind).toBe(built[kind as keyof typeof TOPIC_TABLE]);
    }
  });

  it('QoS 0 only for what may be lost (events, heartbeat); retained only for the state topics and manifests', () => {
    const qos0 = Object.entries(TOPIC_TABLE).filter(([, e]) => e.qos === 0).map(([k]) => k).sort();
    const retained = Object.entries(TOPIC_TABLE).filter(([, e]) => e.retained).map(([k]) => k).sort();
    expect(qos0).toEqual(['events', 'heartbeat']);
    expect(retained).toEqual(['heartbeat', 'hello', 'manifest', 'status']);
  });
});
