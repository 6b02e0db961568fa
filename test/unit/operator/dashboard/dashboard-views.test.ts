import { describe, expect, it } from 'vitest';
import type { DeviceRow, OperatorReportRow } from '../../../../src/store/operator-store.js';
import { deviceView, fleetView, modelList, modelView, tuneChart } from '../../../../src/operator/dashboard/dashboard-views.js';

const MODEL = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const names = new Map([[MODEL, 'mlp.onnx']]);

function deviceRow(id: string, o: { state: 'online' | 'offline'; lastReportSeq?: number; groups?: string[]; live?: Record<string, unknown> | null }): DeviceRow {
  return {
    deviceId: id,
    state: o.state,
    status: JSON.stringify({ state: o.state, version: '0.1.0', since: '2026-01-01T00:00:00.000Z' }),
    hello: JSON.stringify({ deviceId: id, groups: o.groups ?? [], version: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z', hw: { board: 'Raspberry Pi 5', cpu: { arch: 'arm64' } }, profile: 'pi5', activeModel: o.live ?? null }),
    heartbeat: JSON.stringify({ deviceId: id, at: '2026-01-01T00:05:00.000Z', uptimeSeconds: 300, load1: 0.5, memoryFreeBytes: 1, memoryTotalBytes: 2, agentRssBytes: 3, temperatureC: 51.5, throttled: false, queuedJobs: 0, ...(o.lastReportSeq !== undefined ? { lastReportSeq: o.lastReportSeq } : {}) }),
    lastSeen: '2026-01-01T00:05:00.000Z',
  };
}

function report(o: { deviceId: string; seq: number; jobId: string; action: string; state?: string; createdAt: string; model?: string | null; payload?: Record<string, unknown> }): OperatorReportRow {
  const payload = { reportId: `r-${o.deviceId}-${o.seq}`, jobId: o.jobId, action: o.action, deviceId: o.deviceId, seq: o.seq, state: o.state ?? 'ok', createdAt: o.createdAt, artifact: null, error: null, ...o.payload };
  return { reportId: payload.reportId, deviceId: o.deviceId, jobId: o.jobId, action: o.action, state: o.state ?? 'ok', modelSha256: o.model === undefined ? MODEL : o.model, seq: o.seq, payload: JSON.stringify(payload), createdAt: o.createdAt, receivedAt: o.createdAt };
}

const profile = (p50: number, thermal: Record<string, unknown> | null) => ({ profile: { latencyMs: { mean: p50 * 1.1, p50, p90: p50 * 1.3, p99: p50 * 1.5 }, memory: { peakRssBytes: 5e7 }, energy: { method: 'estimated', joulesPerInference: 0.002 }, thermal } });

describe('fleetView', () => {
  it('counts online / offline and the reports each device lacks, and names the live model', () => {
    const rows = [
      deviceRow('a', { state: 'online', lastReportSeq: 5, live: { sha256: 'c'.repeat(64), variantId: 'c'.repeat(64), method: 'int8', sourceSha256: MODEL } }),
      deviceRow('b', { state: 'offline', lastReportSeq: 1 }),
    ];
    const seqs: Record<string, number[]> = { a: [1, 2, 4], b: [1] };
    const v = fleetView(rows, (id) => seqs[id] ?? [], names);
    expect(v).toMatchObject({ online: 1, offline: 1, missingReports: 2 });
    const a = v.devices[0];
    expect(a).toMatchObject({ deviceId: 'a', state: 'online', board: 'Raspberry Pi 5', profile: 'pi5', version: '0.1.0', lastHeartbeatAt: '2026-01-01T00:05:00.000Z', missingReports: 2, missingReportSeqs: [[3, 3], [5, 5]] });
    expect(a?.live).toEqual({ variantId: 'c'.repeat(64), method: 'int8', sourceSha256: MODEL, sourceName: 'mlp.onnx' });
    expect(v.devices[1]?.live).toBeNull();
  });
});

describe('deviceView', () => {
  it('lists reports with thermal flags and energy method, and jobs pushed to the device or its group with their states', () => {
    const row = deviceRow('a', { state: 'online', groups: ['cams'] });
    const reports = [
      report({ deviceId: 'a', seq: 1, jobId: 'j1', action: 'profile', createdAt: '2026-01-01T00:01:00Z', payload: profile(2.5, { startC: 50, endC: 71.5, throttled: true }) }),
      report({ deviceId: 'a', seq: 2, jobId: 'j2', action: 'deploy', state: 'failed', createdAt: '2026-01-01T00:02:00Z', payload: { error: { code: 'MODEL_INVALID', message: 'bad' } } }),
    ];
    const pushes = [
      { jobId: 'j3', target: 'group:cams', action: 'tune', artifactSha256: MODEL, artifactName: 'mlp.onnx', createdAt: '2026-01-01T00:03:00Z' },
      { jobId: 'j1', target: 'device:a', action: 'profile', artifactSha256: MODEL, artifactName: 'mlp.onnx', createdAt: '2026-01-01T00:00:30Z' },
      { jobId: 'j9', target: 'group:other', action: 'tune', artifactSha256: MODEL, artifactName: 'mlp.onnx', createdAt: '2026-01-01T00:04:00Z' },
    ];
    const v = deviceView('a', row, reports, pushes, names);
    expect(v.hw).toMatchObject({ board: 'Raspberry Pi 5' });
    expect(v.reports[0]).toMatchObject({ seq: 1, thermal: { startC: 50, endC: 71.5, throttled: true }, energyMethod: 'estimated', peakRssBytes: 5e7, modelName: 'mlp.onnx' });
    expect(v.reports[0]?.latencyMs?.p50).toBeCloseTo(2.5, 9);
    expect(v.reports[1]).toMatchObject({ state: 'failed', thermal: null, error: { code: 'MODEL_INVALID', message: 'bad' } });
    expect(v.jobs.map((j) => [j.jobId, j.state, j.target])).toEqual([
      ['j3', 'sent', 'group:cams'],
      ['j2', 'failed', null],
      ['j1', 'ok', 'device:a'],
    ]);
  });

  it('shows a device known only from its reports', () => {
    const v = deviceView('ghost', null, [report({ deviceId: 'ghost', seq: 3, jobId: 'j', action: 'ping', createdAt: '2026-01-01T00:00:00Z', model: null })], [], names);
    expect(v.device).toMatchObject({ deviceId: 'ghost', state: 'unknown', missingReports: 2 });
    expect(v.hw).toBeNull();
  });
});

describe('modelList and modelView', () => {
  const tune = (device: string, createdAt: string, chosen: string) =>
    report({
      deviceId: device,
      seq: 9,
      jobId: `t-${device}-${createdAt}`,
      action: 'tune',
      createdAt,
      payload: {
        tune: {
          device: { profile: 'pi5', board: 'Raspberry Pi 5' },
          objectiveUsed: 'latency',
          chosen,
          chosenReason: 'lowest latency',
          front: ['int8', 'fp16'],
          candidates: [
            { id: 'fp32', methods: ['fp32'], latencyMs: 3, sizeBytes: 4000, accuracyDrop: 0, accuracy: { ci: [0, 0], judgedOn: 'validation' } },
            { id: 'int8', methods: ['int8'], latencyMs: 1, sizeBytes: 1000, accuracyDrop: 0.4, accuracy: { ci: [-0.2, 1.1], judgedOn: 'validation' } },
            { id: 'fp16', methods: ['fp16'], latencyMs: 2, sizeBytes: 2000, accuracyDrop: 0, accuracy: { ci: [-0.1, 0.1], judgedOn: 'validation' } },
          ],
        },
        activated: true,
      },
    });

  it('lists every model with its devices, report and tune counts, newest first', () => {
    const rows = [report({ deviceId: 'a', seq: 1, jobId: 'j', action: 'profile', createdAt: '2026-01-01T00:00:00Z', payload: profile(1, null) }), tune('b', '2026-01-02T00:00:00Z', 'int8'), report({ deviceId: 'a', seq: 2, jobId: 'k', action: 'ping', createdAt: '2026-01-03T00:00:00Z', model: OTHER, payload: { artifact: { sha256: OTHER, bytes: 1, name: 'other.onnx' } } })];
    expect(modelList(rows, names)).toEqual([
      { modelSha256: OTHER, modelName: 'other.onnx', devices: ['a'], reports: 1, tunes: 0, lastReportAt: '2026-01-03T00:00:00Z' },
      { modelSha256: MODEL, modelName: 'mlp.onnx', devices: ['a', 'b'], reports: 2, tunes: 1, lastReportAt: '2026-01-02T00:00:00Z' },
    ]);
  });

  it("charts each device's latest tune: every candidate with methods and interval, the front and the chosen one marked", () => {
    const v = modelView([tune('b', '2026-01-01T00:00:00Z', 'fp16'), tune('b', '2026-01-02T00:00:00Z', 'int8'), tune('a', '2026-01-01T00:00:00Z', 'fp16')], names);
    expect(v.tunes.map((t) => [t.deviceId, t.chosenId, t.createdAt])).toEqual([
      ['a', 'fp16', '2026-01-01T00:00:00Z'],
      ['b', 'int8', '2026-01-02T00:00:00Z'],
    ]);
    const b = v.tunes[1];
    expect(b?.candidates.map((c) => [c.id, c.methods, c.pareto, c.chosen])).toEqual([
      ['fp32', ['fp32'], false, false],
      ['int8', ['int8'], true, true],
      ['fp16', ['fp16'], true, false],
    ]);
    expect(b?.candidates[1]).toMatchObject({ latencyMs: 1, sizeBytes: 1000, accuracyDrop: 0.4, accuracyCi: [-0.2, 1.1], judgedOn: 'validation' });
    expect(b).toMatchObject({ deviceProfile: 'pi5', objective: 'latency', activated: true });
    expect(v.comparison?.rows.map((r) => r.deviceId)).toEqual(['a', 'b']);
  });

  it('has no chart for a report without a tune section', () => {
    expect(tuneChart(report({ deviceId: 'a', seq: 1, jobId: 'j', action: 'profile', createdAt: '2026-01-01T00:00:00Z' }), names)).toBeNull();
  });
});
