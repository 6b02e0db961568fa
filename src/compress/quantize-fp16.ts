/**
 * `fp16`: float16 weights and compute, float32 graph inputs/outputs (keep_io_types) with Cast nodes at the
 * boundaries, and a block list of ops that stay float32 because onnxruntime's CPU provider cannot run them in
 * float16 (measured with scripts/probe-fp16-ops.ts, and attribute variants such as ScatterND's reductions on
 * single-node float16 models: FP16_BLOCKED_VARIANTS) or because onnxruntime's own converter keeps them (notes §11).
 * What the pass leaves alone (blocked ops, sequence/optional values) is named in its report's nodesKeptFloat.
 */
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { FLOAT16_MAX, float32ToFloat16Bits } from '../onnx/float16.js';
import { attr, attrString, consumerMap, graphOutputNames, makeNode, nameFactory, subgraphOuterReads, topologicalSort } from '../onnx/graph.js';
import { defaultOpset, setOpset, type OnnxModel, type OnnxNode, type Tensor, type ValueInfo } from '../onnx/ir.js';
import { inferTensorTypes, type TensorTypeMap } from '../onnx/shape-inference.js';
import { makeTensor, tensorByteLength, tensorToFloat32 } from '../onnx/tensor.js';
import { EdgetuneError } from '../util/errors.js';
import { constantNodeTensor } from './constant-inputs.js';
import type { KeptNode, PassResult } from './pass.js';

/** Caller options of the fp16 pass. */
export interface Fp16Options {
  /** Keep float32 graph inputs and outputs, casting at the boundaries; default true. */
  keepIoTypes?: boolean;
  /** Extra op types (default domain) that stay float32. */
  opBlockList?: readonly string[];
  /** Node names that stay float32. */
  keepFloat?: readonly string[];
}

const NO_KERNEL = 'onnxruntime 1.30 CPU rejects float16 for this op';

/**
 * Default-domain ops that stay float32, with the reason. The "rejects" entries were measured with
 * scripts/probe-fp16-ops.ts on onnxruntime-node 1.30 (the model fails to load or to run in float16); the others
 * follow onnxruntime's converter (transformers/float16.py), where float16 would lose precision that matters.
 */
export const FP16_BLOCKED_OPS: ReadonlyMap<string, string> = new Map([
  ['NonMaxSuppression', `${NO_KERNEL} (boxes and scores must be float32)`],
  ['Range', `${NO_KERNEL} (Range has no float16 type)`],
  ['CumSum', `${NO_KERNEL} (CumSum has no float16 type before opset 14)`],
  ['Celu', `${NO_KERNEL} (Celu is float32 only)`],
  ['IsInf', `${NO_KERNEL} (IsInf has no float16 type before opset 20)`],
  ['MeanVarianceNormalization', `${NO_KERNEL} (its function body mixes float16 and float32)`],
  ['AffineGrid', `${NO_KERNEL} (fails at run time in float16)`],
  ['TopK', 'kept float32 like onnxruntime\'s converter: ranking near-equal scores is not stable in float16'],
  ['RoiAlign', 'kept float32 like onnxruntime\'s converter: box coordinates lose precision in float16'],
  ['MaxRoiPool', 'kept float32: box coordinates lose precision in float16'],
  ['QuantizeLinear', 'quantization op: scales stay float32'],
  ['QLinearConv', 'quantization op: its scales are tensor(float) only'],
  ['QLinearMatMul', 'quantization op: its scales are tensor(float) only'],
  ['DequantizeLinear', 'quantization op: scales stay float32'],
  ['DynamicQuantizeLinear', 'quantization op: float32 only'],
  ['RandomNormal', 'random op: output type fixed by its dtype attribute'],
  ['RandomUniform', 'random op: output type fixed by its dtype attribute'],
  ['Multinomial', 'random op: float32 only'],
  ['SequenceConstruct', 'sequence op: sequence types are not converted'],
  ['SequenceInsert', 'sequence op: sequence types are not converted'],
  ['SequenceAt', 'sequence op: sequence types are not converted'],
  ['SequenceErase', 'sequence op: sequence types are not converted'],
  ['SequenceEmpty', 'sequence op: sequence types are not converted'],
  ['SplitToSequence', 'sequence op: sequence types are not converted'],
  ['ConcatFromSequence', 'sequence op: sequence types are not converted'],
]);

/**
 * Blocked ops whose schema gains float16 at a later opset (measured like the rest), with what still keeps them
 * float32 from then on (null: nothing, they run in float16).
 */
