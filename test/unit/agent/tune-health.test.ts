import { describe, expect, it } from 'vitest';
import { HEALTH_LATENCY_FACTOR, healthBound, judgeHealth } from '../../../src/agent/actions/tune.js';

describe('tune health check: bound and verdict (pure)', () => {
  it('takes the bound from healthMaxLatencyMs, then maxLatencyMs, then the tune measurement', () => {
    expect(healthBound({ healthMaxLatencyMs: 5, maxLatencyMs: 9, tunedLatencyMs: 2 })).toEqual({ boundMs: 5, source: 'healthMaxLatencyMs' });
    expect(healthBound({ maxLatencyMs: 9, tunedLatencyMs: 2 })).toEqual({ boundMs: 9, source: 'maxLatencyMs' });
    const fromTune = healthBound({ tunedLatencyMs: 2 });
    expect(fromTune.source).toBe('tune');
    expect(fromTune.boundMs).toBeCloseTo(2 * HEALTH_LATENCY_FACTOR, 12);
    expect(healthBound({ tunedLatencyMs: null })).toEqual({ boundMs: null, source: 'none' });
    expect(healthBound({ tunedLatencyMs: Number.NaN })).toEqual({ boundMs: null, source: 'none' });
  });

  it('passes a p50 within the bound and fails one above it, naming both figures', () => {
    const bound = { boundMs: 3, source: 'maxLatencyMs' as const };
    expect(judgeHealth({ latencyMs: { p50: 3 } }, bound)).toEqual({ ok: true, latencyMs: 3, boundMs: 3, boundSource: 'maxLatencyMs', reason: null });
    const slow = judgeHealth({ latencyMs: { p50: 3.5 } }, bound);
    expect(slow.ok).toBe(false);
    expect(slow.latencyMs).toBe(3.5);
    expect(slow.reason).toBe('p50 3.500 ms exceeds the bound 3.000 ms (maxLatencyMs)');
  });

  it('fails a profile without a usable latency, and passes any running model when there is no bound', () => {
    const none = { boundMs: null, source: 'none' as const };
    expect(judgeHealth({}, none).ok).toBe(false);
    expect(judgeHealth({ latencyMs: { p50: Number.NaN } }, none).reason).toMatch(/no latency/);
    expect(judgeHealth({ latencyMs: { p50: 1234 } }, none).ok).toBe(true);
  });
});
