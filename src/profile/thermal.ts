/**
 * Thermal state and throttling around a profile: thermal zones vs their passive trips, cpufreq current vs maximum,
 * Raspberry Pi `get_throttled` bits, Intel thermal_throttle counters, Jetson soctherm over-current events and
 * GPU devfreq. Everything is read under a sysroot with an injected command runner (notes §7).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { underSysroot, type SourceContext } from './energy/energy-source.js';

/** One thermal zone reading. */
export interface ZoneReading {
  zone: string;
  type: string;
  tempC: number;
  /** The lowest `passive` trip point (throttling starts there), if the zone has one. */
  passiveTripC: number | null;
}

/** CPU frequency across cores. */
export interface CpuFreqReading {
  /** Mean of scaling_cur_freq over cores (a hint: the last requested P-state on some drivers). */
  curKHz: number;
  /** Highest cpuinfo_max_freq (hardware maximum). */
  maxKHz: number;
  /** Highest scaling_max_freq (policy cap: nvpmodel, cooling, user). */
  scalingMaxKHz: number;
  cpus: number;
}

/** Everything read at one instant. */
export interface ThermalSnapshot {
  zones: ZoneReading[];
  cpuFreq: CpuFreqReading | null;
  /** Raspberry Pi get_throttled mask, or null when not a Pi. */
  piThrottledBits: number | null;
  /** Pi `rpi_volt` hwmon under-voltage alarm (current state), or null. */
  piUnderVoltageAlarm: boolean | null;
  /** Sum of Intel core/package thermal_throttle counts, or null. */
  intelThrottleCount: number | null;
  /** Sum of Jetson soctherm_oc `oc*_event_cnt`, or null. */
  jetsonOcEvents: number | null;
  /** Jetson GPU devfreq, or null. */
  gpuFreq: { curHz: number; maxHz: number } | null;
}

/** Decoded Raspberry Pi `get_throttled` flags. */
export interface PiThrottleFlags {
  underVoltage: boolean;
  armFrequencyCapped: boolean;
  throttled: boolean;
  softTemperatureLimit: boolean;
  underVoltageOccurred: boolean;
  armFrequencyCappingOccurred: boolean;
  throttlingOccurred: boolean;
  softTemperatureLimitOccurred: boolean;
}

const PI_BITS: Array<[keyof PiThrottleFlags, number, string]> = [
  ['underVoltage', 0x1, 'under-voltage now'],
  ['armFrequencyCapped', 0x2, 'Arm frequency capped now'],
  ['throttled', 0x4, 'throttled now'],
  ['softTemperatureLimit', 0x8, 'soft temperature limit active'],
  ['underVoltageOccurred', 0x10000, 'under-voltage has occurred'],
  ['armFrequencyCappingOccurred', 0x20000, 'Arm frequency capping has occurred'],
  ['throttlingOccurred', 0x40000, 'throttling has occurred'],
  ['softTemperatureLimitOccurred', 0x80000, 'soft temperature limit has occurred'],
];

/** Bits 0–3: conditions active now. */
export const PI_NOW_MASK = 0xf;
/** Bits 16–19: sticky since boot. */
export const PI_STICKY_MASK = 0xf0000;

/** Decode a Raspberry Pi `get_throttled` mask (vcgencmd / firmware; notes §7.2). */
export function decodeThrottled(bits: number): PiThrottleFlags {
  const out = {} as PiThrottleFlags;
  for (const [key, mask] of PI_BITS) out[key] = (bits & mask) !== 0;
  return out;
}

/** Human descriptions of the set bits. */
export function describeThrottled(bits: number): string[] {
  return PI_BITS.filter(([, mask]) => (bits & mask) !== 0).map(([, , text]) => text);
}

