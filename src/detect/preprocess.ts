/**
 * Fit a source image into a detector's input (letterbox, stretch, or PaddleOCR's limit-side resize) and turn it into
 * the input tensor. Pure: images in, image + InputFrame out; the frame is what `toSourcePixels` undoes.
 */
import { cropResize, imageToTensor, type RgbImage } from '../compress/image-tensor.js';
import type { Tensor } from '../onnx/ir.js';
import { EdgetuneError } from '../util/errors.js';
import type { InputFrame } from './detection-types.js';

/**
 * How a detector wants its input image: tensor layout, channel order, normalisation `(v·scale − mean) / std` on
 * 0–255 values, and how the source is fitted into the model's size. Decoders export presets of this shape.
 */
export interface DetectionInputPreset {
  layout: 'nhwc' | 'nchw';
  channels: 'rgb' | 'bgr';
  /** Multiplier applied to the 0–255 value first (e.g. 1/255). */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  /**
   * `letterbox`: one scale keeps the aspect ratio, the rest is padded evenly on both sides (YOLO, MediaPipe).
   * `stretch`: each axis scaled to the input size on its own. `limit-side`: PaddleOCR's `DetResizeForTest` for
   * dynamic-size models (scale by the limit, round each side to `multipleOf`).
   */
  resize: 'letterbox' | 'stretch' | 'limit-side';
  /** Letterbox padding as a 0–255 pixel value before normalisation (default 0; YOLO uses 114). */
  padValue?: number;
  /** limit-side: the side length limit (default 736, PaddleOCR's `DetResizeForTest` default). */
  limitSideLen?: number;
  /** limit-side: `max` shrinks until the longer side ≤ limit; `min` grows until the shorter side ≥ limit (default). */
  limitType?: 'max' | 'min';
  /** limit-side: each output side is rounded to a multiple of this (default 32). */
  multipleOf?: number;
}

/** The model input's spatial size; null for a dynamic axis. */
export interface ModelInputSize {
  width: number | null;
  height: number | null;
}

/** A source image fitted into the model input, and the frame that maps input pixels back to it. */
export interface FittedImage {
  image: RgbImage;
  frame: InputFrame;
}

/** PaddleOCR `DetResizeForTest.max_side_limit` default: no resized side exceeds it. */
const PADDLE_MAX_SIDE_LIMIT = 4000;

/**
 * Fit `image` into the model input per `preset.resize`. Letterbox and stretch need a fixed model size; limit-side
 * computes the size itself on a dynamic model and, on a fixed one, resizes to that size (PaddleOCR's `image_shape`
 * mode). Throws EdgetuneError('USAGE') when the mode and the model's input size do not go together.
 */
export function fitImage(image: RgbImage, preset: DetectionInputPreset, modelInput: ModelInputSize): FittedImage {
  if (image.width < 1 || image.height < 1) throw new RangeError(`image is ${image.width}×${image.height}; both sides must be ≥ 1`);
  switch (preset.resize) {
    case 'letterbox': {
      const { width, height } = fixedSize(modelInput, 'letterbox');
      return letterbox(image, width, height, preset.padValue ?? 0);
    }
    case 'stretch': {
      const { width, height } = fixedSize(modelInput, 'stretch');
      return stretch(image, width, height);
    }
    case 'limit-side': {
      if (modelInput.width !== null && modelInput.height !== null) return stretch(image, modelInput.width, modelInput.height);
      if (modelInput.width !== null || modelInput.height !== null) {
        throw new EdgetuneError(
          'USAGE',
          `limit-side resize needs a model input with both width and height dynamic (or both fixed); it has width ${modelInput.width ?? 'dynamic'}, height ${modelInput.height ?? 'dynamic'}`,
        );
      }
      return limitSide(image, preset);
    }
    default:
      throw new RangeError(`preset.resize must be 'letterbox', 'stretch' or 'limit-side', got '${String((preset as { resize: unknown }).resize)}'`);
  }
}

/** Turn a fitted image (from `fitImage`) into the detector's float32 input tensor named `name`. */
export function detectionInputTensor(name: string, fitted: RgbImage, preset: DetectionInputPreset): Tensor {
  return imageToTensor(name, fitted, {
    width: fitted.width,
    height: fitted.height,
    layout: preset.layout,
    channels: preset.channels,
    scale: preset.scale,
    mean: preset.mean,
    std: preset.std,
  });
}

/**
 * The output size PaddleOCR's `DetResizeForTest.resize_image_type0` picks for an `width`×`height` image (after its
 * small-image padding): ratio from the limit, `int()` truncation, the 4000 px cap, then each side rounded (Python's
 * round, half to even) to a multiple of `multipleOf`, at least `multipleOf`.
 */
