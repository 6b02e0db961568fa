/**
 * Structured channel pruning on the IR (pure). Channels are tracked DepGraph-style as "atoms": every Conv / Gemm /
 * MatMul output channel is an atom; ops that keep channels (BN, activations, pools, Resize, Pad) pass their input's
 * atom list through; element-wise ops with two activation inputs (residual Add, SE Mul) join their inputs' atoms
 * one to one; Concat on the channel axis concatenates atom lists (offsets); Flatten(axis=1) after a [N,C,H,W]
 * tensor repeats each atom H·W times (channel-major); a depthwise Conv passes atoms through and loses filters with
 * them. A set of joined atoms is one prunable channel; producers whose atoms are joined form one group, pruned with
 * one ratio. Transpose moves the channel axis through its permutation; a Reshape that leaves the channel axis whole
 * (same size, same inner stride: [N,C,1,1]↔[N,C], [N,H,W,C]→[N,H·W,C]) maps it to its new position. A channel pad —
 * Pad (constant mode) on the channel axis, or Concat with a constant operand (tf2onnx writes a TF channel Pad as
 * ConstantOfShape → Concat) — gives the padded channels atoms of their own: joined by a residual Add to the other
 * branch's channels, pruning one of them shrinks the pad (the pads, the ConstantOfShape shape or the constant), and
 * channels from the real input stay tied to the input's group. Any atom reaching an op without a mapping (Softmax,
 * Split, Slice…) makes its whole group unprunable; a group whose channels reach a graph output through channel-
 * preserving ops is left alone for that reason first. The report names the reason. Pruning physically slices the
 * weights of the producers (dim 0), the consumers (input-channel dim), depthwise filters (and their `group`),
 * BN/IN/PRelu, broadcast per-channel constants, and rewrites pads / Reshape shapes.
 */
