import { describe, expect, it } from 'vitest';
import { constraintViolations, intervalsOverlap, latencyIntervalMs, selectCandidate, validateConstraints, type SelectablePoint } from '../../../src/tune/select-candidate.js';

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

describe('a quantized candidate not faster than fp32 (issue 12)', () => {
  const q = (id: string, methods: string[], latencyMs: number, drop: number, sizeMiB: number, mJ: number | null = null): SelectablePoint => ({ ...p(id, latencyMs, drop, sizeMiB, mJ), methods });
  // int8 measured 10 % slower than fp32, and 4× smaller: on the front by size.
  const SLOW = [q('fp32', ['fp32'], 10, 0, 4), q('int8', ['int8'], 11, 0.3, 1), q('prune-0.25', ['prune'], 10.5, 0.5, 3)];

  it('is not chosen under the latency objective; it stays listed and on the front, with a note', () => {
    const s = selectCandidate(SLOW, {}, 'latency');
    expect(s.pareto.front).toContain('int8');
    expect(s.chosen).toBe('fp32');
    expect(s.slowerThanBaseline).toEqual([
      {
        id: 'int8',
        quantization: ['int8'],
        latencyMs: 11,
        baselineLatencyMs: 10,
        withinNoise: false,
        eligible: false,
        note: 'int8 (int8) is not faster than fp32 on this device: p50 11.0 vs 10.0 ms (1.10× the fp32 latency); not eligible to be chosen under --objective latency',
      },
    ]);
    expect(s.notes).toEqual([s.slowerThanBaseline[0]!.note]);
    // Pruning is not quantization: a slower pruned model is not flagged (it loses on latency alone).
    expect(s.slowerThanBaseline.map((x) => x.id)).not.toContain('prune-0.25');
  });

  it('is not chosen under the energy objective even when it uses less energy', () => {
    const set = [q('fp32', ['fp32'], 10, 0, 4, 50), q('int8', ['int8'], 11, 0.3, 1, 30)];
    const s = selectCandidate(set, {}, 'energy');
    expect(s.objectiveUsed).toBe('energy');
    expect(s.chosen).toBe('fp32');
    expect(s.chosenReason).toContain('int8 is quantized and not faster than fp32 on this device');
  });

  it('is chosen under the size objective, with the note that it is slower than fp32 here', () => {
    const s = selectCandidate(SLOW, {}, 'size');
    expect(s.chosen).toBe('int8');
    expect(s.slowerThanBaseline[0]!.eligible).toBe(true);
    expect(s.slowerThanBaseline[0]!.note).toBe('int8 (int8) is not faster than fp32 on this device: p50 11.0 vs 10.0 ms (1.10× the fp32 latency); kept eligible under --objective size (it is smaller), but it costs speed here');
    expect(s.chosenReason).toContain('int8 is slower than fp32 on this device (p50 11.0 vs 10.0 ms): chosen for size only');
  });

  it('an equal p50 counts as not faster; every quantization method is covered, in chains too', () => {
    const set = [
      q('fp32', ['fp32'], 10, 0, 4),
      q('int8-dyn', ['int8-dynamic'], 10, 0.1, 1),
      q('fp16', ['fp16'], 12, 0, 2),
      q('int4', ['int4'], 10.2, 0.5, 0.7),
      q('prune-0.25+int8', ['prune', 'int8'], 10.1, 0.6, 0.9),
      q('int8-pt', ['int8'], 8, 0.4, 1),
    ];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.slowerThanBaseline.map((x) => x.id)).toEqual(['int8-dyn', 'fp16', 'int4', 'prune-0.25+int8']);
    expect(s.slowerThanBaseline.find((x) => x.id === 'prune-0.25+int8')!.quantization).toEqual(['int8']);
    // A quantized candidate that is faster is eligible and wins.
    expect(s.chosen).toBe('int8-pt');
  });

  it('the choice falls to a candidate that only a slow quantized one dominated', () => {
    // int8 ties fp32's p50 and is smaller with no accuracy loss: it dominates fp32, which leaves the front.
    const set = [q('fp32', ['fp32'], 10, 0, 4), q('int8', ['int8'], 10, 0, 1)];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.pareto.front).toEqual(['int8']);
    expect(s.chosen).toBe('fp32');
    expect(s.chosenReason).toContain('fp32 is off the front only because of candidates that are quantized and not faster than fp32 on this device');
  });

  it('nothing is chosen when every feasible candidate is a slow quantized one', () => {
    const s = selectCandidate(SLOW, { maxSizeBytes: 2 * MiB }, 'latency');
    expect(s.feasible).toEqual(['int8']);
    expect(s.chosen).toBeNull();
    expect(s.chosenReason).toBe('every candidate that meets the constraints is quantized and not faster than fp32 on this device (int8): none is eligible under --objective latency');
  });

  it('without a profiled baseline the rule is not applied, and a note says so', () => {
    const s = selectCandidate([q('int8', ['int8'], 11, 0.3, 1)], {}, 'latency');
    expect(s.chosen).toBe('int8');
    expect(s.slowerThanBaseline).toEqual([]);
    expect(s.notes).toEqual(['the fp32 baseline was not profiled: quantized candidates could not be checked against its latency']);
  });
});

