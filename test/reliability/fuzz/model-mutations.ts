/**
 * The mutation catalogue of the ONNX fuzzer. Byte-level mutations damage the serialized file (truncation, bit
 * flips aimed at structure, corrupted length prefixes, splices, garbage); structural mutations decode the model,
 * break one invariant through the IR and encode it again (huge declared dims, cycles, missing initializers, wrong
 * dtypes, dangling inputs, duplicate outputs, absurd attribute values, ...). Every choice comes from the Prng, so
 * a case is rebuilt exactly from (seed, index).
 */
import { cloneModel, type AttributeValue, type OnnxModel, type OnnxNode, type Tensor } from '../../../src/onnx/ir.js';
import { encodeModel, encodeTensor } from '../../../src/onnx/model-codec.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import type { FuzzBase } from './fuzz-bases.js';
import { encodeVarint, mapModelWire, structuralRanges } from './proto-walk.js';
import type { Prng } from './prng.js';

/** Mutation kinds, in the order the report lists them. */
export const MUTATION_KINDS = [
  'truncate',
  'bit-flip',
  'length-field',
  'splice',
  'garbage',
  'huge-dims',
  'huge-input-dims',
  'cycle',
  'missing-initializer',
  'wrong-dtype',
  'dangling-input',
  'duplicate-output',
  'absurd-attribute',
  'unknown-op',
  'arity',
  'opset-ir-version',
  'empty-graph',
  'raw-data-size',
  'external-data',
  'non-finite-weights',
  'shape-swap',
  'name-clash',
] as const;

/** One kind of mutation. */
export type MutationKind = (typeof MUTATION_KINDS)[number];

/** A mutated model file. */
export interface MutatedModel {
  kind: MutationKind;
  /** What exactly was changed, for the failure message. */
  detail: string;
  bytes: Uint8Array;
}

const WEIGHTS: Record<MutationKind, number> = {
  truncate: 6,
  'bit-flip': 10,
  'length-field': 8,
  splice: 4,
  garbage: 2,
  'huge-dims': 7,
  'huge-input-dims': 4,
  cycle: 5,
  'missing-initializer': 4,
  'wrong-dtype': 7,
  'dangling-input': 4,
  'duplicate-output': 5,
  'absurd-attribute': 10,
  'unknown-op': 3,
  arity: 4,
  'opset-ir-version': 3,
  'empty-graph': 2,
  'raw-data-size': 3,
  'external-data': 3,
  'non-finite-weights': 4,
  'shape-swap': 4,
  'name-clash': 2,
};

/** Mutate a base model once; `kind` forces a mutation kind (for targeted reruns). */
export function mutateModel(base: FuzzBase, rng: Prng, kind: MutationKind = rng.weighted(WEIGHTS)): MutatedModel {
  switch (kind) {
    case 'truncate':
      return truncate(base.bytes, rng);
    case 'bit-flip':
      return bitFlip(base.bytes, rng);
    case 'length-field':
      return lengthField(base.bytes, rng);
    case 'splice':
      return splice(base.bytes, rng);
    case 'garbage':
      return garbage(base.bytes, rng);
    default:
      return structural(base, rng, kind);
  }
}

// ---------------------------------------------------------------- byte-level

function truncate(bytes: Uint8Array, rng: Prng): MutatedModel {
  const at = rng.pick([() => rng.int(64), () => rng.int(bytes.length), () => bytes.length - 1 - rng.int(64)])();
  const cut = Math.max(0, Math.min(bytes.length - 1, at));
  return { kind: 'truncate', detail: `cut to ${cut} of ${bytes.length} bytes`, bytes: bytes.slice(0, cut) };
}

const wireCache = new WeakMap<Uint8Array, ReturnType<typeof mapModelWire>>();

function wireOf(bytes: Uint8Array): ReturnType<typeof mapModelWire> {
  let map = wireCache.get(bytes);
  if (!map) {
    map = mapModelWire(bytes);
    wireCache.set(bytes, map);
  }
  return map;
}

