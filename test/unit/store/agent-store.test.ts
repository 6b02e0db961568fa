import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentStore, newTimeOrderedId } from '../../../src/store/agent-store.js';
import { openDatabase } from '../../../src/store/database.js';
import { AGENT_MIGRATIONS } from '../../../src/store/migrations.js';
import { OperatorStore } from '../../../src/store/operator-store.js';
import { EdgetuneError } from '../../../src/util/errors.js';

let dir: string;
let store: AgentStore;
const sha = (c: string): string => c.repeat(64);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-store-'));
  store = new AgentStore(join(dir, 'agent.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function report(seq: number, reportId: string, jobId = 'j1') {
  return { reportId, jobId, action: 'ping', state: 'ok', seq };
}

describe('SQLite settings', () => {
  it('uses WAL and synchronous=FULL on every open, and migrates by user_version', () => {
    store.close();
    for (let i = 0; i < 2; i++) {
      const db = openDatabase(join(dir, 'agent.db'), AGENT_MIGRATIONS);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('user_version', { simple: true })).toBe(AGENT_MIGRATIONS.length);
      db.close();
    }
    store = new AgentStore(join(dir, 'agent.db'));
  });

  it('refuses a store written by a newer schema', () => {
    store.db.pragma('user_version = 99');
    store.close();
    expect(() => new AgentStore(join(dir, 'agent.db'))).toThrow(/schema version 99/);
    const db = openDatabase(join(dir, 'x.db'), []);
    db.close();
    store = new AgentStore(join(dir, 'fresh.db'));
  });
});

describe('artifacts and the chunk bitmap', () => {
  it('records each chunk once, survives a reopen, and forgets chunks when the layout changes', () => {
    store.beginArtifact({ sha256: sha('a'), bytes: 100, name: 'm', kind: 'model' });
    expect(store.setArtifactLayout(sha('a'), 40, 3)).toEqual({ reset: false });
    expect(store.recordChunk(sha('a'), 2, 20)).toBe(true);
    expect(store.recordChunk(sha('a'), 0, 40)).toBe(true);
    expect(store.recordChunk(sha('a'), 2, 20)).toBe(false);
    store.close();
    store = new AgentStore(join(dir, 'agent.db'));
    expect(store.receivedChunks(sha('a'))).toEqual([0, 2]);
    expect(store.getArtifact(sha('a'))?.receivedChunks).toBe(2);
    expect(store.setArtifactLayout(sha('a'), 40, 3)).toEqual({ reset: false });
    expect(store.setArtifactLayout(sha('a'), 25, 4)).toEqual({ reset: true });
    expect(store.receivedChunks(sha('a'))).toEqual([]);
    store.recordChunk(sha('a'), 1, 25);
    store.completeArtifact(sha('a'));
    expect(store.getArtifact(sha('a'))?.state).toBe('complete');
    expect(store.receivedChunks(sha('a'))).toEqual([]);
    store.deleteArtifact(sha('a'));
    expect(store.getArtifact(sha('a'))).toBeUndefined();
  });
});

describe('jobs', () => {
  it('never inserts a jobId twice and requeues interrupted jobs', () => {
    const j = { jobId: 'j1', action: 'ping', state: 'queued' as const, payload: '{}', sourceTopic: 't' };
    expect(store.insertJob(j)).toBe('inserted');
    expect(store.insertJob({ ...j, state: 'waiting' })).toBe('duplicate');
    store.setJobState('j1', 'running');
    expect(store.openJobCount()).toBe(1);
    const back = store.requeueInterruptedJobs();
    expect(back.map((r) => r.jobId)).toEqual(['j1']);
    expect(store.getJob('j1')).toMatchObject({ state: 'queued', attempts: 1 });
    store.setJobState('j1', 'done');
    expect(store.openJobCount()).toBe(0);
    expect(store.getJob('j1')?.finishedAt).not.toBeNull();
  });

  it('records a refused job and its report together, and nothing for a replay of it', () => {
    const first = store.refuseJob({ jobId: 'bad', action: 'deploy', payload: '{}', sourceTopic: 't' }, 'reports', (seq, id) => ({ ...report(seq, id, 'bad'), state: 'failed' }));
    expect(first?.state).toBe('failed');
    const again = store.refuseJob({ jobId: 'bad', action: 'deploy', payload: '{}', sourceTopic: 't' }, 'reports', (seq, id) => report(seq, id, 'bad'));
    expect(again).toBeNull();
    expect(store.listReports()).toHaveLength(1);
    expect(store.getJob('bad')?.state).toBe('refused');
  });
});

