import { DataType } from './dtype.js';
import type { Dim, OnnxGraph, OnnxModel, OnnxNode, Tensor, TensorType } from './ir.js';
import { attrInt, attrInts, attrString } from './graph.js';
import { tensorToNumbers } from './tensor.js';
import { defaultOpset } from './ir.js';

/** Options for type and shape inference. */
export interface InferenceOptions {
  /** Concrete shapes for graph inputs, replacing symbolic dims (e.g. { x: [1, 3, 640, 640] }). */
  inputShapes?: Record<string, number[]>;
}

/** What inference knows about every tensor: element type and shape (dims null where unknown). */
export type TensorTypeMap = Map<string, TensorType>;

const BOOL_OPS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);
/** Ops whose outputs are sequences or optionals (SequenceLength: an int64 scalar), or tensors taken out of one of unknown type. */
const SEQUENCE_OPS = new Set([
  'SequenceConstruct', 'SequenceEmpty', 'SequenceInsert', 'SequenceErase', 'SequenceAt', 'SequenceLength', 'SplitToSequence',
  'ConcatFromSequence', 'SequenceMap', 'Optional', 'OptionalGetElement', 'OptionalHasElement',
]);
const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Equal', 'Less', 'Greater', 'LessOrEqual',
  'GreaterOrEqual', 'And', 'Or', 'Xor', 'PRelu', 'Mod', 'BitShift',
]);
const UNARY_SAME_SHAPE = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Gelu', 'Erf', 'Exp', 'Log', 'Sqrt',
  'Reciprocal', 'Neg', 'Abs', 'Softmax', 'LogSoftmax', 'Clip', 'BatchNormalization', 'InstanceNormalization',
  'LayerNormalization', 'Dropout', 'Identity', 'Cast', 'CastLike', 'Not', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos',
  'QuantizeLinear', 'DequantizeLinear', 'Softplus', 'Softsign', 'Mish', 'ThresholdedRelu', 'Celu', 'LRN', 'IsNaN',
  'IsInf', 'GroupNormalization', 'DynamicQuantizeLinear',
]);

/**
 * Infer element types and, where the ops allow, static shapes of every tensor in the main graph. Pure and
 * best-effort: an op it does not know gets the first input's type and an unknown shape.
 */
export function inferTensorTypes(model: OnnxModel, options: InferenceOptions = {}): TensorTypeMap {
  const types: TensorTypeMap = new Map();
  const graph = model.graph;
  const opset = defaultOpset(model);
  for (const [name, t] of graph.initializers) types.set(name, { elemType: t.dataType, shape: [...t.dims] });
  for (const input of graph.inputs) {
    if (graph.initializers.has(input.name) || !input.type) continue;
    const concrete = options.inputShapes?.[input.name];
    types.set(input.name, { elemType: input.type.elemType, shape: concrete ? [...concrete] : input.type.shape ? [...input.type.shape] : null });
  }
  for (const v of graph.valueInfo) if (v.type && !types.has(v.name)) types.set(v.name, { elemType: v.type.elemType, shape: v.type.shape });
  const constants = new Map<string, Tensor>(graph.initializers);
  for (const node of graph.nodes) {
    if (node.opType === 'Constant' && node.outputs[0]) {
      const value = node.attributes.get('value');
      if (value?.type === 'tensor') constants.set(node.outputs[0], value.value);
    }
    inferNode(node, types, constants, opset);
  }
  // Declared graph outputs fill what inference could not.
  for (const o of graph.outputs) if (o.type && !types.get(o.name)?.elemType) types.set(o.name, { elemType: o.type.elemType, shape: o.type.shape });
  return types;
}

