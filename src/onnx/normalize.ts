import { DataType } from './dtype.js';
import type { OnnxGraph, OnnxModel, OnnxNode, Tensor } from './ir.js';
import { defaultOpset, setOpset } from './ir.js';
import { attr, attrInt, attrInts, attrString, nameFactory, removeDeadCode, topologicalSort, usedNames } from './graph.js';
import { floatTensor, int64Tensor, makeTensor } from './tensor.js';
import { inferTensorTypes, type TensorTypeMap } from './shape-inference.js';
import { upgradeLegacyOps } from './legacy-opset.js';
import { EdgetuneError } from '../util/errors.js';

/** What normalisation did, for the pass report. */
export interface NormalizeReport {
  constantsLifted: number;
  opset: { from: number; to: number };
  nodesConverted: string[];
}

/**
 * Lift `Constant` nodes of the main graph into initializers (paddle2onnx and some PyTorch exports keep weights
 * there), so passes see weights as initializers. Returns how many were lifted.
 */
export function liftConstants(graph: OnnxGraph): number {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  let lifted = 0;
  graph.nodes = graph.nodes.filter((node) => {
    if (node.opType !== 'Constant' || node.domain !== '' || node.outputs.length !== 1) return true;
    const name = node.outputs[0]!;
    if (outputs.has(name)) return true;
    const tensor = constantNodeValue(node);
    if (!tensor) return true;
    graph.initializers.set(name, { ...tensor, name });
    lifted++;
    return false;
  });
  return lifted;
}

function constantNodeValue(node: OnnxNode): Tensor | undefined {
  for (const [key, value] of node.attributes) {
    if (key === 'value' && value.type === 'tensor') return value.value;
    if (key === 'value_float' && value.type === 'float') return floatTensor('', [], [value.value]);
    if (key === 'value_floats' && value.type === 'floats') return floatTensor('', [value.value.length], value.value);
    if (key === 'value_int' && value.type === 'int') return int64Tensor('', [], [value.value]);
    if (key === 'value_ints' && value.type === 'ints') return int64Tensor('', [value.value.length], value.value);
  }
  return undefined;
}

/**
 * Upgrade the default-domain opset to `target`, converting the ops whose signature changed on the way (from opset
 * 1–6 first to the opset-7 forms, see legacy-opset.ts; then Clip,
 * Squeeze/Unsqueeze, Split, ReduceSum, Slice, Pad, TopK, Resize/Upsample, Dropout, BatchNormalization outputs,
 * Softmax axis semantics). Refuses with MODEL_UNSUPPORTED naming the op it cannot convert.
 */
export function upgradeOpset(model: OnnxModel, target: number): string[] {
  const from = defaultOpset(model);
  if (from >= target) return [];
  const converted: string[] = from < 7 ? upgradeLegacyOps(model, from, inferTensorTypes(model)) : [];
  const types = inferTensorTypes(model);
  // Fresh names must be unique across the main graph and every subgraph (they share one namespace).
  const used = new Set<string>();
  const collect = (g: OnnxGraph): void => {
    for (const n of usedNames(g)) used.add(n);
    for (const node of g.nodes) for (const sub of subgraphsOf(node)) collect(sub);
  };
  collect(model.graph);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  upgradeGraphNodes(model.graph, { from, target, types, fresh, converted, outerScope: new Set() });
  setOpset(model, '', target);
  if (model.irVersion < 7) model.irVersion = 7;
  return converted;
}

/** The subgraphs held by a node's attributes (If branches, Loop and Scan bodies). */
function subgraphsOf(node: OnnxNode): OnnxGraph[] {
  const graphs: OnnxGraph[] = [];
  for (const a of node.attributes.values()) {
    if (a.type === 'graph') graphs.push(a.value);
    else if (a.type === 'graphs') graphs.push(...a.value);
  }
  return graphs;
}

interface UpgradeContext {
  from: number;
  target: number;
  /** Inferred types of the main graph (subgraph tensors are not in it). */
  types: TensorTypeMap;
  fresh: (base: string) => string;
  converted: string[];
  /** Names visible from the enclosing graphs, for sorting a subgraph. */
  outerScope: ReadonlySet<string>;
}