const FP16_FROM_OPSET: ReadonlyMap<string, { opset: number; reason: string | null }> = new Map([
  ['IsInf', { opset: 20, reason: null }],
  ['CumSum', { opset: 14, reason: 'kept float32 like onnxruntime\'s converter: a running sum loses precision in float16' }],
]);

/** An op that onnxruntime loads in float16 but cannot run with some values of one attribute. */
export interface Fp16BlockedVariant {
  opType: string;
  attribute: string;
  /** Attribute values without a float16 kernel (the default value is never among them). */
  values: readonly string[];
  reason: string;
}

/**
 * Attribute values onnxruntime 1.30's CPU provider accepts at load but rejects at run time in float16 ("MLFloat16
 * data type is not supported with ScatterND … when reduction is 'add'"), measured on single-node float16 models for
 * every reduction at opsets 16 and 18; ScatterElements min/max and every op's `none` do run in float16.
 */
export const FP16_BLOCKED_VARIANTS: readonly Fp16BlockedVariant[] = [
  { opType: 'ScatterND', attribute: 'reduction', values: ['add', 'mul', 'min', 'max'], reason: `${NO_KERNEL} with a reduction (no float16 kernel for add/mul/min/max)` },
  { opType: 'ScatterElements', attribute: 'reduction', values: ['add', 'mul'], reason: `${NO_KERNEL} with reduction add or mul (no float16 kernel)` },
];

/** Inputs that keep tensor(float) even when the node runs in float16 (the ONNX schema allows nothing else). */
function float32Inputs(node: OnnxNode, opset: number): ReadonlySet<number> {
  if (node.opType === 'Resize') return new Set([opset >= 11 ? 2 : 1]); // scales: tensor(float) only
  if (node.opType === 'Upsample') return new Set([1]); // scales: tensor(float) only
  return EMPTY;
}
const EMPTY: ReadonlySet<number> = new Set();

/** Outputs with a fixed float32 type whatever the input type (LayerNormalization Mean/InvStdDev follow stash_type). */
function float32Outputs(node: OnnxNode): ReadonlySet<number> {
  if (node.opType === 'LayerNormalization') return new Set([1, 2]);
  return EMPTY;
}

/** Inputs that accept any type, so they never need a Cast. */
function anyTypeInput(node: OnnxNode, index: number): boolean {
  return index === 0 && (node.opType === 'Cast' || node.opType === 'CastLike' || node.opType === 'Shape' || node.opType === 'Size');
}

/** Smallest positive float16 (subnormal), 2^-24. */
export const FLOAT16_MIN_POSITIVE = 2 ** -24;

/** Counts of values changed by clamping. */
export interface Fp16ClampCounts {
  /** Finite values beyond ±65504 set to ±65504. */
  overflow: number;
  /** Non-zero values below 2^-24 in magnitude set to ±2^-24 (instead of flushing to zero). */
  underflow: number;
}

/**
 * float32 → float16 bits for weights: finite values clamped to ±65504, non-zero magnitudes below 2^-24 raised to
 * ±2^-24 (onnxruntime's converter does the same, so a tiny epsilon never becomes 0); ±Inf and NaN kept; round to
 * nearest even otherwise. `counts` is updated when given.
 */
export function float32ToFloat16Clamped(value: number, counts?: Fp16ClampCounts): number {
  if (Number.isFinite(value)) {
    const mag = Math.abs(value);
    if (mag > FLOAT16_MAX) {
      if (counts) counts.overflow++;
      return float32ToFloat16Bits(Math.sign(value) * FLOAT16_MAX);
    }
    if (mag !== 0 && mag < FLOAT16_MIN_POSITIVE) {
      if (counts) counts.underflow++;
      return float32ToFloat16Bits(Math.sign(value) * FLOAT16_MIN_POSITIVE);
    }
  }
  return float32ToFloat16Bits(value);
}

/** A float32 tensor converted to float16 with clamping (same name unless `name` is given). */
export function tensorToFloat16(tensor: Tensor, counts?: Fp16ClampCounts, name = tensor.name): Tensor {
  const src = tensorToFloat32(tensor);
  const bits = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = float32ToFloat16Clamped(src[i]!, counts);
  return makeTensor(name, DataType.FLOAT16, [...tensor.dims], bits);
}

type Want = typeof DataType.FLOAT | typeof DataType.FLOAT16 | 'any';

