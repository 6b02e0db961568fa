/**
 * Low-rank factorisation (pure): a Gemm / MatMul with a constant 2-D weight, or a 1×1 Conv, becomes two layers
 * through a truncated SVD W [K,N] ≈ (U_r·√Σ_r) (√Σ_r·V_rᵀ). The rank is the smallest keeping `energy` of Σσ², or
 * set by a parameter budget `ratio`; a layer is only factorised when r·(K+N) < K·N, so it saves FLOPs and bytes.
 * A k×k Conv (group 1) becomes Tucker-2: 1×1 C→R_in, k×k R_in→R_out with the original strides/pads/dilations,
 * 1×1 R_out→M with the bias; ranks from the SVDs of the kernel's mode-0/mode-1 unfoldings (HOSVD, then two HOOI
 * sweeps), kept only when the three layers need fewer multiply-accumulates and weights than the original.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import type { OnnxModel, OnnxNode } from '../onnx/ir.js';
import { defaultOpset } from '../onnx/ir.js';
import { attr, attrFloat, attrInt, attrInts, makeNode, nameFactory } from '../onnx/graph.js';
import { DataType } from '../onnx/dtype.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { floatInitializer } from './prune-channels.js';
import { inferTensorTypes } from '../onnx/shape-inference.js';
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
  /** Per-layer retained energy by node label (name, else first output); overrides `energy` / `ratio` there. */
  layerEnergy?: ReadonlyMap<string, number>;
  /** Only factorise these layers (node labels); others are left as they are. */
  onlyLayers?: ReadonlySet<string>;
  /** Tucker-2 for k×k Convs (default true). */
  tucker?: boolean;
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
  /** 'svd' (two layers) or 'tucker2' (three Convs; `k` = C·kh·kw, `n` = M, `rank` = rankOut). */
  method: 'svd' | 'tucker2';
  /** Tucker-2 input rank R_in (C when the input projection is skipped). */
  rankIn?: number;
  /** Multiply-accumulates per sample before/after, where the spatial shape is known statically. */
  macsBefore?: number | null;
  macsAfter?: number | null;
}

/** A layer `factorizeLowRank` can factorise: its label, op and weight count. */
export interface LowRankCandidate {
  node: string;
  kind: 'MatMul' | 'Gemm' | 'Conv1x1' | 'ConvKxK';
  weights: number;
}

function candidateKind(model: OnnxModel, node: OnnxNode, tucker: boolean): LowRankCandidate['kind'] | null {
  const w = model.graph.initializers.get(node.inputs[1] ?? '');
  const isDefault = node.domain === '' || node.domain === 'ai.onnx';
  if (!isDefault || !w || w.dataType !== DataType.FLOAT) return null;
  if (node.opType === 'MatMul' && w.dims.length === 2) return 'MatMul';
  if (node.opType === 'Gemm' && w.dims.length === 2 && attrInt(node, 'transA', 0) === 0) return 'Gemm';
  if (node.opType === 'Conv' && w.dims.length === 4 && attrInt(node, 'group', 1) === 1) return w.dims[2] === 1 && w.dims[3] === 1 ? 'Conv1x1' : tucker ? 'ConvKxK' : null;
  return null;
}

