import { describe, expect, it } from 'vitest';
import { activeAxes, compareText, dominates, paretoFront, type ParetoMetrics, type ParetoPoint } from '../../../src/tune/pareto.js';

const MiB = 1024 * 1024;
const pt = (id: string, latencyMs: number, accuracyDropPp: number | null, sizeMiB: number, mJ: number | null): ParetoPoint => ({
  id,
  metrics: { latencyMs, accuracyDropPp, sizeBytes: Math.round(sizeMiB * MiB), joulesPerInference: mJ === null ? null : mJ / 1000 },
});

describe('dominates', () => {
  const a: ParetoMetrics = { latencyMs: 2, accuracyDropPp: 0.1, sizeBytes: 100, joulesPerInference: 0.01 };
  it('needs no worse on every axis and better on one', () => {
    expect(dominates(a, { ...a, latencyMs: 3 })).toBe(true);
    expect(dominates(a, a)).toBe(false);
    expect(dominates(a, { ...a, latencyMs: 3, sizeBytes: 99 })).toBe(false);
    expect(dominates({ ...a, accuracyDropPp: -0.2 }, a)).toBe(true);
  });
  it('compares only the axes it is given and refuses an unmeasured one', () => {
    expect(dominates({ ...a, joulesPerInference: 1 }, { ...a, latencyMs: 5 }, ['latencyMs', 'sizeBytes'])).toBe(true);
    expect(() => dominates({ ...a, joulesPerInference: null }, a)).toThrow(RangeError);
  });
});

describe('paretoFront on hand-made candidate sets', () => {
  it('keeps exactly the non-dominated points of a four-axis set', () => {
    const points = [
      pt('fp32', 10, 0, 4, 50),
      pt('int8', 4, 0.3, 1, 20), // fast, small
      pt('int8-keep', 5, 0.1, 1.2, 24), // slower than int8 but more accurate: front
      pt('fp16', 11, 0, 2, 55), // slower than fp32 but smaller: front (size)
      pt('int8-pt', 4.5, 0.4, 1, 22), // worse than int8 on every axis: dominated
      pt('prune', 6, 0.5, 3, 30), // int8-keep is better everywhere: dominated
      pt('int4', 9, 0.2, 0.6, 60), // smallest: front
    ];
    const r = paretoFront(points);
    expect(r.axes).toEqual(['latencyMs', 'accuracyDropPp', 'sizeBytes', 'joulesPerInference']);
    expect(r.front).toEqual(['fp32', 'int8', 'int8-keep', 'fp16', 'int4']);
    expect(r.dominated.map((d) => d.id)).toEqual(['int8-pt', 'prune']);
    const pt8 = r.dominated.find((d) => d.id === 'int8-pt')!;
    expect(pt8.dominatedBy).toEqual(['int8']);
    expect(pt8.by).toBe('int8');
    expect(pt8.reason).toContain('dominated by int8');
    expect(pt8.reason).toContain('latency 4.00 vs 4.50 ms (1.13× faster)');
    expect(pt8.reason).toContain('accuracy drop 0.30 vs 0.40 pp');
    expect(pt8.reason).toContain('size equal');
    expect(pt8.reason).toContain('energy 20.0 vs 22.0 mJ/inference');
    const prune = r.dominated.find((d) => d.id === 'prune')!;
    // Front members first (by latency), then the dominated dominators.
    expect(prune.dominatedBy).toEqual(['int8', 'int8-keep', 'int8-pt']);
    expect(prune.by).toBe('int8');
  });

  it('excludes a point dominated only through a chain, and names a front member', () => {
    // c is dominated by b, b by a: a is the only front member and the explanation names it.
    const r = paretoFront([pt('c', 3, 0.3, 3, 3), pt('b', 2, 0.2, 2, 2), pt('a', 1, 0.1, 1, 1)]);
    expect(r.front).toEqual(['a']);
    const c = r.dominated.find((d) => d.id === 'c')!;
    expect(c.dominatedBy[0]).toBe('a');
    expect(c.by).toBe('a');
    expect(c.dominatedBy).toEqual(['a', 'b']);
  });

  it('keeps identical points both on the front (neither is strictly better)', () => {
    const r = paretoFront([pt('x', 1, 0, 1, 1), pt('y', 1, 0, 1, 1), pt('z', 2, 0, 1, 1)]);
    expect(r.front).toEqual(['x', 'y']);
    expect(r.dominated.map((d) => d.id)).toEqual(['z']);
  });

  it('leaves out an axis some point did not measure, for every point', () => {
    const points = [pt('fp32', 10, 0, 4, null), pt('int8', 4, 0.3, 1, 20), pt('int8-big-energy', 3, 0.3, 1, 90)];
    const axes = activeAxes(points);
    expect(axes.axes).toEqual(['latencyMs', 'accuracyDropPp', 'sizeBytes']);
    expect(axes.axesLeftOut).toEqual([{ axis: 'joulesPerInference', missingFor: ['fp32'] }]);
    const r = paretoFront(points);
    // Without energy, int8-big-energy beats int8 (faster, same drop and size).
    expect(r.front).toEqual(['fp32', 'int8-big-energy']);
    expect(r.dominated[0]!.reason).not.toContain('mJ');
  });

  it('treats a negative accuracy drop (an improvement) as better', () => {
    const r = paretoFront([pt('a', 2, -0.2, 1, 1), pt('b', 2, 0, 1, 1)]);
    expect(r.front).toEqual(['a']);
  });

  it('handles the empty set and a single point', () => {
    expect(paretoFront([]).front).toEqual([]);
    expect(paretoFront([pt('only', 1, null, 1, null)]).front).toEqual(['only']);
  });

  it('refuses duplicate ids and points without latency', () => {
    expect(() => paretoFront([pt('a', 1, 0, 1, 1), pt('a', 2, 0, 1, 1)])).toThrow(/duplicate/);
    expect(() => paretoFront([pt('a', Number.NaN, 0, 1, 1)])).toThrow(/no latency/);
  });

  it('on random sets: no front member is dominated, every other point is dominated by a front member', () => {
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 50; trial++) {
      const points = Array.from({ length: 3 + Math.floor(rand() * 12) }, (_, i) => pt(`c${i}`, 1 + Math.floor(rand() * 6), Math.floor(rand() * 4) / 10, 1 + Math.floor(rand() * 4), 1 + Math.floor(rand() * 5)));
      const r = paretoFront(points);
      const byId = new Map(points.map((p) => [p.id, p]));
      for (const id of r.front) for (const q of points) expect(dominates(q.metrics, byId.get(id)!.metrics)).toBe(false);
      for (const d of r.dominated) {
        expect(r.front).not.toContain(d.id);
        expect(r.front).toContain(d.by);
        expect(dominates(byId.get(d.by)!.metrics, byId.get(d.id)!.metrics)).toBe(true);
      }
      expect(r.front.length + r.dominated.length).toBe(points.length);
    }
  });
});

describe('compareText', () => {
  it('says slower / larger when the first point loses on an axis', () => {
    const t = compareText({ latencyMs: 4, accuracyDropPp: 0, sizeBytes: 2 * MiB, joulesPerInference: null }, { latencyMs: 2, accuracyDropPp: 1, sizeBytes: MiB, joulesPerInference: null });
    expect(t).toContain('latency 4.00 vs 2.00 ms (2.00× slower)');
    expect(t).toContain('size 2.00 MiB vs 1.00 MiB (2.00× larger)');
    expect(t).not.toContain('energy');
  });
});
