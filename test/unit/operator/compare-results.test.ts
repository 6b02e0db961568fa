import { describe, expect, it } from 'vitest';
import { optionsToFlags } from '../../../src/agent/agent-services.js';
import { isUnknownCommandMessage } from '../../../src/agent/cli-child.js';
import { compareAcrossDevices, formatComparisonTable, summarizeReport } from '../../../src/operator/compare-results.js';
import { jobOptionsFromArgs } from '../../../src/operator/job-option-args.js';
import type { OperatorReportRow } from '../../../src/store/operator-store.js';

const sha = 'a'.repeat(64);
function row(deviceId: string, createdAt: string, payload: unknown, action = 'profile'): OperatorReportRow {
  return { reportId: `${deviceId}-${createdAt}`, deviceId, jobId: 'j', action, state: 'ok', modelSha256: sha, seq: 1, payload: JSON.stringify(payload), createdAt, receivedAt: createdAt };
}

describe('compareAcrossDevices', () => {
  const profile = (p50: number) => ({
    variant: { method: 'int8', bytes: 1000, sha256: 'b'.repeat(64) },
    profile: { latencyMs: { mean: p50 + 1, p50, p90: p50 + 2, p99: p50 + 3 }, memory: { peakRssBytes: 5e6 }, energy: { joulesPerInference: 0.01 }, throughputPerSec: 100 },
    eval: { top1: 0.97, agreement: 0.99, cosine: null, sqnrDb: 30 },
  });

  it('pulls SPEC field names out of reports and keeps the latest per device', () => {
    const rows = [row('pi-2', '2026-01-01T00:00:02Z', profile(9)), row('pi-1', '2026-01-01T00:00:01Z', profile(5)), row('pi-1', '2026-01-01T00:00:03Z', profile(4))];
    const [m] = compareAcrossDevices(rows, new Map([[sha, 'mnist.onnx']]));
    expect(m?.modelName).toBe('mnist.onnx');
    expect(m?.rows.map((r) => [r.deviceId, r.latencyMs?.p50])).toEqual([['pi-1', 4], ['pi-2', 9]]);
    expect(m?.rows[0]).toMatchObject({ method: 'int8', sizeBytes: 1000, peakRssBytes: 5e6, joulesPerInference: 0.01, fidelity: { top1: 0.97, cosine: null } });
    const table = formatComparisonTable(compareAcrossDevices(rows, new Map()));
    expect(table).toContain('pi-1');
    expect(table).toContain('4.000');
  });

  it('shows failures with their code and nulls where a report has no figure', () => {
    const s = summarizeReport({ ...row('d', 't', { error: { code: 'SIGNATURE_INVALID', message: 'no' } }), state: 'failed' }, new Map());
    expect(s).toMatchObject({ latencyMs: null, sizeBytes: null, fidelity: null, error: { code: 'SIGNATURE_INVALID' } });
    expect(formatComparisonTable(compareAcrossDevices([{ ...row('d', 't', { error: { code: 'X', message: 'm' } }), state: 'failed' }], new Map()))).toContain('failed: X');
  });
});

describe('option plumbing', () => {
  it('turns job options into compress flags and refuses odd keys', () => {
    expect(optionsToFlags({ ratio: 0.5, perChannel: false, symmetric: true, targetCache: 'l2' })).toEqual(['--ratio', '0.5', '--no-per-channel', '--symmetric', '--target-cache', 'l2']);
    expect(() => optionsToFlags({ 'x --y': 1 })).toThrow(RangeError);
  });

  it("parses --option KEY=VALUE by the action's option schema", () => {
    expect(jobOptionsFromArgs('deploy', ['iterations=50', 'method=int8', 'activate=false', 'targetCache=65536'])).toEqual({ iterations: 50, method: 'int8', activate: false, targetCache: '65536' });
    expect(() => jobOptionsFromArgs('deploy', ['=1'])).toThrow(/KEY=VALUE/);
    expect(() => jobOptionsFromArgs('deploy', ['a-b=1'])).toThrow(/plain identifier/);
  });

  it('recognises a child that does not know the command', () => {
    expect(isUnknownCommandMessage('Unknown argument: frobnicate')).toBe(true);
    expect(isUnknownCommandMessage('MODEL: cannot read x.onnx')).toBe(false);
  });
});
