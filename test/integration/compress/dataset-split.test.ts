import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, type Dataset } from '../../../src/compress/dataset.js';
import { datasetOverlap, gatherRows, splitDatasetToDirs, type DatasetSplit } from '../../../src/compress/dataset-split.js';
import { writeDataset } from '../../../src/compress/dataset-writer.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { cloneModel, type OnnxModel, type Tensor } from '../../../src/onnx/ir.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures');
const CALIB = join(FIXTURES, 'data/mnist-calib');
const TEST = join(FIXTURES, 'data/mnist-test');
const model: OnnxModel = loadModelFile(join(FIXTURES, 'models/mnist-rescnn.onnx')).model;

interface SplitJson {
  key: string;
  unit: string;
  stratified: boolean;
  fit: { samples: number; sets: number; sources: Array<{ set: string; rows: number[] }> };
  validation: { samples: number; sets: number; sources: Array<{ set: string; rows: number[] }> };
}

const readSplitJson = (outDir: string) => JSON.parse(readFileSync(join(outDir, 'split.json'), 'utf8')) as SplitJson;

function rowOf(tensor: Tensor, row: number): number[] | bigint[] {
  const rowLength = tensor.values.length / tensor.dims[0]!;
  return [...(tensor.values as Float32Array).subarray(row * rowLength, (row + 1) * rowLength)];
}

function caught(run: () => unknown): EdgetuneError {
  try {
    run();
  } catch (error) {
    if (error instanceof EdgetuneError) return error;
    throw error;
  }
  throw new Error('expected an EdgetuneError');
}

/** Every written sample equals the source sample it was taken from (inputs, labels, outputs). */
function expectRowsMatchSource(partDir: string, sources: SplitJson['fit']['sources'], source: Dataset, m: OnnxModel): number {
  const part = openDataset(partDir, m);
  expect(part.setNames.length).toBe(sources.length);
  let samples = 0;
  sources.forEach(({ set, rows }, i) => {
    const written = part.load(i);
    const original = source.load(source.setNames.indexOf(set));
    expect(written.batchSize).toBe(rows.length);
    rows.forEach((r, j) => {
      written.inputs.forEach((t, k) => expect(rowOf(t, j)).toEqual(rowOf(original.inputs[k]!, r)));
      if (original.labels) expect(rowOf(written.labels!, j)).toEqual(rowOf(original.labels, r));
      else expect(written.labels).toBeNull();
      expect(written.outputs.length).toBe(original.outputs.length);
      written.outputs.forEach((t, k) => expect(rowOf(t, j)).toEqual(rowOf(original.outputs[k]!, r)));
    });
    samples += rows.length;
  });
  return samples;
}

