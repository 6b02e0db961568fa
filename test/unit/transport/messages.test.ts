import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type JobMessage } from '../../../src/transport/messages.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const job: JobMessage = {
  jobId: 'job-1',
  action: 'profile',
  target: { device: 'dev-1' },
  artifact: { sha256: 'b'.repeat(64), bytes: 1000, name: 'm.onnx' },
  options: { iterations: 10 },
  issuedAt: '2026-01-01T00:00:00.000Z',
  signature: null,
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as EdgetuneError).code;
  }
  return 'none';
}

describe('decodeMessage', () => {
  it('round-trips a job', () => {
    expect(decodeMessage('jobs', encodeMessage('jobs', job), 64 * 1024)).toEqual(job);
  });

  it('refuses an oversized payload before parsing it', () => {
    const big = Buffer.from(`{"jobId":"${'x'.repeat(2000)}"`); // not even JSON: the size check comes first
    expect(codeOf(() => decodeMessage('jobs', big, 1024))).toBe('LIMIT_EXCEEDED');
  });

  it('names malformed JSON and each schema problem', () => {
    expect(codeOf(() => decodeMessage('jobs', Buffer.from('{nope'), 1024))).toBe('JOB_INVALID');
    const bad = { ...job, action: 'format-disk', target: { device: 'a/b' }, artifact: { sha256: 'zz', bytes: -1, name: 'x' }, extra: 1 };
    let message = '';
    try {
      decodeMessage('jobs', Buffer.from(JSON.stringify(bad)), 64 * 1024);
    } catch (error) {
      expect((error as EdgetuneError).code).toBe('JOB_INVALID');
      message = (error as Error).message;
    }
    expect(message).toContain('action');
    expect(message).toContain('artifact.sha256');
    expect(message).toContain('artifact.bytes');
    expect(message).toMatch(/extra|Unrecognized/);
  });

  it('uses ARTIFACT_INVALID for a malformed manifest', () => {
    expect(codeOf(() => decodeMessage('manifest', Buffer.from('{"sha256":"x"}'), 1024))).toBe('ARTIFACT_INVALID');
  });

  it('accepts extra fields in reports (result keys are per action)', () => {
    const report = {
      reportId: 'r1', jobId: 'job-1', action: 'profile', deviceId: 'dev-1', seq: 3, state: 'ok', createdAt: '2026-01-01T00:00:00Z',
      artifact: null, error: null, profile: { latencyMs: { p50: 1.5 } },
    };
    expect(decodeMessage('reports', Buffer.from(JSON.stringify(report)), 1024)).toMatchObject({ profile: { latencyMs: { p50: 1.5 } } });
  });
});
