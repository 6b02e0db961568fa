/**
 * Exact lookup tables for float islands. A chain 8-bit → DequantizeLinear → elementwise float ops (HardSwish,
 * HardSigmoid, Tanh, Clip, a Mul by a scalar, ...) → QuantizeLinear → 8-bit is a function of 256 input values, so it
 * can run as a 256-entry table. When a constant in the chain is per channel ([1, C, 1, 1] or [C, 1, 1] on an
 * [N, C, H, W] tensor, as equalization's channel-scale Muls are), it is one table per channel. Finding the islands
 * and rewriting them is pure;
 * the tables are computed by running the islands themselves through onnxruntime once on the 256 values
 * (`computeLookupTables`), so a table holds exactly what onnxruntime computes for the island.
 *
 * ONNX Gather: negative indices count from the end, so an int8 input cast to int32 (−128..127) indexes a table laid
 * out in byte order (0..127, then −128..−1 at 128..255).
 */
import { DataType } from '../onnx/dtype.js';
import type { OnnxModel, OnnxNode, Tensor, ValueInfo } from '../onnx/ir.js';
import { defaultOpset, elementCount } from '../onnx/ir.js';
import { attr, consumerMap, graphOutputNames, makeNode, nameFactory, topologicalSort } from '../onnx/graph.js';
import { encodeModel } from '../onnx/model-codec.js';
import { makeTensor } from '../onnx/tensor.js';
import { inferTensorTypes } from '../onnx/shape-inference.js';
import { createInferenceRunner } from '../profile/ort-inference.js';
import type { PassResult } from './pass.js';

/** Elementwise ops of one float input (plus attributes) that a lookup island may contain. */
export const LOOKUP_UNARY_OPS: ReadonlySet<string> = new Set([
  'HardSwish', 'HardSigmoid', 'Sigmoid', 'Tanh', 'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu',
  'Softplus', 'Softsign', 'Mish', 'Gelu', 'Erf', 'Exp', 'Log', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil',
  'Round', 'Sign', 'Sin', 'Cos', 'Identity', 'Clip',
]);
/** Elementwise ops of two inputs that a lookup island may contain when the other input is a one-element constant. */
export const LOOKUP_SCALAR_BINARY_OPS: ReadonlySet<string> = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'PRelu']);
/**
 * Single-op islands onnxruntime's CPU provider already fuses into a table kernel of its own (QLinearSigmoid,
 * QLinearLeakyRelu: the QDQ unary rules of its selector-action transformer); a Gather would not beat them.
 */
export const ORT_FUSED_UNARY_OPS: ReadonlySet<string> = new Set(['Sigmoid', 'LeakyRelu']);

/**
 * The size from which the int8 pipeline replaces an island, in elements of its tensor at the calibration shape.
 * Measured with onnxruntime-node 1.30 on this project's x86 machine (BENCHMARKS.md, issue 12, "lookup islands"):
 * PP-OCRv4 det at 480×480, whose 24 HardSwish islands hold 86 k–1.8 M elements, ran 1.15–1.30× faster with them as
 * lookups; the PP-OCR classifier, whose 17 largest islands hold 18–38 k, ran 3–10 % slower; one HardSwish alone
 * (scripts/bench-lookup-encodings.ts) broke even at 29–58 k elements and gained 1.24× at 230 k.
 */
export const LOOKUP_MIN_ELEMENTS = 65_536;

/** One island: the 8-bit tensor it reads, the nodes from its DequantizeLinear to its QuantizeLinear, what it writes. */
export interface LookupIsland {
  /** The 8-bit tensor read by the DequantizeLinear. */
  input: string;
  inputType: typeof DataType.UINT8 | typeof DataType.INT8;
  dequantize: OnnxNode;
  /** The float ops between, in order. */
  chain: OnnxNode[];
  quantize: OnnxNode;
  /** The QuantizeLinear's output, which the lookup writes instead. */
  output: string;
  outputType: typeof DataType.UINT8 | typeof DataType.INT8;
  /** 1, or C when a constant of the chain is per channel of an [N, C, H, W] tensor: one table per channel. */
  channels: number;
}

/** Caller input for findLookupIslands. */
export interface FindLookupIslandsOptions {
  /** Float ops allowed in a chain (default LOOKUP_UNARY_OPS ∪ LOOKUP_SCALAR_BINARY_OPS). */
  opTypes?: ReadonlySet<string>;
  /** Single-op chains of these op types are left alone (default ORT_FUSED_UNARY_OPS). */
  skipSingle?: ReadonlySet<string>;
  /** Longest chain of float ops (default 8). */
  maxChain?: number;
  /**
   * Leave alone islands on tensors of fewer elements than this (default 0): on small tensors the lookup's extra
   * nodes cost more than the float ops they save. Sizes at `inputShapes`; an island of unknown size is taken.
   */
  minElements?: number;
  /** Concrete input shapes for the sizes (default: the declared shapes). */
  inputShapes?: Record<string, number[]>;
}

