import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseResendOptions, resendReports, MAX_RESEND_SPAN } from '../../../src/agent/actions/resend-reports.js';
import type { JobContext } from '../../../src/agent/job-context.js';
import { silentLogger } from '../../../src/agent/logger.js';
import { AgentStore } from '../../../src/store/agent-store.js';
import { EdgetuneError } from '../../../src/util/errors.js';

function refusal(options: Record<string, unknown>): EdgetuneError {
  try {
    parseResendOptions(options);
  } catch (error) {
    if (error instanceof EdgetuneError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('parseResendOptions', () => {
  it('accepts fromSeq alone and a range up to 10,000 seqs', () => {
    expect(parseResendOptions({ fromSeq: 1 })).toEqual({ fromSeq: 1 });
    expect(parseResendOptions({ fromSeq: 3, toSeq: 3 })).toEqual({ fromSeq: 3, toSeq: 3 });
    expect(parseResendOptions({ fromSeq: 5, toSeq: 5 + MAX_RESEND_SPAN - 1 })).toEqual({ fromSeq: 5, toSeq: 10_004 });
  });

  it('refuses with JOB_INVALID naming the problem', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /options\.fromSeq is required/],
      [{ toSeq: 4 }, /options\.fromSeq is required/],
      [{ fromSeq: 0 }, /options\.fromSeq must be an integer >= 1, got 0/],
      [{ fromSeq: -1 }, /options\.fromSeq must be an integer >= 1/],
      [{ fromSeq: 1.5 }, /options\.fromSeq must be an integer >= 1/],
      [{ fromSeq: '3' }, /options\.fromSeq must be an integer >= 1, got "3"/],
      [{ fromSeq: 2 ** 60 }, /options\.fromSeq must be an integer >= 1/],
      [{ fromSeq: 1, toSeq: null }, /options\.toSeq must be an integer >= 1, got null/],
      [{ fromSeq: 5, toSeq: 4 }, /options\.toSeq 4 is below options\.fromSeq 5/],
      [{ fromSeq: 1, toSeq: MAX_RESEND_SPAN + 1 }, /covers 10001 seqs; at most 10000 per job/],
    ];
    for (const [options, message] of cases) {
      const e = refusal(options);
      expect(e.code, JSON.stringify(options)).toBe('JOB_INVALID');
      expect(e.message, JSON.stringify(options)).toMatch(message);
      expect(e.message).toMatch(/^resend-reports: /);
    }
  });
});

describe('resendReports (with a real SQLite store)', () => {
  let dir: string;
  let store: AgentStore;
  const TOPIC = 'edgetune/v1/devices/dev/reports';

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgetune-resend-'));
    store = new AgentStore(join(dir, 'agent.db'));
    for (let i = 0; i < 5; i++) {
      store.commitReport(TOPIC, (seq, reportId) => ({ reportId, jobId: `j${seq}`, action: 'ping', state: 'ok', seq, deviceId: 'dev' }));
    }
    for (const row of store.pendingOutbox(100)) store.markOutboxSent(row.id);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function ctx(options: Record<string, unknown>): JobContext {
    return {
      job: { jobId: 'r1', action: 'resend-reports', target: { device: 'dev' }, options, issuedAt: new Date().toISOString(), signature: null },
      deviceId: 'dev',
      store,
      config: { topicPrefix: 'edgetune/v1' },
      log: silentLogger(),
    } as unknown as JobContext;
  }

  it('puts the stored reports of the range back in the outbox byte-identical and names the seqs it does not have', async () => {
    const before = new Map(store.listReports().map((r) => [r.reportId, r.payload]));
    const result = (await resendReports(ctx({ fromSeq: 2, toSeq: 8 }))).resend;
    expect(result).toEqual({ fromSeq: 2, toSeq: 8, lastReportSeq: 5, resentCount: 4, resent: [[2, 5]], notStoredCount: 3, notStored: [[6, 8]] });
    const pending = store.pendingOutbox(100);
    expect(pending.map((r) => (JSON.parse(r.payload) as { seq: number }).seq).sort((a, b) => a - b)).toEqual([2, 3, 4, 5]);
    for (const row of pending) {
      expect(row.topic).toBe(TOPIC);
      expect(row.payload).toBe(before.get(row.id));
    }
  });

  it('re-inserts a report whose outbox row was pruned, and toSeq defaults to the last seq', async () => {
    store.db.prepare(`UPDATE outbox SET sent_at = '2000-01-01T00:00:00.000Z'`).run();
    expect(store.pruneSentOutbox('2001-01-01T00:00:00.000Z')).toBe(5);
    const result = (await resendReports(ctx({ fromSeq: 4 }))).resend;
    expect(result).toMatchObject({ fromSeq: 4, toSeq: 5, resentCount: 2, notStored: [] });
    const pending = store.pendingOutbox(100);
    expect(pending.map((r) => r.id).sort()).toEqual(store.listReports().filter((r) => r.seq >= 4).map((r) => r.reportId).sort());
    expect(pending.every((r) => r.topic === TOPIC)).toBe(true);
  });

  it('a range above the last seq re-sends nothing and says so', async () => {
    expect((await resendReports(ctx({ fromSeq: 9, toSeq: 11 }))).resend).toMatchObject({ resentCount: 0, resent: [], notStoredCount: 3, notStored: [[9, 11]], lastReportSeq: 5 });
    expect((await resendReports(ctx({ fromSeq: 9 }))).resend).toMatchObject({ toSeq: 5, resentCount: 0, notStoredCount: 0 });
    expect(store.pendingOutboxCount()).toBe(0);
  });

  it('refuses an omitted toSeq that would cover more than 10,000 seqs', async () => {
    store.db.prepare(`UPDATE meta SET value = '20000' WHERE key = 'report_seq'`).run();
    await expect(resendReports(ctx({ fromSeq: 1 }))).rejects.toThrow(/covers 20000 seqs; at most 10000 per job/);
  });
});
