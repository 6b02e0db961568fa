import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { floatTensor } from '../onnx/tensor.js';
import type { Tensor } from '../onnx/ir.js';
import { EdgetuneError } from '../util/errors.js';

/** An 8-bit RGB image, row-major, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** A rectangle of an image in pixels (may be fractional). */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** How a model wants its image input: layout, channel order and normalisation `(v·scale − mean) / std` per channel. */
export interface ImageInputSpec {
  width: number;
  height: number;
  layout: 'nchw' | 'nhwc';
  /** `rgb1` appends a constant 1 channel (M-LSD's RGB + ones input). */
  channels: 'rgb' | 'bgr' | 'rgb1';
  /** Multiplier applied to the 0–255 value first (e.g. 1/255). */
  scale: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** Decode a JPEG file's bytes into RGB. Pure (no I/O). */
export function decodeJpeg(bytes: Uint8Array, label = 'image'): RgbImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `${label}: not a decodable JPEG (${(error as Error).message})`, { cause: error });
  }
  const rgb = new Uint8Array(decoded.width * decoded.height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = decoded.data[j]!;
    rgb[i + 1] = decoded.data[j + 1]!;
    rgb[i + 2] = decoded.data[j + 2]!;
  }
  return { width: decoded.width, height: decoded.height, rgb };
}

/**
 * Decode a PNG file's bytes into RGB: every colour type (grey, grey + alpha, RGB, palette, RGBA), bit depths 1–16
 * (16-bit rounded to 8), tRNS transparency; alpha is composited on white. Pure (no I/O).
 */
export function decodePng(bytes: Uint8Array, label = 'image'): RgbImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    // pngjs normalises every colour type and depth to 8-bit RGBA (palette expanded, tRNS applied, 16-bit rescaled).
    decoded = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `${label}: not a decodable PNG (${(error as Error).message})`, { cause: error });
  }
  const rgb = new Uint8Array(decoded.width * decoded.height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    const alpha = decoded.data[j + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = decoded.data[j + c]!;
      // Composite on white: v·a + 255·(1 − a), a in [0, 1].
      rgb[i + c] = alpha === 255 ? v : Math.round((v * alpha + 255 * (255 - alpha)) / 255);
    }
  }
  return { width: decoded.width, height: decoded.height, rgb };
}

/** The image formats `decodeImage` recognises by their first bytes. */
export type ImageFormat = 'jpeg' | 'png';

/** The format of an image file from its magic bytes (JPEG `FF D8 FF`, PNG `89 50 4E 47`), or null. Pure. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 4 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  return null;
}

/**
 * Decode a JPEG or PNG file's bytes into RGB, choosing the decoder by magic bytes (not by the file name).
 * Throws DATASET_INVALID naming `label` for any other content or an undecodable file. Pure (no I/O).
 */
export function decodeImage(bytes: Uint8Array, label = 'image'): RgbImage {
  const format = sniffImageFormat(bytes);
  if (format === 'jpeg') return decodeJpeg(bytes, label);
  if (format === 'png') return decodePng(bytes, label);
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new EdgetuneError(
    'DATASET_INVALID',
    `${label}: neither a JPEG (FF D8 FF) nor a PNG (89 50 4E 47) file; it starts with ${bytes.length === 0 ? 'nothing (empty file)' : head}`,
  );
}

/** Bilinear resample of `box` of `image` to `width`×`height` (align-corners off, like OpenCV's INTER_LINEAR). */
export function cropResize(image: RgbImage, box: CropBox, width: number, height: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const sx = box.width / width;
  const sy = box.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max(box.y + (y + 0.5) * sy - 0.5, 0), image.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max(box.x + (x + 0.5) * sx - 0.5, 0), image.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const a = image.rgb[(y0 * image.width + x0) * 3 + c]!;
        const b = image.rgb[(y0 * image.width + x1) * 3 + c]!;
        const d = image.rgb[(y1 * image.width + x0) * 3 + c]!;
        const e = image.rgb[(y1 * image.width + x1) * 3 + c]!;
        out[(y * width + x) * 3 + c] = Math.round((a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy);
      }
    }
  }
  return { width, height, rgb: out };
}

/** Turn an image of exactly the spec's size into a [1, C, H, W] or [1, H, W, C] float32 tensor. */
export function imageToTensor(name: string, image: RgbImage, spec: ImageInputSpec): Tensor {
  if (image.width !== spec.width || image.height !== spec.height) {
    throw new RangeError(`image is ${image.width}×${image.height}, the spec wants ${spec.width}×${spec.height}`);
  }
  const channels = spec.channels === 'rgb1' ? 4 : 3;
  const plane = spec.width * spec.height;
  const values = new Float32Array(plane * channels);
  const order = spec.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) {
      const v = c === 3 ? 1 : (image.rgb[p * 3 + order[c]!]! * spec.scale - spec.mean[c]!) / spec.std[c]!;
      values[spec.layout === 'nchw' ? c * plane + p : p * channels + c] = v;
    }
  }
  const dims = spec.layout === 'nchw' ? [1, channels, spec.height, spec.width] : [1, spec.height, spec.width, channels];
  return floatTensor(name, dims, values);
}

/** Rotate an image by 180° (for orientation classifiers). */
export function rotate180(image: RgbImage): RgbImage {
  const rgb = new Uint8Array(image.rgb.length);
  const n = image.width * image.height;
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) rgb[(n - 1 - p) * 3 + c] = image.rgb[p * 3 + c]!;
  return { width: image.width, height: image.height, rgb };
}