describe('reports and the outbox', () => {
  it('commits report, outbox row, sequence number and final job state in one transaction', () => {
    store.insertJob({ jobId: 'j1', action: 'ping', state: 'running', payload: '{}', sourceTopic: 't' });
    const r1 = store.commitReport('dev/reports', (seq, id) => report(seq, id), { jobId: 'j1', state: 'done' });
    const r2 = store.commitReport('dev/reports', (seq, id) => report(seq, id, 'j2'));
    expect([r1.seq, r2.seq]).toEqual([1, 2]);
    expect(r1.reportId).not.toBe(r2.reportId);
    expect(store.getJob('j1')?.state).toBe('done');
    const pending = store.pendingOutbox(10);
    expect(pending.map((p) => p.id)).toEqual([r1.reportId, r2.reportId]);
    expect(JSON.parse(pending[0]?.payload as string)).toEqual(r1);
    store.markOutboxSent(r1.reportId);
    expect(store.pendingOutboxCount()).toBe(1);
  });

  it('rolls back the report when building it throws', () => {
    expect(() =>
      store.commitReport('t', () => {
        throw new EdgetuneError('RUNTIME_FAILED', 'boom');
      }),
    ).toThrow('boom');
    expect(store.listReports()).toHaveLength(0);
    expect(store.pendingOutboxCount()).toBe(0);
    expect(store.commitReport('t', (seq, id) => report(seq, id)).seq).toBe(1);
  });

  it('makes time-ordered ids', () => {
    expect(newTimeOrderedId(1000) < newTimeOrderedId(2000)).toBe(true);
    expect(newTimeOrderedId()).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('variants', () => {
  it('activates, keeps one previous, rolls back, and refuses to delete the live one', () => {
    for (const c of ['a', 'b', 'c']) store.addVariant({ variantId: sha(c), sourceSha256: sha('a'), method: c === 'a' ? 'original' : 'int8', bytes: 10 });
    expect(() => store.rollbackVariant()).toThrow(/no previous/);
    store.activateVariant(sha('a'));
    store.activateVariant(sha('b'));
    expect(store.variantWithRole('live')?.variantId).toBe(sha('b'));
    expect(store.variantWithRole('previous')?.variantId).toBe(sha('a'));
    store.activateVariant(sha('c'));
    expect(store.variantWithRole('previous')?.variantId).toBe(sha('b'));
    expect(store.getVariant(sha('a'))?.role).toBe('stored');
    const { live, previous } = store.rollbackVariant();
    expect([live.variantId, previous.variantId]).toEqual([sha('b'), sha('c')]);
    expect(() => store.deleteVariant(sha('b'))).toThrow(/is live/);
    expect(store.deleteVariant(sha('a')).variantId).toBe(sha('a'));
    expect(() => store.activateVariant(sha('a'))).toThrow(/no stored variant/);
    store.addProfile(sha('b'), 'j', { latencyMs: { p50: 1 } });
    expect(store.profilesOf(sha('b'))).toHaveLength(1);
  });

  it('restores live and previous exactly after a failed activation (and none live when none was)', () => {
    for (const c of ['a', 'b', 'c']) store.addVariant({ variantId: sha(c), sourceSha256: sha('a'), method: 'int8', bytes: 10 });
    store.activateVariant(sha('a'));
    store.activateVariant(sha('b'));
    const before = { live: sha('b'), previous: sha('a') };
    store.activateVariant(sha('c')); // a becomes stored, b previous, c live
    const restored = store.restoreVariantRoles(before);
    expect([restored.live?.variantId, restored.previous?.variantId]).toEqual([sha('b'), sha('a')]);
    expect(store.getVariant(sha('c'))?.role).toBe('stored');
    expect(store.restoreVariantRoles({ live: null, previous: null })).toEqual({ live: undefined, previous: undefined });
    expect(store.listVariants().every((v) => v.role === 'stored')).toBe(true);
    expect(() => store.restoreVariantRoles({ live: sha('z'), previous: null })).toThrow(/no stored variant/);
  });
});

describe('OperatorStore', () => {
  it('stores each reportId once (redelivery is harmless) and filters by device and model', () => {
    const op = new OperatorStore(join(dir, 'op', 'operator.db'));
    const base = { deviceId: 'd1', jobId: 'j', action: 'profile', state: 'ok', seq: 1, createdAt: '2026-01-01T00:00:00Z', modelSha256: sha('a'), payload: '{}' };
    expect(op.insertReport({ ...base, reportId: 'r1' })).toBe(true);
    expect(op.insertReport({ ...base, reportId: 'r1' })).toBe(false);
    expect(op.insertReport({ ...base, reportId: 'r2', deviceId: 'd2', modelSha256: sha('b') })).toBe(true);
    expect(op.listReports()).toHaveLength(2);
    expect(op.listReports({ deviceId: 'd2' }).map((r) => r.reportId)).toEqual(['r2']);
    expect(op.listReports({ modelSha256: sha('a') }).map((r) => r.reportId)).toEqual(['r1']);
    op.upsertDevice('d1', { state: 'online', status: '{}' });
    op.upsertDevice('d1', { hello: '{"x":1}' });
    expect(op.listDevices()).toMatchObject([{ deviceId: 'd1', state: 'online', status: '{}', hello: '{"x":1}' }]);
    op.recordPush({ jobId: 'j', target: 'device:d1', action: 'deploy', artifactSha256: sha('a'), artifactName: 'm.onnx' });
    expect(op.artifactNames().get(sha('a'))).toBe('m.onnx');
    op.close();
  });
});