/** Layers with a constant float weight of at least `minElements` that the pass could factorise, largest first. */
export function lowRankCandidates(model: OnnxModel, options: Pick<LowRankOptions, 'minElements' | 'tucker'> = {}): LowRankCandidate[] {
  const minElements = options.minElements ?? 4096;
  const out: LowRankCandidate[] = [];
  for (const node of model.graph.nodes) {
    const kind = candidateKind(model, node, options.tucker ?? true);
    const w = model.graph.initializers.get(node.inputs[1] ?? '');
    if (kind && w && w.values.length >= minElements) out.push({ node: node.name || node.outputs[0]!, kind, weights: w.values.length });
  }
  return out.sort((a, b) => b.weights - a.weights);
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
  const tucker = options.tucker ?? true;
  let types: ReturnType<typeof inferTensorTypes> | null = null;
  for (const node of graph.nodes) {
    const label = node.name || node.outputs[0]!;
    const w = graph.initializers.get(node.inputs[1] ?? '');
    const kind = candidateKind(model, node, tucker);
    if (!kind && node.opType === 'Conv' && w && w.dims.length === 4 && attrInt(node, 'group', 1) !== 1) kept.push({ node: label, opType: 'Conv', reason: 'grouped/depthwise Conv: not factorised' });
    if (!kind || !w || w.values.length < minElements || (options.onlyLayers && !options.onlyLayers.has(label))) {
      out.push(node);
      continue;
    }
    const layerEnergy = options.layerEnergy?.get(label);
    if (layerEnergy !== undefined && !(layerEnergy > 0 && layerEnergy <= 1)) throw new EdgetuneError('USAGE', `energy for ${label} must be in (0, 1]; got ${layerEnergy}`);
    if (kind === 'ConvKxK') {
      types ??= inferTensorTypes(model);
      const result = tuckerLayer(model, node, label, fresh, types, { energy: layerEnergy ?? energy, ratio: layerEnergy === undefined ? options.ratio : undefined, multiple });
      if ('reason' in result) {
        kept.push({ node: label, opType: 'Conv', reason: result.reason });
        out.push(node);
        continue;
      }
      out.push(...result.nodes);
      if ((uses.get(w.name) ?? 0) <= 1) graph.initializers.delete(w.name);
      layers.push(result.layer);
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
    const ratio = layerEnergy === undefined ? options.ratio : undefined;
    let rank = ratio !== undefined ? Math.max(1, Math.floor(((1 - ratio) * k * n) / (k + n))) : rankForEnergy(sigma, layerEnergy ?? energy);
    if (multiple > 1 && ratio !== undefined && rank >= multiple) rank = Math.floor(rank / multiple) * multiple;
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
    layers.push({ node: label, k, n, rank, energy: total > 0 ? keptEnergy / total : 1, paramsBefore: k * n, paramsAfter: rank * (k + n), method: 'svd' });
  }
  if (layers.length === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `no layer to factorise: ${kept.map((x) => `${x.node}: ${x.reason}`).slice(0, 5).join('; ') || 'no Gemm/MatMul with a constant 2-D weight or Conv (group 1) large enough'}`);
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
      notes: [
        `${layers.length} layer(s) factorised (${layers.filter((l) => l.method === 'svd').length} truncated SVD, ${layers.filter((l) => l.method === 'tucker2').length} Tucker-2): ${before} → ${after} weights in those layers`,
      ],
      details: { energy: options.ratio === undefined ? energy : null, ratio: options.ratio ?? null, layers },
    },
  };
}

/** Round a rank up to a multiple when that stays below the dimension. */
function roundRank(rank: number, dim: number, multiple: number): number {
  if (multiple > 1 && Math.ceil(rank / multiple) * multiple < dim) return Math.ceil(rank / multiple) * multiple;
  return Math.min(rank, dim);
}

