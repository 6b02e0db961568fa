import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTensor } from '../onnx/model-codec.js';
import type { Tensor } from '../onnx/ir.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { EdgetuneError } from '../util/errors.js';

/** One set to write: inputs in model order, optional labels and reference outputs. */
export interface DatasetSetToWrite {
  inputs: Tensor[];
  labels?: Tensor;
  outputs?: Tensor[];
  /** Per-set metadata written as `meta.json` (an image set's source file and how it was fitted to the input). */
  meta?: Record<string, unknown>;
}

/**
 * Write sets in the ONNX test-data layout under `dir` (created; must be empty or absent). The sets are written into
 * a temporary sibling directory and renamed into place at the end, so a failure leaves nothing behind.
 */
export function writeDataset(dir: string, sets: Iterable<DatasetSetToWrite>): number {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new EdgetuneError('USAGE', `output directory '${dir}' is not empty`);
  const staging = `${dir}.edgetune-partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  let count = 0;
  try {
    for (const set of sets) {
      const setDir = join(staging, `test_data_set_${count}`);
      mkdirSync(setDir);
      set.inputs.forEach((t, k) => writeFileAtomic(join(setDir, `input_${k}.pb`), encodeTensor(t)));
      if (set.labels) writeFileAtomic(join(setDir, 'label.pb'), encodeTensor(set.labels));
      set.outputs?.forEach((t, k) => writeFileAtomic(join(setDir, `output_${k}.pb`), encodeTensor(t)));
      if (set.meta) writeFileAtomic(join(setDir, 'meta.json'), `${JSON.stringify(set.meta)}\n`);
      count++;
    }
    if (count === 0) throw new EdgetuneError('DATASET_INVALID', 'no samples to write');
    if (existsSync(dir)) rmSync(dir, { recursive: true });
    renameSync(staging, dir);
    return count;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}