function structuralOffset(bytes: Uint8Array, rng: Prng): number {
  const map = wireOf(bytes);
  const ranges = structuralRanges(bytes.length, map.payloadRanges);
  const total = ranges.reduce((s, [a, b]) => s + (b - a), 0);
  let r = rng.int(total);
  for (const [a, b] of ranges) {
    if (r < b - a) return a + r;
    r -= b - a;
  }
  return rng.int(bytes.length);
}

function bitFlip(bytes: Uint8Array, rng: Prng): MutatedModel {
  const out = bytes.slice();
  const flips = rng.range(1, 8);
  const where: string[] = [];
  for (let i = 0; i < flips; i++) {
    // Mostly structure (the parser's input), sometimes anywhere (weights that decode to NaN, Inf, denormals).
    const pos = rng.chance(0.8) ? structuralOffset(bytes, rng) : rng.int(bytes.length);
    const bit = rng.int(8);
    out[pos]! ^= 1 << bit;
    where.push(`${pos}.${bit}`);
  }
  return { kind: 'bit-flip', detail: `flipped byte.bit ${where.join(' ')}`, bytes: out };
}

function lengthField(bytes: Uint8Array, rng: Prng): MutatedModel {
  const fields = wireOf(bytes).lengthFields;
  const nested = fields.filter((f) => f.nested);
  const field = rng.chance(0.6) && nested.length > 0 ? rng.pick(nested) : rng.pick(fields);
  const len = field.length;
  const value = rng.pick<number | bigint>([0, 1, Math.max(0, len - 1), len + 1, len + rng.range(2, 4096), len * 2 + 7, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2n ** 63n - 1n, rng.int(Math.max(1, len))]);
  const varint = encodeVarint(value);
  const out = new Uint8Array(bytes.length - (field.varintEnd - field.varintStart) + varint.length);
  out.set(bytes.subarray(0, field.varintStart), 0);
  out.set(varint, field.varintStart);
  out.set(bytes.subarray(field.varintEnd), field.varintStart + varint.length);
  return { kind: 'length-field', detail: `${field.owner} field ${field.nested ? '(message) ' : ''}${field.fieldNumber} at ${field.varintStart}: length ${len} -> ${value}`, bytes: out };
}

function splice(bytes: Uint8Array, rng: Prng): MutatedModel {
  const a = structuralOffset(bytes, rng);
  const n = rng.range(1, 512);
  const how = rng.pick(['delete', 'duplicate', 'insert-random', 'overwrite-ff'] as const);
  const head = bytes.subarray(0, a);
  let middle: Uint8Array;
  let tail = bytes.subarray(a);
  if (how === 'delete') {
    middle = new Uint8Array(0);
    tail = bytes.subarray(Math.min(bytes.length, a + n));
  } else if (how === 'duplicate') {
    middle = bytes.subarray(a, Math.min(bytes.length, a + n));
  } else if (how === 'insert-random') {
    middle = Uint8Array.from({ length: n }, () => rng.int(256));
  } else {
    middle = new Uint8Array(Math.min(n, bytes.length - a)).fill(0xff);
    tail = bytes.subarray(a + middle.length);
  }
  const out = new Uint8Array(head.length + middle.length + tail.length);
  out.set(head, 0);
  out.set(middle, head.length);
  out.set(tail, head.length + middle.length);
  return { kind: 'splice', detail: `${how} ${n} bytes at ${a}`, bytes: out };
}

