import { sparsifyModel } from '../sparsify.js';
import type { CompressMethodRunner } from './method-types.js';

/** `sparsity`: unstructured magnitude pruning to `--ratio` zeros per layer (default 0.5). */
export const sparsityMethod: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run({ model, options }) {
    return sparsifyModel(model, { sparsity: options.ratio ?? 0.5, scope: 'layer' });
  },
};
