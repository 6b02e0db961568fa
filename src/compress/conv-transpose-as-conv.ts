import type { OnnxGraph, OnnxModel, OnnxNode } from '../onnx/ir.js';
import { cloneModel } from '../onnx/ir.js';
import { normalizeModel } from '../onnx/normalize.js';
import { attr, attrInt, attrInts, attrString, consumerMap, dropUnreadInitializers, graphOutputNames, makeNode, nameFactory } from '../onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../onnx/tensor.js';
import { DataType } from '../onnx/dtype.js';

/**
 * Below this many Conv output channels (ConvTranspose output channels × s²) the rewrite is not made: PP-OCR det's last
 * upsampling (24 → 1 channel, s = 2) as a 4-channel 1×1 Conv + DepthToSpace measured 3 % slower in float than the
 * float ConvTranspose and no faster in int8 (BENCHMARKS.md, "Upsampling and the head in int8").
 */
export const MIN_CONV_CHANNELS = 16;

/** What convTransposeAsDepthToSpace did. */
export interface ConvTransposeRewriteReport {
  /** ConvTranspose nodes rewritten. */
  rewritten: string[];
  /** Relu/Clip readers moved in front of the DepthToSpace (so that the int8 Conv absorbs them). */
  movedActivations: number;
}

/**
 * ConvTranspose whose kernel equals its stride (no overlap: each input pixel writes its own s×s block) as a 1×1 Conv
 * to Cout·s² channels and DepthToSpace (DCR): y[co, s·i+a, s·j+b] = Σ_ci x[ci, i, j]·W[ci, co, a, b] + B[co], which is
 * channel (a·s+b)·Cout + co of the Conv at (i, j). Exact. onnxruntime has no int8 ConvTranspose on CPU; the Conv then
 * runs as QLinearConv and the DepthToSpace on 8-bit data (its input and output share parameters). A Relu or Clip that
 * alone reads the result moves in front of the DepthToSpace (element-wise, so it commutes with the rearrangement), where
 * the quantized Conv absorbs it. Only group 1, rank 4, square s ≥ 2, no pads / output_padding / output_shape /
 * dilation, float weights, and Cout·s² ≥ MIN_CONV_CHANNELS. Pure.
 */
export function convTransposeAsDepthToSpace(graph: OnnxGraph): ConvTransposeRewriteReport {
  const fresh = nameFactory(graph);
  const outputs = graphOutputNames(graph);
  const consumers = consumerMap(graph);
  const report: ConvTransposeRewriteReport = { rewritten: [], movedActivations: 0 };
  const replaced = new Map<OnnxNode, OnnxNode[]>();
  const dropped = new Set<OnnxNode>();
  for (const ct of graph.nodes) {
    const s = blockSize(graph, ct);
    if (s === null) continue;
    const w = graph.initializers.get(ct.inputs[1]!)!;
    const [cin, cout] = w.dims as [number, number];
    const bias = ct.inputs[2] ? graph.initializers.get(ct.inputs[2]) : undefined;
    if (ct.inputs[2] && (!bias || bias.dataType !== DataType.FLOAT)) continue;
    const wValues = tensorToFloat32(w);
    const bValues = bias ? tensorToFloat32(bias) : new Float32Array(cout);
    const m = cout * s * s;
    const convW = new Float32Array(m * cin);
    const convB = new Float32Array(m);
    for (let a = 0; a < s; a++) {
      for (let b = 0; b < s; b++) {
        for (let co = 0; co < cout; co++) {
          const k = (a * s + b) * cout + co;
          convB[k] = bValues[co]!;
          for (let ci = 0; ci < cin; ci++) convW[k * cin + ci] = wValues[((ci * cout + co) * s + a) * s + b]!;
        }
      }
    }
    const base = ct.name || ct.outputs[0]!;
    const wName = fresh(`${base}_as_conv_w`);
    const bName = fresh(`${base}_as_conv_b`);
    graph.initializers.set(wName, floatTensor(wName, [m, cin, 1, 1], convW));
    graph.initializers.set(bName, floatTensor(bName, [m], convB));
    const convOut = fresh(`${base}_as_conv`);
    const conv = makeNode('Conv', [ct.inputs[0]!, wName, bName], [convOut], fresh(`${base}_conv1x1`), { kernel_shape: attr.ints([1, 1]) });
    const out = ct.outputs[0]!;
    const readers = consumers.get(out) ?? [];
    const act = readers.length === 1 && !outputs.has(out) ? readers[0]! : undefined;
    const nodes: OnnxNode[] = [conv];
    if (act && act.domain === '' && (act.opType === 'Relu' || act.opType === 'Clip') && act.inputs[0] === out && act.inputs.slice(1).every((i) => i === '' || graph.initializers.has(i))) {
      // Conv → Relu → DepthToSpace, writing what the Relu wrote
      const actOut = fresh(`${base}_as_conv_act`);
      nodes.push(makeNode(act.opType, [convOut, ...act.inputs.slice(1)], [actOut], act.name, Object.fromEntries(act.attributes)));
      nodes.push(makeNode('DepthToSpace', [actOut], [act.outputs[0]!], fresh(`${base}_depth_to_space`), { blocksize: attr.int(s), mode: attr.string('DCR') }));
      dropped.add(act);
      report.movedActivations++;
    } else {
      nodes.push(makeNode('DepthToSpace', [convOut], [out], fresh(`${base}_depth_to_space`), { blocksize: attr.int(s), mode: attr.string('DCR') }));
    }
    replaced.set(ct, nodes);
    report.rewritten.push(base);
  }
  if (replaced.size === 0) return report;
  graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? (dropped.has(n) ? [] : [n]));
  dropUnreadInitializers(graph);
  return report;
}

/**
 * How many ConvTransposes the int8 pass will run as QLinearConv + DepthToSpace in `model` (normalized on a copy first:
 * exporters such as paddle2onnx write weights as Constant nodes). For `plan`, which otherwise counts every
 * ConvTranspose as a float island. Pure; `model` is not touched.
 */
export function int8ConvTransposes(model: OnnxModel): number {
  const copy = cloneModel(model);
  try {
    normalizeModel(copy, { minOpset: 13 });
  } catch {
    return 0; // a graph the passes cannot read: no claim that anything becomes int8
  }
  return copy.graph.nodes.filter((n) => blockSize(copy.graph, n) !== null).length;
}

/** The block size s of a ConvTranspose the rewrite applies to (Cout·s² ≥ MIN_CONV_CHANNELS included), or null. */
function blockSize(graph: OnnxGraph, node: OnnxNode): number | null {
  if (node.opType !== 'ConvTranspose' || node.domain !== '' || node.outputs.length !== 1) return null;
  const w = graph.initializers.get(node.inputs[1] ?? '');
  if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 4) return null;
  if (attrInt(node, 'group', 1) !== 1) return null;
  const [kh, kw] = [w.dims[2]!, w.dims[3]!];
  const kernel = attrInts(node, 'kernel_shape', [kh, kw]);
  const strides = attrInts(node, 'strides', [1, 1]);
  if (kh !== kw || kernel[0] !== kh || kernel[1] !== kw || strides[0] !== kh || strides[1] !== kw || kh < 2) return null;
  const zero = (name: string): boolean => attrInts(node, name, []).every((v) => v === 0);
  if (!zero('pads') || !zero('output_padding') || node.attributes.has('output_shape')) return null;
  if (!attrInts(node, 'dilations', [1, 1]).every((d) => d === 1)) return null;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return null;
  return w.dims[1]! * kh * kh >= MIN_CONV_CHANNELS ? kh : null;
}
