import { DataType } from '../onnx/dtype.js';
import type { AttributeValue, OnnxGraph, OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { defaultOpset, setOpset } from '../onnx/ir.js';
import { attr, attrFloat, attrInt, consumerMap, graphOutputNames, makeNode, nameFactory, producerMap, removeDeadCode, topologicalSort } from '../onnx/graph.js';
import { floatTensor, makeTensor, tensorToFloat32 } from '../onnx/tensor.js';
import type { TensorTypeMap } from '../onnx/shape-inference.js';
import type { TensorRange } from './calibration-stats.js';
import { computeQuantParams, quantRange, quantizeBias, quantizeValue, quantizeWeightPerChannel, quantizeWeightPerTensor, type QuantParams } from './quant-params.js';
import type { KeptNode, PassResult } from './pass.js';
import { EQUALIZATION_MUL_PREFIX } from './equalize-channels.js';

/** Options of the static int8 QDQ pass. */
export interface Int8Options {
  /** Activation type: uint8 asymmetric (default, CPU-friendly) or int8 symmetric (GPU/TensorRT style). */
  activationType?: 'uint8' | 'int8';
  /** Per-channel weights (default true). */
  perChannel?: boolean;
  /** 7-bit weights, for x86 AVX2 without VNNI where u8s8 products saturate. */
  reduceRange?: boolean;
  /** Node names to leave in float (mixed precision). */
  keepFloat?: ReadonlySet<string>;
  /**
   * Keep a detector's head float: the ops between the last weighted layers and the graph outputs (decoding,
   * sigmoid, concat of boxes and scores) always, and the last weighted layers themselves when the model has several
   * outputs, where one int8 scale would have to span box offsets and scores. Default true.
   */
  floatHead?: boolean;
  /**
   * Ranges that calibration does not choose: a HardSigmoid written as a clipped Conv is [0, 1] exactly, so its 8 bits
   * saturate where the Clip does (hardswish-product.ts).
   */
  pinnedRanges?: ReadonlyMap<string, TensorRange>;
}

/** Ops whose output is computed in int8 by a fused onnxruntime kernel (QLinear*, QGemm). */
const COMPUTE_OPS = new Set(['Conv', 'Gemm', 'MatMul', 'Add', 'Mul', 'Concat', 'GlobalAveragePool', 'AveragePool', 'Sigmoid', 'LeakyRelu']);
/** Ops that run on 8-bit data when input and output share scale and zero point. */
const SHARED_SCALE_OPS = new Set(['MaxPool', 'Resize', 'Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Gather', 'Slice', 'Split', 'DepthToSpace']);
/** Why an op stays float, for the report. */
const FLOAT_REASONS: Record<string, string> = {
  ConvTranspose: 'onnxruntime CPU has no fused int8 ConvTranspose (DQ→fp32→Q would be slower)',
  HardSigmoid: 'no int8 kernel in onnxruntime CPU',
  HardSwish: 'no int8 kernel in onnxruntime CPU',
  Div: 'no int8 kernel in onnxruntime CPU',
  BatchNormalization: 'unfolded BatchNormalization has no int8 kernel',
  LayerNormalization: 'no fused int8 LayerNormalization on CPU',
  Softmax: 'kept float for accuracy',
};

interface Qp {
  scaleName: string;
  zeroPointName: string;
  params: QuantParams;
}

/**
 * Static int8 quantization in the QDQ format onnxruntime fuses (notes §2–§4, §17): per-channel symmetric int8 weights,
 * uint8 asymmetric activations from calibrated ranges, int32 bias at s_x·s_w, Relu/Clip(0,·) folded into the op
 * before them, Q/DQ shared by all consumers, graph outputs left float. Pure: `ranges` comes from calibration on
 * this same graph (BatchNorm already folded).
 */
export function quantizeInt8(model: OnnxModel, types: TensorTypeMap, ranges: ReadonlyMap<string, TensorRange>, options: Int8Options = {}): PassResult {
  const graph = model.graph;
  const from = defaultOpset(model);
  const activationType = options.activationType ?? 'uint8';
  const symmetricActivations = activationType === 'int8';
  const perChannel = options.perChannel ?? true;
  const reduceRange = options.reduceRange ?? false;
  const keepFloat = options.keepFloat ?? new Set<string>();
  const kept: KeptNode[] = [];
  const notes: string[] = [];
  const fresh = nameFactory(graph);
  const isFloat = (name: string): boolean => types.get(name)?.elemType === DataType.FLOAT;
  const outputs = graphOutputNames(graph);

  if (!symmetricActivations) foldActivations(graph, keepFloat);

  // 1. Which nodes are quantized.
  const quantized = new Set<OnnxNode>();
  const head = options.floatHead === false ? { tail: new Set<OnnxNode>(), layers: new Set<OnnxNode>() } : headOf(graph, outputs);
  const producers = producerMap(graph);
  for (const node of graph.nodes) {
    const label = node.name || node.outputs[0]!;
    // Equalization's channel-scale Muls stay float inside their island; they are not "kept float" for the report.
    if (node.domain !== '' || node.name.startsWith(EQUALIZATION_MUL_PREFIX)) continue;
    if (keepFloat.has(label)) {
      kept.push({ node: label, opType: node.opType, reason: 'kept float: accuracy-sensitive (--keep-float)' });
      continue;
    }
    if (head.layers.has(node)) {
      kept.push({ node: label, opType: node.opType, reason: 'detector head: the last weighted layer before one of several outputs stays float (one int8 scale would span boxes and scores)' });
      continue;
    }
    if (head.tail.has(node)) {
      if (COMPUTE_OPS.has(node.opType) && !isHeadBias(graph, producers, node, head.layers)) kept.push({ node: label, opType: node.opType, reason: 'output tail: between the last weighted layer and a graph output, float (no compute to save, its input range spans the decision boundary)' });
      continue;
    }
    if (COMPUTE_OPS.has(node.opType)) {
      const problem = computeOpProblem(graph, node, isFloat, ranges, outputs);
      if (problem) kept.push({ node: label, opType: node.opType, reason: problem });
      else quantized.add(node);
    } else if (FLOAT_REASONS[node.opType]) {
      kept.push({ node: label, opType: node.opType, reason: FLOAT_REASONS[node.opType]! });
    }
  }

  // 2. Quantization parameters of every activation tensor read or written by a quantized node.
  const [aMin, aMax] = quantRange(activationType, symmetricActivations, false);
  const qps = new Map<string, Qp>();
  const paramsFor = (name: string): Qp | undefined => {
    const known = qps.get(name);
    if (known) return known;
    const range = options.pinnedRanges?.get(name) ?? ranges.get(name) ?? constantRange(graph, name);
    if (!range) return undefined;
    const params = computeQuantParams(range.min, range.max, aMin, aMax, symmetricActivations);
    const scaleName = fresh(`${name}_scale`);
    const zeroPointName = fresh(`${name}_zero_point`);
    graph.initializers.set(scaleName, floatTensor(scaleName, [], [params.scale]));
    graph.initializers.set(zeroPointName, makeTensor(zeroPointName, activationType === 'uint8' ? DataType.UINT8 : DataType.INT8, [], [params.zeroPoint]));
    const qp = { scaleName, zeroPointName, params };
    qps.set(name, qp);
    return qp;
  };
  // One pass in topological order: a shared-scale op (MaxPool, Resize, Reshape...) whose input already has
  // parameters passes them on, so onnxruntime can drop the Q/DQ around it and run it on 8-bit data.
  let sharedOps = 0;
  for (const node of graph.nodes) {
    if (quantized.has(node)) {
      for (const input of activationInputs(graph, node)) paramsFor(input);
      if (!outputs.has(node.outputs[0]!)) paramsFor(node.outputs[0]!);
      continue;
    }
    if (!SHARED_SCALE_OPS.has(node.opType) || node.domain !== '' || keepFloat.has(node.name) || head.tail.has(node)) continue;
    const input = qps.get(node.inputs[0]!);
    const out = node.outputs[0]!;
    if (!input || outputs.has(out) || !isFloat(out) || node.outputs.length !== 1 || qps.has(out)) continue;
    qps.set(out, input);
    sharedOps++;
  }

  // 3. Weights and biases of quantized compute nodes.
  const weightDq = new Map<string, string>();
  let weightsQuantized = 0;
  for (const node of graph.nodes) {
    if (!quantized.has(node)) continue;
    const weight = weightInput(graph, node);
    if (!weight) continue;
    const inputQp = qps.get(node.inputs[0]!);
    const wName = node.inputs[weight.index]!;
    const w = graph.initializers.get(wName)!;
    const wValues = tensorToFloat32(w);
    let scales: Float32Array;
    let values: Int8Array;
    const usePerChannel = perChannel && w.dims.length >= 2;
    if (usePerChannel) ({ scales, values } = quantizeWeightPerChannel(wValues, w.dims, weight.axis, reduceRange));
    else {
      const q = quantizeWeightPerTensor(wValues, reduceRange);
      scales = new Float32Array([q.scale]);
      values = q.values;
    }
    // Bias → int32 at s_x · s_w; grow a channel's weight scale where the bias would overflow (notes §4).
    const biasIndex = node.opType === 'Conv' ? 2 : node.opType === 'Gemm' ? 2 : -1;
    const biasName = biasIndex > 0 ? node.inputs[biasIndex] : undefined;
    const bias = biasName ? graph.initializers.get(biasName) : undefined;
    let biasDq: string | undefined;
    if (bias && inputQp && bias.dataType === DataType.FLOAT && biasFits(node, bias, scales.length > 1 ? scales.length : bias.values.length)) {
      const b = tensorToFloat32(bias);
      const q = quantizeBias(b, inputQp.params.scale, scales.length === 1 ? new Float32Array(b.length).fill(scales[0]!) : scales);
      if (q.weightScaleGrowth.some((g) => g !== 1) && usePerChannel) {
        ({ scales, values } = regrowWeightScales(wValues, w.dims, weight.axis, scales, q.weightScaleGrowth));
        notes.push(`${node.name}: ${describeGrowth(values, w.dims, weight.axis, q.weightScaleGrowth)} so the int32 bias fits`);
      }
      const bq = fresh(`${biasName}_quantized`);
      const bs = fresh(`${biasName}_quantized_scale`);
      const bz = fresh(`${biasName}_quantized_zero_point`);
      graph.initializers.set(bq, makeTensor(bq, DataType.INT32, [b.length], q.values));
      graph.initializers.set(bs, floatTensor(bs, [b.length], q.scales));
      graph.initializers.set(bz, makeTensor(bz, DataType.INT32, [b.length], new Int32Array(b.length)));
      biasDq = fresh(`${biasName}_DequantizeLinear_Output`);
      graph.nodes.push(makeNode('DequantizeLinear', [bq, bs, bz], [biasDq], fresh(`${biasName}_DequantizeLinear`), { axis: attr.int(0) }));
    }
    const cacheKey = `${wName}|${reduceRange}`;
    let wDq = biasDq ? undefined : weightDq.get(cacheKey);
    if (!wDq) {
      const wq = fresh(`${wName}_quantized`);
      const ws = fresh(`${wName}_scale`);
      const wz = fresh(`${wName}_zero_point`);
      graph.initializers.set(wq, makeTensor(wq, DataType.INT8, [...w.dims], values));
      graph.initializers.set(ws, floatTensor(ws, scales.length > 1 ? [scales.length] : [], scales));
      graph.initializers.set(wz, makeTensor(wz, DataType.INT8, scales.length > 1 ? [scales.length] : [], new Int8Array(scales.length)));
      wDq = fresh(`${wName}_DequantizeLinear_Output`);
      const dqAttrs: Record<string, AttributeValue> = scales.length > 1 ? { axis: attr.int(weight.axis) } : {};
      graph.nodes.push(makeNode('DequantizeLinear', [wq, ws, wz], [wDq], fresh(`${wName}_DequantizeLinear`), dqAttrs));
      if (!biasDq) weightDq.set(cacheKey, wDq);
      weightsQuantized++;
    }
    node.inputs[weight.index] = wDq;
    if (biasDq) node.inputs[biasIndex] = biasDq;
  }

  // 4. Q/DQ pairs on activations: every consumer reads the DQ output.
  const consumers = consumerMap(graph);
  let pairs = 0;
  for (const [name, qp] of qps) {
    const readers = (consumers.get(name) ?? []).filter((n) => n.opType !== 'QuantizeLinear');
    if (readers.length === 0) continue;
    const dqOut = fresh(`${name}_DequantizeLinear_Output`);
    const constant = graph.initializers.get(name);
    if (constant) {
      // A constant operand of Add/Mul/Concat: store it quantized, DQ only.
      const q = fresh(`${name}_quantized`);
      const v = tensorToFloat32(constant);
      const qv = activationType === 'uint8' ? new Uint8Array(v.length) : new Int8Array(v.length);
      for (let i = 0; i < v.length; i++) qv[i] = quantizeValue(v[i]!, qp.params, activationType);
      graph.initializers.set(q, makeTensor(q, activationType === 'uint8' ? DataType.UINT8 : DataType.INT8, [...constant.dims], qv));
      graph.nodes.push(makeNode('DequantizeLinear', [q, qp.scaleName, qp.zeroPointName], [dqOut], fresh(`${name}_DequantizeLinear`)));
    } else {
      const qOut = fresh(`${name}_QuantizeLinear_Output`);
      graph.nodes.push(makeNode('QuantizeLinear', [name, qp.scaleName, qp.zeroPointName], [qOut], fresh(`${name}_QuantizeLinear`)));
      graph.nodes.push(makeNode('DequantizeLinear', [qOut, qp.scaleName, qp.zeroPointName], [dqOut], fresh(`${name}_DequantizeLinear`)));
    }
    for (const reader of readers) reader.inputs = reader.inputs.map((i) => (i === name ? dqOut : i));
    pairs++;
  }

  const floatLayersGuarded = dequantizePerAxisForFloatLayers(graph, fresh);
  if (floatLayersGuarded > 0) {
    notes.push(
      `${floatLayersGuarded} float layer(s) read their 8-bit input through a per-channel DequantizeLinear: onnxruntime (its WeightBiasQuantization pass, on by default) would otherwise quantize their weights to per-tensor int8 when it loads the model`,
    );
  }

  graph.nodes = topologicalSort(graph);
  removeDeadCode(graph);
  if (from < 13) setOpset(model, '', 13);
  if (model.irVersion < 7) model.irVersion = 7;
  return {
    model,
    report: {
      pass: 'int8',
      nodesChanged: quantized.size,
      nodesKeptFloat: kept,
      opset: { from, to: defaultOpset(model) },
      notes,
      details: {
        activationType,
        weightType: 'int8',
        perChannel,
        reduceRange,
        quantizedNodes: quantized.size,
        weightsQuantized,
        activationQdqPairs: pairs,
        sharedScaleOps: sharedOps,
        floatLayersGuarded,
      },
    },
  };
}

/** Remove Relu / Clip(min 0) after a single-consumer compute op: the uint8 Q (zero point = qmin) clamps instead. */
function foldActivations(graph: OnnxGraph, keepFloat: ReadonlySet<string>): void {
  const consumers = consumerMap(graph);
  const producers = producerMap(graph);
  const outputs = graphOutputNames(graph);
  const removed = new Set<OnnxNode>();
  for (const act of graph.nodes) {
    if (act.domain !== '' || (act.opType !== 'Relu' && act.opType !== 'Clip')) continue;
    if (keepFloat.has(act.name)) continue;
    if (act.opType === 'Clip') {
      const lo = act.inputs[1] ? graph.initializers.get(act.inputs[1]) : undefined;
      if (!lo || tensorToFloat32(lo)[0] !== 0) continue;
    }
    const producer = producers.get(act.inputs[0]!);
    if (!producer || !['Conv', 'Gemm', 'MatMul', 'Add'].includes(producer.opType) || keepFloat.has(producer.name)) continue;
    const mid = act.inputs[0]!;
    if (outputs.has(mid) || (consumers.get(mid) ?? []).length !== 1) continue;
    producer.outputs[producer.outputs.indexOf(mid)] = act.outputs[0]!;
    removed.add(act);
  }
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
}

function activationInputs(graph: OnnxGraph, node: OnnxNode): string[] {
  switch (node.opType) {
    case 'Conv':
    case 'Gemm':
      return [node.inputs[0]!];
    case 'MatMul':
      return graph.initializers.has(node.inputs[1]!) ? [node.inputs[0]!] : [node.inputs[0]!, node.inputs[1]!];
    case 'LeakyRelu':
    case 'Sigmoid':
    case 'GlobalAveragePool':
    case 'AveragePool':
      return [node.inputs[0]!];
    default:
      return node.inputs.filter((i) => i !== '');
  }
}

function weightInput(graph: OnnxGraph, node: OnnxNode): { index: number; axis: number } | undefined {
  if (node.opType === 'Conv') return { index: 1, axis: 0 };
  if (node.opType === 'Gemm') return { index: 1, axis: attrInt(node, 'transB', 0) ? 0 : 1 };
  if (node.opType === 'MatMul' && graph.initializers.has(node.inputs[1]!)) {
    const w = graph.initializers.get(node.inputs[1]!)!;
    return { index: 1, axis: w.dims.length - 1 };
  }
  return undefined;
}

function computeOpProblem(graph: OnnxGraph, node: OnnxNode, isFloat: (n: string) => boolean, ranges: ReadonlyMap<string, TensorRange>, outputs: Set<string>): string | undefined {
  if ((node.opType === 'Add' || node.opType === 'Mul') && node.inputs.some((i) => graph.initializers.has(i))) {
    // x·a + b with constants: quantizing it adds a Q/DQ step and rounding error for a memory-bound op.
    return `${node.opType} with a constant operand stays float (an extra requantization costs accuracy, saves no compute)`;
  }
  const activation = activationInputs(graph, node);
  for (const name of activation) {
    if (!isFloat(name)) return `input '${name}' is not float32`;
    if (!ranges.has(name) && !graph.initializers.has(name)) return `no calibrated range for input '${name}'`;
  }
  const out = node.outputs[0]!;
  if (!outputs.has(out) && !ranges.has(out)) return `no calibrated range for output '${out}'`;
  if (node.opType === 'Conv' || node.opType === 'Gemm') {
    const w = graph.initializers.get(node.inputs[1]!);
    if (!w || w.dataType !== DataType.FLOAT) return 'weight is not a float32 initializer';
  }
  if (node.opType === 'Gemm') {
    if (attrInt(node, 'transA', 0) !== 0) return 'Gemm with transA=1 has no QGemm fusion';
    if (node.inputs[2] && !graph.initializers.has(node.inputs[2])) return 'Gemm with a non-constant C has no QGemm fusion';
    if (attrFloat(node, 'beta', 1) !== 1 && node.inputs[2]) return 'Gemm with beta ≠ 1 has no QGemm fusion';
  }
  return undefined;
}

function constantRange(graph: OnnxGraph, name: string): TensorRange | undefined {
  const t = graph.initializers.get(name);
  if (!t || t.dataType !== DataType.FLOAT) return undefined;
  const v = tensorToFloat32(t);
  let min = 0;
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i]! < min) min = v[i]!;
    if (v[i]! > max) max = v[i]!;
  }
  return { min, max };
}

