import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG, type ColorType } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeJpeg, decodePng, sniffImageFormat } from '../../../src/compress/image-tensor.js';
import { EdgetuneError } from '../../../src/util/errors.js';

/** Write a PNG with pngjs from raw samples already in `colorType` layout (8- or 16-bit). */
function pngjsWrite(width: number, height: number, colorType: ColorType, bitDepth: 8 | 16, samples: number[]): Buffer {
  const png = new PNG({ width, height });
  png.data = bitDepth === 16 ? Buffer.from(new Uint16Array(samples).buffer) : Buffer.from(samples);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, bitDepth, inputHasAlpha: colorType === 4 || colorType === 6 });
}

/** A PNG chunk: length, type, data, CRC over type + data (PNG spec §5.3). */
function chunk(type: string, data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A hand-built PNG (pngjs cannot write palette or sub-byte images): rows are already packed, filter 0. */
function handPng(width: number, height: number, bitDepth: number, colorType: number, rows: number[][], extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const raw = Buffer.from(rows.flatMap((row) => [0, ...row]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function pixels(image: { rgb: Uint8Array }): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < image.rgb.length; i += 3) out.push([image.rgb[i]!, image.rgb[i + 1]!, image.rgb[i + 2]!]);
  return out;
}

describe('decodePng', () => {
  it('decodes 8-bit RGB exactly', () => {
    const image = decodePng(pngjsWrite(2, 1, 2, 8, [10, 20, 30, 200, 150, 100]));
    expect(image.width).toBe(2);
    expect(image.height).toBe(1);
    expect(pixels(image)).toEqual([[10, 20, 30], [200, 150, 100]]);
  });

  it('decodes 8-bit grey to equal R, G, B', () => {
    const image = decodePng(pngjsWrite(3, 1, 0, 8, [0, 128, 255]));
    expect(pixels(image)).toEqual([[0, 0, 0], [128, 128, 128], [255, 255, 255]]);
  });

  it('composites grey + alpha on white', () => {
    // grey 0 at alpha 255, 0 at alpha 0, 100 at alpha 128: 100·128/255 + 255·127/255 = 177.2 → 177
    const image = decodePng(pngjsWrite(3, 1, 4, 8, [0, 255, 0, 0, 100, 128]));
    expect(pixels(image)).toEqual([[0, 0, 0], [255, 255, 255], [177, 177, 177]]);
  });

  it('composites RGBA on white', () => {
    // (200, 0, 50) at alpha 64: v·64/255 + 255·191/255 → 241.2, 191, 203.5
    const image = decodePng(pngjsWrite(2, 1, 6, 8, [1, 2, 3, 255, 200, 0, 50, 64]));
    expect(pixels(image)).toEqual([[1, 2, 3], [241, 191, 204]]);
  });

  it('rounds 16-bit RGB and grey to 8 bits', () => {
    const rgb16 = decodePng(pngjsWrite(2, 1, 2, 16, [0, 32896, 65535, 257, 514, 65280]));
    expect(pixels(rgb16)).toEqual([[0, 128, 255], [1, 2, 254]]);
    const grey16 = decodePng(pngjsWrite(2, 1, 0, 16, [65535, 25700]));
    expect(pixels(grey16)).toEqual([[255, 255, 255], [100, 100, 100]]);
  });

  it('composites 16-bit RGBA and grey + alpha on white', () => {
    const rgba16 = decodePng(pngjsWrite(1, 1, 6, 16, [0, 0, 0, 32896])); // black at alpha 128/255
    expect(pixels(rgba16)).toEqual([[127, 127, 127]]);
    const ga16 = decodePng(pngjsWrite(1, 1, 4, 16, [65535, 0])); // white, fully transparent
    expect(pixels(ga16)).toEqual([[255, 255, 255]]);
  });

  it('expands a palette image, with tRNS alpha composited on white', () => {
    const plte = chunk('PLTE', Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]));
    const trns = chunk('tRNS', Uint8Array.from([255, 0, 128])); // entry 1 transparent, entry 2 half
    const image = decodePng(handPng(3, 2, 8, 3, [[0, 1, 2], [2, 1, 0]], [plte, trns]));
    expect(image.width).toBe(3);
    expect(image.height).toBe(2);
    // blue at alpha 128: (0, 0, 255) → 255·127/255 = 127 for R and G, 255 for B
    expect(pixels(image)).toEqual([[255, 0, 0], [255, 255, 255], [127, 127, 255], [127, 127, 255], [255, 255, 255], [255, 0, 0]]);
  });

  it('expands a 4-bit palette image', () => {
    const plte = chunk('PLTE', Uint8Array.from([10, 20, 30, 40, 50, 60]));
    const image = decodePng(handPng(2, 1, 4, 3, [[0x10]], [plte])); // indices 1, 0 packed in one byte
    expect(pixels(image)).toEqual([[40, 50, 60], [10, 20, 30]]);
  });

  it('scales a 1-bit grey image to 0 and 255', () => {
    const image = decodePng(handPng(3, 1, 1, 0, [[0b10100000]]));
    expect(pixels(image)).toEqual([[255, 255, 255], [0, 0, 0], [255, 255, 255]]);
  });

  it('rejects a truncated PNG with DATASET_INVALID naming the file', () => {
    const bytes = pngjsWrite(2, 1, 2, 8, [10, 20, 30, 200, 150, 100]);
    const error = captureError(() => decodePng(bytes.subarray(0, 30), 'faces/a.png'));
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('DATASET_INVALID');
    expect((error as Error).message).toMatch(/^faces\/a\.png: not a decodable PNG/);
  });
});

