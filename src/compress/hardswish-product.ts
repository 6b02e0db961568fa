/**
 * HardSwish as a product that onnxruntime's int8 kernels run: `HardSwish(k·x) = k·x · HardSigmoid(k·x)`, with
 * HardSigmoid(k·x) = Clip(k/6 · x + ½, 0, 1) written as a depthwise 1×1 Conv (weight k/6 per channel, bias ½) and a
 * Clip. Quantized, the Conv becomes a QLinearConv whose uint8 output at scale 1/255 saturates at 0 and 1 (the clip for
 * free), the product a QLinearMul; both are multithreaded in onnxruntime, where the float island (DQ → HardSwish → Q)
 * and its table lookup (Cast + GatherElements) run on one thread. The factor k (equalization's channel scale in front
 * of the HardSwish) goes into the Conv's weights; the factor k and an affine `·γ + β` after the HardSwish (PP-LCNet's
 * learnable affine) go into the readers' weights and biases, so the rewrite only applies where every reader is a Conv
 * with constant weights, or where there is nothing to fold (then any reader; `channelsOf` gives the channel count).
 * Where a reader pads, β cannot go into its bias (padding would see 0 where the affine has β): the affine then stays
 * as a depthwise 1×1 Conv (weight k·γ, bias β) on the product, and the readers are unchanged.
 * Exact in float. Pure: mutates the graph.
 */
import type { OnnxGraph, OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { cloneModel } from '../onnx/ir.js';
import { normalizeModel } from '../onnx/normalize.js';
import { fuseHardSwish } from './fuse-activations.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { foldAddIntoPointwiseConv, foldConvAffine } from './fold-affine.js';
import { DataType } from '../onnx/dtype.js';
import { attr, attrInt, consumerMap, graphOutputNames, makeNode, nameFactory, producerMap, topologicalSort } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';

/** What the rewrite did, for the compress report. */
export interface HardSwishProductReport {
  /** HardSwish nodes rewritten as a product. */
  rewritten: number;
  /** The HardSigmoid tensors (the Clip outputs): calibrate them to exactly [0, 1], so 8 bits saturate where Clip does. */
  hardSigmoidTensors: string[];
  /** The tensors the rewritten HardSwishes read (before their channel-scale Mul, if any). */
  inputs: string[];
  /** HardSwish nodes left as they are, by reason. */
  leftAlone: Record<string, number>;
}

/** Caller input for hardSwishAsProduct. */
export interface HardSwishProductOptions {
  /** Rewrite only these HardSwish nodes' inputs (tensor names); default every HardSwish. */
  inputs?: (tensor: string) => boolean;
  /** Only report what would be rewritten (`inputs`, `rewritten`, `leftAlone`); the graph is not touched. */
  dryRun?: boolean;
  /**
   * The channel count (axis 1) of a tensor, when it is known and the tensor has rank 4 (else null: the HardSigmoid is
   * a 2-D 1×1 Conv): lets a HardSwish with nothing to fold (no channel scale, no
   * affine) become a product whatever reads it.
   */
  channelsOf?: (tensor: string) => number | null;
}

/** Per-channel values of a constant of one element or of shape [C,1,1] / [1,C,1,1]; undefined otherwise. */
function channelValues(t: Tensor, channels: number): Float32Array | undefined {
  if (t.dataType !== DataType.FLOAT) return undefined;
  const v = tensorToFloat32(t);
  if (v.length === 1) return new Float32Array(channels).fill(v[0]!);
  const dims = t.dims;
  const perChannel = (dims.length === 3 || (dims.length === 4 && dims[0] === 1)) && dims.at(-3) === channels && dims.at(-1) === 1 && dims.at(-2) === 1;
  return perChannel ? Float32Array.from(v) : undefined;
}

/** Whether a Conv reads `input` as its data with constant float 4-D weights (and constant bias, if any). */
function foldableReader(graph: OnnxGraph, conv: OnnxNode, input: string): boolean {
  if (conv.opType !== 'Conv' || conv.domain !== '' || conv.inputs[0] !== input || conv.inputs.slice(1).includes(input)) return false;
  const w = graph.initializers.get(conv.inputs[1] ?? '');
  if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 4) return false;
  return !conv.inputs[2] || graph.initializers.get(conv.inputs[2])?.dataType === DataType.FLOAT;
}

