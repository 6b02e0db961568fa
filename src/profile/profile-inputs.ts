/**
 * Inputs for a profile: shapes resolved from the session's declared input shapes and `--shape` overrides, then
 * synthesized deterministic values, or real samples from a dataset in the ONNX test-data layout.
 */
import { openDataset, sliceBatch } from '../compress/dataset.js';
import { allocateValues } from '../onnx/tensor.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { elementCount, type Dim, type Tensor } from '../onnx/ir.js';
import { EdgetuneError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';

export { mulberry32 };

/** A model input as the runtime declares it. */
export interface InputSpec {
  name: string;
  dataType: number;
  shape: Dim[] | null;
}

/** Parse `--shape NAME=DxDxD` values into a map; throws USAGE naming the bad value. */
export function parseShapeArgs(values: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const v of values) {
    const m = /^(.+)=(\d+(?:x\d+)*)$/.exec(v.trim());
    if (!m) throw new EdgetuneError('USAGE', `--shape ${v}: expected NAME=DxDxD, e.g. input=1x3x224x224`);
    const dims = m[2]!.split('x').map(Number);
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new EdgetuneError('USAGE', `--shape ${v}: every dimension must be a positive integer`);
    if (out[m[1]!]) throw new EdgetuneError('USAGE', `--shape ${m[1]} given twice`);
    out[m[1]!] = dims;
  }
  return out;
}

const fmtShape = (shape: readonly Dim[]): string => `[${shape.map((d) => (d === null ? '?' : d)).join(',')}]`;

/**
 * Concrete shapes for every input. A `--shape` override must match the declared rank and fixed dims. Without one,
 * a symbolic or unknown first dim of a rank ≥ 2 input is the batch and takes `batchSize`; any other symbolic dim
 * cannot be guessed and throws USAGE naming the input, the dim and the flag to pass.
 */
