/**
 * The data a variant is judged on, apart from the data it was fitted to: `--data` split into fit and validation
 * parts (written to a temporary directory for the duration of one command), an explicit `--val-data` checked
 * against the model and the calibration set, or synthesized inputs when no data was given.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { OnnxModel } from '../onnx/ir.js';
import { resolveInputShapes, synthesizeInput, type InputSpec } from '../profile/profile-inputs.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { openDataset, realInputs, type DataBatch, type Dataset } from './dataset.js';
import { datasetOverlap, splitDatasetToDirs, type DatasetSplit } from './dataset-split.js';

/** How `--data` was split (the report's `split`). */
export type SplitSummary = Omit<DatasetSplit, 'fitDir' | 'validationDir'>;

/** The two parts of a split `--data`, while the command runs. */
export interface SplitParts {
  fitDir: string;
  validationDir: string;
  summary: SplitSummary;
}

/**
 * Run `body` with `--data` split into fit and validation directories (removed afterwards), or with null when no
 * split is asked for. Too small a dataset is refused (DATASET_INVALID) with the numbers.
 */
export async function withDataSplit<T>(split: { dataDir: string; model: OnnxModel; seed?: number } | null, body: (parts: SplitParts | null) => Promise<T>): Promise<T> {
  if (!split) return body(null);
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-split-'));
  try {
    const { fitDir, validationDir, ...summary } = splitDatasetToDirs({ dataDir: split.dataDir, model: split.model, outDir: join(dir, 'split'), ...(split.seed !== undefined ? { seed: split.seed } : {}) });
    return await body({ fitDir, validationDir, summary });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Refuse (DATASET_INVALID) `--val-data` that does not match the model, shares samples with the calibration data, or
 * has no labels where the calibration data has them (top-1 is then the metric).
 */
export function checkValidationData(validationDir: string, model: OnnxModel, calibrationDir?: string): void {
  let first: DataBatch;
  try {
    first = openDataset(validationDir, model).load(0);
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `--val-data ${validationDir}: ${messageOf(error)}`, { cause: error });
  }
  if (!calibrationDir) return;
  const overlap = datasetOverlap(calibrationDir, validationDir);
  if (overlap.length > 0) {
    const sameDir = resolve(calibrationDir) === resolve(validationDir);
    throw new EdgetuneError(
      'DATASET_INVALID',
      sameDir
        ? `--val-data ${validationDir} is the calibration data itself; validation needs samples the method did not fit to`
        : `--val-data ${validationDir} shares ${overlap.length} set(s) with the calibration data ${calibrationDir} (${overlap.slice(0, 3).join(', ')}${overlap.length > 3 ? ', …' : ''}); validation needs samples the method did not fit to`,
    );
  }
  const calibrationLabelled = openDataset(calibrationDir, model).load(0).labels !== null;
  if (calibrationLabelled && first.labels === null) {
    throw new EdgetuneError(
      'DATASET_INVALID',
      `--val-data ${validationDir} has no label.pb, but the calibration data has labels, so top-1 is the metric; add labels to the validation sets (\`npx edgetune dataset --labels\`)`,
    );
  }
}

/** `count` sets of one synthesized sample each (seeded; floats uniform in [0, 1)), for the gate when no data was given. */
export function syntheticDataset(model: OnnxModel, count: number, shapeOverrides: Readonly<Record<string, number[]>> = {}): Dataset {
  const inputs: InputSpec[] = realInputs(model).map((i) => ({ name: i.name, dataType: i.type?.elemType ?? 0, shape: i.type?.shape ?? null }));
  const shapes = resolveInputShapes(inputs, shapeOverrides, 1);
  const setNames = Array.from({ length: count }, (_, k) => `synthetic_${k}`);
  return {
    dir: '(synthesized inputs)',
    setNames,
    load(index: number): DataBatch {
      const set = setNames[index];
      if (set === undefined) throw new RangeError(`synthetic dataset has ${count} sets; index ${index} is out of range`);
      const tensors = inputs.map((spec, k) => synthesizeInput(spec.name, spec.dataType, shapes.get(spec.name)!, 1000 * (index + 1) + k));
      return { set, inputs: tensors, labels: null, outputs: [], batchSize: tensors[0]?.dims[0] ?? 1 };
    },
  };
}
