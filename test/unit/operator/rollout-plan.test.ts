import { describe, expect, it } from 'vitest';
import { EdgetuneError } from '../../../src/util/errors.js';
import { checkRolloutCriteria, checkShare, cumulativeStageCounts, decideStage, judgeReport, orderDevices, parseStages, planStages, type DeviceOutcome } from '../../../src/operator/rollout/rollout-plan.js';

function usage(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('USAGE');
    return (error as Error).message;
  }
  throw new Error('expected a USAGE error');
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `dev-${String(i).padStart(2, '0')}`);

describe('parseStages', () => {
  it('reads cumulative percentages with or without %', () => {
    expect(parseStages('5%,25%,100%')).toEqual([5, 25, 100]);
    expect(parseStages(' 10 , 50%,100 ')).toEqual([10, 50, 100]);
    expect(parseStages('100%')).toEqual([100]);
    expect(parseStages('2.5%,100%')).toEqual([2.5, 100]);
  });
  it('refuses stages that do not increase, do not end at 100 %, or are not percentages', () => {
    expect(usage(() => parseStages('25%,5%,100%'))).toMatch(/must increase: 5% does not exceed 25%/);
    expect(usage(() => parseStages('25%,25%,100%'))).toMatch(/must increase/);
    expect(usage(() => parseStages('5%,25%,90%'))).toMatch(/must end at 100%/);
    expect(usage(() => parseStages('5%,150%'))).toMatch(/'150%' is not a percentage in \(0, 100\]/);
    expect(usage(() => parseStages('0%,100%'))).toMatch(/'0%' is not a percentage/);
    expect(usage(() => parseStages('five,100%'))).toMatch(/'five' is not a percentage/);
    expect(usage(() => parseStages('5%,,100%'))).toMatch(/comma-separated/);
  });
});

describe('thresholds', () => {
  it('accept [0, 1] and refuse anything else naming the flag', () => {
    expect(checkShare('min-success', 0)).toBe(0);
    expect(checkShare('min-success', 1)).toBe(1);
    expect(usage(() => checkShare('min-success', 1.5))).toMatch(/--min-success 1.5 must be a number in \[0, 1\]/);
    expect(usage(() => checkShare('abort-failure-rate', -0.1))).toMatch(/--abort-failure-rate -0.1/);
    expect(usage(() => checkShare('abort-failure-rate', Number.NaN))).toMatch(/--abort-failure-rate NaN/);
    expect(usage(() => checkRolloutCriteria({ stagesPercent: [5, 100], minSuccess: 0.9, abortFailureRate: 0.1, maxLatencyMs: 0 }))).toMatch(/--max-latency-ms 0/);
  });
});

describe('stage sizes', () => {
  it('are ceil(share × group), the first at least one device, the last the whole group, never decreasing', () => {
    expect(cumulativeStageCounts([5, 25, 100], 20)).toEqual([1, 5, 20]);
    expect(cumulativeStageCounts([10, 50, 100], 20)).toEqual([2, 10, 20]);
    expect(cumulativeStageCounts([5, 25, 100], 3)).toEqual([1, 1, 3]);
    expect(cumulativeStageCounts([1, 100], 1000)).toEqual([10, 1000]);
    expect(cumulativeStageCounts([33.3, 66.6, 100], 3)).toEqual([1, 2, 3]);
    expect(cumulativeStageCounts([50, 100], 0)).toEqual([0, 0]);
  });
});

describe('device order', () => {
  it('is fixed for a rollout id, a permutation of the group, and differs between rollouts', () => {
    const group = ids(20);
    const a = orderDevices('ro-a', group);
    expect(orderDevices('ro-a', [...group].reverse())).toEqual(a);
    expect([...a].sort()).toEqual(group);
    expect(orderDevices('ro-b', group)).not.toEqual(a);
    expect(a).not.toEqual(group); // not the name order
  });
  it('cuts the order into stages: each device in exactly one stage', () => {
    const plan = planStages('ro-a', ids(20), [10, 50, 100]);
    expect(plan.map((s) => s.devices.length)).toEqual([2, 8, 10]);
    expect(plan.flatMap((s) => s.devices)).toEqual(orderDevices('ro-a', ids(20)));
    expect(plan.map((s) => s.stage)).toEqual([1, 2, 3]);
  });
});

