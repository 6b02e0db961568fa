import { describe, expect, it } from 'vitest';
import { probeHwmonPower } from '../../../src/profile/energy/hwmon-power.js';
import { parseNvidiaSmiPower, probeNvidiaSmi } from '../../../src/profile/energy/nvidia-smi.js';
import { fixture, fixtureText, makeCtx, tableRunner } from './energy-test-helpers.js';

describe('generic hwmon', () => {
  it('reads a power*_input gauge in µW', async () => {
    const p = await probeHwmonPower(makeCtx(fixture('hwmon-power')));
    if (!p.ok) throw new Error(p.reason);
    expect(p.source.scope).toBe('hwmon ina219');
    const r = await p.source.read();
    expect(r).toMatchObject({ kind: 'power', watts: 3.215 });
  });

  it('prefers energy*_input counters (µJ) and says which device it did not use', async () => {
    const p = await probeHwmonPower(makeCtx(fixture('hwmon-energy')));
    if (!p.ok) throw new Error(p.reason);
    expect(p.source.scope).toBe('hwmon zenergy');
    expect(p.source.detail.join(' ')).toMatch(/not used: hwmon1 \(amdgpu\)/);
    expect(await p.source.read()).toMatchObject({ kind: 'energy', countersUj: [1000000n, 2000000n] });
  });

  it('rejects an implausible reading and a machine without power channels', async () => {
    const bogus = await probeHwmonPower(makeCtx(fixture('hwmon-bogus')));
    expect(bogus.ok).toBe(false);
    if (!bogus.ok) expect(bogus.reason).toMatch(/not a plausible power reading/);
    const none = await probeHwmonPower(makeCtx(fixture('no-sensor')));
    expect(none).toMatchObject({ ok: false, id: 'hwmon' });
  });
});

describe('nvidia-smi power.draw', () => {
  it('parses one value per GPU and marks [N/A] as null', () => {
    expect(parseNvidiaSmiPower(fixtureText('nvidia-smi/power-two-gpus.txt'))).toEqual([18.42, 35.1]);
    expect(parseNvidiaSmiPower(fixtureText('nvidia-smi/power-not-supported.txt'))).toEqual([null]);
  });

  it('sums the GPUs through the injected runner', async () => {
    const run = tableRunner({ 'nvidia-smi': fixtureText('nvidia-smi/power-two-gpus.txt') });
    const p = await probeNvidiaSmi(makeCtx('/', { run }));
    if (!p.ok) throw new Error(p.reason);
    expect(p.source.scope).toMatch(/^GPU board power \(2 GPUs/);
    const r = await p.source.read();
    if (r.kind !== 'power') throw new Error('expected a gauge');
    expect(r.watts).toBeCloseTo(53.52, 9);
    expect(run.calls[0]).toBe('nvidia-smi --query-gpu=power.draw --format=csv,noheader,nounits');
  });

  it('is unavailable without the driver or without power readings', async () => {
    const missing = await probeNvidiaSmi(makeCtx('/', { run: tableRunner({}) }));
    if (!missing.ok) expect(missing.reason).toMatch(/not installed/);
    const na = await probeNvidiaSmi(makeCtx('/', { run: tableRunner({ 'nvidia-smi': fixtureText('nvidia-smi/power-not-supported.txt') }) }));
    if (!na.ok) expect(na.reason).toMatch(/no power\.draw/);
    expect(missing.ok || na.ok).toBe(false);
  });
});
