import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorStore } from '../../../src/store/operator-store.js';
import { runCli } from './fleet-harness.js';

const model = 'f'.repeat(64);

/** `edgetune results --model SHA` on a real operator store holding the tune reports of two devices. */
describe('edgetune results --model: tune fronts of two devices', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-results-cli-'));
  beforeAll(() => {
    const store = new OperatorStore(join(dir, 'operator.db'));
    const report = (deviceId: string, profile: string, chosen: string, cands: Array<[string, number, number, number]>) => ({
      reportId: `r-${deviceId}`,
      jobId: `j-${deviceId}`,
      action: 'tune',
      activated: true,
      rolledBack: false,
      variant: { method: `tune:${chosen}`, bytes: 1000, sha256: 'a'.repeat(64) },
      tune: { device: { profile }, chosen, chosenReason: 'lowest latency', front: cands.map((c) => c[0]), candidates: cands.map(([id, latencyMs, sizeBytes, accuracyDrop]) => ({ id, latencyMs, sizeBytes, accuracyDrop, pareto: true })) },
    });
    const put = (deviceId: string, payload: unknown, at: string) =>
      store.insertReport({ reportId: `r-${deviceId}`, deviceId, jobId: `j-${deviceId}`, action: 'tune', state: 'ok', seq: 1, createdAt: at, modelSha256: model, payload: JSON.stringify(payload) });
    put('pi4', report('pi4', 'pi4', 'fp32', [['fp32', 4.5, 400_000, 0]]), '2026-01-01T00:00:01Z');
    put('x86', report('x86', 'x86-avx2', 'int8', [['int8', 0.5, 110_000, 0.4], ['fp32', 1.2, 400_000, 0]]), '2026-01-01T00:00:02Z');
    store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--json carries each device\'s chosen candidate and front; the table shows them side by side', async () => {
    const json = await runCli(['results', '--data-dir', dir, '--model', model, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { comparison: Array<{ tuneFronts: Array<{ deviceId: string; deviceProfile: string; chosen: { id: string; latencyMs: number }; front: Array<{ id: string }> }> }> };
    const fronts = parsed.comparison[0]?.tuneFronts ?? [];
    expect(fronts.map((f) => [f.deviceId, f.deviceProfile, f.chosen.id, f.front.map((c) => c.id)])).toEqual([
      ['pi4', 'pi4', 'fp32', ['fp32']],
      ['x86', 'x86-avx2', 'int8', ['int8', 'fp32']],
    ]);
    const table = await runCli(['results', '--data-dir', dir, '--model', model]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/tune fronts by device/);
    expect(table.stdout).toMatch(/pi4\s+pi4\s+\* fp32\s+4\.500/);
    expect(table.stdout).toMatch(/x86\s+x86-avx2\s+\* int8\s+0\.500/);
  });
});
