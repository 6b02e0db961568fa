/**
 * `int4`: weight-only 4-bit block quantization of MatMul / Gemm weights with onnxruntime's contrib op
 * `com.microsoft:MatMulNBits` (activations stay float; the kernel dequantizes or, with accuracy_level 4, runs an
 * int8 dot product on quantized activation blocks). Packing and rounding follow MLAS (notes §10).
 */
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { attr, attrFloat, attrInt, makeNode, nameFactory, topologicalSort } from '../onnx/graph.js';
import { defaultOpset, setOpset, type AttributeValue, type OnnxModel, type OnnxNode } from '../onnx/ir.js';
import { inferTensorTypes } from '../onnx/shape-inference.js';
import { floatTensor, makeTensor, tensorByteLength, tensorToFloat32 } from '../onnx/tensor.js';
import { EdgetuneError } from '../util/errors.js';
import { constantSources, quantizableWeight, removeUnusedConstants, weightAsKN, type ConstantSource } from './constant-inputs.js';
import type { KeptNode, PassResult } from './pass.js';

/** Caller options of the int4 pass. */
export interface Int4Options {
  /** Elements of K sharing one scale (and zero point); default 32. */
  blockSize?: 32 | 64 | 128;
  /** Symmetric blocks (no zero points, implicit zero point 8); default false (asymmetric, like onnxruntime's tool). */
  symmetric?: boolean;
  /**
   * MatMulNBits `accuracy_level`: 0 leaves it unset (float32 compute), 1 fp32, 2 fp16, 3 bf16, 4 int8 activations
   * per block. Default 4, as onnxruntime's own QDQ → MatMulNBits fusion: on the AVX-512 VNNI test machine the
   * MNIST MLP ran ~1.35× faster than with 0 at the same top-1 agreement (rough single runs, not a benchmark).
   */
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
  /** Node names that stay float. */
  keepFloat?: readonly string[];
}

/** One MatMul/Gemm weight after 4-bit block quantization, laid out as MatMulNBits expects. */
export interface Int4Blocks {
  /** uint8 [N, kBlocks, blockSize/2]: element 2i in the low nibble, 2i+1 in the high nibble. */
  packed: Uint8Array;
  /** float32 [N, kBlocks]. */
  scales: Float32Array;
  /** uint8 [N, ceil(kBlocks/2)], even block in the low nibble; null when symmetric (implicit 8). */
  zeroPoints: Uint8Array | null;
  kBlocks: number;
}

const INT4_MAX = 15;
const SYMMETRIC_ZERO_POINT = 8;

/** roundf: half away from zero, as C's roundf (MLAS uses it for 4-bit quantization). */
export function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Quantize a row-major [K, N] float32 weight per column in blocks of `blockSize` along K. Asymmetric (MLAS):
 * range widened to include 0, scale = (max − min)/15, zp = clamp(roundf(−min/scale)). Symmetric (MLAS): scale =
 * v/−8 with v the signed block value of largest magnitude (scale may be negative), zp 8. In both, q =
 * clamp(roundf(x/scale + zp), 0, 15); the padded tail of the last block holds zp (dequantizes to 0).
 */
