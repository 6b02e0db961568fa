/**
 * A folder of JPEG/PNG images as a dataset (the adapter that reads the disk): listed once, decoded lazily one by
 * one. Decoding itself is pure (`decodeImage` in src/compress/image-tensor.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, type RgbImage } from '../compress/image-tensor.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** One decoded image of a folder. */
export interface FolderImage {
  /** The file's name inside the folder (no directory), as COCO `file_name` refers to it. */
  fileName: string;
  image: RgbImage;
}

/** An opened image folder: file names sorted, images decoded on demand. */
export interface ImageFolder {
  dir: string;
  /** Image file names (`*.jpg`, `*.jpeg`, `*.png`, any case), sorted by code point. */
  fileNames: string[];
  /** Read and decode image `index`; throws DATASET_INVALID naming the file when it cannot be read or decoded. */
  load(index: number): FolderImage;
}

const IMAGE_PATTERN = /\.(jpe?g|png)$/i;
const ONNX_SET_PATTERN = /^test_data_set_\d+$/;

/**
 * Open `dir` as an image folder: lists its JPEG/PNG files (by extension, case-insensitive; sub-directories are not
 * searched) sorted by name. Throws DATASET_INVALID when `dir` is not a directory or holds no image.
 */
export function openImageFolder(dir: string): ImageFolder {
  const fileNames = listImages(dir);
  if (fileNames.length === 0) {
    throw new EdgetuneError('DATASET_INVALID', `image folder '${dir}' holds no .jpg, .jpeg or .png file`);
  }
  return {
    dir,
    fileNames,
    load(index: number): FolderImage {
      const fileName = fileNames[index];
      if (fileName === undefined) throw new RangeError(`image folder '${dir}' has ${fileNames.length} images; index ${index} is out of range`);
      const path = join(dir, fileName);
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch (error) {
        throw new EdgetuneError('DATASET_INVALID', `cannot read image '${path}': ${messageOf(error)}`, { cause: error });
      }
      return { fileName, image: decodeImage(bytes, `image '${path}'`) };
    },
  };
}

/**
 * True when `dir` is a directory of images rather than the ONNX test-data layout: it holds at least one
 * `*.jpg`/`*.jpeg`/`*.png` file and no `test_data_set_N` directory (a folder with both is read as test data).
 */
export function isImageFolder(dir: string): boolean {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) return false;
    entries = readdirSync(dir);
  } catch {
    return false;
  }
  if (entries.some((name) => ONNX_SET_PATTERN.test(name) && isDirectory(join(dir, name)))) return false;
  return entries.some((name) => IMAGE_PATTERN.test(name) && isFile(join(dir, name)));
}

function listImages(dir: string): string[] {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new EdgetuneError('DATASET_INVALID', `image folder '${dir}' is not a directory`);
    entries = readdirSync(dir);
  } catch (error) {
    if (error instanceof EdgetuneError) throw error;
    throw new EdgetuneError('DATASET_INVALID', `cannot read image folder '${dir}': ${messageOf(error)}`, { cause: error });
  }
  // Plain code-point order: the same on every machine and locale.
  return entries.filter((name) => IMAGE_PATTERN.test(name) && isFile(join(dir, name))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