export function limitSideSize(
  width: number,
  height: number,
  limitSideLen: number,
  limitType: 'max' | 'min',
  multipleOf = 32,
): { width: number; height: number } {
  if (!(limitSideLen > 0)) throw new RangeError(`limitSideLen must be > 0, got ${limitSideLen}`);
  if (!Number.isInteger(multipleOf) || multipleOf < 1) throw new RangeError(`multipleOf must be a positive integer, got ${multipleOf}`);
  let ratio = 1;
  if (limitType === 'max') {
    if (Math.max(height, width) > limitSideLen) ratio = height > width ? limitSideLen / height : limitSideLen / width;
  } else if (limitType === 'min') {
    if (Math.min(height, width) < limitSideLen) ratio = height < width ? limitSideLen / height : limitSideLen / width;
  } else {
    throw new RangeError(`limitType must be 'max' or 'min', got '${String(limitType)}'`);
  }
  let resizedH = Math.trunc(height * ratio);
  let resizedW = Math.trunc(width * ratio);
  if (Math.max(resizedH, resizedW) > PADDLE_MAX_SIDE_LIMIT) {
    const cap = PADDLE_MAX_SIDE_LIMIT / Math.max(resizedH, resizedW);
    resizedH = Math.trunc(resizedH * cap);
    resizedW = Math.trunc(resizedW * cap);
  }
  return {
    width: Math.max(roundHalfEven(resizedW / multipleOf) * multipleOf, multipleOf),
    height: Math.max(roundHalfEven(resizedH / multipleOf) * multipleOf, multipleOf),
  };
}

/** Python 3's `round(x)`: to the nearest integer, ties to the even one. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function fixedSize(modelInput: ModelInputSize, mode: string): { width: number; height: number } {
  const { width, height } = modelInput;
  if (width === null || height === null) {
    throw new EdgetuneError(
      'USAGE',
      `${mode} resize needs a fixed model input size; the model's input has width ${width ?? 'dynamic'}, height ${height ?? 'dynamic'} (use limit-side for dynamic-size models)`,
    );
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`modelInput must be positive integers, got ${width}×${height}`);
  }
  return { width, height };
}

function stretch(image: RgbImage, width: number, height: number): FittedImage {
  const resized = cropResize(image, { x: 0, y: 0, width: image.width, height: image.height }, width, height);
  return { image: resized, frame: frameOf(image, width, height, width / image.width, height / image.height, 0, 0) };
}

/**
 * Letterbox as Ultralytics' `LetterBox` does it: scale r = min(W/w, H/h), resized size round(w·r)×round(h·r),
 * padding split evenly with the odd pixel on the right/bottom (`round(d − 0.1)`). The frame records the exact
 * per-axis scale of the resample (resized/source, within half a pixel of r) so that `toSourcePixels` inverts
 * precisely what was drawn.
 */
function letterbox(image: RgbImage, width: number, height: number, padValue: number): FittedImage {
  if (!(padValue >= 0 && padValue <= 255)) throw new RangeError(`padValue must be in [0, 255], got ${padValue}`);
  const r = Math.min(width / image.width, height / image.height);
  const resizedW = Math.min(width, Math.max(1, roundHalfEven(image.width * r)));
  const resizedH = Math.min(height, Math.max(1, roundHalfEven(image.height * r)));
  const padX = Math.floor((width - resizedW) / 2);
  const padY = Math.floor((height - resizedH) / 2);
  const resized = cropResize(image, { x: 0, y: 0, width: image.width, height: image.height }, resizedW, resizedH);
  const rgb = new Uint8Array(width * height * 3).fill(Math.round(padValue));
  for (let y = 0; y < resizedH; y++) {
    rgb.set(resized.rgb.subarray(y * resizedW * 3, (y + 1) * resizedW * 3), ((y + padY) * width + padX) * 3);
  }
  return {
    image: { width, height, rgb },
    frame: frameOf(image, width, height, resizedW / image.width, resizedH / image.height, padX, padY),
  };
}

/**
 * PaddleOCR `DetResizeForTest` (limit_side_len mode): an image whose sides add up to < 64 is first padded with 0 on
 * the right/bottom to at least 32×32, then resized (stretched) to `limitSideSize`.
 */
function limitSide(image: RgbImage, preset: DetectionInputPreset): FittedImage {
  let padded = image;
  if (image.width + image.height < 64) {
    const w = Math.max(32, image.width);
    const h = Math.max(32, image.height);
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < image.height; y++) rgb.set(image.rgb.subarray(y * image.width * 3, (y + 1) * image.width * 3), y * w * 3);
    padded = { width: w, height: h, rgb };
  }
  const size = limitSideSize(padded.width, padded.height, preset.limitSideLen ?? 736, preset.limitType ?? 'min', preset.multipleOf ?? 32);
  const resized = cropResize(padded, { x: 0, y: 0, width: padded.width, height: padded.height }, size.width, size.height);
  // Padding sits right/bottom, so source pixels keep their coordinates: input = source · (resized / padded).
  return { image: resized, frame: frameOf(image, size.width, size.height, size.width / padded.width, size.height / padded.height, 0, 0) };
}

function frameOf(source: RgbImage, inputWidth: number, inputHeight: number, scaleX: number, scaleY: number, padX: number, padY: number): InputFrame {
  return { inputWidth, inputHeight, sourceWidth: source.width, sourceHeight: source.height, scaleX, scaleY, padX, padY };
}