describe('splitDatasetToDirs', () => {
  const root = mkdtempSync(join(tmpdir(), 'edgetune-split-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  describe('mnist-calib against mnist-rescnn (symbolic batch, labels)', () => {
    const outDir = join(root, 'calib-split');
    let split: DatasetSplit;
    let record: SplitJson;
    beforeAll(() => {
      split = splitDatasetToDirs({ dataDir: CALIB, model, outDir });
      record = readSplitJson(outDir);
    });

    it('splits 256 samples stratified, half and half, one set per source set and part', () => {
      expect(split.unit).toBe('sample');
      expect(split.stratified).toBe(true);
      expect(split.reused).toBe(false);
      expect(split.fit.samples + split.validation.samples).toBe(256);
      expect(split.validation.samples).toBe(128);
      expect(split.fit.sets).toBe(8);
      expect(split.validation.sets).toBe(8);
      expect(split.seed).toBe(20261202);
      expect(split.validationFraction).toBe(0.5);
      expect(split.sourceDir).toBe(CALIB);
      expect(split.fitDir).toBe(join(outDir, 'fit'));
      expect(split.validationDir).toBe(join(outDir, 'validation'));
      expect(record.key).toBe(split.key);
      expect(readdirSync(outDir).sort()).toEqual(['fit', 'split.json', 'validation']);
      expect(readdirSync(root).filter((n) => n.includes('edgetune'))).toEqual([]);
    });

    it('writes datasets that load against the model and hold exactly the planned source rows', () => {
      const source = openDataset(CALIB, model);
      expect(expectRowsMatchSource(split.fitDir, record.fit.sources, source, model)).toBe(split.fit.samples);
      expect(expectRowsMatchSource(split.validationDir, record.validation.sources, source, model)).toBe(split.validation.samples);
    });

    it('uses every source sample exactly once', () => {
      const seen = new Map<string, number>();
      for (const { set, rows } of [...record.fit.sources, ...record.validation.sources]) for (const r of rows) seen.set(`${set}/${r}`, (seen.get(`${set}/${r}`) ?? 0) + 1);
      expect(seen.size).toBe(256);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    });

    it('holds out each class in proportion (largest remainder of count × 0.5)', () => {
      const count = (dir: string) => {
        const ds = openDataset(dir, model);
        const byClass = new Map<bigint, number>();
        for (let i = 0; i < ds.setNames.length; i++) for (const l of ds.load(i).labels!.values as BigInt64Array) byClass.set(l, (byClass.get(l) ?? 0) + 1);
        return byClass;
      };
      const all = count(CALIB);
      const validation = count(split.validationDir);
      for (const [label, n] of all) expect([Math.floor(n / 2), Math.ceil(n / 2)]).toContain(validation.get(label) ?? 0);
    });

    it('reuses the split on a second call without rewriting', () => {
      const before = statSync(join(outDir, 'split.json')).mtimeMs;
      const fitIno = statSync(split.fitDir).ino;
      const again = splitDatasetToDirs({ dataDir: CALIB, model, outDir });
      expect(again.reused).toBe(true);
      expect({ ...again, reused: false }).toEqual(split);
      expect(statSync(join(outDir, 'split.json')).mtimeMs).toBe(before);
      expect(statSync(split.fitDir).ino).toBe(fitIno);
    });

    it('rewrites the split when the seed changes, and the plan differs', () => {
      const other = join(root, 'calib-split-reseed');
      cpSync(outDir, other, { recursive: true });
      const reseeded = splitDatasetToDirs({ dataDir: CALIB, model, outDir: other, seed: 7 });
      expect(reseeded.reused).toBe(false);
      expect(reseeded.key).not.toBe(split.key);
      expect(readSplitJson(other).validation.sources).not.toEqual(record.validation.sources);
      expect(readdirSync(root).filter((n) => n.includes('edgetune'))).toEqual([]);
    });
  });

  it('splits whole sets when the model fixes the batch axis', () => {
    const fixed = cloneModel(model);
    fixed.graph.inputs[0]!.type!.shape![0] = 32;
    const outDir = join(root, 'calib-fixed');
    const split = splitDatasetToDirs({ dataDir: CALIB, model: fixed, outDir });
    expect(split.unit).toBe('set');
    expect(split.fit.samples + split.validation.samples).toBe(256);
    expect(split.validation.samples).toBe(128);
    const record = readSplitJson(outDir);
    for (const dir of [split.fitDir, split.validationDir]) {
      const ds = openDataset(dir, fixed);
      for (let i = 0; i < ds.setNames.length; i++) expect(ds.load(i).batchSize).toBe(32);
    }
    expectRowsMatchSource(split.validationDir, record.validation.sources, openDataset(CALIB, fixed), fixed);
    // The same data under another split unit is another split: the key covers the model's fixed batch.
    expect(split.key).not.toBe(splitDatasetToDirs({ dataDir: CALIB, model, outDir: join(root, 'calib-free') }).key);
  });

  it('gathers reference outputs with their samples and splits unlabelled data unstratified', () => {
    const source = openDataset(CALIB, model);
    const dataDir = join(root, 'with-outputs');
    const sets = [0, 1].map((i) => {
      const batch = source.load(i);
      const input = gatherRows(batch.inputs[0]!, Array.from({ length: 16 }, (_, r) => r));
      const output: Tensor = { name: '', dataType: DataType.FLOAT, dims: [16, 10], values: Float32Array.from({ length: 160 }, (_, j) => i * 1000 + j) };
      return { inputs: [input], outputs: [output] };
    });
    writeDataset(dataDir, sets);
    const outDir = join(root, 'with-outputs-split');
    const split = splitDatasetToDirs({ dataDir, model, outDir, validationFraction: 0.25, seed: 3 });
    expect(split.stratified).toBe(false);
    expect(split.validation.samples).toBe(8);
    expect(split.fit.samples).toBe(24);
    const record = readSplitJson(outDir);
    const reopened = openDataset(dataDir, model);
    expectRowsMatchSource(split.fitDir, record.fit.sources, reopened, model);
    expectRowsMatchSource(split.validationDir, record.validation.sources, reopened, model);
  });

  it('refuses a dataset too small to split, with the numbers, and writes nothing', () => {
    const batch = openDataset(CALIB, model).load(0);
    const dataDir = join(root, 'ten');
    writeDataset(dataDir, [{ inputs: [gatherRows(batch.inputs[0]!, [...Array(10).keys()])], labels: gatherRows(batch.labels!, [...Array(10).keys()]) }]);
    const outDir = join(root, 'ten-split');
    const error = caught(() => splitDatasetToDirs({ dataDir, model, outDir }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toBe('--data has 10 samples: a 50 % validation split leaves 5 to judge on, fewer than 8; give --val-data DIR or --no-holdout to judge on the fitted data');
    expect(existsSync(outDir)).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('edgetune'))).toEqual([]);
  });

  it('refuses a dataset where some sets have labels and others do not, naming the set, and writes nothing', () => {
    const source = openDataset(CALIB, model);
    const dataDir = join(root, 'mixed');
    const a = source.load(0);
    const b = source.load(1);
    writeDataset(dataDir, [{ inputs: a.inputs, labels: a.labels! }, { inputs: b.inputs }]);
    const outDir = join(root, 'mixed-split');
    const error = caught(() => splitDatasetToDirs({ dataDir, model, outDir }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toMatch(/test_data_set_1 has no label\.pb but test_data_set_0 has one/);
    expect(existsSync(outDir)).toBe(false);
  });

  it('refuses data that does not fit the model (openDataset validation)', () => {
    const dataDir = join(root, 'wrong-shape');
    const t: Tensor = { name: '', dataType: DataType.FLOAT, dims: [16, 1, 14, 14], values: new Float32Array(16 * 196) };
    writeDataset(dataDir, [{ inputs: [t] }]);
    const error = caught(() => splitDatasetToDirs({ dataDir, model, outDir: join(root, 'wrong-shape-split') }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(existsSync(join(root, 'wrong-shape-split'))).toBe(false);
  });

  it('refuses an output directory that holds something else or would replace the dataset', () => {
    const busy = join(root, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'keep me');
    expect(caught(() => splitDatasetToDirs({ dataDir: CALIB, model, outDir: busy })).code).toBe('USAGE');
    expect(readdirSync(busy)).toEqual(['notes.txt']);
    expect(caught(() => splitDatasetToDirs({ dataDir: CALIB, model, outDir: CALIB })).code).toBe('USAGE');
    expect(caught(() => splitDatasetToDirs({ dataDir: join(root, 'calib-split', 'fit'), model, outDir: join(root, 'calib-split') })).code).toBe('USAGE');
  });
});

describe('datasetOverlap', () => {
  const root = mkdtempSync(join(tmpdir(), 'edgetune-overlap-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds nothing between mnist-calib and mnist-test', () => {
    expect(datasetOverlap(CALIB, TEST)).toEqual([]);
  });

  it('finds a set copied from one dataset into another', () => {
    const dir = join(root, 'mixed');
    mkdirSync(dir);
    cpSync(join(CALIB, 'test_data_set_0'), join(dir, 'test_data_set_0'), { recursive: true });
    cpSync(join(TEST, 'test_data_set_5'), join(dir, 'test_data_set_1'), { recursive: true });
    rmSync(join(dir, 'test_data_set_1', 'label.pb'));
    expect(datasetOverlap(dir, TEST)).toEqual([`${join(dir, 'test_data_set_1')} = ${join(TEST, 'test_data_set_5')}`]);
    expect(datasetOverlap(CALIB, dir)).toEqual([`${join(CALIB, 'test_data_set_0')} = ${join(dir, 'test_data_set_0')}`]);
  });

  it('counts the same directory, under any name, as overlapping in every set', () => {
    const link = join(root, 'calib-link');
    symlinkSync(CALIB, link);
    const overlap = datasetOverlap(CALIB, link);
    expect(overlap).toHaveLength(8);
    expect(overlap[0]).toBe(`${join(CALIB, 'test_data_set_0')} = ${join(link, 'test_data_set_0')}`);
    expect(datasetOverlap(CALIB, CALIB)).toHaveLength(8);
  });

  it('does not flag a split part against the other part', () => {
    const outDir = join(root, 'split');
    const split = splitDatasetToDirs({ dataDir: TEST, model, outDir, validationFraction: 0.2 });
    expect(split.validation.samples).toBe(400);
    expect(datasetOverlap(split.fitDir, split.validationDir)).toEqual([]);
  });
});