const EIGHT_BIT = new Set<number>([DataType.UINT8, DataType.INT8]);

/** A one-element initializer (a scalar scale, zero point or operand). */
function scalarInitializer(model: OnnxModel, name: string | undefined): Tensor | undefined {
  if (!name) return undefined;
  const t = model.graph.initializers.get(name);
  return t && elementCount(t.dims) === 1 ? t : undefined;
}

/**
 * How many channels `node` distinguishes when it is an elementwise op of the single float tensor `x`: 1 when its other
 * inputs are one-element constants of rank ≤ 1 (the output has x's shape), C when one is a [1, C, 1, 1] or [C, 1, 1]
 * constant and x has rank 4 (`xRank`); null when it is not such an op.
 */
function elementwiseChannels(model: OnnxModel, node: OnnxNode, x: string, xRank: number | null, ops: ReadonlySet<string>): number | null {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return null;
  if (!ops.has(node.opType) || node.outputs.filter((o) => o).length !== 1) return null;
  /** Channels of a constant input, or null when it is not a usable constant. */
  const channelsOf = (name: string): number | null => {
    const t = model.graph.initializers.get(name);
    if (!t) return null;
    const count = elementCount(t.dims);
    if (count === 1 && t.dims.length <= 1) return 1;
    // ONNX broadcasting aligns trailing dims: [C, 1, 1] and [1, C, 1, 1] scale axis 1 of [N, C, H, W].
    const perChannel = xRank === 4 && (t.dims.length === 3 || t.dims.length === 4) && t.dims.at(-1) === 1 && t.dims.at(-2) === 1 && (t.dims.length === 3 || t.dims[0] === 1);
    return perChannel ? count : null;
  };
  const merge = (values: Array<number | null>): number | null => {
    let channels = 1;
    for (const v of values) {
      if (v === null || (v > 1 && channels > 1 && v !== channels)) return null;
      if (v > 1) channels = v;
    }
    return channels;
  };
  if (node.opType === 'Clip') {
    if (node.inputs[0] !== x) return null;
    const bounds = node.inputs.slice(1).filter((i) => i).map(channelsOf);
    return bounds.every((b) => b === 1) ? 1 : null;
  }
  if (LOOKUP_SCALAR_BINARY_OPS.has(node.opType)) {
    if (node.inputs.length !== 2) return null;
    const [a, b] = node.inputs as [string, string];
    // PRelu's slope is its second input; the others may take the constant on either side.
    if (a === x && b !== x) return merge([channelsOf(b)]);
    if (b === x && a !== x && node.opType !== 'PRelu') return merge([channelsOf(a)]);
    return null;
  }
  return node.inputs.length === 1 && node.inputs[0] === x ? 1 : null;
}

/**
 * The lookup islands of a QDQ model, in graph order: DequantizeLinear with scalar scale and zero point on an 8-bit
 * activation → one or more elementwise float ops (constants of one element, or per channel of a rank-4 tensor), each
 * read only by the next → QuantizeLinear with scalar scale and zero point. The DequantizeLinear's output may have
 * other readers (it then stays); the chain's tensors may not.
 */
