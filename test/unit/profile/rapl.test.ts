import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeRapl } from '../../../src/profile/energy/rapl.js';
import { summarizeEnergy } from '../../../src/profile/energy/energy-integrate.js';
import { readTextFile } from '../../../src/profile/energy/energy-source.js';
import { copyFixture, fixture, makeCtx, steppingClock } from './energy-test-helpers.js';

describe('RAPL (powercap)', () => {
  it('opens the package zone only (not core, dram or psys) as a measured counter with its wrap range', async () => {
    const p = await probeRapl(makeCtx(fixture('x86-rapl')));
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.source.method).toBe('measured');
    expect(p.source.scope).toBe('package');
    expect(p.source.counterRangesUj).toEqual([262143328850n]);
    expect(p.source.detail).toEqual(['/sys/class/powercap/intel-rapl:0 (package-0)']);
    const r = await p.source.read();
    expect(r).toMatchObject({ kind: 'energy', countersUj: [262142000000n] });
  });

  it('integrates across a counter wraparound', async () => {
    const root = copyFixture('x86-rapl');
    const energyFile = join(root, 'sys/class/powercap/intel-rapl:0/energy_uj');
    const p = await probeRapl(makeCtx(root, { clock: steppingClock([0, 1, 2]) }));
    if (!p.ok) throw new Error(p.reason);
    const readings = [await p.source.read()];
    writeFileSync(energyFile, '262143000000\n'); // +1 000 000 µJ
    readings.push(await p.source.read());
    writeFileSync(energyFile, '2671150\n'); // wrapped: +328 850 to the top, +2 671 150 after
    readings.push(await p.source.read());
    const sum = summarizeEnergy(readings, { startNs: 0n, endNs: 2_000_000_000n, inferences: 4 }, 1, p.source.counterRangesUj);
    expect(sum.totalJoules).toBeCloseTo(1 + 0.32885 + 2.67115, 9);
    expect(sum.joulesPerInference).toBeCloseTo(1, 9);
    expect(sum.avgWatts).toBeCloseTo(2, 9);
  });

  it('reports root-only energy_uj (Linux ≥ 5.10) as unreadable with the reason', async () => {
    const denied = async (path: string): Promise<string> => {
      if (path.endsWith('energy_uj')) throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
      return readTextFile(path);
    };
    const p = await probeRapl(makeCtx(fixture('x86-rapl'), { readText: denied }));
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.id).toBe('rapl');
    expect(p.reason).toMatch(/intel-rapl:0\/energy_uj is not readable/);
    expect(p.reason).toMatch(/root-only since Linux 5\.10/);
  });

  it('says why when there is no powercap directory or no package zone', async () => {
    const none = await probeRapl(makeCtx(fixture('no-sensor')));
    expect(none).toMatchObject({ ok: false, id: 'rapl' });
    if (!none.ok) expect(none.reason).toMatch(/\/sys\/class\/powercap does not exist/);
    const noPackage = await probeRapl(makeCtx(fixture('x86-rapl'), {
      readText: async (path) => (path.endsWith('/name') ? 'psys' : readTextFile(path)),
    }));
    expect(noPackage).toMatchObject({ ok: false, id: 'rapl' });
    if (!noPackage.ok) expect(noPackage.reason).toMatch(/no intel-rapl package zone/);
  });

  it('rejects a counter file that is not a number', async () => {
    const p = await probeRapl(makeCtx(fixture('x86-rapl'), {
      readText: async (path) => (path.endsWith('intel-rapl:0/energy_uj') ? 'garbage' : readTextFile(path)),
    }));
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toMatch(/'garbage' is not an energy counter/);
  });
});