describe('--max-accuracy-drop against the upper end of the interval (issue 13)', () => {
  const withUpper = (id: string, latencyMs: number, drop: number, upper: number, sizeMiB: number): SelectablePoint => ({ ...p(id, latencyMs, drop, sizeMiB, null), accuracyDropUpperPp: upper });

  it('a drop within the bound whose interval reaches past it misses, and the text names both figures', () => {
    expect(constraintViolations(withUpper('int8', 2, 0.4, 1.62, 1), { maxAccuracyDropPp: 1 })).toEqual(['--max-accuracy-drop: drop 0.40 pp, interval upper end 1.62 pp > 1 pp']);
    expect(constraintViolations(withUpper('int8', 2, 0.4, 0.95, 1), { maxAccuracyDropPp: 1 })).toEqual([]);
    // The upper end is inclusive, like the point estimate.
    expect(constraintViolations(withUpper('int8', 2, 0.4, 1, 1), { maxAccuracyDropPp: 1 })).toEqual([]);
  });

  it('a zero-width interval (confidence 0) or none reads as before', () => {
    expect(constraintViolations(withUpper('x', 2, 1.5, 1.5, 1), { maxAccuracyDropPp: 1 })).toEqual(['--max-accuracy-drop: drop 1.50 pp > 1 pp']);
    expect(constraintViolations({ ...p('x', 2, 1.5, 1, null), accuracyDropUpperPp: null }, { maxAccuracyDropPp: 1 })).toEqual(['--max-accuracy-drop: drop 1.50 pp > 1 pp']);
    expect(constraintViolations({ ...p('x', 2, null, 1, null), accuracyDropUpperPp: 0.5 }, { maxAccuracyDropPp: 1 })).toEqual(['--max-accuracy-drop 1 pp: accuracy not measured']);
  });

  it('filters on the upper end; the front among the rest still compares the point estimates', () => {
    const set = [withUpper('fp32', 10, 0, 0, 4), withUpper('int8', 4, 0.4, 1.62, 1), withUpper('int8-keep', 5, 0.3, 0.9, 1.2), withUpper('fp16', 6, 0.1, 0.95, 2)];
    const s = selectCandidate(set, { maxAccuracyDropPp: 1 }, 'latency');
    expect(s.feasible).toEqual(['fp32', 'int8-keep', 'fp16']);
    expect(s.violations).toEqual([{ id: 'int8', violations: ['--max-accuracy-drop: drop 0.40 pp, interval upper end 1.62 pp > 1 pp'] }]);
    // fp16's point drop 0.10 < int8-keep's 0.30: both on the front though fp16's upper end is higher.
    expect(s.pareto.front).toEqual(['fp32', 'int8-keep', 'fp16']);
    expect(s.chosen).toBe('int8-keep');
  });
});

