import { describe, expect, it } from 'vitest';
import { factorizeLowRank, tucker2, tucker2Macs } from '../../../src/compress/low-rank.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import type { OnnxModel } from '../../../src/onnx/ir.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { buildModel, seededFloats, tensorInfo } from './quantize-test-models.js';

/** A Conv kernel [M, C, 3, 3] of exact multilinear rank (rOut, rIn): G ×₀ A ×₁ B with random G, A, B. */
function tuckerKernel(m: number, c: number, rOut: number, rIn: number, noise = 0): Float32Array {
  const g = seededFloats(rOut * rIn * 9, 11);
  const a = seededFloats(m * rOut, 12);
  const b = seededFloats(c * rIn, 13);
  const e = seededFloats(m * c * 9, 14, noise);
  const w = new Float32Array(m * c * 9);
  for (let i = 0; i < m; i++) for (let j = 0; j < c; j++) for (let q = 0; q < 9; q++) {
    let v = noise ? e[(i * c + j) * 9 + q]! : 0;
    for (let o = 0; o < rOut; o++) for (let r = 0; r < rIn; r++) v += a[i * rOut + o]! * b[j * rIn + r]! * g[(o * rIn + r) * 9 + q]!;
    w[(i * c + j) * 9 + q] = v;
  }
  return w;
}

function convModel(m: number, c: number, w: Float32Array, stride = 2): OnnxModel {
  return buildModel({
    nodes: [makeNode('Conv', ['x', 'w', 'b'], ['y'], 'conv', { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), strides: attr.ints([stride, stride]) })],
    inputs: [tensorInfo('x', [1, c, 16, 16])],
    outputs: [tensorInfo('y', [1, m, 16 / stride, 16 / stride])],
    initializers: [floatTensor('w', [m, c, 3, 3], w), floatTensor('b', [m], seededFloats(m, 5))],
  });
}

/** Effective [M, C, 3, 3] kernel of a chain of Convs 1×1 → 3×3 → 1×1 (any of the 1×1s may be absent). */
function effectiveKernel(model: OnnxModel): { kernel: Float32Array; dims: number[] } {
  const weights = model.graph.nodes.map((n) => model.graph.initializers.get(n.inputs[1]!)!);
  let k = tensorToFloat32(weights[0]!);
  let dims = [...weights[0]!.dims];
  for (const w of weights.slice(1)) {
    const v = tensorToFloat32(w);
    const [mo, mi, kh, kw] = w.dims as [number, number, number, number];
    const [, ci, ph, pw] = dims as [number, number, number, number];
    // compose: out[o, c, taps] = Σ_i w[o, i, taps2] ∘ k[i, c, taps1]; one of the two is 1×1
    const th = Math.max(kh, ph);
    const tw = Math.max(kw, pw);
    const out = new Float32Array(mo * ci * th * tw);
    for (let o = 0; o < mo; o++) for (let i = 0; i < mi; i++) for (let c = 0; c < ci; c++) for (let t = 0; t < th * tw; t++) {
      const a = kh === 1 ? v[o * mi + i]! : v[(o * mi + i) * 9 + t]!;
      const b = ph === 1 ? k[i * ci + c]! : k[(i * ci + c) * 9 + t]!;
      out[(o * ci + c) * th * tw + t]! += a * b;
    }
    k = out;
    dims = [mo, ci, th, tw];
  }
  return { kernel: k, dims };
}

describe('tucker2', () => {
  it('at full ranks reproduces the kernel exactly; ‖G‖²/‖W‖² is 1', () => {
    const w = seededFloats(12 * 8 * 9, 3);
    const f = tucker2(w, 12, 8, 9, 12, 8);
    expect(f.energy).toBeCloseTo(1, 6);
    let maxErr = 0;
    for (let i = 0; i < 12; i++) for (let j = 0; j < 8; j++) for (let q = 0; q < 9; q++) {
      let v = 0;
      for (let o = 0; o < 12; o++) for (let r = 0; r < 8; r++) v += f.uOut[i * 12 + o]! * f.uIn[j * 8 + r]! * f.core[(o * 8 + r) * 9 + q]!;
      maxErr = Math.max(maxErr, Math.abs(v - w[(i * 8 + j) * 9 + q]!));
    }
    expect(maxErr).toBeLessThan(1e-5);
  });

  it('HOOI sweeps do not lose energy against the HOSVD start on a noisy kernel', () => {
    const w = tuckerKernel(24, 16, 6, 4, 0.05);
    expect(tucker2(w, 24, 16, 9, 6, 4, 3).energy).toBeGreaterThanOrEqual(tucker2(w, 24, 16, 9, 6, 4, 0).energy - 1e-9);
  });
});