/** Convert the nodes of one graph (and, recursively, of the subgraphs of its control-flow nodes) in place. */
function upgradeGraphNodes(graph: OnnxGraph, context: UpgradeContext): void {
  const { from, target, types, fresh, converted } = context;
  const constant = (base: string, t: Tensor): string => {
    const name = fresh(base);
    graph.initializers.set(name, { ...t, name });
    return name;
  };
  const result: OnnxNode[] = [];
  for (const node of graph.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      result.push(node);
      continue;
    }
    const label = `${node.opType} '${node.name || node.outputs[0]}'`;
    let changed = true;
    switch (node.opType) {
      case 'Clip':
        if (from < 11 && target >= 11) {
          const lo = node.attributes.get('min');
          const hi = node.attributes.get('max');
          node.attributes.delete('min');
          node.attributes.delete('max');
          node.inputs = [node.inputs[0]!, lo?.type === 'float' ? constant(`${node.name}_min`, floatTensor('', [], [lo.value])) : '', hi?.type === 'float' ? constant(`${node.name}_max`, floatTensor('', [], [hi.value])) : ''];
          while (node.inputs.length > 1 && node.inputs[node.inputs.length - 1] === '') node.inputs.pop();
        } else changed = false;
        break;
      case 'Squeeze':
      case 'Unsqueeze':
      case 'ReduceSum':
        // Opset 13 moved `axes` from an attribute to an input for these three.
        if (from < 13 && target >= 13 && node.attributes.has('axes')) {
          const axes = attrInts(node, 'axes', []);
          node.attributes.delete('axes');
          node.inputs = [node.inputs[0]!, constant(`${node.name}_axes`, int64Tensor('', [axes.length], axes))];
        } else changed = false;
        break;
      case 'Split':
        if (from < 13 && target >= 13 && node.attributes.has('split')) {
          const split = attrInts(node, 'split', []);
          node.attributes.delete('split');
          node.inputs = [node.inputs[0]!, constant(`${node.name}_split`, int64Tensor('', [split.length], split))];
        } else changed = false;
        break;
      case 'Slice':
        if (from < 10 && target >= 10) {
          const starts = attrInts(node, 'starts', []);
          const ends = attrInts(node, 'ends', []);
          const axes = attrInts(node, 'axes', []);
          for (const k of ['starts', 'ends', 'axes']) node.attributes.delete(k);
          node.inputs = [
            node.inputs[0]!,
            constant(`${node.name}_starts`, int64Tensor('', [starts.length], starts)),
            constant(`${node.name}_ends`, int64Tensor('', [ends.length], ends)),
            ...(axes.length ? [constant(`${node.name}_axes`, int64Tensor('', [axes.length], axes))] : []),
          ];
        } else changed = false;
        break;
      case 'Pad':
        if (from < 11 && target >= 11) {
          const pads = attrInts(node, 'pads', []);
          const value = node.attributes.get('value');
          node.attributes.delete('pads');
          node.attributes.delete('value');
          node.inputs = [node.inputs[0]!, constant(`${node.name}_pads`, int64Tensor('', [pads.length], pads))];
          if (value?.type === 'float' && value.value !== 0) node.inputs.push(constant(`${node.name}_value`, floatTensor('', [], [value.value])));
        } else changed = false;
        break;
      case 'TopK':
        if (from < 10 && target >= 10) {
          const k = attrInt(node, 'k', 1);
          node.attributes.delete('k');
          node.inputs = [node.inputs[0]!, constant(`${node.name}_k`, int64Tensor('', [1], [k]))];
        } else changed = false;
        break;
      case 'Upsample': {
        // Upsample-7/9 → Resize-11 with the same (asymmetric, floor) sampling.
        const mode = attrString(node, 'mode', 'nearest');
        let scalesName = node.inputs[1];
        if (!scalesName) {
          const scales = node.attributes.get('scales');
          if (scales?.type !== 'floats') throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: no scales`);
          scalesName = constant(`${node.name}_scales`, floatTensor('', [scales.value.length], scales.value));
        }
        node.opType = 'Resize';
        node.attributes = new Map([
          ['mode', attr.string(mode === 'bilinear' ? 'linear' : mode)],
          ['coordinate_transformation_mode', attr.string('asymmetric')],
          ...(mode === 'nearest' ? [['nearest_mode', attr.string('floor')] as const] : []),
        ]);
        node.inputs = [node.inputs[0]!, constant(`${node.name}_roi`, floatTensor('', [0], [])), scalesName];
        break;
      }
      case 'Resize':
        if (from < 11 && target >= 11) {
          const mode = attrString(node, 'mode', 'nearest');
          node.attributes.set('coordinate_transformation_mode', attr.string('asymmetric'));
          if (mode === 'nearest') node.attributes.set('nearest_mode', attr.string('floor'));
          node.inputs = [node.inputs[0]!, constant(`${node.name}_roi`, floatTensor('', [0], [])), node.inputs[1]!];
        } else changed = false;
        break;
      case 'Dropout':
        // Inference only: Dropout is the identity; the mask output must be unused.
        node.opType = 'Identity';
        node.attributes = new Map();
        node.inputs = [node.inputs[0]!];
        node.outputs = [node.outputs[0]!];
        break;
      case 'BatchNormalization':
        if (node.outputs.length > 1 || node.attributes.has('spatial') || node.attributes.has('is_test') || node.attributes.has('consumed_inputs')) {
          if (attrInt(node, 'spatial', 1) !== 1) throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: spatial=0 BatchNormalization cannot be upgraded`);
          node.outputs = [node.outputs[0]!];
          for (const k of ['spatial', 'is_test', 'consumed_inputs', 'training_mode']) node.attributes.delete(k);
        } else changed = false;
        break;
      case 'Softmax':
      case 'LogSoftmax':
      case 'Hardmax':
        if (from < 13 && target >= 13) {
          const shape = types.get(node.inputs[0]!)?.shape;
          let axis = attrInt(node, 'axis', 1);
          if (!shape) throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: opset 13 changed ${node.opType} semantics and the input rank is unknown`);
          if (axis < 0) axis += shape.length;
          if (axis !== shape.length - 1) {
            throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: opset 13 changed ${node.opType} to one axis; axis ${axis} of a rank-${shape.length} input would change results`);
          }
          node.attributes.set('axis', attr.int(axis));
        } else changed = false;
        break;
      case 'Scatter':
        node.opType = 'ScatterElements';
        break;
      case 'Scan':
      case 'Loop':
      case 'If': {
        // Scan-8 had a batch axis and sequence_lens that Scan-9 dropped; older control flow predates opset 7.
        if ((node.opType === 'Scan' && from < 9) || from < 7) {
          throw new EdgetuneError('MODEL_UNSUPPORTED', `${label}: upgrading ${node.opType} from opset ${from} is not supported (its semantics changed)`);
        }
        // The body's nodes take the same conversions; the op itself kept its meaning from here to opset 13+.
        const scope = new Set([...context.outerScope, ...graph.inputs.map((i) => i.name), ...graph.initializers.keys(), ...graph.nodes.flatMap((n) => n.outputs)]);
        for (const sub of subgraphsOf(node)) upgradeGraphNodes(sub, { ...context, outerScope: scope });
        changed = false;
        break;
      }
      default:
        changed = false;
    }
    if (changed) converted.push(label);
    result.push(node);
  }
  graph.nodes = result;
  graph.nodes = topologicalSort(graph, context.outerScope);
}

