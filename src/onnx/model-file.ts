import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeSync, fsyncSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { decodeModel, encodeModel } from './model-codec.js';
import type { OnnxModel, Tensor } from './ir.js';
import { encodeRawData, tensorByteLength } from './tensor.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { fsyncDirectory, requireOutputDirectory, tempPathFor, writeFileAtomic } from '../util/atomic-file.js';

/** A model read from disk, with the facts reports need about the file. */
export interface LoadedModelFile {
  model: OnnxModel;
  path: string;
  bytes: number;
  sha256: string;
}

/** Largest single protobuf the ONNX toolchain accepts. */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;

/** Read and decode a model file, resolving external data beside it. Throws MODEL_INVALID naming the file. */
export function loadModelFile(path: string): LoadedModelFile {
  let bytes: Buffer;
  try {
    if (!existsSync(path)) throw new EdgetuneError('MODEL_INVALID', `model file '${path}' does not exist`);
    if (statSync(path).isDirectory()) throw new EdgetuneError('MODEL_INVALID', `model path '${path}' is a directory`);
    bytes = readFileSync(path);
  } catch (error) {
    if (error instanceof EdgetuneError) throw error;
    throw new EdgetuneError('MODEL_INVALID', `cannot read model '${path}': ${messageOf(error)}`, { cause: error });
  }
  if (bytes.length === 0) throw new EdgetuneError('MODEL_INVALID', `model file '${path}' is empty`);
  const modelDir = dirname(resolve(path));
  let model: OnnxModel;
  try {
    model = decodeModel(bytes, { readExternal: (location, offset, length, tensorName) => readExternalData(modelDir, location, offset, length, tensorName) });
  } catch (error) {
    if (error instanceof EdgetuneError) throw new EdgetuneError(error.code, `${path}: ${error.message}`, { cause: error });
    throw new EdgetuneError('MODEL_INVALID', `${path}: ${messageOf(error)}`, { cause: error });
  }
  return { model, path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function readExternalData(modelDir: string, location: string, offsetBytes: number, lengthBytes: number | undefined, tensorName: string): Uint8Array {
  // External data paths come from the model file: keep them inside the model's directory.
  const normalized = normalize(location);
  if (isAbsolute(normalized) || normalized.startsWith('..') || normalized.includes(`${sep}..${sep}`)) {
    throw new EdgetuneError('MODEL_INVALID', `tensor '${tensorName}': external data location '${location}' points outside the model's directory`);
  }
  const filePath = join(modelDir, normalized);
  let fd: number | undefined;
  try {
    fd = openSync(filePath, 'r');
    const size = statSync(filePath).size;
    const length = lengthBytes ?? size - offsetBytes;
    if (offsetBytes < 0 || length < 0 || offsetBytes + length > size) {
      throw new EdgetuneError('MODEL_INVALID', `tensor '${tensorName}': external data [${offsetBytes}, +${length}) is outside '${location}' (${size} bytes)`);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offsetBytes + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  } catch (error) {
    if (error instanceof EdgetuneError) throw error;
    throw new EdgetuneError('MODEL_INVALID', `tensor '${tensorName}': cannot read external data '${location}': ${messageOf(error)}`, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Options for saving a model. */
export interface SaveModelOptions {
  /** Refuse to overwrite this path (the input model). */
  inputPath?: string;
  /** Move initializers to a side file when the encoded model would exceed this many bytes (default: protobuf limit). */
  externalDataThresholdBytes?: number;
}

/** The result of saving: path, size, digest. */
export interface SavedModelFile {
  path: string;
  bytes: number;
  sha256: string;
  externalDataPath: string | null;
}

/**
 * Encode and write a model atomically (temp file + rename); never overwrites `inputPath`. When the model would
 * pass the protobuf limit, large initializers go to `<name>.data` beside it (4096-aligned offsets).
 */
export function saveModelFile(path: string, model: OnnxModel, options: SaveModelOptions = {}): SavedModelFile {
  if (options.inputPath && resolve(options.inputPath) === resolve(path)) {
    throw new EdgetuneError('USAGE', `output '${path}' is the input model; edgetune never overwrites its input`);
  }
  requireOutputDirectory(path);
  const threshold = options.externalDataThresholdBytes ?? PROTOBUF_LIMIT_BYTES;
  const weightBytes = [...model.graph.initializers.values()].reduce((n, t) => n + tensorByteLength(t), 0);
  if (weightBytes + 16 * 1024 * 1024 < threshold) {
    const bytes = encodeModel(model);
    if (bytes.length <= threshold) {
      writeFileAtomic(path, bytes);
      return { path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), externalDataPath: null };
    }
  }
  return saveWithExternalData(path, model);
}

function saveWithExternalData(path: string, model: OnnxModel): SavedModelFile {
  const dataName = `${basename(path)}.data`;
  const dataPath = join(dirname(path), dataName);
  const tempData = tempPathFor(dataPath);
  const initializers = new Map<string, Tensor>();
  let offset = 0;
  const fd = openSync(tempData, 'wx', 0o644);
  try {
    for (const [name, tensor] of model.graph.initializers) {
      if (Array.isArray(tensor.values) || tensorByteLength(tensor) < 1024) {
        initializers.set(name, tensor);
        continue;
      }
      const offsetBytes = Math.ceil(offset / 4096) * 4096;
      const raw = encodeRawData(tensor);
      writeSync(fd, raw, 0, raw.length, offsetBytes);
      initializers.set(name, { ...tensor, external: { location: dataName, offsetBytes, lengthBytes: raw.length } });
      offset = offsetBytes + raw.length;
    }
    fsyncSync(fd);
    closeSync(fd);
    const bytes = encodeModel({ ...model, graph: { ...model.graph, initializers } });
    renameSync(tempData, dataPath);
    writeFileAtomic(path, bytes);
    fsyncDirectory(dirname(path));
    return { path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), externalDataPath: dataPath };
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tempData, { force: true });
    throw error;
  }
}
