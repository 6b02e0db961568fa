import protobuf from 'protobufjs';
import { ONNX_PROTO_SCHEMA } from './onnx-schema.js';
import { DataType, bitsPerElement, dataTypeName } from './dtype.js';
import type { AttributeValue, Dim, OnnxGraph, OnnxModel, OnnxNode, Tensor, TensorType, ValueInfo } from './ir.js';
import { allocateValues, decodeRawData, encodeRawData } from './tensor.js';
import { elementCount } from './ir.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

// The only importer of protobufjs. The schema is parsed on first use, never at import time.
let modelType: protobuf.Type | undefined;
let tensorType: protobuf.Type | undefined;

function types(): { model: protobuf.Type; tensor: protobuf.Type } {
  if (!modelType || !tensorType) {
    const root = protobuf.parse(ONNX_PROTO_SCHEMA, { keepCase: false }).root;
    modelType = root.lookupType('onnx.ModelProto');
    tensorType = root.lookupType('onnx.TensorProto');
  }
  return { model: modelType, tensor: tensorType };
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: Uint8Array as unknown as typeof String, defaults: false, arrays: false };

/** Reader for external tensor data: (location, offset, length) → bytes. */
export type ExternalDataReader = (location: string, offsetBytes: number, lengthBytes: number | undefined, tensorName: string) => Uint8Array;

/** Options for decoding a model. */
export interface DecodeOptions {
  /** Resolves `data_location: EXTERNAL` tensors; without it such a model is refused. */
  readExternal?: ExternalDataReader;
}

/** Decode ModelProto bytes into the protobuf message (lossless; encodeModelMessage gives the same bytes back). */
export function decodeModelMessage(bytes: Uint8Array): protobuf.Message {
  try {
    return types().model.decode(bytes);
  } catch (error) {
    throw new EdgetuneError('MODEL_INVALID', `not a valid ONNX model: ${messageOf(error)}`, { cause: error });
  }
}

/** Encode a ModelProto message to bytes. */
export function encodeModelMessage(message: protobuf.Message): Uint8Array {
  return types().model.encode(message).finish();
}

/** Decode ModelProto bytes into the edgetune IR. Throws MODEL_INVALID naming the problem. */
export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): OnnxModel {
  const message = decodeModelMessage(bytes);
  const obj = types().model.toObject(message, TO_OBJECT) as Record<string, any>;
  if (!obj.graph) throw new EdgetuneError('MODEL_INVALID', 'not a valid ONNX model: it has no graph');
  if (!obj.opsetImport || obj.opsetImport.length === 0) {
    // IR < 3 models have no opset_import; treat as opset 1 like onnx does.
    obj.opsetImport = [{ domain: '', version: '1' }];
  }
  const passthrough: Record<string, unknown> = {};
  for (const key of ['functions', 'trainingInfo', 'configuration']) if (obj[key]) passthrough[key] = obj[key];
  const opsetImports = (obj.opsetImport as any[]).map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) }));
  checkOpsetImports(opsetImports);
  return {
    irVersion: Number(obj.irVersion ?? 0),
    opsetImports,
    producerName: obj.producerName ?? '',
    producerVersion: obj.producerVersion ?? '',
    domain: obj.domain ?? '',
    modelVersion: Number(obj.modelVersion ?? 0),
    docString: obj.docString ?? '',
    metadataProps: (obj.metadataProps ?? []).map((p: any) => ({ key: p.key ?? '', value: p.value ?? '' })),
    graph: graphFromProto(obj.graph, options, 'main graph'),
    ...(Object.keys(passthrough).length ? { passthrough } : {}),
  };
}

/**
 * Refuse a model that imports one domain at two versions ('' and 'ai.onnx' are the same domain): which version
 * applies would be up to the reader, and edgetune and onnxruntime would disagree.
 */
function checkOpsetImports(imports: ReadonlyArray<{ domain: string; version: number }>): void {
  const seen = new Map<string, number>();
  for (const { domain, version } of imports) {
    const key = domain === 'ai.onnx' ? '' : domain;
    const before = seen.get(key);
    if (before !== undefined && before !== version) {
      throw new EdgetuneError('MODEL_INVALID', `not a valid ONNX model: opset_import lists domain '${key || 'ai.onnx'}' twice, at versions ${before} and ${version}`);
    }
    seen.set(key, version);
  }
}

