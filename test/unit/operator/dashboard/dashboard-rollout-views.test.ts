import { describe, expect, it } from 'vitest';
import type { RolloutDeviceRow, RolloutRow, RolloutStageRow } from '../../../../src/store/rollout-store.js';
import { rolloutStatusFromRows } from '../../../../src/operator/rollout/rollout-status.js';
import { rolloutList, rolloutView } from '../../../../src/operator/dashboard/dashboard-views.js';

const SHA = 'c'.repeat(64);
const T0 = '2026-01-01T00:00:00.000Z';

function row(id: string, o: Partial<RolloutRow> = {}): RolloutRow {
  const settings = { stagesPercent: [10, 50, 100], minSuccess: 0.9, abortFailureRate: 0.2, maxLatencyMs: 40, stageTimeoutS: 60, rollbackOnAbort: true, bakeS: 0, jobOptions: {}, dataDir: null, keyPath: null };
  return { rolloutId: id, group: 'cams', action: 'deploy', modelPath: '/models/v2/detector.onnx', modelSha256: SHA, settings: JSON.stringify(settings), state: 'running', currentStage: 1, reason: null, createdAt: T0, updatedAt: T0, ...o };
}

function stage(n: number, percent: number, state: RolloutStageRow['state'], reason: string | null = null): RolloutStageRow {
  return { stage: n, percent, state, startedAt: state === 'pending' ? null : T0, deadlineAt: null, finishedAt: null, reason };
}

function device(id: string, n: number, rank: number, o: Partial<RolloutDeviceRow> = {}): RolloutDeviceRow {
  return { deviceId: id, stage: n, rank, jobId: n > 0 ? `job-${id}` : null, outcome: 'pending', reason: null, activated: false, latencyMs: null, rollbackJobId: null, rollbackState: null, rollbackReason: null, updatedAt: T0, ...o };
}