describe('sniffImageFormat and decodeImage', () => {
  const jpegBytes = jpeg.encode({ width: 2, height: 2, data: Buffer.alloc(16, 200) }, 95).data;

  it('recognises JPEG and PNG by their first bytes', () => {
    expect(sniffImageFormat(jpegBytes)).toBe('jpeg');
    expect(sniffImageFormat(pngjsWrite(1, 1, 2, 8, [1, 2, 3]))).toBe('png');
    expect(sniffImageFormat(Uint8Array.from([0x47, 0x49, 0x46, 0x38]))).toBeNull();
    expect(sniffImageFormat(Uint8Array.from([0xff, 0xd8]))).toBeNull();
    expect(sniffImageFormat(new Uint8Array(0))).toBeNull();
  });

  it('decodes by content, not by name', () => {
    const fromPng = decodeImage(pngjsWrite(1, 1, 2, 8, [1, 2, 3]), 'looks-like.jpg');
    expect(pixels(fromPng)).toEqual([[1, 2, 3]]);
    const fromJpeg = decodeImage(jpegBytes, 'looks-like.png');
    expect(fromJpeg.width).toBe(2);
    expect(pixels(fromJpeg).every((p) => p.every((v) => Math.abs(v - 200) <= 2))).toBe(true);
    expect(decodeJpeg(jpegBytes).rgb).toEqual(fromJpeg.rgb);
  });

  it('rejects a GIF, text and an empty file with DATASET_INVALID naming the file', () => {
    for (const [bytes, what] of [
      [Buffer.from('GIF89a....'), /47 49 46 38/],
      [Buffer.from('hello'), /68 65 6c 6c/],
      [new Uint8Array(0), /empty file/],
    ] as const) {
      const error = captureError(() => decodeImage(bytes, 'data/x.png'));
      expect((error as EdgetuneError).code).toBe('DATASET_INVALID');
      expect((error as Error).message).toMatch(/^data\/x\.png: neither a JPEG/);
      expect((error as Error).message).toMatch(what);
    }
  });

  it('rejects a JPEG header with a broken body with DATASET_INVALID naming the file', () => {
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(40, 7)]);
    const error = captureError(() => decodeImage(broken, 'photos/broken.jpg'));
    expect((error as EdgetuneError).code).toBe('DATASET_INVALID');
    expect((error as Error).message).toMatch(/^photos\/broken\.jpg: not a decodable JPEG/);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