/** Encode the IR to ModelProto bytes. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const { model: type } = types();
  const obj: Record<string, unknown> = {
    irVersion: model.irVersion,
    opsetImport: model.opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
  };
  if (model.producerName) obj.producerName = model.producerName;
  if (model.producerVersion) obj.producerVersion = model.producerVersion;
  if (model.domain) obj.domain = model.domain;
  if (model.modelVersion) obj.modelVersion = model.modelVersion;
  if (model.docString) obj.docString = model.docString;
  obj.graph = graphToProto(model.graph);
  if (model.metadataProps.length) obj.metadataProps = model.metadataProps;
  Object.assign(obj, model.passthrough ?? {});
  return type.encode(type.fromObject(obj)).finish();
}

/** Decode one serialized TensorProto (e.g. a dataset's input_0.pb). */
export function decodeTensor(bytes: Uint8Array, options: DecodeOptions = {}): Tensor {
  let obj: Record<string, any>;
  try {
    const { tensor } = types();
    obj = tensor.toObject(tensor.decode(bytes), TO_OBJECT);
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `not a valid TensorProto: ${messageOf(error)}`, { cause: error });
  }
  return tensorFromProto(obj, options);
}

/** Encode one tensor as a serialized TensorProto. */
export function encodeTensor(tensor: Tensor): Uint8Array {
  const { tensor: type } = types();
  return type.encode(type.fromObject(tensorToProto(tensor))).finish();
}

function graphFromProto(g: Record<string, any>, options: DecodeOptions, where: string): OnnxGraph {
  const initializers = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) {
    const tensor = tensorFromProto(t, options);
    if (!tensor.name) throw new EdgetuneError('MODEL_INVALID', `${where}: an initializer has no name`);
    initializers.set(tensor.name, tensor);
  }
  const passthrough: Record<string, unknown> = {};
  for (const key of ['sparseInitializer', 'quantizationAnnotation', 'metadataProps']) if (g[key]) passthrough[key] = g[key];
  const graph: OnnxGraph = {
    name: g.name ?? '',
    nodes: (g.node ?? []).map((n: any) => nodeFromProto(n, options)),
    inputs: (g.input ?? []).map(valueInfoFromProto),
    outputs: (g.output ?? []).map(valueInfoFromProto),
    valueInfo: (g.valueInfo ?? []).map(valueInfoFromProto),
    initializers,
  };
  if (g.docString) graph.docString = g.docString;
  if (Object.keys(passthrough).length) graph.passthrough = passthrough;
  return graph;
}

function graphToProto(graph: OnnxGraph): Record<string, unknown> {
  const obj: Record<string, unknown> = {
    node: graph.nodes.map(nodeToProto),
    name: graph.name,
    initializer: [...graph.initializers.values()].map(tensorToProto),
    input: graph.inputs.map(valueInfoToProto),
    output: graph.outputs.map(valueInfoToProto),
    valueInfo: graph.valueInfo.map(valueInfoToProto),
  };
  if (graph.docString) obj.docString = graph.docString;
  Object.assign(obj, graph.passthrough ?? {});
  return obj;
}

function nodeFromProto(n: Record<string, any>, options: DecodeOptions): OnnxNode {
  const attributes = new Map<string, AttributeValue>();
  for (const a of n.attribute ?? []) attributes.set(a.name ?? '', attributeFromProto(a, options));
  const node: OnnxNode = {
    name: n.name ?? '',
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attributes,
  };
  if (n.docString) node.docString = n.docString;
  const passthrough: Record<string, unknown> = {};
  for (const key of ['overload', 'metadataProps', 'deviceConfigurations']) if (n[key] !== undefined) passthrough[key] = n[key];
  if (Object.keys(passthrough).length) node.passthrough = passthrough;
  return node;
}

function nodeToProto(node: OnnxNode): Record<string, unknown> {
  const obj: Record<string, unknown> = { input: node.inputs, output: node.outputs };
  if (node.name) obj.name = node.name;
  obj.opType = node.opType;
  if (node.domain) obj.domain = node.domain;
  obj.attribute = [...node.attributes.entries()].map(([name, a]) => attributeToProto(name, a));
  if (node.docString) obj.docString = node.docString;
  Object.assign(obj, node.passthrough ?? {});
  return obj;
}

const textDecoder = new TextDecoder('utf-8');
const textEncoder = new TextEncoder();

