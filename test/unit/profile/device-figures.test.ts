import { describe, expect, it } from 'vitest';
import { peaksFromFigures, powerModelFromFigures } from '../../../src/profile/device-figures.js';
import { parseProcStatusMemory } from '../../../src/profile/proc-memory.js';

const fig = (value: number | null, source = 'doc') => ({ value, estimated: false, source });

describe('powerModelFromFigures', () => {
  it('takes idle and max from the profile with their sources', () => {
    expect(powerModelFromFigures({ idleWatts: fig(3.1, 'RPi docs idle'), maxWatts: fig(6.4, 'RPi docs stress') }, 'pi4')).toEqual({
      idleWatts: 3.1,
      maxWatts: 6.4,
      source: 'device profile pi4: idle RPi docs idle; max RPi docs stress',
    });
  });
  it('takes 10 % of max as idle when the profile has no idle figure, and says so', () => {
    const m = powerModelFromFigures({ idleWatts: fig(null), maxWatts: fig(15, 'mini-PC default') }, 'x86-avx2');
    expect(m?.idleWatts).toBeCloseTo(1.5, 12);
    expect(m?.source).toMatch(/no idle figure, idle taken as 10% of max/);
  });
  it('gives no model without a maximum', () => {
    expect(powerModelFromFigures({ idleWatts: fig(3), maxWatts: fig(null) }, 'generic')).toBeNull();
  });
});

describe('peaksFromFigures', () => {
  it('keeps the known peaks and drops unknown ones', () => {
    const p = peaksFromFigures({ peakFp32Gops: fig(48, '4 × 1.5 GHz × 8'), peakInt8Gops: fig(null) }, 'pi4');
    expect(p.fp32).toEqual({ gopsPerSec: 48, source: 'device profile pi4: 4 × 1.5 GHz × 8', estimated: false });
    expect(p.int8).toBeNull();
  });
});

describe('parseProcStatusMemory', () => {
  it('reads VmRSS and VmHWM in bytes', () => {
    expect(parseProcStatusMemory('Name:\tnode\nVmHWM:\t  137468 kB\nVmRSS:\t  120000 kB\n')).toEqual({ rssBytes: 120000 * 1024, hwmBytes: 137468 * 1024 });
    expect(parseProcStatusMemory('Name:\tkthreadd\n')).toBeNull();
  });
});
