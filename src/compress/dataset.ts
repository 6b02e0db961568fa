import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTensor } from '../onnx/model-codec.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import type { OnnxModel, Tensor, ValueInfo } from '../onnx/ir.js';
import { elementCount } from '../onnx/ir.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** One test_data_set_K directory, loaded: inputs in model order, optional labels and reference outputs. */
export interface DataBatch {
  /** Set directory name, for messages. */
  set: string;
  inputs: Tensor[];
  labels: Tensor | null;
  outputs: Tensor[];
  /** Samples in this batch (axis 0 of the first input; 1 for an unbatched set). */
  batchSize: number;
  /**
   * The inputs do not share a batch axis (a scalar, or broadcast operands of different leading sizes, as in the
   * ONNX backend test suite): the set is one sample, fed whole and never split.
   */
  unbatched?: boolean;
  /** The set's `meta.json` (edgetune's own: an image set's source file and input frame), null when absent. */
  meta?: Record<string, unknown> | null;
}

/** A dataset in the ONNX test-data layout, read lazily set by set. */
export interface Dataset {
  dir: string;
  setNames: string[];
  /** Load set `index` (validated against the model when one was given). */
  load(index: number): DataBatch;
}

const SET_PATTERN = /^test_data_set_(\d+)$/;

/**
 * Open a dataset directory in the ONNX test-data layout (SPEC.md "Datasets"). With a model, each set's inputs are
 * checked against the model's non-initializer inputs (count, element type, rank, static dims). Throws
 * DATASET_INVALID naming the file and the problem.
 */
export function openDataset(dir: string, model?: OnnxModel): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new EdgetuneError('DATASET_INVALID', `dataset '${dir}' is not a directory`);
  const setNames = readdirSync(dir)
    .filter((n) => SET_PATTERN.test(n) && statSync(join(dir, n)).isDirectory())
    .sort((a, b) => Number(SET_PATTERN.exec(a)![1]) - Number(SET_PATTERN.exec(b)![1]));
  if (setNames.length === 0) throw new EdgetuneError('DATASET_INVALID', `dataset '${dir}' has no test_data_set_N directories`);
  const modelInputs = model ? realInputs(model) : undefined;
  return {
    dir,
    setNames,
    load(index: number): DataBatch {
      const set = setNames[index];
      if (set === undefined) throw new RangeError(`dataset has ${setNames.length} sets; index ${index} is out of range`);
      return loadSet(join(dir, set), set, modelInputs);
    },
  };
}

/** The model inputs a dataset must feed (initializers listed as inputs in old IR versions excluded). */
export function realInputs(model: OnnxModel): ValueInfo[] {
  return model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name));
}