/** Whether a Conv reads no padding (an additive constant in its input folds exactly into its bias). */
function withoutPadding(conv: OnnxNode): boolean {
  const pads = conv.attributes.get('pads');
  if (pads && pads.type === 'ints' && pads.value.some((p) => p !== 0)) return false;
  const autoPad = conv.attributes.get('auto_pad');
  return !(autoPad && autoPad.type === 'string' && autoPad.value !== 'NOTSET' && autoPad.value !== 'VALID');
}

/**
 * Rewrite each `[Mul k] → HardSwish → [Mul γ] → [Add β] → Convs` (k, γ, β one value or one per channel) as
 * `P = x · Clip(Conv1×1_dw(x; k/6, ½), 0, 1)` read by the Convs with weights scaled by k·γ per input channel and β
 * folded into their biases. See the module summary for why and where it applies.
 */
export function hardSwishAsProduct(graph: OnnxGraph, options: HardSwishProductOptions = {}): HardSwishProductReport {
  const fresh = nameFactory(graph);
  const outputs = graphOutputNames(graph);
  const consumers = consumerMap(graph);
  const producers = producerMap(graph);
  const removed = new Set<OnnxNode>();
  const replacedConstants = new Set<string>();
  const added = new Map<OnnxNode, OnnxNode[]>();
  const report: HardSwishProductReport = { rewritten: 0, hardSigmoidTensors: [], inputs: [], leftAlone: {} };
  const leave = (reason: string): void => {
    report.leftAlone[reason] = (report.leftAlone[reason] ?? 0) + 1;
  };
  const single = (name: string): OnnxNode | undefined => {
    const readers = consumers.get(name) ?? [];
    return readers.length === 1 && !outputs.has(name) ? readers[0] : undefined;
  };
  /** The constant operand of an elementwise Mul/Add of `x`, or undefined. */
  const constantOperand = (node: OnnxNode, x: string): Tensor | undefined => {
    if (node.domain !== '' || node.inputs.length !== 2) return undefined;
    const other = node.inputs[0] === x ? node.inputs[1] : node.inputs[1] === x ? node.inputs[0] : undefined;
    return other && other !== x ? graph.initializers.get(other) : undefined;
  };
  for (const hs of graph.nodes) {
    if (hs.opType !== 'HardSwish' || hs.domain !== '' || removed.has(hs)) continue;
    if (options.inputs && !options.inputs(hs.inputs[0]!)) continue;
    // Walk forward: optional Mul γ, optional Add β, then the readers.
    const tail: OnnxNode[] = [];
    let end = hs.outputs[0]!;
    let gammaT: Tensor | undefined;
    let betaT: Tensor | undefined;
    for (const op of ['Mul', 'Add'] as const) {
      const next = single(end);
      const constant = next && next.opType === op ? constantOperand(next, end) : undefined;
      if (!next || !constant) continue;
      if (op === 'Mul') gammaT = constant;
      else betaT = constant;
      tail.push(next);
      end = next.outputs[0]!;
    }
    // Walk back: an optional Mul k that only this HardSwish reads.
    const before = producers.get(hs.inputs[0]!);
    const beforeInput = before && before.opType === 'Mul' && single(hs.inputs[0]!) === hs ? before.inputs.find((i) => i && !graph.initializers.has(i)) : undefined;
    const kT = before && beforeInput ? constantOperand(before, beforeInput) : undefined;
    const x = kT ? beforeInput! : hs.inputs[0]!;
    const readers = consumers.get(end) ?? [];
    const foldable = !outputs.has(end) && readers.length > 0 && readers.every((r) => foldableReader(graph, r, end));
    let channels: number;
    if (foldable) {
      const w0 = graph.initializers.get(readers[0]!.inputs[1]!)!;
      channels = w0.dims[1]! * attrInt(readers[0]!, 'group', 1);
      if (readers.some((r) => graph.initializers.get(r.inputs[1]!)!.dims[1]! * attrInt(r, 'group', 1) !== channels)) {
        leave('readers disagree on the channel count');
        continue;
      }
    } else {
      // A reader that is not a Conv (squeeze-excitation, pooling, a graph output) cannot take a channel scale or an
      // affine; with none (no Mul k in front, no ·γ + β behind) x·HardSigmoid(x) is the HardSwish itself, for any
      // reader. (Keeping a non-trivial affine as a depthwise 1×1 Conv measured 2–3 % slower than the float island on
      // PP-OCR cls, BENCHMARKS.md.) A dry run does not count these, so that equalization puts no scale in front.
      const known = tail.length === 0 && !kT ? (options.channelsOf?.(x) ?? null) : null;
      if (known === null || options.dryRun) {
        if (!options.dryRun) leave(tail.length === 0 && !kT ? 'a reader is not a Conv and the channel count is unknown' : 'a reader is not a Conv, and a channel scale or affine would have to go into it');
        continue;
      }
      channels = known;
    }
    const k = kT ? channelValues(kT, channels) : new Float32Array(channels).fill(1);
    const gamma = gammaT ? channelValues(gammaT, channels) : new Float32Array(channels).fill(1);
    const beta = betaT ? channelValues(betaT, channels) : new Float32Array(channels);
    if (!k || !gamma || !beta) {
      leave('a constant is not one value or one per channel');
      continue;
    }
    if (k.some((v) => v === 0 || !Number.isFinite(v))) {
      leave('a channel scale is 0');
      continue;
    }
    // β folds into the readers' biases when none pads; else the affine stays, as a depthwise 1×1 Conv (weight k·γ,
    // bias β) on the product, writing the tensor the readers read now (so its 8 bits span the same range).
    const affineConv = foldable && beta.some((b) => b !== 0) && !readers.every(withoutPadding);
    report.inputs.push(x);
    report.rewritten++;
    if (options.dryRun) continue;
    // The product's readers: W[o, c, ·] ·= k_c·γ_c, bias[o] += Σ W[o, c, ·]·β_c (original W).
    for (const conv of affineConv || !foldable ? [] : readers) {
      const wT = graph.initializers.get(conv.inputs[1]!)!;
      const [outChannels, inPerGroup, kh, kw] = wT.dims as [number, number, number, number];
      const group = attrInt(conv, 'group', 1);
      const outPerGroup = outChannels / group;
      const taps = kh * kw;
      const weights = tensorToFloat32(wT);
      const scaled = new Float32Array(weights.length);
      const bias = conv.inputs[2] ? Float32Array.from(tensorToFloat32(graph.initializers.get(conv.inputs[2])!)) : new Float32Array(outChannels);
      for (let o = 0; o < outChannels; o++) {
        const g = Math.floor(o / outPerGroup);
        for (let ci = 0; ci < inPerGroup; ci++) {
          const c = g * inPerGroup + ci;
          const factor = k[c]! * gamma[c]!;
          for (let t = 0; t < taps; t++) {
            const at = (o * inPerGroup + ci) * taps + t;
            scaled[at] = weights[at]! * factor;
            bias[o]! += weights[at]! * beta[c]!;
          }
        }
      }
      const base = conv.name || conv.outputs[0]!;
      const wName = fresh(`${base}_hardswish_product_W`);
      const bName = fresh(`${base}_hardswish_product_B`);
      graph.initializers.set(wName, floatTensor(wName, [...wT.dims], scaled));
      graph.initializers.set(bName, floatTensor(bName, [outChannels], bias));
      for (const old of conv.inputs.slice(1)) if (old) replacedConstants.add(old);
      conv.inputs = [conv.inputs[0]!, wName, bName];
    }
    // x · Clip(k/6 · x + ½, 0, 1) replaces [Mul k] → HardSwish → [Mul γ] → [Add β].
    const base = hs.name || hs.outputs[0]!;
    const weightName = fresh(`${base}_hardsigmoid_W`);
    const biasName = fresh(`${base}_hardsigmoid_B`);
    const lo = fresh(`${base}_hardsigmoid_min`);
    const hi = fresh(`${base}_hardsigmoid_max`);
    graph.initializers.set(weightName, floatTensor(weightName, [channels, 1, 1, 1], k.map((v) => v / 6)));
    graph.initializers.set(biasName, floatTensor(biasName, [channels], new Float32Array(channels).fill(0.5)));
    graph.initializers.set(lo, floatTensor(lo, [], [0]));
    graph.initializers.set(hi, floatTensor(hi, [], [1]));
    const linear = fresh(`${base}_hardsigmoid_linear`);
    const gate = fresh(`${base}_hardsigmoid`);
    const product = affineConv ? fresh(`${base}_product`) : end;
    const affineNodes: OnnxNode[] = [];
    if (affineConv) {
      const scaleName = fresh(`${base}_affine_W`);
      const shiftName = fresh(`${base}_affine_B`);
      graph.initializers.set(scaleName, floatTensor(scaleName, [channels, 1, 1, 1], k.map((v, c) => v * gamma[c]!)));
      graph.initializers.set(shiftName, floatTensor(shiftName, [channels], beta));
      affineNodes.push(makeNode('Conv', [product, scaleName, shiftName], [end], fresh(`${base}_affine_conv`), { group: attr.int(channels), kernel_shape: attr.ints([1, 1]) }));
    }
    added.set(hs, [
      makeNode('Conv', [x, weightName, biasName], [linear], fresh(`${base}_hardsigmoid_conv`), { group: attr.int(channels), kernel_shape: attr.ints([1, 1]) }),
      makeNode('Clip', [linear, lo, hi], [gate], fresh(`${base}_hardsigmoid_clip`)),
      makeNode('Mul', [x, gate], [product], fresh(`${base}_product`)),
      ...affineNodes,
    ]);
    removed.add(hs);
    for (const n of tail) removed.add(n);
    if (kT) removed.add(before!);
    report.hardSigmoidTensors.push(gate);
  }
  if (options.dryRun) return report;
  const next: OnnxNode[] = [];
  for (const node of graph.nodes) {
    const replacement = added.get(node);
    if (replacement) next.push(...replacement);
    else if (!removed.has(node)) next.push(node);
  }
  graph.nodes = next;
  graph.nodes = topologicalSort(graph);
  // Constants and value_info nothing reads any more go; the rest of the graph is untouched.
  const live = new Set<string>();
  for (const node of graph.nodes) for (const name of [...node.inputs, ...node.outputs]) live.add(name);
  const dead = new Set([...removed].flatMap((n) => [...n.inputs, ...n.outputs]).concat([...replacedConstants]).filter((name) => !live.has(name)));
  for (const name of dead) if (!graph.inputs.some((i) => i.name === name)) graph.initializers.delete(name);
  graph.valueInfo = graph.valueInfo.filter((v) => !dead.has(v.name));
  return report;
}

/**
 * How many hard-swishes (HardSwish nodes, or exported `x·Clip(x+3,0,6)/6` / `x·HardSigmoid(x)` patterns) the int8
 * pipeline will run as int8 products in `model`: its own first steps (normalize, fuse, fold BatchNorm and affines) on
 * a copy, then a dry run of the rewrite, which counts those whose readers are Convs (a lower bound: the pipeline also
 * rewrites those with nothing to fold that equalization leaves without a channel scale). Pure; `model` is not touched. For `plan`, which otherwise counts every
 * HardSwish as a float island.
 */
export function int8HardSwishProducts(model: OnnxModel): number {
  const copy = cloneModel(model);
  try {
    normalizeModel(copy, { minOpset: 13 });
    fuseHardSwish(copy);
    foldBatchNorm(copy.graph);
    foldConvAffine(copy.graph);
    foldAddIntoPointwiseConv(copy.graph);
    foldBatchNorm(copy.graph);
    return hardSwishAsProduct(copy.graph, { dryRun: true }).rewritten;
  } catch {
    // A graph the passes cannot read: no claim that anything becomes int8.
    return 0;
  }
}
