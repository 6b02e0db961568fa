import { describe, expect, it } from 'vitest';
import {
  assessThermal,
  decodeThrottled,
  describeThrottled,
  parseThrottled,
  readThermalSnapshot,
  waitForCooldown,
  type ThermalSnapshot,
} from '../../../src/profile/thermal.js';
import { fixture, fixtureText, makeCtx, steppingClock, tableRunner } from './energy-test-helpers.js';

const empty: ThermalSnapshot = { zones: [], cpuFreq: null, piThrottledBits: null, piUnderVoltageAlarm: null, intelThrottleCount: null, jetsonOcEvents: null, gpuFreq: null };

describe('Raspberry Pi get_throttled bits', () => {
  it('decodes 0x50005: under-voltage and throttled, now and since boot', () => {
    expect(decodeThrottled(0x50005)).toEqual({
      underVoltage: true,
      armFrequencyCapped: false,
      throttled: true,
      softTemperatureLimit: false,
      underVoltageOccurred: true,
      armFrequencyCappingOccurred: false,
      throttlingOccurred: true,
      softTemperatureLimitOccurred: false,
    });
    expect(describeThrottled(0x50005)).toEqual(['under-voltage now', 'throttled now', 'under-voltage has occurred', 'throttling has occurred']);
    expect(decodeThrottled(0x8).softTemperatureLimit).toBe(true);
    expect(decodeThrottled(0x20000).armFrequencyCappingOccurred).toBe(true);
    expect(describeThrottled(0)).toEqual([]);
  });

  it('parses vcgencmd text and the sysfs form without 0x', () => {
    expect(parseThrottled(fixtureText('pi5/get_throttled-undervoltage.txt'))).toBe(0x50005);
    expect(parseThrottled('throttled=0x0\n')).toBe(0);
    expect(parseThrottled('50005\n')).toBe(0x50005);
    expect(parseThrottled('garbage!')).toBeNull();
  });
});

describe('thermal snapshots', () => {
  it('Pi 5 sysroot: cpu-thermal, cpufreq, firmware bits from vcgencmd and the rpi_volt alarm', async () => {
    const ctx = makeCtx(fixture('pi5/sysroot'), { run: tableRunner({ 'vcgencmd get_throttled': fixtureText('pi5/get_throttled-ok.txt') }) });
    const s = await readThermalSnapshot(ctx);
    expect(s.zones).toEqual([{ zone: 'thermal_zone0', type: 'cpu-thermal', tempC: 61.25, passiveTripC: null }]);
    expect(s.cpuFreq).toEqual({ curKHz: 1500000, maxKHz: 2400000, scalingMaxKHz: 2400000, cpus: 4 });
    expect(s.piThrottledBits).toBe(0);
    expect(s.piUnderVoltageAlarm).toBe(true);
  });

  it('falls back to the sysfs get_throttled node when vcgencmd is missing', async () => {
    const s = await readThermalSnapshot(makeCtx(fixture('pi5/sysroot'), { run: tableRunner({}) }));
    expect(s.piThrottledBits).toBe(0x50005);
  });

  it('Jetson Nano: skips the fake 100 °C PMIC-Die zone', async () => {
    const s = await readThermalSnapshot(makeCtx(fixture('jetson-nano-jp4')));
    expect(s.zones.map((z) => z.type)).not.toContain('PMIC-Die');
    expect(Math.max(...s.zones.map((z) => z.tempC))).toBe(40.5);
    expect(s.zones.find((z) => z.type === 'CPU-therm')?.passiveTripC).toBe(97);
  });

  it('Jetson Orin: over-current event counters and GPU devfreq', async () => {
    const s = await readThermalSnapshot(makeCtx(fixture('jetson-orin-nano-jp5')));
    expect(s.jetsonOcEvents).toBe(0);
    expect(s.gpuFreq).toEqual({ curHz: 306000000, maxHz: 624750000 });
    expect(s.zones.map((z) => z.type)).toEqual(['cpu-thermal', 'gpu-thermal', 'tj-thermal']);
  });

  it('x86: Intel throttle counters summed over cores; a passive trip of 0 is ignored', async () => {
    const s = await readThermalSnapshot(makeCtx(fixture('x86-rapl')));
    expect(s.intelThrottleCount).toBe(20);
    expect(s.zones.find((z) => z.type === 'x86_pkg_temp')?.passiveTripC).toBeNull();
  });
});

describe('assessThermal', () => {
  it('flags Pi firmware throttling now, and sticky bits newly set during the run', () => {
    const now = assessThermal({ ...empty, piThrottledBits: 0 }, { ...empty, piThrottledBits: 0x50005 });
    expect(now.throttled).toBe(true);
    expect(now.reasons.join(' ')).toMatch(/under-voltage now, throttled now/);
    const during = assessThermal({ ...empty, piThrottledBits: 0 }, { ...empty, piThrottledBits: 0x20000 });
    expect(during.throttled).toBe(true);
    expect(during.reasons[0]).toMatch(/during the run: Arm frequency capping has occurred/);
    const old = assessThermal({ ...empty, piThrottledBits: 0x50000 }, { ...empty, piThrottledBits: 0x50000 });
    expect(old.throttled).toBe(false);
  });

  it('flags a zone at its passive trip, counter increases, and reports temperatures and frequency', () => {
    const zone = (tempC: number) => ({ zone: 'thermal_zone0', type: 'tj-thermal', tempC, passiveTripC: 95 });
    const freq = (curKHz: number) => ({ curKHz, maxKHz: 2000000, scalingMaxKHz: 1500000, cpus: 4 });
    const a = assessThermal(
      { ...empty, zones: [zone(50)], intelThrottleCount: 4, jetsonOcEvents: 1 },
      { ...empty, zones: [zone(96)], intelThrottleCount: 6, jetsonOcEvents: 3 },
      [{ ...empty, zones: [zone(97)], cpuFreq: freq(1000000) }],
    );
    expect(a.startC).toBe(50);
    expect(a.endC).toBe(96);
    expect(a.maxC).toBe(97);
    expect(a.zone).toBe('tj-thermal');
    expect(a.throttled).toBe(true);
    expect(a.reasons).toHaveLength(4);
    expect(a.minFreqRatio).toBeCloseTo(0.5, 12);
    expect(a.frequencyCapped).toBe(true);
  });

  it('is not throttled, with null temperatures, on a machine without zones', () => {
    const a = assessThermal(empty, empty);
    expect(a).toMatchObject({ startC: null, endC: null, maxC: null, throttled: false, reasons: [], piThrottled: null });
  });
});

describe('waitForCooldown', () => {
  it('returns at once when already cool, and gives up after the maximum wait', async () => {
    const cool = await waitForCooldown(makeCtx(fixture('jetson-orin-nano-jp5'), { clock: steppingClock([0, 0]) }), 60, 1000);
    expect(cool).toMatchObject({ reached: true, tempC: 49 });
    const hot = await waitForCooldown(makeCtx(fixture('jetson-orin-nano-jp5'), { clock: steppingClock([0, 5]) }), 40, 1000, undefined, 1);
    expect(hot).toMatchObject({ reached: false, tempC: 49 });
    const none = await waitForCooldown(makeCtx(fixture('no-sensor')), 40, 1000);
    expect(none).toMatchObject({ reached: false, tempC: null });
  });
});