/**
 * Convert a model to float16 compute. Float32 graph inputs/outputs stay float32 with Casts (unless keepIoTypes is
 * false), blocked ops and their float32-only inputs stay float32 with Casts around them, weights are converted
 * with clamping (a weight read by both kinds of node gets a float16 copy), Cast(to=FLOAT) whose readers all run
 * in float16 becomes Cast(to=FLOAT16), and Cast round trips (16→32→16, 32→16→32) are removed. Casts are inserted on
 * float32 tensors only: sequence and optional values, and the nodes that read them, are left as they are (named in
 * the report). Control flow (If/Loop/Scan) and its bodies stay float32, with Casts at its boundary (also on the
 * tensors a body reads from the enclosing graph). A model of opset 1–5 with something to convert is moved to
 * opset 6 (see moveToOpset6). Throws MODEL_UNSUPPORTED for an opset 1–5 model that cannot be moved.
 */
export function quantizeFp16(model: OnnxModel, options: Fp16Options = {}): PassResult {
  const keepIo = options.keepIoTypes ?? true;
  const opBlock = new Set(options.opBlockList ?? []);
  const keepFloat = new Set(options.keepFloat ?? []);
  const graph = model.graph;
  const opsetFrom = defaultOpset(model);
  let opset = opsetFrom;
  const fresh = nameFactory(graph);
  const outputNames = graphOutputNames(graph);
  const inputNames = new Set(graph.inputs.map((i) => i.name));

  // 1. Float Constant nodes become initializers, so every weight is handled one way.
  let constantsLifted = 0;
  graph.nodes = graph.nodes.filter((node) => {
    if (node.opType !== 'Constant' || (node.domain !== '' && node.domain !== 'ai.onnx')) return true;
    const out = node.outputs[0];
    const tensor = constantNodeTensor(node);
    if (!out || !tensor || tensor.dataType !== DataType.FLOAT || outputNames.has(out) || graph.initializers.has(out)) return true;
    graph.initializers.set(out, { ...tensor, name: out });
    constantsLifted++;
    return false;
  });

  const { types, nonTensor } = fp16TensorTypes(model);
  const elemOf = (name: string): number => types.get(name)?.elemType ?? 0;
  const isFloat32 = (name: string): boolean => elemOf(name) === DataType.FLOAT;

  // Control flow (If/Loop/Scan) stays float32 with its bodies, which the pass does not enter. A body also reads
  // tensors of the enclosing graph by name: each float32 one is routed through an Identity that stays float32 (its
  // reader in the body is renamed), so the body still sees float32 when the tensor's producer turns float16.
  const bridges = new Set<OnnxNode>();
  const withBridges: OnnxNode[] = [];
  for (const node of graph.nodes) {
    if (hasSubgraph(node)) {
      for (const read of new Set(subgraphOuterReads(node))) {
        if (!isFloat32(read)) continue;
        const bridge = fresh(`${read}_fp32_for_${node.opType.toLowerCase()}`);
        renameSubgraphReads(node, read, bridge);
        const identity = makeNode('Identity', [read], [bridge], fresh(`${bridge}_identity`));
        types.set(bridge, { elemType: DataType.FLOAT, shape: types.get(read)?.shape ?? null });
        bridges.add(identity);
        withBridges.push(identity);
      }
    }
    withBridges.push(node);
  }
  graph.nodes = withBridges;

  // A weight beyond the float16 range (e.g. a BatchNormalization running variance of 1e8) would be clamped into
  // a different model: its readers stay float32 instead.
  const maxAbs = new Map<string, number>();
  function overflowReason(node: OnnxNode): string | null {
    for (const name of node.inputs) {
      const t = name ? graph.initializers.get(name) : undefined;
      if (!t || t.dataType !== DataType.FLOAT) continue;
      let m = maxAbs.get(name);
      if (m === undefined) {
        m = 0;
        for (const v of tensorToFloat32(t)) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
        maxAbs.set(name, m);
      }
      if (m > FLOAT16_MAX) return `weight '${name}' holds values up to ${m.toPrecision(3)}, beyond the float16 range (±65504)`;
    }
    return null;
  }

  // 2. Decide which nodes run in float16.
  const kept: KeptNode[] = [];
  const fp16Nodes = new Set<OnnxNode>();
  for (const node of graph.nodes) {
    // Nodes on sequence/optional values are listed too: what they hold is not converted, and the report says so.
    if (bridges.has(node)) continue;
    const touchesFloat = [...node.inputs, ...node.outputs].some((t) => t && (isFloat32(t) || nonTensor.has(t)));
    if (!touchesFloat && !hasSubgraph(node)) continue;
    const reason =
      (hasSubgraph(node) ? `control flow: the ${node.opType} and its body stay float32 (the pass does not enter subgraphs)` : null) ??
      blockReason(node, opset, keepFloat, opBlock) ??
      unknownTypeReason(node, elemOf, nonTensor) ??
      overflowReason(node);
    if (reason) kept.push({ node: node.name || node.outputs[0] || node.opType, opType: node.opType, reason });
    else fp16Nodes.add(node);
  }

  if (opset < CAST_INT_OPSET && fp16Nodes.size > 0) {
    moveToOpset6(model, opset);
    opset = CAST_INT_OPSET;
  }

  const want = (node: OnnxNode, index: number): Want => {
    if (anyTypeInput(node, index)) return 'any';
    if (!fp16Nodes.has(node) || float32Inputs(node, opset).has(index)) return DataType.FLOAT;
    return DataType.FLOAT16;
  };
  const consumers = consumerMap(graph);

  // 3. The type each float32 tensor has after conversion (initializers are decided per reader below).
  const finalType = new Map<string, number>();
  for (const input of graph.inputs) if (!graph.initializers.has(input.name) && isFloat32(input.name)) finalType.set(input.name, keepIo ? DataType.FLOAT : DataType.FLOAT16);
  const castTo16 = new Set<OnnxNode>();
  for (const node of graph.nodes) {
    const fixed = float32Outputs(node);
    node.outputs.forEach((out, i) => {
      if (!out || !isFloat32(out)) return;
      let t: number = fp16Nodes.has(node) && !fixed.has(i) ? DataType.FLOAT16 : DataType.FLOAT;
      if (node.opType === 'Cast' && t === DataType.FLOAT16) {
        // Cast(to=FLOAT) becomes Cast(to=FLOAT16) only where every reader runs in float16.
        const readers = consumers.get(out) ?? [];
        const wants = readers.flatMap((r) => r.inputs.map((x, j) => (x === out ? want(r, j) : null)).filter((w) => w !== null));
        const needs32 = wants.includes(DataType.FLOAT) || (keepIo && outputNames.has(out));
        if (needs32 || !wants.includes(DataType.FLOAT16)) t = DataType.FLOAT;
        else castTo16.add(node);
      }
      finalType.set(out, t);
    });
  }

  // 4. Initializers: float16 in place, kept float32, or both (a float16 copy for the float16 readers).
  const initWants = new Map<string, Set<Want>>();
  for (const node of graph.nodes) {
    node.inputs.forEach((x, i) => {
      if (!x || !graph.initializers.has(x) || !isFloat32(x)) return;
      const set = initWants.get(x) ?? new Set<Want>();
      set.add(want(node, i));
      initWants.set(x, set);
    });
  }
  const counts: Fp16ClampCounts = { overflow: 0, underflow: 0 };
  const fp16Copy = new Map<string, string>();
  let initializersConverted = 0;
  let initializersDuplicated = 0;
  let weightBytesBefore = 0;
  let weightBytesAfter = 0;
  for (const [name, wants] of initWants) {
    const tensor = graph.initializers.get(name)!;
    const needs32 = wants.has(DataType.FLOAT) || (keepIo && outputNames.has(name));
    if (!wants.has(DataType.FLOAT16)) {
      finalType.set(name, DataType.FLOAT);
      continue;
    }
    weightBytesBefore += tensorByteLength(tensor);
    if (needs32) {
      const copy = fresh(`${name}_fp16`);
      graph.initializers.set(copy, tensorToFloat16(tensor, counts, copy));
      fp16Copy.set(name, copy);
      finalType.set(name, DataType.FLOAT);
      finalType.set(copy, DataType.FLOAT16);
      initializersDuplicated++;
      weightBytesAfter += tensorByteLength(tensor) + tensorByteLength(tensor) / 2;
    } else {
      graph.initializers.set(name, tensorToFloat16(tensor, counts));
      finalType.set(name, DataType.FLOAT16);
      initializersConverted++;
      weightBytesAfter += tensorByteLength(tensor) / 2;
      const declared = graph.inputs.find((i) => i.name === name);
      if (declared?.type) declared.type = { ...declared.type, elemType: DataType.FLOAT16 };
    }
  }
  // Float32 initializers that nothing converts are still counted, so the byte figures cover every weight.
  for (const [name, tensor] of graph.initializers) {
    if (tensor.dataType === DataType.FLOAT && !fp16Copy.has(name) && finalType.get(name) !== DataType.FLOAT16) {
      weightBytesBefore += tensorByteLength(tensor);
      weightBytesAfter += tensorByteLength(tensor);
    }
  }

  // 5. Rewire readers, inserting one Cast per (tensor, target type).
  const casts = new Map<string, string>();
  const newNodes: OnnxNode[] = [];
  const castOf = (tensor: string, to: number): string => {
    const key = `${tensor}\u0000${to}`;
    let name = casts.get(key);
    if (!name) {
      name = fresh(`${tensor}_${to === DataType.FLOAT16 ? 'fp16' : 'fp32'}`);
      newNodes.push(makeNode('Cast', [tensor], [name], fresh(`${tensor}_cast_${to === DataType.FLOAT16 ? 'fp16' : 'fp32'}`), { to: attr.int(to) }));
      finalType.set(name, to);
      casts.set(key, name);
    }
    return name;
  };
  for (const node of graph.nodes) {
    node.inputs = node.inputs.map((x, i) => {
      if (!x) return x;
      const have = finalType.get(x);
      if (have === undefined) return x; // not a float32 tensor of the original model
      const w = want(node, i);
      if (w === 'any') return x;
      if (w === DataType.FLOAT16 && fp16Copy.has(x)) return fp16Copy.get(x)!;
      return have === w ? x : castOf(x, w);
    });
    if (castTo16.has(node)) node.attributes.set('to', attr.int(DataType.FLOAT16));
    if (node.opType === 'ConstantOfShape' && fp16Nodes.has(node)) {
      const value = node.attributes.get('value');
      const t = value?.type === 'tensor' ? value.value : makeTensor('value', DataType.FLOAT, [1], Float32Array.of(0));
      node.attributes.set('value', attr.tensor(tensorToFloat16(t, counts)));
    }
  }

  // 6. Graph outputs: float32 for the caller (keepIo) or declared float16.
  for (const output of graph.outputs) {
    const t = finalType.get(output.name);
    if (t !== DataType.FLOAT16) continue;
    if (!keepIo) {
      if (output.type) output.type = { ...output.type, elemType: DataType.FLOAT16 };
      continue;
    }
    const inner = fresh(`${output.name}_fp16`);
    renameTensor([...graph.nodes, ...newNodes], output.name, inner);
    graph.valueInfo = graph.valueInfo.filter((v) => v.name !== output.name);
    finalType.set(inner, DataType.FLOAT16);
    finalType.set(output.name, DataType.FLOAT);
    newNodes.push(makeNode('Cast', [inner], [output.name], fresh(`${output.name}_cast_fp32`), { to: attr.int(DataType.FLOAT) }));
  }
  if (!keepIo) {
    for (const input of graph.inputs) if (finalType.get(input.name) === DataType.FLOAT16 && input.type && !graph.initializers.has(input.name)) input.type = { ...input.type, elemType: DataType.FLOAT16 };
  }
  const castsInserted = newNodes.length;
  graph.nodes = topologicalSort({ ...graph, nodes: [...graph.nodes, ...newNodes] });

  // 7. Remove Cast round trips and no-op Casts.
  const castsRemoved = removeRedundantCasts(model, finalType);

  // 8. value_info follows the new types.
  for (const v of graph.valueInfo) {
    const t = finalType.get(v.name);
    if (t !== undefined && v.type) v.type = { ...v.type, elemType: t };
  }
  // Drop initializers no one reads any more (float32 originals of converted copies are kept only when read).
  const read = new Set(graph.nodes.flatMap((n) => [...n.inputs, ...subgraphOuterReads(n)]));
  for (const name of [...graph.initializers.keys()]) if (!read.has(name) && !outputNames.has(name) && !inputNames.has(name)) graph.initializers.delete(name);

  const notes = [
    ...(opset !== opsetFrom ? [`default-domain opset moved from ${opsetFrom} to ${opset} (no op of the model changed in between): onnxruntime wraps float16 ops without a float16 kernel in Casts of the opset-6 form`] : []),
    'onnxruntime\'s CPU provider has float16 kernels for few ops on x86; it inserts Casts back to float32 around the rest at load: expect a smaller file, not faster CPU inference (GPU/ARM64 are the float16 targets)',
  ];
  if (nonTensor.size > 0) {
    const listed = [...nonTensor].slice(0, 5).map(([name, type]) => `'${name}' (${type})`);
    notes.push(`${nonTensor.size} sequence/optional value(s) and values read from them left as they are: ${listed.join(', ')}${nonTensor.size > 5 ? ', …' : ''}`);
  }
  if (counts.overflow) notes.push(`${counts.overflow} weight value(s) beyond ±65504 were clamped`);
  if (counts.underflow) notes.push(`${counts.underflow} non-zero weight value(s) below 2^-24 were raised to ±2^-24`);
  return {
    model,
    report: {
      pass: 'fp16',
      nodesChanged: fp16Nodes.size + Math.max(0, castsInserted - castsRemoved),
      nodesKeptFloat: kept,
      opset: { from: opsetFrom, to: opset },
      notes,
      details: {
        keepIoTypes: keepIo,
        nodesFloat16: fp16Nodes.size,
        castsInserted,
        castsRemoved,
        constantsLifted,
        initializersConverted,
        initializersDuplicated,
        weightBytesBefore,
        weightBytesAfter,
        clamped: counts,
      },
    },
  };
}

