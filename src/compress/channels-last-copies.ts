import type { AttributeValue, OnnxGraph, OnnxNode, Tensor } from '../onnx/ir.js';
import { attr, attrInt, attrString, consumerMap, dropUnreadInitializers, graphOutputNames, makeNode, nameFactory, producerMap } from '../onnx/graph.js';
import { int64Tensor, tensorToFloat32 } from '../onnx/tensor.js';
import { DataType } from '../onnx/dtype.js';

/** What channelsLastCopies did. */
export interface ChannelsLastCopiesReport {
  /** Nearest Resize nodes rewritten. */
  resizes: string[];
  /** DepthToSpace nodes rewritten. */
  depthToSpaces: string[];
}

/**
 * In a QDQ model, 8-bit data movements that onnxruntime runs as per-element loops on one thread, written as block
 * copies in channels-last order that it runs as memcpy. onnxruntime runs QLinearConv channels-last (NHWC) and cancels
 * the Transposes these start and end with against its own, so what remains are copies of C-byte blocks. Each op must
 * sit between a DequantizeLinear and a QuantizeLinear with one scale and zero point (as the int8 pass writes a
 * shared-scale op); the copies then take the 8-bit tensor before the DQ and write the one after the Q. Bit-exact.
 *
 * - A nearest upsampling by integer factors (Resize, scales [1, 1, s_h, s_w]): Unsqueeze + Concat of s_w copies +
 *   Reshape repeats each pixel's C bytes along W, the same along H. Only coordinate modes whose nearest source of
 *   output y is floor(y / s): asymmetric with nearest_mode floor; half_pixel and pytorch_half_pixel with
 *   round_prefer_floor or round_prefer_ceil ((y mod s + ½) / s − ½ is never a tie). PP-OCRv4 det: its six
 *   upsamplings were 3.5 of 19 traced ms as uint8 Resize, 0.5 ms as copies.
 * - DepthToSpace in DCR mode: [N, H, W, (a·b·C)] viewed as [N, H, W, bs, bs, C], the bs row axis moved in front of
 *   W (a single-axis Transpose, blocks of bs·C bytes). PP-OCRv4 det's head (conv-transpose-as-conv.ts): 1.3 ms as
 *   uint8 DepthToSpace.
 *
 * Rank 4 only. Pure.
 */
export function channelsLastCopies(graph: OnnxGraph): ChannelsLastCopiesReport {
  const producers = producerMap(graph);
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const fresh = nameFactory(graph);
  const report: ChannelsLastCopiesReport = { resizes: [], depthToSpaces: [] };
  const replaced = new Map<OnnxNode, OnnxNode[]>();
  const dropped = new Set<OnnxNode>();
  for (const node of graph.nodes) {
    const factors = integerFactors(graph, node);
    const blocksize = depthToSpaceBlock(node);
    if (!factors && blocksize === null) continue;
    const dq = producers.get(node.inputs[0]!);
    const readers = consumers.get(node.outputs[0]!) ?? [];
    const q = readers.length === 1 ? readers[0]! : undefined;
    if (!dq || dq.opType !== 'DequantizeLinear' || !q || q.opType !== 'QuantizeLinear' || outputs.has(node.outputs[0]!)) continue;
    if (!sameQuantParams(graph, dq, q)) continue;
    const base = node.name || node.outputs[0]!;
    const constant = (suffix: string, values: number[]): string => {
      const name = fresh(`${base}_${suffix}`);
      graph.initializers.set(name, int64Tensor(name, [values.length], values));
      return name;
    };
    const x = dq.inputs[0]!; // the 8-bit tensor
    const nodes: OnnxNode[] = [];
    const add = (opType: string, inputs: string[], suffix: string, attributes: Record<string, AttributeValue> = {}): string => {
      const out = fresh(`${base}_${suffix}`);
      nodes.push(makeNode(opType, inputs, [out], fresh(`${base}_${suffix}_op`), attributes));
      return out;
    };
    let t = add('Transpose', [x], 'nhwc', { perm: attr.ints([0, 2, 3, 1]) });
    // the output's NCHW shape from the input's (constant-folded by onnxruntime when shapes are static)
    let outShape = add('Shape', [x], 'in_shape');
    if (factors) {
      const [sh, sw] = factors;
      // [N, H, W, C] → [N, H, W·s_w·C]: each pixel's channels repeated s_w times
      if (sw > 1) t = add('Concat', Array<string>(sw).fill(add('Unsqueeze', [t, constant('axis3', [3])], 'w_unsqueezed')), 'w_copies', { axis: attr.int(3) });
      t = add('Reshape', [t, constant('rows_shape', [0, 0, -1])], 'rows');
      // [N, H, R] → [N, H, s_h, R]: each row repeated s_h times
      if (sh > 1) t = add('Concat', Array<string>(sh).fill(add('Unsqueeze', [t, constant('axis2', [2])], 'h_unsqueezed')), 'h_copies', { axis: attr.int(2) });
      outShape = add('Mul', [outShape, constant('factors', [1, 1, sh, sw])], 'out_shape');
      report.resizes.push(base);
    } else {
      const bs = blocksize!;
      // [N, H, W, bs·bs·C] as [N, H, W, bs, bs, C] → [N, H, bs, W, bs, C]
      t = add('Reshape', [t, constant('blocks_shape', [0, 0, 0, bs, bs, -1])], 'blocks');
      t = add('Transpose', [t], 'rows_apart', { perm: attr.ints([0, 1, 3, 2, 4, 5]) });
      const scaled = add('Mul', [outShape, constant('factors', [1, 1, bs, bs])], 'out_shape_hw');
      outShape = add('Div', [scaled, constant('channel_divisor', [1, bs * bs, 1, 1])], 'out_shape');
      report.depthToSpaces.push(base);
    }
    const target = add('Gather', [outShape, constant('nhwc_order', [0, 2, 3, 1])], 'out_shape_nhwc', { axis: attr.int(0) });
    t = add('Reshape', [t, target], 'out_nhwc');
    nodes.push(makeNode('Transpose', [t], [q.outputs[0]!], fresh(`${base}_to_nchw`), { perm: attr.ints([0, 3, 1, 2]) }));
    replaced.set(node, nodes);
    dropped.add(q);
    if ((consumers.get(dq.outputs[0]!) ?? []).length === 1 && !outputs.has(dq.outputs[0]!)) dropped.add(dq);
  }
  if (replaced.size === 0) return report;
  graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? (dropped.has(n) ? [] : [n]));
  dropUnreadInitializers(graph);
  return report;
}

