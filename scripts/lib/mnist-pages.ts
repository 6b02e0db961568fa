import { createRequire } from 'node:module';
import { floatTensor, int64Tensor } from '../../src/onnx/tensor.js';
import { writeDataset } from '../../src/compress/dataset-writer.js';
import { mulberry32 } from '../../src/util/random.js';
import type { Tensor } from '../../src/onnx/ir.js';

/** Deterministic PRNG (mulberry32), re-exported for scripts and tests. */
export const seededRandom = mulberry32;

let digitsCache: number[][] | undefined;

/** The mnist package's digits: 10 flat arrays of 784·n grey values (0..1 ink), one per class. */
export function mnistDigitArrays(): number[][] {
  if (!digitsCache) {
    const require = createRequire(import.meta.url);
    digitsCache = Array.from({ length: 10 }, (_, d) => (require(`mnist/src/digits/${d}.json`) as { data: number[] }).data);
  }
  return digitsCache;
}

/**
 * A "document page" for text detection: lines of handwritten digits from the mnist package, dark ink on a light,
 * slightly noisy background; returned as a [1,3,size,size] float tensor normalised like PaddleOCR's detector input
 * (RGB/255, ImageNet mean/std).
 */
export function mnistPage(seed: number, size = 640, name = 'x'): Tensor {
  const rand = seededRandom(seed);
  const digits = mnistDigitArrays();
  const grey = new Float32Array(size * size).fill(0.92 + rand() * 0.06);
  for (let i = 0; i < grey.length; i++) grey[i] = Math.min(1, grey[i]! + (rand() - 0.5) * 0.04);
  const lines = 5 + Math.floor(rand() * 5);
  let y = 20 + Math.floor(rand() * 20);
  for (let l = 0; l < lines && y < size - 40; l++) {
    const scale = 1 + rand() * 1.2;
    const glyph = Math.round(28 * scale);
    let x = 20 + Math.floor(rand() * 60);
    const count = 4 + Math.floor(rand() * 14);
    for (let k = 0; k < count && x + glyph < size - 10; k++) {
      const d = Math.floor(rand() * 10);
      const pool = digits[d]!;
      const n = pool.length / 784;
      const offset = Math.floor(rand() * n) * 784;
      for (let gy = 0; gy < glyph; gy++) {
        for (let gx = 0; gx < glyph; gx++) {
          const sy = Math.min(27, Math.floor(gy / scale));
          const sx = Math.min(27, Math.floor(gx / scale));
          const ink = pool[offset + sy * 28 + sx]!;
          const p = (y + gy) * size + (x + gx);
          grey[p] = Math.min(grey[p]!, 1 - ink * 0.85);
        }
      }
      x += Math.round(glyph * (0.7 + rand() * 0.3));
    }
    y += Math.round(28 * scale * (1.3 + rand() * 0.8));
  }
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) for (let i = 0; i < size * size; i++) out[c * size * size + i] = (grey[i]! - mean[c]!) / std[c]!;
  return floatTensor(name, [1, 3, size, size], out);
}

/**
 * Write `sets` batches of `batch` labelled digits drawn from the mnist package (seeded), normalised like the fixture
 * models' training data ((x − 0.1307) / 0.3081), as [batch,784] (`flat`) or [batch,1,28,28]. Draws may overlap the
 * fixtures' training split: use test/fixtures/data for held-out accuracy.
 */
export function writeMnistDigitDataset(path: string, options: { flat: boolean; sets: number; batch: number; seed: number }): string {
  const all = mnistDigitArrays();
  const rand = seededRandom(options.seed);
  const out = [];
  for (let s = 0; s < options.sets; s++) {
    const x = new Float32Array(options.batch * 784);
    const y: number[] = [];
    for (let b = 0; b < options.batch; b++) {
      const d = Math.floor(rand() * 10);
      const idx = Math.floor(rand() * (all[d]!.length / 784));
      for (let i = 0; i < 784; i++) x[b * 784 + i] = (all[d]![idx * 784 + i]! - 0.1307) / 0.3081;
      y.push(d);
    }
    const dims = options.flat ? [options.batch, 784] : [options.batch, 1, 28, 28];
    out.push({ inputs: [floatTensor('input', dims, x)], labels: int64Tensor('label', [options.batch], y) });
  }
  writeDataset(path, out);
  return path;
}

/**
 * A text line of handwritten digits for the PaddleOCR recogniser / direction classifier: dark ink on a light
 * background, [1, 3, 48, width], normalised like PaddleOCR ((x − 0.5) / 0.5). `flipped` rotates it by 180°.
 */
export function digitTextLine(seed: number, width = 320, flipped = false): { data: Float32Array; dims: number[] } {
  const rand = seededRandom(seed);
  const digits = mnistDigitArrays();
  const h = 48;
  const grey = new Float32Array(h * width).fill(0.95);
  let x = 4 + Math.floor(rand() * 8);
  const scale = 1.3 + rand() * 0.2;
  const glyph = Math.round(28 * scale);
  const top = Math.floor((h - glyph) / 2);
  while (x + glyph < width - 4) {
    const pool = digits[Math.floor(rand() * 10)]!;
    const offset = Math.floor(rand() * (pool.length / 784)) * 784;
    for (let gy = 0; gy < glyph; gy++) {
      for (let gx = 0; gx < glyph; gx++) {
        const ink = pool[offset + Math.min(27, Math.floor(gy / scale)) * 28 + Math.min(27, Math.floor(gx / scale))]!;
        const p = (top + gy) * width + x + gx;
        grey[p] = Math.min(grey[p]!, 1 - ink * 0.9);
      }
    }
    x += Math.round(glyph * (0.75 + rand() * 0.2));
  }
  const data = new Float32Array(3 * h * width);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < h * width; i++) {
      const src = flipped ? h * width - 1 - i : i;
      data[c * h * width + i] = (grey[src]! - 0.5) / 0.5;
    }
  }
  return { data, dims: [1, 3, h, width] };
}

/**
 * A direction-classifier dataset at `path`: `sets` batches of 8 digit text lines (1×3×48×192 each), every other one
 * turned 180° (label 1), seeds from `firstSeed`. Returns `path`.
 */
export function writeDigitTextLineDataset(path: string, sets: number, firstSeed: number): string {
  writeDataset(path, (function* () {
    for (let s = 0; s < sets; s++) {
      const x = new Float32Array(8 * 3 * 48 * 192);
      const labels: number[] = [];
      for (let i = 0; i < 8; i++) {
        const flipped = i % 2 === 1;
        x.set(digitTextLine(firstSeed + s * 8 + i, 192, flipped).data, i * 3 * 48 * 192);
        labels.push(flipped ? 1 : 0);
      }
      yield { inputs: [floatTensor('x', [8, 3, 48, 192], x)], labels: int64Tensor('label', [8], labels) };
    }
  })());
  return path;
}
