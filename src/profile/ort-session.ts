/**
 * The adapter to onnxruntime-node: the one place (with ort-backends.ts) that imports the native binding. Other
 * modules create sessions and run them through this file, with edgetune's IR tensors in and out.
 */
import * as ort from 'onnxruntime-node';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import type { Dim, Tensor, TensorValues } from '../onnx/ir.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** Caller input for a session. */
export interface OrtSessionOptions {
  /** Execution provider name as onnxruntime spells it ('cpu', 'cuda', 'tensorrt', ...); default 'cpu'. */
  executionProvider?: string;
  /** intra-op thread count; default: onnxruntime's own choice. */
  threads?: number;
  /** inter-op thread count (only used with executionMode 'parallel'). */
  interOpThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write an onnxruntime profiling trace (Chrome trace JSON) under this prefix; read it after endProfiling(). */
  profileFilePrefix?: string;
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  /** Session config entries (`session.x64quantprecision`, ...); values must be strings. */
  configEntries?: Record<string, string>;
  /** Save the optimized graph here (to see which fused kernels onnxruntime chose). */
  optimizedModelFilePath?: string;
  /** onnxruntime log level: 0 verbose .. 4 fatal; default 3 (errors only). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

/** Name, element type and declared shape of a model input or output as the session sees it. */
export interface OrtValueSpec {
  name: string;
  /** ONNX DataType id (1 = float); 0 for non-tensor values (sequences, maps). */
  dataType: number;
  /** Declared shape: numbers for fixed dims, strings for symbolic dims; null for non-tensors. */
  shape: Dim[] | null;
}

/** Feeds converted once to onnxruntime tensors, so a timing loop measures session.run and nothing else. */
export interface PreparedFeeds {
  readonly feeds: Readonly<Record<string, unknown>>;
}

/** An open inference session. */
export interface OrtSession {
  readonly inputs: readonly OrtValueSpec[];
  readonly outputs: readonly OrtValueSpec[];
  /** Run with IR tensors; returns the requested (default: all) outputs as IR tensors. */
  run(feeds: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, outputNames?: readonly string[]): Promise<Map<string, Tensor>>;
  /** Convert feeds once for runPrepared(). */
  prepare(feeds: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>): PreparedFeeds;
  /** Run with prepared feeds and discard the outputs (for timing loops). */
  runPrepared(prepared: PreparedFeeds): Promise<void>;
  /** Stop profiling and flush the trace file (only with profileFilePrefix). */
  endProfiling(): void;
  release(): Promise<void>;
}

const ORT_TYPE_BY_DATATYPE: ReadonlyMap<number, ort.Tensor.Type> = new Map<number, ort.Tensor.Type>([
  [DataType.FLOAT, 'float32'],
  [DataType.UINT8, 'uint8'],
  [DataType.INT8, 'int8'],
  [DataType.UINT16, 'uint16'],
  [DataType.INT16, 'int16'],
  [DataType.INT32, 'int32'],
  [DataType.INT64, 'int64'],
  [DataType.STRING, 'string'],
  [DataType.BOOL, 'bool'],
  [DataType.FLOAT16, 'float16'],
  [DataType.DOUBLE, 'float64'],
  [DataType.UINT32, 'uint32'],
  [DataType.UINT64, 'uint64'],
]);

const DATATYPE_BY_ORT_TYPE: ReadonlyMap<string, number> = new Map([...ORT_TYPE_BY_DATATYPE].map(([id, name]) => [name, id]));

/** onnxruntime's type string for an ONNX DataType id; throws MODEL_UNSUPPORTED for types it cannot feed. */
export function ortTypeOf(dataType: number): ort.Tensor.Type {
  const t = ORT_TYPE_BY_DATATYPE.get(dataType);
  if (!t) throw new EdgetuneError('MODEL_UNSUPPORTED', `onnxruntime-node cannot exchange tensors of type ${dataTypeName(dataType)}`);
  return t;
}

/** ONNX DataType id for an onnxruntime type string (0 when unknown). */
export function dataTypeOfOrt(type: string): number {
  return DATATYPE_BY_ORT_TYPE.get(type) ?? 0;
}

/** Convert an IR tensor to an onnxruntime tensor (no copy where the array types agree). */
export function toOrtTensor(tensor: Tensor): ort.Tensor {
  const type = ortTypeOf(tensor.dataType);
  return new ort.Tensor(type, tensor.values as never, tensor.dims);
}

/** Convert an onnxruntime tensor to an IR tensor named `name`. */
export function fromOrtTensor(name: string, value: ort.Tensor): Tensor {
  const dataType = dataTypeOfOrt(value.type);
  if (dataType === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `output '${name}' has type ${value.type}, which edgetune cannot read`);
  let values = value.data as unknown as TensorValues;
  if (dataType === DataType.FLOAT16 && !(values instanceof Uint16Array)) {
    // Node builds with Float16Array hand back decoded halves; the IR keeps raw bits.
    const v = values as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number };
    values = new Uint16Array(v.buffer, v.byteOffset, v.length);
  }
  return { name, dataType, dims: value.dims.map(Number), values };
}