/** Replace one k×k Conv by its Tucker-2 (1×1 → k×k core → 1×1), or say why not. */
function tuckerLayer(
  model: OnnxModel,
  node: OnnxNode,
  label: string,
  fresh: (base: string) => string,
  types: ReturnType<typeof inferTensorTypes>,
  choice: { energy: number; ratio: number | undefined; multiple: number },
): { nodes: OnnxNode[]; layer: LowRankLayer } | { reason: string } {
  const graph = model.graph;
  const w = graph.initializers.get(node.inputs[1]!)!;
  const [m, c, kh, kw] = w.dims as [number, number, number, number];
  const p = kh * kw;
  const values = tensorToFloat32(w);
  // Spatial sizes only: the batch dimension may be symbolic.
  const pixels = (name: string): number | null => {
    const shape = types.get(name)?.shape;
    const h = shape?.[2];
    const wd = shape?.[3];
    return shape && shape.length === 4 && typeof h === 'number' && typeof wd === 'number' ? h * wd : null;
  };
  const outPixels = pixels(node.outputs[0]!);
  const inShapePixels = pixels(node.inputs[0]!);
  const strides = attrInts(node, 'strides', [1, 1]);
  const inPixels = inShapePixels !== null ? inShapePixels : outPixels !== null ? outPixels * strides[0]! * (strides[1] ?? 1) : null;
  // Without static shapes, compare per-output-pixel costs with the input projection weighted by the stride.
  const outPx = outPixels ?? 1;
  const inPx = inPixels ?? strides[0]! * (strides[1] ?? 1);
  const macsBefore = m * c * p * outPx;
  const paramsBefore = m * c * p;
  const cost = (ro: number, ri: number): { macs: number; params: number } => ({ macs: tucker2Macs(m, c, p, ro, ri, inPx, outPx), params: tucker2Params(m, c, p, ro, ri) });
  let rankOut: number;
  let rankIn: number;
  if (choice.ratio !== undefined) {
    // Parameter budget: shrink both ranks in proportion to their dimensions until the weights fit.
    const budget = (1 - choice.ratio) * paramsBefore;
    rankOut = 1;
    rankIn = 1;
    for (let step = 64; step >= 1; step--) {
      let ro = Math.max(1, Math.round((m * step) / 64));
      let ri = Math.max(1, Math.round((c * step) / 64));
      if (choice.multiple > 1 && ro >= choice.multiple) ro = Math.floor(ro / choice.multiple) * choice.multiple;
      if (choice.multiple > 1 && ri >= choice.multiple) ri = Math.floor(ri / choice.multiple) * choice.multiple;
      if (cost(ro, ri).params <= budget) {
        rankOut = ro;
        rankIn = ri;
        break;
      }
    }
  } else {
    const spectra = tuckerModeSpectra(values, m, c, p);
    rankOut = roundRank(rankForEnergy(spectra.out, choice.energy), m, choice.multiple);
    rankIn = roundRank(rankForEnergy(spectra.in, choice.energy), c, choice.multiple);
  }
  const after = cost(rankOut, rankIn);
  if (rankOut >= m && rankIn >= c) return { reason: `Tucker-2 ranks (${rankIn}, ${rankOut}) are full: nothing to save` };
  if (after.macs >= macsBefore || after.params >= paramsBefore) {
    return { reason: `Tucker-2 ranks (${rankIn}, ${rankOut}) do not save (${after.macs} ≥ ${macsBefore} MACs or ${after.params} ≥ ${paramsBefore} weights)` };
  }
  const f = tucker2(values, m, c, p, Math.min(rankOut, m), Math.min(rankIn, c));
  const skipIn = f.rankIn >= c;
  const skipOut = f.rankOut >= m;
  const nodes: OnnxNode[] = [];
  let x = node.inputs[0]!;
  // Core kernel in the kept bases; a skipped projection uses the identity, so its factor is folded away.
  const ri = skipIn ? c : f.rankIn;
  const ro = skipOut ? m : f.rankOut;
  const core = new Float32Array(ro * ri * p);
  if (skipIn && skipOut) return { reason: 'full ranks' };
  // f.core is G = W ×₀ U_outᵀ ×₁ U_inᵀ; with a full-rank side U is orthogonal and square, so fold it back in.
  for (let o = 0; o < ro; o++) for (let i = 0; i < ri; i++) for (let q = 0; q < p; q++) {
    let v = 0;
    if (!skipIn && !skipOut) v = f.core[(o * f.rankIn + i) * p + q]!;
    else if (skipIn) for (let a = 0; a < f.rankIn; a++) v += f.core[(o * f.rankIn + a) * p + q]! * f.uIn[i * f.rankIn + a]!;
    else for (let a = 0; a < f.rankOut; a++) v += f.uOut[o * f.rankOut + a]! * f.core[(a * f.rankIn + i) * p + q]!;
    core[(o * ri + i) * p + q] = v;
  }
  if (!skipIn) {
    const aName = fresh(`${w.name}_tucker_in`);
    const a = new Float32Array(f.rankIn * c);
    for (let j = 0; j < c; j++) for (let r = 0; r < f.rankIn; r++) a[r * c + j] = f.uIn[j * f.rankIn + r]!;
    graph.initializers.set(aName, floatInitializer(aName, [f.rankIn, c, 1, 1], a));
    const mid = fresh(`${node.outputs[0]}_tucker_in`);
    nodes.push(makeNode('Conv', [x, aName], [mid], fresh(`${label}_tucker_1`), { kernel_shape: attr.ints([1, 1]) }));
    x = mid;
  }
  const gName = fresh(`${w.name}_tucker_core`);
  graph.initializers.set(gName, floatInitializer(gName, [ro, ri, kh, kw], core));
  const bias = node.inputs[2] ? [node.inputs[2]] : [];
  const coreOut = skipOut ? [...node.outputs] : [fresh(`${node.outputs[0]}_tucker_core`)];
  const coreNode = makeNode('Conv', [x, gName, ...(skipOut ? bias : [])], coreOut, fresh(`${label}_tucker_core`));
  for (const [key, value] of node.attributes) if (key !== 'group') coreNode.attributes.set(key, value);
  coreNode.attributes.set('kernel_shape', attr.ints([kh, kw]));
  nodes.push(coreNode);
  if (!skipOut) {
    const bName = fresh(`${w.name}_tucker_out`);
    const b = new Float32Array(m * f.rankOut);
    for (let i = 0; i < m * f.rankOut; i++) b[i] = f.uOut[i]!;
    graph.initializers.set(bName, floatInitializer(bName, [m, f.rankOut, 1, 1], b));
    nodes.push(makeNode('Conv', [coreOut[0]!, bName, ...bias], [...node.outputs], fresh(`${label}_tucker_3`), { kernel_shape: attr.ints([1, 1]) }));
  }
  return {
    nodes,
    layer: {
      node: label,
      k: c * p,
      n: m,
      rank: f.rankOut,
      rankIn: f.rankIn,
      energy: f.energy,
      paramsBefore,
      paramsAfter: after.params,
      method: 'tucker2',
      macsBefore: outPixels !== null ? macsBefore : null,
      macsAfter: outPixels !== null && inPixels !== null ? tucker2Macs(m, c, p, f.rankOut, f.rankIn, inPixels, outPixels) : null,
    },
  };
}

