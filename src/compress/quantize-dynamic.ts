/**
 * `int8-dynamic`: MatMul / Gemm with constant weights rewritten for activations quantized at run time, as
 * onnxruntime's `quantize_dynamic` does (notes §9): uint8 activations from DynamicQuantizeLinear, int8 weights
 * (7-bit `reduce_range` by default), MatMulInteger → Cast → Mul by the product of scales, + Add for a bias.
 * onnxruntime fuses that chain into com.microsoft:DynamicQuantizeMatMul / MatMulIntegerToFloat at load; the
 * `contrib` format writes DynamicQuantizeMatMul directly.
 */
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { attr, attrFloat, attrInt, consumerMap, graphOutputNames, makeNode, nameFactory, topologicalSort } from '../onnx/graph.js';
import { defaultOpset, setOpset, type OnnxModel, type OnnxNode } from '../onnx/ir.js';
import { inferTensorTypes } from '../onnx/shape-inference.js';
import { floatTensor, makeTensor, tensorByteLength, tensorToFloat32 } from '../onnx/tensor.js';
import { EdgetuneError } from '../util/errors.js';
import { constantSources, quantizableWeight, removeUnusedConstants, weightAsKN } from './constant-inputs.js';
import type { KeptNode, PassResult } from './pass.js';

/** Caller options of the int8-dynamic pass. */
export interface DynamicQuantOptions {
  /** 7-bit weights ([-64, 64]) so u8×s8 pair sums cannot saturate on AVX2 without VNNI; default true (as onnxruntime's tool for MatMul). */
  reduceRange?: boolean;
  /** One scale per output column instead of one per weight; default false. */
  perChannel?: boolean;
  /**
   * 'onnx': DynamicQuantizeLinear + MatMulInteger + Cast + Mul (standard ops, default opset ≥ 11, fused by
   * onnxruntime at load); 'contrib': com.microsoft:DynamicQuantizeMatMul (onnxruntime only). Default 'onnx'.
   */
  format?: 'onnx' | 'contrib';
  /** Node names that stay float. */
  keepFloat?: readonly string[];
}

/** A weight quantized to symmetric int8 per tensor or per column. */
export interface Int8Weight {
  /** int8 [K, N] row-major. */
  values: Int8Array;
  /** One scale (per tensor) or N scales (per column). */
  scales: Float32Array;
}

const FLOAT32_TINY = 1.1754943508222875e-38;

/** Round half to even (numpy's round, used by onnxruntime's quantization tool). */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Symmetric int8 quantization of a row-major [K, N] weight, per tensor or per column (notes §1):
 * scale = 2·max|w| / (qmax − qmin) with [qmin, qmax] = [-127, 127], or [-64, 64] with reduceRange; a scale
 * below float32 tiny becomes 1; q = clamp(roundHalfEven(w / scale), -128, 127).
 */
export function quantizeWeightInt8(weights: Float32Array, k: number, n: number, reduceRange: boolean, perChannel: boolean): Int8Weight {
  if (weights.length !== k * n) throw new EdgetuneError('PASS_FAILED', `int8-dynamic: weight has ${weights.length} values, expected ${k}×${n}`);
  const [qmin, qmax] = reduceRange ? [-64, 64] : [-127, 127];
  const groups = perChannel ? n : 1;
  const absMax = new Float64Array(groups);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      const g = perChannel ? c : 0;
      const v = Math.abs(weights[r * n + c]!);
      if (v > absMax[g]!) absMax[g] = v;
    }
  }
  const scales = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    const s = Math.fround((2 * absMax[g]!) / (qmax - qmin));
    scales[g] = s < FLOAT32_TINY ? 1 : s;
  }
  const values = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      const q = roundHalfToEven(Math.fround(weights[r * n + c]! / scales[perChannel ? c : 0]!));
      values[r * n + c] = q < -128 ? -128 : q > 127 ? 127 : q;
    }
  }
  return { values, scales };
}

const KEEP_FLOAT_REASONS: Record<string, string> = {
  LSTM: 'LSTM stays float: DynamicQuantizeLSTM is not implemented by edgetune',
  GRU: 'GRU stays float: onnxruntime has no dynamically quantized GRU kernel',
  RNN: 'RNN stays float: onnxruntime has no dynamically quantized RNN kernel',
  Conv: 'Conv stays float: ConvInteger has no optimized CPU kernel (onnxruntime #12854); use int8 static for CNNs',
  ConvTranspose: 'ConvTranspose stays float: no integer kernel',
};

/**
 * Rewrite MatMul/Gemm nodes with a constant 2-D float32 weight for dynamically quantized activations. Gemm is
 * first expressed as MatMul (+ Transpose for transA, alpha folded into the weight) + Add(beta·C). Throws
 * MODEL_UNSUPPORTED for format 'onnx' below default opset 11 (DynamicQuantizeLinear needs 11).
 */