function blockReason(node: OnnxNode, opset: number, keepFloat: ReadonlySet<string>, opBlock: ReadonlySet<string>): string | null {
  if (keepFloat.has(node.name)) return 'kept float on request';
  if (node.domain === 'ai.onnx.ml') return 'ai.onnx.ml ops have no float16 kernels';
  if (node.domain !== '' && node.domain !== 'ai.onnx') return `${node.domain} op: float16 support is not verified`;
  if (opBlock.has(node.opType)) return 'op type kept float on request';
  const later = FP16_FROM_OPSET.get(node.opType);
  if (later && opset >= later.opset) {
    if (later.reason) return later.reason;
  } else {
    const listed = FP16_BLOCKED_OPS.get(node.opType);
    if (listed) return listed;
  }
  for (const variant of FP16_BLOCKED_VARIANTS) {
    if (variant.opType !== node.opType) continue;
    const value = attrString(node, variant.attribute, '');
    if (variant.values.includes(value)) return `${variant.reason}: ${variant.attribute}='${value}'`;
  }
  const dtype = node.attributes.get('dtype');
  if (dtype?.type === 'int' && dtype.value !== DataType.FLOAT16) return `output type fixed by its dtype attribute (${dataTypeName(dtype.value)})`;
  return null;
}

function hasSubgraph(node: OnnxNode): boolean {
  return [...node.attributes.values()].some((a) => a.type === 'graph' || a.type === 'graphs');
}