/** The block size of a DepthToSpace in DCR mode (the mode whose channels-last form is a single-axis move), or null. */
function depthToSpaceBlock(node: OnnxNode): number | null {
  if (node.opType !== 'DepthToSpace' || node.domain !== '' || node.outputs.length !== 1) return null;
  if (attrString(node, 'mode', 'DCR') !== 'DCR') return null;
  const bs = attrInt(node, 'blocksize', 0);
  return bs >= 2 ? bs : null;
}

/** [s_h, s_w] of a nearest Resize this rewrite is exact for, or null. */
function integerFactors(graph: OnnxGraph, node: OnnxNode): [number, number] | null {
  if (node.opType !== 'Resize' || node.domain !== '' || node.outputs.length !== 1) return null;
  if (attrString(node, 'mode', 'nearest') !== 'nearest') return null;
  const coordinates = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  const rounding = attrString(node, 'nearest_mode', 'round_prefer_floor');
  const floors = coordinates === 'asymmetric' ? rounding === 'floor' : (coordinates === 'half_pixel' || coordinates === 'pytorch_half_pixel') && (rounding === 'round_prefer_floor' || rounding === 'round_prefer_ceil');
  if (!floors) return null;
  if (node.attributes.has('antialias') || node.attributes.has('axes') || node.attributes.has('keep_aspect_ratio_policy')) return null;
  if (!node.inputs[2] || (node.inputs[3] ?? '') !== '') return null; // scales given, sizes not
  const scales = graph.initializers.get(node.inputs[2]);
  if (!scales || scales.dataType !== DataType.FLOAT) return null;
  const s = tensorToFloat32(scales);
  if (s.length !== 4 || s[0] !== 1 || s[1] !== 1) return null;
  const [sh, sw] = [s[2]!, s[3]!];
  if (!Number.isInteger(sh) || !Number.isInteger(sw) || sh < 1 || sw < 1 || sh * sw === 1) return null;
  return [sh, sw];
}

/** Whether a DequantizeLinear and a QuantizeLinear use one scale and zero point (per tensor). */
function sameQuantParams(graph: OnnxGraph, dq: OnnxNode, q: OnnxNode): boolean {
  const value = (name: string | undefined): Tensor | undefined => (name ? graph.initializers.get(name) : undefined);
  const [ds, dz, qs, qz] = [value(dq.inputs[1]), value(dq.inputs[2]), value(q.inputs[1]), value(q.inputs[2])];
  if (!ds || !qs || !dz || !qz || ds.values.length !== 1 || qs.values.length !== 1) return false;
  if (dz.dataType !== qz.dataType || Number(dz.values[0]) !== Number(qz.values[0])) return false;
  return tensorToFloat32(ds)[0] === tensorToFloat32(qs)[0];
}
