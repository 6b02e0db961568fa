/**
 * Channel importance by reconstruction (`--importance reconstruction`): for every prunable group, the Gram matrices
 * of the inputs of the layers that read its channels, measured on the data with onnxruntime, and the greedy
 * elimination order of channel-selection.ts (which channels those layers can best do without, after the refit that
 * recovery performs). Returns producer output name → per-channel score, the shape `pruneChannels({ channelScores })`
 * takes; groups no readable sink covers are absent (they fall back to filter norms).
 */
import type { OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { DataType } from '../onnx/dtype.js';
import { encodeModel } from '../onnx/model-codec.js';
import { attrFloat, attrInt } from '../onnx/graph.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import { refuseModelRunFailure } from '../profile/ort-session.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import { analyzeChannels } from './prune-channels.js';
import { NormalEquations } from './prune-recovery.js';
import { convGeometry, convPatch, type ConvGeometry } from './conv-patches.js';
import { reconstructionOrder, type SinkProblem } from './channel-selection.js';
import { EdgetuneError } from '../util/errors.js';
import { mulberry32 as random } from '../util/random.js';

/** Options for measuring reconstruction importance. */
export interface ReconstructionImportanceOptions {
  /** Samples of the dataset read (default 64). */
  maxSamples?: number;
  /** Rows of each sink's Gram matrix (default 4096; at least one per sample). */
  maxRows?: number;
  /** Sinks with more input columns than this are not used (their Gram matrix would not be worth its memory; default 2304). */
  maxColumns?: number;
  signal?: AbortSignal;
}

/** A sink being measured: where its rows come from and its problem's shape. */
interface SinkPlan {
  node: string;
  input: string;
  kind: 'conv' | 'dense';
  geo: ConvGeometry | null;
  cIn: number;
  f: number;
  m: number;
  weights: Float64Array;
  /** Component root of each input channel (conv) or input column (dense). */
  roots: number[];
  eq: NormalEquations;
}

/** Weights of a sink as [f, m] (input column, then the bias row). */
function sinkWeights(model: OnnxModel, kind: 'Conv' | 'Gemm' | 'MatMul', node: OnnxNode): { w: Float64Array; inner: number; m: number } {
  const graph = model.graph;
  const wt = graph.initializers.get(node.inputs[1]!)!;
  const wv = tensorToFloat32(wt);
  const transB = kind === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
  const rowsFirst = kind === 'Conv' || transB === 1;
  const m = rowsFirst ? wt.dims[0]! : wt.dims[1]!;
  const inner = wv.length / m;
  const alpha = kind === 'Gemm' ? attrFloat(node, 'alpha', 1) : 1;
  const beta = kind === 'Gemm' ? attrFloat(node, 'beta', 1) : 1;
  const f = inner + 1;
  const w = new Float64Array(f * m);
  for (let k = 0; k < m; k++) for (let i = 0; i < inner; i++) w[i * m + k] = alpha * (rowsFirst ? wv[k * inner + i]! : wv[i * m + k]!);
  const biasName = kind !== 'MatMul' ? node.inputs[2] : undefined;
  const bias = biasName ? graph.initializers.get(biasName) : undefined;
  if (bias) {
    const bv = tensorToFloat32(bias);
    for (let k = 0; k < m; k++) w[inner * m + k] = beta * (bv.length === m ? bv[k]! : bv[0]!);
  }
  return { w, inner, m };
}

/**
 * Measure reconstruction importance on `dataset` (see the module comment). Groups that are blocked or that no sink
 * within `maxColumns` reads get no entry.
 */
export async function measureReconstructionImportance(model: OnnxModel, dataset: Dataset, options: ReconstructionImportanceOptions = {}): Promise<Map<string, Float64Array>> {
  const analysis = analyzeChannels(model);
  const maxColumns = options.maxColumns ?? 2304;
  const groupOfRoot = new Map<number, { group: number; component: number }>();
  for (const g of analysis.groups) {
    if (g.blocked || g.components.length < 2) continue;
    g.components.forEach((atoms, c) => groupOfRoot.set(analysis.atomRoot(atoms[0]!), { group: g.id, component: c }));
  }
  const plans: SinkPlan[] = [];
  for (const s of analysis.sinks) {
    const roots = s.layout.atoms.map((a) => analysis.atomRoot(a));
    if (!roots.some((r) => groupOfRoot.has(r))) continue;
    const { w, inner, m } = sinkWeights(model, s.kind, s.node);
    const f = inner + 1;
    if (f > maxColumns) continue;
    const isConv = s.kind === 'Conv';
    const wt = model.graph.initializers.get(s.node.inputs[1]!)!;
    if (isConv && wt.dims.length !== 4) continue;
    if (!isConv && s.layout.rank > 3) continue;
    plans.push({
      node: s.node.name || s.node.outputs[0]!,
      input: s.node.inputs[0]!,
      kind: isConv ? 'conv' : 'dense',
      geo: isConv ? convGeometry(s.node, wt) : null,
      cIn: roots.length,
      f,
      m,
      weights: w,
      roots,
      eq: new NormalEquations(f, 0),
    });
  }
  if (plans.length === 0 || dataset.setNames.length === 0) return new Map();

  // One pass over the data, every sink's input exposed as an output.
  const fetch = [...new Set(plans.map((p) => p.input))];
  const present = new Set(model.graph.outputs.map((o) => o.name));
  const exposed: OnnxModel = {
    ...model,
    graph: { ...model.graph, outputs: [...model.graph.outputs, ...fetch.filter((n) => !present.has(n)).map((name) => ({ name, type: { elemType: DataType.FLOAT, shape: null } }))] },
  };
  const maxSamples = options.maxSamples ?? 256;
  // Samples expected: sets × the first set's batch (the sets of one dataset share their batch size).
  const samples = Math.max(1, Math.min(maxSamples, dataset.setNames.length * dataset.load(0).batchSize));
  const maxRows = options.maxRows ?? 4096;
  const rowsPerSample = Math.max(1, Math.ceil(maxRows / samples));
  const runner = await createInferenceRunner(encodeModel(exposed), { graphOptimizationLevel: 'basic' });
  const rand = random(0x5eed);
  try {
    let seen = 0;
    for (let s = 0; s < dataset.setNames.length && seen < maxSamples; s++) {
      const batch = dataset.load(s);
      for (const piece of feedsForBatch(model, batch)) {
        if (seen >= maxSamples) break;
        if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'reconstruction importance aborted');
        const result = await runner.run(piece.feeds, fetch).catch(refuseModelRunFailure('the model', batch.set));
        const n = Math.min(piece.end - piece.start, maxSamples - seen);
        for (const plan of plans) addRows(plan, result.get(plan.input)!, n, rowsPerSample, rand);
        seen += n;
      }
    }
  } finally {
    await runner.release();
  }

  const scores = new Map<string, Float64Array>();
  for (const g of analysis.groups) {
    if (g.blocked || g.components.length < 2) continue;
    const problems: SinkProblem[] = [];
    for (const plan of plans) {
      const blocks = new Map<number, number[]>();
      const k2 = plan.geo ? plan.geo.kh * plan.geo.kw : 1;
      plan.roots.forEach((root, i) => {
        const at = groupOfRoot.get(root);
        if (!at || at.group !== g.id) return;
        const cols = blocks.get(at.component) ?? [];
        for (let t = 0; t < k2; t++) cols.push(i * k2 + t);
        blocks.set(at.component, cols);
      });
      if (blocks.size === 0) continue;
      plan.eq.flush();
      problems.push({ f: plan.f, m: plan.m, gram: plan.eq.a, weights: plan.weights, blocks });
    }
    if (problems.length === 0) continue;
    const order = reconstructionOrder(problems, g.components.length);
    for (const p of g.producers) {
      const s = new Float64Array(p.layout.atoms.length);
      p.layout.atoms.forEach((a, i) => (s[i] = order[groupOfRoot.get(analysis.atomRoot(a))?.component ?? -1] ?? 0));
      scores.set(p.node.outputs[0]!, s);
    }
  }
  return scores;
}