/** Ranks and factors of a Tucker-2 decomposition W[M,C,kh,kw] ≈ G ×₀ U_out ×₁ U_in. */
export interface Tucker2Factors {
  /** U_in [C, rankIn] (column-orthonormal), row-major. */
  uIn: Float64Array;
  /** U_out [M, rankOut] (column-orthonormal), row-major. */
  uOut: Float64Array;
  /** Core G [rankOut, rankIn, kh·kw], row-major. */
  core: Float64Array;
  rankIn: number;
  rankOut: number;
  /** ‖G‖² / ‖W‖²: the share of the kernel's energy the factors keep. */
  energy: number;
}

/** Singular values of the mode-0 ([M, C·P]) and mode-1 ([C, M·P]) unfoldings of a Conv kernel [M, C, P]. */
export function tuckerModeSpectra(w: Float32Array, m: number, c: number, p: number): { out: number[]; in: number[]; uOut: Matrix; uIn: Matrix } {
  const mode0 = new Matrix(m, c * p);
  const mode1 = new Matrix(c, m * p);
  for (let i = 0; i < m; i++) for (let j = 0; j < c; j++) for (let q = 0; q < p; q++) {
    const v = w[(i * c + j) * p + q]!;
    mode0.set(i, j * p + q, v);
    mode1.set(j, i * p + q, v);
  }
  const s0 = new SingularValueDecomposition(mode0, { autoTranspose: true });
  const s1 = new SingularValueDecomposition(mode1, { autoTranspose: true });
  return { out: s0.diagonal, in: s1.diagonal, uOut: s0.leftSingularVectors, uIn: s1.leftSingularVectors };
}

function leadingColumns(u: Matrix, rows: number, r: number): Float64Array {
  const out = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) out[i * r + k] = k < u.columns ? u.get(i, k) : 0;
  return out;
}

