import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/compress/image-tensor.js';
import { toSourcePixels, type Detection } from '../../../src/detect/detection-types.js';
import { detectionInputTensor, fitImage, limitSideSize, type DetectionInputPreset } from '../../../src/detect/preprocess.js';
import { tensorToFloat32 } from '../../../src/onnx/tensor.js';

const base: DetectionInputPreset = { layout: 'nchw', channels: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], resize: 'letterbox' };

/** A solid image with one pixel per channel value, handy for seeing where the source landed. */
function solid(width: number, height: number, value: [number, number, number]): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set(value, p * 3);
  return { width, height, rgb };
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return [image.rgb[i]!, image.rgb[i + 1]!, image.rgb[i + 2]!];
}

function expectClose(actual: number[], expected: number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tolerance));
}

describe('fitImage letterbox', () => {
  it('scales a landscape image to the width and pads top and bottom with padValue', () => {
    const { image, frame } = fitImage(solid(640, 480, [10, 20, 30]), { ...base, padValue: 114 }, { width: 320, height: 320 });
    expect(image.width).toBe(320);
    expect(image.height).toBe(320);
    expect(frame).toEqual({ inputWidth: 320, inputHeight: 320, sourceWidth: 640, sourceHeight: 480, scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 40 });
    expect(pixel(image, 100, 39)).toEqual([114, 114, 114]);
    expect(pixel(image, 100, 40)).toEqual([10, 20, 30]);
    expect(pixel(image, 100, 279)).toEqual([10, 20, 30]);
    expect(pixel(image, 100, 280)).toEqual([114, 114, 114]);
  });

  it('pads with 0 by default (MediaPipe BORDER_ZERO) and puts the odd padding pixel right', () => {
    // 3×1 into 4×4: r = 4/3, resized 4×1 (round 1.33), pad top 1, bottom 2 (Ultralytics round(d ∓ 0.1))
    const { image, frame } = fitImage(solid(3, 1, [200, 200, 200]), base, { width: 4, height: 4 });
    expect(frame.padX).toBe(0);
    expect(frame.padY).toBe(1);
    expect(pixel(image, 0, 0)).toEqual([0, 0, 0]);
    expect(pixel(image, 0, 1)).toEqual([200, 200, 200]);
    expect(pixel(image, 0, 2)).toEqual([0, 0, 0]);
    // 5 wide into 8 × 8 from a 5×8 portrait: resized 5×8, padding 3 → left 1, right 2
    const portrait = fitImage(solid(5, 8, [1, 1, 1]), base, { width: 8, height: 8 });
    expect(portrait.frame.padX).toBe(1);
    expect(pixel(portrait.image, 0, 0)).toEqual([0, 0, 0]);
    expect(pixel(portrait.image, 1, 0)).toEqual([1, 1, 1]);
    expect(pixel(portrait.image, 5, 0)).toEqual([1, 1, 1]);
    expect(pixel(portrait.image, 6, 0)).toEqual([0, 0, 0]);
  });

  it('round-trips a box through the frame with toSourcePixels', () => {
    for (const [w, h] of [[640, 480], [333, 517], [1000, 37], [256, 256], [97, 1201]] as const) {
      const { frame } = fitImage(solid(w, h, [0, 0, 0]), base, { width: 256, height: 256 });
      // one scale r, to half an input pixel: each side is round(side · r) pixels long
      const r = Math.min(256 / w, 256 / h);
      expect(Math.abs(frame.scaleX - r) * w).toBeLessThanOrEqual(0.5);
      expect(Math.abs(frame.scaleY - r) * h).toBeLessThanOrEqual(0.5);
      expect(frame.padX === 0 || frame.padY === 0).toBe(true);
      const source: [number, number, number, number] = [0.1 * w, 0.2 * h, 0.7 * w, 0.9 * h];
      const input: Detection = {
        box: [source[0] * frame.scaleX + frame.padX, source[1] * frame.scaleY + frame.padY, source[2] * frame.scaleX + frame.padX, source[3] * frame.scaleY + frame.padY],
        score: 0.9,
        cls: 0,
        keypoints: [[frame.padX, frame.padY]],
      };
      const back = toSourcePixels(input, frame);
      expectClose(back.box, source, 1e-9);
      expectClose(back.keypoints![0]!, [0, 0], 1e-9);
      // the whole source maps onto the drawn (unpadded) region
      expect(w * frame.scaleX + 2 * frame.padX).toBeGreaterThanOrEqual(255);
      expect(w * frame.scaleX + 2 * frame.padX).toBeLessThanOrEqual(257);
    }
  });

  it('needs a fixed model size', () => {
    expect(() => fitImage(solid(4, 4, [0, 0, 0]), base, { width: null, height: 320 })).toThrow(/letterbox resize needs a fixed model input size/);
    expect(() => fitImage(solid(4, 4, [0, 0, 0]), base, { width: null, height: null })).toThrow(
      expect.objectContaining({ code: 'USAGE', name: 'EdgetuneError' }) as unknown as Error,
    );
  });
});

