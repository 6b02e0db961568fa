import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DataType } from '../onnx/dtype.js';
import type { OnnxModel, Tensor } from '../onnx/ir.js';
import { elementCount } from '../onnx/ir.js';
import { fsyncDirectory, writeFileAtomic } from '../util/atomic-file.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';
import { openDataset, realInputs, type DataBatch } from './dataset.js';
import { writeDataset, type DatasetSetToWrite } from './dataset-writer.js';

// ---------------------------------------------------------------------------------------------------------------
// Pure planning
// ---------------------------------------------------------------------------------------------------------------

/** Fewest samples either part of a split may hold: fewer and an accuracy bound judged on it means little. */
export const MIN_SPLIT_SAMPLES = 8;

/** Default share of `--data` held out for validation. */
export const DEFAULT_VALIDATION_FRACTION = 0.5;

/** Default seed of the split shuffle: the same `--data` splits the same way on every run and every device. */
export const DEFAULT_SPLIT_SEED = 20261202;

/** Input of {@link planDatasetSplit}: what the planner needs to know about a dataset, nothing from disk. */
export interface DatasetSplitPlanInput {
  /** Samples (axis 0) in each set, in set order. */
  setSizes: number[];
  /** Class labels per set (one per sample), or null per set / overall when absent. Stratifies only when every set has labels. */
  labels: Array<ArrayLike<number | bigint> | null> | null;
  /** Share of the samples that goes to validation, in (0, 1). */
  validationFraction: number;
  /** Seed of the shuffle (mulberry32). */
  seed: number;
  /** The model's fixed batch size (axis 0), or null when symbolic. Above 1, whole sets are split. */
  fixedBatch: number | null;
}

/** One part of a split: the rows (ascending) each source set contributes; sets without rows are omitted. */
export interface SplitPart {
  samples: number;
  sets: Array<{ set: number; rows: number[] }>;
}

/** A deterministic fit/validation split of a dataset's samples. */
export interface DatasetSplitPlan {
  fit: SplitPart;
  validation: SplitPart;
  /** 'sample': rows are split within sets; 'set': whole sets go to one part (the model's batch axis is fixed). */
  unit: 'sample' | 'set';
  /** True when each class was split by its own quota. */
  stratified: boolean;
  seed: number;
  validationFraction: number;
}

/**
 * Plan a deterministic split of a dataset into a fit part and a validation part. With labels in every set the split
 * is stratified: each class gets a validation quota of count × fraction, rounded by largest remainder (ties broken
 * by the seed) so the quotas sum to round(total × fraction), and the seeded shuffle picks which samples. Without
 * labels all samples are shuffled together. With a fixed model batch above 1, whole sets are assigned instead.
 */
export function planDatasetSplit(input: DatasetSplitPlanInput): DatasetSplitPlan {
  const { setSizes, labels, validationFraction, seed, fixedBatch } = input;
  checkFraction(validationFraction);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  setSizes.forEach((size, i) => {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`setSizes[${i}] must be a non-negative integer, got ${size}`);
  });
  if (labels !== null) {
    if (labels.length !== setSizes.length) throw new RangeError(`labels has ${labels.length} entries for ${setSizes.length} sets`);
    labels.forEach((l, i) => {
      if (l !== null && l.length !== setSizes[i]) throw new RangeError(`labels[${i}] has ${l.length} labels for a set of ${setSizes[i]} samples`);
    });
  }
  const random = mulberry32(seed);
  const total = setSizes.reduce((a, b) => a + b, 0);
  const target = Math.round(total * validationFraction);
  const common = { seed, validationFraction };

  if (fixedBatch !== null && fixedBatch > 1) {
    const inValidation = chooseWholeSets(setSizes, target, random);
    const parts = partsFromSetChoice(setSizes, inValidation);
    return { ...parts, unit: 'set', stratified: false, ...common };
  }

  const offsets: number[] = [];
  setSizes.reduce((sum, size, i) => ((offsets[i] = sum), sum + size), 0);
  const validationIds: number[] = [];
  const everySetLabelled = labels !== null && labels.every((l) => l !== null);
  if (everySetLabelled) {
    const byClass = samplesByClass(labels as Array<ArrayLike<number | bigint>>, offsets);
    const quotas = largestRemainderQuotas(byClass.map((c) => c.ids.length), validationFraction, target, random);
    byClass.forEach((c, k) => {
      shuffleInPlace(c.ids, random);
      validationIds.push(...c.ids.slice(0, quotas[k]));
    });
  } else {
    const ids = Array.from({ length: total }, (_, i) => i);
    shuffleInPlace(ids, random);
    validationIds.push(...ids.slice(0, target));
  }
  const isValidation = new Uint8Array(total);
  for (const id of validationIds) isValidation[id] = 1;
  return { ...partsFromSampleChoice(setSizes, offsets, isValidation), unit: 'sample', stratified: everySetLabelled && total > 0, ...common };
}