function biasFits(node: OnnxNode, bias: Tensor, channels: number): boolean {
  const n = bias.values.length;
  if (node.opType === 'Gemm' && bias.dims.length > 1 && bias.dims.slice(0, -1).some((d) => d !== 1)) return false;
  return n === channels || channels === 1;
}

/**
 * What raising the weight scales for the bias did: channels whose weights all round to 0 at the raised scale carry
 * only their bias (a constant channel, e.g. a dead one after a BatchNorm fold: nothing lost); the others lost
 * weight precision by the factor named.
 */
function describeGrowth(values: Int8Array, dims: readonly number[], axis: number, growth: Float64Array): string {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const nonZero = new Uint8Array(channels);
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) nonZero[Math.floor(i / inner) % channels] = 1;
  let constant = 0;
  let worst = 1;
  let coarser = 0;
  growth.forEach((g, c) => {
    if (g === 1) return;
    if (!nonZero[c]) constant++;
    else {
      coarser++;
      worst = Math.max(worst, g);
    }
  });
  const parts: string[] = [];
  if (constant > 0) parts.push(`${constant} constant channel(s) (weights ~0, bias only) took a larger weight scale`);
  if (coarser > 0) parts.push(`${coarser} channel(s) have weight scales raised up to ×${worst.toPrecision(3)} (coarser weights)`);
  return parts.join('; ');
}