export function quantizeDynamic(model: OnnxModel, options: DynamicQuantOptions = {}): PassResult {
  const reduceRange = options.reduceRange ?? true;
  const perChannel = options.perChannel ?? false;
  const format = options.format ?? 'onnx';
  if (format !== 'onnx' && format !== 'contrib') throw new EdgetuneError('USAGE', `int8-dynamic: unknown format '${String(format)}' (onnx or contrib)`);
  const keepFloat = new Set(options.keepFloat ?? []);
  const opset = defaultOpset(model);
  if (format === 'onnx' && opset < 11) {
    throw new EdgetuneError(
      'MODEL_UNSUPPORTED',
      `int8-dynamic: the model's default opset is ${opset}; DynamicQuantizeLinear needs opset 11 or newer (upgrade the opset first)`,
    );
  }
  const graph = model.graph;
  const types = inferTensorTypes(model);
  const constants = constantSources(graph);
  const fresh = nameFactory(graph);
  const kept: KeptNode[] = [];
  const touched = new Set<string>();
  const weightCache = new Map<string, { q: string; scale: string; zp: string; k: number; n: number }>();
  const activationCache = new Map<string, { q: string; scale: string; zp: string }>();
  const out: OnnxNode[] = [];
  let weightBytesBefore = 0;
  let weightBytesAfter = 0;
  let nodesChanged = 0;
  let layers = 0;

  const consumers = consumerMap(graph);
  const graphOutputs = graphOutputNames(graph);
  const absorbed = new Set<OnnxNode>();
  const biasAddAfter = (tensor: string, n: number): { add: OnnxNode; bias: string } | undefined => {
    const readers = consumers.get(tensor) ?? [];
    const add = readers[0];
    if (readers.length !== 1 || graphOutputs.has(tensor) || add!.opType !== 'Add' || (add!.domain !== '' && add!.domain !== 'ai.onnx')) return undefined;
    const other = add!.inputs[0] === tensor ? add!.inputs[1] : add!.inputs[0];
    const c = other ? constants.get(other) : undefined;
    if (!c || add!.inputs[0] === add!.inputs[1] || c.tensor.dataType !== DataType.FLOAT || c.tensor.dims.length !== 1 || c.tensor.dims[0] !== n) return undefined;
    return { add: add!, bias: other! };
  };

  for (const node of graph.nodes) {
    if (absorbed.has(node)) continue;
    const isDefault = node.domain === '' || node.domain === 'ai.onnx';
    const label = node.name || node.outputs[0] || node.opType;
    if (isDefault && KEEP_FLOAT_REASONS[node.opType] && node.opType !== 'Conv' && node.opType !== 'ConvTranspose') {
      kept.push({ node: label, opType: node.opType, reason: KEEP_FLOAT_REASONS[node.opType]! });
    }
    if (!isDefault || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) {
      out.push(node);
      continue;
    }
    const skip = (reason: string): void => {
      kept.push({ node: label, opType: node.opType, reason });
      out.push(node);
    };
    if (keepFloat.has(node.name)) {
      skip('kept float on request');
      continue;
    }
    const eligible = quantizableWeight(graph, node, constants, types, 'only 2-D weights are quantized');
    if ('reason' in eligible) {
      skip(eligible.reason);
      continue;
    }
    const w = eligible.weight;
    const weightName = node.inputs[1]!;
    const aType = types.get(node.inputs[0] ?? '');
    const isGemm = node.opType === 'Gemm';
    const transA = isGemm ? attrInt(node, 'transA', 0) : 0;
    const transB = isGemm ? attrInt(node, 'transB', 0) : 0;
    const alpha = isGemm ? attrFloat(node, 'alpha', 1) : 1;
    const beta = isGemm ? attrFloat(node, 'beta', 1) : 1;
    const k = transB ? w.dims[1]! : w.dims[0]!;
    const n = transB ? w.dims[0]! : w.dims[1]!;

    const key = `${weightName}|${transB}|${alpha}`;
    let wq = weightCache.get(key);
    if (!wq) {
      const kn = weightAsKN(w, transB === 1, alpha);
      const q = quantizeWeightInt8(kn, k, n, reduceRange, perChannel);
      const base = weightName.replace(/[^A-Za-z0-9_.]/g, '_');
      const qName = fresh(`${base}_quantized`);
      const sName = fresh(`${base}_scale`);
      const zName = fresh(`${base}_zero_point`);
      const groups = q.scales.length;
      const scaleDims = perChannel ? [groups] : [];
      graph.initializers.set(qName, makeTensor(qName, DataType.INT8, [k, n], q.values));
      graph.initializers.set(sName, floatTensor(sName, scaleDims, q.scales));
      graph.initializers.set(zName, makeTensor(zName, DataType.INT8, scaleDims, new Int8Array(groups)));
      weightBytesBefore += tensorByteLength(w);
      weightBytesAfter += q.values.length + q.scales.byteLength + groups;
      wq = { q: qName, scale: sName, zp: zName, k, n };
      weightCache.set(key, wq);
    }
    touched.add(weightName);
    layers++;

    let aName = node.inputs[0]!;
    if (transA) {
      const t = fresh(`${aName}_transposed`);
      out.push(makeNode('Transpose', [aName], [t], fresh(`${label}_transA`), { perm: attr.ints([1, 0]) }));
      aName = t;
      nodesChanged++;
    }
    const outputName = node.outputs[0]!;
    const cName = isGemm && beta !== 0 ? node.inputs[2] ?? '' : '';
    // Bias: beta·C as a constant when C is constant, else (beta ≠ 1) Mul(C, beta) at run time.
    let biasName = '';
    let biasIsColumnVector = false;
    if (cName) {
      const cConst = constants.get(cName);
      if (cConst && cConst.tensor.dataType === DataType.FLOAT) {
        const c = cConst.tensor;
        const values = tensorToFloat32(c);
        biasName = fresh(`${cName.replace(/[^A-Za-z0-9_.]/g, '_')}_bias`);
        const scaled = Float32Array.from(values, (v) => v * beta);
        biasIsColumnVector = c.dims.length === 1 && c.dims[0] === n;
        graph.initializers.set(biasName, floatTensor(biasName, [...c.dims], scaled));
        touched.add(cName);
      } else if (beta !== 1) {
        const betaName = fresh(`${label}_beta`);
        graph.initializers.set(betaName, floatTensor(betaName, [], [beta]));
        biasName = fresh(`${cName}_scaled`);
        out.push(makeNode('Mul', [cName, betaName], [biasName], fresh(`${label}_beta_mul`)));
        nodesChanged++;
      } else {
        biasName = cName;
      }
    }

    if (format === 'contrib') {
      // A MatMul followed only by Add(constant [N]) takes that vector as the contrib op's bias input (onnxruntime
      // fuses the same Add into its DynamicQuantizeMatMul when it builds it from the onnx form).
      let finalName = outputName;
      const follower = cName ? undefined : biasAddAfter(outputName, n);
      if (follower) {
        absorbed.add(follower.add);
        biasName = follower.bias;
        biasIsColumnVector = true;
        finalName = follower.add.outputs[0]!;
      }
      const inputs = [aName, wq.q, wq.scale, wq.zp];
      let y = finalName;
      if (biasName && biasIsColumnVector) inputs.push(biasName);
      else if (biasName) y = fresh(`${outputName}_matmul`);
      out.push(makeNode('DynamicQuantizeMatMul', inputs, [y], fresh(`${label}_quant`), {}, 'com.microsoft'));
      nodesChanged++;
      if (y !== finalName) {
        out.push(makeNode('Add', [y, biasName], [finalName], fresh(`${label}_bias_add`)));
        nodesChanged++;
      }
      continue;
    }

    let act = activationCache.get(aName);
    if (!act) {
      const base = aName.replace(/[^A-Za-z0-9_.]/g, '_');
      act = { q: fresh(`${base}_quantized`), scale: fresh(`${base}_scale`), zp: fresh(`${base}_zero_point`) };
      out.push(makeNode('DynamicQuantizeLinear', [aName], [act.q, act.scale, act.zp], fresh(`${base}_QuantizeLinear`)));
      activationCache.set(aName, act);
      nodesChanged++;
    }
    const intOut = fresh(`${outputName}_MatMulInteger`);
    const floatOut = fresh(`${outputName}_cast`);
    const scaleOut = fresh(`${outputName}_scales_mul`);
    const mulOut = biasName ? fresh(`${outputName}_matmul`) : outputName;
    out.push(makeNode('MatMulInteger', [act.q, wq.q, act.zp, wq.zp], [intOut], fresh(`${label}_MatMulInteger`)));
    out.push(makeNode('Cast', [intOut], [floatOut], fresh(`${label}_cast`), { to: attr.int(DataType.FLOAT) }));
    out.push(makeNode('Mul', [act.scale, wq.scale], [scaleOut], fresh(`${label}_scales_mul`)));
    out.push(makeNode('Mul', [floatOut, scaleOut], [mulOut], fresh(`${label}_output_scale_mul`)));
    nodesChanged += 4;
    if (biasName) {
      out.push(makeNode('Add', [mulOut, biasName], [outputName], fresh(`${label}_bias_add`)));
      nodesChanged++;
    }
  }

  graph.nodes = out;
  removeUnusedConstants(graph, touched);
  if (layers) {
    if (format === 'contrib') setOpset(model, 'com.microsoft', 1);
    graph.nodes = topologicalSort(graph);
  }
  const notes: string[] = [];
  if (layers === 0) notes.push('int8-dynamic: no MatMul/Gemm with a constant float32 weight was found; the model is unchanged');
  const convs = graph.nodes.filter((n) => (n.opType === 'Conv' || n.opType === 'ConvTranspose') && (n.domain === '' || n.domain === 'ai.onnx'));
  if (convs.length) notes.push(`${convs.length} Conv/ConvTranspose node(s) stay float: ${KEEP_FLOAT_REASONS.Conv!.slice('Conv stays float: '.length)}`);
  return {
    model,
    report: {
      pass: 'int8-dynamic',
      nodesChanged,
      nodesKeptFloat: kept,
      opset: { from: opset, to: opset },
      notes,
      details: { format, reduceRange, perChannel, layersQuantized: layers, weightBytesBefore, weightBytesAfter, weightRatio: weightBytesAfter ? weightBytesBefore / weightBytesAfter : null },
    },
  };
}
