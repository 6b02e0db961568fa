/**
 * Pure energy arithmetic: wrap-safe counter deltas, trapezoid integration of power gauges, a cumulative energy
 * curve read at arbitrary window edges (linear interpolation), the idle baseline and the per-inference figures.
 */
import { median } from '../latency-stats.js';
import type { EnergyReading } from './energy-source.js';

/** A point of a cumulative energy curve: joules consumed since the first reading. */
export interface EnergyPoint {
  tNs: bigint;
  joules: number;
}

/**
 * Wrap-safe delta of an energy counter (µJ) that wraps to 0 at `rangeUj` (RAPL `max_energy_range_uj`). Assumes at
 * most one wrap between the two reads, which the sampler guarantees by reading at least once a second.
 */
export function counterDeltaUj(previousUj: bigint, currentUj: bigint, rangeUj: bigint): bigint {
  if (currentUj >= previousUj) return currentUj - previousUj;
  if (rangeUj <= 0n) throw new RangeError(`energy counter went backwards (${previousUj} -> ${currentUj}) and has no wrap range`);
  return currentUj + rangeUj - previousUj;
}

/**
 * Cumulative energy curve of time-ordered readings of one source: trapezoid rule for power gauges, summed
 * wrap-safe deltas for counters. `rangesUj` gives each counter's wrap range (counters only).
 */
export function cumulativeEnergy(readings: readonly EnergyReading[], rangesUj: readonly bigint[] = []): EnergyPoint[] {
  const points: EnergyPoint[] = [];
  let joules = 0;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    if (i > 0) {
      const p = readings[i - 1]!;
      if (r.tNs < p.tNs) throw new RangeError('energy readings are not in time order');
      if (r.kind === 'power' && p.kind === 'power') {
        joules += ((r.watts + p.watts) / 2) * (Number(r.tNs - p.tNs) / 1e9);
      } else if (r.kind === 'energy' && p.kind === 'energy') {
        if (r.countersUj.length !== p.countersUj.length) throw new RangeError('energy readings have different counter sets');
        let deltaUj = 0n;
        for (let k = 0; k < r.countersUj.length; k++) deltaUj += counterDeltaUj(p.countersUj[k]!, r.countersUj[k]!, rangesUj[k] ?? 0n);
        joules += Number(deltaUj) / 1e6;
      } else {
        throw new RangeError('energy readings mix power gauges and energy counters');
      }
    }
    points.push({ tNs: r.tNs, joules });
  }
  return points;
}

/** The curve's value at time t, linearly interpolated; throws RangeError when t is outside the curve. */
export function energyAt(curve: readonly EnergyPoint[], tNs: bigint): number {
  if (curve.length === 0) throw new RangeError('empty energy curve');
  const first = curve[0]!;
  const last = curve[curve.length - 1]!;
  if (tNs < first.tNs || tNs > last.tNs) throw new RangeError(`time ${tNs} ns is outside the sampled span [${first.tNs}, ${last.tNs}]`);
  let lo = 0;
  let hi = curve.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (curve[mid]!.tNs <= tNs) lo = mid;
    else hi = mid;
  }
  const a = curve[lo]!;
  const b = curve[hi]!;
  if (b.tNs === a.tNs) return b.joules;
  return a.joules + (b.joules - a.joules) * (Number(tNs - a.tNs) / Number(b.tNs - a.tNs));
}

/** Energy (J) between two instants of a cumulative curve, edges interpolated. */
export function energyBetween(curve: readonly EnergyPoint[], startNs: bigint, endNs: bigint): number {
  if (endNs < startNs) throw new RangeError('energy window ends before it starts');
  return energyAt(curve, endNs) - energyAt(curve, startNs);
}

/** Average power (W) over each interval between consecutive curve points. */
export function intervalWatts(curve: readonly EnergyPoint[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < curve.length; i++) {
    const dt = Number(curve[i]!.tNs - curve[i - 1]!.tNs) / 1e9;
    if (dt > 0) out.push((curve[i]!.joules - curve[i - 1]!.joules) / dt);
  }
  return out;
}

/** Idle power: the median of gauge readings, or of interval powers for counters (notes §6.5: P_idle = median). */
export function baselineWatts(readings: readonly EnergyReading[], rangesUj: readonly bigint[] = []): number {
  if (readings.length === 0) throw new RangeError('no baseline readings');
  if (readings.every((r) => r.kind === 'power')) return median(readings.map((r) => (r as { watts: number }).watts));
  const intervals = intervalWatts(cumulativeEnergy(readings, rangesUj));
  if (intervals.length === 0) throw new RangeError('a counter baseline needs at least two readings');
  return median(intervals);
}

/** Energy figures of one measured window. */
export interface EnergySummary {
  totalJoules: number;
  idleJoules: number;
  dynamicJoules: number;
  avgWatts: number;
  idleWatts: number;
  durationMs: number;
  inferences: number;
  joulesPerInference: number;
  dynamicJoulesPerInference: number;
  /** Readings that fell inside the window. */
  nSamples: number;
  /** Achieved sampling rate over the whole sampled span. */
  sampleHz: number;
}

/** Summarise a window [startNs, endNs] in which `inferences` ran, against an idle power `idleWatts`. */
export function summarizeEnergy(
  readings: readonly EnergyReading[],
  window: { startNs: bigint; endNs: bigint; inferences: number },
  idleWatts: number,
  rangesUj: readonly bigint[] = [],
): EnergySummary {
  const curve = cumulativeEnergy(readings, rangesUj);
  const totalJoules = energyBetween(curve, window.startNs, window.endNs);
  const seconds = Number(window.endNs - window.startNs) / 1e9;
  const idleJoules = idleWatts * seconds;
  const dynamicJoules = totalJoules - idleJoules;
  const span = curve.length > 1 ? Number(curve[curve.length - 1]!.tNs - curve[0]!.tNs) / 1e9 : 0;
  const n = Math.max(window.inferences, 0);
  return {
    totalJoules,
    idleJoules,
    dynamicJoules,
    avgWatts: seconds > 0 ? totalJoules / seconds : 0,
    idleWatts,
    durationMs: seconds * 1000,
    inferences: n,
    joulesPerInference: n > 0 ? totalJoules / n : 0,
    dynamicJoulesPerInference: n > 0 ? dynamicJoules / n : 0,
    nSamples: readings.filter((r) => r.tNs >= window.startNs && r.tNs <= window.endNs).length,
    sampleHz: span > 0 ? (curve.length - 1) / span : 0,
  };
}
