/** The pruning latency table's fitted model (src/compress/prune-latency-model.ts). */
import { describe, expect, it } from 'vitest';
import { denoiseGroupLatencies } from '../../../src/compress/prune-latency-model.js';
import { allocatePruning, type GroupProfile } from '../../../src/compress/prune-allocation.js';

const BASE_MS = 50;
const BASE_FLOPS = 1e9;

/** A width removing `removedFlops`, measured at `measuredMs` ± `halfCiMs`. */
function width(kept: number, removedFlops: number, measuredMs: number, halfCiMs: number, loss = 0.01) {
  return { kept, flops: BASE_FLOPS - removedFlops, latencyMs: measuredMs, latencyCiMs: [measuredMs - halfCiMs, measuredMs + halfCiMs] as [number, number], loss };
}

describe('denoiseGroupLatencies', () => {
  it('fits ms per GFLOP through the origin and gives a width the line where its interval contains it', () => {
    // True rate: 20 ms per GFLOP. Big widths measured exactly; a tiny one measured with a noisy 1 ms "gain".
    const groups: GroupProfile[] = [
      { id: 0, producers: ['a'], channels: 64, options: [width(32, 0.5e9, 40, 0.5), width(48, 0.25e9, 45, 0.5)] },
      { id: 1, producers: ['b'], channels: 64, options: [width(56, 0.005e9, 49, 1.2)] },
    ];
    const { groups: out, fit } = denoiseGroupLatencies(BASE_MS, BASE_FLOPS, groups);
    expect(fit.msPerGflop).toBeGreaterThan(19.5);
    expect(fit.msPerGflop).toBeLessThan(20.5);
    const tiny = out[1]!.options[0]!;
    // The line says 0.1 ms saved; the measurement's 49 ± 1.2 ms contains 49.9: the line wins.
    expect(tiny.latencySource).toBe('fitted');
    expect(tiny.latencyMs).toBeCloseTo(BASE_MS - fit.msPerGflop * 0.005, 6);
    expect(tiny.measuredLatencyMs).toBe(49);
    // The input is not mutated.
    expect(groups[1]!.options[0]!.latencyMs).toBe(49);
  });

  it('keeps a measurement whose interval excludes the line, at the interval end nearest it', () => {
    const groups: GroupProfile[] = [
      { id: 0, producers: ['a'], channels: 64, options: [width(32, 0.5e9, 40, 0.2), width(48, 0.25e9, 45, 0.2)] },
      // Removes little but measurably saves 5 ms (a kernel that this width makes much faster).
      { id: 1, producers: ['b'], channels: 64, options: [width(56, 0.01e9, 45, 1)] },
    ];
    const { groups: out, fit } = denoiseGroupLatencies(BASE_MS, BASE_FLOPS, groups);
    const fast = out[1]!.options[0]!;
    expect(fast.latencySource).toBe('measured');
    expect(fast.latencyMs).toBe(46); // the upper end of 45 ± 1, nearest the line's ~49.8
    expect(fit.measured).toBeGreaterThanOrEqual(1);
    expect(fit.widths).toBe(3);
  });

  it('stops the allocator chasing noise: raw gains pick a noisy width, the line picks the one that saves time', () => {
    // Group 0 removes half the FLOPs for a real 10 ms at loss 0.05; group 1 removes almost nothing but its single
    // measurement happened to read 2 ms faster (interval ±2.5 ms) at loss 0.001.
    const groups: GroupProfile[] = [
      { id: 0, producers: ['a'], channels: 64, options: [width(32, 0.5e9, 40, 0.5, 0.05)] },
      { id: 1, producers: ['b'], channels: 64, options: [width(56, 0.002e9, 48, 2.5, 0.001)] },
    ];
    const target = { kind: 'latency' as const, latencyMs: 48.5 };
    const raw = allocatePruning({ baseLatencyMs: BASE_MS, baseFlops: BASE_FLOPS, groups, target });
    expect(raw.groups.find((g) => g.id === 1)!.status).toBe('pruned');
    const { groups: denoised } = denoiseGroupLatencies(BASE_MS, BASE_FLOPS, groups);
    const fixed = allocatePruning({ baseLatencyMs: BASE_MS, baseFlops: BASE_FLOPS, groups: denoised, target });
    expect(fixed.groups.find((g) => g.id === 0)!.status).toBe('pruned');
    expect(fixed.groups.find((g) => g.id === 1)!.status).toBe('unchanged');
    expect(fixed.predictedLatencyMs).toBeLessThanOrEqual(48.5);
  });

  it('fits memory traffic beside FLOPs: a high-resolution group saves more per FLOP than a deep one', () => {
    // True model: 10 ms per GFLOP + 0.5 ms per million elements. Group 0 (high resolution) removes many elements per
    // FLOP, group 1 (deep, low resolution) few. A FLOPs-only line would under-predict group 0 and over-predict group 1.
    const w = (kept: number, gflops: number, melements: number, half = 0.3) => {
      const gain = 10 * gflops + 0.5 * melements;
      return { ...width(kept, gflops * 1e9, BASE_MS - gain, half), activations: 100e6 - melements * 1e6 };
    };
    const groups: GroupProfile[] = [
      { id: 0, producers: ['hi-res'], channels: 32, options: [w(24, 0.02, 4), w(16, 0.04, 8), w(8, 0.06, 12)] },
      { id: 1, producers: ['deep'], channels: 384, options: [w(288, 0.1, 0.2), w(192, 0.2, 0.4), w(96, 0.3, 0.6)] },
    ];
    const { groups: out, fit } = denoiseGroupLatencies(BASE_MS, BASE_FLOPS, groups, 100e6);
    expect(fit.msPerGflop).toBeCloseTo(10, 3);
    expect(fit.msPerMillionElements).toBeCloseTo(0.5, 4);
    for (const g of out) for (const o of g.options) expect(o.latencyMs).toBeCloseTo(o.measuredLatencyMs!, 6);
    expect(fit.measured).toBe(0);
  });

  it('leaves widths without an interval alone and rejects a non-positive base', () => {
    const g: GroupProfile = { id: 0, producers: ['a'], channels: 8, options: [{ kept: 4, flops: BASE_FLOPS / 2, latencyMs: 33, loss: 0 }] };
    const { groups: out, fit } = denoiseGroupLatencies(BASE_MS, BASE_FLOPS, [g]);
    expect(out[0]!.options[0]!.latencyMs).toBe(33);
    expect(out[0]!.options[0]!.latencySource).toBeUndefined();
    expect(fit).toEqual({ msPerGflop: 0, msPerMillionElements: 0, measured: 0, widths: 0 });
    expect(() => denoiseGroupLatencies(0, BASE_FLOPS, [g])).toThrow(RangeError);
  });
});