/**
 * Per-class validation quotas by largest remainder (Hamilton): floor(count × fraction) each, then one more to the
 * classes with the largest fractional parts (ties in the order of a seeded permutation) until they sum to `target`.
 */
export function largestRemainderQuotas(counts: readonly number[], fraction: number, target: number, random: () => number): number[] {
  const exact = counts.map((c) => c * fraction);
  const quotas = exact.map((e) => Math.floor(e));
  const tieOrder = Array.from(counts, (_, i) => i);
  shuffleInPlace(tieOrder, random);
  const rank = new Map(tieOrder.map((k, r) => [k, r]));
  const byRemainder = counts
    .map((_, k) => k)
    .sort((a, b) => exact[b]! - quotas[b]! - (exact[a]! - quotas[a]!) || rank.get(a)! - rank.get(b)!);
  let missing = target - quotas.reduce((a, b) => a + b, 0);
  for (const k of byRemainder) {
    if (missing <= 0) break;
    if (quotas[k]! < counts[k]!) {
      quotas[k]!++;
      missing--;
    }
  }
  return quotas;
}

/** Options of {@link assertSplitLargeEnough}: how the refusal names the data and the way out, per front end. */
export interface SplitSizeCheckOptions {
  /** Fewest samples per part (default {@link MIN_SPLIT_SAMPLES}). */
  minSamples?: number;
  /** How the message names the dataset (default '--data'). */
  dataLabel?: string;
  /** What the caller can do instead (default: the CLI flags). */
  remedy?: string;
}

/**
 * Refuse a split where either part has fewer than `minSamples` samples: DATASET_INVALID with the numbers, e.g.
 * "--data has 10 samples: a 50 % validation split leaves 5 to judge on, fewer than 8; …".
 */
export function assertSplitLargeEnough(plan: DatasetSplitPlan, options: SplitSizeCheckOptions = {}): void {
  const minSamples = options.minSamples ?? MIN_SPLIT_SAMPLES;
  const dataLabel = options.dataLabel ?? '--data';
  const remedy = options.remedy ?? 'give --val-data DIR or --no-holdout to judge on the fitted data';
  const total = plan.fit.samples + plan.validation.samples;
  const pct = `${Number((plan.validationFraction * 100).toFixed(1))} %`;
  const by = plan.unit === 'set' ? ' (whole sets: the model has a fixed batch size)' : '';
  if (plan.validation.samples < minSamples) {
    throw new EdgetuneError('DATASET_INVALID', `${dataLabel} has ${total} samples: a ${pct} validation split${by} leaves ${plan.validation.samples} to judge on, fewer than ${minSamples}; ${remedy}`);
  }
  if (plan.fit.samples < minSamples) {
    throw new EdgetuneError('DATASET_INVALID', `${dataLabel} has ${total} samples: a ${pct} validation split${by} leaves ${plan.fit.samples} to fit on, fewer than ${minSamples}; ${remedy}`);
  }
}

function checkFraction(validationFraction: number): void {
  if (!(typeof validationFraction === 'number' && validationFraction > 0 && validationFraction < 1)) {
    throw new EdgetuneError('USAGE', `validation fraction must be between 0 and 1 (exclusive), got ${validationFraction}`);
  }
}

/** Fisher–Yates with a seeded generator. */
function shuffleInPlace<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
}