export function findLookupIslands(model: OnnxModel, options: FindLookupIslandsOptions = {}): LookupIsland[] {
  const graph = model.graph;
  const ops = options.opTypes ?? new Set([...LOOKUP_UNARY_OPS, ...LOOKUP_SCALAR_BINARY_OPS]);
  const skipSingle = options.skipSingle ?? ORT_FUSED_UNARY_OPS;
  const maxChain = options.maxChain ?? 8;
  const consumers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const types = inferTensorTypes(model, options.inputShapes ? { inputShapes: options.inputShapes } : {});
  const minElements = options.minElements ?? 0;
  const islands: LookupIsland[] = [];
  for (const dq of graph.nodes) {
    if (dq.opType !== 'DequantizeLinear' || (dq.domain !== '' && dq.domain !== 'ai.onnx')) continue;
    const input = dq.inputs[0];
    const dqOut = dq.outputs[0];
    if (!input || !dqOut || graph.initializers.has(input)) continue;
    const dqZero = scalarInitializer(model, dq.inputs[2]);
    if (!scalarInitializer(model, dq.inputs[1]) || !dqZero || !EIGHT_BIT.has(dqZero.dataType)) continue;
    const size = elementsOf(types.get(input)?.shape);
    if (size !== null && size < minElements) continue;
    for (const first of consumers.get(dqOut) ?? []) {
      const chain: OnnxNode[] = [];
      const xRank = types.get(input)?.shape?.length ?? null;
      let channels = 1;
      let tensor = dqOut;
      let node: OnnxNode | undefined = first;
      let quantize: OnnxNode | undefined;
      while (node && chain.length <= maxChain) {
        if (node.opType === 'QuantizeLinear' && (node.domain === '' || node.domain === 'ai.onnx') && node.inputs[0] === tensor) {
          quantize = node;
          break;
        }
        const c = elementwiseChannels(model, node, tensor, xRank, ops);
        if (c === null || (c > 1 && channels > 1 && c !== channels)) break;
        if (c > 1) channels = c;
        chain.push(node);
        tensor = node.outputs[0]!;
        const readers: OnnxNode[] = consumers.get(tensor) ?? [];
        node = readers.length === 1 && !outputs.has(tensor) ? readers[0] : undefined;
      }
      if (!quantize || chain.length === 0 || chain.length > maxChain) continue;
      if (chain.length === 1 && skipSingle.has(chain[0]!.opType)) continue;
      const qZero = scalarInitializer(model, quantize.inputs[2]);
      if (!scalarInitializer(model, quantize.inputs[1]) || !qZero || !EIGHT_BIT.has(qZero.dataType) || !quantize.outputs[0]) continue;
      islands.push({
        input,
        inputType: dqZero.dataType as LookupIsland['inputType'],
        dequantize: dq,
        chain,
        quantize,
        output: quantize.outputs[0],
        outputType: qZero.dataType as LookupIsland['outputType'],
        channels,
      });
    }
  }
  return islands;
}

/** Elements of a fully static shape, else null. */
/** Elements of a tensor of `shape`; null when a dim is unknown or symbolic. */
export function elementsOf(shape: ReadonlyArray<number | string | null> | null | undefined): number | null {
  if (!shape) return null;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || d < 0) return null;
    n *= d;
  }
  return n;
}

/**
 * The inputs of an island's table, [1, C, 1, 256]: each channel gets the byte values 0..255 in order (int8: 0..127,
 * then −128..−1), so channel c's output for byte value v lands at c · 256 + v.
 */
export function lookupTableInputs(type: LookupIsland['inputType'], channels = 1): Tensor {
  const bytes = new Uint8Array(channels * 256);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i & 255;
  return type === DataType.UINT8
    ? makeTensor('x', DataType.UINT8, [1, channels, 1, 256], bytes)
    : makeTensor('x', DataType.INT8, [1, channels, 1, 256], new Int8Array(bytes.buffer));
}

/** Names of the table model's input and output for island `index`. */
export function lookupTableIo(index: number): { input: string; output: string } {
  return { input: `island_${index}_in`, output: `island_${index}_out` };
}

/**
 * A model that computes every island on its own input (`lookupTableIo(i).input`, lookupTableInputs of the island's
 * input type and channels) with copies of the island's own nodes and constants, and the same opsets.
 */
export function lookupTableModel(model: OnnxModel, islands: readonly LookupIsland[]): OnnxModel {
  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, Tensor>();
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  islands.forEach((island, index) => {
    const io = lookupTableIo(index);
    const rename = new Map<string, string>([[island.input, io.input], [island.output, io.output]]);
    const local = (name: string): string => {
      if (!name) return name;
      const known = rename.get(name);
      if (known) return known;
      const constant = model.graph.initializers.get(name);
      if (constant) {
        initializers.set(name, constant);
        return name;
      }
      const fresh = `island_${index}_${rename.size}`;
      rename.set(name, fresh);
      return fresh;
    };
    for (const node of [island.dequantize, ...island.chain, island.quantize]) {
      nodes.push({ ...node, name: `island_${index}_${node.name || node.opType}`, inputs: node.inputs.map(local), outputs: node.outputs.map(local), attributes: new Map(node.attributes) });
    }
    inputs.push({ name: io.input, type: { elemType: island.inputType, shape: [1, island.channels, 1, 256] } });
    outputs.push({ name: io.output, type: { elemType: island.outputType, shape: [1, island.channels, 1, 256] } });
  });
  return {
    irVersion: model.irVersion,
    opsetImports: model.opsetImports.map((o) => ({ ...o })),
    producerName: 'edgetune',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: 'lookup tables of float islands',
    metadataProps: [],
    graph: { name: 'lookup_tables', nodes, inputs, outputs, valueInfo: [], initializers },
  };
}

