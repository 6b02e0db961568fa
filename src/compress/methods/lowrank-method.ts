import { factorizeLowRank } from '../low-rank.js';
import { EdgetuneError } from '../../util/errors.js';
import type { CompressMethodRunner } from './method-types.js';

/**
 * `lowrank`: truncated SVD of Gemm/MatMul/1×1 Conv and Tucker-2 of k×k Conv; rank by `--energy` (default 0.95),
 * `--ratio`, or per layer by `--max-accuracy-drop PP` on `--data`.
 */
export const lowrankMethod: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run({ model, original, dataset, options, onProgress, signal }) {
    if (options.maxAccuracyDropPp !== undefined) {
      if (options.ratio !== undefined || options.energy !== undefined) throw new EdgetuneError('USAGE', 'give --max-accuracy-drop, --ratio or --energy for lowrank, not several');
      if (!dataset) throw new EdgetuneError('USAGE', '--max-accuracy-drop with --method lowrank needs --data DIR to measure the accuracy on');
      const { factorizeLowRankByAccuracy } = await import('../low-rank-auto.js');
      const { model: out, report } = await factorizeLowRankByAccuracy(original, dataset, {
        maxAccuracyDropPp: options.maxAccuracyDropPp,
        ...(onProgress ? { onProgress } : {}),
        ...(signal ? { signal } : {}),
      });
      return { model: out, report };
    }
    const { model: out, report } = factorizeLowRank(model, {
      ...(options.ratio !== undefined ? { ratio: options.ratio } : {}),
      ...(options.energy !== undefined ? { energy: options.energy } : {}),
    });
    return { model: out, report };
  },
};
