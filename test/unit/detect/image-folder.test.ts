import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isImageFolder, openImageFolder } from '../../../src/detect/image-folder.js';

function pngBytes(width: number, height: number, rgb: [number, number, number]): Buffer {
  const png = new PNG({ width, height });
  for (let p = 0; p < width * height; p++) png.data.set([...rgb, 255], p * 4);
  return PNG.sync.write(png);
}

function jpegBytes(width: number, height: number): Buffer {
  return Buffer.from(jpeg.encode({ width, height, data: Buffer.alloc(width * height * 4, 128) }, 90).data);
}

/** Every entry under `dir` with its size and mtime, to show that nothing was written. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .sort()
    .map((name) => {
      const stat = statSync(join(dir, name));
      return `${name} ${stat.size} ${stat.mtimeMs}`;
    });
}

function errorOf(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('openImageFolder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgetune-images-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists JPEG and PNG files of any case sorted by name, skipping other files and folders', () => {
    writeFileSync(join(dir, 'b.PNG'), pngBytes(3, 2, [1, 2, 3]));
    writeFileSync(join(dir, 'a.jpeg'), jpegBytes(4, 4));
    writeFileSync(join(dir, 'C.JPG'), jpegBytes(2, 2));
    writeFileSync(join(dir, 'labels.json'), '{}');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    mkdirSync(join(dir, 'sub.jpg'));
    const folder = openImageFolder(dir);
    expect(folder.fileNames).toEqual(['C.JPG', 'a.jpeg', 'b.PNG']);
    const b = folder.load(2);
    expect(b.fileName).toBe('b.PNG');
    expect([b.image.width, b.image.height]).toEqual([3, 2]);
    expect(Array.from(b.image.rgb.subarray(0, 3))).toEqual([1, 2, 3]);
    expect(folder.load(1).image.width).toBe(4);
    expect(() => folder.load(3)).toThrow(RangeError);
  });

  it('decodes lazily: a broken file fails only when loaded, naming the file, and nothing is written', () => {
    writeFileSync(join(dir, 'good.png'), pngBytes(2, 2, [9, 9, 9]));
    writeFileSync(join(dir, 'bad.jpg'), Buffer.from('this is not a picture'));
    writeFileSync(join(dir, 'cut.png'), pngBytes(8, 8, [1, 1, 1]).subarray(0, 40));
    const before = snapshot(dir);
    const folder = openImageFolder(dir);
    expect(folder.fileNames).toEqual(['bad.jpg', 'cut.png', 'good.png']);
    expect(folder.load(2).image.width).toBe(2);
    const bad = errorOf(() => folder.load(0));
    expect(bad.code).toBe('DATASET_INVALID');
    expect(bad.message).toContain(join(dir, 'bad.jpg'));
    expect(bad.message).toMatch(/neither a JPEG .* nor a PNG/);
    const cut = errorOf(() => folder.load(1));
    expect(cut.code).toBe('DATASET_INVALID');
    expect(cut.message).toContain(join(dir, 'cut.png'));
    expect(cut.message).toMatch(/not a decodable PNG/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('reports a file that vanished after listing as unreadable, naming it', () => {
    writeFileSync(join(dir, 'gone.jpg'), jpegBytes(2, 2));
    const folder = openImageFolder(dir);
    unlinkSync(join(dir, 'gone.jpg'));
    const error = errorOf(() => folder.load(0));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toContain(`cannot read image '${join(dir, 'gone.jpg')}'`);
  });

  it('rejects an empty folder, a folder without images, a missing folder and a file, naming them', () => {
    const empty = errorOf(() => openImageFolder(dir));
    expect(empty.code).toBe('DATASET_INVALID');
    expect(empty.message).toBe(`image folder '${dir}' holds no .jpg, .jpeg or .png file`);
    writeFileSync(join(dir, 'readme.txt'), 'no images here');
    expect(errorOf(() => openImageFolder(dir)).code).toBe('DATASET_INVALID');
    const missing = errorOf(() => openImageFolder(join(dir, 'nope')));
    expect(missing.code).toBe('DATASET_INVALID');
    expect(missing.message).toContain(join(dir, 'nope'));
    const file = errorOf(() => openImageFolder(join(dir, 'readme.txt')));
    expect(file.message).toBe(`image folder '${join(dir, 'readme.txt')}' is not a directory`);
    expect(readdirSync(dir)).toEqual(['readme.txt']);
  });
});

describe('isImageFolder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgetune-images-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells an image folder from the ONNX test-data layout', () => {
    expect(isImageFolder(dir)).toBe(false); // empty
    expect(isImageFolder(join(dir, 'missing'))).toBe(false);
    writeFileSync(join(dir, 'x.Jpg'), jpegBytes(2, 2));
    expect(isImageFolder(dir)).toBe(true);
    expect(isImageFolder(join(dir, 'x.Jpg'))).toBe(false); // a file, not a folder
    mkdirSync(join(dir, 'test_data_set_0'));
    expect(isImageFolder(dir)).toBe(false); // test data wins
  });

  it('says false for a test-data folder and for a folder of other files', () => {
    mkdirSync(join(dir, 'test_data_set_0'));
    writeFileSync(join(dir, 'test_data_set_0', 'input_0.pb'), Buffer.alloc(4));
    expect(isImageFolder(dir)).toBe(false);
    rmSync(join(dir, 'test_data_set_0'), { recursive: true });
    writeFileSync(join(dir, 'labels.json'), '{}');
    expect(isImageFolder(dir)).toBe(false);
  });
});