function regrowWeightScales(weights: Float32Array, dims: readonly number[], axis: number, scales: Float32Array, growth: Float64Array): { values: Int8Array; scales: Float32Array } {
  const grown = Float32Array.from(scales, (s, c) => s * growth[c]!);
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const values = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const c = Math.floor(i / inner) % channels;
    values[i] = quantizeValue(weights[i]!, { scale: grown[c]!, zeroPoint: 0 }, 'int8');
  }
  return { values, scales: grown };
}

const WEIGHTED_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/**
 * The output tail (nodes every path of which reaches a graph output without a weighted layer) and, when the graph
 * has several outputs, the head layers (weighted layers that feed only the tail or outputs).
 */
/** Names of the weighted layers the int8 pass keeps float as a detector's head (empty when `floatHead` is false). */
export function floatHeadLayerNames(graph: OnnxGraph, floatHead: boolean): Set<string> {
  if (!floatHead) return new Set();
  return new Set([...headOf(graph, graphOutputNames(graph)).layers].map((n) => n.name || n.outputs[0]!));
}

/** The layers onnxruntime's WeightBiasQuantization quantizes when they read a per-tensor DequantizeLinear. */
const WEIGHT_QUANTIZED_BY_ORT = new Set(['Conv', 'ConvTranspose', 'Gemm']);

