import * as ort from 'onnxruntime-node';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/ir.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** Session options edgetune uses; `graphOptimizationLevel: 'disabled'` keeps tensor names for calibration. */
export interface InferenceSessionOptions {
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpNumThreads?: number;
  /** Write the optimized model here (to check which fused kernels onnxruntime chose). */
  optimizedModelFilePath?: string;
  executionProviders?: string[];
  extra?: Record<string, string>;
  enableProfiling?: boolean;
  profileFilePrefix?: string;
}

/** A loaded model ready to run: thin wrapper over onnxruntime's session speaking edgetune tensors. */
export interface InferenceRunner {
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Run with named inputs; returns the requested (default: all) outputs as edgetune tensors. */
  run(feeds: Record<string, Tensor>, outputNames?: readonly string[]): Promise<Map<string, Tensor>>;
  release(): Promise<void>;
}

const TO_ORT_TYPE: Partial<Record<number, ort.Tensor.Type>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.UINT16]: 'uint16',
  [DataType.INT16]: 'int16',
  [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64',
  [DataType.BOOL]: 'bool',
  [DataType.FLOAT16]: 'float16',
  [DataType.DOUBLE]: 'float64',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.STRING]: 'string',
};

const FROM_ORT_TYPE: Record<string, number> = Object.fromEntries(Object.entries(TO_ORT_TYPE).map(([k, v]) => [v, Number(k)]));

/** Convert an edgetune tensor to an onnxruntime tensor (no copy for numeric data). */
export function toOrtTensor(tensor: Tensor): ort.Tensor {
  const type = TO_ORT_TYPE[tensor.dataType];
  if (!type) throw new EdgetuneError('MODEL_UNSUPPORTED', `input '${tensor.name}': data type ${dataTypeName(tensor.dataType)} cannot be fed to onnxruntime`);
  const data = tensor.dataType === DataType.BOOL ? Uint8Array.from(tensor.values as Uint8Array) : tensor.values;
  return new ort.Tensor(type, data as never, tensor.dims);
}

/** Convert an onnxruntime output to an edgetune tensor. */
export function fromOrtTensor(name: string, value: ort.Tensor): Tensor {
  const dataType = FROM_ORT_TYPE[value.type] ?? DataType.UNDEFINED;
  let values = value.data as Tensor['values'];
  if (value.type === 'bool') values = Uint8Array.from(value.data as unknown as ArrayLike<number>);
  return { name, dataType, dims: [...value.dims], values };
}

let quieted = false;

/** onnxruntime logs warnings (unused initializers...) to stdout; keep stdout for --json: errors only. */
function quietOnnxruntime(): void {
  if (quieted) return;
  ort.env.logLevel = 'error';
  quieted = true;
}

/** Create a runner from model bytes. A model onnxruntime rejects throws MODEL_INVALID with its message. */
export async function createInferenceRunner(modelBytes: Uint8Array, options: InferenceSessionOptions = {}): Promise<InferenceRunner> {
  quietOnnxruntime();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelBytes, {
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      intraOpNumThreads: options.intraOpNumThreads ?? 0,
      executionProviders: options.executionProviders ?? ['cpu'],
      logSeverityLevel: 3,
      ...(options.optimizedModelFilePath ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
      ...(options.extra ? { extra: options.extra } : {}),
      ...(options.enableProfiling ? { enableProfiling: true, profileFilePrefix: options.profileFilePrefix } : {}),
    });
  } catch (error) {
    throw new EdgetuneError('MODEL_INVALID', `onnxruntime rejected the model: ${messageOf(error)}`, { cause: error });
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(t);
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = outputNames ? await session.run(ortFeeds, outputNames as string[]) : await session.run(ortFeeds);
      } catch (error) {
        throw new EdgetuneError('RUNTIME_FAILED', `onnxruntime failed to run the model: ${messageOf(error)}`, { cause: error });
      }
      const out = new Map<string, Tensor>();
      for (const [name, value] of Object.entries(results)) out.set(name, fromOrtTensor(name, value as ort.Tensor));
      return out;
    },
    async release() {
      await session.release();
    },
  };
}
