/**
 * Quantization arithmetic, bit for bit as onnxruntime's tool and kernels do it (notes/onnx-quantization.md §1):
 * r = s·(q − z), QuantizeLinear rounds half to even and saturates.
 */

/** An integer type for quantized values. */
export type QuantType = 'uint8' | 'int8';

/** Scale and zero point of one tensor or one channel. */
export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** The [qmin, qmax] range of a quant type, per the table in §1. */
export function quantRange(type: QuantType, symmetric: boolean, reduceRange: boolean): [number, number] {
  if (type === 'uint8') {
    if (reduceRange) return [0, 127];
    return symmetric ? [0, 254] : [0, 255];
  }
  if (reduceRange) return [-64, 64];
  return symmetric ? [-127, 127] : [-128, 127];
}

/** Round half to even, as QuantizeLinear does. */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const FLOAT32_TINY = 1.1754943508222875e-38;

/** compute_scale_zp: the range always includes zero; symmetric ranges are centred. */
export function computeQuantParams(rmin: number, rmax: number, qmin: number, qmax: number, symmetric: boolean): QuantParams {
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { scale: 1, zeroPoint: 0 };
  if (symmetric) {
    const absMax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absMax;
    hi = absMax;
  }
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  if (scale < FLOAT32_TINY) return { scale: 1, zeroPoint: symmetric ? roundHalfToEven((qmin + qmax) / 2) : 0 };
  const zeroPoint = symmetric ? roundHalfToEven((qmin + qmax) / 2) : roundHalfToEven(qmin - lo / scale);
  return { scale, zeroPoint: Math.min(Math.max(zeroPoint, qmin), qmax) };
}

/** q = saturate(round(x / s) + z) over the full range of the type. */
export function quantizeValue(x: number, params: QuantParams, type: QuantType): number {
  const [lo, hi] = type === 'uint8' ? [0, 255] : [-128, 127];
  const q = roundHalfToEven(x / params.scale) + params.zeroPoint;
  return q < lo ? lo : q > hi ? hi : q;
}

/** Per-channel symmetric int8 quantization of a weight along `axis`; returns values, scales (zero points are 0). */
export function quantizeWeightPerChannel(
  weights: Float32Array,
  dims: readonly number[],
  axis: number,
  reduceRange: boolean,
): { values: Int8Array; scales: Float32Array } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const [qmin, qmax] = quantRange('int8', true, reduceRange);
  const absMax = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) absMax[c] = Math.max(absMax[c]!, Math.abs(weights[base + i]!));
    }
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = computeQuantParams(-absMax[c]!, absMax[c]!, qmin, qmax, true).scale;
  const values = new Int8Array(weights.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const params = { scale: scales[c]!, zeroPoint: 0 };
      for (let i = 0; i < inner; i++) values[base + i] = quantizeValue(weights[base + i]!, params, 'int8');
    }
  }
  return { values, scales };
}

/** Per-tensor symmetric int8 quantization of a weight. */
export function quantizeWeightPerTensor(weights: Float32Array, reduceRange: boolean): { values: Int8Array; scale: number } {
  let absMax = 0;
  for (let i = 0; i < weights.length; i++) absMax = Math.max(absMax, Math.abs(weights[i]!));
  const [qmin, qmax] = quantRange('int8', true, reduceRange);
  const params = computeQuantParams(-absMax, absMax, qmin, qmax, true);
  const values = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) values[i] = quantizeValue(weights[i]!, { scale: params.scale, zeroPoint: 0 }, 'int8');
  return { values, scale: params.scale };
}

const INT32_LIMIT = 2 ** 31 - 1;

/**
 * int32 bias with scale = inputScale × weightScale[c] (§4). Where a bias would overflow int32, the channel's weight
 * scale must grow: returns the factors by which each weight scale was raised (1 where none was needed).
 */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { values: Int32Array; scales: Float32Array; weightScaleGrowth: Float64Array } {
  const n = bias.length;
  const values = new Int32Array(n);
  const scales = new Float32Array(n);
  const growth = new Float64Array(n).fill(1);
  for (let c = 0; c < n; c++) {
    const ws = weightScales.length === 1 ? weightScales[0]! : weightScales[c]!;
    let s = Math.fround(inputScale * ws);
    if (Math.abs(bias[c]!) / s >= INT32_LIMIT) {
      const needed = (Math.abs(bias[c]!) / INT32_LIMIT) * 1.01;
      growth[c] = needed / s;
      s = Math.fround(needed);
    }
    scales[c] = s;
    values[c] = s > 0 ? roundHalfToEven(bias[c]! / s) : 0;
  }
  return { values, scales, weightScaleGrowth: growth };
}
