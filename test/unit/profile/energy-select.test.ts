import { describe, expect, it } from 'vitest';
import { EnergySampler, parseEnergyMode, selectEnergySource } from '../../../src/profile/energy/energy-sampler.js';
import type { EnergySource } from '../../../src/profile/energy/energy-source.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { fixture, fixtureText, makeCtx, tableRunner } from './energy-test-helpers.js';

const powerModel = { idleWatts: 3, maxWatts: 6, source: 'test' };

describe('selectEnergySource', () => {
  it('auto picks the best measured source of each board', async () => {
    expect((await selectEnergySource('auto', makeCtx(fixture('jetson-orin-nano-jp5')), powerModel)).source?.id).toBe('ina3221');
    expect((await selectEnergySource('auto', makeCtx(fixture('x86-rapl')), powerModel)).source?.id).toBe('rapl');
    const pi = await selectEnergySource('auto', makeCtx(fixture('pi5/sysroot'), { run: tableRunner({ 'vcgencmd pmic_read_adc': fixtureText('pi5/pmic_read_adc-idle.txt') }) }), powerModel);
    expect(pi.source?.id).toBe('pi5-pmic');
    expect(pi.unavailable.map((u) => u.id)).toEqual(['ina3221', 'rapl']);
  });

  it('auto falls back to the estimate, labelled estimated, and lists why each sensor was passed over', async () => {
    const sel = await selectEnergySource('auto', makeCtx(fixture('no-sensor')), powerModel);
    expect(sel.source?.id).toBe('estimate');
    expect(sel.source?.method).toBe('estimated');
    expect(sel.unavailable.map((u) => u.id)).toEqual(['ina3221', 'rapl', 'pi5-pmic', 'hwmon']);
  });

  it('auto gives no source, with reasons, when there is neither a sensor nor a power model', async () => {
    const sel = await selectEnergySource('auto', makeCtx(fixture('no-sensor')), null);
    expect(sel.source).toBeNull();
    expect(sel.unavailable.at(-1)).toEqual({ id: 'estimate', reason: 'no power model: the device profile gives no idleWatts/maxWatts' });
  });

  it('off gives nothing; a named source that is not there is a usage error naming it', async () => {
    expect(await selectEnergySource('off', makeCtx(fixture('x86-rapl')), powerModel)).toEqual({ source: null, unavailable: [] });
    await expect(selectEnergySource('ina3221', makeCtx(fixture('x86-rapl')), powerModel)).rejects.toThrow(/--energy ina3221: not available here: no INA3221 rail/);
    await expect(selectEnergySource('nvidia-smi', makeCtx(fixture('x86-rapl')), powerModel)).rejects.toBeInstanceOf(EdgetuneError);
  });

  it('parseEnergyMode accepts the documented values only', () => {
    expect(parseEnergyMode('auto')).toBe('auto');
    expect(parseEnergyMode('pi5-pmic')).toBe('pi5-pmic');
    expect(() => parseEnergyMode('battery')).toThrow(/expected auto, off or one of rapl, ina3221/);
  });
});

describe('EnergySampler', () => {
  it('never overlaps reads, keeps time order and records read errors', async () => {
    let active = 0;
    let maxActive = 0;
    let t = 0n;
    let n = 0;
    const source: EnergySource = {
      id: 'hwmon',
      method: 'measured',
      scope: 'test',
      samplePeriodMs: 5,
      detail: [],
      async read() {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 3));
        active--;
        n++;
        if (n === 3) throw new Error('sensor hiccup');
        t += 1_000_000n;
        return { kind: 'power', tNs: t, watts: 1, rails: {} };
      },
    };
    const sampler = new EnergySampler(source);
    sampler.start();
    await new Promise((r) => setTimeout(r, 40));
    await Promise.all([sampler.sampleNow(), sampler.sampleNow()]);
    await sampler.stop();
    const readings = sampler.readings();
    expect(maxActive).toBe(1);
    expect(readings.length).toBeGreaterThanOrEqual(3);
    expect(readings.every((r, i) => i === 0 || r.tNs > readings[i - 1]!.tNs)).toBe(true);
    expect(sampler.readErrors()).toEqual(['sensor hiccup']);
    const count = sampler.readings().length;
    await new Promise((r) => setTimeout(r, 20));
    expect(sampler.readings().length).toBe(count); // stopped means stopped
  });
});
