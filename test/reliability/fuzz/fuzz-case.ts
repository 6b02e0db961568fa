/** One fuzz case, rebuilt from (seed, index): which model, which mutation, which entry point. */
import type { BaseId, FuzzBase } from './fuzz-bases.js';
import { mutateModel, type MutatedModel, type MutationKind } from './model-mutations.js';
import { Prng } from './prng.js';

/** The library entry point a case goes through. */
export type FuzzTarget =
  | { kind: 'compress'; method: 'fp16' | 'int4' | 'int8-dynamic' | 'int8' }
  | { kind: 'eval'; reference: 'none' | 'original' | 'mutated-is-reference' }
  | { kind: 'profile'; data: boolean };

/** A fully built case. */
export interface FuzzCase {
  index: number;
  baseId: BaseId;
  mutation: MutatedModel;
  target: FuzzTarget;
}

/** How often each base is chosen: the hand-built model is fast, so it takes most cases. */
const BASE_WEIGHTS: Record<BaseId, number> = { small: 55, mlp: 25, rescnn: 20 };

const TARGET_WEIGHTS = { fp16: 2, int4: 2, 'int8-dynamic': 2, int8: 2, eval: 2, 'eval-reference': 1, 'eval-as-reference': 1, profile: 1, 'profile-data': 1 } as const;

/** Short label of a target, e.g. `compress int8` or `eval (reference: original)`. */
export function describeTarget(t: FuzzTarget): string {
  if (t.kind === 'profile') return t.data ? 'profile (dataset)' : 'profile (synthetic inputs)';
  return t.kind === 'compress' ? `compress ${t.method}` : `eval (reference: ${t.reference})`;
}

/** Build case `index` of the run seeded with `seed`. */
export function makeCase(seed: number, index: number, bases: Record<BaseId, FuzzBase>, forceKind?: MutationKind): FuzzCase {
  const rng = new Prng(seed, index);
  const baseId = rng.weighted(BASE_WEIGHTS);
  const t = rng.weighted(TARGET_WEIGHTS);
  const target: FuzzTarget =
    t === 'profile' || t === 'profile-data'
      ? { kind: 'profile', data: t === 'profile-data' }
      : t === 'eval'
      ? { kind: 'eval', reference: 'none' }
      : t === 'eval-reference'
        ? { kind: 'eval', reference: 'original' }
        : t === 'eval-as-reference'
          ? { kind: 'eval', reference: 'mutated-is-reference' }
          : { kind: 'compress', method: t };
  const mutation = mutateModel(bases[baseId], rng, forceKind);
  return { index, baseId, mutation, target };
}