describe('latencyIntervalMs: the interval of the median from the profiler summary', () => {
  it('is p50 ± z·1.2533·std/√n', () => {
    const half = (1.959964 * 1.2533 * 2) / Math.sqrt(30);
    const [lo, hi] = latencyIntervalMs(10, 2, 30, 0.95);
    expect(lo).toBeCloseTo(10 - half, 4);
    expect(hi).toBeCloseTo(10 + half, 4);
    const [lo99, hi99] = latencyIntervalMs(10, 2, 30, 0.99);
    expect(hi99 - 10).toBeCloseTo((2.575829 * 1.2533 * 2) / Math.sqrt(30), 4);
    expect(10 - lo99).toBeCloseTo(hi99 - 10, 10);
  });

  it('confidence 0 gives the point; the lower end stops at 0; a zero spread gives the point', () => {
    expect(latencyIntervalMs(10, 2, 30, 0)).toEqual([10, 10]);
    expect(latencyIntervalMs(0.5, 10, 4, 0.95)[0]).toBe(0);
    expect(latencyIntervalMs(3, 0, 30, 0.95)).toEqual([3, 3]);
  });

  it('refuses bad input, naming the parameter', () => {
    expect(() => latencyIntervalMs(Number.NaN, 1, 30, 0.95)).toThrow(/p50Ms/);
    expect(() => latencyIntervalMs(1, -1, 30, 0.95)).toThrow(/stdMs/);
    expect(() => latencyIntervalMs(1, 1, 0, 0.95)).toThrow(/iterations/);
    expect(() => latencyIntervalMs(1, 1, 2.5, 0.95)).toThrow(RangeError);
    expect(() => latencyIntervalMs(1, 1, 30, 1)).toThrow(/confidence/);
    expect(() => latencyIntervalMs(1, 1, 30, -0.1)).toThrow(/confidence/);
  });

  it('closed intervals overlap when they share a point', () => {
    expect(intervalsOverlap([1, 2], [2, 3])).toBe(true);
    expect(intervalsOverlap([1, 2], [2.01, 3])).toBe(false);
    expect(intervalsOverlap([1, 5], [2, 3])).toBe(true);
  });
});

describe('latencies within the noise are not ranked (issue 13)', () => {
  const n = (id: string, latencyMs: number, ci: [number, number] | null, drop: number, sizeMiB: number, methods?: string[]): SelectablePoint => ({
    ...p(id, latencyMs, drop, sizeMiB, null),
    latencyCiMs: ci,
    ...(methods ? { methods } : {}),
  });

  it('overlapping intervals: the lower accuracy drop wins although its p50 is higher, and the reason gives both intervals', () => {
    const set = [n('int8', 2.1, [1.95, 2.25], 0.4, 1), n('int8-keep', 2.18, [2.02, 2.34], 0.1, 1.2)];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.pareto.front).toEqual(['int8', 'int8-keep']);
    expect(s.chosen).toBe('int8-keep');
    expect(s.chosenReason).toContain('int8-keep and int8 are not distinguishable on this device: p50 2.18 ms [2.02, 2.34] vs 2.10 ms [1.95, 2.25]');
    expect(s.chosenReason).toContain('int8-keep is chosen for its lower accuracy drop (0.10 vs 0.40 pp for int8)');
    expect(s.chosenReason).toContain('next: int8');
    expect(s.indistinguishable).toEqual([
      { id: 'int8', from: ['int8-keep'] },
      { id: 'int8-keep', from: ['int8'] },
    ]);
  });

  it('intervals apart: the faster one wins as before', () => {
    const set = [n('int8', 2.1, [1.95, 2.25], 0.4, 1), n('int8-keep', 2.4, [2.3, 2.5], 0.1, 1.2)];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.chosen).toBe('int8');
    expect(s.chosenReason).not.toContain('not distinguishable');
    expect(s.chosenReason).toContain('lowest p50 latency of the 2 front members');
    expect(s.indistinguishable).toEqual([
      { id: 'int8', from: [] },
      { id: 'int8-keep', from: [] },
    ]);
  });

  it('among tied candidates an equal drop goes to the smaller model; only overlaps with the fastest count', () => {
    const set = [
      n('a', 2.0, [1.9, 2.1], 0.2, 2), // fastest
      n('b', 2.05, [1.98, 2.12], 0.2, 1), // overlaps a, same drop, smaller: wins
      n('c', 2.15, [2.11, 2.19], 0.0, 3), // overlaps b only: ranked after the tie
      n('d', 2.02, null, 0.1, 1.5), // no interval: ranked by its p50, outside the tie
    ];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.pareto.front).toEqual(['a', 'b', 'c', 'd']);
    expect(s.chosen).toBe('b');
    expect(s.chosenReason).toContain('b and a are not distinguishable on this device: p50 2.05 ms [1.98, 2.12] vs 2.00 ms [1.90, 2.10]; b is chosen for its smaller model at the same accuracy drop');
    expect(s.indistinguishable).toEqual([
      { id: 'a', from: ['b'] },
      { id: 'b', from: ['a', 'c'] },
      { id: 'c', from: ['b'] },
    ]);
  });

  it('the size and energy objectives are not affected', () => {
    const set = [n('int8', 2.1, [1.95, 2.25], 0.4, 1), n('int8-keep', 2.18, [2.02, 2.34], 0.1, 1.2)];
    expect(selectCandidate(set, {}, 'size').chosen).toBe('int8');
  });

  it('a quantized candidate whose interval overlaps the baseline\'s is not faster, although its p50 is lower', () => {
    const set = [n('fp32', 10, [9.5, 10.5], 0, 4, ['fp32']), n('int8', 9.8, [9.3, 10.3], 0.3, 1, ['int8']), n('fp16', 8, [7.6, 8.4], 0.05, 2, ['fp16'])];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.slowerThanBaseline).toEqual([
      {
        id: 'int8',
        quantization: ['int8'],
        latencyMs: 9.8,
        baselineLatencyMs: 10,
        withinNoise: true,
        eligible: false,
        note: 'int8 (int8) is not distinguishable from fp32 on this device, so not faster: p50 9.80 ms [9.30, 10.3] vs 10.0 ms [9.50, 10.5] (0.98× the fp32 latency), the intervals overlap; not eligible to be chosen under --objective latency',
      },
    ]);
    expect(s.pareto.front).toContain('int8');
    // fp16's interval is apart from fp32's: it is faster, eligible, and wins.
    expect(s.chosen).toBe('fp16');

    const withoutFp16 = selectCandidate(set.slice(0, 2), {}, 'latency');
    expect(withoutFp16.chosen).toBe('fp32');
    expect(withoutFp16.chosenReason).toContain('int8 is quantized and not faster than fp32 on this device');
    expect(selectCandidate(set.slice(0, 2), {}, 'energy').chosen).toBe('fp32');

    const bySize = selectCandidate(set.slice(0, 2), {}, 'size');
    expect(bySize.chosen).toBe('int8');
    expect(bySize.chosenReason).toContain('int8 is not distinguishable from fp32 on this device (p50 9.80 vs 10.0 ms): chosen for size only');
  });

  it('without the baseline\'s interval the p50s are compared as before', () => {
    const set = [n('fp32', 10, null, 0, 4, ['fp32']), n('int8', 9.8, [9.3, 10.3], 0.3, 1, ['int8'])];
    const s = selectCandidate(set, {}, 'latency');
    expect(s.slowerThanBaseline).toEqual([]);
    expect(s.chosen).toBe('int8');
  });
});