/** What replacing islands did, for the compress report. */
export interface LookupIslandsReport {
  /** Islands that became a table lookup. */
  replaced: number;
  /** Islands left float because their tensor has fewer than `minElements` elements. */
  leftSmall: number;
  /** The size rule that was applied (0 = none). */
  minElements: number;
  /** Bytes of the tables added to the model (256 per island and channel). */
  tableBytes: number;
  /** Replaced islands by their chain of op types (`HardSwish: 40`, `Mul+Add: 2`). */
  byChain: Record<string, number>;
}

/** The op types of an island's float chain, `+`-joined. */
export function chainLabel(island: LookupIsland): string {
  return island.chain.map((n) => n.opType).join('+');
}

/**
 * Replace every island by a table lookup writing the island's output; `tables[i]` holds island i's C · 256 outputs in
 * lookupTableInputs order. The lookup: Reshape(x → [1, −1], or [N, C, −1] per channel) + Cast(→ int32) +
 * GatherElements(table [1, 256] on axis 1, or [N, C, 256] on axis 2) + Reshape(→ x's shape); the per-channel table
 * is Expanded to the batch unless x's batch is fixed at 1. (onnxruntime's Gather divides per element and ran at
 * 0.25–0.6× of the float island; GatherElements at about 1×: scripts/bench-lookup-encodings.ts.) The index and shape
 * nodes are shared by islands on one input; a DequantizeLinear nobody else reads goes. Pure: mutates and returns
 * `model`.
 */
export function replaceIslandsWithLookups(model: OnnxModel, islands: readonly LookupIsland[], tables: readonly Tensor[]): PassResult & { lookups: LookupIslandsReport } {
  const graph = model.graph;
  if (tables.length !== islands.length) throw new RangeError(`tables: ${tables.length} for ${islands.length} islands`);
  const types = inferTensorTypes(model);
  const fresh = nameFactory(graph);
  const removed = new Set<OnnxNode>();
  const added = new Map<OnnxNode, OnnxNode[]>();
  /** Per input tensor and channel count: its shape, its int32 index, and (per channel) the shape of a batch of tables. */
  const shared = new Map<string, { shape: string; index: string; tableShape?: string }>();
  const constant = (base: string, values: bigint[]): string => {
    const name = fresh(base);
    graph.initializers.set(name, makeTensor(name, DataType.INT64, [values.length], BigInt64Array.from(values)));
    return name;
  };
  const byChain: Record<string, number> = {};
  islands.forEach((island, i) => {
    const table = tables[i]!;
    const channels = island.channels;
    if (table.values.length !== channels * 256 || table.dataType !== island.outputType) {
      throw new RangeError(`tables[${i}]: expected ${channels * 256} values of type ${island.outputType}, got ${table.values.length} of type ${table.dataType}`);
    }
    const base = island.quantize.name || island.output;
    const replacement: OnnxNode[] = [];
    const key = `${island.input}\u0000${channels}`;
    let io = shared.get(key);
    if (!io) {
      io = { shape: fresh(`${island.input}_lookup_shape`), index: fresh(`${island.input}_lookup_index`) };
      shared.set(key, io);
      const flat = fresh(`${island.input}_lookup_flat`);
      const flatShape = constant(`${island.input}_lookup_flat_shape`, channels === 1 ? [1n, -1n] : [0n, BigInt(channels), -1n]);
      replacement.push(
        makeNode('Shape', [island.input], [io.shape], fresh(`${base}_lookup_shape`)),
        makeNode('Reshape', [island.input, flatShape], [flat], fresh(`${base}_lookup_flatten`)),
        makeNode('Cast', [flat], [io.index], fresh(`${base}_lookup_cast`), { to: attr.int(DataType.INT32) }),
      );
      const batch = types.get(island.input)?.shape?.[0];
      if (channels > 1 && batch !== 1) {
        const n = fresh(`${island.input}_lookup_batch`);
        io.tableShape = fresh(`${island.input}_lookup_table_shape`);
        replacement.push(
          makeNode('Slice', [io.shape, constant('lookup_zero', [0n]), constant('lookup_one', [1n])], [n], fresh(`${base}_lookup_batch`)),
          makeNode('Concat', [n, constant(`${island.input}_lookup_channels`, [BigInt(channels), 256n])], [io.tableShape], fresh(`${base}_lookup_table_shape`), { axis: attr.int(0) }),
        );
      }
    }
    let data = fresh(`${island.output}_lookup_table`);
    graph.initializers.set(data, { ...table, name: data, dims: channels === 1 ? [1, 256] : [1, channels, 256] });
    if (io.tableShape) {
      const batched = fresh(`${island.output}_lookup_tables`);
      replacement.push(makeNode('Expand', [data, io.tableShape], [batched], fresh(`${base}_lookup_expand`)));
      data = batched;
    }
    const flatOut = fresh(`${island.output}_lookup_flat`);
    replacement.push(
      makeNode('GatherElements', [data, io.index], [flatOut], fresh(`${base}_lookup`), { axis: attr.int(channels === 1 ? 1 : 2) }),
      makeNode('Reshape', [flatOut, io.shape], [island.output], fresh(`${base}_lookup_unflatten`)),
    );
    added.set(island.quantize, replacement);
    for (const node of island.chain) removed.add(node);
    removed.add(island.quantize);
    const label = chainLabel(island);
    byChain[label] = (byChain[label] ?? 0) + 1;
  });
  const next: OnnxNode[] = [];
  for (const node of graph.nodes) {
    if (!removed.has(node)) next.push(node);
    const replacement = added.get(node);
    if (replacement) next.push(...replacement);
  }
  graph.nodes = next;
  // A DequantizeLinear whose only readers were island chains goes too.
  const readers = consumerMap(graph);
  const outputs = graphOutputNames(graph);
  const orphans = new Set(islands.map((i) => i.dequantize).filter((dq) => !(readers.get(dq.outputs[0]!)?.length) && !outputs.has(dq.outputs[0]!)));
  graph.nodes = graph.nodes.filter((n) => !orphans.has(n));
  graph.nodes = topologicalSort(graph);
  // Constants and value_info of the removed nodes go when nothing else uses them; the rest of the graph is untouched.
  const live = new Set<string>();
  for (const node of graph.nodes) for (const name of [...node.inputs, ...node.outputs]) live.add(name);
  for (const o of graph.outputs) live.add(o.name);
  const gone = [...removed, ...orphans].flatMap((n) => [...n.inputs, ...n.outputs]).filter((name) => !live.has(name));
  for (const name of gone) if (!graph.inputs.some((i) => i.name === name)) graph.initializers.delete(name);
  const goneSet = new Set(gone);
  graph.valueInfo = graph.valueInfo.filter((v) => !goneSet.has(v.name));
  const opset = defaultOpset(model);
  return {
    model,
    report: {
      pass: 'int8',
      nodesChanged: islands.length,
      nodesKeptFloat: [],
      opset: { from: opset, to: opset },
      notes: [],
    },
    lookups: { replaced: islands.length, leftSmall: 0, minElements: 0, tableBytes: tables.reduce((sum, t) => sum + t.values.length, 0), byChain },
  };
}

