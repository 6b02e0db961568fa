/**
 * Generic hwmon power/energy: `/sys/class/hwmon/hwmon*` devices with `energy*_input` counters (µJ) or
 * `power*_input` / `power*_average` gauges (µW). One device is used (the first with energy counters, else the first
 * with power gauges, by hwmon index); its channels are summed. INA3221 devices are left to their own source.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../../util/errors.js';
import { underSysroot, type EnergyProbe, type SourceContext } from './energy-source.js';

const HWMON = '/sys/class/hwmon';
/** A rail reading above this is a driver scaling bug, not power (notes §5.5: reject above any PSU rating). */
const MAX_PLAUSIBLE_WATTS = 2000;

interface Candidate {
  hwmon: string;
  name: string;
  kind: 'energy' | 'power';
  files: string[];
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

function hwmonIndex(name: string): number {
  return Number(/\d+$/.exec(name)?.[0] ?? 0);
}

/** Probe generic hwmon power/energy channels. */
export async function probeHwmonPower(ctx: SourceContext): Promise<EnergyProbe> {
  const base = underSysroot(ctx, HWMON);
  const devices = (await listDir(base)).filter((d) => d.startsWith('hwmon')).sort((a, b) => hwmonIndex(a) - hwmonIndex(b));
  const candidates: Candidate[] = [];
  for (const h of devices) {
    const dir = join(base, h);
    let name = '';
    try {
      name = await ctx.readText(join(dir, 'name'));
    } catch {
      name = h;
    }
    if (name === 'ina3221') continue;
    const files = await listDir(dir);
    const energy = files.filter((f) => /^energy\d+_input$/.test(f)).sort();
    const power = files.filter((f) => /^power\d+_input$/.test(f)).sort();
    const average = files.filter((f) => /^power\d+_average$/.test(f)).sort();
    if (energy.length) candidates.push({ hwmon: h, name, kind: 'energy', files: energy });
    else if (power.length || average.length) {
      // Per channel: the instantaneous input where present, else the average.
      const byChannel = new Map<string, string>();
      for (const f of [...average, ...power]) byChannel.set(/^power(\d+)_/.exec(f)![1]!, f);
      candidates.push({ hwmon: h, name, kind: 'power', files: [...byChannel.values()].sort() });
    }
  }
  const chosen = candidates.find((c) => c.kind === 'energy') ?? candidates[0];
  if (!chosen) return { ok: false, id: 'hwmon', reason: `no hwmon device under ${HWMON} exposes power*_input, power*_average or energy*_input` };
  const dir = join(base, chosen.hwmon);
  const paths = chosen.files.map((f) => join(dir, f));
  const readAll = async (): Promise<string[]> => Promise.all(paths.map((p) => ctx.readText(p)));
  let firstValues: string[];
  try {
    firstValues = await readAll();
  } catch (error) {
    return { ok: false, id: 'hwmon', reason: `${HWMON}/${chosen.hwmon} (${chosen.name}) unreadable: ${messageOf(error)}` };
  }
  const others = candidates.filter((c) => c !== chosen).map((c) => `${c.hwmon} (${c.name})`);
  const detail = [`${HWMON}/${chosen.hwmon} (${chosen.name}): ${chosen.files.join(', ')}`];
  if (others.length) detail.push(`not used: ${others.join(', ')}`);
  if (chosen.kind === 'energy') {
    for (const [i, v] of firstValues.entries()) if (!/^\d+$/.test(v)) return { ok: false, id: 'hwmon', reason: `${paths[i]}: '${v}' is not an energy counter` };
    return {
      ok: true,
      source: {
        id: 'hwmon',
        method: 'measured',
        scope: `hwmon ${chosen.name}`,
        samplePeriodMs: 200,
        // hwmon energy counters are 64-bit and do not wrap in practice; a backwards step is an error.
        counterRangesUj: chosen.files.map(() => 0n),
        detail,
        async read() {
          const values = await readAll();
          return { kind: 'energy', tNs: ctx.clock(), countersUj: values.map((v) => BigInt(v)) };
        },
      },
    };
  }
  const toWatts = (values: string[]): { watts: number; rails: Record<string, number> } => {
    const rails: Record<string, number> = {};
    let watts = 0;
    values.forEach((v, i) => {
      const w = Number(v) / 1e6;
      if (!Number.isFinite(w) || w < 0 || w > MAX_PLAUSIBLE_WATTS) throw new Error(`${paths[i]}: ${v} µW is not a plausible power reading`);
      rails[chosen.files[i]!] = w;
      watts += w;
    });
    return { watts, rails };
  };
  try {
    toWatts(firstValues);
  } catch (error) {
    return { ok: false, id: 'hwmon', reason: messageOf(error) };
  }
  return {
    ok: true,
    source: {
      id: 'hwmon',
      method: 'measured',
      scope: `hwmon ${chosen.name}`,
      samplePeriodMs: 100,
      detail,
      async read() {
        const p = toWatts(await readAll());
        return { kind: 'power', tNs: ctx.clock(), watts: p.watts, rails: p.rails };
      },
    },
  };
}
