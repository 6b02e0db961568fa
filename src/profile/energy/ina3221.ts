/**
 * Jetson INA3221 power monitors. JetPack 5/6: hwmon under the i2c device (`inN_label`, `inN_input` mV,
 * `currN_input` mA). JetPack 4: the `ina3221x` IIO driver (`rail_name_N`, `in_powerN_input` mW). The total is the
 * module-input rail (VDD_IN / POM_5V_IN) where the board has one, else the sum of the rails (AGX boards).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../../util/errors.js';
import { underSysroot, type EnergyProbe, type SourceContext } from './energy-source.js';

const I2C_DEVICES = '/sys/bus/i2c/devices';
const TOTAL_RAILS = ['VDD_IN', 'POM_5V_IN'];

/** One rail: how to read its power in watts. */
interface Rail {
  label: string;
  read: () => Promise<number>;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

function parseNumber(text: string, path: string): number {
  const v = Number(text.trim());
  if (!Number.isFinite(v)) throw new Error(`${path}: '${text.trim()}' is not a number`);
  return v;
}

/** True for an INA3221 channel label that is not a real rail ('NC' = not connected, channel 7 = sum of shunts). */
export function isIgnoredRailLabel(label: string): boolean {
  return /(^|[^A-Z])NC([^A-Z]|$)/.test(label) || /sum/i.test(label);
}

async function hwmonRails(ctx: SourceContext, dir: string): Promise<{ rails: Rail[]; updateMs: number | null }> {
  const rails: Rail[] = [];
  const files = await listDir(dir);
  let updateMs: number | null = null;
  if (files.includes('update_interval')) {
    try {
      updateMs = parseNumber(await ctx.readText(join(dir, 'update_interval')), 'update_interval');
    } catch {
      updateMs = null;
    }
  }
  for (const f of files) {
    const m = /^in(\d+)_label$/.exec(f);
    if (!m) continue;
    const n = m[1]!;
    if (!files.includes(`in${n}_input`) || !files.includes(`curr${n}_input`)) continue;
    const label = await ctx.readText(join(dir, f));
    if (isIgnoredRailLabel(label)) continue;
    const vPath = join(dir, `in${n}_input`);
    const iPath = join(dir, `curr${n}_input`);
    rails.push({
      label,
      // P(mW) = mV · mA / 1000 → W = mV · mA / 1e6
      read: async () => (parseNumber(await ctx.readText(vPath), vPath) * parseNumber(await ctx.readText(iPath), iPath)) / 1e6,
    });
  }
  return { rails, updateMs };
}

async function iioRails(ctx: SourceContext, dir: string): Promise<Rail[]> {
  const rails: Rail[] = [];
  const files = await listDir(dir);
  for (const f of files) {
    const m = /^rail_name_(\d+)$/.exec(f);
    if (!m) continue;
    const n = m[1]!;
    const label = await ctx.readText(join(dir, f));
    if (isIgnoredRailLabel(label)) continue;
    const pPath = join(dir, `in_power${n}_input`);
    const vPath = join(dir, `in_voltage${n}_input`);
    const iPath = join(dir, `in_current${n}_input`);
    if (files.includes(`in_power${n}_input`)) {
      rails.push({ label, read: async () => parseNumber(await ctx.readText(pPath), pPath) / 1000 });
    } else if (files.includes(`in_voltage${n}_input`) && files.includes(`in_current${n}_input`)) {
      rails.push({
        label,
        read: async () => (parseNumber(await ctx.readText(vPath), vPath) * parseNumber(await ctx.readText(iPath), iPath)) / 1e6,
      });
    }
  }
  return rails;
}

/** Probe the Jetson INA3221 monitors (JetPack 5/6 hwmon first, then the JetPack 4 IIO driver). */
export async function probeIna3221(ctx: SourceContext): Promise<EnergyProbe> {
  const base = underSysroot(ctx, I2C_DEVICES);
  const rails: Rail[] = [];
  const detail: string[] = [];
  let updateMs = 0;
  let jetpack4 = false;
  for (const dev of await listDir(base)) {
    let name: string;
    try {
      name = await ctx.readText(join(base, dev, 'name'));
    } catch {
      continue;
    }
    if (name === 'ina3221') {
      for (const h of (await listDir(join(base, dev, 'hwmon'))).filter((d) => d.startsWith('hwmon'))) {
        const found = await hwmonRails(ctx, join(base, dev, 'hwmon', h));
        rails.push(...found.rails);
        if (found.updateMs) updateMs = Math.max(updateMs, found.updateMs);
        detail.push(`${I2C_DEVICES}/${dev}/hwmon/${h}: ${found.rails.map((r) => r.label).join(', ')}`);
      }
    } else if (name === 'ina3221x') {
      jetpack4 = true;
      for (const d of (await listDir(join(base, dev))).filter((x) => x.startsWith('iio:device'))) {
        const found = await iioRails(ctx, join(base, dev, d));
        rails.push(...found);
        detail.push(`${I2C_DEVICES}/${dev}/${d}: ${found.map((r) => r.label).join(', ')}`);
      }
    }
  }
  if (rails.length === 0) return { ok: false, id: 'ina3221', reason: `no INA3221 rail under ${I2C_DEVICES} (not a Jetson, or the driver is not loaded)` };
  const total = rails.find((r) => TOTAL_RAILS.includes(r.label));
  try {
    for (const r of rails) await r.read();
  } catch (error) {
    return { ok: false, id: 'ina3221', reason: `INA3221 rail unreadable: ${messageOf(error)}` };
  }
  return {
    ok: true,
    source: {
      id: 'ina3221',
      method: 'measured',
      scope: total ? `module input (${total.label}; excludes the carrier board)` : 'sum of INA3221 rails (no module-input rail on this board)',
      // Never faster than the sensor updates (kernel ina3221.rst); 5–20 Hz otherwise.
      samplePeriodMs: Math.max(100, updateMs),
      detail: [...detail, jetpack4 ? 'driver: ina3221x (JetPack 4 IIO)' : 'driver: ina3221 (hwmon, JetPack 5/6)'],
      async read() {
        const values = await Promise.all(rails.map(async (r) => [r.label, await r.read()] as const));
        const railWatts = Object.fromEntries(values);
        const watts = total ? railWatts[total.label]! : values.reduce((s, [, w]) => s + w, 0);
        return { kind: 'power', tNs: ctx.clock(), watts, rails: railWatts };
      },
    },
  };
}