function attributeFromProto(a: Record<string, any>, options: DecodeOptions): AttributeValue {
  if (a.refAttrName) return { type: 'raw', proto: a };
  switch (a.type ?? inferAttributeType(a)) {
    case 1:
      return { type: 'float', value: a.f ?? 0 };
    case 2:
      return { type: 'int', value: Number(a.i ?? 0) };
    case 3:
      return { type: 'string', value: textDecoder.decode(a.s ?? new Uint8Array()) };
    case 4:
      return { type: 'tensor', value: tensorFromProto(a.t ?? {}, options) };
    case 5:
      return { type: 'graph', value: graphFromProto(a.g ?? {}, options, `subgraph of attribute '${a.name}'`) };
    case 6:
      return { type: 'floats', value: a.floats ?? [] };
    case 7:
      return { type: 'ints', value: (a.ints ?? []).map(Number) };
    case 8:
      return { type: 'strings', value: (a.strings ?? []).map((s: Uint8Array) => textDecoder.decode(s)) };
    case 9:
      return { type: 'tensors', value: (a.tensors ?? []).map((t: any) => tensorFromProto(t, options)) };
    case 10:
      return { type: 'graphs', value: (a.graphs ?? []).map((g: any) => graphFromProto(g, options, `subgraph of attribute '${a.name}'`)) };
    default:
      return { type: 'raw', proto: a };
  }
}

/** IR < 3 attributes carry no `type`: infer it from which field is set, like onnx does. */
function inferAttributeType(a: Record<string, any>): number {
  if (a.f !== undefined) return 1;
  if (a.i !== undefined) return 2;
  if (a.s !== undefined) return 3;
  if (a.t !== undefined) return 4;
  if (a.g !== undefined) return 5;
  if (a.floats) return 6;
  if (a.ints) return 7;
  if (a.strings) return 8;
  if (a.tensors) return 9;
  if (a.graphs) return 10;
  return 0;
}

function attributeToProto(name: string, a: AttributeValue): Record<string, unknown> {
  switch (a.type) {
    case 'float':
      return { name, type: 1, f: a.value };
    case 'int':
      return { name, type: 2, i: a.value };
    case 'string':
      return { name, type: 3, s: textEncoder.encode(a.value) };
    case 'tensor':
      return { name, type: 4, t: tensorToProto(a.value) };
    case 'graph':
      return { name, type: 5, g: graphToProto(a.value) };
    case 'floats':
      return { name, type: 6, floats: a.value };
    case 'ints':
      return { name, type: 7, ints: a.value };
    case 'strings':
      return { name, type: 8, strings: a.value.map((s) => textEncoder.encode(s)) };
    case 'tensors':
      return { name, type: 9, tensors: a.value.map(tensorToProto) };
    case 'graphs':
      return { name, type: 10, graphs: a.value.map(graphToProto) };
    case 'raw':
      return a.proto as Record<string, unknown>;
  }
}

function valueInfoFromProto(v: Record<string, any>): ValueInfo {
  const info: ValueInfo = { name: v.name ?? '', type: null };
  const tt = v.type?.tensorType;
  if (tt) {
    const shape: Dim[] | null = tt.shape
      ? (tt.shape.dim ?? []).map((d: any) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam !== undefined ? d.dimParam : null))
      : null;
    info.type = { elemType: tt.elemType ?? 0, shape };
    if (v.type.denotation || tt.shape?.dim?.some((d: any) => d.denotation)) info.rawType = v.type;
  } else if (v.type) {
    info.rawType = v.type;
  }
  if (v.docString) info.docString = v.docString;
  return info;
}

function valueInfoToProto(v: ValueInfo): Record<string, unknown> {
  const obj: Record<string, unknown> = { name: v.name };
  if (v.type) {
    const raw = v.rawType as any;
    const tensorType: Record<string, unknown> = { elemType: v.type.elemType };
    if (v.type.shape) {
      tensorType.shape = {
        dim: v.type.shape.map((d, i) => {
          const dim: Record<string, unknown> = typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {};
          const denotation = raw?.tensorType?.shape?.dim?.[i]?.denotation;
          if (denotation) dim.denotation = denotation;
          return dim;
        }),
      };
    }
    obj.type = { tensorType, ...(raw?.denotation ? { denotation: raw.denotation } : {}) };
  } else if (v.rawType) {
    obj.type = v.rawType;
  }
  if (v.docString) obj.docString = v.docString;
  return obj;
}

