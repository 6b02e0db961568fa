import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDirectory } from '../util/atomic-file.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

const MAGIC = 'EDGETUNE-DATASET-1\n';
const MAX_HEADER_BYTES = 1024 * 1024;
const MAX_FILES = 100_000;

/**
 * Names a dataset bundle may contain: the ONNX test-data layout and, per set, edgetune's `meta.json` (an image
 * set's source file and frame, src/detect/image-dataset.ts), and nothing else (never used as given).
 */
export const DATASET_ENTRY_PATTERN = /^test_data_set_(0|[1-9]\d{0,5})\/((input_(0|[1-9]\d{0,3})|output_(0|[1-9]\d{0,3})|label)\.pb|meta\.json)$/;
/** Largest `meta.json` of a set (it holds a file name and a frame: a few hundred bytes). */
export const MAX_SET_META_BYTES = 64 * 1024;

/** A set's `meta.json` over {@link MAX_SET_META_BYTES}: DATASET_INVALID naming it. */
function checkMetaSize(path: string, bytes: number, where: string): void {
  if (path.endsWith('/meta.json') && bytes > MAX_SET_META_BYTES) {
    throw new EdgetuneError('DATASET_INVALID', `${where}${path} is ${bytes} bytes; a set's meta.json holds at most ${MAX_SET_META_BYTES} (${MAX_SET_META_BYTES / 1024} KiB)`);
  }
}

/** One file of a bundle. */
export interface DatasetBundleEntry {
  path: string;
  bytes: number;
}

/**
 * List the files of a dataset directory in the ONNX test-data layout, with each set's `meta.json` (sorted);
 * DATASET_INVALID if there are none, or a meta.json is over the cap.
 */
export function listDatasetFiles(dir: string): DatasetBundleEntry[] {
  let sets: string[];
  try {
    sets = readdirSync(dir).filter((n) => /^test_data_set_\d+$/.test(n));
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `cannot read dataset directory ${dir}: ${messageOf(error)}`, { cause: error });
  }
  const out: DatasetBundleEntry[] = [];
  for (const set of sets.sort()) {
    const setDir = join(dir, set);
    if (!statSync(setDir).isDirectory()) continue;
    for (const file of readdirSync(setDir).sort()) {
      const rel = `${set}/${file}`;
      if (!DATASET_ENTRY_PATTERN.test(rel)) continue;
      const st = statSync(join(setDir, file));
      if (!st.isFile()) continue;
      checkMetaSize(rel, st.size, `${dir}: `);
      out.push({ path: rel, bytes: st.size });
    }
  }
  if (!out.some((e) => e.path.endsWith('.pb'))) throw new EdgetuneError('DATASET_INVALID', `${dir} holds no test_data_set_N/input_N.pb files (the ONNX test-data layout)`);
  return out;
}

