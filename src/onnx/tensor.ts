import { DataType, bitsPerElement, dataTypeName } from './dtype.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToFloat16Bits } from './float16.js';
import { elementCount, type Tensor, type TensorValues } from './ir.js';
import { EdgetuneError } from '../util/errors.js';

/** Allocate the value array for `count` elements of `dataType`. */
export function allocateValues(dataType: number, count: number): TensorValues {
  switch (dataType) {
    case DataType.FLOAT:
      return new Float32Array(count);
    case DataType.DOUBLE:
      return new Float64Array(count);
    case DataType.INT8:
    case DataType.INT4:
      return new Int8Array(count);
    case DataType.UINT8:
    case DataType.BOOL:
    case DataType.UINT4:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
      return new Uint8Array(count);
    case DataType.INT16:
      return new Int16Array(count);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return new Uint16Array(count);
    case DataType.INT32:
      return new Int32Array(count);
    case DataType.UINT32:
      return new Uint32Array(count);
    case DataType.INT64:
      return new BigInt64Array(count);
    case DataType.UINT64:
      return new BigUint64Array(count);
    case DataType.STRING:
      return new Array<string>(count).fill('');
    default:
      throw new EdgetuneError('MODEL_UNSUPPORTED', `tensor data type ${dataTypeName(dataType)} is not supported`);
  }
}

/** Make a tensor; `values` may be a plain number array, converted to the dtype's array type. */
export function makeTensor(name: string, dataType: number, dims: number[], values: TensorValues | readonly number[]): Tensor {
  const count = elementCount(dims);
  let typed: TensorValues;
  if (Array.isArray(values) && dataType !== DataType.STRING) {
    typed = allocateValues(dataType, count);
    const nums = values as unknown as readonly number[];
    if (typed instanceof BigInt64Array || typed instanceof BigUint64Array) {
      for (let i = 0; i < count; i++) typed[i] = BigInt(Math.trunc(nums[i]!));
    } else if (dataType === DataType.FLOAT16) {
      for (let i = 0; i < count; i++) (typed as Uint16Array)[i] = float32ToFloat16Bits(nums[i]!);
    } else {
      (typed as Float32Array).set(nums as number[]);
    }
  } else {
    typed = values as TensorValues;
  }
  if (typed.length !== count) {
    throw new EdgetuneError('MODEL_INVALID', `tensor '${name}': ${typed.length} values for shape [${dims.join(',')}] (${count} elements)`);
  }
  return { name, dataType, dims: [...dims], values: typed };
}

/** Decode little-endian raw_data into element values. */
export function decodeRawData(name: string, dataType: number, dims: number[], raw: Uint8Array): TensorValues {
  const count = elementCount(dims);
  const bits = bitsPerElement(dataType);
  if (bits === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `tensor '${name}': raw data of type ${dataTypeName(dataType)} is not supported`);
  const expectedBytes = Math.ceil((count * bits) / 8);
  if (raw.byteLength !== expectedBytes) {
    throw new EdgetuneError(
      'MODEL_INVALID',
      `tensor '${name}': raw_data has ${raw.byteLength} bytes, shape [${dims.join(',')}] of ${dataTypeName(dataType)} needs ${expectedBytes}`,
    );
  }
  const values = allocateValues(dataType, count);
  if (bits === 4) {
    const out = values as Int8Array | Uint8Array;
    const signed = dataType === DataType.INT4;
    for (let i = 0; i < count; i++) {
      const byte = raw[i >> 1]!;
      let nibble = i & 1 ? byte >> 4 : byte & 0x0f;
      if (signed && nibble >= 8) nibble -= 16;
      out[i] = nibble;
    }
    return values;
  }
  // Copy: raw is often a view at an unaligned offset into the whole file buffer.
  const bytes = new Uint8Array((values as Exclude<TensorValues, string[]>).buffer);
  bytes.set(raw);
  return values;
}

/** Encode element values as little-endian raw_data bytes (int4/uint4 packed two per byte, low nibble first). */
export function encodeRawData(tensor: Tensor): Uint8Array {
  const { values, dataType } = tensor;
  if (Array.isArray(values)) throw new EdgetuneError('MODEL_UNSUPPORTED', `tensor '${tensor.name}': strings have no raw_data`);
  if (bitsPerElement(dataType) === 4) {
    const count = values.length;
    const out = new Uint8Array(Math.ceil(count / 2));
    for (let i = 0; i < count; i++) {
      const nibble = Number(values[i]) & 0x0f;
      out[i >> 1]! |= i & 1 ? nibble << 4 : nibble;
    }
    return out;
  }
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Element values as float32, decoding float16/bfloat16 bits and converting integers. */
export function tensorToFloat32(tensor: Tensor): Float32Array {
  const { values, dataType } = tensor;
  if (values instanceof Float32Array) return values;
  if (Array.isArray(values)) throw new EdgetuneError('MODEL_UNSUPPORTED', `tensor '${tensor.name}' holds strings`);
  const out = new Float32Array(values.length);
  if (dataType === DataType.FLOAT16) for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(values[i] as number);
  else if (dataType === DataType.BFLOAT16) for (let i = 0; i < out.length; i++) out[i] = bfloat16BitsToFloat32(values[i] as number);
  else for (let i = 0; i < out.length; i++) out[i] = Number(values[i]);
  return out;
}

/** Element values as plain numbers (int64 converted; values beyond ±2^53 saturate to ±Infinity-safe bounds). */
export function tensorToNumbers(tensor: Tensor): number[] {
  const { values } = tensor;
  if (Array.isArray(values)) throw new EdgetuneError('MODEL_UNSUPPORTED', `tensor '${tensor.name}' holds strings`);
  if (tensor.dataType === DataType.FLOAT16 || tensor.dataType === DataType.BFLOAT16) return Array.from(tensorToFloat32(tensor));
  const out: number[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  return out;
}

/** Size in bytes of a tensor's data as stored (int4 packed). */
export function tensorByteLength(tensor: Tensor): number {
  if (Array.isArray(tensor.values)) return tensor.values.reduce((n, s) => n + Buffer.byteLength(s), 0);
  return Math.ceil((tensor.values.length * bitsPerElement(tensor.dataType)) / 8);
}

/** A float32 tensor from a Float32Array. */
export function floatTensor(name: string, dims: number[], values: Float32Array | readonly number[]): Tensor {
  return makeTensor(name, DataType.FLOAT, dims, values instanceof Float32Array ? values : Float32Array.from(values));
}

/** An int64 tensor from numbers. */
export function int64Tensor(name: string, dims: number[], values: readonly number[]): Tensor {
  return makeTensor(name, DataType.INT64, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
}
