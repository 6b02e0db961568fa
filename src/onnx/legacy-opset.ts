import { DataType } from './dtype.js';
import type { OnnxModel, OnnxNode, Tensor } from './ir.js';
import { attr, attrInt, attrInts, makeNode, nameFactory } from './graph.js';
import { int64Tensor } from './tensor.js';
import type { TensorTypeMap } from './shape-inference.js';
import { EdgetuneError } from '../util/errors.js';

/** Binary ops that took `broadcast` (and `axis`) attributes before opset 7 and broadcast numpy-style from 7. */
const LEGACY_BROADCAST_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less']);

/** Ops whose meaning changed before opset 7 in a way this upgrade does not convert. */
const LEGACY_UNCONVERTED: Record<string, string> = {
  PRelu: 'its slope broadcast differently before opset 7',
  Upsample: 'Upsample before opset 7 was experimental, with per-axis scale attributes',
  GRU: 'recurrent ops changed their outputs in opset 7',
  LSTM: 'recurrent ops changed their outputs in opset 7',
  RNN: 'recurrent ops changed their outputs in opset 7',
};

/**
 * Convert the default-domain nodes of an opset 1–6 graph to their opset-7 form, in place: drop `consumed_inputs`;
 * turn the legacy `broadcast`/`axis` attributes of the binary ops into numpy broadcasting (the second operand
 * unsqueezed on the trailing axes when `axis` placed it earlier); Gemm's `broadcast`; Cast's `to` given by name
 * (opset 1); Concat's default axis 1 (opset 1–3); Reshape's `shape` attribute (opset 1–4); Pad's `paddings`
 * (opset 1); Split's second input (opset 1); Tile's `tiles`/`axis` (opset 1–5) when they are constants. Refuses with
 * MODEL_UNSUPPORTED, naming the node, what it cannot convert (PRelu, Upsample, recurrent ops, a broadcast whose
 * ranks are unknown). Returns the labels of the nodes it changed. `types` come from inference on the model as given.
 */
export function upgradeLegacyOps(model: OnnxModel, from: number, types: TensorTypeMap): string[] {
  const graph = model.graph;
  const fresh = nameFactory(graph);
  const constantOf = (name: string | undefined): Tensor | undefined => (name ? graph.initializers.get(name) : undefined);
  const addConstant = (base: string, t: Tensor): string => {
    const name = fresh(base);
    graph.initializers.set(name, { ...t, name });
    return name;
  };
  const converted: string[] = [];
  const result: OnnxNode[] = [];
  for (const node of graph.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      result.push(node);
      continue;
    }
    const label = `${node.opType} '${node.name || node.outputs[0]}'`;
    let changed = node.attributes.delete('consumed_inputs');
    const unconverted = LEGACY_UNCONVERTED[node.opType];
    if (unconverted) throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: cannot upgrade from opset ${from}: ${unconverted}`);
    if (LEGACY_BROADCAST_OPS.has(node.opType) && (node.attributes.has('broadcast') || node.attributes.has('axis'))) {
      const broadcast = attrInt(node, 'broadcast', 0) === 1;
      const axisAttr = node.attributes.get('axis');
      node.attributes.delete('broadcast');
      node.attributes.delete('axis');
      changed = true;
      if (broadcast && axisAttr?.type === 'int') {
        const rankA = types.get(node.inputs[0]!)?.shape?.length;
        const rankB = types.get(node.inputs[1]!)?.shape?.length;
        if (rankA === undefined || rankB === undefined) {
          throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: legacy broadcast with axis=${axisAttr.value} and an operand of unknown rank cannot be upgraded to opset 7`);
        }
        const axis = axisAttr.value < 0 ? axisAttr.value + rankA : axisAttr.value;
        const trailing = rankA - axis - rankB;
        if (trailing < 0 || axis < 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: legacy broadcast axis ${axisAttr.value} does not fit ranks ${rankA} and ${rankB}`);
        if (trailing > 0) {
          const b = constantOf(node.inputs[1]);
          if (b) {
            node.inputs[1] = addConstant(`${node.inputs[1]}_opset7`, { ...b, dims: [...b.dims, ...Array<number>(trailing).fill(1)] });
          } else {
            const unsqueezed = fresh(`${node.inputs[1]}_opset7`);
            const axes = Array.from({ length: trailing }, (_, k) => rankB + k);
            result.push(makeNode('Unsqueeze', [node.inputs[1]!], [unsqueezed], fresh(`${node.name || node.outputs[0]}_unsqueeze`), { axes: attr.ints(axes) }));
            node.inputs[1] = unsqueezed;
          }
        }
      }
    }
    switch (node.opType) {
      case 'Gemm':
        changed = node.attributes.delete('broadcast') || changed;
        break;
      case 'Cast': {
        const to = node.attributes.get('to');
        if (to?.type === 'string') {
          const id = (DataType as Record<string, number>)[to.value.toUpperCase()];
          if (id === undefined) throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: Cast to '${to.value}' is not a known type`);
          node.attributes.set('to', attr.int(id));
          changed = true;
        }
        break;
      }
      case 'Concat':
        if (!node.attributes.has('axis')) {
          node.attributes.set('axis', attr.int(1));
          changed = true;
        }
        break;
      case 'Reshape':
        if (node.attributes.has('shape')) {
          const shape = attrInts(node, 'shape', []);
          node.attributes.delete('shape');
          node.inputs = [node.inputs[0]!, addConstant(`${node.name || node.outputs[0]}_shape`, int64Tensor('', [shape.length], shape))];
          changed = true;
        }
        break;
      case 'Pad': {
        const paddings = node.attributes.get('paddings');
        if (paddings) {
          node.attributes.delete('paddings');
          node.attributes.set('pads', paddings);
          changed = true;
        }
        break;
      }
      case 'Split':
        if (node.inputs.length > 1 && node.inputs[1]) {
          const split = constantOf(node.inputs[1]);
          if (!split) throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: a computed split input (opset 1) cannot be upgraded`);
          node.attributes.set('split', attr.ints(Array.from(split.values as ArrayLike<number | bigint>, Number)));
          node.inputs = [node.inputs[0]!];
          changed = true;
        }
        break;
      case 'Tile':
        if (from < 6 && node.inputs.length === 3) {
          const tiles = constantOf(node.inputs[1]);
          const axis = constantOf(node.inputs[2]);
          const rank = types.get(node.inputs[0]!)?.shape?.length;
          if (!tiles || !axis || rank === undefined) throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: Tile before opset 6 with computed tiles/axis or an input of unknown rank cannot be upgraded`);
          const repeats = Array<number>(rank).fill(1);
          repeats[Number((axis.values as ArrayLike<number | bigint>)[0])] = Number((tiles.values as ArrayLike<number | bigint>)[0]);
          node.inputs = [node.inputs[0]!, addConstant(`${node.name || node.outputs[0]}_repeats`, int64Tensor('', [rank], repeats))];
          changed = true;
        }
        break;
      default:
    }
    if (changed) converted.push(label);
    result.push(node);
  }
  graph.nodes = result;
  return converted;
}