export function quantizeBlockwiseInt4(weights: Float32Array, k: number, n: number, blockSize: number, symmetric: boolean): Int4Blocks {
  if (weights.length !== k * n) throw new EdgetuneError('PASS_FAILED', `int4: weight has ${weights.length} values, expected ${k}×${n}`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new EdgetuneError('USAGE', `int4: block size ${blockSize} is not a power of 2 ≥ 16`);
  const kBlocks = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const packed = new Uint8Array(n * kBlocks * blob);
  const scales = new Float32Array(n * kBlocks);
  const zeroPoints = symmetric ? null : new Uint8Array(n * Math.ceil(kBlocks / 2));
  const q = new Uint8Array(blockSize);
  for (let col = 0; col < n; col++) {
    for (let kb = 0; kb < kBlocks; kb++) {
      const start = kb * blockSize;
      const end = Math.min(k, start + blockSize);
      let scale: number;
      let zp: number;
      if (symmetric) {
        let extreme = 0;
        for (let r = start; r < end; r++) {
          const v = weights[r * n + col]!;
          if (Math.abs(v) > Math.abs(extreme)) extreme = v;
        }
        scale = Math.fround(extreme / -SYMMETRIC_ZERO_POINT) || 0; // no -0 for an all-zero block
        zp = SYMMETRIC_ZERO_POINT;
      } else {
        let min = 0;
        let max = 0;
        for (let r = start; r < end; r++) {
          const v = weights[r * n + col]!;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        scale = Math.fround((max - min) / INT4_MAX);
        const zpFloat = scale !== 0 ? Math.fround(0 - min / scale) : min;
        zp = zpFloat < 0 ? 0 : zpFloat > INT4_MAX ? INT4_MAX : roundHalfAwayFromZero(zpFloat);
      }
      const reciprocal = scale !== 0 ? Math.fround(1 / scale) : 0;
      q.fill(zp);
      for (let r = start; r < end; r++) {
        const v = roundHalfAwayFromZero(Math.fround(weights[r * n + col]! * reciprocal) + zp);
        q[r - start] = v < 0 ? 0 : v > INT4_MAX ? INT4_MAX : v;
      }
      const base = (col * kBlocks + kb) * blob;
      for (let j = 0; j < blob; j++) packed[base + j] = q[2 * j]! | (q[2 * j + 1]! << 4);
      scales[col * kBlocks + kb] = scale;
      if (zeroPoints) zeroPoints[col * Math.ceil(kBlocks / 2) + (kb >> 1)]! |= kb & 1 ? zp << 4 : zp;
    }
  }
  return { packed, scales, zeroPoints, kBlocks };
}

/** The float32 [K, N] weight that MatMulNBits computes with (for error reports and tests). */
export function dequantizeBlockwiseInt4(blocks: Int4Blocks, k: number, n: number, blockSize: number): Float32Array {
  const out = new Float32Array(k * n);
  const blob = blockSize / 2;
  const zpStride = Math.ceil(blocks.kBlocks / 2);
  for (let col = 0; col < n; col++) {
    for (let r = 0; r < k; r++) {
      const kb = Math.floor(r / blockSize);
      const i = r - kb * blockSize;
      const byte = blocks.packed[(col * blocks.kBlocks + kb) * blob + (i >> 1)]!;
      const q = i & 1 ? byte >> 4 : byte & 0x0f;
      let zp = SYMMETRIC_ZERO_POINT;
      if (blocks.zeroPoints) {
        const zbyte = blocks.zeroPoints[col * zpStride + (kb >> 1)]!;
        zp = kb & 1 ? zbyte >> 4 : zbyte & 0x0f;
      }
      out[r * n + col] = (q - zp) * blocks.scales[col * blocks.kBlocks + kb]!;
    }
  }
  return out;
}

interface ResolvedInt4Options {
  blockSize: number;
  symmetric: boolean;
  accuracyLevel: number;
  keepFloat: ReadonlySet<string>;
}

function resolveOptions(options: Int4Options): ResolvedInt4Options {
  const blockSize = options.blockSize ?? 32;
  if (![32, 64, 128].includes(blockSize)) throw new EdgetuneError('USAGE', `int4: block size must be 32, 64 or 128, got ${String(blockSize)}`);
  const accuracyLevel = options.accuracyLevel ?? 4;
  if (![0, 1, 2, 3, 4].includes(accuracyLevel)) throw new EdgetuneError('USAGE', `int4: accuracy level must be 0..4, got ${String(accuracyLevel)}`);
  return { blockSize, symmetric: options.symmetric ?? false, accuracyLevel, keepFloat: new Set(options.keepFloat ?? []) };
}

/** Per-weight facts in the int4 report (a weight shared by several nodes is listed once, under the first). */
export interface Int4LayerReport {
  node: string;
  opType: string;
  k: number;
  n: number;
  /** ‖W − dequant(Wq)‖ / ‖W‖ over the whole weight. */
  relativeError: number;
}

/**
 * Rewrite every MatMul with a constant 2-D float32 B, and every Gemm with a constant B, to MatMulNBits (Gemm:
 * transA → Transpose, transB and alpha folded into the weight, beta·C → the bias input or an Add). Adds the
 * com.microsoft:1 opset. The report's details hold weight bytes before/after and per-layer errors.
 */
export function quantizeInt4(model: OnnxModel, options: Int4Options = {}): PassResult {
  const opts = resolveOptions(options);
  const graph = model.graph;
  const opset = defaultOpset(model);
  const types = inferTensorTypes(model);
  const constants = constantSources(graph);
  const fresh = nameFactory(graph);
  const kept: KeptNode[] = [];
  const layers: Int4LayerReport[] = [];
  let layersQuantized = 0;
  const quantizedWeights = new Map<string, { b: string; scales: string; zp: string | null; k: number; n: number }>();
  const touchedConstants = new Set<string>();
  let weightBytesBefore = 0;
  let weightBytesAfter = 0;
  let nodesChanged = 0;
  const out: OnnxNode[] = [];

  for (const node of graph.nodes) {
    const isDefault = node.domain === '' || node.domain === 'ai.onnx';
    if (!isDefault || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) {
      out.push(node);
      continue;
    }
    const label = node.name || node.outputs[0] || node.opType;
    const skip = (reason: string): void => {
      kept.push({ node: label, opType: node.opType, reason });
      out.push(node);
    };
    if (opts.keepFloat.has(node.name)) {
      skip('kept float on request');
      continue;
    }
    const eligible = quantizableWeight(graph, node, constants, types, 'MatMulNBits needs a 2-D weight');
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
    if (!isGemm && aType?.shape && aType.shape.length === 1) {
      // MatMul with a 1-D A is a vector-matrix product; MatMulNBits would give the same [N] result, but keep
      // the rewrite to the common case onnxruntime's tool handles.
      skip('A is 1-D');
      continue;
    }
    const k = transB ? w.dims[1]! : w.dims[0]!;
    const n = transB ? w.dims[0]! : w.dims[1]!;

    const key = `${weightName}|${transB}|${alpha}`;
    let q = quantizedWeights.get(key);
    if (!q) {
      const kn = weightAsKN(w, transB === 1, alpha);
      const blocks = quantizeBlockwiseInt4(kn, k, n, opts.blockSize, opts.symmetric);
      const back = dequantizeBlockwiseInt4(blocks, k, n, opts.blockSize);
      layers.push({ node: label, opType: node.opType, k, n, relativeError: relativeError(kn, back) });
      const base = weightName.replace(/[^A-Za-z0-9_.]/g, '_');
      const bName = fresh(`${base}_Q4`);
      const sName = fresh(`${base}_scales`);
      graph.initializers.set(bName, makeTensor(bName, DataType.UINT8, [n, blocks.kBlocks, opts.blockSize / 2], blocks.packed));
      graph.initializers.set(sName, floatTensor(sName, [n, blocks.kBlocks], blocks.scales));
      let zpName: string | null = null;
      if (blocks.zeroPoints) {
        zpName = fresh(`${base}_zero_points`);
        graph.initializers.set(zpName, makeTensor(zpName, DataType.UINT8, [n, Math.ceil(blocks.kBlocks / 2)], blocks.zeroPoints));
      }
      weightBytesBefore += tensorByteLength(w);
      weightBytesAfter += blocks.packed.length + blocks.scales.byteLength + (blocks.zeroPoints?.length ?? 0);
      q = { b: bName, scales: sName, zp: zpName, k, n };
      quantizedWeights.set(key, q);
    }
    touchedConstants.add(weightName);
    layersQuantized++;

    let aName = node.inputs[0]!;
    if (transA) {
      const t = fresh(`${aName}_transposed`);
      out.push(makeNode('Transpose', [aName], [t], fresh(`${label}_transA`), { perm: attr.ints([1, 0]) }));
      aName = t;
      nodesChanged++;
    }
    const cName = isGemm ? node.inputs[2] ?? '' : '';
    const outputName = node.outputs[0]!;
    const nbitsInputs = [aName, q.b, q.scales, q.zp ?? ''];
    const tail: OnnxNode[] = [];
    let nbitsOut = outputName;
    if (cName && beta !== 0) {
      const cConst = constants.get(cName);
      const bias = cConst ? columnBias(cConst, beta, n) : null;
      if (bias) {
        const biasName = fresh(`${cName.replace(/[^A-Za-z0-9_.]/g, '_')}_bias`);
        graph.initializers.set(biasName, floatTensor(biasName, [n], bias));
        nbitsInputs.push('', biasName);
        touchedConstants.add(cName);
      } else {
        nbitsOut = fresh(`${outputName}_matmul`);
        let addend = cName;
        if (beta !== 1) {
          const betaName = fresh(`${label}_beta`);
          graph.initializers.set(betaName, floatTensor(betaName, [], [beta]));
          addend = fresh(`${cName}_scaled`);
          tail.push(makeNode('Mul', [cName, betaName], [addend], fresh(`${label}_beta_mul`)));
        }
        tail.push(makeNode('Add', [nbitsOut, addend], [outputName], fresh(`${label}_bias_add`)));
      }
    }
    while (nbitsInputs[nbitsInputs.length - 1] === '') nbitsInputs.pop();
    const attributes: Record<string, AttributeValue> = {
      K: attr.int(k),
      N: attr.int(n),
      bits: attr.int(4),
      block_size: attr.int(opts.blockSize),
    };
    if (opts.accuracyLevel) attributes.accuracy_level = attr.int(opts.accuracyLevel);
    out.push(makeNode('MatMulNBits', nbitsInputs, [nbitsOut], fresh(`${label}_Q4`), attributes, 'com.microsoft'));
    out.push(...tail);
    nodesChanged += 1 + tail.length;
  }

  graph.nodes = out;
  removeUnusedConstants(graph, touchedConstants);
  if (layers.length) {
    setOpset(model, 'com.microsoft', 1);
    graph.nodes = topologicalSort(graph);
  }
  // value_info entries of rewritten outputs keep their (float) type; nothing else changed type.
  const notes: string[] = [];
  if (layers.length === 0) notes.push('int4: no MatMul/Gemm with a constant float32 weight was found; the model is unchanged');
  if (opts.accuracyLevel === 4) notes.push('accuracy_level 4: activations are quantized to int8 per block at run time');
  return {
    model,
    report: {
      pass: 'int4',
      nodesChanged,
      nodesKeptFloat: kept,
      opset: { from: opset, to: opset },
      notes,
      details: {
        blockSize: opts.blockSize,
        symmetric: opts.symmetric,
        accuracyLevel: opts.accuracyLevel,
        layersQuantized,
        weightsQuantized: layers.length,
        weightBytesBefore,
        weightBytesAfter,
        weightRatio: weightBytesAfter ? weightBytesBefore / weightBytesAfter : null,
        weights: layers,
      },
    },
  };
}

/** beta·C as a per-column [N] vector when C broadcasts that way ([N], [1, N] or a scalar), else null. */
function columnBias(c: ConstantSource, beta: number, n: number): Float32Array | null {
  const t = c.tensor;
  if (t.dataType !== DataType.FLOAT) return null;
  const size = t.dims.reduce((a, b) => a * b, 1);
  const perColumn = (t.dims.length === 1 && t.dims[0] === n) || (t.dims.length === 2 && t.dims[0] === 1 && t.dims[1] === n);
  const scalar = size === 1 && t.dims.length <= 2;
  if (!perColumn && !scalar) return null;
  const values = tensorToFloat32(t);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (scalar ? values[0]! : values[i]!) * beta;
  return out;
}

function relativeError(reference: Float32Array, approx: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = reference[i]! - approx[i]!;
    num += d * d;
    den += reference[i]! * reference[i]!;
  }
  return den === 0 ? 0 : Math.sqrt(num / den);
}