/** Parse `throttled=0x50005` (vcgencmd) or `50005` (sysfs, hex without 0x); null when unparseable. */
export function parseThrottled(text: string): number | null {
  const m = /(?:throttled=)?(?:0x)?([0-9a-fA-F]+)\s*$/.exec(text.trim());
  return m ? parseInt(m[1]!, 16) : null;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

async function readNumber(ctx: SourceContext, path: string): Promise<number | null> {
  try {
    const v = Number(await ctx.readText(path));
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** Zones whose reading is known to be fake (Jetson Nano PMIC-Die reports a constant 100 °C). */
const FAKE_ZONES = new Set(['PMIC-Die']);

async function readZones(ctx: SourceContext): Promise<ZoneReading[]> {
  const base = underSysroot(ctx, '/sys/class/thermal');
  const zones: ZoneReading[] = [];
  for (const z of (await listDir(base)).filter((d) => /^thermal_zone\d+$/.test(d)).sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)))) {
    const dir = join(base, z);
    let type = z;
    try {
      type = await ctx.readText(join(dir, 'type'));
    } catch {
      // keep the directory name
    }
    if (FAKE_ZONES.has(type)) continue;
    const milli = await readNumber(ctx, join(dir, 'temp'));
    if (milli === null) continue;
    let passive: number | null = null;
    for (const f of await listDir(dir)) {
      const m = /^trip_point_(\d+)_type$/.exec(f);
      if (!m) continue;
      let tripType = '';
      try {
        tripType = await ctx.readText(join(dir, f));
      } catch {
        continue;
      }
      if (tripType !== 'passive') continue;
      const t = await readNumber(ctx, join(dir, `trip_point_${m[1]}_temp`));
      if (t !== null && t > 0 && (passive === null || t / 1000 < passive)) passive = t / 1000;
    }
    zones.push({ zone: z, type, tempC: milli / 1000, passiveTripC: passive });
  }
  return zones;
}

async function readCpuFreq(ctx: SourceContext): Promise<CpuFreqReading | null> {
  const base = underSysroot(ctx, '/sys/devices/system/cpu');
  let sumCur = 0;
  let n = 0;
  let max = 0;
  let scalingMax = 0;
  for (const c of (await listDir(base)).filter((d) => /^cpu\d+$/.test(d))) {
    const dir = join(base, c, 'cpufreq');
    const cur = await readNumber(ctx, join(dir, 'scaling_cur_freq'));
    if (cur === null) continue;
    sumCur += cur;
    n++;
    max = Math.max(max, (await readNumber(ctx, join(dir, 'cpuinfo_max_freq'))) ?? 0);
    scalingMax = Math.max(scalingMax, (await readNumber(ctx, join(dir, 'scaling_max_freq'))) ?? 0);
  }
  if (n === 0) return null;
  return { curKHz: sumCur / n, maxKHz: max, scalingMaxKHz: scalingMax, cpus: n };
}

async function findGetThrottledFile(ctx: SourceContext): Promise<string | null> {
  // Pi ≤ 4: soc/soc:firmware/get_throttled; Pi 5: soc@107c000000/soc@107c000000:firmware/get_throttled.
  const base = underSysroot(ctx, '/sys/devices/platform');
  for (const a of await listDir(base)) {
    if (!a.startsWith('soc')) continue;
    for (const b of await listDir(join(base, a))) {
      if (!b.endsWith(':firmware')) continue;
      const p = join(base, a, b, 'get_throttled');
      if ((await listDir(join(base, a, b))).includes('get_throttled')) return p;
    }
  }
  return null;
}

async function readPiThrottled(ctx: SourceContext): Promise<number | null> {
  const res = await ctx.run('vcgencmd', ['get_throttled'], 2000);
  if (res.exitCode === 0) {
    const bits = parseThrottled(res.stdout);
    if (bits !== null && /throttled=/.test(res.stdout)) return bits;
  }
  const file = await findGetThrottledFile(ctx);
  if (!file) return null;
  try {
    return parseThrottled(await ctx.readText(file));
  } catch {
    return null;
  }
}

async function readHwmonByName(ctx: SourceContext): Promise<Map<string, string>> {
  const base = underSysroot(ctx, '/sys/class/hwmon');
  const out = new Map<string, string>();
  for (const h of await listDir(base)) {
    try {
      out.set(await ctx.readText(join(base, h, 'name')), join(base, h));
    } catch {
      // no name: skip
    }
  }
  return out;
}

