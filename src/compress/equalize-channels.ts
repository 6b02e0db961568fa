import type { OnnxGraph, OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import type { TensorTypeMap } from '../onnx/shape-inference.js';
import { DataType } from '../onnx/dtype.js';
import { attrInt, attrInts, attrString, consumerMap, graphOutputNames, makeNode, nameFactory, producerMap, topologicalSort } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import type { ChannelRange } from './calibrate.js';

/** Name prefix of the channel-scale Mul nodes this pass inserts (the int8 pass leaves them float, inside their island). */
export const EQUALIZATION_MUL_PREFIX = 'edgetune_equalize_';

/**
 * Ops that stay float between DequantizeLinear and QuantizeLinear in the int8 graph (no int8 kernel on onnxruntime's
 * CPU EP) and act on each channel separately, so a channel scale can be undone in front of them and applied behind
 * them.
 */
const ISLAND_OPS = new Set(['HardSwish', 'HardSigmoid', 'Tanh', 'Softplus', 'Elu', 'Selu', 'Softsign', 'Erf']);
/** Ops that commute with a positive per-channel scale (f(x/s) = f(x)/s per channel). */
const TRANSPARENT_OPS = new Set(['Relu', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Resize', 'Upsample', 'Identity', 'Dropout']);

/** Options of channel equalization. */
export interface EqualizeOptions {
  /** Candidate SmoothQuant exponents for sites with a dense (groups = 1) consumer; the analytic error model picks one. */
  alphas?: readonly number[];
  /** Smallest scale relative to the largest (dead channels are not blown up past this). */
  minRelativeScale?: number;
  /**
   * Margin on each channel's calibrated range before equalizing (default 1.5): an amplified channel clips at its
   * own calibrated maximum × this, so a few calibration images that miss a channel's peaks do not clip it.
   */
  headroom?: number;
  /**
   * Equalize tensors read by a float-only op (HardSwish…) too, at the cost of a channel-scale Mul in front of it
   * (default false: on PP-OCRv4 det those Muls cost ~20 % of the int8 speed-up while the island stays float). A
   * predicate decides per tensor: the int8 pipeline equalizes the inputs of islands that become table lookups,
   * where the Mul is folded into the table and costs nothing.
   */
  islandInputs?: boolean | ((tensor: string) => boolean);
}

/** One equalized tensor, for the report. */
export interface EqualizedSite {
  tensor: string;
  producer: 'conv' | 'island';
  absorbers: string[];
  alpha: number;
  /** Largest / smallest per-channel range before and after, over the channels that are not constant zero on the data. */
  spreadBefore: number;
  spreadAfter: number;
}

/** What equalization did. */
export interface EqualizeReport {
  sites: EqualizedSite[];
  /** Channel-scale Mul nodes inserted (each stays a float op inside its island). */
  scaleNodes: number;
  skipped: Array<{ tensor: string; reason: string }>;
}

type Absorber =
  | { kind: 'conv-dense'; node: OnnxNode }
  | { kind: 'conv-depthwise'; node: OnnxNode }
  | { kind: 'island-entry'; node: OnnxNode; input: string };

/**
 * Per-channel activation equalization (generalised cross-layer equalization, Nagel et al. 2019; SmoothQuant's α):
 * a tensor X whose channels have very different ranges is replaced by X/s (s per channel) so one per-tensor int8
 * scale fits every channel, and what reads X compensates exactly. X/s comes from its producer: a Conv (its output
 * channels' weights and bias divided by s, free with per-channel weights) or a float-only op such as HardSwish
 * (1/s folded into a trailing constant Mul/Add, else a Mul by 1/s after it, which stays float inside the island).
 * The compensation is taken up by the readers: a depthwise Conv (its channel weights × s, free), a dense Conv (its
 * input columns × s: weight ranges grow, so s = r^α / w^(1−α) with α chosen by an error model), or, with
 * `islandInputs`, a float-only op (a Mul by s before it), through ops that commute with a positive channel scale (Relu, pools,
 * Resize, Pad with zeros, a gate Mul, Clip(0, m) where the data never reaches m in an amplified channel).
 * Exact in float; pure. `ranges` are per-channel calibration ranges of the candidate tensors.
 */
export function equalizeChannels(graph: OnnxGraph, ranges: ReadonlyMap<string, ChannelRange>, options: EqualizeOptions = {}): EqualizeReport {
  const alphas = options.alphas ?? [0, 0.25, 0.5, 0.75, 1];
  const minRelative = options.minRelativeScale ?? 1 / 32;
  const headroom = options.headroom ?? 1.5;
  const fresh = nameFactory(graph);
  const report: EqualizeReport = { sites: [], scaleNodes: 0, skipped: [] };
  const outputs = graphOutputNames(graph);
  for (const [tensor, range] of ranges) {
    const consumers = consumerMap(graph);
    const producers = producerMap(graph);
    const producer = producers.get(tensor);
    if (!producer || outputs.has(tensor)) continue;
    const channels = range.min.length;
    const producerKind = producerKindOf(graph, producer, channels);
    if (!producerKind) continue;
    const walk = collectAbsorbers(graph, tensor, channels, consumers, outputs, options.islandInputs ?? false);
    if ('reason' in walk) {
      report.skipped.push({ tensor, reason: walk.reason });
      continue;
    }
    // Between two float-only ops nothing is quantized: nothing to gain.
    if (producerKind === 'island' && walk.absorbers.every((a) => a.kind === 'island-entry')) continue;
    // What gets quantized is the Clip's output when the path goes through Clip(0, m).
    const r = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      r[c] = walk.clipMax === undefined ? Math.max(range.max[c]!, 0) - Math.min(range.min[c]!, 0) : Math.min(Math.max(range.max[c]!, 0), walk.clipMax);
    }
    const rMax = Math.max(...r);
    if (!(rMax > 0)) continue;
    // Scales are chosen on ranges with headroom (never past the largest channel's): see EqualizeOptions.headroom.
    const rChoice = Float64Array.from(r, (v) => Math.min(v * headroom, rMax));
    const dense = walk.absorbers.filter((a) => a.kind === 'conv-dense').map((a) => graph.initializers.get(a.node.inputs[1]!)!);
    let choice = chooseScales(rChoice, dense, dense.length > 0 ? alphas : [1], minRelative);
    // Clip(0, m) on the path: a channel that reaches m must keep scale 1, the others must stay below m once divided
    // (α = 1 always satisfies both: every channel is scaled to the largest range, which is at most m).
    if (walk.clipMax !== undefined) {
      const m = walk.clipMax;
      const fits = (s: Float64Array): boolean => {
        for (let c = 0; c < channels; c++) if (range.max[c]! >= m * (1 - 1e-6)) s[c] = 1;
        let worst = 0;
        for (let c = 0; c < channels; c++) worst = Math.max(worst, r[c]! / s[c]!);
        return worst <= m * (1 + 1e-6);
      };
      if (!fits(choice.s)) choice = chooseScales(rChoice, dense, [1], minRelative);
      if (!fits(choice.s)) {
        report.skipped.push({ tensor, reason: `a channel would exceed the Clip maximum ${m} once equalized` });
        continue;
      }
    }
    if (choice.gain <= 1.05) {
      report.skipped.push({ tensor, reason: 'equalization would not lower the estimated quantization error' });
      continue;
    }
    const s = choice.s;
    const inverse = Float32Array.from(s, (v) => 1 / v);
    // Producer emits X/s.
    let scaled = tensor;
    if (producerKind === 'conv') scaleConvOutputChannels(graph, producer, inverse, fresh, true);
    else if (foldIntoAffine(graph, producer, inverse, channels, consumers, outputs, fresh)) {
      // The island ends in a constant Mul/Add (PP-LCNet's affine block): its constants absorbed 1/s, no new node.
    } else {
      scaled = fresh(`${tensor}_equalized`);
      const k = fresh(`${EQUALIZATION_MUL_PREFIX}${tensor}_inverse`);
      graph.initializers.set(k, floatTensor(k, [1, channels, 1, 1], inverse));
      for (const reader of consumers.get(tensor) ?? []) reader.inputs = reader.inputs.map((i) => (i === tensor ? scaled : i));
      graph.nodes.push(makeNode('Mul', [tensor, k], [scaled], fresh(`${EQUALIZATION_MUL_PREFIX}${tensor}_exit`)));
      report.scaleNodes++;
    }
    // Readers take it back.
    for (const a of walk.absorbers) {
      if (a.kind === 'conv-dense') scaleConvInputChannels(graph, a.node, Float32Array.from(s), fresh);
      else if (a.kind === 'conv-depthwise') scaleConvOutputChannels(graph, a.node, Float32Array.from(s), fresh, false);
      else {
        const source = a.input === tensor ? scaled : a.input;
        const restored = fresh(`${source}_restored`);
        const k = fresh(`${EQUALIZATION_MUL_PREFIX}${source}_scale`);
        graph.initializers.set(k, floatTensor(k, [1, channels, 1, 1], Float32Array.from(s)));
        a.node.inputs = a.node.inputs.map((i, idx) => (idx === 0 ? restored : i));
        graph.nodes.push(makeNode('Mul', [source, k], [restored], fresh(`${EQUALIZATION_MUL_PREFIX}${source}_entry`)));
        report.scaleNodes++;
      }
    }
    graph.nodes = topologicalSort(graph);
    const after = Array.from(r, (v, c) => v / s[c]!);
    report.sites.push({
      tensor,
      producer: producerKind,
      absorbers: walk.absorbers.map((a) => `${a.kind}:${a.node.name || a.node.outputs[0]}`),
      alpha: choice.alpha,
      spreadBefore: liveSpread(r),
      spreadAfter: liveSpread(after),
    });
  }
  return report;
}

/** Largest / smallest of the non-zero ranges (a channel that is 0 on every sample would make any spread infinite); 1 when none. */
function liveSpread(ranges: ArrayLike<number>): number {
  const live = Array.from(ranges).filter((v) => v > 0);
  return live.length === 0 ? 1 : Math.max(...live) / Math.min(...live);
}

function producerKindOf(graph: OnnxGraph, node: OnnxNode, channels: number): 'conv' | 'island' | undefined {
  if (node.domain !== '' || node.outputs.length !== 1) return undefined;
  if (node.opType === 'Conv') {
    const w = graph.initializers.get(node.inputs[1]!);
    if (!w || w.dataType !== DataType.FLOAT || w.dims[0] !== channels) return undefined;
    if (node.inputs[2] && !graph.initializers.has(node.inputs[2])) return undefined;
    return 'conv';
  }
  if (ISLAND_OPS.has(node.opType)) return 'island';
  if (['Mul', 'Add', 'Sub', 'Div'].includes(node.opType) && node.inputs.some((i) => graph.initializers.has(i))) return 'island';
  return undefined;
}

/** Is `node` a float-only op that starts an island (reads a DQ output in the int8 graph)? */
function isIslandEntry(graph: OnnxGraph, node: OnnxNode, input: string): boolean {
  if (node.domain !== '' || node.inputs[0] !== input) return false;
  if (ISLAND_OPS.has(node.opType)) return true;
  // A constant Mul/Add stays float in the int8 graph (see quantize-int8.ts computeOpProblem).
  return ['Mul', 'Add', 'Sub', 'Div'].includes(node.opType) && node.inputs.slice(1).every((i) => graph.initializers.has(i)) && scalarConstant(graph, node.inputs[1]);
}

function scalarConstant(graph: OnnxGraph, name: string | undefined): boolean {
  const t = name ? graph.initializers.get(name) : undefined;
  return !!t && t.values.length === 1;
}

/** Walk forward from `tensor` through scale-transparent ops to the nodes that absorb the channel scale. */
function collectAbsorbers(
  graph: OnnxGraph,
  tensor: string,
  channels: number,
  consumers: Map<string, OnnxNode[]>,
  outputs: Set<string>,
  islandInputs: boolean | ((tensor: string) => boolean),
): { absorbers: Absorber[]; clipMax?: number } | { reason: string } {
  const absorbers: Absorber[] = [];
  let clipMax: number | undefined;
  const visit = (name: string, depth: number): string | undefined => {
    if (outputs.has(name)) return `reaches the graph output '${name}'`;
    if (depth > 8) return 'too deep';
    const readers = consumers.get(name) ?? [];
    if (readers.length === 0) return `'${name}' has no reader`;
    for (const node of readers) {
      if (node.domain !== '') return `read by ${node.domain}:${node.opType}`;
      if (node.opType === 'Conv' && node.inputs[0] === name && !node.inputs.slice(1).includes(name)) {
        const w = graph.initializers.get(node.inputs[1]!);
        if (!w || w.dataType !== DataType.FLOAT) return `Conv '${node.name}' has no float weight initializer`;
        const group = attrInt(node, 'group', 1);
        if (group === 1 && w.dims[1] === channels) absorbers.push({ kind: 'conv-dense', node });
        else if (group === channels && w.dims[1] === 1 && w.dims[0] === channels) absorbers.push({ kind: 'conv-depthwise', node });
        else return `Conv '${node.name}' has group ${group}`;
        continue;
      }
      if (isIslandEntry(graph, node, name)) {
        if (!(typeof islandInputs === 'function' ? islandInputs(name) : islandInputs)) return `read by the float-only ${node.opType} '${node.name}' (island inputs are not equalized)`;
        absorbers.push({ kind: 'island-entry', node, input: name });
        continue;
      }
      if (TRANSPARENT_OPS.has(node.opType) && node.inputs[0] === name) {
        if (node.opType === 'Resize' && attrString(node, 'mode', 'nearest') === 'cubic') return 'cubic Resize';
        const why = visit(node.outputs[0]!, depth + 1);
        if (why) return why;
        continue;
      }
      if (node.opType === 'Pad' && node.inputs[0] === name && attrString(node, 'mode', 'constant') === 'constant') {
        const pads = node.inputs[1] ? graph.initializers.get(node.inputs[1]) : undefined;
        const value = node.inputs[2] ? graph.initializers.get(node.inputs[2]) : undefined;
        const p = pads ? Array.from(pads.values as BigInt64Array, Number) : attrInts(node, 'pads', []);
        if (p.length !== 8 || p[1] !== 0 || p[5] !== 0 || (node.inputs[2] && (!value || tensorToFloat32(value)[0] !== 0))) return `Pad '${node.name}' pads channels or with a non-zero value`;
        const why = visit(node.outputs[0]!, depth + 1);
        if (why) return why;
        continue;
      }
      if (node.opType === 'Clip' && node.inputs[0] === name) {
        const lo = node.inputs[1] ? graph.initializers.get(node.inputs[1]) : undefined;
        const hi = node.inputs[2] ? graph.initializers.get(node.inputs[2]) : undefined;
        if (!lo || tensorToFloat32(lo)[0] !== 0 || !hi) return `Clip '${node.name}' is not Clip(0, m)`;
        const m = tensorToFloat32(hi)[0]!;
        clipMax = clipMax === undefined ? m : Math.min(clipMax, m);
        const why = visit(node.outputs[0]!, depth + 1);
        if (why) return why;
        continue;
      }
      if (node.opType === 'Mul' && node.inputs.length === 2 && node.inputs[0] !== node.inputs[1] && !graph.initializers.has(node.inputs[0]!) && !graph.initializers.has(node.inputs[1]!)) {
        // A gate (SE block): (x/s)·g = (x·g)/s.
        const why = visit(node.outputs[0]!, depth + 1);
        if (why) return why;
        continue;
      }
      return `read by ${node.opType} '${node.name}'`;
    }
    return undefined;
  };
  const why = visit(tensor, 0);
  if (why) return { reason: why };
  // A tensor can be both read directly and through a transparent op; absorb each node once.
  const seen = new Set<OnnxNode>();
  const unique = absorbers.filter((a) => (seen.has(a.node) ? false : (seen.add(a.node), true)));
  return clipMax === undefined ? { absorbers: unique } : { absorbers: unique, clipMax };
}

/**
 * Pick per-channel scales s (largest = 1) for ranges r: s = r^α / w^(1−α), normalised. The error model adds, for
 * each dense consumer, the activation rounding noise (step max(r/s)/255, through the scaled weights) and the
 * per-output-channel weight rounding noise (step max|W·s|/127, through activations of power (r/s)²/12).
 */
export function chooseScales(r: Float64Array, denseWeights: readonly Tensor[], alphas: readonly number[], minRelative: number): { s: Float64Array; alpha: number; gain: number } {
  const channels = r.length;
  const rMax = Math.max(...r);
  const colMax = new Float64Array(channels);
  const weights = denseWeights.map((w) => ({ values: tensorToFloat32(w), out: w.dims[0]!, per: w.dims.slice(2).reduce((a, b) => a * b, 1) }));
  for (const w of weights) {
    for (let o = 0; o < w.out; o++) for (let c = 0; c < channels; c++) for (let k = 0; k < w.per; k++) colMax[c] = Math.max(colMax[c]!, Math.abs(w.values[(o * channels + c) * w.per + k]!));
  }
  const error = (s: Float64Array): number => {
    let maxScaled = 0;
    for (let c = 0; c < channels; c++) maxScaled = Math.max(maxScaled, r[c]! / s[c]!);
    const actStep = maxScaled / 255;
    if (weights.length === 0) {
      // Free absorbers only: the error is the activation step relative to each channel's own range.
      let e = 0;
      for (let c = 0; c < channels; c++) e += ((actStep * s[c]!) / Math.max(r[c]!, rMax * minRelative)) ** 2;
      return e;
    }
    let e = 0;
    for (const w of weights) {
      for (let o = 0; o < w.out; o++) {
        let rowMax = 0;
        let actNoise = 0;
        for (let c = 0; c < channels; c++) {
          for (let k = 0; k < w.per; k++) {
            const v = Math.abs(w.values[(o * channels + c) * w.per + k]! * s[c]!);
            rowMax = Math.max(rowMax, v);
            actNoise += v * v;
          }
        }
        const wStep = rowMax / 127;
        let weightNoise = 0;
        for (let c = 0; c < channels; c++) weightNoise += w.per * ((r[c]! / s[c]!) ** 2 / 12);
        e += (actStep * actStep * actNoise) / 12 + (wStep * wStep * weightNoise) / 12;
      }
    }
    return e;
  };
  const identity = new Float64Array(channels).fill(1);
  const base = error(identity);
  let best = { s: identity, alpha: 0, e: base };
  for (const alpha of alphas) {
    const s = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      const rc = Math.max(r[c]!, rMax * minRelative);
      const wc = weights.length > 0 ? Math.max(colMax[c]!, 1e-8) : 1;
      s[c] = rc ** alpha / wc ** (1 - alpha);
    }
    const top = Math.max(...s);
    for (let c = 0; c < channels; c++) s[c] = Math.max(s[c]! / top, minRelative);
    const e = error(s);
    if (e < best.e) best = { s, alpha, e };
  }
  return { s: best.s, alpha: best.alpha, gain: base / Math.max(best.e, 1e-300) };
}

/** Multiply a Conv's output channel c weights by k[c], and its bias too when `withBias` (a producer; not a depthwise reader). */
function scaleConvOutputChannels(graph: OnnxGraph, conv: OnnxNode, k: Float32Array, fresh: (b: string) => string, withBias: boolean): void {
  const w = graph.initializers.get(conv.inputs[1]!)!;
  const values = tensorToFloat32(w);
  const per = values.length / w.dims[0]!;
  const scaled = Float32Array.from(values, (v, i) => v * k[Math.floor(i / per)]!);
  const wName = fresh(`${conv.inputs[1]}_eq`);
  graph.initializers.set(wName, floatTensor(wName, [...w.dims], scaled));
  conv.inputs[1] = wName;
  if (withBias && conv.inputs[2]) {
    const b = graph.initializers.get(conv.inputs[2])!;
    const bName = fresh(`${conv.inputs[2]}_eq`);
    graph.initializers.set(bName, floatTensor(bName, [...b.dims], Float32Array.from(tensorToFloat32(b), (v, c) => v * k[c]!)));
    conv.inputs[2] = bName;
  }
}

/** Multiply a dense Conv's input channel c (weight columns) by k[c]. */
function scaleConvInputChannels(graph: OnnxGraph, conv: OnnxNode, k: Float32Array, fresh: (b: string) => string): void {
  const w = graph.initializers.get(conv.inputs[1]!)!;
  const values = tensorToFloat32(w);
  const inChannels = w.dims[1]!;
  const per = w.dims.slice(2).reduce((a, b) => a * b, 1);
  const scaled = Float32Array.from(values, (v, i) => v * k[Math.floor(i / per) % inChannels]!);
  const wName = fresh(`${conv.inputs[1]}_eq`);
  graph.initializers.set(wName, floatTensor(wName, [...w.dims], scaled));
  conv.inputs[1] = wName;
}

/**
 * Divide the output of a trailing constant affine step (`Mul(h, γ)`, or `Add(Mul(h, γ), β)` whose Mul feeds only
 * the Add) by s per channel by rewriting its constants: (γ·h + β)/s = (γ/s)·h + β/s. Returns false when the
 * producer is not such a step (then a Mul by 1/s is inserted instead).
 */
function foldIntoAffine(
  graph: OnnxGraph,
  producer: OnnxNode,
  inverse: Float32Array,
  channels: number,
  consumers: Map<string, OnnxNode[]>,
  outputs: Set<string>,
  fresh: (b: string) => string,
): boolean {
  const constantSide = (node: OnnxNode): number => (graph.initializers.has(node.inputs[1]!) ? 1 : graph.initializers.has(node.inputs[0]!) ? 0 : -1);
  const perChannel = (name: string): Float32Array | undefined => {
    const t = graph.initializers.get(name);
    if (!t || t.dataType !== DataType.FLOAT) return undefined;
    const v = tensorToFloat32(t);
    if (v.length === 1) return new Float32Array(channels).fill(v[0]!);
    const shapeOk = t.dims.length >= 3 && t.dims[t.dims.length - 3] === channels && v.length === channels;
    return shapeOk ? Float32Array.from(v) : undefined;
  };
  const steps: Array<{ node: OnnxNode; side: number; values: Float32Array }> = [];
  if (producer.opType === 'Add' && producer.domain === '') {
    const side = constantSide(producer);
    const beta = side >= 0 ? perChannel(producer.inputs[side]!) : undefined;
    const mulName = side >= 0 ? producer.inputs[1 - side]! : undefined;
    const mul = mulName ? graph.nodes.find((n) => n.outputs[0] === mulName) : undefined;
    if (!beta || !mul || mul.opType !== 'Mul' || mul.domain !== '' || outputs.has(mulName!) || (consumers.get(mulName!) ?? []).length !== 1) return false;
    const mulSide = constantSide(mul);
    const gamma = mulSide >= 0 ? perChannel(mul.inputs[mulSide]!) : undefined;
    if (!gamma) return false;
    steps.push({ node: producer, side, values: beta }, { node: mul, side: mulSide, values: gamma });
  } else if (producer.opType === 'Mul' && producer.domain === '') {
    const side = constantSide(producer);
    const gamma = side >= 0 ? perChannel(producer.inputs[side]!) : undefined;
    if (!gamma) return false;
    steps.push({ node: producer, side, values: gamma });
  } else return false;
  for (const step of steps) {
    const name = fresh(`${step.node.inputs[step.side]}_equalized`);
    graph.initializers.set(name, floatTensor(name, [1, channels, 1, 1], Float32Array.from(step.values, (v, c) => v * inverse[c]!)));
    step.node.inputs[step.side] = name;
  }
  return true;
}

/**
 * Tensors worth measuring per channel for equalization: float outputs of 2-D Convs (4-D weights) and of the ops
 * that read them channel-wise, rank 4 by shape inference or by that construction (tf2onnx graphs often carry no
 * shapes).
 */
export function equalizationCandidates(model: OnnxModel, types: TensorTypeMap): string[] {
  const graph = model.graph;
  const rank4 = new Set<string>();
  const out: string[] = [];
  for (const node of graph.nodes) {
    const name = node.outputs[0];
    if (!name || node.outputs.length !== 1) continue;
    const type = types.get(name);
    if (type && type.elemType !== DataType.FLOAT) continue;
    const w = node.opType === 'Conv' ? graph.initializers.get(node.inputs[1]!) : undefined;
    const byShape = type?.shape?.length === 4;
    const byConv = !!w && w.dims.length === 4;
    const byInput = !type?.shape && (ISLAND_OPS.has(node.opType) || TRANSPARENT_OPS.has(node.opType) || ['Mul', 'Add', 'Sub', 'Div', 'Clip', 'Pad'].includes(node.opType)) && rank4.has(node.inputs[0]!);
    if (byShape || byConv || byInput) {
      rank4.add(name);
      out.push(name);
    }
  }
  return out;
}
