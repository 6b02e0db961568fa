/** The pure greedy allocator of per-group pruning widths (src/compress/prune-allocation.ts). */
import { describe, expect, it } from 'vitest';
import { allocatePruning, candidateWidths, lossLimit, type GroupProfile } from '../../../src/compress/prune-allocation.js';

/** A group whose widths save latency and FLOPs in proportion to the channels removed, at a loss per channel. */
function group(id: number, channels: number, msPerChannel: number, lossPerChannel: number, flopsPerChannel = 1000): GroupProfile {
  return {
    id,
    producers: [`conv${id}`],
    channels,
    options: candidateWidths(channels).map((kept) => ({
      kept,
      latencyMs: 10 - (channels - kept) * msPerChannel,
      flops: 1e6 - (channels - kept) * flopsPerChannel,
      loss: (channels - kept) * lossPerChannel,
    })),
  };
}

describe('candidateWidths', () => {
  it('keeps multiples of 8 for groups of 8 channels or more, distinct, narrower first', () => {
    expect(candidateWidths(64)).toEqual([56, 48, 40, 32, 24, 16]);
    expect(candidateWidths(96, [0.75, 0.5, 0.25])).toEqual([72, 48, 24]);
    for (const c of [16, 24, 40, 100, 192, 360]) for (const w of candidateWidths(c)) if (w >= 8) expect(w % 8).toBe(0);
    expect(candidateWidths(16)).toEqual([8, 6, 4]); // below 8 kept, exact counts
  });
  it('small groups get exact counts below 8 and never their full width', () => {
    expect(candidateWidths(6, [0.75, 0.5])).toEqual([5, 3]);
    expect(candidateWidths(2, [0.75])).toEqual([]);
    expect(() => candidateWidths(8, [1])).toThrow(RangeError);
  });
});

