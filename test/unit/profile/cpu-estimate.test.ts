import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimatedWatts, parseProcStat, probeCpuEstimate, utilisationBetween, validatePowerModel } from '../../../src/profile/energy/cpu-estimate.js';
import { cumulativeEnergy } from '../../../src/profile/energy/energy-integrate.js';
import { copyFixture, makeCtx, steppingClock } from './energy-test-helpers.js';

const model = { idleWatts: 3, maxWatts: 7, source: 'test profile' };

describe('CPU-utilisation estimate', () => {
  it('parses the aggregate cpu line (busy excludes idle and iowait)', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    expect(parseProcStat('cpu  100 5 50 800 20 3 2 0 40 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 160, total: 980 });
    expect(() => parseProcStat('intr 1 2 3\n')).toThrow(/no aggregate 'cpu' line/);
  });

  it('computes utilisation between readings and the linear model', () => {
    expect(utilisationBetween({ busy: 100, total: 1000 }, { busy: 150, total: 1100 })).toBeCloseTo(0.5, 12);
    expect(utilisationBetween({ busy: 1, total: 10 }, { busy: 1, total: 10 })).toBeNull();
    expect(estimatedWatts(model, 0)).toBe(3);
    expect(estimatedWatts(model, 0.25)).toBeCloseTo(4, 12);
    expect(() => validatePowerModel({ idleWatts: 5, maxWatts: 2, source: 'bad' })).toThrow(/invalid/);
  });

  it('integrates the model power over intervals of the real /proc/stat file, labelled estimated', async () => {
    const root = copyFixture('no-sensor');
    const stat = join(root, 'proc/stat');
    const p = await probeCpuEstimate(makeCtx(root, { clock: steppingClock([0, 2, 4]) }), model);
    if (!p.ok) throw new Error(p.reason);
    expect(p.source.method).toBe('estimated');
    expect(p.source.scope).toMatch(/idle 3 W, max 7 W from test profile/);
    const readings = [await p.source.read()];
    // +100 busy of +200 ticks: u = 0.5 -> 5 W for 2 s = 10 J
    writeFileSync(stat, 'cpu  1080 0 520 8090 110 0 0 0 0 0\n');
    readings.push(await p.source.read());
    // +0 busy of +100 ticks: u = 0 -> 3 W for 2 s = 6 J
    writeFileSync(stat, 'cpu  1080 0 520 8190 110 0 0 0 0 0\n');
    readings.push(await p.source.read());
    const curve = cumulativeEnergy(readings, p.source.counterRangesUj);
    expect(curve.map((c) => c.joules)).toEqual([0, 10, 16]);
  });

  it('is unavailable when /proc/stat cannot be read', async () => {
    const p = await probeCpuEstimate(makeCtx('/nonexistent-sysroot'), model);
    expect(p).toMatchObject({ ok: false, id: 'estimate' });
  });
});
