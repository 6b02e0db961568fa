/**
 * Low-rank factorisation (pure): a Gemm / MatMul with a constant 2-D weight, or a 1×1 Conv, becomes two layers
 * through a truncated SVD W [K,N] ≈ (U_r·√Σ_r) (√Σ_r·V_rᵀ). The rank is the smallest keeping `energy` of Σσ², or
 * set by a parameter budget `ratio`; a layer is only factorised when r·(K+N) < K·N, so it saves FLOPs and bytes.
 * k×k Conv (Tucker-2) is not factorised yet: those layers are listed as kept.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import type { OnnxModel, OnnxNode } from '../onnx/ir.js';
import { defaultOpset } from '../onnx/ir.js';
import { attr, attrFloat, attrInt, makeNode, nameFactory } from '../onnx/graph.js';
import { DataType } from '../onnx/dtype.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { floatInitializer } from './prune-channels.js';
import type { KeptNode, PassResult } from './pass.js';
import { EdgetuneError } from '../util/errors.js';

/** Options for low-rank factorisation. */
export interface LowRankOptions {
  /** Retained singular-value energy Σσ²(≤r)/Σσ² (default 0.95). Ignored when `ratio` is given. */
  energy?: number;
  /** Parameter budget: each factorised layer keeps at most (1 − ratio) of its weights. */
  ratio?: number;
  /** Round ranks up to a multiple of this when it still saves (default 8). */
  rankMultiple?: number;
  /** Skip layers with fewer weights (default 4096). */
  minElements?: number;
}

/** One factorised layer. */
export interface LowRankLayer {
  node: string;
  k: number;
  n: number;
  rank: number;
  energy: number;
  paramsBefore: number;
  paramsAfter: number;
}

/** Rank for retained energy τ from singular values (descending). */
export function rankForEnergy(sigma: readonly number[], energy: number): number {
  let total = 0;
  for (const s of sigma) total += s * s;
  let acc = 0;
  for (let r = 0; r < sigma.length; r++) {
    acc += sigma[r]! * sigma[r]!;
    if (acc >= energy * total) return r + 1;
  }
  return sigma.length;
}