/** Pack a dataset directory into one bundle file (header + concatenated files), written atomically. */
export function packDatasetBundle(dir: string, outPath: string): { bytes: number; files: number } {
  const entries = listDatasetFiles(dir);
  const header = Buffer.from(`${MAGIC}${JSON.stringify({ files: entries })}\n`, 'utf8');
  mkdirSync(dirname(outPath), { recursive: true });
  const temp = join(dirname(outPath), `.edgetune-tmp-${basename(outPath)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fd = openSync(temp, 'wx', 0o644);
  let total = 0;
  try {
    const writeAll = (buf: Buffer): void => {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      total += buf.length;
    };
    writeAll(header);
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (const e of entries) {
      const src = openSync(join(dir, e.path), 'r');
      try {
        let left = e.bytes;
        while (left > 0) {
          const n = readSync(src, buf, 0, Math.min(buf.length, left), null);
          if (n === 0) throw new EdgetuneError('DATASET_INVALID', `${e.path} shrank while packing`);
          writeAll(buf.subarray(0, n));
          left -= n;
        }
      } finally {
        closeSync(src);
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, outPath);
    fsyncDirectory(dirname(outPath));
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temp, { force: true });
    throw error;
  }
  return { bytes: total, files: entries.length };
}

/** Parse and validate a bundle header; returns the entries and where the data starts. */
export function parseDatasetBundleHeader(head: Buffer, fileBytes: number): { entries: DatasetBundleEntry[]; dataOffset: number } {
  const magic = Buffer.from(MAGIC, 'utf8');
  if (head.length < magic.length || !head.subarray(0, magic.length).equals(magic)) {
    throw new EdgetuneError('DATASET_INVALID', 'dataset bundle does not start with the edgetune bundle header');
  }
  const nl = head.indexOf(0x0a, magic.length);
  if (nl < 0) throw new EdgetuneError('DATASET_INVALID', `dataset bundle header is longer than ${MAX_HEADER_BYTES} bytes or truncated`);
  let header: unknown;
  try {
    header = JSON.parse(head.subarray(magic.length, nl).toString('utf8'));
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `dataset bundle header is not JSON: ${messageOf(error)}`, { cause: error });
  }
  const files = (header as { files?: unknown }).files;
  if (!Array.isArray(files) || files.length === 0 || files.length > MAX_FILES) throw new EdgetuneError('DATASET_INVALID', 'dataset bundle header lists no files');
  const seen = new Set<string>();
  let sum = 0;
  const entries: DatasetBundleEntry[] = files.map((f: unknown, i: number) => {
    const e = f as { path?: unknown; bytes?: unknown };
    if (typeof e.path !== 'string' || !DATASET_ENTRY_PATTERN.test(e.path)) {
      throw new EdgetuneError('DATASET_INVALID', `dataset bundle entry ${i} has a name outside the ONNX test-data layout: ${JSON.stringify(e.path)}`);
    }
    if (typeof e.bytes !== 'number' || !Number.isInteger(e.bytes) || e.bytes < 0) throw new EdgetuneError('DATASET_INVALID', `dataset bundle entry ${e.path} has no valid size`);
    checkMetaSize(e.path, e.bytes, 'dataset bundle entry ');
    if (seen.has(e.path)) throw new EdgetuneError('DATASET_INVALID', `dataset bundle lists ${e.path} twice`);
    seen.add(e.path);
    sum += e.bytes;
    return { path: e.path, bytes: e.bytes };
  });
  const dataOffset = nl + 1;
  if (dataOffset + sum !== fileBytes) {
    throw new EdgetuneError('DATASET_INVALID', `dataset bundle header lists ${sum} bytes of files but ${fileBytes - dataOffset} follow it`);
  }
  return { entries, dataOffset };
}

/**
 * Extract a verified bundle into `destDir` (via a temporary sibling directory renamed into place). Entry names are
 * checked against the test-data layout pattern, so nothing can be written outside `destDir`.
 */
export function unpackDatasetBundle(bundlePath: string, destDir: string): DatasetBundleEntry[] {
  const fd = openSync(bundlePath, 'r');
  const temp = `${destDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, MAX_HEADER_BYTES));
    readSync(fd, head, 0, head.length, 0);
    const { entries, dataOffset } = parseDatasetBundleHeader(head, size);
    mkdirSync(temp, { recursive: true });
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = dataOffset;
    for (const e of entries) {
      const [setName, fileName] = e.path.split('/') as [string, string];
      mkdirSync(join(temp, setName), { recursive: true });
      const out = openSync(join(temp, setName, fileName), 'wx', 0o644);
      try {
        let left = e.bytes;
        while (left > 0) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, left), pos);
          if (n === 0) throw new EdgetuneError('DATASET_INVALID', `dataset bundle ends inside ${e.path}`);
          let off = 0;
          while (off < n) off += writeSync(out, buf, off, n - off);
          pos += n;
          left -= n;
        }
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
    }
    if (existsSync(destDir)) rmSync(destDir, { recursive: true, force: true });
    renameSync(temp, destDir);
    fsyncDirectory(dirname(destDir));
    return entries;
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  } finally {
    closeSync(fd);
  }
}