describe('factorizeLowRank on a k×k Conv (Tucker-2)', () => {
  it('a kernel of multilinear rank (8, 4) becomes 1×1 → 3×3 → 1×1 with the same kernel, fewer MACs and weights', () => {
    const w = tuckerKernel(32, 24, 8, 4);
    const model = convModel(32, 24, w);
    const { layers, report } = factorizeLowRank(model, { energy: 0.999999, minElements: 1 });
    expect(layers).toHaveLength(1);
    const layer = layers[0]!;
    expect(layer.method).toBe('tucker2');
    expect([layer.rankIn, layer.rank]).toEqual([8, 8]); // 4 and 8 rounded up to the multiple of 8
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Conv', 'Conv']);
    const [first, core, last] = model.graph.nodes;
    expect(model.graph.initializers.get(first!.inputs[1]!)!.dims).toEqual([8, 24, 1, 1]);
    expect(model.graph.initializers.get(core!.inputs[1]!)!.dims).toEqual([8, 8, 3, 3]);
    expect(core!.attributes.get('strides')).toEqual(attr.ints([2, 2]));
    expect(core!.attributes.get('pads')).toEqual(attr.ints([1, 1, 1, 1]));
    expect(last!.inputs[2]).toBe('b');
    expect(last!.outputs).toEqual(['y']);
    const { kernel, dims } = effectiveKernel(model);
    expect(dims).toEqual([32, 24, 3, 3]);
    let maxErr = 0;
    let maxW = 0;
    for (let i = 0; i < w.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(kernel[i]! - w[i]!));
      maxW = Math.max(maxW, Math.abs(w[i]!));
    }
    expect(maxErr / maxW).toBeLessThan(1e-4);
    expect(layer.macsBefore).toBe(32 * 24 * 9 * 64);
    expect(layer.macsAfter).toBe(tucker2Macs(32, 24, 9, 8, 8, 256, 64));
    expect(layer.macsAfter!).toBeLessThan(layer.macsBefore!);
    expect(layer.paramsAfter).toBeLessThan(layer.paramsBefore);
    expect(report.notes[0]).toMatch(/1 Tucker-2/);
  });

  it('full-rank energy leaves the Conv alone and says why', () => {
    const model = convModel(16, 16, seededFloats(16 * 16 * 9, 7));
    expect(() => factorizeLowRank(model, { energy: 1, minElements: 1 })).toThrow(/Tucker-2 ranks \(16, 16\) are full/);
    expect(model.graph.nodes).toHaveLength(1);
  });

  it('--ratio keeps the weights within the budget; a narrow side keeps its identity projection out', () => {
    const model = convModel(64, 4, seededFloats(64 * 4 * 9, 8), 1);
    const { layers } = factorizeLowRank(model, { ratio: 0.5, minElements: 1 });
    const layer = layers[0]!;
    expect(layer.paramsAfter).toBeLessThanOrEqual(0.5 * layer.paramsBefore);
    expect(layer.macsAfter!).toBeLessThan(layer.macsBefore!);
    expect(model.graph.nodes.length).toBeGreaterThanOrEqual(2);
  });

  it('tucker: false keeps k×k Convs as they are', () => {
    const model = convModel(32, 24, tuckerKernel(32, 24, 8, 4));
    expect(() => factorizeLowRank(model, { energy: 0.99, minElements: 1, tucker: false })).toThrow(/no layer to factorise/);
  });
});
