/** FLOPs at given input shapes, and the uniform prune ratio that removes a given share of them (prune benches). */
import { cloneModel, type OnnxModel } from '../../src/onnx/ir.js';
import { inferTensorTypes, staticShape } from '../../src/onnx/shape-inference.js';
import { pruneChannels } from '../../src/compress/prune-channels.js';
import { modelFlops } from '../../src/profile/model-flops.js';

/** Float FLOPs of `model` at `inputShapes`. */
export function flopsOf(model: OnnxModel, inputShapes: Record<string, number[]>): number {
  const types = inferTensorTypes(model, { inputShapes });
  return modelFlops(model, (n) => staticShape(types, n)).flops;
}

/** Channel ratio (uniform) whose FLOPs removal is closest to `share`, by bisection on the unrecovered prune. */
export function uniformRatioFor(model: OnnxModel, share: number, inputShapes: Record<string, number[]>): number {
  const base = flopsOf(model, inputShapes);
  let lo = 0.01;
  let hi = 0.9;
  for (let i = 0; i < 14; i++) {
    const mid = (lo + hi) / 2;
    const m = cloneModel(model);
    pruneChannels(m, { ratio: mid });
    if (1 - flopsOf(m, inputShapes) / base < share) lo = mid;
    else hi = mid;
  }
  return hi;
}
