import { factorizeLowRank } from '../low-rank.js';
import type { CompressMethodRunner } from './method-types.js';

/** `lowrank`: truncated-SVD factorisation of Gemm/MatMul/1×1 Conv, rank by `--energy` (default 0.95) or `--ratio`. */
export const lowrankMethod: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run({ model, options }) {
    const { model: out, report } = factorizeLowRank(model, {
      ...(options.ratio !== undefined ? { ratio: options.ratio } : {}),
      ...(options.energy !== undefined ? { energy: options.energy } : {}),
    });
    return { model: out, report };
  },
};