async function readIntelThrottle(ctx: SourceContext): Promise<number | null> {
  const base = underSysroot(ctx, '/sys/devices/system/cpu');
  let total = 0;
  let found = false;
  for (const c of (await listDir(base)).filter((d) => /^cpu\d+$/.test(d))) {
    for (const f of ['core_throttle_count', 'package_throttle_count']) {
      const v = await readNumber(ctx, join(base, c, 'thermal_throttle', f));
      if (v !== null) {
        total += v;
        found = true;
      }
    }
  }
  return found ? total : null;
}

async function readJetsonOc(ctx: SourceContext, hwmon: Map<string, string>): Promise<number | null> {
  const dir = hwmon.get('soctherm_oc');
  if (!dir) return null;
  let total = 0;
  for (const f of (await listDir(dir)).filter((x) => /^oc\d+_event_cnt$/.test(x))) total += (await readNumber(ctx, join(dir, f))) ?? 0;
  return total;
}

const JETSON_GPU_NODES = new Set(['gv11b', 'gp10b', 'ga10b', 'gb10b', 'gpu']);

async function readJetsonGpuFreq(ctx: SourceContext): Promise<{ curHz: number; maxHz: number } | null> {
  const base = underSysroot(ctx, '/sys/class/devfreq');
  for (const d of await listDir(base)) {
    if (!/gpu|gv11b|ga10b|gp10b|gb10b/.test(d)) continue;
    let node = '';
    try {
      node = await ctx.readText(join(base, d, 'device', 'of_node', 'name'));
    } catch {
      node = d.split('.').pop() ?? '';
    }
    if (!JETSON_GPU_NODES.has(node)) continue;
    const cur = await readNumber(ctx, join(base, d, 'cur_freq'));
    const max = await readNumber(ctx, join(base, d, 'max_freq'));
    if (cur !== null && max !== null) return { curHz: cur, maxHz: max };
  }
  return null;
}

/** Read zones, cpufreq and (when `full`) the throttle signals that cost a command or a directory walk. */
export async function readThermalSnapshot(ctx: SourceContext, full = true): Promise<ThermalSnapshot> {
  const [zones, cpuFreq] = await Promise.all([readZones(ctx), readCpuFreq(ctx)]);
  if (!full) return { zones, cpuFreq, piThrottledBits: null, piUnderVoltageAlarm: null, intelThrottleCount: null, jetsonOcEvents: null, gpuFreq: null };
  const hwmon = await readHwmonByName(ctx);
  const rpiVolt = hwmon.get('rpi_volt');
  const alarm = rpiVolt ? await readNumber(ctx, join(rpiVolt, 'in0_lcrit_alarm')) : null;
  return {
    zones,
    cpuFreq,
    piThrottledBits: await readPiThrottled(ctx),
    piUnderVoltageAlarm: alarm === null ? null : alarm !== 0,
    intelThrottleCount: await readIntelThrottle(ctx),
    jetsonOcEvents: await readJetsonOc(ctx, hwmon),
    gpuFreq: await readJetsonGpuFreq(ctx),
  };
}

/** The hottest zone of a snapshot (null when the machine exposes none). */
export function hottestZone(s: ThermalSnapshot): ZoneReading | null {
  let best: ZoneReading | null = null;
  for (const z of s.zones) if (!best || z.tempC > best.tempC) best = z;
  return best;
}

/** The thermal part of a profile report. */
export interface ThermalAssessment {
  startC: number | null;
  endC: number | null;
  /** Highest temperature seen in any snapshot (start, during, end). */
  maxC: number | null;
  /** Zone type of the hottest zone at the end. */
  zone: string | null;
  throttled: boolean;
  reasons: string[];
  /** Lowest mean cur/max frequency ratio seen while the model ran (a hint; null without cpufreq). */
  minFreqRatio: number | null;
  /** scaling_max_freq below cpuinfo_max_freq: a policy cap (nvpmodel, cooling, user), not necessarily heat. */
  frequencyCapped: boolean;
  piThrottled: { start: number | null; end: number | null; decoded: string[] } | null;
  gpuFreq: { curHz: number; maxHz: number } | null;
}

