import { runInt8Pipeline } from '../int8-pipeline.js';
import { quantizeDynamic } from '../quantize-dynamic.js';
import { quantizeFp16 } from '../quantize-fp16.js';
import { quantizeInt4 } from '../quantize-int4.js';
import type { CompressMethodRunner } from './method-types.js';
import { EdgetuneError } from '../../util/errors.js';

/** `int8`: static QDQ with calibration, optional mixed precision. */
export const int8Method: CompressMethodRunner = {
  minOpset: 13,
  needsData: true,
  async run({ model, dataset, options, onProgress, signal }) {
    if (!dataset) throw new EdgetuneError('USAGE', 'int8 needs calibration data: --data DIR (ONNX test-data layout)');
    const result = await runInt8Pipeline(model, dataset, {
      calibration: options.calibration ?? 'minmax',
      ...(options.percentile !== undefined ? { percentile: options.percentile } : {}),
      activationType: options.symmetric ? 'int8' : 'uint8',
      perChannel: options.perChannel ?? true,
      reduceRange: options.reduceRange ?? false,
      keepFloatMode: options.keepFloat ?? 'none',
      ...(options.maxAccuracyDropPp !== undefined ? { maxAccuracyDropPp: options.maxAccuracyDropPp } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
    if (result.fusedHardSwish > 0) result.report.notes.push(`${result.fusedHardSwish} hard-swish pattern(s) fused into HardSwish before quantizing`);
    if (result.foldedAffine > 0) result.report.notes.push(`${result.foldedAffine} constant Mul/Add step(s) after a Conv folded into its weights`);
    if (result.foldedBatchNorms.length > 0) result.report.notes.push(`${result.foldedBatchNorms.length} BatchNormalization node(s) folded into the Conv before them`);
    if (result.accuracy) result.report.details = { ...result.report.details, accuracy: result.accuracy };
    return { model: result.model, report: result.report, calibration: result.calibration };
  },
};

/** `int8-dynamic`: runtime-quantized activations for MatMul/Gemm. */
export const int8DynamicMethod: CompressMethodRunner = {
  minOpset: 11,
  needsData: false,
  async run({ model, options }) {
    const keepFloat = Array.isArray(options.keepFloat) ? options.keepFloat : [];
    return quantizeDynamic(model, { ...(options.reduceRange !== undefined ? { reduceRange: options.reduceRange } : {}), perChannel: options.perChannel ?? false, keepFloat });
  },
};

/** `fp16`: float16 weights and compute, float32 IO. */
export const fp16Method: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run({ model, options }) {
    return quantizeFp16(model, { keepFloat: Array.isArray(options.keepFloat) ? options.keepFloat : [] });
  },
};

/** `int4`: weight-only MatMulNBits. */
export const int4Method: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run({ model, options }) {
    return quantizeInt4(model, { blockSize: options.blockSize ?? 32, keepFloat: Array.isArray(options.keepFloat) ? options.keepFloat : [] });
  },
};