import type { OnnxGraph, OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { defaultOpset, elementCount } from '../onnx/ir.js';
import { attr, attrFloat, attrInt, attrInts, attrString, nameFactory } from '../onnx/graph.js';
import { inferTensorTypes, staticShape, type TensorTypeMap } from '../onnx/shape-inference.js';
import { makeTensor, tensorToFloat32, tensorToNumbers } from '../onnx/tensor.js';
import { DataType } from '../onnx/dtype.js';
import type { PassReport } from './pass.js';
import { EdgetuneError } from '../util/errors.js';

/**
 * Channel importance criterion: filter norms, the mean |activation| measured on data, or the order in which the
 * layers reading the channels can best do without them after a refit (reconstruction-importance.ts).
 */
export type ChannelImportance = 'l1' | 'l2' | 'activation' | 'reconstruction';

/** Options for one pruning pass. */
export interface PruneChannelsOptions {
  /** Share of each group's channels to remove, in (0, 1). */
  ratio: number;
  /** Per-group ratio overrides by group id. */
  groupRatios?: ReadonlyMap<number, number>;
  importance?: ChannelImportance;
  /**
   * Measured per-channel scores by producer output name (importance 'activation', every producer; 'reconstruction',
   * producers without one fall back to l2 filter norms).
   */
  channelScores?: ReadonlyMap<string, Float64Array>;
  /** Keep counts multiples of this where the group has at least this many channels to keep (default 8). */
  channelMultiple?: number;
}

/** One coupled channel group as found (and as pruned). */
export interface ChannelGroupReport {
  id: number;
  /** Nodes whose output channels belong to the group. */
  producers: string[];
  channels: number;
  kept: number;
  prunable: boolean;
  /** Why the group was left alone. */
  reason: string | null;
}

/** A layer whose input channels shrank: what recovery refits. */
export interface PrunedSink {
  node: string;
  opType: 'Conv' | 'Gemm' | 'MatMul';
  input: string;
  output: string;
  /** Kept positions of the original input channels. */
  keptIn: number[];
  inChannels: number;
  /** Kept positions of the original output channels (null: all kept). */
  keptOut: number[] | null;
}

/** Result of a pruning pass: the model is mutated in place and returned. */
export interface PruneChannelsResult {
  model: OnnxModel;
  groups: ChannelGroupReport[];
  sinks: PrunedSink[];
  /** Tensors whose channel count changed (value_info dropped). */
  changedTensors: string[];
  /** For every changed tensor: the kept positions of its channels before this pass. */
  keptChannels: Map<string, number[]>;
  report: PassReport;
}

interface Layout {
  atoms: number[];
  /** Channel axis (non-negative) and rank of the tensor. */
  axis: number;
  rank: number;
}

class UnionFind {
  private parent: number[] = [];
  add(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    let r = a;
    while (this.parent[r] !== r) r = this.parent[r]!;
    while (this.parent[a] !== r) {
      const next = this.parent[a]!;
      this.parent[a] = r;
      a = next;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

interface ProducerRecord {
  node: OnnxNode;
  kind: 'Conv' | 'Gemm' | 'MatMul';
  layout: Layout;
}

interface SinkRecord {
  node: OnnxNode;
  kind: 'Conv' | 'Gemm' | 'MatMul';
  layout: Layout;
}

/** A per-channel constant input of a node, sliced on `axis` with the layout of the activation. */
interface ParamRecord {
  node: OnnxNode;
  inputIndex: number;
  axis: number;
  layout: Layout;
}

/** Padded channels of a Pad on the channel axis: atoms before and after the input's. */
interface PadRecord {
  node: OnnxNode;
  axis: number;
  rank: number;
  before: Layout;
  after: Layout;
}

/** A constant Concat operand on the channel axis: an initializer, or the output of a ConstantOfShape read only here. */
interface ConstOperandRecord {
  concat: OnnxNode;
  /** Operand name as found (an initializer, or the ConstantOfShape output). */
  name: string;
  source: OnnxNode | 'initializer';
  axis: number;
  layout: Layout;
}

/** A Reshape that keeps the channel axis whole: position `index` of its shape constant holds the channel count. */
interface ReshapeRecord {
  node: OnnxNode;
  index: number;
  layout: Layout;
}

/** Everything the analysis found; exposed for tests and the recovery driver. */
export interface ChannelAnalysis {
  groups: Array<{ id: number; producers: ProducerRecord[]; components: number[][]; blocked: string | null }>;
  layouts: Map<string, Layout>;
  atomRoot: (atom: number) => number;
  producers: ProducerRecord[];
  sinks: SinkRecord[];
  depthwise: Array<{ node: OnnxNode; layout: Layout }>;
  params: ParamRecord[];
  pads: PadRecord[];
  constOperands: ConstOperandRecord[];
  reshapes: ReshapeRecord[];
  /** Atom → group id. */
  groupOfAtom: (atom: number) => number;
}

const UNARY = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Celu', 'Erf', 'Exp', 'Log', 'Sqrt',
  'Reciprocal', 'Neg', 'Abs', 'Dropout', 'Identity', 'Cast', 'Floor', 'Ceil', 'Round', 'Sign', 'Softplus', 'Softsign',
  'Mish', 'ThresholdedRelu', 'Gelu',
]);
const POOLS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool']);
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Sum', 'Mean', 'Pow']);
/** Ops whose output still holds every channel of their data input(s), mapped or not: channels reaching a graph output through them are the output's. */
const CARRIES_CHANNELS = new Set([
  ...UNARY, ...POOLS, ...ELEMENTWISE, 'Clip', 'PRelu', 'Resize', 'Upsample', 'Pad', 'Concat', 'Flatten', 'Transpose', 'Reshape', 'Squeeze',
  'Unsqueeze', 'Softmax', 'LogSoftmax', 'BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'Expand', 'Tile', 'DepthToSpace', 'SpaceToDepth',
]);

/** For each tensor, the first graph output its values reach through ops that carry channels (not through a Conv/Gemm/MatMul that mixes them). */
function outputsReached(graph: OnnxGraph): Map<string, string> {
  const reached = new Map<string, string>();
  for (const o of graph.outputs) reached.set(o.name, o.name);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : '';
    const w = op === 'Conv' ? graph.initializers.get(node.inputs[1] ?? '') : undefined;
    // ONNX Conv: W is [M, C/group, kH, kW]; a depthwise Conv keeps channels apart.
    const depthwise = w !== undefined && w.dims[1] === 1 && attrInt(node, 'group', 1) === w.dims[0] && w.dims[0]! > 1;
    if (!CARRIES_CHANNELS.has(op) && !depthwise) continue;
    const target = node.outputs.map((o) => reached.get(o)).find(Boolean);
    if (!target) continue;
    const data = op === 'Concat' || ELEMENTWISE.has(op) ? node.inputs : node.inputs.slice(0, 1);
    for (const name of data) if (name && !graph.initializers.has(name) && !reached.has(name)) reached.set(name, target);
  }
  return reached;
}

/** Find the coupled channel groups of a model (pure, does not change it). */
export function analyzeChannels(model: OnnxModel, types: TensorTypeMap = inferTensorTypes(model)): ChannelAnalysis {
  const graph = model.graph;
  const atomUf = new UnionFind();
  const groupUf = new UnionFind();
  const layouts = new Map<string, Layout>();
  const blocks: Array<{ atom: number; reason: string }> = [];
  const producers: ProducerRecord[] = [];
  const sinks: SinkRecord[] = [];
  const depthwise: Array<{ node: OnnxNode; layout: Layout }> = [];
  const params: ParamRecord[] = [];
  const pads: PadRecord[] = [];
  const constOperands: ConstOperandRecord[] = [];
  const reshapes: ReshapeRecord[] = [];
  const label = (n: OnnxNode): string => n.name || `${n.opType}(${n.outputs[0] ?? ''})`;
  const producerOf = new Map<string, OnnxNode>();
  const consumerCount = new Map<string, number>();
  for (const n of graph.nodes) {
    for (const o of n.outputs) producerOf.set(o, n);
    for (const i of n.inputs) consumerCount.set(i, (consumerCount.get(i) ?? 0) + 1);
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));

  const fresh = (count: number): number[] => {
    const atoms: number[] = [];
    for (let i = 0; i < count; i++) {
      atomUf.add();
      atoms.push(groupUf.add());
      if (i > 0) groupUf.union(atoms[0]!, atoms[i]!);
    }
    return atoms;
  };
  const block = (layout: Layout | undefined, reason: string): void => {
    if (layout) for (const a of layout.atoms) blocks.push({ atom: a, reason });
  };
  const join = (a: Layout, b: Layout): void => {
    for (let i = 0; i < a.atoms.length; i++) {
      atomUf.union(a.atoms[i]!, b.atoms[i]!);
      groupUf.union(a.atoms[i]!, b.atoms[i]!);
    }
  };
  const rankOf = (name: string): number | null => types.get(name)?.shape?.length ?? null;
  const blockInputs = (node: OnnxNode, why: string): void => {
    for (const i of node.inputs) block(layouts.get(i), why);
  };
  const constant = (name: string | undefined): Tensor | undefined => (name ? graph.initializers.get(name) : undefined);
  const isScalar = (t: Tensor): boolean => elementCount(t.dims) === 1;
  /** The ConstantOfShape node behind `name` when its shape is a constant and this Concat is its only reader. */
  const constantOfShapeSource = (name: string): OnnxNode | null => {
    const p = producerOf.get(name);
    if (!p || p.opType !== 'ConstantOfShape' || (p.domain !== '' && p.domain !== 'ai.onnx')) return null;
    if (!constant(p.inputs[0]) || consumerCount.get(name) !== 1 || graphOutputs.has(name)) return null;
    return p;
  };

  for (const node of graph.nodes) {
    const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}:${node.opType}`;
    const input = layouts.get(node.inputs[0] ?? '');
    const out = node.outputs[0];
    const passThrough = (): void => {
      if (input && out) layouts.set(out, input);
    };
    if (op === 'Conv') {
      const w = constant(node.inputs[1]);
      if (!w || w.dims.length < 3 || (node.inputs[2] && !constant(node.inputs[2]))) {
        blockInputs(node, `${label(node)}: Conv with non-constant weights`);
        continue;
      }
      const group = attrInt(node, 'group', 1);
      const m = w.dims[0]!;
      const cPerGroup = w.dims[1]!;
      const rank = w.dims.length;
      if (group === 1) {
        if (input) {
          if (input.axis !== 1 || input.atoms.length !== cPerGroup) block(input, `${label(node)}: input channel layout does not match the weights`);
          else sinks.push({ node, kind: 'Conv', layout: input });
        }
        const layout: Layout = { atoms: fresh(m), axis: 1, rank };
        producers.push({ node, kind: 'Conv', layout });
        if (out) layouts.set(out, layout);
      } else if (cPerGroup === 1 && m === group) {
        if (input && input.axis === 1 && input.atoms.length === group) {
          depthwise.push({ node, layout: input });
          passThrough();
        } else block(input, `${label(node)}: depthwise Conv input layout unknown`);
      } else {
        block(input, `${label(node)}: grouped Conv (group=${group}${cPerGroup === 1 ? `, channel multiplier ${m / group}` : ''}) is not pruned`);
      }
      continue;
    }
    if (op === 'Gemm' || op === 'MatMul') {
      const w = constant(node.inputs[1]);
      const transA = attrInt(node, 'transA', 0);
      if (!w || w.dims.length !== 2 || transA !== 0 || (op === 'Gemm' && node.inputs[2] && !constant(node.inputs[2]))) {
        blockInputs(node, `${label(node)}: ${op} without a constant 2-D weight`);
        continue;
      }
      const transB = op === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
      const k = transB ? w.dims[1]! : w.dims[0]!;
      const n = transB ? w.dims[0]! : w.dims[1]!;
      const rank = op === 'Gemm' ? 2 : input?.rank ?? rankOf(node.inputs[0]!) ?? null;
      if (input) {
        if (input.axis !== input.rank - 1 || input.atoms.length !== k) block(input, `${label(node)}: input features do not follow the channel layout`);
        else sinks.push({ node, kind: op, layout: input });
      }
      if (rank === null) continue;
      const layout: Layout = { atoms: fresh(n), axis: rank - 1, rank };
      producers.push({ node, kind: op, layout });
      if (out) layouts.set(out, layout);
      continue;
    }
    if (op === 'BatchNormalization' || op === 'InstanceNormalization') {
      if (!input) continue;
      const count = op === 'BatchNormalization' ? 5 : 3;
      if (input.axis !== 1 || node.inputs.slice(1, count).some((n) => !constant(n)) || node.outputs.slice(1).some(Boolean)) {
        block(input, `${label(node)}: ${op} with non-constant parameters or training outputs`);
        continue;
      }
      for (let i = 1; i < count; i++) params.push({ node, inputIndex: i, axis: 0, layout: input });
      passThrough();
      continue;
    }
    if (UNARY.has(op) || POOLS.has(op)) {
      if (!input) continue;
      if (op === 'MaxPool' && node.outputs[1]) {
        block(input, `${label(node)}: MaxPool with indices output`);
        continue;
      }
      passThrough();
      continue;
    }
    if (op === 'Clip') {
      if (!input) continue;
      if (node.inputs.slice(1).some((n) => n && !(constant(n) && isScalar(constant(n)!)))) block(input, `${label(node)}: Clip with non-scalar bounds`);
      else passThrough();
      continue;
    }
    if (op === 'PRelu') {
      if (!input) continue;
      const slope = constant(node.inputs[1]);
      if (!slope) {
        block(input, `${label(node)}: PRelu with a non-constant slope`);
        continue;
      }
      const pos = slope.dims.length - (input.rank - input.axis);
      if (pos >= 0 && slope.dims[pos] !== 1) {
        if (slope.dims[pos] !== input.atoms.length) {
          block(input, `${label(node)}: PRelu slope does not broadcast on channels`);
          continue;
        }
        params.push({ node, inputIndex: 1, axis: pos, layout: input });
      }
      passThrough();
      continue;
    }
    if (op === 'Resize' || op === 'Upsample') {
      if (!input) continue;
      const scalesName = op === 'Upsample' ? node.inputs[1] : node.inputs[2];
      const sizes = op === 'Resize' ? node.inputs[3] : undefined;
      const scales = constant(scalesName);
      const scaleOk = scales ? tensorToNumbers(scales)[input.axis] === 1 : false;
      if (sizes || !scaleOk) block(input, `${label(node)}: ${op} by sizes or with a channel scale`);
      else passThrough();
      continue;
    }
    if (op === 'Transpose') {
      if (!input) continue;
      const perm = attrInts(node, 'perm', Array.from({ length: input.rank }, (_, i) => input.rank - 1 - i));
      const axis = perm.indexOf(input.axis);
      if (perm.length !== input.rank || axis < 0) {
        block(input, `${label(node)}: Transpose perm [${perm.join(',')}] does not match the rank ${input.rank} of its input`);
        continue;
      }
      if (out) layouts.set(out, { atoms: input.atoms, axis, rank: input.rank });
      continue;
    }
    if (op === 'Reshape') {
      if (!input) continue;
      const mapped = reshapeChannelAxis(node, input, constant(node.inputs[1]), types);
      if (typeof mapped === 'string') {
        block(input, `${label(node)}: ${mapped}`);
        continue;
      }
      reshapes.push({ node, index: mapped.axis, layout: input });
      if (out) layouts.set(out, { atoms: input.atoms, axis: mapped.axis, rank: mapped.rank });
      continue;
    }
    if (op === 'Pad') {
      if (!input) continue;
      const padsTensor = constant(node.inputs[1]);
      const padAmounts = node.inputs[1] ? (padsTensor ? tensorToNumbers(padsTensor) : null) : attrInts(node, 'pads', []);
      const constValue = node.inputs[2];
      const modeName = attrString(node, 'mode', 'constant');
      if (node.inputs[3] || !padAmounts || padAmounts.length !== 2 * input.rank || (constValue && !constant(constValue))) {
        block(input, `${label(node)}: Pad with non-constant pads or axes`);
        continue;
      }
      const before = padAmounts[input.axis]!;
      const after = padAmounts[input.axis + input.rank]!;
      if (before === 0 && after === 0) {
        passThrough();
        continue;
      }
      if (modeName !== 'constant' || before < 0 || after < 0) {
        block(input, `${label(node)}: Pad on the channel axis in mode '${modeName}'${before < 0 || after < 0 ? ' that crops channels' : ''} (only constant padding is tracked)`);
        continue;
      }
      const record: PadRecord = { node, axis: input.axis, rank: input.rank, before: { atoms: fresh(before), axis: input.axis, rank: input.rank }, after: { atoms: fresh(after), axis: input.axis, rank: input.rank } };
      pads.push(record);
      if (out) layouts.set(out, { atoms: [...record.before.atoms, ...input.atoms, ...record.after.atoms], axis: input.axis, rank: input.rank });
      continue;
    }
    if (ELEMENTWISE.has(op)) {
      const acts: Layout[] = [];
      let bad: string | null = null;
      const consts: Array<{ index: number; t: Tensor }> = [];
      let unknownActs = 0;
      node.inputs.forEach((name, index) => {
        const t = constant(name);
        if (t) consts.push({ index, t });
        else {
          const l = layouts.get(name);
          if (l) acts.push(l);
          else unknownActs++;
        }
      });
      const full = acts.filter((l) => l.atoms.length > 1);
      const ref = full[0];
      if (!ref) {
        for (const l of acts) block(l, `${label(node)}: element-wise op broadcasting a single channel`);
        continue;
      }
      if (unknownActs > 0) {
        // Another operand whose channels are not tracked: allowed only when its shape broadcasts on the channel axis.
        for (const name of node.inputs) {
          if (constant(name) || layouts.has(name)) continue;
          const shape = types.get(name)?.shape;
          const pos = shape ? shape.length - (ref.rank - ref.axis) : 0;
          if (!shape || (pos >= 0 && shape[pos] !== 1)) bad = `${label(node)}: operand '${name}' has untracked channels`;
        }
      }
      for (const l of full) {
        if (l.atoms.length !== ref.atoms.length || l.rank - l.axis !== ref.rank - ref.axis) bad = `${label(node)}: operands disagree on the channel axis`;
      }
      for (const { index, t } of consts) {
        const pos = t.dims.length - (ref.rank - ref.axis);
        if (pos < 0 || t.dims[pos] === 1) continue;
        if (t.dims[pos] !== ref.atoms.length) bad = `${label(node)}: constant does not broadcast on channels`;
        else params.push({ node, inputIndex: index, axis: pos, layout: ref });
      }
      if (bad) {
        for (const l of acts) block(l, bad);
        continue;
      }
      for (const l of full.slice(1)) join(ref, l);
      if (out) layouts.set(out, ref);
      continue;
    }
    if (op === 'Concat') {
      const ins = node.inputs.map((n) => layouts.get(n));
      const first = ins.find(Boolean);
      if (!first) continue;
      const axisRaw = attrInt(node, 'axis', 1);
      const axis = axisRaw < 0 ? axisRaw + first.rank : axisRaw;
      if (axis !== first.axis) {
        blockInputs(node, `${label(node)}: Concat on a non-channel axis`);
        continue;
      }
      const atoms: number[] = [];
      let ok = true;
      node.inputs.forEach((name, i) => {
        const l = ins[i];
        if (l) {
          if (l.axis !== axis) ok = false;
          atoms.push(...l.atoms);
        } else {
          const init = constant(name);
          const shape = init ? init.dims : staticShape(types, name);
          const c = shape?.[axis];
          const source = init ? 'initializer' : constantOfShapeSource(name);
          if (c === undefined) ok = false;
          else if (source && shape!.length === first.rank) {
            // A constant operand (a channel pad): its channels are atoms of their own, pruned by slicing the constant.
            const layout: Layout = { atoms: fresh(c), axis, rank: first.rank };
            constOperands.push({ concat: node, name, source, axis, layout });
            if (source !== 'initializer') layouts.set(name, layout);
            atoms.push(...layout.atoms);
          } else {
            const untracked = fresh(c);
            blocks.push({ atom: untracked[0]!, reason: `${label(node)}: Concat operand '${name}' is not tracked` });
            atoms.push(...untracked);
          }
        }
      });
      if (!ok) {
        blockInputs(node, `${label(node)}: Concat operands of unknown size`);
        continue;
      }
      if (out) layouts.set(out, { atoms, axis, rank: first.rank });
      continue;
    }
    if (op === 'Flatten') {
      if (!input) continue;
      const axisRaw = attrInt(node, 'axis', 1);
      const axis = axisRaw < 0 ? axisRaw + input.rank : axisRaw;
      if (input.rank === 2 && axis === 1) {
        passThrough();
        continue;
      }
      const shape = staticShape(types, node.inputs[0]!) ?? (types.get(node.inputs[0]!)?.shape ?? null);
      const tail = shape?.slice(2);
      if (axis !== 1 || input.axis !== 1 || !tail || tail.some((d) => typeof d !== 'number')) {
        block(input, `${label(node)}: Flatten needs axis=1 and a static spatial size`);
        continue;
      }
      const hw = elementCount(tail as number[]);
      const atoms: number[] = [];
      for (const a of input.atoms) for (let s = 0; s < hw; s++) atoms.push(a);
      if (out) layouts.set(out, { atoms, axis: 1, rank: 2 });
      continue;
    }
    // No mapping for this op: every tracked input stops here.
    blockInputs(node, `${label(node)}: no channel mapping for ${op}`);
  }
  // Channels that reach a graph output (directly or through ops that carry them) are the model's output: that reason first.
  const outputBlocks: typeof blocks = [];
  const reached = outputsReached(graph);
  for (const [name, layout] of layouts) {
    const target = reached.get(name);
    if (target) for (const a of layout.atoms) outputBlocks.push({ atom: a, reason: `feeds output '${target}': its channels are the model's output` });
  }

  const blockedRoots = new Map<number, string>();
  for (const b of [...outputBlocks, ...blocks]) {
    const r = groupUf.find(b.atom);
    if (!blockedRoots.has(r)) blockedRoots.set(r, b.reason);
  }
  const groupIds = new Map<number, number>();
  const groups: ChannelAnalysis['groups'] = [];
  for (const p of producers) {
    const root = groupUf.find(p.layout.atoms[0]!);
    let id = groupIds.get(root);
    if (id === undefined) {
      id = groups.length;
      groupIds.set(root, id);
      groups.push({ id, producers: [], components: [], blocked: blockedRoots.get(root) ?? null });
    }
    groups[id]!.producers.push(p);
  }
  for (const g of groups) {
    const byRoot = new Map<number, number[]>();
    for (const p of g.producers) {
      for (const a of p.layout.atoms) {
        const r = atomUf.find(a);
        const list = byRoot.get(r) ?? [];
        if (!list.includes(a)) list.push(a);
        byRoot.set(r, list);
      }
    }
    g.components = [...byRoot.values()];
  }
  return {
    groups,
    layouts,
    atomRoot: (a) => atomUf.find(a),
    producers,
    sinks,
    depthwise,
    params,
    pads,
    constOperands,
    reshapes,
    groupOfAtom: (a) => groupIds.get(groupUf.find(a)) ?? -1,
  };
}

