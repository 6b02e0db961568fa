import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareAcrossDevices, formatComparisonTable, summarizeTune } from '../../../src/operator/compare-results.js';
import { OperatorStore } from '../../../src/store/operator-store.js';

const model = 'c'.repeat(64);
const other = 'd'.repeat(64);

/** A tune report as the agent's tune action sends it (SPEC `tune` JSON under `tune`). */
function tuneReport(o: { device: string; profile: string; chosen: string | null; candidates: Array<[string, number, number, number | null, boolean]>; activated: boolean; rolledBack?: boolean }): Record<string, unknown> {
  return {
    reportId: `r-${o.device}`,
    jobId: `j-${o.device}`,
    action: 'tune',
    variant: o.chosen ? { method: `tune:${o.chosen}`, bytes: o.candidates.find((c) => c[0] === o.chosen)?.[2] ?? null, sha256: 'e'.repeat(64) } : null,
    activated: o.activated,
    rolledBack: o.rolledBack ?? false,
    tune: {
      device: { profile: o.profile, board: `${o.profile} board` },
      candidates: o.candidates.map(([id, latencyMs, sizeBytes, accuracyDrop, pareto]) => ({ id, latencyMs, sizeBytes, accuracyDrop, pareto, state: 'profiled' })),
      chosen: o.chosen,
      chosenReason: o.chosen ? `lowest latency within the constraints` : 'no candidate meets the constraints',
      front: o.candidates.filter((c) => c[4]).map((c) => c[0]),
      objectiveUsed: 'latency',
    },
  };
}