export function resolveInputShapes(inputs: readonly InputSpec[], overrides: Readonly<Record<string, number[]>>, batchSize = 1): Map<string, number[]> {
  const names = new Set(inputs.map((i) => i.name));
  for (const name of Object.keys(overrides)) {
    if (!names.has(name)) throw new EdgetuneError('USAGE', `--shape ${name}=...: the model has no input '${name}' (inputs: ${[...names].join(', ')})`);
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new EdgetuneError('USAGE', `batch size must be a positive integer, got ${batchSize}`);
  const out = new Map<string, number[]>();
  for (const input of inputs) {
    const declared = input.shape;
    const override = overrides[input.name];
    if (override) {
      if (declared && declared.length !== override.length) {
        throw new EdgetuneError('USAGE', `--shape ${input.name}=${override.join('x')}: input '${input.name}' has rank ${declared.length} ${fmtShape(declared)}`);
      }
      declared?.forEach((d, i) => {
        if (typeof d === 'number' && d !== override[i]) {
          throw new EdgetuneError('USAGE', `--shape ${input.name}=${override.join('x')}: dim ${i} of '${input.name}' is fixed to ${d} ${fmtShape(declared)}`);
        }
      });
      out.set(input.name, [...override]);
      continue;
    }
    if (!declared) {
      throw new EdgetuneError('USAGE', `input '${input.name}' has no declared shape; give it with --shape ${input.name}=DxDx...`);
    }
    const dims = declared.map((d, i) => {
      // A declared 0 is an empty axis (onnxruntime reports an unknown dim as ''), not a symbol.
      if (typeof d === 'number' && d >= 0) return d;
      if (i === 0 && declared.length >= 2) return batchSize;
      const label = typeof d === 'string' && d ? `'${d}'` : 'unknown';
      const example = declared.map((x, j) => (typeof x === 'number' && x > 0 ? String(x) : j === 0 && declared.length >= 2 ? String(batchSize) : 'N')).join('x');
      throw new EdgetuneError(
        'USAGE',
        `input '${input.name}' ${fmtShape(declared)}: dim ${i} is symbolic (${label}) and cannot be guessed; give it with --shape ${input.name}=${example}`,
      );
    });
    out.set(input.name, dims);
  }
  return out;
}

/** Largest synthetic input, in elements (2^28: 1 GiB of float32); beyond it the shape, not the data, is the problem. */
export const MAX_SYNTHETIC_ELEMENTS = 2 ** 28;

/**
 * How synthesized inputs are filled: `random` (floats uniform in [0, 1), integers uniform in [0, 10): token ids,
 * class indices), `zeros` (an index or axis valid for any non-empty axis), `ones` (a divisor, a count, a scale, a
 * broadcastable shape entry). Profile tries them in this order until the model runs.
 */
export const SYNTHETIC_FILLS = ['random', 'zeros', 'ones'] as const;
/** One of SYNTHETIC_FILLS. */
export type SyntheticFill = (typeof SYNTHETIC_FILLS)[number];

/**
 * A synthetic input, filled per `fill` (default `random`: floats uniform in [0, 1), integers uniform in [0, 10));
 * booleans are 0/1 at random whatever the fill. Strings are refused.
 */
export function synthesizeInput(name: string, dataType: number, dims: readonly number[], seed = 1, fill: SyntheticFill = 'random'): Tensor {
  const count = elementCount(dims);
  if (!Number.isSafeInteger(count) || count > MAX_SYNTHETIC_ELEMENTS) {
    throw new EdgetuneError(
      'MODEL_UNSUPPORTED',
      `input '${name}' has shape [${dims.join(', ')}] (${count.toExponential(2)} elements), too large to synthesize (at most 2^28); give a smaller --shape ${name}=... or real samples with --data`,
    );
  }
  if (dataType === DataType.STRING) throw new EdgetuneError('MODEL_UNSUPPORTED', `input '${name}' is a string tensor: pass real samples with --data`);
  if (dataType === DataType.BFLOAT16 || dataType === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `input '${name}' has type ${dataTypeName(dataType)}, which cannot be synthesized`);
  const values = allocateValues(dataType, count);
  const rnd = mulberry32(seed);
  if (values instanceof Float32Array || values instanceof Float64Array) {
    if (fill === 'random') for (let i = 0; i < count; i++) values[i] = rnd();
    else values.fill(fill === 'zeros' ? 0 : 1);
  } else if (dataType === DataType.FLOAT16) {
    // Halves in [0, 1): exponent 0 .. 14 of binary16; simplest exact set: k/1024 for k in [0, 1024). 1.0 is 0x3c00.
    const v = values as Uint16Array;
    if (fill === 'random') for (let i = 0; i < count; i++) v[i] = halfOfFraction(Math.floor(rnd() * 1024));
    else v.fill(fill === 'zeros' ? 0 : 0x3c00);
  } else if (dataType === DataType.BOOL) {
    const v = values as Uint8Array;
    for (let i = 0; i < count; i++) v[i] = rnd() < 0.5 ? 0 : 1;
  } else {
    const next = fill === 'zeros' ? () => 0 : fill === 'ones' ? () => 1 : () => Math.floor(rnd() * 10);
    if (values instanceof BigInt64Array || values instanceof BigUint64Array) for (let i = 0; i < count; i++) values[i] = BigInt(next());
    else for (let i = 0; i < count; i++) (values as Int32Array)[i] = next();
  }
  return { name, dataType, dims: [...dims], values };
}

/** binary16 bits of k/1024 for an integer k in [0, 1024). */
function halfOfFraction(k: number): number {
  if (k === 0) return 0;
  const e = Math.floor(Math.log2(k)); // k = 2^e · (1 + m), value = 2^(e − 10) · (1 + m)
  const mantissa = Math.round((k / 2 ** e - 1) * 1024);
  return ((e - 10 + 15) << 10) | mantissa;
}

/** One synthetic feed for every input, at the resolved shapes. */
export function synthesizeFeeds(inputs: readonly InputSpec[], shapes: ReadonlyMap<string, number[]>, fill: SyntheticFill = 'random'): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  inputs.forEach((input, k) => {
    feeds[input.name] = synthesizeInput(input.name, input.dataType, shapes.get(input.name)!, k + 1, fill);
  });
  return feeds;
}

/** Whether any input is an integer tensor (its values may be indices, axes or shapes, not data). */
export function hasIntegerInput(inputs: readonly InputSpec[]): boolean {
  const integer = new Set<number>([DataType.INT8, DataType.UINT8, DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.INT64, DataType.UINT64]);
  return inputs.some((i) => integer.has(i.dataType));
}