/**
 * Where a Reshape puts the channel axis of `input` when it keeps it whole (same size, same static inner size), with
 * the output rank; or why not.
 */
function reshapeChannelAxis(node: OnnxNode, input: Layout, shapeTensor: Tensor | undefined, types: TensorTypeMap): { axis: number; rank: number } | string {
  if (!shapeTensor) return 'Reshape to a computed shape';
  const target = tensorToNumbers(shapeTensor);
  const inShape = types.get(node.inputs[0]!)?.shape;
  const outShape = types.get(node.outputs[0] ?? '')?.shape;
  if (!inShape || !outShape || inShape.length !== input.rank || outShape.length !== target.length) return 'Reshape of unknown shape';
  const channels = input.atoms.length;
  const innerOf = (dims: readonly (number | string | null)[], from: number): number | null => {
    let p = 1;
    for (const d of dims.slice(from)) {
      if (typeof d !== 'number') return null;
      p *= d;
    }
    return p;
  };
  const inner = innerOf(inShape, input.axis + 1);
  if (inShape[input.axis] !== channels || inner === null) return 'Reshape with a non-static size after the channel axis';
  for (let b = outShape.length - 1; b >= 0; b--) {
    if (outShape[b] !== channels || innerOf(outShape, b + 1) !== inner) continue;
    // A 0 in the shape copies the input dim at that position: fine at the channel's own position only.
    if (target.some((t, j) => t === 0 && j === input.axis && j !== b)) break;
    if (attrInt(node, 'allowzero', 0) === 1 && target.includes(0)) break;
    return { axis: b, rank: outShape.length };
  }
  const show = (dims: readonly (number | string | null)[]): string => dims.map((d) => d ?? '?').join(',');
  return `Reshape [${show(inShape)}] → [${show(outShape)}] splits or merges the channel axis`;
}

