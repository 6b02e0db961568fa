import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeDataset } from '../../src/compress/dataset-writer.js';
import { mnistPage } from './mnist-pages.js';

/**
 * Write (once, cached under .cache/) a dataset of mnist "pages" for the PaddleOCR detector in the ONNX test-data
 * layout: `count` sets of one 1×3×size×size image, seeds `firstSeed..`.
 */
export function ocrPageDataset(name: string, count: number, size: number, firstSeed: number): string {
  const dir = join(process.cwd(), '.cache', `${name}-${size}-${count}-${firstSeed}`);
  if (existsSync(join(dir, 'test_data_set_0'))) return dir;
  mkdirSync(join(process.cwd(), '.cache'), { recursive: true });
  writeDataset(dir, (function* () {
    for (let i = 0; i < count; i++) yield { inputs: [mnistPage(firstSeed + i, size)] };
  })());
  return dir;
}
