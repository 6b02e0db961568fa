import { describe, expect, it } from 'vitest';
import { chooseMeasuredPrecision, describeMeasuredSpeedup, measuredFaster, type MeasuredSpeedup } from '../../../src/hardware/measured-precision.js';
import { pairedSpeedupInterval } from '../../../src/profile/paired-latency.js';

/** A measurement with fp32 at 10 ms. */
function m(speedup: number, ci: [number, number] | null = [speedup - 0.05, speedup + 0.05], runs = 20): MeasuredSpeedup {
  return { fp32P50Ms: 10, variantP50Ms: 10 / speedup, speedup, speedupCi: ci, runs };
}

describe('measuredFaster: faster only when the p50 ratio and its whole interval are above 1', () => {
  it.each([
    { speedup: 1.4, ci: [1.3, 1.5] as [number, number], faster: true },
    { speedup: 1.4, ci: null, faster: true },
    { speedup: 1.03, ci: [0.97, 1.1] as [number, number], faster: false }, // within noise: a tie is not faster
    { speedup: 1.0, ci: [1.0, 1.0] as [number, number], faster: false },
    { speedup: 0.78, ci: [0.7, 0.85] as [number, number], faster: false },
    { speedup: 0.99, ci: null, faster: false },
  ])('$speedup× (interval $ci) → $faster', ({ speedup, ci, faster }) => {
    expect(measuredFaster(m(speedup, ci))).toBe(faster);
  });
});

describe('chooseMeasuredPrecision: what compress --method plan keeps after timing on the device', () => {
  it('int8 planned and measured faster → int8, the reason carries the numbers', () => {
    const d = chooseMeasuredPrecision({ planned: 'int8', int8: m(1.5, [1.4, 1.6]), fp16Unavailable: 'no fp16 arithmetic on this device' });
    expect(d.precision).toBe('int8');
    expect(d.reason).toMatch(/1\.50× .*p50 6\.67 vs 10\.00 ms.*1\.40–1\.60.*20 alternated runs.*faster → int8/);
  });

  it('int8 planned and measured slower where fp16 is no alternative (x86) → fp32', () => {
    const d = chooseMeasuredPrecision({ planned: 'int8', int8: m(0.78, [0.71, 0.86]), fp16Unavailable: 'no fp16 arithmetic on this device' });
    expect(d).toMatchObject({ precision: 'fp32' });
    expect(d.reason).toMatch(/0\.78×.*not faster → keep fp32 \(fp16 is no alternative: no fp16 arithmetic/);
  });

  it('int8 faster on the p50 but within noise → fp32 (not distinguishably faster)', () => {
    const d = chooseMeasuredPrecision({ planned: 'int8', int8: m(1.02, [0.95, 1.08]), fp16Unavailable: 'no fp16 arithmetic on this device' });
    expect(d.precision).toBe('fp32');
    expect(d.reason).toMatch(/not distinguishably faster/);
  });

  it('int8 not faster on a device with fp16 arithmetic: fp16 is measured next, and kept only if faster', () => {
    const first = chooseMeasuredPrecision({ planned: 'int8', int8: m(0.9, [0.85, 0.95]), fp16Unavailable: null });
    expect(first).toMatchObject({ precision: null, measureNext: 'fp16' });
    const faster = chooseMeasuredPrecision({ planned: 'int8', int8: m(0.9, [0.85, 0.95]), fp16Unavailable: null, fp16: m(1.3, [1.2, 1.4]) });
    expect(faster.precision).toBe('fp16');
    expect(faster.reason).toMatch(/int8 runs at 0\.90×.*fp16 runs at 1\.30×.*faster → fp16/);
    const slower = chooseMeasuredPrecision({ planned: 'int8', int8: m(0.9, [0.85, 0.95]), fp16Unavailable: null, fp16: m(0.95, [0.9, 1.0]) });
    expect(slower.precision).toBe('fp32');
    expect(chooseMeasuredPrecision({ planned: 'int8', int8: m(0.9), fp16Unavailable: null, fp16: null }).precision).toBe('fp32');
  });

  it('fp32 planned by a rule of thumb: int8 measured faster overrides it, slower keeps fp32', () => {
    const over = chooseMeasuredPrecision({ planned: 'fp32', int8: m(1.3, [1.2, 1.4]), fp16Unavailable: 'no fp16 arithmetic on this device' });
    expect(over.precision).toBe('int8');
    expect(over.reason).toMatch(/rule of thumb expected it not to pay/);
    expect(chooseMeasuredPrecision({ planned: 'fp32', int8: m(0.8), fp16Unavailable: 'no fp16 arithmetic on this device' }).precision).toBe('fp32');
  });

  it('not measured: the plan is kept as it was, and the reason says it is unverified', () => {
    expect(chooseMeasuredPrecision({ planned: 'int8', int8: null, fp16Unavailable: 'no fp16 arithmetic on this device' })).toMatchObject({ precision: 'int8', reason: expect.stringMatching(/unverified/) });
    expect(chooseMeasuredPrecision({ planned: 'fp32', int8: null, fp16Unavailable: null }).precision).toBe('fp32');
  });

  it('fp16 planned: measured first, kept only if faster', () => {
    expect(chooseMeasuredPrecision({ planned: 'fp16', int8: null, fp16Unavailable: null })).toMatchObject({ precision: null, measureNext: 'fp16' });
    expect(chooseMeasuredPrecision({ planned: 'fp16', int8: null, fp16Unavailable: null, fp16: m(1.2, [1.1, 1.3]) }).precision).toBe('fp16');
    expect(chooseMeasuredPrecision({ planned: 'fp16', int8: null, fp16Unavailable: null, fp16: m(0.9) }).precision).toBe('fp32');
    expect(chooseMeasuredPrecision({ planned: 'fp16', int8: null, fp16Unavailable: null, fp16: null }).precision).toBe('fp16');
  });

  it('describeMeasuredSpeedup names the figures without an interval too', () => {
    expect(describeMeasuredSpeedup('int8', m(2, null, 7))).toBe('int8 runs at 2.00× the speed of fp32 on this device (p50 5.00 vs 10.00 ms, 7 alternated runs)');
  });
});

describe('pairedSpeedupInterval: distribution-free interval of the median per-pair ratio', () => {
  it('covers the per-pair ratios’ median and is [min, max] for few pairs', () => {
    expect(pairedSpeedupInterval([10, 12, 11], [5, 6, 11])).toEqual([1, 2]);
    const a = Array.from({ length: 20 }, (_, i) => 10 + (i % 3));
    const b = a.map((x, i) => x / (1.5 + (i % 5) * 0.01));
    const [lo, hi] = pairedSpeedupInterval(a, b);
    expect(lo).toBeGreaterThanOrEqual(1.5 - 1e-9);
    expect(hi).toBeLessThanOrEqual(1.54 + 1e-9);
  });

  it('rejects samples of different lengths', () => {
    expect(() => pairedSpeedupInterval([1, 2], [1])).toThrow(RangeError);
  });
});