/** Keep count for a group of `channels` at removal ratio `ratio`: at least 1, fewer than all, multiples where possible. */
export function keepCount(channels: number, ratio: number, multiple = 8): number {
  const exact = channels * (1 - ratio);
  let keep = Math.round(exact);
  if (multiple > 1 && exact >= multiple) {
    const rounded = Math.max(multiple, Math.round(exact / multiple) * multiple);
    if (rounded < channels) keep = rounded;
  }
  return Math.min(channels, Math.max(1, keep));
}

/** Importance of each producer output channel: filter norm, folded with the BN scale that follows when there is one. */
function channelScores(graph: OnnxGraph, p: ProducerRecord, importance: 'l1' | 'l2', consumers: Map<string, OnnxNode[]>): Float64Array {
  const w = graph.initializers.get(p.node.inputs[1]!)!;
  const values = tensorToFloat32(w);
  const transB = p.kind === 'Gemm' ? attrInt(p.node, 'transB', 0) : 0;
  const n = p.layout.atoms.length;
  const scores = new Float64Array(n);
  const outFirst = p.kind === 'Conv' || transB === 1;
  const per = values.length / n;
  for (let c = 0; c < n; c++) {
    let s = 0;
    for (let j = 0; j < per; j++) {
      const v = outFirst ? values[c * per + j]! : values[j * n + c]!;
      s += importance === 'l1' ? Math.abs(v) : v * v;
    }
    scores[c] = s;
  }
  const next = consumers.get(p.node.outputs[0]!) ?? [];
  const bn = next.length === 1 && next[0]!.opType === 'BatchNormalization' ? next[0]! : undefined;
  if (bn) {
    const gamma = tensorToFloat32(graph.initializers.get(bn.inputs[1]!)!);
    const variance = tensorToFloat32(graph.initializers.get(bn.inputs[4]!)!);
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    for (let c = 0; c < n; c++) {
      const f = Math.abs(gamma[c]!) / Math.sqrt(variance[c]! + eps);
      scores[c]! *= importance === 'l1' ? f : f * f;
    }
  }
  return scores;
}

