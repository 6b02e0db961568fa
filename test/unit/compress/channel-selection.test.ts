/** Reconstruction-aware channel selection (src/compress/channel-selection.ts): greedy elimination by refit error. */
import { describe, expect, it } from 'vitest';
import { Matrix, solve } from 'ml-matrix';
import { reconstructionOrder, type SinkProblem } from '../../../src/compress/channel-selection.js';

/** Deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 4294967296 - 0.5;
  };
}

/** A sink problem from explicit rows X [n, f−1] (a constant column is appended) and weights [f, m]. */
function problem(rows: number[][], weights: number[][], blockSize = 1): SinkProblem {
  const f = rows[0]!.length + 1;
  const m = weights[0]!.length;
  const gram = new Float64Array(f * f);
  for (const r of rows) {
    const x = [...r, 1];
    for (let i = 0; i < f; i++) for (let j = i; j < f; j++) gram[i * f + j]! += x[i]! * x[j]!;
  }
  const blocks = new Map<number, number[]>();
  for (let c = 0; c < (f - 1) / blockSize; c++) blocks.set(c, Array.from({ length: blockSize }, (_, t) => c * blockSize + t));
  return { f, m, gram, weights: Float64Array.from(weights.flat()), blocks };
}

/** Output error after the least-squares refit on the kept columns (plus the constant): the quantity greedy minimises. */
function refitError(rows: number[][], weights: number[][], keptCols: number[]): number {
  const n = rows.length;
  const f = rows[0]!.length + 1;
  const xs = rows.map((r) => [...r, 1]);
  const y = xs.map((x) => weights[0]!.map((_, k) => x.reduce((s, v, i) => s + v * weights[i]![k]!, 0)));
  const cols = [...keptCols, f - 1];
  const X = new Matrix(xs.map((x) => cols.map((c) => x[c]!)));
  const Y = new Matrix(y);
  const XtX = X.transpose().mmul(X);
  for (let i = 0; i < cols.length; i++) XtX.set(i, i, XtX.get(i, i) + 1e-9);
  const B = solve(XtX, X.transpose().mmul(Y));
  const R = Y.sub(X.mmul(B));
  let e = 0;
  for (let i = 0; i < n; i++) for (let k = 0; k < Y.columns; k++) e += R.get(i, k) ** 2;
  return e;
}

describe('reconstructionOrder', () => {
  it('removes first a channel the others (or the bias) can rebuild, not the one with the smallest weights', () => {
    const r = rng(1);
    // Channel 0: independent, small weight. Channel 1: large weight, a copy of channel 2. Channel 3: constant, large weight.
    const rows = Array.from({ length: 200 }, () => {
      const a = r();
      const b = r();
      return [a, b, b, 5];
    });
    const weights = [[0.1], [3], [2], [4], [0.5]];
    const order = reconstructionOrder([problem(rows, weights)], 4);
    // The constant channel (the bias absorbs it) and one of the two copies go first, both at no cost; the small
    // independent channel outlives them although its filter norm is the smallest.
    expect(order[3]).toBeLessThanOrEqual(2);
    expect(Math.min(order[1]!, order[2]!)).toBeLessThanOrEqual(2);
    expect(order[0]).toBeGreaterThan(2);
    expect([...order].sort()).toEqual([1, 2, 3, 4]);
  });

  it('each step removes the channel (block of columns) whose removal leaves the least refit error, as a brute force finds', () => {
    const r = rng(7);
    const channels = 5;
    const blockSize = 2;
    const mix = Array.from({ length: 4 }, () => Array.from({ length: channels * blockSize }, () => r()));
    const rows = Array.from({ length: 120 }, () => {
      const z = Array.from({ length: 4 }, () => r());
      // Correlated columns: a low-rank part plus noise of different strengths per channel.
      return Array.from({ length: channels * blockSize }, (_, i) => z.reduce((s, v, k) => s + v * mix[k]![i]!, 0) + r() * (0.05 + 0.2 * Math.floor(i / blockSize)));
    });
    const weights = Array.from({ length: channels * blockSize + 1 }, () => [r(), r(), r()]);
    const order = reconstructionOrder([problem(rows, weights, blockSize)], channels);
    const colsOf = (cs: number[]): number[] => cs.flatMap((c) => [c * blockSize, c * blockSize + 1]);
    let kept = Array.from({ length: channels }, (_, c) => c);
    for (let step = 1; step < channels; step++) {
      const chosen = kept.find((c) => order[c] === step)!;
      const errors = kept.map((c) => ({ c, e: refitError(rows, weights, colsOf(kept.filter((k) => k !== c))) }));
      const best = errors.reduce((a, b) => (b.e < a.e ? b : a));
      expect(chosen).toBe(best.c);
      kept = kept.filter((c) => c !== chosen);
    }
  });

  it('adds the relative errors of several sinks; a channel absent from a sink costs nothing there', () => {
    const r = rng(3);
    const rows = Array.from({ length: 100 }, () => [r(), r()]);
    // Sink A reads both channels and needs channel 0; sink B reads only channel 1 and needs it far more (relatively).
    const a = problem(rows, [[1], [0.3], [0]]);
    const b = problem(rows.map((x) => [x[1]!]), [[1], [0]]);
    const bOnChannel1: SinkProblem = { ...b, blocks: new Map([[1, [0]]]) };
    expect(reconstructionOrder([a], 2)[1]).toBe(1);
    expect(reconstructionOrder([a, bOnChannel1], 2)[0]).toBe(1);
  });
});
