import { describe, expect, it } from 'vitest';
import { Topics } from '../../../src/transport/topics.js';

const sha = 'a'.repeat(64);

describe('Topics', () => {
  const t = new Topics('edgetune/v1');

  it('builds the SPEC.md topic names', () => {
    expect(t.device('pi-kitchen-01', 'status')).toBe('edgetune/v1/devices/pi-kitchen-01/status');
    expect(t.device('pi_1', 'reports')).toBe('edgetune/v1/devices/pi_1/reports');
    expect(t.groupJobs('cameras')).toBe('edgetune/v1/groups/cameras/jobs');
    expect(t.manifest(sha)).toBe(`edgetune/v1/artifacts/${sha}/manifest`);
    expect(t.chunk(sha, 7)).toBe(`edgetune/v1/artifacts/${sha}/chunks/7`);
    expect(t.chunkFilter(sha)).toBe(`edgetune/v1/artifacts/${sha}/chunks/+`);
    expect(t.allDevices('hello')).toBe('edgetune/v1/devices/+/hello');
  });

  it('parses what it builds', () => {
    expect(t.parse(t.device('d1', 'jobs'))).toEqual({ kind: 'jobs', deviceId: 'd1' });
    expect(t.parse(t.groupJobs('g'))).toEqual({ kind: 'group-jobs', group: 'g' });
    expect(t.parse(t.manifest(sha))).toEqual({ kind: 'manifest', sha256: sha });
    expect(t.parse(t.chunk(sha, 123))).toEqual({ kind: 'chunk', sha256: sha, index: 123 });
  });

  it('rejects ids with wildcards, separators or over 64 characters when building', () => {
    for (const bad of ['', 'a/b', '+', '#', 'a b', 'x'.repeat(65), '..']) {
      expect(() => t.device(bad, 'jobs')).toThrow(RangeError);
      expect(() => t.groupJobs(bad)).toThrow(RangeError);
    }
    expect(() => t.manifest('A'.repeat(64))).toThrow(RangeError);
    expect(() => t.chunk(sha, -1)).toThrow(RangeError);
    expect(() => t.chunk(sha, 1.5)).toThrow(RangeError);
  });

  it('parses nothing that is not exactly an edgetune topic', () => {
    for (const topic of [
      'other/v1/devices/d/jobs',
      'edgetune/v1/devices/d/jobs/extra',
      'edgetune/v1/devices/d/unknown',
      'edgetune/v1/devices/bad id/jobs',
      'edgetune/v1/groups/g/status',
      `edgetune/v1/artifacts/${sha}/chunks/01`,
      `edgetune/v1/artifacts/${sha}/chunks/-1`,
      `edgetune/v1/artifacts/${sha}/chunks/99999999999`,
      'edgetune/v1/artifacts/xyz/manifest',
      'edgetune/v1',
    ]) {
      expect(t.parse(topic), topic).toBeNull();
    }
  });

  it('honours a custom prefix and refuses prefixes with wildcards or stray slashes', () => {
    const c = new Topics('site-a/edge');
    expect(c.device('d', 'events')).toBe('site-a/edge/devices/d/events');
    expect(c.parse('site-a/edge/devices/d/events')).toEqual({ kind: 'events', deviceId: 'd' });
    expect(c.parse('edgetune/v1/devices/d/events')).toBeNull();
    for (const bad of ['', '/x', 'x/', 'a/+/b', '#']) expect(() => new Topics(bad)).toThrow(RangeError);
  });
});
