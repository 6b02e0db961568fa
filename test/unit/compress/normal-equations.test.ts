import { describe, expect, it } from 'vitest';
import { NormalEquations, RIDGE_GRID, solveLayer } from '../../../src/compress/prune-recovery.js';

/** y = 2·x0 − x1 + 0.5 (bias row last), x2 always 0 (a direction the data never excites). */
function fitted(): NormalEquations {
  const eq = new NormalEquations(4, 1);
  let seed = 3;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  for (let r = 0; r < 200; r++) {
    const x0 = rand();
    const x1 = rand();
    eq.add(new Float64Array([x0, x1, 0, 1]), new Float64Array([2 * x0 - x1 + 0.5]));
  }
  return eq;
}

describe('NormalEquations.solve', () => {
  it('a weak ridge recovers the least-squares solution (the bias row unregularised)', () => {
    const w = fitted().solve(1e-9, 3, new Float64Array([0, 0, 7, 0]));
    expect(w[0]).toBeCloseTo(2, 5);
    expect(w[1]).toBeCloseTo(-1, 5);
    expect(w[3]).toBeCloseTo(0.5, 5);
  });

  it('pulls toward the prior, not toward zero: unexcited inputs keep the prior, a strong ridge returns it', () => {
    const prior = new Float64Array([1, 1, 7, 0]);
    const weak = fitted().solve(1e-3, 3, prior);
    expect(weak[2]).toBeCloseTo(7, 6);
    expect(fitted().solve(1e-3, 3)[2]).toBeCloseTo(0, 6);
    const strong = fitted().solve(1e6, 3, prior);
    expect(strong[0]).toBeCloseTo(1, 3);
    expect(strong[1]).toBeCloseTo(1, 3);
    // The bias still fits the data's mean given those weights (inputs are centred near 0: about 0.5).
    expect(strong[3]).toBeCloseTo(0.5, 1);
  });
});

describe('solveLayer: the ridge chosen on held-out rows', () => {
  /** 12 inputs, y = x·w_true + noise; `rows` rows; x drawn from a seeded generator. */
  function problem(rows: number, noise: number, seed: number): NormalEquations {
    const eq = new NormalEquations(13, 1);
    let s = seed;
    const rand = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
    const x = new Float64Array(13);
    for (let r = 0; r < rows; r++) {
      let y = 0;
      for (let i = 0; i < 12; i++) {
        x[i] = rand();
        y += x[i]! * (i % 3 === 0 ? 1 : 0.2);
      }
      x[12] = 1;
      eq.add(x, new Float64Array([y + noise * rand()]));
    }
    return eq;
  }
  /** The current weights: w_true itself (the prior is right, the data is noise around it). */
  const truth = new Float64Array(Array.from({ length: 13 }, (_, i) => (i === 12 ? 0 : i % 3 === 0 ? 1 : 0.2)));

  it('few noisy rows around right weights: a strong ridge wins, and no refit beats the current weights', () => {
    const out = solveLayer([problem(14, 4, 1)], [problem(400, 4, 2)], [truth], 12, 'held-out');
    expect(out.ridge).toBeGreaterThanOrEqual(1);
    expect(out.heldOutAfter!).toBeGreaterThan(out.heldOutBefore!);
  });

  it('many clean rows and wrong current weights: a weak ridge wins and the refit helps on held-out rows', () => {
    const wrong = new Float64Array(13);
    const out = solveLayer([problem(2000, 0.01, 3)], [problem(400, 0.01, 4)], [wrong], 12, 'held-out');
    expect(out.ridge).toBeLessThanOrEqual(1e-2);
    expect(out.heldOutAfter!).toBeLessThan(0.01 * out.heldOutBefore!);
    expect(out.solutions[0]![0]).toBeCloseTo(1, 2);
    expect(out.all[0]!.rows).toBe(2400);
  });

  it('a fixed ridge solves the fit rows alone and reports no held-out errors', () => {
    const out = solveLayer([problem(200, 0.1, 5)], null, [truth], 12, 0.5);
    expect(out.ridge).toBe(0.5);
    expect(out.heldOutBefore).toBeNull();
    expect(RIDGE_GRID).toContain(1e-3);
  });
});