/** Add up to `perSample` sampled rows of each of the first `n` samples of `x` to the sink's Gram matrix. */
function addRows(plan: SinkPlan, x: Tensor, n: number, perSample: number, rand: () => number): void {
  const xv = tensorToFloat32(x);
  const dims = x.dims;
  const row = new Float64Array(plan.f);
  const none = new Float64Array(0);
  if (plan.kind === 'conv') {
    const geo = plan.geo!;
    const [, , h = 1, wd = 1] = dims;
    const oh = Math.floor((h + geo.pads[0]! + geo.pads[2]! - geo.dil[0]! * (geo.kh - 1) - 1) / geo.strides[0]!) + 1;
    const ow = Math.floor((wd + geo.pads[1]! + geo.pads[3]! - geo.dil[1]! * (geo.kw - 1) - 1) / geo.strides[1]!) + 1;
    const positions = oh * ow;
    for (let b = 0; b < n; b++) {
      for (let r = 0; r < Math.min(perSample, positions); r++) {
        const pos = perSample >= positions ? r : Math.floor(rand() * positions);
        convPatch(xv, b, plan.cIn, h, wd, 0, plan.cIn, Math.floor(pos / ow), pos % ow, geo, row);
        row[plan.f - 1] = 1;
        plan.eq.add(row, none);
      }
    }
    return;
  }
  // Dense: [N, K] or [N, T, K]; each row of the last axis is one problem row.
  const k = dims[dims.length - 1]!;
  const perBatch = dims.length === 3 ? dims[1]! : 1;
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < Math.min(perSample, perBatch); r++) {
      const t = perSample >= perBatch ? r : Math.floor(rand() * perBatch);
      const base = (b * perBatch + t) * k;
      for (let i = 0; i < k; i++) row[i] = xv[base + i]!;
      row[plan.f - 1] = 1;
      plan.eq.add(row, none);
    }
  }
}