function tensorFromProto(t: Record<string, any>, options: DecodeOptions): Tensor {
  const name: string = t.name ?? '';
  const dataType: number = t.dataType ?? 0;
  const dims: number[] = (t.dims ?? []).map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new EdgetuneError('MODEL_INVALID', `tensor '${name}': invalid dims [${dims.join(',')}]`);
  }
  const count = elementCount(dims);
  if (count > 2 ** 31) throw new EdgetuneError('MODEL_INVALID', `tensor '${name}': ${count} elements is more than edgetune loads`);
  if (t.segment) throw new EdgetuneError('MODEL_UNSUPPORTED', `tensor '${name}': segmented tensors are not supported`);
  const tensor = (values: Tensor['values'], storage: 'raw' | 'typed'): Tensor => {
    const out: Tensor = { name, dataType, dims, values, storage };
    if (t.docString) out.docString = t.docString;
    return out;
  };
  if (t.dataLocation === 1) {
    if (!options.readExternal) throw new EdgetuneError('MODEL_INVALID', `tensor '${name}' has external data, but the model was not loaded from a file`);
    const entries = new Map<string, string>((t.externalData ?? []).map((e: any) => [e.key, e.value]));
    const location = entries.get('location');
    if (!location) throw new EdgetuneError('MODEL_INVALID', `tensor '${name}': external data without a location`);
    const offset = Number(entries.get('offset') ?? 0);
    const length = entries.has('length') ? Number(entries.get('length')) : undefined;
    const raw = options.readExternal(location, offset, length ?? Math.ceil((count * bitsPerElement(dataType)) / 8), name);
    return tensor(decodeRawData(name, dataType, dims, raw), 'raw');
  }
  if (t.rawData !== undefined && dataType !== DataType.STRING) return tensor(decodeRawData(name, dataType, dims, t.rawData), 'raw');
  const typedField = typedFieldOf(dataType);
  const source: any[] = t[typedField] ?? [];
  // Compare with the values actually present before allocating: declared dims alone must not size an allocation.
  if (source.length !== count) {
    throw new EdgetuneError('MODEL_INVALID', `tensor '${name}': ${source.length} values in ${typedField} for shape [${dims.join(',')}] (${count} elements)`);
  }
  const values = allocateValues(dataType, count);
  if (dataType === DataType.STRING) {
    for (let i = 0; i < count; i++) (values as string[])[i] = textDecoder.decode(source[i]);
  } else if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    for (let i = 0; i < count; i++) values[i] = BigInt(source[i]);
  } else if (bitsPerElement(dataType) === 4) {
    throw new EdgetuneError('MODEL_UNSUPPORTED', `tensor '${name}': 4-bit data outside raw_data is not supported`);
  } else {
    for (let i = 0; i < count; i++) (values as Float32Array)[i] = Number(source[i]);
  }
  return tensor(values, 'typed');
}

function typedFieldOf(dataType: number): string {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      return 'floatData';
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return 'doubleData';
    case DataType.INT64:
      return 'int64Data';
    case DataType.UINT32:
    case DataType.UINT64:
      return 'uint64Data';
    case DataType.STRING:
      return 'stringData';
    default:
      return 'int32Data';
  }
}

function tensorToProto(tensor: Tensor): Record<string, unknown> {
  const obj: Record<string, unknown> = { dims: tensor.dims, dataType: tensor.dataType };
  if (tensor.name) obj.name = tensor.name;
  if (tensor.docString) obj.docString = tensor.docString;
  const { values } = tensor;
  if (tensor.external) {
    obj.dataLocation = 1;
    obj.externalData = [
      { key: 'location', value: tensor.external.location },
      { key: 'offset', value: String(tensor.external.offsetBytes) },
      { key: 'length', value: String(tensor.external.lengthBytes) },
    ];
  } else if (Array.isArray(values)) {
    obj.stringData = values.map((s) => textEncoder.encode(s));
  } else if (tensor.storage === 'typed' && bitsPerElement(tensor.dataType) !== 4) {
    const field = typedFieldOf(tensor.dataType);
    obj[field] = values instanceof BigInt64Array || values instanceof BigUint64Array ? Array.from(values, (v) => v.toString()) : Array.from(values as ArrayLike<number>);
  } else {
    obj.rawData = encodeRawData(tensor);
  }
  return obj;
}

/** A model's declared data type, for messages. */
export function describeDataType(dataType: number): string {
  return dataTypeName(dataType);
}

/** Infer a TensorType from a constant tensor. */
export function tensorTypeOf(tensor: Tensor): TensorType {
  return { elemType: tensor.dataType, shape: [...tensor.dims] };
}