let dir: string;
let store: OperatorStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-results-'));
  store = new OperatorStore(join(dir, 'operator.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function insert(deviceId: string, createdAt: string, payload: Record<string, unknown>, modelSha256 = model, action = 'tune'): void {
  store.insertReport({ reportId: `${deviceId}-${createdAt}`, deviceId, jobId: String(payload.jobId ?? 'j'), action, state: 'ok', seq: 1, createdAt, modelSha256, payload: JSON.stringify(payload) });
}

describe('results --model: the accuracy interval of each front member', () => {
  it('shows the drop with its interval and says when it was judged on calibration data', () => {
    const report = tuneReport({ device: 'x', profile: 'x86-avx2', chosen: 'int8', activated: true, candidates: [['int8', 0.5, 110_000, 0.4, true], ['prune', 0.4, 90_000, 0.2, true]] });
    const t = report.tune as { candidates: Array<Record<string, unknown>> };
    t.candidates[0]!.accuracy = { metric: 'top1', drop: 0.4, ci: [-0.2, 1.1], samples: 500, judgedOn: 'validation' };
    t.candidates[1]!.accuracy = { metric: 'top1', drop: 0.2, ci: [-1.4, 1.8], samples: 256, judgedOn: 'calibration' };
    insert('x', '2026-01-01T00:00:01Z', report);
    const table = formatComparisonTable(compareAcrossDevices(store.listReports({ modelSha256: model }), new Map([[model, 'cnn.onnx']])));
    expect(table).toMatch(/\* int8 .*0\.40 pp \[-0\.20, 1\.10\]/);
    expect(table).toMatch(/prune .*0\.20 pp \[-1\.40, 1\.80\] \(on calibration data\)/);
  });
});

describe('results --model: tune fronts of several devices side by side', () => {
  it('shows each device its own chosen candidate and front, from stored reports', () => {
    // The same model: the Pi 4 keeps fp32 fastest (int8 slower there), the x86 box picks int8.
    insert('pi4-a', '2026-01-01T00:00:01Z', tuneReport({ device: 'pi4-a', profile: 'pi4', chosen: 'fp32', activated: true, candidates: [['fp32', 4.5, 400_000, 0, true], ['int8', 6.25, 110_000, 0.4, true], ['fp16', 7, 200_000, 0, false]] }));
    insert('x86-b', '2026-01-01T00:00:02Z', tuneReport({ device: 'x86-b', profile: 'x86-avx2', chosen: 'int8', activated: false, rolledBack: true, candidates: [['fp32', 1.2, 400_000, 0, true], ['int8', 0.5, 110_000, 0.4, true]] }));
    insert('x86-b', '2026-01-01T00:00:03Z', { jobId: 'p', action: 'profile', profile: { latencyMs: { p50: 0.6 } } }, model, 'profile');
    insert('pi4-a', '2026-01-01T00:00:04Z', tuneReport({ device: 'pi4-a', profile: 'pi4', chosen: 'int8', activated: true, candidates: [['int8', 1, 1, 1, true]] }), other);

    const [m, ...rest] = compareAcrossDevices(store.listReports({ modelSha256: model }), new Map([[model, 'cnn.onnx']]));
    expect(rest).toHaveLength(0);
    expect(m?.tuneFronts.map((t) => [t.deviceId, t.deviceProfile, t.chosen?.id])).toEqual([
      ['pi4-a', 'pi4', 'fp32'],
      ['x86-b', 'x86-avx2', 'int8'],
    ]);
    const pi = m?.tuneFronts[0];
    expect(pi?.chosen).toEqual({ id: 'fp32', latencyMs: 4.5, sizeBytes: 400_000, accuracyDrop: 0, accuracyCi: null, judgedOn: null });
    expect(pi?.front.map((c) => c.id)).toEqual(['fp32', 'int8']); // fp16 is off the front; ordered by latency
    expect(pi?.activated).toBe(true);
    expect(m?.tuneFronts[1]?.rolledBack).toBe(true);
    // The profile report of x86-b stays a row of its own and has no tune section.
    expect(m?.rows.find((r) => r.action === 'profile')?.tune).toBeNull();

    const table = formatComparisonTable([m!]);
    const lines = table.split('\n');
    const at = lines.findIndex((l) => l.includes('tune fronts by device'));
    expect(at).toBeGreaterThan(0);
    const block = lines.slice(at + 1).filter((l) => l.trim() !== '');
    expect(block[0]).toMatch(/device\s+profile\s+candidate\s+p50 ms\s+size\s+acc drop\s+live/);
    expect(block[1]).toMatch(/^\s+pi4-a\s+pi4\s+\* fp32\s+4\.500\s+390\.6 KiB\s+0\.00 pp\s+yes$/);
    expect(block[2]).toMatch(/^\s+int8\s+6\.250\s+107\.4 KiB\s+0\.40 pp$/);
    expect(block[3]).toMatch(/^\s+x86-b\s+x86-avx2\s+\* int8\s+0\.500\s+107\.4 KiB\s+0\.40 pp\s+rolled back$/);
    expect(block[4]).toMatch(/^\s+fp32\s+1\.200\s+390\.6 KiB\s+0\.00 pp$/);
    // Columns line up: the chosen candidates of both devices start at the same offset.
    expect(block[1]?.indexOf('* fp32')).toBe(block[3]?.indexOf('* int8'));
  });

  it('says when a device chose nothing, and reads a tune section without a front list from the pareto flags', () => {
    const none = tuneReport({ device: 'pi5', profile: 'pi5', chosen: null, activated: false, candidates: [['fp32', 3, 400_000, 0, true]] });
    insert('pi5', '2026-01-01T00:00:01Z', none);
    const [m] = compareAcrossDevices(store.listReports({ modelSha256: model }), new Map());
    expect(m?.tuneFronts[0]?.chosen).toBeNull();
    expect(m?.tuneFronts[0]?.chosenReason).toBe('no candidate meets the constraints');
    expect(formatComparisonTable([m!])).toMatch(/pi5\s+pi5\s+\(none: no candidate meets the constraints\)\s+no/);

    const payload = tuneReport({ device: 'j', profile: 'jetson-orin', chosen: 'fp16', activated: true, candidates: [['fp16', 2, 200_000, null, true], ['fp32', 3, 400_000, 0, false]] });
    delete (payload.tune as Record<string, unknown>).front;
    const t = summarizeTune(payload);
    expect(t?.front).toEqual([{ id: 'fp16', latencyMs: 2, sizeBytes: 200_000, accuracyDrop: null, accuracyCi: null, judgedOn: null }]);
    expect(summarizeTune({ action: 'profile' })).toBeNull();
  });
});