function garbage(bytes: Uint8Array, rng: Prng): MutatedModel {
  const which = rng.pick(['random', 'zeros', 'text', 'tensor-proto', 'repeat-header', 'one-byte'] as const);
  let out: Uint8Array;
  if (which === 'random') out = Uint8Array.from({ length: rng.range(1, 4096) }, () => rng.int(256));
  else if (which === 'zeros') out = new Uint8Array(rng.range(1, 4096));
  else if (which === 'text') out = new TextEncoder().encode('{"this":"is json, not onnx"}\n'.repeat(rng.range(1, 50)));
  else if (which === 'tensor-proto') out = encodeTensor(floatTensor('t', [2, 3], [1, 2, 3, 4, 5, 6]));
  else if (which === 'repeat-header') {
    const head = bytes.subarray(0, 256);
    out = new Uint8Array(head.length * 8);
    for (let i = 0; i < 8; i++) out.set(head, i * head.length);
  } else out = Uint8Array.of(rng.int(256));
  return { kind: 'garbage', detail: which, bytes: out };
}

// ---------------------------------------------------------------- structural (through the IR)

const HUGE_DIMS: ReadonlyArray<number[]> = [
  [2 ** 31],
  [2 ** 31 - 1],
  [2 ** 30, 3],
  [65536, 65536],
  [2 ** 40],
  [2 ** 53 - 1],
  [1e6, 1e6, 1e6],
  [2 ** 28],
  [2 ** 26, 4],
  [-1],
  [-(2 ** 31)],
  [0],
  [0, 2 ** 40],
];

const ODD_DTYPES = [0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 21, 22, 23, 99, -1];

function pickNode(model: OnnxModel, rng: Prng): OnnxNode {
  return rng.pick(model.graph.nodes);
}

function pickInitializer(model: OnnxModel, rng: Prng): Tensor {
  return rng.pick([...model.graph.initializers.values()]);
}

function absurdAttribute(rng: Prng): AttributeValue {
  return rng.pick<() => AttributeValue>([
    () => ({ type: 'int', value: rng.pick([2 ** 31, -(2 ** 31), 2 ** 53, -(2 ** 53), 0, -1, -7, 1e15, 4096]) }),
    () => ({ type: 'ints', value: rng.pick([[0], [], [0, 0], [-1, -1], [2 ** 31, 2 ** 31], [1e9, 1e9], [-5, -5, -5, -5], new Array(64).fill(1), [3, 3, 3, 3, 3, 3], [2 ** 40]]) }),
    () => ({ type: 'float', value: rng.pick([NaN, Infinity, -Infinity, 1e38, -1e38, 0, -0, 5e-324]) }),
    () => ({ type: 'floats', value: rng.pick([[NaN], [], [Infinity, -Infinity], new Array(1000).fill(1e30)]) }),
    () => ({ type: 'string', value: rng.pick(['', 'SAME_LOWER_BUT_WRONG', '\u0000\u0001', 'x'.repeat(10_000), 'NOTSET']) }),
    () => ({ type: 'strings', value: ['a', '', '\u00ff'] }),
    () => ({ type: 'tensor', value: { name: 'attr_t', dataType: DataType.FLOAT, dims: rng.pick(HUGE_DIMS), values: new Float32Array(4), storage: 'raw' } }),
  ])();
}

const ATTRIBUTE_NAMES = ['axis', 'axes', 'kernel_shape', 'strides', 'pads', 'dilations', 'group', 'transA', 'transB', 'alpha', 'beta', 'epsilon', 'momentum', 'perm', 'to', 'keepdims', 'auto_pad', 'value', 'mode'];