describe('judgeReport', () => {
  const ok = { state: 'ok', activated: true, profile: { latencyMs: { p50: 4.2 } }, fidelity: null };
  it('a live model with its health-check profile is a success, with its p50', () => {
    expect(judgeReport(ok, { maxLatencyMs: null })).toEqual({ outcome: 'succeeded', activated: true, latencyMs: 4.2, reason: null });
    expect(judgeReport(ok, { maxLatencyMs: 5 }).outcome).toBe('succeeded');
  });
  it('a p50 over --max-latency-ms fails, and says the model is live (a rollback applies)', () => {
    const j = judgeReport(ok, { maxLatencyMs: 4 });
    expect(j).toMatchObject({ outcome: 'failed', activated: true });
    expect(j.reason).toMatch(/p50 latency 4\.200 ms exceeds --max-latency-ms 4/);
    expect(judgeReport({ state: 'ok', activated: true }, { maxLatencyMs: 4 }).reason).toMatch(/no p50 latency/);
  });
  it('a failed job, a failed fidelity gate, a model not made live, a failed tune health check are failures', () => {
    expect(judgeReport({ state: 'failed', activated: false, error: { code: 'CHILD_OOM', message: 'profile child exceeded the memory limit' } }, { maxLatencyMs: null })).toMatchObject({
      outcome: 'failed',
      activated: false,
      reason: 'profile child exceeded the memory limit [CHILD_OOM]',
    });
    expect(judgeReport({ ...ok, fidelity: { passed: false } }, { maxLatencyMs: null }).reason).toMatch(/fidelity gate/);
    expect(judgeReport({ ...ok, activated: false }, { maxLatencyMs: null }).reason).toMatch(/not made live/);
    expect(judgeReport({ state: 'ok', activated: true, health: { ok: false, reason: 'p50 9 ms > 5 ms' } }, { maxLatencyMs: null }).reason).toMatch(/health check failed: p50 9 ms/);
    expect(judgeReport({ state: 'ok', activated: true, health: { ok: true, latencyMs: 3 } }, { maxLatencyMs: 5 })).toMatchObject({ outcome: 'succeeded', latencyMs: 3 });
  });
});

describe('decideStage', () => {
  const o = { timedOut: false, minSuccess: 0.95, abortFailureRate: 0.1 };
  const outcomes = (succeeded: number, failed: number, pending = 0): DeviceOutcome[] => [
    ...Array<DeviceOutcome>(succeeded).fill('succeeded'),
    ...Array<DeviceOutcome>(failed).fill('failed'),
    ...Array<DeviceOutcome>(pending).fill('pending'),
  ];
  it('waits while devices are pending', () => {
    expect(decideStage(outcomes(5, 0, 1), o)).toEqual({ decision: 'wait' });
    expect(decideStage(outcomes(0, 5, 1), o)).toEqual({ decision: 'wait' });
  });
  it('passes at the success threshold, exactly', () => {
    expect(decideStage(outcomes(19, 1), o)).toEqual({ decision: 'passed', succeeded: 19, failed: 1 });
    expect(decideStage(outcomes(8, 0), o).decision).toBe('passed');
    expect(decideStage([], o).decision).toBe('passed');
  });
  it('aborts when failures exceed the abort rate (a quarter of a stage)', () => {
    const d = decideStage(outcomes(6, 2), o);
    expect(d.decision).toBe('abort');
    expect(d).toMatchObject({ succeeded: 6, failed: 2 });
    expect((d as { reason: string }).reason).toMatch(/2 of 8 devices failed: 25\.0 % exceeds --abort-failure-rate 0\.1/);
  });
  it('halts between the thresholds: too few successes, not enough failures to abort', () => {
    const d = decideStage(outcomes(9, 1), o); // 10 % failed = the abort rate, not above it; 90 % < 95 %
    expect(d.decision).toBe('halted');
    expect((d as { reason: string }).reason).toMatch(/9 of 10 devices succeeded: 90\.0 % is below --min-success 0\.95/);
  });
  it('a timed-out stage counts its pending devices as failed', () => {
    const d = decideStage(outcomes(9, 0, 1), { ...o, timedOut: true, abortFailureRate: 0.05 });
    expect(d).toMatchObject({ decision: 'abort', succeeded: 9, failed: 1 });
    expect((d as { reason: string }).reason).toMatch(/1 without a report when the stage timed out/);
    expect(decideStage(outcomes(20, 0, 1), { ...o, timedOut: true, minSuccess: 0.9, abortFailureRate: 0.5 }).decision).toBe('passed');
  });
});