/** Rename reads of the outer tensor `from` in every (nested) subgraph of `node`. */
function renameSubgraphReads(node: OnnxNode, from: string, to: string): void {
  for (const a of node.attributes.values()) {
    const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const g of graphs) {
      for (const n of g.nodes) {
        n.inputs = n.inputs.map((x) => (x === from ? to : x));
        renameSubgraphReads(n, from, to);
      }
    }
  }
}

function renameTensor(nodes: OnnxNode[], from: string, to: string): void {
  for (const node of nodes) {
    node.inputs = node.inputs.map((x) => (x === from ? to : x));
    node.outputs = node.outputs.map((x) => (x === from ? to : x));
  }
}

/**
 * Remove Casts that do nothing: Cast(to=T) of a tensor already of type T, and round trips between float32 and
 * float16 (x → Cast → Cast back to x's type: readers use x directly; for 32→16→32 that is only more exact).
 * Graph outputs keep their producer. Returns how many Cast nodes went.
 */
function removeRedundantCasts(model: OnnxModel, types: Map<string, number>): number {
  const graph = model.graph;
  const outputs = graphOutputNames(graph);
  const inferred: TensorTypeMap = fp16TensorTypes(model).types;
  const typeOf = (name: string): number => types.get(name) ?? inferred.get(name)?.elemType ?? 0;
  const floaty = (t: number): boolean => t === DataType.FLOAT || t === DataType.FLOAT16;
  const producers = new Map<string, OnnxNode>();
  for (const n of graph.nodes) for (const o of n.outputs) producers.set(o, n);
  const replace = new Map<string, string>();
  const resolve = (name: string): string => {
    let cur = name;
    while (replace.has(cur)) cur = replace.get(cur)!;
    return cur;
  };
  for (const node of graph.nodes) {
    if (node.opType !== 'Cast' || (node.domain !== '' && node.domain !== 'ai.onnx')) continue;
    const out = node.outputs[0]!;
    if (outputs.has(out)) continue;
    const src = resolve(node.inputs[0]!);
    const target = castTarget(node);
    const srcType = typeOf(src);
    if (srcType && srcType === target) {
      replace.set(out, src);
      continue;
    }
    const prev = producers.get(src);
    if (prev?.opType === 'Cast' && (prev.domain === '' || prev.domain === 'ai.onnx')) {
      const origin = resolve(prev.inputs[0]!);
      const originType = typeOf(origin);
      const mid = typeOf(src);
      if (floaty(originType) && floaty(mid) && originType === target) replace.set(out, origin);
    }
  }
  if (replace.size === 0) return 0;
  for (const node of graph.nodes) node.inputs = node.inputs.map((x) => (x && replace.has(x) ? resolve(x) : x));
  // Delete Casts nobody reads (walk back so a chain goes at once).
  let removed = 0;
  for (;;) {
    const read = new Set(graph.nodes.flatMap((n) => [...n.inputs, ...subgraphOuterReads(n)]));
    const before = graph.nodes.length;
    graph.nodes = graph.nodes.filter((n) => !(n.opType === 'Cast' && !outputs.has(n.outputs[0]!) && !read.has(n.outputs[0]!)));
    removed += before - graph.nodes.length;
    if (graph.nodes.length === before) break;
  }
  graph.valueInfo = graph.valueInfo.filter((v) => !replace.has(v.name));
  return removed;
}