describe('rolloutView (the Rollout page)', () => {
  // stage 1 advanced; stage 2 aborted (one device over the latency bound, one that never reported); rollback sent
  // to every device that made the model live: one rolled back, one failed, one not answered yet; stage 3 not reached
  const stages = [stage(1, 10, 'passed'), stage(2, 50, 'aborted', '2 of 4 failed (> 20%)'), stage(3, 100, 'pending')];
  const devices = [
    device('a', 1, 1, { outcome: 'succeeded', activated: true, latencyMs: 12.5, rollbackJobId: 'rb-a', rollbackState: 'ok' }),
    device('b', 2, 2, { outcome: 'failed', reason: 'p50 latency 55.000 ms exceeds --max-latency-ms 40', activated: true, latencyMs: 55, rollbackJobId: 'rb-b', rollbackState: 'failed', rollbackReason: 'no previous variant' }),
    device('c', 2, 3, { outcome: 'failed', reason: 'no report within the stage timeout' }),
    device('d', 2, 4, { outcome: 'succeeded', activated: true, latencyMs: 20, rollbackJobId: 'rb-d' }),
    device('e', 2, 5, { outcome: 'succeeded', activated: true, latencyMs: 21, rollbackJobId: 'rb-e', rollbackState: 'ok' }),
    device('f', 3, 6, { jobId: null }),
    device('g', 0, 0, { outcome: 'skipped' }),
  ];
  const status = rolloutStatusFromRows(row('r1', { state: 'aborted', currentStage: 2, reason: 'stage 2: 2 of 4 failed (> 20%)' }), stages, devices);
  const v = rolloutView(status);

  it('carries everything `rollout status --json` gives, with the model file name', () => {
    const { stages: _s, modelName, ...rest } = v;
    const { stages: _t, ...statusRest } = status;
    expect(rest).toEqual(statusRest);
    expect(modelName).toBe('detector.onnx');
    expect(v.skipped).toEqual(['g']);
    expect(v.devices.map((d) => d.deviceId)).toEqual(devices.filter((d) => d.outcome !== 'skipped').map((d) => d.deviceId));
  });

  it("names each stage's decision and counts its devices and rollbacks", () => {
    expect(v.stages.map((s) => [s.stage, s.percent, s.decision])).toEqual([
      [1, 10, 'advanced'],
      [2, 50, 'aborted'],
      [3, 100, null],
    ]);
    for (const s of v.stages) {
      const mine = devices.filter((d) => d.stage === s.stage);
      expect(s.devices).toBe(mine.length);
      expect([s.succeeded, s.failed, s.pending]).toEqual(['succeeded', 'failed', 'pending'].map((o) => mine.filter((d) => d.outcome === o).length));
      expect(s.rollback).toEqual({
        ok: mine.filter((d) => d.rollbackState === 'ok').length,
        failed: mine.filter((d) => d.rollbackState === 'failed').length,
        pending: mine.filter((d) => d.rollbackJobId !== null && d.rollbackState === null).length,
      });
    }
    expect(v.stages[1]?.rollback).toEqual({ ok: 1, failed: 1, pending: 1 });
    expect(v.stages[1]?.reason).toBe('2 of 4 failed (> 20%)');
  });

  it("keeps each failed device's reason and its rollback", () => {
    const b = v.devices.find((d) => d.deviceId === 'b');
    expect(b).toMatchObject({ outcome: 'failed', reason: devices[1]?.reason, activated: true, rollback: { jobId: 'rb-b', state: 'failed', reason: 'no previous variant' } });
    expect(v.devices.find((d) => d.deviceId === 'c')).toMatchObject({ outcome: 'failed', reason: 'no report within the stage timeout', rollback: null });
    expect(v.devices.find((d) => d.deviceId === 'd')?.rollback).toEqual({ jobId: 'rb-d', state: null, reason: null });
  });

  it('a halted stage says halted; running and pending stages have no decision yet', () => {
    const h = rolloutView(rolloutStatusFromRows(row('r2', { state: 'halted' }), [stage(1, 50, 'halted', '1 of 2 succeeded (< 90%)'), stage(2, 100, 'pending')], [device('a', 1, 1, { outcome: 'succeeded' }), device('b', 1, 2, { outcome: 'failed', reason: 'x' })]));
    expect(h.stages.map((s) => s.decision)).toEqual(['halted', null]);
    const r = rolloutView(rolloutStatusFromRows(row('r3'), [stage(1, 100, 'running')], [device('a', 1, 1)]));
    expect(r.stages[0]?.decision).toBeNull();
    expect(r.stages[0]?.rollback).toEqual({ ok: 0, failed: 0, pending: 0 });
  });
});

describe('rolloutList (the Rollouts list)', () => {
  it('lists rollouts newest first with their current stage and share, and counts devices by outcome', () => {
    const older = rolloutStatusFromRows(row('old', { state: 'completed', currentStage: 2 }), [stage(1, 50, 'passed'), stage(2, 100, 'passed')], [device('a', 1, 1, { outcome: 'succeeded' }), device('b', 2, 2, { outcome: 'succeeded' })]);
    const newer = rolloutStatusFromRows(
      row('new', { createdAt: '2026-01-02T00:00:00.000Z', currentStage: 2, action: 'tune' }),
      [stage(1, 10, 'passed'), stage(2, 60, 'running'), stage(3, 100, 'pending')],
      [device('a', 1, 1, { outcome: 'succeeded' }), device('b', 2, 2, { outcome: 'failed', reason: 'x' }), device('c', 2, 3), device('z', 0, 0, { outcome: 'skipped' })],
    );
    const list = rolloutList([older, newer]);
    expect(list.map((r) => r.rolloutId)).toEqual(['new', 'old']);
    expect(list[0]).toEqual({
      rolloutId: 'new',
      modelName: 'detector.onnx',
      modelSha256: SHA,
      group: 'cams',
      action: 'tune',
      state: 'running',
      reason: null,
      currentStage: 2,
      currentPercent: 60,
      stages: 3,
      devices: 3,
      succeeded: 1,
      failed: 1,
      createdAt: '2026-01-02T00:00:00.000Z',
    });
    expect(list[1]).toMatchObject({ state: 'completed', currentStage: 2, currentPercent: 100, devices: 2, succeeded: 2, failed: 0 });
  });
});
