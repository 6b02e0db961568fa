/** Calibration adds ReduceMin/ReduceMax with axes as an attribute (opset < 18) or an input (≥ 18): both give the same ranges. */
import { describe, expect, it } from 'vitest';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel, upgradeOpset } from '../../../src/onnx/normalize.js';
import { cloneModel, defaultOpset } from '../../../src/onnx/ir.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { calibrateChannelRanges, calibrateRanges } from '../../../src/compress/calibrate.js';

describe('calibration across the ReduceMin/ReduceMax opset change', () => {
  it('opset 13 and opset 18 give the same tensor and per-channel ranges on the residual CNN', async () => {
    const at13 = loadModelFile('test/fixtures/models/mnist-rescnn.onnx').model;
    normalizeModel(at13, { minOpset: 13 });
    const at18 = cloneModel(at13);
    upgradeOpset(at18, 18);
    expect(defaultOpset(at18)).toBe(18);
    expect(defaultOpset(at13)).toBeLessThan(18);
    const tensors = at13.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.outputs[0]!);
    const data = openDataset('test/fixtures/data/mnist-calib', at13);
    const [a, b] = await Promise.all([at13, at18].map((m) => calibrateRanges(m, tensors, data, { method: 'minmax', maxSets: 2 })));
    const [ca, cb] = await Promise.all([at13, at18].map((m) => calibrateChannelRanges(m, tensors, data, { maxSets: 2 })));
    for (const t of tensors) {
      expect(b!.ranges.get(t)!.min).toBeCloseTo(a!.ranges.get(t)!.min, 5);
      expect(b!.ranges.get(t)!.max).toBeCloseTo(a!.ranges.get(t)!.max, 5);
      const x = ca!.get(t)!;
      const y = cb!.get(t)!;
      expect(x.max.length).toBeGreaterThan(1);
      for (let c = 0; c < x.max.length; c++) {
        expect(y.min[c]).toBeCloseTo(x.min[c]!, 5);
        expect(y.max[c]).toBeCloseTo(x.max[c]!, 5);
      }
      // The per-channel extremes bound the tensor's.
      expect(Math.max(...x.max)).toBeCloseTo(a!.ranges.get(t)!.max, 5);
    }
  });
});