/** Feeds read from a dataset, split to the model's fixed batch where needed, at most `maxFeeds` of them. */
export interface DatasetFeeds {
  feeds: Array<Record<string, Tensor>>;
  /** Samples per feed (axis 0). */
  batchSize: number;
  sets: number;
}

/**
 * Read every set of a dataset (ONNX test-data layout) into feeds for `inputs`, checked against their declared
 * types and fixed dims; a set whose batch exceeds the model's fixed batch is split. Throws DATASET_INVALID.
 */
export function datasetFeeds(dir: string, inputs: readonly InputSpec[], maxFeeds = 256): DatasetFeeds {
  const ds = openDataset(dir);
  const feeds: Array<Record<string, Tensor>> = [];
  let batchSize = 0;
  for (let s = 0; s < ds.setNames.length && feeds.length < maxFeeds; s++) {
    const batch = ds.load(s);
    if (batch.inputs.length !== inputs.length) {
      throw new EdgetuneError('DATASET_INVALID', `${batch.set}: ${batch.inputs.length} input file(s), the model has ${inputs.length} input(s) (${inputs.map((i) => i.name).join(', ')})`);
    }
    inputs.forEach((spec, k) => checkTensor(batch.inputs[k]!, spec, batch.set, k, batch.unbatched === true));
    const fixed = inputs[0]?.shape?.[0];
    // An unbatched set (inputs without a common axis 0) is one feed, never split.
    const step = !batch.unbatched && typeof fixed === 'number' && fixed > 0 && (inputs[0]!.shape!.length >= 2) ? fixed : batch.batchSize;
    if (batch.batchSize % step !== 0) {
      throw new EdgetuneError('DATASET_INVALID', `${batch.set}: batch of ${batch.batchSize} cannot be split into the model's fixed batch of ${step}`);
    }
    if (batchSize && step !== batchSize) {
      throw new EdgetuneError('DATASET_INVALID', `${batch.set}: batch of ${step} differs from the earlier sets' ${batchSize}: latency per run would not be comparable`);
    }
    batchSize = step;
    for (let start = 0; start < batch.batchSize && feeds.length < maxFeeds; start += step) {
      const feed: Record<string, Tensor> = {};
      inputs.forEach((spec, k) => {
        const t = batch.inputs[k]!;
        feed[spec.name] = step === batch.batchSize || batch.unbatched ? { ...t, name: spec.name } : { ...sliceBatch(t, start, start + step), name: spec.name };
      });
      feeds.push(feed);
    }
  }
  return { feeds, batchSize: batchSize || 1, sets: ds.setNames.length };
}

function checkTensor(tensor: Tensor, spec: InputSpec, set: string, k: number, unbatched: boolean): void {
  if (spec.dataType && tensor.dataType !== spec.dataType) {
    throw new EdgetuneError('DATASET_INVALID', `${set}: input_${k}.pb is ${dataTypeName(tensor.dataType)}, model input '${spec.name}' is ${dataTypeName(spec.dataType)}`);
  }
  const shape = spec.shape;
  if (!shape) return;
  if (shape.length !== tensor.dims.length) {
    throw new EdgetuneError('DATASET_INVALID', `${set}: input_${k}.pb has shape [${tensor.dims.join(',')}], model input '${spec.name}' has rank ${shape.length} ${fmtShape(shape)}`);
  }
  shape.forEach((d, i) => {
    if (i === 0 && shape.length >= 2 && !unbatched) return; // batch axis: split when the model fixes it
    if (typeof d === 'number' && d !== tensor.dims[i]) {
      throw new EdgetuneError('DATASET_INVALID', `${set}: input_${k}.pb has shape [${tensor.dims.join(',')}], model input '${spec.name}' needs ${fmtShape(shape)}`);
    }
  });
}

/** Samples per run: axis 0 of the first input when its rank is ≥ 2, else 1. */
export function batchSizeOf(inputs: readonly InputSpec[], shapes: ReadonlyMap<string, number[]>): number {
  const first = inputs[0] ? shapes.get(inputs[0].name) : undefined;
  return first && first.length >= 2 ? first[0]! : 1;
}