/**
 * onnxruntime's WeightBiasQuantization pass (graph optimization level 1, always on) rewrites a Conv, ConvTranspose or
 * Gemm whose input comes from a DequantizeLinear with a scalar scale and whose weight is a float initializer: it
 * quantizes the weight to symmetric per-tensor int8 and the bias to int32. In 1.30 it did so where the layer's output
 * went on to a QuantizeLinear, which is where `--keep-float` puts a layer between quantized ones (not at a detector's
 * float head, whose output is a graph output). Such a layer would silently run with per-tensor int8 weights: on M-LSD
 * tiny, its first depthwise Conv kept float gave a worst-output cosine of 0.19 instead of 0.54 (BENCHMARKS.md). Every
 * float layer of these types gets its own DequantizeLinear with the same parameters repeated per channel (axis 1): the
 * values are identical, and the pass skips a per-axis input. Pure; returns how many layers it guarded.
 */
function dequantizePerAxisForFloatLayers(graph: OnnxGraph, fresh: (base: string) => string): number {
  const producers = producerMap(graph);
  const perAxis = new Map<string, string>();
  let guarded = 0;
  for (const node of [...graph.nodes]) {
    if (!WEIGHT_QUANTIZED_BY_ORT.has(node.opType) || node.domain !== '') continue;
    const w = graph.initializers.get(node.inputs[1] ?? '');
    if (!w || w.dataType !== DataType.FLOAT) continue;
    const dq = producers.get(node.inputs[0]!);
    if (!dq || dq.opType !== 'DequantizeLinear' || dq.domain !== '') continue;
    const scale = graph.initializers.get(dq.inputs[1]!);
    const zeroPoint = dq.inputs[2] ? graph.initializers.get(dq.inputs[2]) : undefined;
    if (!scale || scale.dims.length !== 0 || (dq.inputs[2] && !zeroPoint)) continue;
    const channels = inputChannels(node, w.dims);
    if (channels === null) continue;
    const key = `${node.inputs[0]}|${channels}`;
    let out = perAxis.get(key);
    if (!out) {
      const base = node.inputs[0]!;
      const scaleName = fresh(`${base}_per_axis_scale`);
      graph.initializers.set(scaleName, floatTensor(scaleName, [channels], new Float32Array(channels).fill(tensorToFloat32(scale)[0]!)));
      const inputs = [dq.inputs[0]!, scaleName];
      if (zeroPoint) {
        const zpName = fresh(`${base}_per_axis_zero_point`);
        graph.initializers.set(zpName, makeTensor(zpName, zeroPoint.dataType, [channels], new Array<number>(channels).fill(Number(zeroPoint.values[0]))));
        inputs.push(zpName);
      }
      out = fresh(`${base}_per_axis`);
      graph.nodes.push(makeNode('DequantizeLinear', inputs, [out], fresh(`${base}_per_axis_DequantizeLinear`), { axis: attr.int(1) }));
      perAxis.set(key, out);
    }
    node.inputs[0] = out;
    guarded++;
  }
  return guarded;
}