/** Global sample ids grouped by class, classes in ascending label order, ids ascending within a class. */
function samplesByClass(labels: Array<ArrayLike<number | bigint>>, offsets: number[]): Array<{ label: number | bigint; ids: number[] }> {
  const classes = new Map<string, { label: number | bigint; ids: number[] }>();
  labels.forEach((setLabels, s) => {
    for (let r = 0; r < setLabels.length; r++) {
      const label = setLabels[r]!;
      const key = String(label);
      let entry = classes.get(key);
      if (!entry) classes.set(key, (entry = { label, ids: [] }));
      entry.ids.push(offsets[s]! + r);
    }
  });
  return [...classes.values()].sort((a, b) => compareLabels(a.label, b.label));
}

function compareLabels(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  return Number(a) - Number(b) || String(a).localeCompare(String(b));
}

/**
 * Whole sets for validation: in a seeded order, take a set whenever it brings the validation sample count closer to
 * `target`; then make sure each part keeps at least one set when there are two or more.
 */
function chooseWholeSets(setSizes: number[], target: number, random: () => number): Set<number> {
  const order = setSizes.map((_, i) => i);
  shuffleInPlace(order, random);
  const chosen = new Set<number>();
  let sum = 0;
  for (const s of order) {
    if (Math.abs(sum + setSizes[s]! - target) < Math.abs(sum - target)) {
      chosen.add(s);
      sum += setSizes[s]!;
    }
  }
  const nonEmpty = order.filter((s) => setSizes[s]! > 0);
  if (nonEmpty.length >= 2) {
    if (!nonEmpty.some((s) => chosen.has(s))) chosen.add(nonEmpty[0]!);
    if (nonEmpty.every((s) => chosen.has(s))) chosen.delete(nonEmpty[nonEmpty.length - 1]!);
  }
  return chosen;
}

function partsFromSetChoice(setSizes: number[], inValidation: Set<number>): { fit: SplitPart; validation: SplitPart } {
  const fit: SplitPart = { samples: 0, sets: [] };
  const validation: SplitPart = { samples: 0, sets: [] };
  setSizes.forEach((size, set) => {
    if (size === 0) return;
    const part = inValidation.has(set) ? validation : fit;
    part.sets.push({ set, rows: Array.from({ length: size }, (_, r) => r) });
    part.samples += size;
  });
  return { fit, validation };
}