/**
 * The table of every island, computed by onnxruntime (over the adapter) running the islands' own nodes once on the
 * 256 input values (per channel): each table is what onnxruntime writes for that island.
 */
export async function computeLookupTables(model: OnnxModel, islands: readonly LookupIsland[]): Promise<Tensor[]> {
  if (islands.length === 0) return [];
  const runner = await createInferenceRunner(encodeModel(lookupTableModel(model, islands)));
  try {
    const feeds: Record<string, Tensor> = {};
    islands.forEach((island, i) => {
      const name = lookupTableIo(i).input;
      feeds[name] = { ...lookupTableInputs(island.inputType, island.channels), name };
    });
    const out = await runner.run(feeds);
    return islands.map((island, i) => {
      const t = out.get(lookupTableIo(i).output)!;
      const n = island.channels * 256;
      return makeTensor(`table_${i}`, island.outputType, [n], island.outputType === DataType.UINT8 ? Uint8Array.from(t.values as Uint8Array) : Int8Array.from(t.values as Int8Array));
    });
  } finally {
    await runner.release();
  }
}

/** Find the islands of a QDQ model, compute their tables in onnxruntime and replace them: the whole pass. */
export async function lookupIslands(model: OnnxModel, options: FindLookupIslandsOptions = {}): Promise<PassResult & { lookups: LookupIslandsReport }> {
  const islands = findLookupIslands(model, options);
  const all = options.minElements ? findLookupIslands(model, { ...options, minElements: 0 }).length : islands.length;
  const tables = await computeLookupTables(model, islands);
  const result = replaceIslandsWithLookups(model, islands, tables);
  result.lookups.leftSmall = all - islands.length;
  result.lookups.minElements = options.minElements ?? 0;
  return result;
}