/** Left singular vectors (first r) of a row-major [rows, cols] matrix. */
function leftVectors(values: Float64Array, rows: number, cols: number, r: number): Float64Array {
  const svd = new SingularValueDecomposition(Matrix.from1DArray(rows, cols, values), { autoTranspose: true });
  return leadingColumns(svd.leftSingularVectors, rows, r);
}

/**
 * Tucker-2 of a Conv kernel W [M, C, P] (P = kh·kw) at ranks (rankOut, rankIn): HOSVD initialisation from the
 * unfoldings' SVDs, then `sweeps` HOOI sweeps (each refits one factor to the kernel projected on the other).
 */
export function tucker2(w: Float32Array, m: number, c: number, p: number, rankOut: number, rankIn: number, sweeps = 2): Tucker2Factors {
  const spectra = tuckerModeSpectra(w, m, c, p);
  let uOut = leadingColumns(spectra.uOut, m, rankOut);
  let uIn = leadingColumns(spectra.uIn, c, rankIn);
  // T = W ×₁ U_inᵀ : [M, rankIn, P]
  const projectIn = (ui: Float64Array): Float64Array => {
    const t = new Float64Array(m * rankIn * p);
    for (let i = 0; i < m; i++) for (let j = 0; j < c; j++) for (let k = 0; k < rankIn; k++) {
      const u = ui[j * rankIn + k]!;
      if (u === 0) continue;
      const src = (i * c + j) * p;
      const dst = (i * rankIn + k) * p;
      for (let q = 0; q < p; q++) t[dst + q]! += u * w[src + q]!;
    }
    return t;
  };
  // S = W ×₀ U_outᵀ : [rankOut, C, P], laid out as the mode-1 unfolding [C, rankOut·P]
  const projectOutMode1 = (uo: Float64Array): Float64Array => {
    const s = new Float64Array(c * rankOut * p);
    for (let i = 0; i < m; i++) for (let k = 0; k < rankOut; k++) {
      const u = uo[i * rankOut + k]!;
      if (u === 0) continue;
      for (let j = 0; j < c; j++) {
        const src = (i * c + j) * p;
        const dst = (j * rankOut + k) * p;
        for (let q = 0; q < p; q++) s[dst + q]! += u * w[src + q]!;
      }
    }
    return s;
  };
  const fullIn = rankIn >= c;
  const fullOut = rankOut >= m;
  for (let s = 0; s < sweeps && !(fullIn && fullOut); s++) {
    if (!fullOut) uOut = leftVectors(projectIn(uIn), m, rankIn * p, rankOut);
    if (!fullIn) uIn = leftVectors(projectOutMode1(uOut), c, rankOut * p, rankIn);
  }
  const t = projectIn(uIn);
  const core = new Float64Array(rankOut * rankIn * p);
  for (let i = 0; i < m; i++) for (let k = 0; k < rankOut; k++) {
    const u = uOut[i * rankOut + k]!;
    if (u === 0) continue;
    for (let j = 0; j < rankIn * p; j++) core[k * rankIn * p + j]! += u * t[i * rankIn * p + j]!;
  }
  let total = 0;
  for (const v of w) total += v * v;
  let kept = 0;
  for (const v of core) kept += v * v;
  return { uIn, uOut, core, rankIn, rankOut, energy: total > 0 ? Math.min(1, kept / total) : 1 };
}

/** Multiply-accumulates of a Tucker-2 replacement of a [M, C, kh, kw] Conv (projections skipped at full rank). */
export function tucker2Macs(m: number, c: number, p: number, rankOut: number, rankIn: number, inPixels: number, outPixels: number): number {
  return (rankIn < c ? c * rankIn * inPixels : 0) + (rankIn < c ? rankIn : c) * (rankOut < m ? rankOut : m) * p * outPixels + (rankOut < m ? rankOut * m * outPixels : 0);
}

/** Weights of a Tucker-2 replacement (projections skipped at full rank). */
export function tucker2Params(m: number, c: number, p: number, rankOut: number, rankIn: number): number {
  return tucker2Macs(m, c, p, rankOut, rankIn, 1, 1);
}