/** Element type of a Cast's `to`: an int from opset 6 on, the type's name ("FLOAT16") in Cast-1. 0 when unknown. */
function castTarget(node: OnnxNode): number {
  const to = node.attributes.get('to');
  if (to?.type === 'int') return to.value;
  if (to?.type === 'string') return (DataType as Record<string, number>)[to.value.toUpperCase()] ?? 0;
  return 0;
}

/** First opset whose Cast takes `to` as an int (Cast-1 took the type's name); onnxruntime inserts Casts of this form. */
const CAST_INT_OPSET = 6;

/**
 * Default-domain ops with a new version in opsets 2–6 (onnx docs/Changelog.md): a model of an older opset that holds
 * none of them (newer than its opset) means the same at opset 6.
 */
const CHANGED_BY_OPSET_6: ReadonlyMap<string, number> = new Map([
  ...['GlobalLpPool', 'LpPool', 'Pad', 'Split'].map((op) => [op, 2] as const),
  ['GRU', 3],
  ['Concat', 4],
  ['Reshape', 5],
  ...['Abs', 'Add', 'BatchNormalization', 'Cast', 'Ceil', 'Clip', 'Div', 'Dropout', 'Elu', 'Exp', 'Floor', 'Gemm', 'HardSigmoid',
    'InstanceNormalization', 'LeakyRelu', 'Log', 'Max', 'Mean', 'Min', 'Mul', 'Neg', 'PRelu', 'Reciprocal', 'Relu', 'Selu', 'Sigmoid',
    'Sqrt', 'Sub', 'Sum', 'Tanh', 'Tile'].map((op) => [op, 6] as const),
]);

