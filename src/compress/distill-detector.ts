/**
 * Head distillation for detectors (issue 14). For every model output, walk back from the graph output through
 * pass-through ops (Identity, Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Concat — every input —, and
 * Sigmoid/Softmax/LogSoftmax and QuantizeLinear/DequantizeLinear, which sit after the fitted tensor) to the final
 * Conv that produces it, and refit that Conv's weight and bias by ridge least squares so that its OUTPUT tensor (the
 * pre-activation) reproduces the teacher's tensor of the same name.
 *
 * Rows are im2col patches of the student's own Conv input (any kernel, stride, padding, dilation; group 1) at every
 * output position, with a 1 for the bias; the response is the residual teacher − student there, so the solution is
 * a correction of the current weights that the ridge shrinks towards none. Score heads — reached through a Sigmoid,
 * or named in `sigmoidOutputs` when the decoder applies the sigmoid — are fitted per output channel with weights
 * σ(t)(1 − σ(t)), the curvature of the binary cross-entropy to the teacher's probability at the teacher's logit t:
 * raw detector logits reach −10⁴ on background, and a plain least-squares fit spends itself on those and moves the
 * logits near the decision threshold (measured on BlazeFace: a few hundred new positives on held-out photos).
 *
 * Every `holdOutEvery`-th sample is not fitted; a head is kept only when, measured in onnxruntime on those samples,
 * its refit lowers the mean squared error of the tensor against the teacher (of the probabilities for score heads).
 */
