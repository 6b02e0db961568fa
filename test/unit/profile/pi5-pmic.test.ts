import { describe, expect, it } from 'vitest';
import { parsePmicReadAdc, pmicPower, probePi5Pmic } from '../../../src/profile/energy/pi5-pmic.js';
import { fixtureText, makeCtx, steppingClock, tableRunner } from './energy-test-helpers.js';

describe('Raspberry Pi 5 pmic_read_adc', () => {
  it('parses every rail of the firmware text, grouping current and voltage per rail', () => {
    const rails = parsePmicReadAdc(fixtureText('pi5/pmic_read_adc-idle.txt'));
    expect(rails).toHaveLength(14);
    expect(rails.find((r) => r.rail === 'VDD_CORE')).toEqual({ rail: 'VDD_CORE', amps: 0.7155, volts: 0.72024990 });
    expect(rails.find((r) => r.rail === 'EXT5V')).toEqual({ rail: 'EXT5V', amps: null, volts: 5.13524 });
    expect(rails.find((r) => r.rail === '3V7_WL_SW')?.amps).toBeCloseTo(0.002442, 12);
  });

  it('sums V × I over the rails that have both (EXT5V and BATT are voltage-only)', () => {
    const p = pmicPower(parsePmicReadAdc(fixtureText('pi5/pmic_read_adc-idle.txt')));
    expect(Object.keys(p.rails)).toHaveLength(12);
    expect(p.rails.EXT5V).toBeUndefined();
    expect(p.rails.VDD_CORE).toBeCloseTo(0.7155 * 0.7202499, 9);
    // Σ V·I over the 12 rails of the fixture, computed independently (Python, same text)
    expect(p.watts).toBeCloseTo(1.6249677952170898, 9);
  });

  it('ignores lines that are not readings', () => {
    expect(parsePmicReadAdc('error=1 error_msg="Command not registered"\n')).toEqual([]);
  });

  it('opens as a measured lower bound and reads through the injected runner', async () => {
    const run = tableRunner({ 'vcgencmd pmic_read_adc': [fixtureText('pi5/pmic_read_adc-idle.txt'), fixtureText('pi5/pmic_read_adc-busy.txt')] });
    const p = await probePi5Pmic(makeCtx('/nonexistent', { run, clock: steppingClock([1, 1.2]) }));
    if (!p.ok) throw new Error(p.reason);
    expect(p.source.scope).toBe('soc+dram+io rails (lower bound)');
    expect(p.source.samplePeriodMs).toBeGreaterThanOrEqual(100);
    const r = await p.source.read();
    if (r.kind !== 'power') throw new Error('expected a gauge');
    expect(r.tNs).toBe(1_100_000_000n); // midpoint of the command's run
    expect(r.rails.VDD_CORE).toBeCloseTo(4.1208 * 0.7202499, 9);
  });

  it('explains why it is unavailable: Pi 4 firmware, vcgencmd missing, no /dev/vcio access', async () => {
    const pi4 = await probePi5Pmic(makeCtx('/', { run: tableRunner({ vcgencmd: fixtureText('pi5/pmic_read_adc-pi4.txt') }) }));
    expect(pi4).toMatchObject({ ok: false, id: 'pi5-pmic' });
    if (!pi4.ok) expect(pi4.reason).toMatch(/Pi 5, Pi 500 and CM5 only/);
    const missing = await probePi5Pmic(makeCtx('/', { run: tableRunner({}) }));
    if (!missing.ok) expect(missing.reason).toMatch(/vcgencmd is not installed/);
    const denied = await probePi5Pmic(makeCtx('/', {
      run: tableRunner({ vcgencmd: { exitCode: 255, stdout: '', stderr: 'Failed to open /dev/vcio: Permission denied' } }),
    }));
    if (!denied.ok) expect(denied.reason).toMatch(/video group/);
    expect(missing.ok || denied.ok).toBe(false);
  });
});