function structural(base: FuzzBase, rng: Prng, kind: MutationKind): MutatedModel {
  const model = cloneModel(base.model);
  const g = model.graph;
  let detail: string;
  switch (kind) {
    case 'huge-dims': {
      const t = pickInitializer(model, rng);
      const dims = rng.chance(0.7) ? [...rng.pick(HUGE_DIMS)] : t.dims.map((d, i) => (i === 0 ? d * 2 ** rng.range(8, 40) : d));
      const storage = rng.chance(0.5) ? 'typed' : 'raw';
      if (rng.chance(0.2)) t.dataType = rng.pick([DataType.STRING, DataType.INT64, DataType.DOUBLE, DataType.INT4]);
      if (t.dataType === DataType.STRING) t.values = ['a', 'b'];
      detail = `initializer '${t.name}' dims [${t.dims.join(',')}] -> [${dims.join(',')}] (${storage} data, dtype ${t.dataType})`;
      t.dims = dims;
      t.storage = storage;
      break;
    }
    case 'huge-input-dims': {
      const targets = [...g.inputs, ...g.outputs];
      const info = rng.pick(targets);
      const shape = rng.chance(0.5) ? rng.pick(HUGE_DIMS).map((d) => d) : (info.type?.shape ?? [1]).map((d, i) => (i === 0 ? d : rng.pick([2 ** 31, 2 ** 40, -3, 0, 1e9])));
      detail = `value '${info.name}' shape -> [${shape.join(',')}]`;
      info.type = { elemType: info.type?.elemType ?? DataType.FLOAT, shape };
      if (rng.chance(0.3)) {
        const n = rng.pick(g.nodes);
        g.valueInfo.push({ name: n.outputs[0]!, type: { elemType: DataType.FLOAT, shape: rng.pick(HUGE_DIMS) } });
        detail += `; value_info '${n.outputs[0]}' huge`;
      }
      break;
    }
    case 'cycle': {
      const i = rng.int(g.nodes.length);
      const j = rng.range(i, g.nodes.length - 1);
      const node = g.nodes[i]!;
      const slot = rng.int(Math.max(1, node.inputs.length));
      const from = g.nodes[j]!.outputs[0]!;
      detail = `node ${i} '${node.name}' input ${slot} '${node.inputs[slot]}' -> '${from}' (output of node ${j})`;
      node.inputs[slot] = from;
      if (rng.chance(0.3)) {
        g.nodes.reverse();
        detail += '; nodes listed in reverse';
      }
      break;
    }
    case 'missing-initializer': {
      const t = pickInitializer(model, rng);
      g.initializers.delete(t.name);
      detail = `initializer '${t.name}' removed`;
      if (rng.chance(0.3)) {
        g.inputs.push({ name: t.name, type: { elemType: DataType.FLOAT, shape: null } });
        detail += ' (declared as a graph input instead)';
      }
      break;
    }
    case 'wrong-dtype': {
      const where = rng.pick(['initializer', 'input', 'output', 'value-info'] as const);
      const dtype = rng.pick(ODD_DTYPES);
      if (where === 'initializer') {
        const t = pickInitializer(model, rng);
        detail = `initializer '${t.name}' dtype ${t.dataType} -> ${dtype}`;
        t.dataType = dtype;
        if (dtype === DataType.STRING) t.values = Array.from({ length: Math.min(4, t.values.length) }, () => 'x');
      } else if (where === 'value-info') {
        const n = pickNode(model, rng);
        g.valueInfo.push({ name: n.outputs[0]!, type: { elemType: dtype, shape: null } });
        detail = `value_info '${n.outputs[0]}' elem type ${dtype}`;
      } else {
        const info = rng.pick(where === 'input' ? g.inputs : g.outputs);
        detail = `${where} '${info.name}' elem type -> ${dtype}`;
        info.type = { elemType: dtype, shape: info.type?.shape ?? null };
      }
      break;
    }
    case 'dangling-input': {
      if (rng.chance(0.25)) {
        const o = rng.pick(g.outputs);
        detail = `graph output '${o.name}' -> 'fuzz_nowhere'`;
        o.name = 'fuzz_nowhere';
      } else {
        const n = pickNode(model, rng);
        const slot = rng.int(Math.max(1, n.inputs.length));
        detail = `node '${n.name}' input ${slot} '${n.inputs[slot]}' -> 'fuzz_missing'`;
        n.inputs[slot] = 'fuzz_missing';
      }
      break;
    }
    case 'duplicate-output': {
      const how = rng.pick(['two-nodes', 'graph-output-twice', 'output-is-input', 'output-is-initializer', 'node-lists-twice'] as const);
      const a = pickNode(model, rng);
      const b = pickNode(model, rng);
      if (how === 'two-nodes') a.outputs[0] = b.outputs[0]!;
      else if (how === 'graph-output-twice') g.outputs.push({ ...g.outputs[0]! });
      else if (how === 'output-is-input') a.outputs[0] = g.inputs[0]!.name;
      else if (how === 'output-is-initializer') a.outputs[0] = pickInitializer(model, rng).name;
      else a.outputs.push(a.outputs[0]!);
      detail = `${how}: node '${a.name}' outputs [${a.outputs.join(',')}]${how === 'two-nodes' ? `, node '${b.name}'` : ''}`;
      break;
    }
    case 'absurd-attribute': {
      const n = pickNode(model, rng);
      const existing = [...n.attributes.keys()];
      const name = existing.length > 0 && rng.chance(0.7) ? rng.pick(existing) : rng.pick(ATTRIBUTE_NAMES);
      const value = rng.chance(0.1) ? null : absurdAttribute(rng);
      if (value) n.attributes.set(name, value);
      else n.attributes.delete(name);
      detail = `node '${n.name}' (${n.opType}) attribute '${name}' -> ${value ? describeAttribute(value) : 'removed'}`;
      break;
    }
    case 'unknown-op': {
      const n = pickNode(model, rng);
      const how = rng.pick(['other-op', 'unknown', 'empty', 'domain'] as const);
      const before = `${n.domain}:${n.opType}`;
      if (how === 'other-op') n.opType = rng.pick(['MatMul', 'Conv', 'Gemm', 'Reshape', 'Softmax', 'If', 'Loop', 'QuantizeLinear', 'DequantizeLinear', 'Concat', 'Split', 'Resize']);
      else if (how === 'unknown') n.opType = 'FuzzOp';
      else if (how === 'empty') n.opType = '';
      else n.domain = rng.pick(['com.fuzz', 'com.microsoft', 'ai.onnx.ml']);
      detail = `node '${n.name}' ${before} -> ${n.domain}:${n.opType}`;
      break;
    }
    case 'arity': {
      const n = pickNode(model, rng);
      const how = rng.pick(['drop-input', 'extra-input', 'no-inputs', 'drop-output', 'extra-output', 'empty-name'] as const);
      if (how === 'drop-input') n.inputs.pop();
      else if (how === 'extra-input') n.inputs.push(rng.pick([...n.inputs, '', g.inputs[0]!.name]));
      else if (how === 'no-inputs') n.inputs = [];
      else if (how === 'drop-output') n.outputs = [];
      else if (how === 'extra-output') n.outputs.push(`fuzz_extra_${rng.int(100)}`);
      else n.inputs[0] = '';
      detail = `${how}: node '${n.name}' (${n.opType}) inputs [${n.inputs.join(',')}] outputs [${n.outputs.join(',')}]`;
      break;
    }
    case 'opset-ir-version': {
      const how = rng.pick(['opset', 'ir', 'no-opset', 'two-default-opsets'] as const);
      if (how === 'opset') model.opsetImports[0]!.version = rng.pick([0, 1, 6, 7, 10, 99, 1000, -3, 2 ** 40]);
      else if (how === 'ir') model.irVersion = rng.pick([0, 1, 2, 3, 99, -1]);
      else if (how === 'no-opset') model.opsetImports = [];
      else model.opsetImports.push({ domain: 'ai.onnx', version: rng.pick([7, 11, 21]) });
      detail = `${how}: ir ${model.irVersion}, opsets ${model.opsetImports.map((o) => `${o.domain || 'ai.onnx'}@${o.version}`).join(',')}`;
      break;
    }
    case 'empty-graph': {
      const how = rng.pick(['no-nodes', 'no-outputs', 'no-inputs', 'no-initializers', 'everything'] as const);
      if (how === 'no-nodes' || how === 'everything') g.nodes = [];
      if (how === 'no-outputs' || how === 'everything') g.outputs = [];
      if (how === 'no-inputs' || how === 'everything') g.inputs = [];
      if (how === 'no-initializers' || how === 'everything') g.initializers.clear();
      detail = how;
      break;
    }
    case 'raw-data-size': {
      const t = pickInitializer(model, rng);
      const v = t.values as Float32Array;
      const n = rng.pick([0, 1, v.length - 1, v.length + 1, v.length * 2]);
      const resized = new Float32Array(Math.max(0, n));
      resized.set(v.subarray(0, Math.min(v.length, resized.length)));
      t.values = resized;
      t.storage = rng.chance(0.5) ? 'raw' : 'typed';
      detail = `initializer '${t.name}' [${t.dims.join(',')}] holds ${resized.length} values (${t.storage})`;
      break;
    }
    case 'external-data': {
      const t = pickInitializer(model, rng);
      const location = rng.pick(['../../etc/passwd', '/etc/passwd', 'missing.bin', 'model.onnx', 'a\u0000b', '', '..', '.', 'sub/../../x']);
      const offsetBytes = rng.pick([0, 4096, 2 ** 40, -1]);
      const lengthBytes = rng.pick([0, 16, 2 ** 31, 2 ** 53, -5]);
      t.external = { location, offsetBytes, lengthBytes };
      detail = `initializer '${t.name}' external data '${location}' offset ${offsetBytes} length ${lengthBytes}`;
      break;
    }
    case 'non-finite-weights': {
      const t = pickInitializer(model, rng);
      const v = t.values as Float32Array;
      const fill = rng.pick([NaN, Infinity, -Infinity, 3.4e38, 0, 1e-45, -0]);
      const all = rng.chance(0.5);
      if (all) v.fill(fill);
      else for (let i = 0; i < Math.max(1, v.length >> 4); i++) v[rng.int(v.length)] = fill;
      detail = `initializer '${t.name}' ${all ? 'all' : 'some'} values ${fill}`;
      break;
    }
    case 'shape-swap': {
      const t = pickInitializer(model, rng);
      const before = t.dims.join(',');
      if (t.dims.length >= 2 && rng.chance(0.6)) t.dims = [...t.dims].reverse();
      else if (t.values.length > 1) t.dims = rng.pick([[t.values.length], [1, t.values.length], [t.values.length, 1, 1, 1]]);
      else t.dims = [];
      detail = `initializer '${t.name}' dims [${before}] -> [${t.dims.join(',')}] (same element count)`;
      break;
    }
    case 'name-clash': {
      const how = rng.pick(['same-node-names', 'initializer-named-like-input', 'empty-names'] as const);
      if (how === 'same-node-names') for (const n of g.nodes) n.name = 'same';
      else if (how === 'initializer-named-like-input') {
        const t = pickInitializer(model, rng);
        g.initializers.delete(t.name);
        const inputName = g.inputs[0]!.name;
        for (const n of g.nodes) n.inputs = n.inputs.map((x) => (x === t.name ? inputName : x));
        g.initializers.set(inputName, { ...t, name: inputName });
      } else for (const n of g.nodes) n.name = '';
      detail = how;
      break;
    }
    default:
      throw new Error(`no structural mutation '${kind}'`);
  }
  return { kind, detail, bytes: encodeModel(model) };
}

function describeAttribute(a: AttributeValue): string {
  if (a.type === 'raw') return 'raw';
  if (a.type === 'tensor') return `tensor [${a.value.dims.join(',')}]`;
  if (a.type === 'graph' || a.type === 'graphs' || a.type === 'tensors') return a.type;
  const v = JSON.stringify(a.value, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x)) ?? '';
  return `${a.type} ${v.length > 60 ? `${v.slice(0, 60)}…` : v}`;
}