describe('allocatePruning', () => {
  it('narrows first the group that saves the most latency per loss, and stops once the target is met', () => {
    const cheap = group(0, 64, 0.05, 0.001); // 50 ms per unit loss
    const costly = group(1, 64, 0.05, 0.01); // 5 ms per unit loss
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups: [cheap, costly], target: { kind: 'latency', latencyMs: 9.2 } });
    expect(r.steps[0]!.group).toBe(0);
    expect(r.reached).toBe(true);
    expect(r.predictedLatencyMs).toBeLessThanOrEqual(9.2);
    const byId = new Map(r.groups.map((g) => [g.id, g]));
    expect(byId.get(0)!.status).toBe('pruned');
    expect(byId.get(0)!.kept % 8).toBe(0);
    expect(byId.get(1)!.status).toBe('unchanged');
    expect(byId.get(1)!.kept).toBe(64);
  });

  it('stops at the first step that meets the target, without over-pruning', () => {
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups: [group(0, 64, 0.05, 0.001)], target: { kind: 'latency', latencyMs: 9.7 } });
    // 8 channels = 0.4 ms meets the 0.3 ms asked: one step, 56 kept.
    expect(r.steps).toHaveLength(1);
    expect(r.groups[0]!.kept).toBe(56);
  });

  it('a wide step that meets the target alone does not win over milder steps that cost less each', () => {
    // Group 0 at 8 of 64 channels meets the whole target at once, for a loss of 0.9; group 1's widths each cost 0.05.
    const wide: GroupProfile = { id: 0, producers: ['conv0'], channels: 64, options: [{ kept: 8, latencyMs: 8, flops: 5e5, loss: 0.9 }] };
    const mild: GroupProfile = {
      id: 1,
      producers: ['conv1'],
      channels: 64,
      options: [48, 32, 16].map((kept, i) => ({ kept, latencyMs: 10 - 0.5 * (i + 1), flops: 1e6 - 1e5 * (i + 1), loss: 0.05 * (i + 1) })),
    };
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups: [wide, mild], target: { kind: 'latency', latencyMs: 8.6 }, maxGroupLoss: 1 });
    expect(r.reached).toBe(true);
    expect(r.groups.find((g) => g.id === 0)!.status).toBe('unchanged');
    expect(r.groups.find((g) => g.id === 1)!.kept).toBe(16);
    expect(r.predictedLoss).toBeCloseTo(0.15, 9);
    // When the wide step is the cheaper way to finish, it is still taken as the last step.
    const cheapWide = { ...wide, options: [{ ...wide.options[0]!, loss: 0.04 }] };
    const r2 = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups: [cheapWide, mild], target: { kind: 'latency', latencyMs: 8.6 }, maxGroupLoss: 1 });
    expect(r2.steps).toHaveLength(1);
    expect(r2.groups.find((g) => g.id === 0)!.kept).toBe(8);
  });

  it('a FLOPs target uses the exact count when given', () => {
    const groups = [group(0, 64, 0.01, 0.001), group(1, 64, 0.01, 0.002)];
    const calls: number[] = [];
    const flopsOf = (w: ReadonlyMap<number, number>): number => {
      calls.push(w.size);
      // Removing channels from both groups removes more than the sum (say, a conv between them).
      let removed = 0;
      for (const [, kept] of w) removed += (64 - kept) * 1000;
      return 1e6 - removed * (w.size > 1 ? 1.5 : 1);
    };
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups, target: { kind: 'flops', removeShare: 0.05 }, flopsOf });
    expect(calls.length).toBeGreaterThan(0);
    expect(r.reached).toBe(true);
    expect(r.flops).toBeLessThanOrEqual(0.95e6);
  });

  it('leaves a destructive group alone and names why, whatever it would save', () => {
    const fragile = group(0, 64, 1, 0.2); // saves most, loses 1.6 at its mildest width
    const robust = group(1, 64, 0.01, 0.001);
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups: [fragile, robust], target: { kind: 'latency', latencyMs: 9.9 }, maxGroupLoss: 0.5 });
    const f = r.groups.find((g) => g.id === 0)!;
    expect(f.status).toBe('left alone');
    expect(f.kept).toBe(64);
    expect(f.reason).toMatch(/destructive/);
    expect(r.groups.find((g) => g.id === 1)!.status).toBe('pruned');
  });

  it('without a limit, a group is destructive when its mildest loss stands out from the median', () => {
    const groups = [group(0, 64, 0.01, 0.01), group(1, 64, 0.01, 0.012), group(2, 64, 0.01, 0.3)];
    // mildest losses 0.08, 0.096, 2.4: median 0.096 → limit max(0.5, 0.288) = 0.5
    expect(lossLimit(groups)).toBeCloseTo(0.5, 6);
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups, target: { kind: 'flops', removeShare: 0.01 } });
    expect(r.groups.find((g) => g.id === 2)!.status).toBe('left alone');
  });

  it('an unreachable target is reported with the nearest reachable, not thrown', () => {
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups: [group(0, 64, 0.01, 0.001)], target: { kind: 'latency', latencyMs: 5 } });
    expect(r.reached).toBe(false);
    expect(r.reachableLatencyMs).toBeCloseTo(10 - 48 * 0.01, 6);
    expect(r.groups[0]!.kept).toBe(16);
  });

  it('a group with no measured latency gain is not narrowed for a latency target', () => {
    const flat: GroupProfile = { id: 0, producers: ['c'], channels: 32, options: candidateWidths(32).map((kept) => ({ kept, latencyMs: 10.01, flops: 9e5, loss: 0 })) };
    const r = allocatePruning({ baseLatencyMs: 10, baseFlops: 1e6, groups: [flat], target: { kind: 'latency', latencyMs: 9 } });
    expect(r.steps).toHaveLength(0);
    expect(r.groups[0]!.reason).toMatch(/no measured latency gain/);
  });

  it('malformed input is a RangeError', () => {
    expect(() => allocatePruning({ baseLatencyMs: 0, baseFlops: 1, groups: [], target: { kind: 'latency', latencyMs: 1 } })).toThrow(RangeError);
    expect(() => allocatePruning({ baseLatencyMs: 1, baseFlops: 1, groups: [], target: { kind: 'flops', removeShare: 1 } })).toThrow(RangeError);
  });
});
