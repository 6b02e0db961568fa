/**
 * From a device profile's sourced figures to what the profiler takes: the power model of the estimate and the
 * peak throughput for the roofline. Pure; the shapes match src/hardware's `ProfileFigures` structurally.
 */
import type { PowerModel } from './energy/cpu-estimate.js';
import type { PeakFigure } from './profile-types.js';

/** A figure with its provenance (src/hardware `SourcedNumber`). */
export interface SourcedFigure {
  value: number | null;
  estimated: boolean;
  source: string;
}

/** The figures the profiler reads (a structural subset of src/hardware `ProfileFigures`). */
export interface DeviceFigures {
  idleWatts: SourcedFigure;
  maxWatts: SourcedFigure;
  peakFp32Gops: SourcedFigure;
  peakInt8Gops: SourcedFigure;
}

/** Share of maxWatts taken as idle when the profile has no idle figure (CodeCarbon's floor: P = TDP·(0.1 + …)). */
export const IDLE_FRACTION_WHEN_UNKNOWN = 0.1;

/**
 * The estimate's power model, or null when the profile has no maximum. A missing idle figure becomes 10 % of the
 * maximum, and the source says so.
 */
export function powerModelFromFigures(figures: Pick<DeviceFigures, 'idleWatts' | 'maxWatts'>, profileName: string): PowerModel | null {
  const max = figures.maxWatts.value;
  if (max === null || !(max > 0)) return null;
  const idle = figures.idleWatts.value;
  if (idle !== null && idle >= 0 && idle <= max) {
    return { idleWatts: idle, maxWatts: max, source: `device profile ${profileName}: idle ${figures.idleWatts.source}; max ${figures.maxWatts.source}` };
  }
  return {
    idleWatts: max * IDLE_FRACTION_WHEN_UNKNOWN,
    maxWatts: max,
    source: `device profile ${profileName}: max ${figures.maxWatts.source}; no idle figure, idle taken as ${IDLE_FRACTION_WHEN_UNKNOWN * 100}% of max`,
  };
}

/** Peak figures for the roofline, where the profile has them. */
export function peaksFromFigures(figures: Pick<DeviceFigures, 'peakFp32Gops' | 'peakInt8Gops'>, profileName: string): { fp32: PeakFigure | null; int8: PeakFigure | null } {
  const one = (f: SourcedFigure): PeakFigure | null =>
    f.value !== null && f.value > 0 ? { gopsPerSec: f.value, source: `device profile ${profileName}: ${f.source}`, estimated: f.estimated } : null;
  return { fp32: one(figures.peakFp32Gops), int8: one(figures.peakInt8Gops) };
}
