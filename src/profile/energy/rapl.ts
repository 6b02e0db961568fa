/**
 * Intel/AMD RAPL through powercap: `/sys/class/powercap/intel-rapl:N/energy_uj` package counters (µJ), wrapping at
 * `max_energy_range_uj`. Root-only since Linux 5.10 (CVE-2020-8694); an unreadable counter is reported with the reason.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../../util/errors.js';
import { underSysroot, type EnergyProbe, type SourceContext } from './energy-source.js';

const POWERCAP = '/sys/class/powercap';

interface RaplZone {
  dir: string;
  name: string;
  rangeUj: bigint;
}

/** Parse a decimal µJ counter; throws on anything that is not a non-negative integer. */
export function parseMicrojoules(text: string, path: string): bigint {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new Error(`${path}: '${t}' is not an energy counter`);
  return BigInt(t);
}

function isPermissionError(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * Probe RAPL: the top-level `package-N` zones (their `core`/`uncore` sub-zones are inside the package and are
 * never added; `dram` sub-zones are outside it and are not included either, so the scope is exactly 'package').
 */
export async function probeRapl(ctx: SourceContext): Promise<EnergyProbe> {
  const base = underSysroot(ctx, POWERCAP);
  let entries: string[];
  try {
    entries = await readdir(base);
  } catch {
    return { ok: false, id: 'rapl', reason: `${POWERCAP} does not exist (no RAPL on this CPU or kernel, or not exposed in this VM/container)` };
  }
  const zones: RaplZone[] = [];
  for (const entry of entries.filter((e) => /^intel-rapl:\d+$/.test(e)).sort()) {
    const dir = join(base, entry);
    let name: string;
    try {
      name = await ctx.readText(join(dir, 'name'));
    } catch {
      continue;
    }
    if (!name.startsWith('package')) continue;
    let rangeUj: bigint;
    try {
      rangeUj = parseMicrojoules(await ctx.readText(join(dir, 'max_energy_range_uj')), `${POWERCAP}/${entry}/max_energy_range_uj`);
    } catch (error) {
      if (isPermissionError(error)) return unreadable(entry);
      return { ok: false, id: 'rapl', reason: `${POWERCAP}/${entry}/max_energy_range_uj: ${messageOf(error)}` };
    }
    zones.push({ dir, name, rangeUj });
  }
  if (zones.length === 0) return { ok: false, id: 'rapl', reason: `${POWERCAP} has no intel-rapl package zone` };
  for (const z of zones) {
    try {
      parseMicrojoules(await ctx.readText(join(z.dir, 'energy_uj')), `${z.dir}/energy_uj`);
    } catch (error) {
      if (isPermissionError(error)) return unreadable(z.dir.slice(base.length + 1));
      return { ok: false, id: 'rapl', reason: `${POWERCAP}/${z.dir.slice(base.length + 1)}/energy_uj: ${messageOf(error)}` };
    }
  }
  return {
    ok: true,
    source: {
      id: 'rapl',
      method: 'measured',
      scope: 'package',
      samplePeriodMs: 200,
      counterRangesUj: zones.map((z) => z.rangeUj),
      detail: zones.map((z) => `${POWERCAP}/${z.dir.slice(base.length + 1)} (${z.name})`),
      async read() {
        const countersUj = await Promise.all(zones.map(async (z) => parseMicrojoules(await ctx.readText(join(z.dir, 'energy_uj')), `${z.dir}/energy_uj`)));
        return { kind: 'energy', tNs: ctx.clock(), countersUj };
      },
    },
  };
}

function unreadable(zone: string): EnergyProbe {
  return {
    ok: false,
    id: 'rapl',
    reason:
      `${POWERCAP}/${zone}/energy_uj is not readable: RAPL energy counters are root-only since Linux 5.10 (CVE-2020-8694); ` +
      'run as root, or grant read access to energy_uj (udev/systemd-tmpfiles chmod, or CAP_DAC_READ_SEARCH)',
  };
}