import type { OnnxGraph, OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { cloneModel, elementCount } from '../onnx/ir.js';
import { DataType } from '../onnx/dtype.js';
import { encodeModel } from '../onnx/model-codec.js';
import { attrInt, attrInts, attrString, consumerMap, graphOutputNames, nameFactory, producerMap } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import { NormalEquations } from './prune-recovery.js';
import { EdgetuneError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';
import { matMulHeadsAsPointwiseConv, pointwiseHeadAsMatMul } from './pointwise-head-as-matmul.js';

/** Options for detector head distillation. */
export interface DetectorDistillOptions {
  /** Ridge strength relative to the mean diagonal of XᵀX (default 1e-4); the bias is not regularised. */
  ridge?: number;
  /** Samples of the dataset used for the fit and for the before/after measurement (default 4096). */
  maxSamples?: number;
  /** Rows of each head's least-squares problem at most: output positions are sampled, seeded, beyond it (default 40000). */
  maxRows?: number;
  /**
   * Every this-many-th sample (the last of each group) is not fitted but used to decide whether a refit is kept
   * (default 4; 0 = fit and judge on every sample).
   */
  holdOutEvery?: number;
  /**
   * Outputs holding logits that the decoder passes through a sigmoid (detector scores): their heads are fitted and
   * judged in probability space. Heads reached through a Sigmoid node are always.
   */
  sigmoidOutputs?: readonly string[];
  /** Progress by stage ('fit', 'solve', 'measure'), in dataset sets. */
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The fields every head report has. */
interface DetectorHeadFields {
  /** The (first) model output the head feeds. */
  output: string;
  /** Name of the Conv (or of the node that stopped the walk back from the output; '' when none). */
  node: string;
  /** [kh, kw] of the Conv (kh = 1 for a 1-D Conv); null when the branch has no Conv head. */
  kernel: [number, number] | null;
  /** Unknowns per output channel without the bias: Cin·kh·kw. */
  features: number;
  /** Output channels of the Conv (Cout). */
  outputs: number;
  /** Rows of the least-squares problem (sample × output position). */
  rows: number;
  /** What the MSE is of: the Conv output itself, or its sigmoid (score heads). */
  metric: 'value' | 'sigmoid';
}

/**
 * What distillation did for one head (one final Conv, or one output branch it could not refit). mseBefore/mseAfter:
 * mean squared error of the Conv output (or its sigmoid) against the teacher's on the held-out samples, before and
 * after the refit; null when not measured (a skipped branch, or a head that failed before its refit).
 */
export type DetectorHeadReport =
  | (DetectorHeadFields & { applied: true; mseBefore: number; mseAfter: number; reason: null })
  | (DetectorHeadFields & { applied: false; mseBefore: number | null; mseAfter: number | null; reason: string });

/** Result of detector head distillation. */
export interface DetectorDistillResult {
  /** A new model with the applied heads (the input student is never mutated). */
  student: OnnxModel;
  heads: DetectorHeadReport[];
  /** Number of heads applied. */
  applied: number;
  /** Samples read; of them, held out from the fit (0: too few samples, so judged on the fitted ones). */
  samples: number;
  heldOutSamples: number;
}

/** A Conv head that can be refitted: where it sits and its current parameters. */
export interface DetectorHead {
  output: string;
  /** Index of the Conv in `graph.nodes`. */
  nodeIndex: number;
  node: OnnxNode;
  /** The Conv's input (features) and output (the fitted tensor, looked up by name in the teacher). */
  input: string;
  target: string;
  cout: number;
  cin: number;
  kh: number;
  kw: number;
  /** 1-D Conv (input [N, C, L]) rather than 2-D. */
  oneD: boolean;
  /** A score head: fitted and judged in probability space. */
  sigmoid: boolean;
  /** Current weight ([Cout, Cin, kh, kw] flattened) and bias (zeros when the Conv has none). */
  weight: Float32Array;
  bias: Float32Array;
}

/** Ops the walk back from an output passes through (data input 0; Concat: every input). */
const PASS_THROUGH = new Set(['Identity', 'Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Concat', 'Sigmoid', 'Softmax', 'LogSoftmax', 'QuantizeLinear', 'DequantizeLinear']);
/** Longest chain of pass-through ops followed from one output. */
const MAX_HOPS = 32;

/** The float tensor held by an initializer or a Constant node; or why there is none. */
function constantFloat(graph: OnnxGraph, producers: Map<string, OnnxNode>, name: string, what: string, conv: OnnxNode): Tensor | string {
  const init = graph.initializers.get(name);
  const label = `Conv '${conv.name}'`;
  if (init) {
    if (init.dataType !== DataType.FLOAT) return `${label} has a non-float ${what} '${name}' (data type ${init.dataType}); only float heads are refit`;
    return init;
  }
  const p = producers.get(name);
  if (p?.opType === 'DequantizeLinear') return `${label} takes its ${what} through DequantizeLinear '${p.name}' (a quantized head); only float heads are refit`;
  if (p?.opType === 'Constant') {
    const value = p.attributes.get('value');
    if (value?.type !== 'tensor') return `${label} takes its ${what} from Constant '${p.name}' without a tensor 'value'`;
    if (value.value.dataType !== DataType.FLOAT) return `${label} has a non-float ${what} in Constant '${p.name}'; only float heads are refit`;
    return value.value;
  }
  return `${label} computes its ${what} '${name}' (${p ? `${p.opType} '${p.name}'` : 'a graph input'}); only constant weights are refit`;
}

/** Check one Conv reached from an output: a refittable head, or the reason it is not. */
function classifyConv(student: OnnxModel, teacherTensors: ReadonlySet<string>, producers: Map<string, OnnxNode>, node: OnnxNode, output: string, sigmoid: boolean): DetectorHead | string {
  const graph = student.graph;
  const group = attrInt(node, 'group', 1);
  if (group !== 1) return `Conv '${node.name}' has group=${group} (grouped/depthwise); only group-1 heads are refit`;
  const weight = constantFloat(graph, producers, node.inputs[1] ?? '', 'weight', node);
  if (typeof weight === 'string') return weight;
  const dims = weight.dims;
  // ONNX Conv: W is [M, C/group, kH, kW] (or [M, C, k] for 1-D)
  if (dims.length !== 4 && dims.length !== 3) return `Conv '${node.name}' has a ${dims.length - 2}-D kernel [${dims.join(',')}]; only 1-D and 2-D heads are refit`;
  let bias = new Float32Array(dims[0]!);
  if (node.inputs[2]) {
    const b = constantFloat(graph, producers, node.inputs[2], 'bias', node);
    if (typeof b === 'string') return b;
    if (elementCount(b.dims) !== dims[0]) return `Conv '${node.name}' has a bias of ${elementCount(b.dims)} values for ${dims[0]} output channels`;
    bias = Float32Array.from(tensorToFloat32(b));
  }
  const target = node.outputs[0]!;
  if (!teacherTensors.has(target)) return `the teacher has no tensor '${target}' (the output of the student's Conv '${node.name}')`;
  const oneD = dims.length === 3;
  return {
    output,
    nodeIndex: graph.nodes.indexOf(node),
    node,
    input: node.inputs[0]!,
    target,
    cout: dims[0]!,
    cin: dims[1]!,
    kh: oneD ? 1 : dims[2]!,
    kw: oneD ? dims[2]! : dims[3]!,
    oneD,
    sigmoid,
    weight: Float32Array.from(tensorToFloat32(weight)),
    bias,
  };
}

function skipped(output: string, node: string, reason: string): DetectorHeadReport {
  return { output, node, kernel: null, features: 0, outputs: 0, rows: 0, metric: 'value', mseBefore: null, mseAfter: null, applied: false, reason };
}

/**
 * The student's final Conv behind every output (walking back through pass-through ops), checked for a refit against
 * `teacher`: the heads to refit, and a report for every branch that cannot be. Heads reached through a Sigmoid, or
 * feeding one of `sigmoidOutputs`, are score heads.
 */
export function findDetectorHeads(student: OnnxModel, teacher: OnnxModel, sigmoidOutputs: readonly string[] = []): { heads: DetectorHead[]; skipped: DetectorHeadReport[] } {
  const graph = student.graph;
  const producers = producerMap(graph);
  const teacherTensors = new Set<string>(teacher.graph.nodes.flatMap((n) => n.outputs).filter(Boolean));
  const heads: DetectorHead[] = [];
  const skips: DetectorHeadReport[] = [];
  const seenNodes = new Set<OnnxNode>();
  const constant = (name: string): boolean => graph.initializers.has(name) || producers.get(name)?.opType === 'Constant';
  for (const out of graph.outputs) {
    const stack: Array<{ name: string; hops: number; sigmoid: boolean }> = [{ name: out.name, hops: 0, sigmoid: sigmoidOutputs.includes(out.name) }];
    while (stack.length) {
      const { name, hops, sigmoid } = stack.pop()!;
      const node = producers.get(name);
      if (!node) {
        skips.push(skipped(out.name, '', `output '${out.name}': tensor '${name}' is a graph input or an initializer, not computed by a Conv`));
        continue;
      }
      if (seenNodes.has(node)) continue;
      seenNodes.add(node);
      if (node.opType === 'Conv' && (node.domain === '' || node.domain === 'ai.onnx')) {
        const head = classifyConv(student, teacherTensors, producers, node, out.name, sigmoid);
        if (typeof head === 'string') skips.push(skipped(out.name, node.name, head));
        else heads.push(head);
      } else if (PASS_THROUGH.has(node.opType) && node.domain === '') {
        if (hops >= MAX_HOPS) {
          skips.push(skipped(out.name, node.name, `output '${out.name}': no Conv within ${MAX_HOPS} pass-through ops`));
          continue;
        }
        const inputs = node.opType === 'Concat' ? node.inputs.filter((i) => i && !constant(i)) : [node.inputs[0]!];
        const through = sigmoid || node.opType === 'Sigmoid';
        for (let k = inputs.length - 1; k >= 0; k--) stack.push({ name: inputs[k]!, hops: hops + 1, sigmoid: through });
      } else {
        skips.push(skipped(out.name, node.name, `output '${out.name}' comes from ${node.opType} '${node.name}', not from a Conv through ${[...PASS_THROUGH].join('/')}`));
      }
    }
  }
  return { heads, skipped: skips };
}

/** Conv geometry resolved against the actual input and output sizes (auto_pad included). */
interface Geometry {
  strides: [number, number];
  dilations: [number, number];
  /** Padding at the start of each spatial axis. */
  padBegin: [number, number];
}

function geometryOf(head: DetectorHead, inH: number, inW: number, outH: number, outW: number): Geometry {
  const { node, kh, kw, oneD } = head;
  const two = (v: number[], fallback: number): [number, number] => (oneD ? [1, v[0] ?? fallback] : [v[0] ?? fallback, v[1] ?? fallback]);
  const strides = two(attrInts(node, 'strides', []), 1);
  const dilations = two(attrInts(node, 'dilations', []), 1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let padBegin: [number, number];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin = (input: number, output: number, k: number, s: number, d: number): number => {
      const total = Math.max(0, (output - 1) * s + (k - 1) * d + 1 - input);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    };
    padBegin = [begin(inH, outH, kh, strides[0], dilations[0]), begin(inW, outW, kw, strides[1], dilations[1])];
  } else if (autoPad === 'VALID') padBegin = [0, 0];
  else {
    // ONNX Conv: pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...]
    const pads = attrInts(node, 'pads', []);
    padBegin = oneD ? [0, pads[0] ?? 0] : [pads[0] ?? 0, pads[1] ?? 0];
  }
  return { strides, dilations, padBegin };
}

/** im2col row of sample n at output position (oy, ox), in the weight's [Cin, kh, kw] order, then 1 for the bias. */
function fillPatch(x: Float32Array, n: number, cin: number, h: number, w: number, head: DetectorHead, g: Geometry, oy: number, ox: number, out: Float64Array): void {
  const { kh, kw } = head;
  let idx = 0;
  for (let c = 0; c < cin; c++) {
    const base = (n * cin + c) * h * w;
    for (let i = 0; i < kh; i++) {
      const iy = oy * g.strides[0] - g.padBegin[0] + i * g.dilations[0];
      const rowInside = iy >= 0 && iy < h;
      for (let j = 0; j < kw; j++) {
        const ix = ox * g.strides[1] - g.padBegin[1] + j * g.dilations[1];
        out[idx++] = rowInside && ix >= 0 && ix < w ? x[base + iy * w + ix]! : 0;
      }
    }
  }
  out[idx] = 1;
}

/** A runner that also returns the named intermediate tensors (basic optimization keeps them). */
async function probeRunner(model: OnnxModel, names: readonly string[]): Promise<InferenceRunner> {
  const inputs = new Set(model.graph.inputs.map((i) => i.name));
  const outputs = [...model.graph.outputs];
  const existing = new Set(outputs.map((o) => o.name));
  for (const n of names) {
    if (existing.has(n) || inputs.has(n)) continue;
    existing.add(n);
    outputs.push({ name: n, type: { elemType: DataType.FLOAT, shape: null } });
  }
  return createInferenceRunner(encodeModel({ ...model, graph: { ...model.graph, outputs } }), { graphOptimizationLevel: 'basic' });
}

/** Run a probe runner and return the named tensors (graph inputs come from the feeds). */
async function probe(runner: InferenceRunner, feeds: Record<string, Tensor>, names: readonly string[]): Promise<Map<string, Tensor>> {
  const fetched = [...new Set(names.filter((n) => !(n in feeds)))];
  const got = fetched.length > 0 ? await runner.run(feeds, fetched) : new Map<string, Tensor>();
  for (const n of names) if (n in feeds) got.set(n, feeds[n]!);
  return got;
}

/** Visit the dataset piece by piece (pieces holding no wanted sample are not run); returns the samples seen. */
async function forEachPiece(
  teacher: OnnxModel,
  student: OnnxModel,
  dataset: Dataset,
  maxSamples: number,
  stage: string,
  options: DetectorDistillOptions,
  wanted: (sample: number) => boolean,
  fn: (teacherFeeds: Record<string, Tensor>, studentFeeds: Record<string, Tensor>, firstSample: number, plannedSamples: number) => Promise<void>,
): Promise<number> {
  let samples = 0;
  let planned = 0;
  const sets = dataset.setNames.length;
  for (let s = 0; s < sets && samples < maxSamples; s++) {
    const batch = dataset.load(s);
    if (s === 0) planned = Math.min(maxSamples, batch.batchSize * sets);
    const tp = feedsForBatch(teacher, batch);
    const sp = feedsForBatch(student, batch);
    if (tp.length !== sp.length) throw new EdgetuneError('DATASET_INVALID', `distill-detector: teacher and student fix different batch sizes (set '${batch.set}'); give models with the same batch axis`);
    for (let i = 0; i < sp.length && samples < maxSamples; i++) {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', `distill-detector aborted during ${stage} after ${samples} sample(s)`);
      const size = sp[i]!.end - sp[i]!.start;
      let any = false;
      for (let k = samples; k < samples + size && !any; k++) any = wanted(k);
      if (any) await fn(tp[i]!.feeds, sp[i]!.feeds, samples, planned);
      samples += size;
    }
    options.onProgress?.(stage, s + 1, sets);
  }
  if (samples === 0) throw new EdgetuneError('DATASET_INVALID', `dataset '${dataset.dir}' has no samples`);
  return samples;
}

/** Fit state of one head. */
interface HeadFit {
  head: DetectorHead;
  /** One system [f → Cout]; for a score head one weighted system [f → 1] per output channel. */
  eqs: NormalEquations[];
  rows: number;
  random: () => number;
  rate: number | null;
  /** Σ squared error and element counts of the Conv output (or its sigmoid), on fitted and on held-out samples. */
  sseFit: number;
  countFit: number;
  sseHeld: number;
  countHeld: number;
  /** Set when the head turned out not to fit at run time (shapes). */
  failure: string | null;
  solved: { weight: Float32Array; bias: Float32Array } | null;
  mseBefore: number | null;
  mseAfter: number | null;
}

/** Per-channel normal equations of a score head hold Cout·f² doubles; beyond this the head is not refit. */
const MAX_SIGMOID_DOUBLES = 2 ** 25;

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** Σ (a − b)² over elements [from, to) of two arrays (of their sigmoids when `probabilities`). */
function sumSquaredError(a: Float32Array, b: Float32Array, from: number, to: number, probabilities: boolean): number {
  let s = 0;
  for (let i = from; i < to; i++) {
    const d = probabilities ? sigmoid(a[i]!) - sigmoid(b[i]!) : a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

/** Shape check of a head's student input / output and teacher tensor; null when they fit the Conv. */
function shapeProblem(head: DetectorHead, x: Tensor, ys: Tensor, yt: Tensor): string | null {
  const rank = head.oneD ? 3 : 4;
  const name = `Conv '${head.node.name}'`;
  if (x.dims.length !== rank || ys.dims.length !== rank) return `${name}: input [${x.dims.join(',')}] or output [${ys.dims.join(',')}] is not of rank ${rank}`;
  if (x.dims[1] !== head.cin || ys.dims[1] !== head.cout || x.dims[0] !== ys.dims[0]) {
    return `${name}: input [${x.dims.join(',')}] / output [${ys.dims.join(',')}] do not match the weight's ${head.cin} → ${head.cout} channels`;
  }
  if (yt.dims.length !== ys.dims.length || yt.dims.some((d, i) => d !== ys.dims[i])) {
    return `the teacher's '${head.target}' is [${yt.dims.join(',')}] but the student's is [${ys.dims.join(',')}]`;
  }
  return null;
}

/**
 * Add the rows of one piece (samples from `firstSample` on) to a head's normal equations — held-out samples only
 * to its error before the refit. A row is the im2col patch (+ 1) and the residual teacher − student at one output
 * position; a score head weights each channel's row by σ(t)(1 − σ(t)) of the teacher's logit t there.
 */
function accumulate(fit: HeadFit, x: Tensor, ys: Tensor, yt: Tensor, firstSample: number, heldOut: (sample: number) => boolean, plannedFitSamples: number, maxRows: number): void {
  const { head } = fit;
  const problem = shapeProblem(head, x, ys, yt);
  if (problem) {
    fit.failure = problem;
    return;
  }
  const xv = tensorToFloat32(x);
  const tv = tensorToFloat32(yt);
  const sv = tensorToFloat32(ys);
  const n = x.dims[0]!;
  const [inH, inW] = head.oneD ? [1, x.dims[2]!] : [x.dims[2]!, x.dims[3]!];
  const [outH, outW] = head.oneD ? [1, ys.dims[2]!] : [ys.dims[2]!, ys.dims[3]!];
  const positions = outH * outW;
  const perSample = head.cout * positions;
  fit.rate ??= Math.min(1, maxRows / Math.max(1, positions * plannedFitSamples));
  const g = geometryOf(head, inH, inW, outH, outW);
  const f = head.cin * head.kh * head.kw + 1;
  const row = new Float64Array(f);
  const weighted = new Float64Array(f);
  const y = new Float64Array(head.cout);
  const y1 = new Float64Array(1);
  for (let s = 0; s < n; s++) {
    const error = sumSquaredError(sv, tv, s * perSample, (s + 1) * perSample, head.sigmoid);
    if (heldOut(firstSample + s)) {
      fit.sseHeld += error;
      fit.countHeld += perSample;
      continue;
    }
    fit.sseFit += error;
    fit.countFit += perSample;
    for (let p = 0; p < positions; p++) {
      if (fit.rows >= maxRows) break;
      if (fit.rate < 1 && fit.random() >= fit.rate) continue;
      fillPatch(xv, s, head.cin, inH, inW, head, g, Math.floor(p / outW), p % outW, row);
      fit.rows++;
      if (!head.sigmoid) {
        for (let k = 0; k < head.cout; k++) {
          const at = s * perSample + k * positions + p;
          y[k] = tv[at]! - sv[at]!;
        }
        fit.eqs[0]!.add(row, y);
        continue;
      }
      for (let k = 0; k < head.cout; k++) {
        const at = s * perSample + k * positions + p;
        const q = sigmoid(tv[at]!);
        const w = Math.sqrt(q * (1 - q));
        for (let i = 0; i < f; i++) weighted[i] = row[i]! * w;
        y1[0] = (tv[at]! - sv[at]!) * w;
        fit.eqs[k]!.add(weighted, y1);
      }
    }
  }
}

/**
 * Write a head's refitted weight and bias into `graph` (of a copy of the student): an initializer only this Conv
 * reads is overwritten; a shared one, a Constant's value or a missing bias gets a new initializer. Returns the
 * Constant nodes that fed only this Conv (dead now).
 */
function applyHead(graph: OnnxGraph, node: OnnxNode, head: DetectorHead, weight: Float32Array, bias: Float32Array): OnnxNode[] {
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const producers = producerMap(graph);
  const fresh = nameFactory(graph);
  const label = node.name || node.outputs[0]!;
  const dead: OnnxNode[] = [];
  const dims = head.oneD ? [head.cout, head.cin, head.kw] : [head.cout, head.cin, head.kh, head.kw];
  const write = (index: number, suffix: string, tensorDims: number[], values: Float32Array): void => {
    const old = node.inputs[index] ?? '';
    const onlyReader = old !== '' && (consumers.get(old)?.length ?? 0) === 1 && !outputs.has(old);
    if (onlyReader && graph.initializers.has(old)) {
      graph.initializers.set(old, floatTensor(old, tensorDims, values));
      return;
    }
    const name = fresh(`${label}_distilled_${suffix}`);
    graph.initializers.set(name, floatTensor(name, tensorDims, values));
    while (node.inputs.length <= index) node.inputs.push('');
    node.inputs[index] = name;
    const constant = old ? producers.get(old) : undefined;
    if (onlyReader && constant?.opType === 'Constant') dead.push(constant);
  };
  write(1, 'weight', dims, weight);
  write(2, 'bias', [head.cout], bias);
  return dead;
}

/** A copy of `student` with the given heads' refits written. */
function withHeads(student: OnnxModel, fits: readonly HeadFit[]): OnnxModel {
  const model = cloneModel(student);
  const graph = model.graph;
  // Nodes by index before any edit (the copy has the student's node order).
  const nodes = fits.map((fit) => graph.nodes[fit.head.nodeIndex]!);
  const dead = new Set<OnnxNode>();
  fits.forEach((fit, i) => {
    for (const d of applyHead(graph, nodes[i]!, fit.head, fit.solved!.weight, fit.solved!.bias)) dead.add(d);
  });
  if (dead.size > 0) {
    const names = new Set([...dead].flatMap((d) => d.outputs));
    graph.nodes = graph.nodes.filter((n) => !dead.has(n));
    graph.valueInfo = graph.valueInfo.filter((v) => !names.has(v.name));
  }
  return model;
}

/** True when some head's output is upstream of another head's input (refitting one changes the other's data). */
function headsDepend(graph: OnnxGraph, heads: readonly DetectorHead[]): boolean {
  const producers = producerMap(graph);
  const targets = new Set(heads.map((h) => h.target));
  for (const h of heads) {
    const seen = new Set<string>();
    const stack = [h.input];
    while (stack.length) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      if (targets.has(name)) return true;
      const p = producers.get(name);
      if (p) stack.push(...p.inputs.filter(Boolean));
    }
  }
  return false;
}

/** Each fit's mean squared error on `model` (the student with some heads refitted) against the teacher, over the wanted samples. */
async function measure(teacher: OnnxModel, model: OnnxModel, dataset: Dataset, fits: readonly HeadFit[], maxSamples: number, options: DetectorDistillOptions, wanted: (sample: number) => boolean): Promise<number[]> {
  const targets = fits.map((f) => f.head.target);
  const sRun = await probeRunner(model, targets);
  let tRun: InferenceRunner | undefined;
  const sse = fits.map(() => 0);
  const count = fits.map(() => 0);
  try {
    tRun = await probeRunner(teacher, targets);
    await forEachPiece(teacher, model, dataset, maxSamples, 'measure', options, wanted, async (tf, sf, first) => {
      const s = await probe(sRun, sf, targets);
      const t = await probe(tRun!, tf, targets);
      fits.forEach((fit, i) => {
        const st = s.get(fit.head.target)!;
        const a = tensorToFloat32(st);
        const b = tensorToFloat32(t.get(fit.head.target)!);
        if (a.length !== b.length) throw new EdgetuneError('MODEL_UNSUPPORTED', `distill-detector: the refitted '${fit.head.target}' has ${a.length} values, the teacher's ${b.length}`);
        const n = st.dims[0] ?? 1;
        const per = a.length / n;
        for (let k = 0; k < n; k++) {
          if (!wanted(first + k)) continue;
          sse[i]! += sumSquaredError(a, b, k * per, (k + 1) * per, fit.head.sigmoid);
          count[i]! += per;
        }
      });
    });
  } finally {
    await sRun.release();
    await tRun?.release();
  }
  return sse.map((e, i) => e / Math.max(1, count[i]!));
}

/** Empty fit state of a head (a score head too large for per-channel systems fails at once, with the reason). */
function newFit(head: DetectorHead, index: number): HeadFit {
  const f = head.cin * head.kh * head.kw + 1;
  const tooLarge = head.sigmoid && head.cout * f * f > MAX_SIGMOID_DOUBLES;
  return {
    head,
    eqs: tooLarge ? [] : head.sigmoid ? Array.from({ length: head.cout }, () => new NormalEquations(f, 1)) : [new NormalEquations(f, head.cout)],
    rows: 0,
    random: mulberry32(0x5eed + index),
    rate: null,
    sseFit: 0,
    countFit: 0,
    sseHeld: 0,
    countHeld: 0,
    failure: tooLarge ? `Conv '${head.node.name}': a score head of ${head.cout} channels × ${f} unknowns needs per-channel normal equations of ${head.cout * f * f} doubles (limit ${MAX_SIGMOID_DOUBLES})` : null,
    solved: null,
    mseBefore: null,
    mseAfter: null,
  };
}

function report(fit: HeadFit, reason: string | null): DetectorHeadReport {
  const { head } = fit;
  const fields: DetectorHeadFields = {
    output: head.output,
    node: head.node.name,
    kernel: [head.kh, head.kw],
    features: head.cin * head.kh * head.kw,
    outputs: head.cout,
    rows: fit.rows,
    metric: head.sigmoid ? 'sigmoid' : 'value',
  };
  if (reason === null) return { ...fields, applied: true, mseBefore: fit.mseBefore!, mseAfter: fit.mseAfter!, reason: null };
  return { ...fields, applied: false, mseBefore: fit.mseBefore, mseAfter: fit.mseAfter, reason };
}

/**
 * Refit the final Conv behind every output of `student` (a float head the int8 pass wrote as Transpose + MatMul is
 * refit as the teacher's 1×1 Conv and written back) to the teacher's tensor of the same name (ridge least
 * squares over im2col rows of the student's own features, on all but every `holdOutEvery`-th sample); keep each
 * refit only when it lowers that tensor's MSE on the held-out samples, measured in onnxruntime. The student is not
 * mutated. Refuses (MODEL_UNSUPPORTED) when no output has a refittable Conv head.
 */
export async function distillDetectorHeads(teacher: OnnxModel, student: OnnxModel, dataset: Dataset, options: DetectorDistillOptions = {}): Promise<DetectorDistillResult> {
  const ridge = options.ridge ?? 1e-4;
  if (!(ridge >= 0) || !Number.isFinite(ridge)) throw new EdgetuneError('USAGE', `distill-detector: ridge must be a finite number ≥ 0; got ${options.ridge}`);
  const maxSamples = options.maxSamples ?? 4096;
  if (!(maxSamples >= 1)) throw new EdgetuneError('USAGE', `distill-detector: maxSamples must be at least 1; got ${options.maxSamples}`);
  const maxRows = options.maxRows ?? 40_000;
  if (!(maxRows >= 1)) throw new EdgetuneError('USAGE', `distill-detector: maxRows must be at least 1; got ${options.maxRows}`);
  const every = options.holdOutEvery ?? 4;
  if (!(every === 0 || (Number.isInteger(every) && every >= 2))) throw new EdgetuneError('USAGE', `distill-detector: holdOutEvery must be 0 or an integer ≥ 2; got ${options.holdOutEvery}`);
  const sigmoidOutputs = options.sigmoidOutputs ?? [];
  const outputNames = new Set(student.graph.outputs.map((o) => o.name));
  const unknown = sigmoidOutputs.filter((name) => !outputNames.has(name));
  if (unknown.length > 0) throw new EdgetuneError('USAGE', `distill-detector: sigmoidOutputs names ${unknown.map((u) => `'${u}'`).join(', ')}, not outputs of the student (${[...outputNames].join(', ')})`);
  // A float head the int8 pass wrote as Transpose + MatMul is refit as the 1×1 Conv it was, then written back.
  const asConv = cloneModel(student);
  const restoredHeads = matMulHeadsAsPointwiseConv(asConv.graph, teacher.graph);
  if (restoredHeads.length > 0) student = asConv;
  const found = findDetectorHeads(student, teacher, sigmoidOutputs);
  if (found.heads.length === 0) {
    const why = found.skipped.map((s) => s.reason).join('; ');
    throw new EdgetuneError('MODEL_UNSUPPORTED', `distill-detector: no output of the student ends in a refittable Conv head (${why || 'the model has no outputs'})`);
  }
  if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'distill-detector aborted before it started');

  const fits = found.heads.map(newFit);
  const heldOut = (sample: number): boolean => every > 0 && sample % every === every - 1;

  // Pass 1: the student's head inputs and outputs and the teacher's targets; accumulate XᵀX, XᵀY and the error before.
  const targets = found.heads.map((h) => h.target);
  const studentNames = [...new Set([...found.heads.map((h) => h.input), ...targets])];
  const sRun = await probeRunner(student, studentNames);
  let tRun: InferenceRunner | undefined;
  let samples: number;
  try {
    tRun = await probeRunner(teacher, targets);
    samples = await forEachPiece(teacher, student, dataset, maxSamples, 'fit', options, () => true, async (tf, sf, first, planned) => {
      const s = await probe(sRun, sf, studentNames);
      const t = await probe(tRun!, tf, targets);
      const plannedFit = every > 0 ? planned - Math.floor(planned / every) : planned;
      for (const fit of fits) {
        if (fit.failure) continue;
        accumulate(fit, s.get(fit.head.input)!, s.get(fit.head.target)!, t.get(fit.head.target)!, first, heldOut, plannedFit, maxRows);
      }
    });
  } finally {
    await sRun.release();
    await tRun?.release();
  }
  let heldOutSamples = 0;
  for (let k = 0; k < samples; k++) if (heldOut(k)) heldOutSamples++;
  // Too few samples to hold any out: judge on the fitted samples.
  const judged = heldOutSamples > 0 ? heldOut : (): boolean => true;

  // Solve each head: the correction [f, Cout] (row f-1 the bias) added to the weight [Cout, Cin, kh, kw] and bias.
  for (const fit of fits) {
    if (fit.failure) continue;
    fit.mseBefore = heldOutSamples > 0 ? fit.sseHeld / Math.max(1, fit.countHeld) : fit.sseFit / Math.max(1, fit.countFit);
    if (fit.rows === 0) {
      fit.failure = `Conv '${fit.head.node.name}': no rows to fit`;
      continue;
    }
    const f = fit.head.cin * fit.head.kh * fit.head.kw + 1;
    const m = fit.head.cout;
    let delta: Float64Array;
    if (fit.head.sigmoid) {
      delta = new Float64Array(f * m);
      fit.eqs.forEach((eq, k) => {
        const d = eq.solve(ridge, f - 1);
        for (let i = 0; i < f; i++) delta[i * m + k] = d[i]!;
      });
    } else delta = fit.eqs[0]!.solve(ridge, f - 1);
    if (!delta.every(Number.isFinite)) {
      fit.failure = `Conv '${fit.head.node.name}': the least-squares solution is not finite`;
      continue;
    }
    const inner = f - 1;
    const weight = new Float32Array(m * inner);
    const bias = new Float32Array(m);
    for (let k = 0; k < m; k++) {
      for (let i = 0; i < inner; i++) weight[k * inner + i] = fit.head.weight[k * inner + i]! + delta[i * m + k]!;
      bias[k] = fit.head.bias[k]! + delta[inner * m + k]!;
    }
    fit.solved = { weight, bias };
  }
  options.onProgress?.('solve', 1, 1);

  // Pass 2 (repeated only when heads feed each other): measure in onnxruntime, drop heads that did not help.
  let accepted = fits.filter((f) => f.solved);
  const rejected = new Map<HeadFit, string>();
  const dependent = headsDepend(student.graph, accepted.map((f) => f.head));
  const where = heldOutSamples > 0 ? `${heldOutSamples} held-out sample(s)` : `the ${samples} fitted sample(s)`;
  while (accepted.length > 0) {
    const mse = await measure(teacher, withHeads(student, accepted), dataset, accepted, maxSamples, options, judged);
    accepted.forEach((fit, i) => (fit.mseAfter = mse[i]!));
    const worse = accepted.filter((fit) => !(fit.mseAfter! < fit.mseBefore!));
    for (const fit of worse) {
      rejected.set(fit, `the refit did not lower the MSE of ${fit.head.sigmoid ? `sigmoid('${fit.head.target}')` : `'${fit.head.target}'`} against the teacher on ${where} (${fit.mseAfter!.toPrecision(4)} vs ${fit.mseBefore!.toPrecision(4)}): Conv kept unchanged`);
    }
    accepted = accepted.filter((fit) => !worse.includes(fit));
    if (worse.length === 0 || !dependent) break;
  }

  const heads: DetectorHeadReport[] = fits.map((fit) => report(fit, fit.failure ?? rejected.get(fit) ?? null));
  heads.push(...found.skipped);
  const result = withHeads(student, accepted);
  if (restoredHeads.length > 0) pointwiseHeadAsMatMul(result.graph, new Set(restoredHeads));
  return { student: result, heads, applied: accepted.length, samples, heldOutSamples };
}
