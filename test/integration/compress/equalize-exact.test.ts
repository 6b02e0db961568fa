/**
 * Channel equalization must not change what the float model computes: on third-party models (PaddleOCR det and
 * cls from paddle2onnx, M-LSD and BlazeFace from tf2onnx) and real photos, the equalized float graph gives the
 * original outputs to float rounding, in onnxruntime. Through ReLU6 (M-LSD) it is exact on the data it was
 * calibrated on: an amplified channel clips at 6 once it passes its calibrated maximum, as the int8 Q would.
 */
import { describe, expect, it } from 'vitest';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { cloneModel } from '../../../src/onnx/ir.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { feedsForBatch, openDataset } from '../../../src/compress/dataset.js';
import { calibrateChannelRanges } from '../../../src/compress/calibrate.js';
import { equalizationCandidates, equalizeChannels } from '../../../src/compress/equalize-channels.js';
import { inferTensorTypes } from '../../../src/onnx/shape-inference.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { fuseHardSwish } from '../../../src/compress/fuse-activations.js';
import { foldBatchNorm } from '../../../src/compress/fold-batchnorm.js';
import { foldAddIntoPointwiseConv, foldConvAffine } from '../../../src/compress/fold-affine.js';
import { THIRD_PARTY_MODELS, modelPath, photoDataset, type ThirdPartyModel } from '../../../scripts/lib/photo-datasets.js';

const DET_320: ThirdPartyModel = { ...THIRD_PARTY_MODELS['ppocr-det']!, id: 'ppocr-det-320', input: { ...THIRD_PARTY_MODELS['ppocr-det']!.input, width: 320, height: 320 } };
const CASES: Array<[ThirdPartyModel, boolean, 'calibration' | 'evaluation']> = [
  [DET_320, false, 'evaluation'],
  [DET_320, true, 'evaluation'],
  [THIRD_PARTY_MODELS['ppocr-cls']!, true, 'evaluation'],
  [THIRD_PARTY_MODELS['mlsd-large']!, false, 'calibration'],
  [THIRD_PARTY_MODELS.blazeface!, false, 'evaluation'],
];

describe('the int8 float rewrites (hard-swish fusion, BN/affine/Add folding, equalization) on real models are exact', () => {
  it.each(CASES)('%s (island inputs %s) on %s photos: every output unchanged to 1e-3 of its range', async (spec, islandInputs, split) => {
    const model = loadModelFile(modelPath(spec)).model;
    normalizeModel(model, { minOpset: 13 });
    // The reference is the model before the int8 pipeline's exact float rewrites, so they are checked too.
    const original = cloneModel(model);
    fuseHardSwish(model);
    foldBatchNorm(model.graph);
    foldConvAffine(model.graph);
    if (spec.id.startsWith('ppocr-det')) expect(foldAddIntoPointwiseConv(model.graph)).toBeGreaterThan(5);
    else foldAddIntoPointwiseConv(model.graph);
    const types = inferTensorTypes(model);
    const candidates = equalizationCandidates(model, types);
    const ranges = await calibrateChannelRanges(model, candidates, openDataset(photoDataset(spec, 'calibration', 2), model));
    const report = equalizeChannels(model.graph, ranges, { islandInputs });
    expect(report.sites.length).toBeGreaterThan(3);
    const a = await createInferenceRunner(encodeModel(original));
    const b = await createInferenceRunner(encodeModel(model));
    try {
      const data = openDataset(photoDataset(spec, split, 2), original);
      for (let s = 0; s < 2; s++) {
        const piece = feedsForBatch(original, data.load(s))[0]!;
        const ra = await a.run(piece.feeds);
        const rb = await b.run(piece.feeds);
        for (const [name, tensor] of ra) {
          const x = tensorToFloat32(tensor);
          const y = tensorToFloat32(rb.get(name)!);
          let range = 0;
          let diff = 0;
          for (let i = 0; i < x.length; i++) {
            range = Math.max(range, Math.abs(x[i]!));
            diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
          }
          expect(diff, `${spec.id} ${name}`).toBeLessThanOrEqual(Math.max(1e-3 * range, 1e-6));
        }
      }
    } finally {
      await a.release();
      await b.release();
    }
  }, 120_000);
});
