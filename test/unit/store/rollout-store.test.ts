import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/database.js';
import { OPERATOR_MIGRATIONS } from '../../../src/store/migrations.js';
import { OperatorStore } from '../../../src/store/operator-store.js';
import { RolloutStore } from '../../../src/store/rollout-store.js';

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-rollout-store-'));
  dirs.push(dir);
  return join(dir, 'operator.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('RolloutStore (operator store migration 2)', () => {
  it('an operator store of schema 1 with reports and pushes is upgraded in place, its rows kept', () => {
    const path = tempDb();
    const v1 = openDatabase(path, OPERATOR_MIGRATIONS.filter((m) => m.version === 1));
    v1.prepare("INSERT INTO pushes (job_id, target, action, artifact_sha256, artifact_name, created_at) VALUES ('job-1', 'device:a', 'deploy', 'aa', 'm.onnx', '2026-01-01T00:00:00.000Z')").run();
    expect(v1.pragma('user_version', { simple: true })).toBe(1);
    v1.close();
    const store = new OperatorStore(path);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(2);
      expect(store.artifactNames().get('aa')).toBe('m.onnx');
      expect(new RolloutStore(store.db).list()).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('records a rollout, its stages and devices in order, outcomes, rollbacks; finds a push cut off by a crash', () => {
    const store = new OperatorStore(tempDb());
    const rs = new RolloutStore(store.db);
    try {
      rs.create({
        rolloutId: 'ro-1',
        group: 'cams',
        action: 'deploy',
        modelPath: '/m.onnx',
        modelSha256: 'bb',
        settings: { minSuccess: 0.9 },
        stages: [
          { stage: 1, percent: 10, devices: ['d3'] },
          { stage: 2, percent: 100, devices: ['d1', 'd2'] },
        ],
        skipped: ['d9'],
      });
      expect(() => rs.create({ rolloutId: 'ro-1', group: 'cams', action: 'deploy', modelPath: '/m', modelSha256: 'bb', settings: {}, stages: [], skipped: [] })).toThrow();
      expect(rs.get('ro-1')).toMatchObject({ group: 'cams', state: 'running', currentStage: 1, reason: null });
      expect(JSON.parse(rs.get('ro-1')!.settings)).toEqual({ minSuccess: 0.9 });
      expect(rs.devices('ro-1').map((d) => [d.deviceId, d.stage, d.rank, d.outcome])).toEqual([
        ['d3', 1, 1, 'pending'],
        ['d1', 2, 2, 'pending'],
        ['d2', 2, 3, 'pending'],
        ['d9', 0, 0, 'skipped'],
      ]);
      const deadline = new Date(Date.now() + 60_000);
      rs.startStage('ro-1', 2, deadline);
      expect(rs.get('ro-1')!.currentStage).toBe(2);
      const started = rs.stages('ro-1')[1]!.startedAt as string;
      expect(rs.stages('ro-1')[1]).toMatchObject({ state: 'running', deadlineAt: deadline.toISOString() });
      rs.startStage('ro-1', 2, new Date(deadline.getTime() + 1000)); // a resumed stage keeps its start, gets a new deadline
      expect(rs.stages('ro-1')[1]!.startedAt).toBe(started);

      rs.setOutcome('ro-1', 'd1', { outcome: 'succeeded', reason: null, activated: true, latencyMs: 1.5, jobId: 'job-d1' });
      rs.setRollback('ro-1', 'd1', { jobId: 'rb-d1', state: 'ok', reason: null });
      expect(rs.devices('ro-1').find((d) => d.deviceId === 'd1')).toMatchObject({ jobId: 'job-d1', outcome: 'succeeded', activated: true, latencyMs: 1.5, rollbackJobId: 'rb-d1', rollbackState: 'ok' });
      rs.finishStage('ro-1', 2, 'aborted', 'too many');
      rs.setState('ro-1', 'aborted', 'stage 2: too many');
      expect(rs.get('ro-1')).toMatchObject({ state: 'aborted', reason: 'stage 2: too many' });

      // push-job.ts records a push as it publishes: the newest to that device, with that action and model, since the stage began
      store.recordPush({ jobId: 'job-old', target: 'device:d2', action: 'deploy', artifactSha256: 'bb', artifactName: 'm.onnx' });
      expect(rs.latestPushTo('d2', 'deploy', 'bb', started)).toBe('job-old');
      expect(rs.latestPushTo('d2', 'deploy', 'cc', started)).toBeNull();
      expect(rs.latestPushTo('d2', 'rollback', null, started)).toBeNull();
      expect(rs.latestPushTo('d2', 'deploy', 'bb', new Date(Date.now() + 60_000).toISOString())).toBeNull();
      store.recordPush({ jobId: 'rb-d2', target: 'device:d2', action: 'rollback', artifactSha256: null, artifactName: null });
      expect(rs.latestPushTo('d2', 'rollback', null, started)).toBe('rb-d2');
    } finally {
      store.close();
    }
  });
});