/** Channels (axis 1) of a weighted layer's input, from its weight; null when they cannot be read. */
function inputChannels(node: OnnxNode, dims: readonly number[]): number | null {
  if (node.opType === 'Conv') return dims.length >= 3 ? dims[1]! * attrInt(node, 'group', 1) : null;
  if (node.opType === 'ConvTranspose') return dims.length >= 3 ? dims[0]! : null;
  if (dims.length !== 2 || attrInt(node, 'transA', 0) !== 0) return null;
  return attrInt(node, 'transB', 0) === 1 ? dims[1]! : dims[0]!;
}

/** An Add of a constant to a head layer's output: that layer's bias (pointwise-head-as-matmul.ts), not a layer of its own. */
function isHeadBias(graph: OnnxGraph, producers: ReadonlyMap<string, OnnxNode>, node: OnnxNode, layers: ReadonlySet<OnnxNode>): boolean {
  if (node.opType !== 'Add' || node.inputs.length !== 2) return false;
  const [a, b] = node.inputs as [string, string];
  const fromLayer = (name: string): boolean => {
    const p = producers.get(name);
    return p !== undefined && layers.has(p);
  };
  return (fromLayer(a) && graph.initializers.has(b)) || (fromLayer(b) && graph.initializers.has(a));
}

function headOf(graph: OnnxGraph, outputs: Set<string>): { tail: Set<OnnxNode>; layers: Set<OnnxNode> } {
  const consumers = consumerMap(graph);
  const tail = new Set<OnnxNode>();
  const weighted = (n: OnnxNode): boolean => WEIGHTED_OPS.has(n.opType) && n.domain === '' && n.inputs.slice(1).some((i) => graph.initializers.has(i));
  const feedsOnlyTail = (n: OnnxNode): boolean =>
    n.outputs.every((o) => !o || outputs.has(o) || (consumers.get(o) ?? []).every((c) => tail.has(c))) && n.outputs.some((o) => o && (outputs.has(o) || (consumers.get(o) ?? []).length > 0));
  for (const node of [...graph.nodes].reverse()) if (!weighted(node) && feedsOnlyTail(node)) tail.add(node);
  const layers = new Set<OnnxNode>();
  if (graph.outputs.length > 1) for (const node of graph.nodes) if (weighted(node) && feedsOnlyTail(node)) layers.add(node);
  return { tail, layers };
}