describe('fitImage stretch', () => {
  it('scales each axis on its own, without padding', () => {
    const { image, frame } = fitImage(solid(640, 480, [5, 6, 7]), { ...base, resize: 'stretch' }, { width: 128, height: 128 });
    expect(frame).toEqual({ inputWidth: 128, inputHeight: 128, sourceWidth: 640, sourceHeight: 480, scaleX: 0.2, scaleY: 128 / 480, padX: 0, padY: 0 });
    expect(pixel(image, 0, 0)).toEqual([5, 6, 7]);
    expect(pixel(image, 127, 127)).toEqual([5, 6, 7]);
    const back = toSourcePixels({ box: [0, 0, 128, 128], score: 1, cls: 0 }, frame);
    expectClose(back.box, [0, 0, 640, 480], 1e-9);
  });
});

describe('fitImage limit-side (PaddleOCR DetResizeForTest)', () => {
  const paddle: DetectionInputPreset = { ...base, resize: 'limit-side', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], limitSideLen: 960, limitType: 'max' };

  it('shrinks to the limit and rounds each side to a multiple of 32', () => {
    const { image, frame } = fitImage(solid(1280, 720, [9, 9, 9]), paddle, { width: null, height: null });
    // ratio 0.75 → 960 × 540 → 540/32 = 16.875 → 544
    expect([image.width, image.height]).toEqual([960, 544]);
    expect(frame.scaleX).toBeCloseTo(0.75, 12);
    expect(frame.scaleY).toBeCloseTo(544 / 720, 12);
    expect([frame.padX, frame.padY]).toEqual([0, 0]);
  });

  it('leaves a small image at its size (max) but still rounds to 32', () => {
    expect(limitSideSize(500, 300, 960, 'max')).toEqual({ width: 512, height: 288 }); // 15.625 → 16, 9.375 → 9
  });

  it('grows the shorter side to the limit (min, the class default)', () => {
    expect(limitSideSize(400, 300, 736, 'min')).toEqual({ width: 992, height: 736 }); // ratio 736/300: 981 → 30.66 → 31
    expect(fitImage(solid(400, 300, [0, 0, 0]), { ...paddle, limitSideLen: undefined, limitType: undefined }, { width: null, height: null }).image.width).toBe(992);
  });

  it("rounds ties to even like Python's round", () => {
    // 48/32 = 1.5 → 2; 80/32 = 2.5 → 2; 112/32 = 3.5 → 4
    expect(limitSideSize(48, 80, 1000, 'max')).toEqual({ width: 64, height: 64 });
    expect(limitSideSize(112, 200, 1000, 'max')).toEqual({ width: 128, height: 192 });
    expect(limitSideSize(10, 10, 1000, 'max')).toEqual({ width: 32, height: 32 }); // at least one multiple
  });

  it('honours multipleOf and caps sides at 4000', () => {
    expect(limitSideSize(1000, 700, 2000, 'max', 64)).toEqual({ width: 1024, height: 704 });
    expect(limitSideSize(100, 10000, 10, 'min')).toEqual({ width: 32, height: 4000 }); // ratio 0.1 does not apply: min side 100 ≥ 10
  });

  it('pads a tiny image right/bottom to 32 before resizing, keeping source coordinates', () => {
    const { image, frame } = fitImage(solid(20, 10, [50, 50, 50]), paddle, { width: null, height: null });
    expect([image.width, image.height]).toEqual([32, 32]);
    expect(frame).toMatchObject({ sourceWidth: 20, sourceHeight: 10, scaleX: 1, scaleY: 1, padX: 0, padY: 0 });
    expect(pixel(image, 0, 0)).toEqual([50, 50, 50]);
    expect(pixel(image, 25, 25)).toEqual([0, 0, 0]);
  });

  it('resizes to a fixed model size, and rejects half-dynamic inputs', () => {
    const fixed = fitImage(solid(100, 50, [0, 0, 0]), paddle, { width: 64, height: 64 });
    expect([fixed.image.width, fixed.image.height]).toEqual([64, 64]);
    expect(() => fitImage(solid(100, 50, [0, 0, 0]), paddle, { width: 64, height: null })).toThrow(/width 64, height dynamic/);
  });

  it('rejects bad parameters naming them', () => {
    expect(() => limitSideSize(10, 10, 0, 'max')).toThrow(/limitSideLen/);
    expect(() => limitSideSize(10, 10, 10, 'max', 0)).toThrow(/multipleOf/);
    expect(() => limitSideSize(10, 10, 10, 'both' as 'max')).toThrow(/limitType/);
    expect(() => fitImage(solid(4, 4, [0, 0, 0]), { ...base, padValue: 300 }, { width: 8, height: 8 })).toThrow(/padValue/);
  });
});

describe('detectionInputTensor', () => {
  it('normalises, orders channels and lays out the fitted image', () => {
    const fitted: RgbImage = { width: 2, height: 1, rgb: Uint8Array.from([255, 0, 51, 0, 102, 255]) };
    const nchw = detectionInputTensor('images', fitted, { ...base, channels: 'bgr' });
    expect(nchw.dims).toEqual([1, 3, 1, 2]);
    // planes B, G, R: B = [51, 255], G = [0, 102], R = [255, 0], each /255
    expectClose(Array.from(tensorToFloat32(nchw)), [0.2, 1, 0, 0.4, 1, 0], 1e-6);
    const nhwc = detectionInputTensor('input', fitted, { ...base, layout: 'nhwc', scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1] });
    expect(nhwc.dims).toEqual([1, 1, 2, 3]);
    expect(nhwc.name).toBe('input');
    expectClose(Array.from(tensorToFloat32(nhwc)), [1, -1, 51 / 127.5 - 1, -1, 102 / 127.5 - 1, 1], 1e-6);
  });
});