/** IR version edgetune writes when a pass needs newer types (int4 needs IR 10, opset 21 needs IR 10). */
export function ensureIrVersion(model: OnnxModel, minimum: number): void {
  if (model.irVersion < minimum) model.irVersion = minimum;
}

/** Lift constants and upgrade the opset; the common first step of every compression pass. */
export function normalizeModel(model: OnnxModel, options: { minOpset?: number } = {}): NormalizeReport {
  const from = defaultOpset(model);
  const constantsLifted = liftConstants(model.graph);
  const nodesConverted = options.minOpset ? upgradeOpset(model, options.minOpset) : [];
  removeDeadCode(model.graph);
  // Old IR versions list initializers among graph inputs; keep them (ORT accepts it) but make types consistent.
  for (const input of model.graph.inputs) {
    const t = model.graph.initializers.get(input.name);
    if (t && input.type && input.type.elemType === 0) input.type.elemType = t.dataType;
  }
  return { constantsLifted, opset: { from, to: defaultOpset(model) }, nodesConverted };
}

/**
 * One line for what the opset upgrade changed, grouped by op type ("opset upgrade 11 → 13 converted 19 nodes: Clip
 * ×19"), or null when it changed nothing. `converted` holds the labels `OpType 'name'` of `NormalizeReport`.
 */
export function opsetUpgradeNote(report: Pick<NormalizeReport, 'nodesConverted' | 'opset'>): string | null {
  const n = report.nodesConverted.length;
  if (n === 0) return null;
  const byOp = new Map<string, number>();
  for (const label of report.nodesConverted) {
    const op = label.slice(0, label.indexOf(' ') > 0 ? label.indexOf(' ') : undefined);
    byOp.set(op, (byOp.get(op) ?? 0) + 1);
  }
  const ops = [...byOp].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, count]) => `${op} ×${count}`);
  const what = n === 1 ? `1 node: ${report.nodesConverted[0]}` : `${n} nodes: ${ops.join(', ')}`;
  return `opset upgrade ${report.opset.from} → ${report.opset.to} converted ${what}`;
}

/** A scalar float32 initializer value. */
export function scalarFloat(name: string, value: number): Tensor {
  return makeTensor(name, DataType.FLOAT, [], new Float32Array([value]));
}
