import { describe, expect, it } from 'vitest';
import { factorizeLowRank, rankForEnergy } from '../../../src/compress/low-rank.js';
import { sparsifyModel } from '../../../src/compress/sparsify.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { buildModel, randomWeight, seededFloats, tensorInfo } from './quantize-test-models.js';

/** W [K,N] = L [K,r] · R [r,N]: exactly rank r. */
function lowRankWeight(k: number, n: number, r: number): Float32Array {
  const l = seededFloats(k * r, 1);
  const rr = seededFloats(r * n, 2);
  const w = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) for (let t = 0; t < r; t++) w[i * n + j]! += l[i * r + t]! * rr[t * n + j]!;
  return w;
}

function matmulModel(k: number, n: number, r: number) {
  return buildModel({
    nodes: [makeNode('MatMul', ['x', 'w'], ['y'], 'mm')],
    inputs: [tensorInfo('x', ['N', k])],
    outputs: [tensorInfo('y', ['N', n])],
    initializers: [floatTensor('w', [k, n], lowRankWeight(k, n, r))],
  });
}

describe('rankForEnergy', () => {
  it('is the smallest rank keeping the energy', () => {
    expect(rankForEnergy([3, 2, 1], 9 / 14)).toBe(1);
    expect(rankForEnergy([3, 2, 1], 0.92)).toBe(2);
    expect(rankForEnergy([3, 2, 1], 0.93)).toBe(3);
    expect(rankForEnergy([3, 2, 1], 1)).toBe(3);
  });
});

describe('factorizeLowRank', () => {
  it('an exactly rank-4 MatMul weight becomes two MatMuls of rank ≤ 8 reproducing W', () => {
    const model = matmulModel(96, 64, 4);
    const w = model.graph.initializers.get('w')!.values as Float32Array;
    const { layers } = factorizeLowRank(model, { energy: 0.999999 });
    expect(layers).toHaveLength(1);
    expect(layers[0]!.rank).toBe(8); // 4 rounded up to the multiple of 8 (still below break-even 38)
    expect(model.graph.nodes.map((x) => x.opType)).toEqual(['MatMul', 'MatMul']);
    const a = model.graph.initializers.get(model.graph.nodes[0]!.inputs[1]!)!;
    const b = model.graph.initializers.get(model.graph.nodes[1]!.inputs[1]!)!;
    expect(a.dims).toEqual([96, 8]);
    expect(b.dims).toEqual([8, 64]);
    const av = a.values as Float32Array;
    const bv = b.values as Float32Array;
    let maxErr = 0;
    for (let i = 0; i < 96; i++) {
      for (let j = 0; j < 64; j++) {
        let s = 0;
        for (let t = 0; t < 8; t++) s += av[i * 8 + t]! * bv[t * 64 + j]!;
        maxErr = Math.max(maxErr, Math.abs(s - w[i * 64 + j]!));
      }
    }
    expect(maxErr).toBeLessThan(1e-3);
    expect(model.graph.initializers.has('w')).toBe(false);
  });

  it('--ratio sets a parameter budget; a full-rank layer that would not save is kept and named', () => {
    const m = matmulModel(96, 64, 64);
    const { layers } = factorizeLowRank(m, { ratio: 0.5 });
    expect(layers[0]!.paramsAfter).toBeLessThanOrEqual(0.5 * 96 * 64);
    const full = buildModel({
      nodes: [makeNode('Gemm', ['x', 'w', 'b'], ['y'], 'fc', { transB: attr.int(1) }), makeNode('Conv', ['y4', 'cw'], ['z'], 'conv3')],
      inputs: [tensorInfo('x', ['N', 64]), tensorInfo('y4', ['N', 8, 4, 4])],
      outputs: [tensorInfo('y', ['N', 64]), tensorInfo('z', ['N', 8, 4, 4])],
      initializers: [randomWeight('w', [64, 64], 3), randomWeight('b', [64], 4), randomWeight('cw', [8, 8, 3, 3], 5)],
    });
    expect(() => factorizeLowRank(full, { energy: 0.9999, minElements: 1 })).toThrow(/no layer to factorise.*fc.*break-even/);
  });
});

describe('sparsifyModel', () => {
  it('zeros the smallest weights to the target per layer and reports gzip sizes', () => {
    const model = matmulModel(64, 64, 64);
    const before = Float32Array.from(model.graph.initializers.get('w')!.values as Float32Array);
    const { report } = sparsifyModel(model, { sparsity: 0.75 });
    const after = model.graph.initializers.get('w')!.values as Float32Array;
    const zeros = after.filter((v) => v === 0).length;
    expect(zeros).toBe(3072);
    // every kept weight is at least as large as every removed one
    let maxRemoved = 0;
    let minKept = Infinity;
    after.forEach((v, i) => {
      if (v === 0) maxRemoved = Math.max(maxRemoved, Math.abs(before[i]!));
      else minKept = Math.min(minKept, Math.abs(v));
    });
    expect(maxRemoved).toBeLessThanOrEqual(minKept);
    const gz = (report.details as { gzipBytes: { before: number; after: number } }).gzipBytes;
    expect(gz.after).toBeLessThan(gz.before);
    expect(report.notes.join(' ')).toMatch(/not faster|no speed-up/);
  });

  it('global scope uses one threshold; bad sparsity → USAGE', () => {
    const model = buildModel({
      nodes: [makeNode('MatMul', ['x', 'a'], ['h'], 'm1'), makeNode('MatMul', ['h', 'b'], ['y'], 'm2')],
      inputs: [tensorInfo('x', ['N', 16])],
      outputs: [tensorInfo('y', ['N', 16])],
      initializers: [randomWeight('a', [16, 16], 1, 1), randomWeight('b', [16, 16], 2, 0.01)],
    });
    sparsifyModel(model, { sparsity: 0.5, scope: 'global', minElements: 1 });
    const zerosB = (model.graph.initializers.get('b')!.values as Float32Array).filter((v) => v === 0).length;
    const zerosA = (model.graph.initializers.get('a')!.values as Float32Array).filter((v) => v === 0).length;
    expect(zerosA + zerosB).toBe(256);
    expect(zerosB).toBeGreaterThan(240); // the small-scale layer loses (nearly) everything under one global threshold
    expect(() => sparsifyModel(model, { sparsity: 1 })).toThrow(/sparsity/);
  });
});
