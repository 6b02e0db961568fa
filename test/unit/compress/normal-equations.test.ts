import { describe, expect, it } from 'vitest';
import { NormalEquations } from '../../../src/compress/prune-recovery.js';

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
