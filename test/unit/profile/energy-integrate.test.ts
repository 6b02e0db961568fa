import { describe, expect, it } from 'vitest';
import {
  baselineWatts,
  counterDeltaUj,
  cumulativeEnergy,
  energyAt,
  energyBetween,
  intervalWatts,
  summarizeEnergy,
} from '../../../src/profile/energy/energy-integrate.js';
import type { EnergyReading } from '../../../src/profile/energy/energy-source.js';

const s = (seconds: number): bigint => BigInt(Math.round(seconds * 1e9));
const power = (t: number, watts: number): EnergyReading => ({ kind: 'power', tNs: s(t), watts, rails: {} });
const counter = (t: number, ...uj: bigint[]): EnergyReading => ({ kind: 'energy', tNs: s(t), countersUj: uj });

describe('counterDeltaUj', () => {
  const range = 262143328850n;
  it('subtracts when the counter did not wrap', () => {
    expect(counterDeltaUj(100n, 350n, range)).toBe(250n);
  });
  it('adds the range once when the counter wrapped', () => {
    // 262 142 000 000 -> wraps at 262 143 328 850 -> 1 000 000: 1 328 850 + 1 000 000 µJ
    expect(counterDeltaUj(262142000000n, 1000000n, range)).toBe(2328850n);
  });
  it('refuses a backwards step when there is no wrap range', () => {
    expect(() => counterDeltaUj(10n, 5n, 0n)).toThrow(RangeError);
  });
});

describe('cumulativeEnergy', () => {
  it('integrates a power gauge by the trapezoid rule', () => {
    // 2 W -> 4 W over 1 s = 3 J; then 4 W flat for 0.5 s = 2 J
    const c = cumulativeEnergy([power(0, 2), power(1, 4), power(1.5, 4)]);
    expect(c.map((p) => p.joules)).toEqual([0, 3, 5]);
  });
  it('sums wrap-safe deltas over several counters', () => {
    const c = cumulativeEnergy([counter(0, 100n, 262142000000n), counter(1, 1100n, 1000000n)], [0n, 262143328850n]);
    expect(c[1]!.joules).toBeCloseTo((1000 + 2328850) / 1e6, 12);
  });
  it('rejects readings out of time order or of mixed kinds', () => {
    expect(() => cumulativeEnergy([power(1, 2), power(0, 2)])).toThrow(RangeError);
    expect(() => cumulativeEnergy([power(0, 2), counter(1, 5n)])).toThrow(RangeError);
  });
});

describe('energyAt / energyBetween', () => {
  const curve = cumulativeEnergy([power(0, 2), power(1, 4), power(2, 4)]); // 0, 3, 7 J
  it('interpolates linearly between points', () => {
    expect(energyAt(curve, s(0.5))).toBeCloseTo(1.5, 9);
    expect(energyBetween(curve, s(0.5), s(1.5))).toBeCloseTo(5 - 1.5, 9);
  });
  it('throws outside the sampled span and for a reversed window', () => {
    expect(() => energyAt(curve, s(2.5))).toThrow(RangeError);
    expect(() => energyBetween(curve, s(1.5), s(0.5))).toThrow(RangeError);
  });
});

describe('baselineWatts', () => {
  it('is the median of gauge readings', () => {
    expect(baselineWatts([power(0, 1), power(1, 9), power(2, 2), power(3, 3)])).toBeCloseTo(2.5, 12);
  });
  it('is the median of interval powers for counters', () => {
    // intervals: 1 J/1 s, 3 J/1 s, 2 J/1 s -> median 2 W
    const r = [counter(0, 0n), counter(1, 1000000n), counter(2, 4000000n), counter(3, 6000000n)];
    expect(baselineWatts(r)).toBeCloseTo(2, 12);
    expect(intervalWatts(cumulativeEnergy(r))).toEqual([1, 3, 2]);
  });
  it('needs two counter readings', () => {
    expect(() => baselineWatts([counter(0, 5n)])).toThrow(RangeError);
    expect(() => baselineWatts([])).toThrow(RangeError);
  });
});

describe('summarizeEnergy', () => {
  it('splits total, idle and dynamic energy and divides by the inferences', () => {
    // 5 W flat from 0 to 4 s; window 1..3 s = 10 J; idle 2 W -> 4 J idle, 6 J dynamic; 100 inferences
    const readings = [0, 1, 2, 3, 4].map((t) => power(t, 5));
    const sum = summarizeEnergy(readings, { startNs: s(1), endNs: s(3), inferences: 100 }, 2);
    expect(sum.totalJoules).toBeCloseTo(10, 9);
    expect(sum.idleJoules).toBeCloseTo(4, 9);
    expect(sum.dynamicJoules).toBeCloseTo(6, 9);
    expect(sum.avgWatts).toBeCloseTo(5, 9);
    expect(sum.joulesPerInference).toBeCloseTo(0.1, 9);
    expect(sum.dynamicJoulesPerInference).toBeCloseTo(0.06, 9);
    expect(sum.durationMs).toBeCloseTo(2000, 6);
    expect(sum.nSamples).toBe(3);
    expect(sum.sampleHz).toBeCloseTo(1, 9);
  });
});
