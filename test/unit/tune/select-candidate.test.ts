import { describe, expect, it } from 'vitest';
import { constraintViolations, selectCandidate, validateConstraints, type SelectablePoint } from '../../../src/tune/select-candidate.js';

const MiB = 1024 * 1024;
const p = (id: string, latencyMs: number, drop: number | null, sizeMiB: number, mJ: number | null, rssMiB = 100): SelectablePoint => ({
  id,
  metrics: { latencyMs, accuracyDropPp: drop, sizeBytes: sizeMiB * MiB, joulesPerInference: mJ === null ? null : mJ / 1000 },
  peakRssBytes: rssMiB * MiB,
});

const SET = [
  p('fp32', 10, 0, 4, 50, 140),
  p('int8', 4, 0.8, 1, 30, 110),
  p('int8-keep', 5, 0.2, 1.2, 20, 115),
  p('int4', 9, 1.5, 0.6, 60, 100),
  p('prune', 3, 2.5, 2, 15, 120),
];

describe('constraints', () => {
  it('filter the candidates and name each miss with both numbers', () => {
    const s = selectCandidate(SET, { maxAccuracyDropPp: 1, maxLatencyMs: 9.5, maxMemoryBytes: 130 * MiB, maxSizeBytes: 3 * MiB }, 'latency');
    expect(s.feasible).toEqual(['int8', 'int8-keep']);
    const v = new Map(s.violations.map((x) => [x.id, x.violations]));
    expect(v.get('fp32')).toEqual(['--max-latency-ms: p50 10.0 ms > 9.5 ms', '--max-memory-mb: peak RSS 140.0 MB > 130.0 MB', '--max-size-mb: 4.00 MiB > 3.0 MB']);
    expect(v.get('int4')).toEqual(['--max-accuracy-drop: drop 1.50 pp > 1 pp']);
    expect(v.get('prune')).toEqual(['--max-accuracy-drop: drop 2.50 pp > 1 pp']);
    // The front is taken among the feasible candidates only.
    expect(s.pareto.front).toEqual(['int8', 'int8-keep']);
    expect(s.chosen).toBe('int8');
  });

  it('an unmeasured accuracy misses an accuracy bound', () => {
    expect(constraintViolations(p('x', 1, null, 1, 1), { maxAccuracyDropPp: 1 })).toEqual(['--max-accuracy-drop 1 pp: accuracy not measured']);
  });

  it('bounds are inclusive', () => {
    expect(constraintViolations(p('x', 4, 1, 1, 1), { maxAccuracyDropPp: 1, maxLatencyMs: 4, maxSizeBytes: MiB })).toEqual([]);
  });

  it('no feasible candidate: nothing is chosen and the reason says so', () => {
    const s = selectCandidate(SET, { maxLatencyMs: 1 }, 'latency');
    expect(s.chosen).toBeNull();
    expect(s.chosenReason).toBe('no candidate meets the constraints (5 profiled)');
    expect(s.pareto.front).toEqual([]);
  });

  it('bad bounds are reported all at once', () => {
    expect(validateConstraints({ maxAccuracyDropPp: -1, maxLatencyMs: 0, maxMemoryBytes: Number.NaN, maxSizeBytes: 5 })).toEqual([
      '--max-accuracy-drop must be a number ≥ 0; got -1',
      '--max-latency-ms must be a number > 0; got 0',
      '--max-memory-mb must be a number > 0; got NaN',
    ]);
    expect(validateConstraints({ maxAccuracyDropPp: 0 })).toEqual([]);
  });
});

describe('choice by objective among the front', () => {
  it('latency picks the fastest front member, size the smallest, energy the most frugal', () => {
    expect(selectCandidate(SET, {}, 'latency').chosen).toBe('prune');
    expect(selectCandidate(SET, {}, 'size').chosen).toBe('int4');
    expect(selectCandidate(SET, {}, 'energy').chosen).toBe('prune');
    expect(selectCandidate(SET, { maxAccuracyDropPp: 1 }, 'energy').chosen).toBe('int8-keep');
  });

  it('a dominated candidate is never chosen even when it would win the objective alone', () => {
    // b ties a on latency (the objective) but a beats it on accuracy: b is off the front.
    const set = [p('a', 2, 0.1, 1, 10), p('b', 2, 0.2, 1, 10)];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.pareto.front).toEqual(['a']);
    expect(s.chosen).toBe('a');
  });

  it('ties on the objective go to the lower accuracy drop, then the smaller model', () => {
    const set = [p('x', 2, 0.5, 1, 10), p('y', 2, 0.1, 3, 10), p('z', 2, 0.1, 2, 11)];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.pareto.front).toEqual(['x', 'y', 'z']);
    expect(s.chosen).toBe('z');
    expect(s.chosenReason).toContain('lowest p50 latency of the 3 front members');
  });

  it('energy falls back to latency when energy was not measured for every candidate', () => {
    const set = [p('a', 2, 0, 2, null), p('b', 1, 0, 3, 5)];
    const s = selectCandidate(set, {}, 'energy');
    expect(s.objectiveUsed).toBe('latency');
    expect(s.chosen).toBe('b');
    expect(s.chosenReason).toContain('energy was not measured for every candidate');
  });

  it('a single feasible candidate is chosen as the only one', () => {
    const s = selectCandidate([p('fp32', 5, 0, 4, 1)], {}, 'latency');
    expect(s.chosen).toBe('fp32');
    expect(s.chosenReason).toBe('the only candidate on the front that meets the constraints');
  });
});