describe('ineligibleReason', () => {
  const SUSPECT = 'beats the original on the labels (−0.80 pp) while disagreeing with it on 31 % of samples';

  it('a candidate that would have won is not chosen; it stays on the front and the reason says why', () => {
    const set = SET.map((x) => (x.id === 'prune' ? { ...x, ineligibleReason: SUSPECT } : x));
    const s = selectCandidate(set, {}, 'latency');
    expect(s.pareto.front).toContain('prune');
    expect(s.chosen).toBe('int8');
    expect(s.chosenReason).toContain(`prune would otherwise have been chosen but is not eligible: ${SUSPECT}`);
    expect(s.chosenReason).toContain(`front members meeting the constraints and eligible (prune is not eligible: ${SUSPECT})`);
  });

  it('one that would not have won changes nothing but the wording; null is no reason', () => {
    const set = SET.map((x) => (x.id === 'int4' ? { ...x, ineligibleReason: SUSPECT } : x.id === 'fp32' ? { ...x, ineligibleReason: null } : x));
    const s = selectCandidate(set, {}, 'latency');
    expect(s.chosen).toBe('prune');
    expect(s.chosenReason).not.toContain('would otherwise have been chosen');
  });

  it('nothing is chosen when no feasible candidate is eligible', () => {
    const s = selectCandidate([{ ...p('int8', 4, 0.1, 1, null), ineligibleReason: SUSPECT }], {}, 'latency');
    expect(s.chosen).toBeNull();
    expect(s.chosenReason).toBe(`no candidate that meets the constraints is eligible (int8 is not eligible: ${SUSPECT})`);
  });
});
