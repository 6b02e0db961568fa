/**
 * Where recovery samples the rows of a layer's least-squares problem: by default uniformly over the feature map's
 * positions; with a dense-prediction model (outputs that are maps, [N, C, H, W]) partly where the original model's
 * output stands out from its background — the objects. A detector's text or score map is ~0 on most of an image, so
 * uniformly sampled rows teach the refit mostly to reproduce background.
 */
import { elementCount } from '../onnx/ir.js';

/** One output map of the original model for one sample: values [C, H, W]. */
export interface OutputMap {
  values: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** The output maps of sample `n` of a batch of rank-4 outputs ([N, C, H, W]); others are skipped. */
export function outputMapsOf(outputs: ReadonlyArray<{ values: Float32Array; dims: readonly number[] }>, n: number): OutputMap[] {
  const maps: OutputMap[] = [];
  for (const o of outputs) {
    if (o.dims.length !== 4 || !(o.dims[2]! > 1 && o.dims[3]! > 1)) continue;
    const size = elementCount(o.dims.slice(1));
    maps.push({ values: o.values.subarray(n * size, (n + 1) * size), channels: o.dims[1]!, height: o.dims[2]!, width: o.dims[3]! });
  }
  return maps;
}

/**
 * Weight of each position of a `height` × `width` feature map: the largest contrast (|value − the map's median|,
 * per channel) of any output pixel the position covers, each map scaled to a maximum of 1; maps combined by max.
 * All zeros when no map has contrast.
 */
export function objectWeights(maps: readonly OutputMap[], height: number, width: number): Float64Array {
  const weights = new Float64Array(height * width);
  for (const map of maps) {
    const plane = map.height * map.width;
    const contrast = new Float64Array(plane);
    for (let c = 0; c < map.channels; c++) {
      const values = map.values.subarray(c * plane, (c + 1) * plane);
      const median = medianOf(values);
      for (let i = 0; i < plane; i++) contrast[i] = Math.max(contrast[i]!, Math.abs(values[i]! - median));
    }
    let max = 0;
    for (let i = 0; i < plane; i++) max = Math.max(max, contrast[i]!);
    if (!(max > 0)) continue;
    for (let y = 0; y < height; y++) {
      const y0 = Math.floor((y * map.height) / height);
      const y1 = Math.max(y0 + 1, Math.ceil(((y + 1) * map.height) / height));
      for (let x = 0; x < width; x++) {
        const x0 = Math.floor((x * map.width) / width);
        const x1 = Math.max(x0 + 1, Math.ceil(((x + 1) * map.width) / width));
        let w = 0;
        for (let oy = y0; oy < Math.min(y1, map.height); oy++) for (let ox = x0; ox < Math.min(x1, map.width); ox++) w = Math.max(w, contrast[oy * map.width + ox]!);
        weights[y * width + x] = Math.max(weights[y * width + x]!, w / max);
      }
    }
  }
  return weights;
}

function medianOf(values: Float32Array): number {
  const sorted = Float32Array.from(values).sort();
  return sorted.length ? sorted[sorted.length >> 1]! : 0;
}

/**
 * A sampler of positions: with probability `objectShare` by `weights`, otherwise uniformly (uniform throughout when
 * the weights are all zero). `rand` returns [0, 1).
 */
export function positionSampler(weights: Float64Array, objectShare: number, rand: () => number): () => number {
  const n = weights.length;
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cumulative[i] = total += weights[i]!;
  if (!(total > 0) || objectShare <= 0) return () => Math.floor(rand() * n);
  return () => {
    if (rand() >= objectShare) return Math.floor(rand() * n);
    const u = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}
