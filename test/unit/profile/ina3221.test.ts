import { describe, expect, it } from 'vitest';
import { isIgnoredRailLabel, probeIna3221 } from '../../../src/profile/energy/ina3221.js';
import { fixture, makeCtx } from './energy-test-helpers.js';

describe('Jetson INA3221', () => {
  it('JetPack 5/6 hwmon: VDD_IN is the total, P = mV · mA, the channel-7 sum is skipped', async () => {
    const p = await probeIna3221(makeCtx(fixture('jetson-orin-nano-jp5')));
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.source.method).toBe('measured');
    expect(p.source.scope).toMatch(/^module input \(VDD_IN/);
    // update_interval 8 ms: the sampler still never goes faster than 100 ms
    expect(p.source.samplePeriodMs).toBe(100);
    const r = await p.source.read();
    if (r.kind !== 'power') throw new Error('expected a gauge');
    expect(Object.keys(r.rails).sort()).toEqual(['VDD_CPU_GPU_CV', 'VDD_IN', 'VDD_SOC']);
    expect(r.rails.VDD_IN).toBeCloseTo(5.080 * 1.256, 9);
    expect(r.rails.VDD_CPU_GPU_CV).toBeCloseTo(5.072 * 0.424, 9);
    expect(r.watts).toBeCloseTo(5.080 * 1.256, 9);
  });

  it('AGX Orin (two monitors, NC channels, no VDD_IN): the total is the sum of the connected rails', async () => {
    const p = await probeIna3221(makeCtx(fixture('jetson-agx-orin-jp5')));
    if (!p.ok) throw new Error(p.reason);
    expect(p.source.scope).toMatch(/^sum of INA3221 rails/);
    const r = await p.source.read();
    if (r.kind !== 'power') throw new Error('expected a gauge');
    expect(Object.keys(r.rails).sort()).toEqual(['VDDQ_VDD2_1V8AO', 'VDD_CPU_CV', 'VDD_GPU_SOC', 'VIN_SYS_5V0']);
    expect(r.watts).toBeCloseTo(5 * (1.6 + 0.8 + 1.0 + 0.2), 9);
  });

  it('JetPack 4 ina3221x IIO: in_powerN_input (mW), POM_5V_IN as the total', async () => {
    const p = await probeIna3221(makeCtx(fixture('jetson-nano-jp4')));
    if (!p.ok) throw new Error(p.reason);
    expect(p.source.detail.join(' ')).toMatch(/JetPack 4/);
    const r = await p.source.read();
    if (r.kind !== 'power') throw new Error('expected a gauge');
    expect(r.rails).toEqual({ POM_5V_IN: 2.48, POM_5V_GPU: 0.039, POM_5V_CPU: 0.398 });
    expect(r.watts).toBeCloseTo(2.48, 12);
  });

  it('is unavailable with a reason on a machine without the monitor', async () => {
    const p = await probeIna3221(makeCtx(fixture('x86-rapl')));
    expect(p).toMatchObject({ ok: false, id: 'ina3221' });
    if (!p.ok) expect(p.reason).toMatch(/no INA3221 rail/);
  });

  it('skips NC and sum labels, keeps real rails whose names contain the letters N and C', () => {
    expect(isIgnoredRailLabel('NC')).toBe(true);
    expect(isIgnoredRailLabel('sum of shunt voltages')).toBe(true);
    expect(isIgnoredRailLabel('VDD_CPU_GPU_CV')).toBe(false);
    expect(isIgnoredRailLabel('VIN_SYS_5V0')).toBe(false);
  });
});