function partsFromSampleChoice(setSizes: number[], offsets: number[], isValidation: Uint8Array): { fit: SplitPart; validation: SplitPart } {
  const fit: SplitPart = { samples: 0, sets: [] };
  const validation: SplitPart = { samples: 0, sets: [] };
  setSizes.forEach((size, set) => {
    const fitRows: number[] = [];
    const validationRows: number[] = [];
    for (let r = 0; r < size; r++) (isValidation[offsets[set]! + r] ? validationRows : fitRows).push(r);
    if (fitRows.length) fit.sets.push({ set, rows: fitRows });
    if (validationRows.length) validation.sets.push({ set, rows: validationRows });
    fit.samples += fitRows.length;
    validation.samples += validationRows.length;
  });
  return { fit, validation };
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor helper
// ---------------------------------------------------------------------------------------------------------------

/** Gather rows of axis 0 of a tensor, in the order given (sliceBatch does contiguous ranges only). */
export function gatherRows(tensor: Tensor, rows: readonly number[]): Tensor {
  if (tensor.dataType === DataType.STRING || Array.isArray(tensor.values)) {
    throw new EdgetuneError('DATASET_INVALID', `tensor '${tensor.name}': string tensors cannot be split`);
  }
  if (tensor.dims.length === 0) throw new RangeError(`tensor '${tensor.name}' is a scalar; it has no axis 0 to gather`);
  const batch = tensor.dims[0]!;
  const rowLength = elementCount(tensor.dims.slice(1));
  const source = tensor.values;
  const values = new (source.constructor as new (n: number) => typeof source)(rows.length * rowLength);
  rows.forEach((r, i) => {
    if (!Number.isInteger(r) || r < 0 || r >= batch) throw new RangeError(`row ${r} is out of range for tensor '${tensor.name}' with ${batch} rows`);
    (values as Float32Array).set((source as Float32Array).subarray(r * rowLength, (r + 1) * rowLength), i * rowLength);
  });
  const out: Tensor = { name: tensor.name, dataType: tensor.dataType, dims: [rows.length, ...tensor.dims.slice(1)], values };
  if (tensor.storage) out.storage = tensor.storage;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Filesystem adapter
// ---------------------------------------------------------------------------------------------------------------

/** Caller input of {@link splitDatasetToDirs}. */
export interface DatasetSplitOptions {
  /** Source dataset in the ONNX test-data layout. */
  dataDir: string;
  /** The model the data feeds: validates the data and decides the split unit (fixed batch axis → whole sets). */
  model: OnnxModel;
  /** Directory that receives `fit/`, `validation/` and `split.json`; a split already there with the same key is reused. */
  outDir: string;
  /** Share of samples held out, in (0, 1); default {@link DEFAULT_VALIDATION_FRACTION}. */
  validationFraction?: number;
  /** Shuffle seed; default {@link DEFAULT_SPLIT_SEED}. */
  seed?: number;
  /** Passed to {@link assertSplitLargeEnough}: the minimum per part and the wording of the refusal. */
  sizeCheck?: SplitSizeCheckOptions;
}

/** A split written to disk: two datasets in the ONNX test-data layout and what went into each. */
export interface DatasetSplit {
  fitDir: string;
  validationDir: string;
  /** Samples and sets written to `fitDir`. */
  fit: { samples: number; sets: number };
  /** Samples and sets written to `validationDir`. */
  validation: { samples: number; sets: number };
  unit: 'sample' | 'set';
  stratified: boolean;
  seed: number;
  validationFraction: number;
  /** The dataset that was split, as given. */
  sourceDir: string;
  /** sha256 of the source files, seed, fraction and split unit: equal keys mean equal splits. */
  key: string;
  /** True when `outDir` already held this split and nothing was written. */
  reused: boolean;
}

/** Contents of `split.json`. */
interface SplitRecord {
  format: typeof SPLIT_FORMAT;
  key: string;
  sourceDir: string;
  seed: number;
  validationFraction: number;
  fixedBatch: number | null;
  unit: 'sample' | 'set';
  stratified: boolean;
  /** Per written set, in order: the source set directory and the source rows it holds. */
  fit: { samples: number; sets: number; sources: Array<{ set: string; rows: number[] }> };
  validation: { samples: number; sets: number; sources: Array<{ set: string; rows: number[] }> };
}

const SPLIT_FORMAT = 'edgetune-dataset-split/1';
const SPLIT_RECORD = 'split.json';

/**
 * Split `dataDir` into `outDir/fit` and `outDir/validation` (ONNX test-data layout, sets numbered from 0, each
 * source set contributing at most one set per part) and record the plan in `outDir/split.json`. Validates the data
 * against the model, refuses labels in some sets only and parts smaller than {@link MIN_SPLIT_SAMPLES}, builds the
 * result in a temporary sibling directory and renames it into place. A split already in `outDir` with the same key
 * is reused without rewriting.
 */
export function splitDatasetToDirs(options: DatasetSplitOptions): DatasetSplit {
  const { dataDir, model, outDir } = options;
  const validationFraction = options.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  const seed = options.seed ?? DEFAULT_SPLIT_SEED;
  checkFraction(validationFraction);
  const dataset = openDataset(dataDir, model);
  checkOutDir(dataDir, outDir);
  const fixedBatch = fixedBatchOf(model);
  const key = splitKey(dataset.dir, dataset.setNames, seed, validationFraction, fixedBatch);
  const fitDir = join(outDir, 'fit');
  const validationDir = join(outDir, 'validation');

  const existing = readSplitRecord(outDir);
  if (existing && existing.key === key && splitDirsIntact(existing, fitDir, validationDir, model)) {
    return resultOf(existing, dataDir, fitDir, validationDir, true);
  }
  if (existsSync(outDir) && !existsSync(join(outDir, SPLIT_RECORD)) && readdirSync(outDir).length > 0) {
    throw new EdgetuneError('USAGE', `split directory '${outDir}' is not empty and holds no ${SPLIT_RECORD}; give an empty or new directory`);
  }

  const setSizes: number[] = [];
  const labels: Array<ArrayLike<number | bigint> | null> = [];
  let labelled: string | null = null;
  let unlabelled: string | null = null;
  for (let i = 0; i < dataset.setNames.length; i++) {
    const batch = dataset.load(i);
    setSizes.push(batch.batchSize);
    labels.push(batch.labels ? (batch.labels.values as ArrayLike<number | bigint>) : null);
    if (batch.labels) labelled ??= batch.set;
    else unlabelled ??= batch.set;
  }
  if (labelled !== null && unlabelled !== null) {
    throw new EdgetuneError('DATASET_INVALID', `dataset '${dataDir}': ${unlabelled} has no label.pb but ${labelled} has one; give labels in every set or in none`);
  }
  const plan = planDatasetSplit({ setSizes, labels, validationFraction, seed, fixedBatch });
  assertSplitLargeEnough(plan, options.sizeCheck);

  const record: SplitRecord = {
    format: SPLIT_FORMAT,
    key,
    sourceDir: resolve(dataDir),
    seed,
    validationFraction,
    fixedBatch,
    unit: plan.unit,
    stratified: plan.stratified,
    fit: partRecord(plan.fit, dataset.setNames),
    validation: partRecord(plan.validation, dataset.setNames),
  };
  writeSplit(outDir, (staging) => {
    writeDataset(join(staging, 'fit'), gatheredSets(plan.fit, dataset.load));
    writeDataset(join(staging, 'validation'), gatheredSets(plan.validation, dataset.load));
    writeFileAtomic(join(staging, SPLIT_RECORD), `${JSON.stringify(record, null, 2)}\n`);
  });
  return resultOf(record, dataDir, fitDir, validationDir, false);
}

/** The model's fixed batch size (axis 0 of its first real input), or null when symbolic or unknown. */
function fixedBatchOf(model: OnnxModel): number | null {
  const dim = realInputs(model)[0]?.type?.shape?.[0];
  return typeof dim === 'number' && dim > 0 ? dim : null;
}

function checkOutDir(dataDir: string, outDir: string): void {
  const source = realOrResolved(dataDir);
  const out = realOrResolved(outDir);
  if (out === source || isInside(source, out)) {
    throw new EdgetuneError('USAGE', `split directory '${outDir}' would replace the dataset '${dataDir}'; give a directory outside it`);
  }
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(resolve(path));
    return parent === resolve(path) ? resolve(path) : join(realOrResolved(parent), basename(path));
  }
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** sha256 over the format, every file of every set (name, size, bytes), the seed, the fraction and the fixed batch. */
function splitKey(dir: string, setNames: string[], seed: number, validationFraction: number, fixedBatch: number | null): string {
  const hash = createHash('sha256');
  hash.update(`${SPLIT_FORMAT}\0seed=${seed}\0fraction=${validationFraction}\0fixedBatch=${fixedBatch}\0`);
  for (const set of setNames) {
    const setDir = join(dir, set);
    const files = readdirSync(setDir)
      .filter((f) => statSync(join(setDir, f)).isFile())
      .sort();
    for (const file of files) {
      const bytes = readFileSync(join(setDir, file));
      hash.update(`${set}/${file}\0${bytes.length}\0`);
      hash.update(bytes);
    }
  }
  return hash.digest('hex');
}

function readSplitRecord(outDir: string): SplitRecord | null {
  const path = join(outDir, SPLIT_RECORD);
  if (!existsSync(path)) return null;
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as SplitRecord;
    return record && record.format === SPLIT_FORMAT && typeof record.key === 'string' ? record : null;
  } catch {
    return null;
  }
}

/** A recorded split is reused only when both parts still hold the recorded sets and their first set fits the model. */
function splitDirsIntact(record: SplitRecord, fitDir: string, validationDir: string, model: OnnxModel): boolean {
  try {
    for (const [dir, part] of [[fitDir, record.fit], [validationDir, record.validation]] as const) {
      const dataset = openDataset(dir, model);
      if (dataset.setNames.length !== part.sets) return false;
      dataset.load(0);
    }
    return true;
  } catch {
    return false;
  }
}

function partRecord(part: SplitPart, setNames: string[]): SplitRecord['fit'] {
  return { samples: part.samples, sets: part.sets.length, sources: part.sets.map((s) => ({ set: setNames[s.set]!, rows: s.rows })) };
}

function resultOf(record: SplitRecord, sourceDir: string, fitDir: string, validationDir: string, reused: boolean): DatasetSplit {
  return {
    fitDir,
    validationDir,
    fit: { samples: record.fit.samples, sets: record.fit.sets },
    validation: { samples: record.validation.samples, sets: record.validation.sets },
    unit: record.unit,
    stratified: record.stratified,
    seed: record.seed,
    validationFraction: record.validationFraction,
    sourceDir,
    key: record.key,
    reused,
  };
}

/** Each planned set, loaded and gathered: inputs, labels and reference outputs cut to the chosen rows. */
function* gatheredSets(part: SplitPart, load: (index: number) => DataBatch): Generator<DatasetSetToWrite> {
  for (const { set, rows } of part.sets) {
    const batch = load(set);
    const whole = rows.length === batch.batchSize;
    const cut = (t: Tensor, what: string): Tensor => {
      if (whole) return t; // an unbatched set (one sample) goes whole
      if (t.dims[0] !== batch.batchSize) {
        throw new EdgetuneError('DATASET_INVALID', `${batch.set}: ${what} has shape [${t.dims.join(',')}], axis 0 is not the batch of ${batch.batchSize}`);
      }
      return gatherRows(t, rows);
    };
    const out: DatasetSetToWrite = { inputs: batch.inputs.map((t, k) => cut(t, `input_${k}.pb`)) };
    if (batch.labels) out.labels = cutLabels(batch.labels, rows, batch.batchSize, whole);
    if (batch.outputs.length) out.outputs = batch.outputs.map((t, k) => cut(t, `output_${k}.pb`));
    // An image set's source file and frame describe the whole set: they travel only with it.
    if (batch.meta && whole) out.meta = batch.meta;
    yield out;
  }
}

/** Labels are one per sample; a file shaped [1, N] or [] (N = 1) is gathered as the flat list it is. */
function cutLabels(labels: Tensor, rows: number[], batchSize: number, whole: boolean): Tensor {
  if (whole) return labels;
  if (labels.dims[0] === batchSize) return gatherRows(labels, rows);
  return gatherRows({ ...labels, dims: [batchSize] }, rows);
}

/** Build `outDir`'s contents in a temporary sibling and swap it into place; on failure nothing is left behind. */
function writeSplit(outDir: string, build: (staging: string) => void): void {
  const parent = dirname(resolve(outDir));
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = join(parent, `.${basename(outDir)}.edgetune-split-${tag}`);
  const old = join(parent, `.${basename(outDir)}.edgetune-old-${tag}`);
  mkdirSync(staging);
  try {
    build(staging);
    if (existsSync(outDir)) renameSync(outDir, old);
    try {
      renameSync(staging, outDir);
    } catch (error) {
      if (existsSync(old) && !existsSync(outDir)) renameSync(old, outDir);
      throw new EdgetuneError('IO_FAILED', `cannot move the split into '${outDir}': ${messageOf(error)}`, { cause: error });
    }
    fsyncDirectory(parent);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Overlap between datasets
// ---------------------------------------------------------------------------------------------------------------

/**
 * Sets whose input files (input_0.pb, input_1.pb, … concatenated) are byte-identical between two datasets, as
 * `A/test_data_set_i = B/test_data_set_j`; the same directory (after resolving links) overlaps in every set. Used to
 * refuse a validation dataset that repeats the data fitted to. Samples regrouped into other sets are not detected.
 */
export function datasetOverlap(dirA: string, dirB: string): string[] {
  const a = openDataset(dirA);
  const b = openDataset(dirB);
  if (realpathSync(dirA) === realpathSync(dirB)) return a.setNames.map((s) => `${join(dirA, s)} = ${join(dirB, s)}`);
  const byHash = new Map<string, string[]>();
  for (const set of b.setNames) {
    const h = inputsHash(join(dirB, set));
    if (h === null) continue;
    byHash.set(h, [...(byHash.get(h) ?? []), set]);
  }
  const overlaps: string[] = [];
  for (const set of a.setNames) {
    const h = inputsHash(join(dirA, set));
    if (h === null) continue;
    for (const other of byHash.get(h) ?? []) overlaps.push(`${join(dirA, set)} = ${join(dirB, other)}`);
  }
  return overlaps;
}

/** sha256 of a set's input files in order, or null for a set without input_0.pb (never equal to anything). */
function inputsHash(setDir: string): string | null {
  if (!existsSync(join(setDir, 'input_0.pb'))) return null;
  const hash = createHash('sha256');
  for (let k = 0; existsSync(join(setDir, `input_${k}.pb`)); k++) {
    const bytes = readFileSync(join(setDir, `input_${k}.pb`));
    hash.update(`input_${k}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}
