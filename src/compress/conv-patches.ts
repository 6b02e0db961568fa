/**
 * im2col for one output position of a 2-D Conv: the input values one output pixel reads (zeros where the window
 * falls in the padding). Shared by pruning recovery (least-squares refits) and adaptive weight rounding (input
 * covariances). Pure.
 */
import type { OnnxNode, Tensor } from '../onnx/ir.js';
import { attrInts } from '../onnx/graph.js';

/** Kernel size, strides, pads (top, left, bottom, right) and dilations of a 2-D Conv. */
export interface ConvGeometry {
  kh: number;
  kw: number;
  strides: number[];
  pads: number[];
  dil: number[];
}

/** The geometry of `node` with weight `w` ([M, C/group, kh, kw]; rank-2 weights read as 1×1). */
export function convGeometry(node: OnnxNode, w: Tensor): ConvGeometry {
  return {
    kh: w.dims[2] ?? 1,
    kw: w.dims[3] ?? 1,
    strides: attrInts(node, 'strides', [1, 1]),
    pads: attrInts(node, 'pads', [0, 0, 0, 0]),
    dil: attrInts(node, 'dilations', [1, 1]),
  };
}

/**
 * Write into `out` the patch that output position (oy, ox) of sample `n` reads from channels [c0, c1) of `xv`
 * ([N, cIn, h, wd]), channel-major then kernel row then kernel column — the order of a Conv weight's inner dims.
 */
export function convPatch(xv: Float32Array, n: number, cIn: number, h: number, wd: number, c0: number, c1: number, oy: number, ox: number, geo: ConvGeometry, out: Float64Array): void {
  const { kh, kw, strides, pads, dil } = geo;
  let idx = 0;
  for (let c = c0; c < c1; c++) {
    const base = (n * cIn + c) * h * wd;
    for (let i = 0; i < kh; i++) {
      const iy = oy * strides[0]! - pads[0]! + i * dil[0]!;
      for (let j = 0; j < kw; j++) {
        const ix = ox * strides[1]! - pads[1]! + j * dil[1]!;
        out[idx++] = iy >= 0 && iy < h && ix >= 0 && ix < wd ? xv[base + iy * wd + ix]! : 0;
      }
    }
  }
}
