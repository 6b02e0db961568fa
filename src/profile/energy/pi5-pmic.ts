/**
 * Raspberry Pi 5 PMIC ADC through `vcgencmd pmic_read_adc`: per-rail current and voltage, P = Σ V·I. The PMIC rails
 * exclude 5 V loads fed directly (USB, fan, HATs) and PMIC losses: the figure is a lower bound on board power.
 */
import type { EnergyProbe, SourceContext } from './energy-source.js';

/** Per-rail readings parsed from pmic_read_adc. */
export interface PmicRail {
  rail: string;
  amps: number | null;
  volts: number | null;
}

const LINE = /^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=([0-9.]+)[AV]\s*$/;

/** Parse `vcgencmd pmic_read_adc` text into rails (lines that do not match are ignored). */
export function parsePmicReadAdc(text: string): PmicRail[] {
  const rails = new Map<string, PmicRail>();
  for (const line of text.split(/\r?\n/)) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, rail, unit, value] = m;
    const entry = rails.get(rail!) ?? { rail: rail!, amps: null, volts: null };
    if (unit === 'A') entry.amps = Number(value);
    else entry.volts = Number(value);
    rails.set(rail!, entry);
  }
  return [...rails.values()];
}

/** Watts per rail where both current and voltage exist (EXT5V and BATT are voltage-only), and their sum. */
export function pmicPower(rails: readonly PmicRail[]): { watts: number; rails: Record<string, number> } {
  const out: Record<string, number> = {};
  let watts = 0;
  for (const r of rails) {
    if (r.amps === null || r.volts === null) continue;
    const w = r.amps * r.volts;
    out[r.rail] = w;
    watts += w;
  }
  return { watts, rails: out };
}

/** Probe the Pi 5 PMIC: Pi 5 / Pi 500 / CM5 only (older boards answer "Command not registered"). */
export async function probePi5Pmic(ctx: SourceContext): Promise<EnergyProbe> {
  const first = await ctx.run('vcgencmd', ['pmic_read_adc'], 2000);
  if (first.exitCode === null && /ENOENT/.test(first.error ?? '')) return { ok: false, id: 'pi5-pmic', reason: 'vcgencmd is not installed (not a Raspberry Pi)' };
  const rails = parsePmicReadAdc(first.stdout);
  const power = pmicPower(rails);
  if (first.exitCode !== 0 || Object.keys(power.rails).length === 0) {
    const said = `${first.stdout} ${first.stderr} ${first.error ?? ''}`.replace(/\s+/g, ' ').trim();
    const why = /not registered/i.test(said)
      ? 'this board has no PMIC ADC (pmic_read_adc exists on Pi 5, Pi 500 and CM5 only)'
      : /vcio|permission|denied/i.test(said)
        ? 'vcgencmd cannot open /dev/vcio (add the user to the video group)'
        : `vcgencmd pmic_read_adc gave no rail readings (${said.slice(0, 160) || `exit ${first.exitCode}`})`;
    return { ok: false, id: 'pi5-pmic', reason: why };
  }
  return {
    ok: true,
    source: {
      id: 'pi5-pmic',
      method: 'measured',
      scope: 'soc+dram+io rails (lower bound)',
      // 2–10 Hz: one process per sample, ~0.1 s each on the Pi.
      samplePeriodMs: 250,
      detail: [`vcgencmd pmic_read_adc rails: ${Object.keys(power.rails).join(', ')}`],
      async read() {
        const t0 = ctx.clock();
        const res = await ctx.run('vcgencmd', ['pmic_read_adc'], 2000);
        // The ADC was read somewhere inside the command's run: take the midpoint.
        const tNs = (t0 + ctx.clock()) / 2n;
        const p = pmicPower(parsePmicReadAdc(res.stdout));
        if (res.exitCode !== 0 || Object.keys(p.rails).length === 0) throw new Error(`vcgencmd pmic_read_adc failed: ${res.error ?? res.stderr}`);
        return { kind: 'power', tNs, watts: p.watts, rails: p.rails };
      },
    },
  };
}