function inferNode(node: OnnxNode, types: TensorTypeMap, constants: Map<string, Tensor>, opset: number): void {
  const inType = (i: number): TensorType | undefined => (node.inputs[i] ? types.get(node.inputs[i]!) : undefined);
  const inShape = (i: number): Dim[] | null => inType(i)?.shape ?? null;
  const constant = (i: number): number[] | undefined => {
    const name = node.inputs[i];
    const t = name ? constants.get(name) : undefined;
    return t && !Array.isArray(t.values) ? tensorToNumbers(t) : undefined;
  };
  const set = (i: number, elemType: number, shape: Dim[] | null): void => {
    const name = node.outputs[i];
    if (!name) return;
    const previous = types.get(name);
    types.set(name, { elemType: elemType || previous?.elemType || 0, shape: shape ?? previous?.shape ?? null });
  };
  const firstType = inType(0)?.elemType ?? 0;
  const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}:${node.opType}`;

  if (op === 'Constant') {
    const v = node.attributes.get('value');
    if (v?.type === 'tensor') set(0, v.value.dataType, [...v.value.dims]);
    else if (node.attributes.has('value_float')) set(0, DataType.FLOAT, []);
    else if (node.attributes.has('value_int')) set(0, DataType.INT64, []);
    else if (node.attributes.has('value_floats')) set(0, DataType.FLOAT, [attrList(node, 'value_floats')]);
    else if (node.attributes.has('value_ints')) set(0, DataType.INT64, [attrList(node, 'value_ints')]);
    return;
  }
  if (BOOL_OPS.has(op)) return set(0, DataType.BOOL, broadcastShapes(node.inputs.map((_, i) => inShape(i))));
  if (INT64_OPS.has(op)) {
    if (op === 'Shape') {
      const s = inShape(0);
      return set(0, DataType.INT64, s ? [s.length] : [null]);
    }
    if (op === 'Size') return set(0, DataType.INT64, []);
    if (op === 'ArgMax' || op === 'ArgMin') return set(0, DataType.INT64, reduceShape(inShape(0), [attrInt(node, 'axis', 0)], attrInt(node, 'keepdims', 1) === 1));
    return set(0, DataType.INT64, null);
  }
  if (ELEMENTWISE.has(op)) {
    const shapes = node.inputs.map((_, i) => inShape(i));
    const elem = op === 'Where' ? inType(1)?.elemType ?? 0 : firstType;
    return set(0, elem, broadcastShapes(shapes));
  }
  if (UNARY_SAME_SHAPE.has(op)) {
    let elem = firstType;
    if (op === 'Cast') elem = attrInt(node, 'to', 0);
    if (op === 'CastLike') elem = inType(1)?.elemType ?? 0;
    if (op === 'QuantizeLinear') elem = inType(2)?.elemType ?? (attrInt(node, 'output_dtype', 0) || DataType.UINT8);
    if (op === 'DequantizeLinear') elem = inType(1)?.elemType && inType(1)!.elemType !== 0 ? inType(1)!.elemType : DataType.FLOAT;
    if (op === 'DynamicQuantizeLinear') {
      set(0, DataType.UINT8, inShape(0));
      set(1, DataType.FLOAT, []);
      set(2, DataType.UINT8, []);
      return;
    }
    set(0, elem, inShape(0));
    if (op === 'Dropout') set(1, DataType.BOOL, inShape(0));
    return;
  }
  if (SEQUENCE_OPS.has(op)) {
    // Sequence and optional values are not tensors: element type 0 keeps every tensor pass away from them.
    for (let i = 0; i < node.outputs.length; i++) set(i, op === 'SequenceLength' ? DataType.INT64 : 0, op === 'SequenceLength' ? [] : null);
    return;
  }
  switch (op) {
    case 'If':
    case 'Loop':
    case 'Scan': {
      // Output element types are the body's declared output types (Loop's body also outputs its condition first).
      const bodyName = op === 'If' ? 'then_branch' : 'body';
      const body = node.attributes.get(bodyName);
      const bodyOutputs = body?.type === 'graph' ? body.value.outputs : [];
      const skip = op === 'Loop' ? 1 : 0;
      for (let i = 0; i < node.outputs.length; i++) set(i, bodyOutputs[i + skip]?.type?.elemType ?? 0, null);
      return;
    }
    case 'Unique': {
      set(0, firstType, [null]);
      for (let i = 1; i < node.outputs.length; i++) set(i, DataType.INT64, [null]);
      return;
    }
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const x = inShape(op === 'QLinearConv' ? 0 : 0);
      const w = inShape(op === 'QLinearConv' ? 3 : 1);
      const elem = op === 'ConvInteger' ? DataType.INT32 : op === 'QLinearConv' ? inType(7)?.elemType ?? DataType.UINT8 : firstType;
      return set(0, elem, convShape(node, x, w));
    }
    case 'ConvTranspose':
      return set(0, firstType, convTransposeShape(node, inShape(0), inShape(1)));
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const x = inShape(0);
      const k = attrInts(node, 'kernel_shape', []);
      const shape = x && x.length >= 3 && k.length ? poolShape(node, x, k) : null;
      set(0, firstType, shape);
      if (op === 'MaxPool') set(1, DataType.INT64, shape);
      return;
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool': {
      const x = inShape(0);
      return set(0, firstType, x ? [x[0] ?? null, x[1] ?? null, ...x.slice(2).map(() => 1)] : null);
    }
    case 'Gemm': {
      const a = inShape(0);
      const b = inShape(1);
      const m = a ? (attrInt(node, 'transA', 0) ? a[1] : a[0]) ?? null : null;
      const n = b ? (attrInt(node, 'transB', 0) ? b[0] : b[1]) ?? null : null;
      return set(0, firstType, [m, n]);
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const bIndex = op === 'QLinearMatMul' ? 3 : 1;
      const elem = op === 'MatMulInteger' ? DataType.INT32 : op === 'QLinearMatMul' ? inType(7)?.elemType ?? DataType.UINT8 : firstType;
      return set(0, elem, matmulShape(inShape(0), inShape(bIndex)));
    }
    case 'Flatten': {
      const x = inShape(0);
      if (!x) return set(0, firstType, [null, null]);
      let axis = attrInt(node, 'axis', 1);
      if (axis < 0) axis += x.length;
      return set(0, firstType, [product(x.slice(0, axis)), product(x.slice(axis))]);
    }
    case 'Reshape': {
      const x = inShape(0);
      const target = opset >= 5 ? constant(1) : attrInts(node, 'shape', []);
      if (target) return set(0, firstType, reshapeShape(x, target, attrInt(node, 'allowzero', 0) === 1));
      // Shape computed at run time: the rank is still the length of the shape vector.
      const rank = opset >= 5 ? inShape(1)?.[0] : undefined;
      return set(0, firstType, isPlausibleRank(rank) ? new Array<Dim>(rank).fill(null) : null);
    }
    case 'Transpose': {
      const x = inShape(0);
      if (!x) return set(0, firstType, null);
      const perm = attrInts(node, 'perm', x.map((_, i) => x.length - 1 - i));
      return set(0, firstType, perm.map((p) => x[p] ?? null));
    }
    case 'Concat': {
      const shapes = node.inputs.map((_, i) => inShape(i));
      if (shapes.some((s) => !s)) return set(0, firstType, null);
      const rank = shapes[0]!.length;
      let axis = attrInt(node, 'axis', 0);
      if (axis < 0) axis += rank;
      const out = [...shapes[0]!];
      out[axis] = shapes.reduce<Dim>((sum, s) => (typeof sum === 'number' && typeof s![axis] === 'number' ? sum + (s![axis] as number) : null), 0);
      for (let d = 0; d < rank; d++) if (d !== axis && out[d] === null) out[d] = shapes.find((s) => typeof s![d] === 'number')?.[d] ?? null;
      return set(0, firstType, out);
    }
    case 'Squeeze': {
      const x = inShape(0);
      const axes = opset >= 13 ? constant(1) : attrInts(node, 'axes', []);
      if (!x) return set(0, firstType, null);
      if (!axes || axes.length === 0) return set(0, firstType, x.some((d) => d === null || typeof d === 'string') ? null : x.filter((d) => d !== 1));
      const norm = new Set(axes.map((a) => (a < 0 ? a + x.length : a)));
      return set(0, firstType, x.filter((_, i) => !norm.has(i)));
    }
    case 'Unsqueeze': {
      const x = inShape(0);
      const axes = opset >= 13 ? constant(1) : attrInts(node, 'axes', []);
      if (!x || !axes) return set(0, firstType, null);
      const rank = x.length + axes.length;
      const norm = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : x[j++] ?? null);
      return set(0, firstType, out);
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL2':
    case 'ReduceL1':
    case 'ReduceSumSquare':
    case 'ReduceLogSumExp': {
      const useInput = (op === 'ReduceSum' && opset >= 13) || opset >= 18;
      const axes = useInput ? constant(1) ?? [] : attrInts(node, 'axes', []);
      return set(0, firstType, reduceShape(inShape(0), axes, attrInt(node, 'keepdims', 1) === 1));
    }
    case 'Gather': {
      const x = inShape(0);
      const idx = inShape(1);
      if (!x || !idx) return set(0, firstType, null);
      let axis = attrInt(node, 'axis', 0);
      if (axis < 0) axis += x.length;
      return set(0, firstType, [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)]);
    }
    case 'Slice':
      return set(0, firstType, sliceShape(node, inShape(0), opset, constant));
    case 'Resize':
    case 'Upsample':
      return set(0, firstType, resizeShape(node, inShape(0), opset, constant));
    case 'Pad': {
      const x = inShape(0);
      const pads = opset >= 11 ? constant(1) : attrInts(node, 'pads', []);
      if (!x || !pads || node.inputs[3]) return set(0, firstType, null);
      const r = x.length;
      return set(0, firstType, x.map((d, i) => (typeof d === 'number' ? d + (pads[i] ?? 0) + (pads[i + r] ?? 0) : null)));
    }
    case 'Split': {
      const x = inShape(0);
      let axis = attrInt(node, 'axis', 0);
      const sizes = opset >= 13 ? constant(1) : attrInts(node, 'split', []);
      for (let i = 0; i < node.outputs.length; i++) {
        if (!x) {
          set(i, firstType, null);
          continue;
        }
        if (axis < 0) axis += x.length;
        const out = [...x];
        const whole = x[axis];
        out[axis] = sizes && sizes.length ? sizes[i] ?? null : typeof whole === 'number' ? whole / node.outputs.length : null;
        set(i, firstType, out);
      }
      return;
    }
    case 'Expand':
    case 'Tile':
    case 'ConstantOfShape':
    case 'Range':
    case 'TopK':
    case 'NonMaxSuppression':
    case 'Einsum':
    case 'ScatterND':
    case 'GatherND':
    case 'GatherElements':
    case 'ScatterElements':
    case 'CumSum': {
      if (op === 'ConstantOfShape') {
        const v = node.attributes.get('value');
        const shape = constant(0);
        return set(0, v?.type === 'tensor' ? v.value.dataType : DataType.FLOAT, shape ?? null);
      }
      if (op === 'Range') return set(0, firstType, [null]);
      if (op === 'TopK') {
        set(0, firstType, null);
        set(1, DataType.INT64, null);
        return;
      }
      if (op === 'Expand') {
        const target = constant(1);
        return set(0, firstType, target ? broadcastShapes([inShape(0), target]) : null);
      }
      if (op === 'GatherElements' || op === 'ScatterElements' || op === 'CumSum' || op === 'ScatterND') return set(0, firstType, op === 'GatherElements' ? inShape(1) : inShape(0));
      return set(0, firstType, null);
    }
    case 'OneHot':
      // Output elements are taken from `values` (input 2); indices and depth may be any numeric type.
      return set(0, inType(2)?.elemType ?? 0, null);
    case 'DepthToSpace':
    case 'SpaceToDepth': {
      const x = inShape(0);
      const b = attrInt(node, 'blocksize', 1);
      if (!x || x.length !== 4) return set(0, firstType, null);
      const [n, c, h, w] = x;
      const mul = (d: Dim, f: number): Dim => (typeof d === 'number' ? d * f : null);
      const div = (d: Dim, f: number): Dim => (typeof d === 'number' ? d / f : null);
      return set(0, firstType, op === 'DepthToSpace' ? [n!, div(c!, b * b), mul(h!, b), mul(w!, b)] : [n!, mul(c!, b * b), div(h!, b), div(w!, b)]);
    }
    case 'com.microsoft:MatMulNBits': {
      const a = inShape(0);
      return set(0, firstType, a ? [...a.slice(0, -1), attrInt(node, 'N', 0)] : null);
    }
    case 'com.microsoft:DynamicQuantizeMatMul':
    case 'com.microsoft:MatMulIntegerToFloat':
      return set(0, DataType.FLOAT, matmulShape(inShape(0), inShape(1)));
    default:
      // Unknown op: a declared type (value_info, graph output) wins; else outputs take the first input's element
      // type, shape unknown.
      for (let i = 0; i < node.outputs.length; i++) {
        const declared = node.outputs[i] ? types.get(node.outputs[i]!) : undefined;
        if (!declared?.elemType) set(i, firstType, null);
      }
  }
}

function attrList(node: OnnxNode, name: string): number {
  const a = node.attributes.get(name);
  return a && (a.type === 'ints' || a.type === 'floats') ? a.value.length : 0;
}

function product(dims: Dim[]): Dim {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

/** Numpy-style broadcast of shapes; null when any is unknown. */
export function broadcastShapes(shapes: Array<Dim[] | null>): Dim[] | null {
  if (shapes.some((s) => !s)) return null;
  const rank = Math.max(0, ...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s![s!.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (dim === 1) dim = d;
      else if (typeof dim === 'number' && typeof d === 'number' && dim !== d) dim = null;
      else if (typeof dim !== 'number') dim = typeof d === 'number' ? d : dim;
    }
    out.push(dim);
  }
  return out;
}

/** A declared rank small enough to build a shape from (a malformed model can declare any number). */
function isPlausibleRank(rank: unknown): rank is number {
  return typeof rank === 'number' && Number.isSafeInteger(rank) && rank >= 0 && rank <= MAX_RANK;
}

const MAX_RANK = 64;

function convShape(node: OnnxNode, x: Dim[] | null, w: Dim[] | null): Dim[] | null {
  // Conv needs [N, C, spatial...]; a lower rank is a malformed model, and its shape is unknown.
  if (!x || !w || x.length < 3) return null;
  const spatial = x.length - 2;
  const kernel = attrInts(node, 'kernel_shape', w.slice(2).map((d) => (typeof d === 'number' ? d : 0)));
  const strides = attrInts(node, 'strides', new Array(spatial).fill(1));
  const dilations = attrInts(node, 'dilations', new Array(spatial).fill(1));
  const pads = attrInts(node, 'pads', new Array(2 * spatial).fill(0));
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const out: Dim[] = [x[0] ?? null, w[0] ?? null];
  for (let i = 0; i < spatial; i++) {
    const d = x[i + 2];
    if (typeof d !== 'number') {
      out.push(null);
      continue;
    }
    const s = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(d / s));
    else if (autoPad === 'VALID') out.push(Math.floor((d - ((kernel[i]! - 1) * (dilations[i] ?? 1) + 1)) / s) + 1);
    else out.push(Math.floor((d + pads[i]! + pads[i + spatial]! - ((kernel[i]! - 1) * (dilations[i] ?? 1) + 1)) / s) + 1);
  }
  return out;
}

function convTransposeShape(node: OnnxNode, x: Dim[] | null, w: Dim[] | null): Dim[] | null {
  if (!x || !w || x.length < 3) return null;
  const spatial = x.length - 2;
  const group = attrInt(node, 'group', 1);
  const explicit = attrInts(node, 'output_shape', []);
  const kernel = attrInts(node, 'kernel_shape', w.slice(2).map((d) => (typeof d === 'number' ? d : 0)));
  const strides = attrInts(node, 'strides', new Array(spatial).fill(1));
  const dilations = attrInts(node, 'dilations', new Array(spatial).fill(1));
  const pads = attrInts(node, 'pads', new Array(2 * spatial).fill(0));
  const outPad = attrInts(node, 'output_padding', new Array(spatial).fill(0));
  const m = typeof w[1] === 'number' ? w[1] * group : null;
  const out: Dim[] = [x[0] ?? null, m];
  for (let i = 0; i < spatial; i++) {
    if (explicit.length) {
      out.push(explicit[explicit.length - spatial + i] ?? null);
      continue;
    }
    const d = x[i + 2];
    out.push(typeof d === 'number' ? strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + spatial]! : null);
  }
  return out;
}

function poolShape(node: OnnxNode, x: Dim[], kernel: number[]): Dim[] {
  const spatial = x.length - 2;
  const strides = attrInts(node, 'strides', new Array(spatial).fill(1));
  const pads = attrInts(node, 'pads', new Array(2 * spatial).fill(0));
  const dilations = attrInts(node, 'dilations', new Array(spatial).fill(1));
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const out: Dim[] = [x[0] ?? null, x[1] ?? null];
  for (let i = 0; i < spatial; i++) {
    const d = x[i + 2];
    if (typeof d !== 'number') {
      out.push(null);
      continue;
    }
    const s = strides[i]!;
    const effective = (kernel[i]! - 1) * dilations[i]! + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(d / s));
    else if (autoPad === 'VALID') out.push(Math.floor((d - effective) / s) + 1);
    else {
      const v = (d + pads[i]! + pads[i + spatial]! - effective) / s;
      out.push((ceil ? Math.ceil(v) : Math.floor(v)) + 1);
    }
  }
  return out;
}

function matmulShape(a: Dim[] | null, b: Dim[] | null): Dim[] | null {
  if (!a || !b) return null;
  if (a.length === 1 && b.length === 1) return [];
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]) ?? [];
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

function reshapeShape(x: Dim[] | null, target: number[], allowZero: boolean): Dim[] | null {
  const out: Dim[] = target.map((t, i) => (t === 0 && !allowZero ? x?.[i] ?? null : t));
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const total = x ? product(x) : null;
    const known = product(out.filter((_, i) => i !== unknown));
    out[unknown] = typeof total === 'number' && typeof known === 'number' && known !== 0 ? total / known : null;
  }
  return out;
}

function reduceShape(x: Dim[] | null, axes: number[], keepDims: boolean): Dim[] | null {
  if (!x) return null;
  const all = axes.length === 0;
  const norm = new Set(axes.map((a) => (a < 0 ? a + x.length : a)));
  const out: Dim[] = [];
  x.forEach((d, i) => {
    if (all || norm.has(i)) {
      if (keepDims) out.push(1);
    } else out.push(d);
  });
  return out;
}

function sliceShape(node: OnnxNode, x: Dim[] | null, opset: number, constant: (i: number) => number[] | undefined): Dim[] | null {
  if (!x) return null;
  const starts = opset >= 10 ? constant(1) : attrInts(node, 'starts', []);
  const ends = opset >= 10 ? constant(2) : attrInts(node, 'ends', []);
  if (!starts || !ends) return null;
  const axes = (opset >= 10 ? (node.inputs[3] ? constant(3) : undefined) : attrInts(node, 'axes', [])) ?? starts.map((_, i) => i);
  const steps = (opset >= 10 && node.inputs[4] ? constant(4) : undefined) ?? starts.map(() => 1);
  if (opset >= 10 && node.inputs[3] && !constant(3)) return null;
  const out = [...x];
  (axes.length ? axes : starts.map((_, i) => i)).forEach((axisRaw, i) => {
    const axis = axisRaw < 0 ? axisRaw + x.length : axisRaw;
    const d = x[axis];
    if (typeof d !== 'number') {
      out[axis] = null;
      return;
    }
    const step = steps[i] ?? 1;
    const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
    let s = starts[i]!;
    let e = ends[i]!;
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (step > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
      out[axis] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = clamp(s, -1, d - 1);
      e = clamp(e, -1, d - 1);
      out[axis] = Math.max(0, Math.ceil((e - s) / step));
    }
  });
  return out;
}

function resizeShape(node: OnnxNode, x: Dim[] | null, opset: number, constant: (i: number) => number[] | undefined): Dim[] | null {
  if (!x) return null;
  let scales: number[] | undefined;
  let sizes: number[] | undefined;
  if (node.opType === 'Upsample') scales = opset >= 9 ? constant(1) : (node.attributes.get('scales') as { value: number[] } | undefined)?.value;
  else if (opset >= 11) {
    scales = node.inputs[2] ? constant(2) : undefined;
    sizes = node.inputs[3] ? constant(3) : undefined;
  } else scales = constant(1);
  if (sizes && sizes.length === x.length) return [...sizes];
  if (scales && scales.length === x.length) return x.map((d, i) => (typeof d === 'number' ? Math.floor(d * scales![i]!) : null));
  return null;
}

/** The declared or inferred type of a value, or undefined. */
export function typeOf(types: TensorTypeMap, name: string): TensorType | undefined {
  return types.get(name);
}

/** Static shape of a value when every dim is known, else null. */
export function staticShape(types: TensorTypeMap, name: string): number[] | null {
  const shape = types.get(name)?.shape;
  if (!shape || shape.some((d) => typeof d !== 'number')) return null;
  return shape as number[];
}

/** Inference over a subgraph is not attempted; this marks the graphs that have control flow. */
export function hasControlFlow(graph: OnnxGraph): boolean {
  return graph.nodes.some((n) => n.opType === 'If' || n.opType === 'Loop' || n.opType === 'Scan');
}
