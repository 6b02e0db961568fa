import { DataType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/ir.js';
import { elementCount } from '../onnx/ir.js';
import { EdgetuneError } from '../util/errors.js';

const DESCR: Record<string, { dataType: number; bytes: number; make: (buf: ArrayBuffer, n: number) => Tensor['values'] }> = {
  '<f4': { dataType: DataType.FLOAT, bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
  '<f8': { dataType: DataType.DOUBLE, bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
  '<i8': { dataType: DataType.INT64, bytes: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  '<i4': { dataType: DataType.INT32, bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
  '|u1': { dataType: DataType.UINT8, bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  '|i1': { dataType: DataType.INT8, bytes: 1, make: (b, n) => new Int8Array(b, 0, n) },
  '|b1': { dataType: DataType.BOOL, bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
};

/** Parse a NumPy .npy file (format 1.0–3.0, C order, little-endian numeric types) into a tensor. */
export function parseNpy(bytes: Uint8Array, name: string): Tensor {
  const fail = (why: string): never => {
    throw new EdgetuneError('DATASET_INVALID', `${name}: not a usable .npy file: ${why}`);
  };
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') fail('missing the \\x93NUMPY magic');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLength > bytes.length) fail('truncated header');
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? fail('no descr');
  if (/'fortran_order':\s*True/.test(header)) fail('Fortran-ordered arrays are not supported (save with np.ascontiguousarray)');
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail('no shape');
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  const type = DESCR[descr] ?? fail(`dtype '${descr}' is not supported (use float32, float64, int64, int32, uint8, int8, bool)`);
  const count = elementCount(dims);
  const dataStart = headerStart + headerLength;
  if (bytes.length - dataStart !== count * type.bytes) fail(`${bytes.length - dataStart} data bytes for shape (${dims.join(', ')}) of ${descr}`);
  // A copy of the data bytes alone: a Node Buffer's slice() is a view, and its .buffer the whole file (or a pool).
  const copy = Uint8Array.prototype.slice.call(bytes, dataStart).buffer;
  let values = type.make(copy, count);
  let dataType = type.dataType;
  if (dataType === DataType.DOUBLE) {
    values = Float32Array.from(values as Float64Array);
    dataType = DataType.FLOAT;
  }
  return { name, dataType, dims, values };
}

/** Interpret raw little-endian float32 bytes with a shape. */
export function parseRawFloat32(bytes: Uint8Array, dims: number[], name: string): Tensor {
  const count = elementCount(dims);
  if (bytes.length !== count * 4) {
    throw new EdgetuneError('DATASET_INVALID', `${name}: ${bytes.length} bytes, shape [${dims.join('x')}] of float32 needs ${count * 4}`);
  }
  return { name, dataType: DataType.FLOAT, dims, values: new Float32Array(Uint8Array.prototype.slice.call(bytes).buffer, 0, count) };
}

/** A .npy file (format 1.0, C order) of a little-endian array, as `np.save` writes it: header padded to 64 bytes. */
export function encodeNpy(descr: '<f4' | '<f8' | '<i8' | '<i4' | '|u1', shape: readonly number[], data: ArrayBufferView): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
