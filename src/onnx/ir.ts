/**
 * edgetune's in-memory ONNX graph IR: plain mutable objects that passes rewrite, with conversion to and from the
 * protobuf messages in model-codec.ts. Everything here is pure data.
 */

/** Element values of a tensor. float16/bfloat16/float8 hold raw bits; bool is 0/1 bytes; int4/uint4 one element per byte. */
export type TensorValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

/** A constant tensor (initializer, Constant value, attribute tensor). */
export interface Tensor {
  name: string;
  dataType: number;
  dims: number[];
  values: TensorValues;
  docString?: string;
  /** How the source file stored the data ('typed' = float_data/int32_data/...), kept for faithful re-encoding. */
  storage?: 'raw' | 'typed';
  /** When set, the encoder writes a reference to this external data instead of the values. */
  external?: { location: string; offsetBytes: number; lengthBytes: number };
}

/** One dimension: a size, a symbolic name, or unknown. */
export type Dim = number | string | null;

/** The type of a tensor value: element type and shape (null shape = rank unknown). */
export interface TensorType {
  elemType: number;
  shape: Dim[] | null;
}

/** A graph input, output or value_info entry. Non-tensor types (sequences, maps) are kept as raw proto. */
export interface ValueInfo {
  name: string;
  type: TensorType | null;
  rawType?: unknown;
  docString?: string;
}

/** An attribute value, tagged by its ONNX AttributeType. */
export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: OnnxGraph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: OnnxGraph[] }
  | { type: 'raw'; proto: unknown };

/** A node: op, domain ('' = ai.onnx), inputs ('' = omitted optional input), outputs, attributes in file order. */
export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttributeValue>;
  docString?: string;
  /** Proto fields edgetune does not interpret (overload, metadata_props, device_configurations). */
  passthrough?: Record<string, unknown>;
}

/** A graph: nodes in topological order, IO, value_info and initializers by name. */
export interface OnnxGraph {
  name: string;
  docString?: string;
  nodes: OnnxNode[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  initializers: Map<string, Tensor>;
  /** Proto fields kept unchanged (sparse_initializer, quantization_annotation, metadata_props). */
  passthrough?: Record<string, unknown>;
}

/** One opset_import entry. */
export interface OpsetImport {
  domain: string;
  version: number;
}

/** A whole model. */
export interface OnnxModel {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  metadataProps: Array<{ key: string; value: string }>;
  graph: OnnxGraph;
  /** Proto fields kept unchanged (functions, training_info, configuration). */
  passthrough?: Record<string, unknown>;
}

/** Number of elements of a static shape. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** The default-domain opset version of a model (0 when absent). */
export function defaultOpset(model: OnnxModel): number {
  return model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/** Set (add or replace) the version of an opset domain. */
export function setOpset(model: OnnxModel, domain: string, version: number): void {
  const found = model.opsetImports.find((o) => o.domain === domain || (domain === '' && o.domain === 'ai.onnx'));
  if (found) found.version = version;
  else model.opsetImports.push({ domain, version });
}

/** A deep copy of a model (weights included), for passes that try several variants. */
export function cloneModel(model: OnnxModel): OnnxModel {
  return structuredClone(model);
}