function specsOf(metadata: readonly ort.InferenceSession.ValueMetadata[]): OrtValueSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) return { name: m.name, dataType: 0, shape: null };
    return { name: m.name, dataType: dataTypeOfOrt(m.type), shape: m.shape.map((d) => (typeof d === 'number' ? d : String(d))) };
  });
}

function resolveSessionOptions(options: OrtSessionOptions): ort.InferenceSession.SessionOptions {
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: [options.executionProvider ?? 'cpu'],
    logSeverityLevel: options.logSeverityLevel ?? 3,
  };
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be a positive integer, got ${options.threads}`);
    so.intraOpNumThreads = options.threads;
  }
  if (options.interOpThreads !== undefined) so.interOpNumThreads = options.interOpThreads;
  if (options.graphOptimizationLevel) so.graphOptimizationLevel = options.graphOptimizationLevel;
  if (options.enableCpuMemArena !== undefined) so.enableCpuMemArena = options.enableCpuMemArena;
  if (options.enableMemPattern !== undefined) so.enableMemPattern = options.enableMemPattern;
  if (options.profileFilePrefix) {
    so.enableProfiling = true;
    so.profileFilePrefix = options.profileFilePrefix;
  }
  if (options.configEntries) so.extra = { ...options.configEntries };
  if (options.optimizedModelFilePath) so.optimizedModelFilePath = options.optimizedModelFilePath;
  return so;
}

function entriesOf(feeds: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>): Array<[string, Tensor]> {
  return feeds instanceof Map ? [...feeds.entries()] : Object.entries(feeds as Record<string, Tensor>);
}

/**
 * Open a session on a model file path or its bytes. A model onnxruntime rejects throws MODEL_INVALID (or
 * MODEL_UNSUPPORTED when it names a missing operator or provider) with onnxruntime's message as the cause.
 */
export async function createOrtSession(model: string | Uint8Array, options: OrtSessionOptions = {}): Promise<OrtSession> {
  const sessionOptions = resolveSessionOptions(options);
  let session: ort.InferenceSession;
  try {
    session = typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions);
  } catch (error) {
    const msg = messageOf(error);
    const code = /not (?:implemented|supported|registered)|no (?:kernel|opset)|unsupported|provider/i.test(msg) ? 'MODEL_UNSUPPORTED' : 'MODEL_INVALID';
    throw new EdgetuneError(code, `onnxruntime could not load the model: ${msg}`, { cause: error });
  }
  return wrapSession(session);
}

/**
 * A rejection handler for running a model that onnxruntime loaded, on inputs of its declared types and shapes (or
 * checked against them): a node that fails then (bias of the wrong rank, mismatched dims) means a malformed model,
 * so the run failure becomes MODEL_INVALID naming `what` and `where`. Allocation failures stay run-time failures.
 */
export function refuseModelRunFailure(what: string, where: string): (error: unknown) => never {
  return (error: unknown) => {
    if (error instanceof EdgetuneError && error.code === 'RUNTIME_FAILED' && !/allocat|out of memory/i.test(error.message)) {
      throw new EdgetuneError('MODEL_INVALID', `${what} fails on ${where}: ${error.message}`, { cause: error });
    }
    throw error;
  };
}

const ignore = (): void => undefined;

function wrapSession(session: ort.InferenceSession): OrtSession {
  const inputs = specsOf(session.inputMetadata);
  const outputs = specsOf(session.outputMetadata);
  const prepare = (feeds: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>): PreparedFeeds => {
    const out: Record<string, ort.Tensor> = {};
    for (const [name, t] of entriesOf(feeds)) out[name] = toOrtTensor(t);
    return { feeds: out };
  };
  const runOrt = async (feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<ort.InferenceSession.ReturnType> => {
    try {
      return fetches ? await session.run(feeds, fetches as string[]) : await session.run(feeds);
    } catch (error) {
      throw new EdgetuneError('RUNTIME_FAILED', `onnxruntime run failed: ${messageOf(error)}`, { cause: error });
    }
  };
  return {
    inputs,
    outputs,
    prepare,
    async run(feeds, outputNames) {
      const result = await runOrt(prepare(feeds).feeds as Record<string, ort.Tensor>, outputNames);
      const out = new Map<string, Tensor>();
      for (const [name, value] of Object.entries(result)) out.set(name, fromOrtTensor(name, value));
      return out;
    },
    runPrepared(prepared) {
      // No async wrapper: one promise more than a bare session.run, so timing loops measure the run, not us.
      return session.run(prepared.feeds as Record<string, ort.Tensor>).then(ignore, (error: unknown) => {
        throw new EdgetuneError('RUNTIME_FAILED', `onnxruntime run failed: ${messageOf(error)}`, { cause: error });
      });
    },
    endProfiling() {
      session.endProfiling();
    },
    async release() {
      await session.release();
    },
  };
}