/**
 * Move a model of opset 1–5 to opset 6. onnxruntime runs a float16 op that has no float16 kernel between Casts it
 * inserts with an int `to` (the Cast-6 form), which an opset-1 model rejects ("Mismatched attribute type in
 * 'InsertedPrecisionFreeCast_… : to'"); at opset 6 they are valid. Only done when no op of the model changed between
 * its opset and 6; otherwise MODEL_UNSUPPORTED names the op.
 */
function moveToOpset6(model: OnnxModel, from: number): void {
  for (const node of model.graph.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    const changed = CHANGED_BY_OPSET_6.get(node.opType);
    if (changed !== undefined && changed > from) {
      throw new EdgetuneError(
        'MODEL_UNSUPPORTED',
        `fp16: opset ${from} is too old for float16 in onnxruntime (it inserts Casts of the opset-${CAST_INT_OPSET} form), and node '${node.name || node.outputs[0] || node.opType}' (${node.opType}) has a new version at opset ${changed}, so the model cannot be moved to opset ${CAST_INT_OPSET} as it is; re-export it with opset ≥ 7`,
      );
    }
  }
  setOpset(model, '', CAST_INT_OPSET);
  if (model.irVersion < 3) model.irVersion = 3; // opset imports arrived with IR 3
}

/** The parts of an ONNX TypeProto (as decoded, camelCase) needed to name a non-tensor type. */
interface RawTypeProto {
  tensorType?: { elemType?: number };
  sequenceType?: { elemType?: RawTypeProto };
  optionalType?: { elemType?: RawTypeProto };
  mapType?: { keyType?: number; valueType?: RawTypeProto };
  sparseTensorType?: { elemType?: number };
}

/** A TypeProto in ONNX's own notation: `seq(tensor(float))`, `optional(seq(tensor(int64)))`, `map(string,tensor(float))`. */
function describeType(type: RawTypeProto | undefined | null): string {
  if (!type) return 'an unknown type';
  if (type.tensorType) return `tensor(${dataTypeName(type.tensorType.elemType ?? 0)})`;
  if (type.sequenceType) return `seq(${describeType(type.sequenceType.elemType)})`;
  if (type.optionalType) return `optional(${describeType(type.optionalType.elemType)})`;
  if (type.mapType) return `map(${dataTypeName(type.mapType.keyType ?? 0)},${describeType(type.mapType.valueType)})`;
  if (type.sparseTensorType) return `sparse_tensor(${dataTypeName(type.sparseTensorType.elemType ?? 0)})`;
  return 'an unknown type';
}