function readTensorFile(path: string, set: string): Tensor {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `${set}: cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
  try {
    return decodeTensor(bytes);
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `${set}: ${path} is not a valid TensorProto: ${messageOf(error)}`, { cause: error });
  }
}

function loadSet(path: string, set: string, modelInputs: ValueInfo[] | undefined): DataBatch {
  const files = new Set(readdirSync(path));
  const inputs: Tensor[] = [];
  for (let k = 0; files.has(`input_${k}.pb`); k++) inputs.push(readTensorFile(join(path, `input_${k}.pb`), set));
  if (inputs.length === 0 && (!modelInputs || modelInputs.length > 0)) throw new EdgetuneError('DATASET_INVALID', `${set}: no input_0.pb`);
  const outputs: Tensor[] = [];
  for (let k = 0; files.has(`output_${k}.pb`); k++) outputs.push(readTensorFile(join(path, `output_${k}.pb`), set));
  const labels = files.has('label.pb') ? readTensorFile(join(path, 'label.pb'), set) : null;
  const meta = files.has('meta.json') ? readMetaFile(join(path, 'meta.json'), set) : null;
  const leading = inputs[0]?.dims[0];
  const unbatched = leading === undefined || inputs.some((t) => t.dims.length === 0 || t.dims[0] !== leading);
  const batchSize = unbatched ? 1 : leading;
  if (modelInputs) {
    if (inputs.length !== modelInputs.length) {
      throw new EdgetuneError('DATASET_INVALID', `${set}: ${inputs.length} input file(s), the model has ${modelInputs.length} input(s) (${modelInputs.map((i) => i.name).join(', ')})`);
    }
    inputs.forEach((tensor, k) => {
      const info = modelInputs[k]!;
      tensor.name = info.name;
      checkAgainstInput(tensor, info, set, k, unbatched);
    });
  }
  if (labels) {
    if (labels.dataType !== DataType.INT64 && labels.dataType !== DataType.INT32) {
      throw new EdgetuneError('DATASET_INVALID', `${set}: label.pb must hold int64 class indices, it holds ${dataTypeName(labels.dataType)}`);
    }
    if (elementCount(labels.dims) !== batchSize) {
      throw new EdgetuneError('DATASET_INVALID', `${set}: label.pb has ${elementCount(labels.dims)} labels for a batch of ${batchSize}`);
    }
  }
  return { set, inputs, labels, outputs, batchSize, meta, ...(unbatched ? { unbatched } : {}) };
}

function readMetaFile(path: string, set: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `${set}: ${path} is not valid JSON: ${messageOf(error)}`, { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new EdgetuneError('DATASET_INVALID', `${set}: ${path} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

function checkAgainstInput(tensor: Tensor, info: ValueInfo, set: string, k: number, unbatched: boolean): void {
  if (!info.type) return;
  if (info.type.elemType && tensor.dataType !== info.type.elemType) {
    throw new EdgetuneError('DATASET_INVALID', `${set}: input_${k}.pb is ${dataTypeName(tensor.dataType)}, model input '${info.name}' is ${dataTypeName(info.type.elemType)}`);
  }
  const shape = info.type.shape;
  if (!shape) return;
  if (shape.length !== tensor.dims.length) {
    throw new EdgetuneError('DATASET_INVALID', `${set}: input_${k}.pb has shape [${tensor.dims.join(',')}], model input '${info.name}' has rank ${shape.length}`);
  }
  shape.forEach((d, i) => {
    if (i === 0 && !unbatched) return; // batch axis: split below when the model fixes it
    if (typeof d === 'number' && d !== tensor.dims[i]) {
      throw new EdgetuneError('DATASET_INVALID', `${set}: input_${k}.pb has shape [${tensor.dims.join(',')}], model input '${info.name}' needs [${shape.map((x) => x ?? '?').join(',')}]`);
    }
  });
}

/** Slice rows [start, end) of axis 0 of a tensor. */
export function sliceBatch(tensor: Tensor, start: number, end: number): Tensor {
  const row = elementCount(tensor.dims.slice(1));
  const values = (tensor.values as Exclude<Tensor['values'], string[]>).slice(start * row, end * row) as Tensor['values'];
  return { name: tensor.name, dataType: tensor.dataType, dims: [end - start, ...tensor.dims.slice(1)], values };
}

/**
 * Feeds for one batch, split into pieces the model accepts: when the model's batch axis is fixed (e.g. to 1),
 * the batch is split into chunks of that size.
 */
export function feedsForBatch(model: OnnxModel, batch: DataBatch): Array<{ feeds: Record<string, Tensor>; start: number; end: number }> {
  const inputs = realInputs(model);
  const fixed = inputs[0]?.type?.shape?.[0];
  if (batch.unbatched) return [{ feeds: Object.fromEntries(inputs.map((info, k) => [info.name, batch.inputs[k]!])), start: 0, end: 1 }];
  const step = typeof fixed === 'number' && fixed > 0 ? fixed : batch.batchSize;
  if (batch.batchSize % step !== 0) {
    throw new EdgetuneError('DATASET_INVALID', `${batch.set}: batch of ${batch.batchSize} cannot be split into the model's fixed batch of ${step}`);
  }
  const pieces: Array<{ feeds: Record<string, Tensor>; start: number; end: number }> = [];
  for (let start = 0; start < batch.batchSize; start += step) {
    const feeds: Record<string, Tensor> = {};
    inputs.forEach((info, k) => {
      feeds[info.name] = step === batch.batchSize ? batch.inputs[k]! : sliceBatch(batch.inputs[k]!, start, start + step);
    });
    pieces.push({ feeds, start, end: start + step });
  }
  return pieces;
}