/** Factorise eligible layers (mutates and returns the model). */
export function factorizeLowRank(model: OnnxModel, options: LowRankOptions = {}): PassResult & { layers: LowRankLayer[] } {
  const energy = options.energy ?? 0.95;
  if (options.ratio !== undefined && !(options.ratio > 0 && options.ratio < 1)) throw new EdgetuneError('USAGE', `--ratio must be in (0, 1) for lowrank; got ${options.ratio}`);
  if (!(energy > 0 && energy <= 1)) throw new EdgetuneError('USAGE', `--energy must be in (0, 1]; got ${energy}`);
  const multiple = options.rankMultiple ?? 8;
  const minElements = options.minElements ?? 4096;
  const graph = model.graph;
  const fresh = nameFactory(graph);
  const uses = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  const layers: LowRankLayer[] = [];
  const kept: KeptNode[] = [];
  const out: OnnxNode[] = [];
  for (const node of graph.nodes) {
    const label = node.name || node.outputs[0]!;
    const w = graph.initializers.get(node.inputs[1] ?? '');
    const isDefault = node.domain === '' || node.domain === 'ai.onnx';
    let kind: 'MatMul' | 'Gemm' | 'Conv1x1' | null = null;
    if (isDefault && w && w.dataType === DataType.FLOAT) {
      if (node.opType === 'MatMul' && w.dims.length === 2) kind = 'MatMul';
      else if (node.opType === 'Gemm' && w.dims.length === 2 && attrInt(node, 'transA', 0) === 0) kind = 'Gemm';
      else if (node.opType === 'Conv' && w.dims.length === 4 && w.dims[2] === 1 && w.dims[3] === 1 && attrInt(node, 'group', 1) === 1) kind = 'Conv1x1';
      else if (node.opType === 'Conv' && w.dims.length === 4) kept.push({ node: label, opType: 'Conv', reason: 'k×k Conv: Tucker-2 not implemented' });
    }
    if (!kind || !w || w.values.length < minElements) {
      out.push(node);
      continue;
    }
    const transB = kind === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
    const values = tensorToFloat32(w);
    // W as [K (in), N (out)]
    const k = kind === 'Conv1x1' ? w.dims[1]! : transB ? w.dims[1]! : w.dims[0]!;
    const n = kind === 'Conv1x1' ? w.dims[0]! : transB ? w.dims[0]! : w.dims[1]!;
    const inOut = new Matrix(k, n);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) inOut.set(i, j, kind === 'Conv1x1' || transB ? values[j * k + i]! : values[i * n + j]!);
    const svd = new SingularValueDecomposition(inOut, { autoTranspose: true });
    const sigma = svd.diagonal;
    const breakEven = Math.floor((k * n) / (k + n));
    let rank = options.ratio !== undefined ? Math.max(1, Math.floor(((1 - options.ratio) * k * n) / (k + n))) : rankForEnergy(sigma, energy);
    if (multiple > 1 && options.ratio !== undefined && rank >= multiple) rank = Math.floor(rank / multiple) * multiple;
    else if (multiple > 1 && Math.ceil(rank / multiple) * multiple < breakEven) rank = Math.ceil(rank / multiple) * multiple;
    rank = Math.min(rank, sigma.length);
    if (rank * (k + n) >= k * n) {
      kept.push({ node: label, opType: node.opType, reason: `rank ${rank} for the energy target does not save (break-even ${breakEven})` });
      out.push(node);
      continue;
    }
    let total = 0;
    let keptEnergy = 0;
    sigma.forEach((s, i) => {
      total += s * s;
      if (i < rank) keptEnergy += s * s;
    });
    const u = svd.leftSingularVectors;
    const v = svd.rightSingularVectors;
    // A [K, r] = U_r √Σ, B [r, N] = √Σ V_rᵀ
    const a = new Float32Array(k * rank);
    const b = new Float32Array(rank * n);
    for (let r = 0; r < rank; r++) {
      const s = Math.sqrt(sigma[r]!);
      for (let i = 0; i < k; i++) a[i * rank + r] = u.get(i, r) * s;
      for (let j = 0; j < n; j++) b[r * n + j] = v.get(j, r) * s;
    }
    const mid = fresh(`${node.outputs[0]}_lowrank`);
    const aName = fresh(`${w.name}_lowrank_a`);
    const bName = fresh(`${w.name}_lowrank_b`);
    if (kind === 'MatMul') {
      graph.initializers.set(aName, floatInitializer(aName, [k, rank], a));
      graph.initializers.set(bName, floatInitializer(bName, [rank, n], b));
      out.push(makeNode('MatMul', [node.inputs[0]!, aName], [mid], fresh(`${label}_lowrank_1`)));
      out.push(makeNode('MatMul', [mid, bName], [...node.outputs], fresh(`${label}_lowrank_2`)));
    } else if (kind === 'Gemm') {
      const alpha = attrFloat(node, 'alpha', 1);
      if (alpha !== 1) for (let i = 0; i < b.length; i++) b[i]! *= alpha;
      graph.initializers.set(aName, floatInitializer(aName, [k, rank], a));
      graph.initializers.set(bName, floatInitializer(bName, [rank, n], b));
      out.push(makeNode('MatMul', [node.inputs[0]!, aName], [mid], fresh(`${label}_lowrank_1`)));
      out.push(makeNode('Gemm', [mid, bName, ...(node.inputs[2] ? [node.inputs[2]] : [])], [...node.outputs], fresh(`${label}_lowrank_2`), { beta: attr.float(attrFloat(node, 'beta', 1)) }));
    } else {
      // Conv weights [out, in, 1, 1]: first A^T [r, K], then B^T [N, r]
      const at = new Float32Array(rank * k);
      for (let i = 0; i < k; i++) for (let r = 0; r < rank; r++) at[r * k + i] = a[i * rank + r]!;
      const bt = new Float32Array(n * rank);
      for (let r = 0; r < rank; r++) for (let j = 0; j < n; j++) bt[j * rank + r] = b[r * n + j]!;
      graph.initializers.set(aName, floatInitializer(aName, [rank, k, 1, 1], at));
      graph.initializers.set(bName, floatInitializer(bName, [n, rank, 1, 1], bt));
      const first = makeNode('Conv', [node.inputs[0]!, aName], [mid], fresh(`${label}_lowrank_1`));
      for (const [key, value] of node.attributes) if (key !== 'group') first.attributes.set(key, value);
      out.push(first);
      out.push(makeNode('Conv', [mid, bName, ...(node.inputs[2] ? [node.inputs[2]] : [])], [...node.outputs], fresh(`${label}_lowrank_2`), { kernel_shape: attr.ints([1, 1]) }));
    }
    if ((uses.get(w.name) ?? 0) <= 1) graph.initializers.delete(w.name);
    layers.push({ node: label, k, n, rank, energy: total > 0 ? keptEnergy / total : 1, paramsBefore: k * n, paramsAfter: rank * (k + n) });
  }
  if (layers.length === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `no layer to factorise: ${kept.map((x) => `${x.node}: ${x.reason}`).slice(0, 5).join('; ') || 'no Gemm/MatMul with a constant 2-D weight or 1×1 Conv large enough'}`);
  graph.nodes = out;
  graph.valueInfo = graph.valueInfo.filter((vi) => !layers.some((l) => vi.name === l.node));
  const opset = defaultOpset(model);
  const before = layers.reduce((s, l) => s + l.paramsBefore, 0);
  const after = layers.reduce((s, l) => s + l.paramsAfter, 0);
  return {
    model,
    layers,
    report: {
      pass: 'lowrank',
      nodesChanged: layers.length,
      nodesKeptFloat: kept,
      opset: { from: opset, to: opset },
      notes: [`${layers.length} layer(s) factorised by truncated SVD: ${before} → ${after} weights in those layers`, ...(kept.some((x) => x.reason.startsWith('k×k')) ? ['k×k Conv layers (Tucker-2) are not factorised by this build'] : [])],
      details: { energy: options.ratio === undefined ? energy : null, ratio: options.ratio ?? null, layers },
    },
  };
}