/** Copy of `t` keeping only indices `kept` on `axis`. */
export function sliceAxis(t: Tensor, axis: number, kept: readonly number[]): Tensor {
  const dims = [...t.dims];
  const outer = elementCount(dims.slice(0, axis));
  const size = dims[axis]!;
  const inner = elementCount(dims.slice(axis + 1));
  const src = t.values as Exclude<Tensor['values'], string[]>;
  const Ctor = src.constructor as new (n: number) => typeof src;
  const out = new Ctor(outer * kept.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < kept.length; k++) {
      const from = (o * size + kept[k]!) * inner;
      const to = (o * kept.length + k) * inner;
      for (let i = 0; i < inner; i++) (out as Float32Array)[to + i] = (src as Float32Array)[from + i]!;
    }
  }
  dims[axis] = kept.length;
  return { name: t.name, dataType: t.dataType, dims, values: out, ...(t.storage ? { storage: t.storage } : {}) };
}

/**
 * Prune every prunable group by the ratio (mutates and returns the model). Throws MODEL_UNSUPPORTED when no group
 * can be pruned, USAGE for a ratio outside (0, 1).
 */
export function pruneChannels(model: OnnxModel, options: PruneChannelsOptions): PruneChannelsResult {
  const { ratio } = options;
  if (!(ratio > 0 && ratio < 1)) throw new EdgetuneError('USAGE', `--ratio must be in (0, 1) for pruning; got ${ratio}`);
  const importance = options.importance ?? 'l2';
  const multiple = options.channelMultiple ?? 8;
  const graph = model.graph;
  const opset = defaultOpset(model);
  const analysis = analyzeChannels(model);
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);

  const removedRoots = new Set<number>();
  const groups: ChannelGroupReport[] = [];
  /** Groups pruned by filter norms although a measured importance was asked for (no measurement for them). */
  const byNorms: number[] = [];
  for (const g of analysis.groups) {
    const channels = g.components.length;
    const producersNames = g.producers.map((p) => p.node.name || p.node.outputs[0]!);
    const r = options.groupRatios?.get(g.id) ?? ratio;
    if (g.blocked || channels < 2 || !(r > 0)) {
      groups.push({ id: g.id, producers: producersNames, channels, kept: channels, prunable: false, reason: g.blocked ?? (channels < 2 ? 'a single channel' : 'ratio 0') });
      continue;
    }
    const keep = keepCount(channels, Math.min(r, 0.99), multiple);
    const atomScore = new Map<number, number>();
    if (importance === 'reconstruction' && !g.producers.some((p) => options.channelScores?.has(p.node.outputs[0]!))) byNorms.push(g.id);
    for (const p of g.producers) {
      const measured = options.channelScores?.get(p.node.outputs[0]!);
      if (importance === 'activation' && !measured) throw new EdgetuneError('USAGE', `activation importance has no measurement for '${p.node.name || p.node.outputs[0]}'`);
      const s = measured && measured.length === p.layout.atoms.length ? Float64Array.from(measured) : channelScores(graph, p, importance === 'l1' ? 'l1' : 'l2', consumers);
      // Normalise per producer so layers of different scale weigh the same in a coupled group.
      let total = 0;
      for (const v of s) total += v;
      p.layout.atoms.forEach((a, i) => atomScore.set(a, total > 0 ? (s[i]! * s.length) / total : 0));
    }
    const scored = g.components.map((atoms) => ({ root: analysis.atomRoot(atoms[0]!), score: atoms.reduce((sum, a) => sum + (atomScore.get(a) ?? 0), 0) }));
    scored.sort((a, b) => a.score - b.score);
    for (const s of scored.slice(0, channels - keep)) removedRoots.add(s.root);
    groups.push({ id: g.id, producers: producersNames, channels, kept: keep, prunable: true, reason: null });
  }
  if (!groups.some((g) => g.prunable && g.kept < g.channels)) {
    const skipped = groups.filter((g) => !g.prunable).slice(0, 5).map((g) => `${g.producers[0]}: ${g.reason}`);
    throw new EdgetuneError('MODEL_UNSUPPORTED', `no prunable channel group in the model${skipped.length ? ` (skipped: ${skipped.join('; ')})` : ''}`);
  }

  const keptOf = (layout: Layout): number[] => {
    const kept: number[] = [];
    layout.atoms.forEach((a, i) => {
      if (!removedRoots.has(analysis.atomRoot(a))) kept.push(i);
    });
    return kept;
  };
  const changed = (layout: Layout): boolean => layout.atoms.some((a) => removedRoots.has(analysis.atomRoot(a)));

  const useCount = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) if (graph.initializers.has(i)) useCount.set(i, (useCount.get(i) ?? 0) + 1);
  const fresh = nameFactory(graph);
  /** Replace constant input `index` of `node` with `next` (in place when nothing else reads the constant). */
  const replaceInput = (node: OnnxNode, index: number, next: Tensor): void => {
    const name = node.inputs[index]!;
    if ((useCount.get(name) ?? 0) <= 1) {
      graph.initializers.set(name, { ...next, name });
    } else {
      const newName = fresh(`${name}_pruned`);
      graph.initializers.set(newName, { ...next, name: newName });
      node.inputs[index] = newName;
      useCount.set(name, useCount.get(name)! - 1);
      useCount.set(newName, 1);
    }
  };
  /** Replace input `index` of `node` with a sliced copy. */
  const sliceInput = (node: OnnxNode, index: number, axis: number, kept: number[]): void => {
    replaceInput(node, index, sliceAxis(graph.initializers.get(node.inputs[index]!)!, axis, kept));
  };
  /** Replace integer constant input `index` of `node` with `values` (same dtype and dims). */
  const rewriteInts = (node: OnnxNode, index: number, values: number[]): void => {
    const t = graph.initializers.get(node.inputs[index]!)!;
    replaceInput(node, index, makeTensor(t.name, t.dataType, t.dims, values));
  };

  const changedNodes = new Set<OnnxNode>();
  const keptOut = new Map<OnnxNode, number[]>();
  for (const p of analysis.producers) {
    if (!changed(p.layout)) continue;
    const kept = keptOf(p.layout);
    keptOut.set(p.node, kept);
    const transB = p.kind === 'Gemm' ? attrInt(p.node, 'transB', 0) : 0;
    sliceInput(p.node, 1, p.kind === 'Conv' || transB === 1 ? 0 : 1, kept);
    const bias = p.node.inputs[2] ? graph.initializers.get(p.node.inputs[2]) : undefined;
    if (bias && elementCount(bias.dims) === p.layout.atoms.length) sliceInput(p.node, 2, bias.dims.length - 1, kept);
    changedNodes.add(p.node);
  }
  const sinks: PrunedSink[] = [];
  for (const s of analysis.sinks) {
    if (!changed(s.layout)) continue;
    const kept = keptOf(s.layout);
    const transB = s.kind === 'Gemm' ? attrInt(s.node, 'transB', 0) : 0;
    sliceInput(s.node, 1, s.kind === 'Conv' || transB === 1 ? 1 : 0, kept);
    changedNodes.add(s.node);
    sinks.push({ node: s.node.name, opType: s.kind, input: s.node.inputs[0]!, output: s.node.outputs[0]!, keptIn: kept, inChannels: s.layout.atoms.length, keptOut: keptOut.get(s.node) ?? null });
  }
  for (const d of analysis.depthwise) {
    if (!changed(d.layout)) continue;
    const kept = keptOf(d.layout);
    sliceInput(d.node, 1, 0, kept);
    if (d.node.inputs[2]) sliceInput(d.node, 2, 0, kept);
    d.node.attributes.set('group', attr.int(kept.length));
    changedNodes.add(d.node);
  }
  for (const p of analysis.params) {
    if (!changed(p.layout)) continue;
    sliceInput(p.node, p.inputIndex, p.axis, keptOf(p.layout));
    changedNodes.add(p.node);
  }
  for (const p of analysis.pads) {
    if (!changed(p.before) && !changed(p.after)) continue;
    const amounts = p.node.inputs[1] ? tensorToNumbers(graph.initializers.get(p.node.inputs[1])!) : [...attrInts(p.node, 'pads', [])];
    amounts[p.axis] = keptOf(p.before).length;
    amounts[p.axis + p.rank] = keptOf(p.after).length;
    if (p.node.inputs[1]) rewriteInts(p.node, 1, amounts);
    else p.node.attributes.set('pads', attr.ints(amounts));
    changedNodes.add(p.node);
  }
  for (const c of analysis.constOperands) {
    if (!changed(c.layout)) continue;
    const kept = keptOf(c.layout);
    const index = c.concat.inputs.indexOf(c.name);
    changedNodes.add(c.concat);
    if (kept.length === 0) {
      // The whole pad is gone: the operand leaves the Concat (and its ConstantOfShape, read only there, the graph).
      c.concat.inputs.splice(index, 1);
      if (c.source !== 'initializer') {
        graph.nodes.splice(graph.nodes.indexOf(c.source), 1);
        const shapeName = c.source.inputs[0]!;
        if (!graph.nodes.some((n) => n.inputs.includes(shapeName))) graph.initializers.delete(shapeName);
      }
      continue;
    }
    if (c.source === 'initializer') {
      sliceInput(c.concat, index, c.axis, kept);
    } else {
      const shape = tensorToNumbers(graph.initializers.get(c.source.inputs[0]!)!);
      shape[c.axis] = kept.length;
      rewriteInts(c.source, 0, shape);
      changedNodes.add(c.source);
    }
  }
  for (const r of analysis.reshapes) {
    if (!changed(r.layout)) continue;
    const shape = tensorToNumbers(graph.initializers.get(r.node.inputs[1]!)!);
    // -1 (inferred) and 0 (copied from the input) follow the pruned input by themselves.
    if (shape[r.index] !== r.layout.atoms.length) continue;
    shape[r.index] = keptOf(r.layout).length;
    rewriteInts(r.node, 1, shape);
    changedNodes.add(r.node);
  }
  const changedTensors = [...analysis.layouts].filter(([, l]) => changed(l)).map(([name]) => name);
  const keptChannels = new Map(changedTensors.map((name) => [name, keptOf(analysis.layouts.get(name)!)]));
  const stale = new Set(changedTensors);
  graph.valueInfo = graph.valueInfo.filter((v) => !stale.has(v.name));
  // Graph inputs/outputs are never pruned (they block their groups), so their declared dims stay right.
  const removed = groups.reduce((n, g) => n + (g.channels - g.kept), 0);
  const skipped = groups.filter((g) => !g.prunable && g.channels > 1);
  const report: PassReport = {
    pass: 'prune',
    nodesChanged: changedNodes.size,
    nodesKeptFloat: [],
    opset: { from: opset, to: opset },
    notes: [
      `${groups.filter((g) => g.prunable && g.kept < g.channels).length} channel group(s) pruned, ${removed} channel(s) removed; ${skipped.length} group(s) left alone`,
      ...skipped.map((g) => `group ${g.id} (${g.producers.slice(0, 3).join(', ')}${g.producers.length > 3 ? ', …' : ''}; ${g.channels} channels) not pruned: ${g.reason}`),
      ...(byNorms.length > 0
        ? [`reconstruction importance: group(s) ${byNorms.join(', ')} chosen by filter norms instead (no layer reading them was measured: too many input columns, or not a Conv/Gemm/MatMul)`]
        : []),
    ],
    details: { ratio, importance, groups },
  };
  return { model, groups, sinks, changedTensors, keptChannels, report };
}

/** FLOAT initializer helper for passes that add tensors (bias for refitted layers). */
export function floatInitializer(name: string, dims: number[], values: Float32Array): Tensor {
  return makeTensor(name, DataType.FLOAT, dims, values);
}