/** Compare start and end snapshots (and any taken during the run) and decide whether the profile was throttled. */
export function assessThermal(start: ThermalSnapshot, end: ThermalSnapshot, during: readonly ThermalSnapshot[] = []): ThermalAssessment {
  const reasons: string[] = [];
  const all = [start, ...during, end];
  for (const s of all) {
    for (const z of s.zones) {
      if (z.passiveTripC !== null && z.tempC >= z.passiveTripC) {
        const msg = `${z.type} at ${z.tempC.toFixed(1)} °C reached its passive trip ${z.passiveTripC.toFixed(1)} °C`;
        if (!reasons.includes(msg)) reasons.push(msg);
      }
    }
  }
  let piThrottled: ThermalAssessment['piThrottled'] = null;
  if (start.piThrottledBits !== null || end.piThrottledBits !== null) {
    const s = start.piThrottledBits ?? 0;
    const e = end.piThrottledBits ?? 0;
    const now = (s | e) & PI_NOW_MASK;
    const newlySticky = e & ~s & PI_STICKY_MASK;
    if (now) reasons.push(`Raspberry Pi firmware: ${describeThrottled(now).join(', ')}`);
    if (newlySticky) reasons.push(`Raspberry Pi firmware during the run: ${describeThrottled(newlySticky).join(', ')}`);
    piThrottled = { start: start.piThrottledBits, end: end.piThrottledBits, decoded: describeThrottled(e) };
  }
  if (start.piUnderVoltageAlarm || end.piUnderVoltageAlarm) reasons.push('Raspberry Pi under-voltage alarm (rpi_volt in0_lcrit_alarm)');
  if (start.intelThrottleCount !== null && end.intelThrottleCount !== null && end.intelThrottleCount > start.intelThrottleCount) {
    reasons.push(`Intel thermal_throttle count rose by ${end.intelThrottleCount - start.intelThrottleCount}`);
  }
  if (start.jetsonOcEvents !== null && end.jetsonOcEvents !== null && end.jetsonOcEvents > start.jetsonOcEvents) {
    reasons.push(`Jetson over-current/under-voltage events rose by ${end.jetsonOcEvents - start.jetsonOcEvents}`);
  }
  let minFreqRatio: number | null = null;
  for (const s of during) {
    if (s.cpuFreq && s.cpuFreq.maxKHz > 0) {
      const r = s.cpuFreq.curKHz / s.cpuFreq.maxKHz;
      if (minFreqRatio === null || r < minFreqRatio) minFreqRatio = r;
    }
  }
  const capped = all.some((s) => s.cpuFreq !== null && s.cpuFreq.scalingMaxKHz > 0 && s.cpuFreq.scalingMaxKHz < s.cpuFreq.maxKHz);
  const temps = all.map((s) => hottestZone(s)?.tempC).filter((t): t is number => t !== undefined);
  const endZone = hottestZone(end);
  return {
    startC: hottestZone(start)?.tempC ?? null,
    endC: endZone?.tempC ?? null,
    maxC: temps.length ? Math.max(...temps) : null,
    zone: endZone?.type ?? null,
    throttled: reasons.length > 0,
    reasons,
    minFreqRatio,
    frequencyCapped: capped,
    piThrottled,
    gpuFreq: end.gpuFreq,
  };
}

/** Outcome of a cool-down wait. */
export interface CooldownResult {
  targetC: number;
  reached: boolean;
  waitedMs: number;
  tempC: number | null;
}

/**
 * Wait until the hottest zone is at or below `targetC`, polling every `pollMs`, for at most `maxWaitMs`.
 * Returns at once (not reached, tempC null) on a machine with no thermal zone: there is nothing to wait on.
 */
export async function waitForCooldown(
  ctx: SourceContext,
  targetC: number,
  maxWaitMs: number,
  signal?: AbortSignal,
  pollMs = 2000,
): Promise<CooldownResult> {
  const t0 = ctx.clock();
  for (;;) {
    const z = hottestZone({ zones: await readZones(ctx) } as ThermalSnapshot);
    const waitedMs = Number(ctx.clock() - t0) / 1e6;
    if (!z) return { targetC, reached: false, waitedMs, tempC: null };
    if (z.tempC <= targetC) return { targetC, reached: true, waitedMs, tempC: z.tempC };
    if (waitedMs >= maxWaitMs || signal?.aborted) return { targetC, reached: false, waitedMs, tempC: z.tempC };
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.min(pollMs, Math.max(1, maxWaitMs - waitedMs)));
      signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }
}