const SEQUENCE_PRODUCERS = new Set(['SequenceConstruct', 'SequenceEmpty', 'SequenceInsert', 'SequenceErase', 'SplitToSequence']);
/** Ops that read a sequence or optional and produce a tensor of a known type. */
const FROM_NON_TENSOR: ReadonlyMap<string, number> = new Map([
  ['SequenceLength', DataType.INT64],
  ['OptionalHasElement', DataType.BOOL],
]);

/**
 * Element types for the fp16 pass: shape inference, corrected where its fallback (an unknown op gets its first
 * input's type) would make the pass cast a tensor that is not float32, or miss one that is:
 * - declared types (graph inputs and outputs, value_info) win: onnxruntime loaded the input model with them;
 * - Cast-1's string `to` (Unique's and OneHot's output types come right from inferTensorTypes);
 * - sequence and optional values (declared, or produced by sequence ops, Optional, and whatever reads them) are not
 *   tensors: they get element type 0 and are returned in `nonTensor` with their type, so their readers stay float;
 * - a node whose first input's type was corrected has its outputs' inferred type (copied from that input) dropped.
 */
function fp16TensorTypes(model: OnnxModel): { types: TensorTypeMap; nonTensor: Map<string, string> } {
  const graph = model.graph;
  const types = inferTensorTypes(model);
  const nonTensor = new Map<string, string>();
  const declared = new Map<string, number>();
  const declare = (v: ValueInfo): void => {
    if (v.type) {
      if (v.type.elemType) declared.set(v.name, v.type.elemType);
    } else if (v.rawType) {
      nonTensor.set(v.name, describeType(v.rawType as RawTypeProto));
    }
  };
  for (const v of [...graph.inputs, ...graph.valueInfo, ...graph.outputs]) declare(v);
  const elemOf = (name: string | undefined): number => (name ? (types.get(name)?.elemType ?? 0) : 0);
  const before = new Map<string, number>();
  const setElem = (name: string | undefined, elemType: number): void => {
    if (!name) return;
    const previous = types.get(name);
    if ((previous?.elemType ?? 0) === elemType) return;
    if (!before.has(name)) before.set(name, previous?.elemType ?? 0);
    types.set(name, { elemType, shape: previous?.shape ?? null });
  };
  for (const name of nonTensor.keys()) setElem(name, 0);
  for (const node of graph.nodes) {
    const standard = node.domain === '' || node.domain === 'ai.onnx';
    const op = node.opType;
    const fromNonTensor = node.inputs.find((x) => x && nonTensor.has(x));
    if (standard && SEQUENCE_PRODUCERS.has(op)) {
      for (const o of node.outputs) if (o) nonTensor.set(o, `a sequence (output of ${op})`);
    } else if (standard && op === 'Optional') {
      for (const o of node.outputs) if (o) nonTensor.set(o, 'an optional (output of Optional)');
    } else if (standard && FROM_NON_TENSOR.has(op)) {
      setElem(node.outputs[0], FROM_NON_TENSOR.get(op)!);
    } else if (fromNonTensor !== undefined) {
      // Identity, If, OptionalGetElement, SequenceAt…: the output may be a sequence again or a tensor of the
      // element type; neither is known here.
      for (const o of node.outputs) if (o) nonTensor.set(o, `of unknown type (output of ${op} reading '${fromNonTensor}')`);
    } else if (standard && op === 'Cast' && castTarget(node) !== 0) {
      setElem(node.outputs[0], castTarget(node));
    } else {
      const first = node.inputs[0];
      const was = first ? before.get(first) : undefined;
      if (was !== undefined) for (const o of node.outputs) if (o && elemOf(o) === was) setElem(o, 0);
    }
    for (const o of node.outputs) {
      if (!o) continue;
      if (nonTensor.has(o)) setElem(o, 0);
      else if (declared.has(o)) setElem(o, declared.get(o)!);
    }
  }
  return { types, nonTensor };
}

/** Why a node that touches float32 cannot be typed: it reads a sequence/optional value, or a type is unknown. */
function unknownTypeReason(node: OnnxNode, elemOf: (name: string) => number, nonTensor: ReadonlyMap<string, string>): string | null {
  const value = [...node.inputs, ...node.outputs].find((t) => t && nonTensor.has(t));
  if (value) return `'${value}' is ${nonTensor.get(value)}: sequence and optional values are not converted`;
  if (node.inputs.some((t) => t && elemOf(t) === 0)) return 'an input has an unknown element type';
  return null;
}
