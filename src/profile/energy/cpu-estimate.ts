/**
 * The no-sensor fallback: power estimated from system CPU utilisation (`/proc/stat`) and the device profile's idle
 * and maximum watts, P = P_idle + (P_max − P_idle)·u (notes §5.6). Always labelled `estimated`; ±30–50 %.
 */
import { underSysroot, type EnergyProbe, type SourceContext } from './energy-source.js';

/** The figures the estimate needs, usually from the matched device profile. */
export interface PowerModel {
  idleWatts: number;
  maxWatts: number;
  /** Where the figures come from, e.g. 'device-profiles/raspberry-pi-4.json'. */
  source: string;
}

/** Cumulative CPU ticks from the aggregate `cpu` line of /proc/stat. */
export interface CpuTicks {
  busy: number;
  total: number;
}

/**
 * Parse the aggregate `cpu` line of /proc/stat. busy = total − idle − iowait; guest time is already inside user,
 * so guest and guest_nice are not added again.
 */
export function parseProcStat(text: string): CpuTicks {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error("/proc/stat has no aggregate 'cpu' line");
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) throw new Error(`/proc/stat cpu line is malformed: '${line}'`);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** Busy fraction between two /proc/stat readings (null when no tick elapsed). */
export function utilisationBetween(a: CpuTicks, b: CpuTicks): number | null {
  const dt = b.total - a.total;
  if (dt <= 0) return null;
  return Math.min(1, Math.max(0, (b.busy - a.busy) / dt));
}

/** Linear utilisation model. */
export function estimatedWatts(model: PowerModel, utilisation: number): number {
  return model.idleWatts + (model.maxWatts - model.idleWatts) * utilisation;
}

/** Reject a power model that cannot be right (negative, max below idle, not finite). */
export function validatePowerModel(model: PowerModel): void {
  if (!Number.isFinite(model.idleWatts) || !Number.isFinite(model.maxWatts) || model.idleWatts < 0 || model.maxWatts < model.idleWatts) {
    throw new RangeError(`power model from ${model.source} is invalid: idleWatts ${model.idleWatts}, maxWatts ${model.maxWatts}`);
  }
}

/**
 * Open the estimate source. It reports a cumulative estimated-energy counter (µJ): each read integrates the model
 * power over the interval since the previous read, using that interval's utilisation.
 */
export async function probeCpuEstimate(ctx: SourceContext, model: PowerModel): Promise<EnergyProbe> {
  validatePowerModel(model);
  const statPath = underSysroot(ctx, '/proc/stat');
  let previous: { ticks: CpuTicks; tNs: bigint } | null = null;
  let lastUtil = 0;
  let joules = 0;
  try {
    parseProcStat(await ctx.readText(statPath));
  } catch (error) {
    return { ok: false, id: 'estimate', reason: `cannot read CPU utilisation: ${(error as Error).message}` };
  }
  return {
    ok: true,
    source: {
      id: 'estimate',
      method: 'estimated',
      // "power-model idle": the profile's figure at 0 % CPU, not the idle baseline measured before the runs.
      scope: `whole device, linear CPU-utilisation model (power-model idle ${model.idleWatts} W, max ${model.maxWatts} W from ${model.source}; ±30-50%)`,
      // /proc/stat counts USER_HZ (100 Hz) ticks: shorter periods only add quantisation noise.
      samplePeriodMs: 200,
      counterRangesUj: [0n],
      detail: ['/proc/stat aggregate cpu busy fraction', `P = ${model.idleWatts} + (${model.maxWatts} - ${model.idleWatts}) * u`],
      async read() {
        const ticks = parseProcStat(await ctx.readText(statPath));
        const tNs = ctx.clock();
        if (previous) {
          const u = utilisationBetween(previous.ticks, ticks) ?? lastUtil;
          lastUtil = u;
          joules += estimatedWatts(model, u) * (Number(tNs - previous.tNs) / 1e9);
        }
        previous = { ticks, tNs };
        return { kind: 'energy', tNs, countersUj: [BigInt(Math.round(joules * 1e6))] };
      },
    },
  };
}
