/**
 * The measurements `prune --allocate sensitivity` works from (src/compress/prune-group-profile.ts), with real
 * onnxruntime on the MobileNetV2-style and residual digit models: each width is judged after a next-layer refit fitted
 * on sets other than the ones it is judged on, and the refit lowers the loss the allocator ranks by. No timed
 * assertions: latencies are only checked to be consistent with their own intervals.
 */
import { describe, expect, it } from 'vitest';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { profilePruneGroups } from '../../../src/compress/prune-group-profile.js';

const CALIB = 'test/fixtures/data/mnist-calib';

async function profile(path: string, refitSamples?: number) {
  const model = loadModelFile(path).model;
  normalizeModel(model);
  const data = openDataset(CALIB, model);
  return profilePruneGroups(model, data, { compareWithoutRefit: true, latencyIterations: 4, fractions: [0.75, 0.5], ...(refitSamples !== undefined ? { refitSamples } : {}) });
}

describe('prune group profile', () => {
  for (const name of ['mnist-mbv2', 'mnist-rescnn']) {
    it(`${name}: the loss after a next-layer refit on other sets is below the loss without it for most widths`, async () => {
      const p = await profile(`test/fixtures/models/${name}.onnx`);
      expect(p.refitSamples).toBeGreaterThan(0);
      // Judged on the last 2 of 8 sets; the refit is fitted on the first 6 (never on the judged ones).
      expect(p.sensitivitySets).toEqual(['test_data_set_6', 'test_data_set_7']);
      const pairs = p.groups.flatMap((g) => g.options.filter((o) => o.lossWithoutRefit !== undefined).map((o) => [o.lossWithoutRefit!, o.loss] as const));
      expect(pairs.length).toBeGreaterThan(3);
      const lower = pairs.filter(([before, after]) => after < before).length;
      expect(lower / pairs.length).toBeGreaterThan(0.5);
      const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
      expect(sum(pairs.map(([, after]) => after))).toBeLessThan(sum(pairs.map(([before]) => before)));
      for (const g of p.groups) {
        for (const o of g.options) {
          expect(o.latencyMs).toBeGreaterThanOrEqual(o.latencyCiMs![0] - 1e-9);
          expect(o.latencyMs).toBeLessThanOrEqual(o.latencyCiMs![1] + 1e-9);
        }
      }
    }, 300_000);
  }

  it('refitSamples 0 judges without a refit, as before', async () => {
    const p = await profile('test/fixtures/models/mnist-rescnn.onnx', 0);
    expect(p.refitSamples).toBe(0);
    for (const g of p.groups) for (const o of g.options) expect(o.lossWithoutRefit).toBeUndefined();
  }, 300_000);
});
