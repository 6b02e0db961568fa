import { describe, expect, it } from 'vitest';
import {
  assertSplitLargeEnough,
  gatherRows,
  largestRemainderQuotas,
  MIN_SPLIT_SAMPLES,
  planDatasetSplit,
  type DatasetSplitPlan,
  type DatasetSplitPlanInput,
} from '../../../src/compress/dataset-split.js';
import { DataType } from '../../../src/onnx/dtype.js';
import type { Tensor } from '../../../src/onnx/ir.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { mulberry32 } from '../../../src/util/random.js';

/** Uneven sets with uneven classes (class k appears about k+1 times as often as class 0), one empty set. */
function unevenLabels(): { setSizes: number[]; labels: BigInt64Array[] } {
  const setSizes = [13, 7, 20, 0, 11, 31];
  const random = mulberry32(7);
  const labels = setSizes.map((n) => BigInt64Array.from({ length: n }, () => BigInt(Math.min(4, Math.floor(Math.sqrt(random() * 25))))));
  return { setSizes, labels };
}

function input(overrides: Partial<DatasetSplitPlanInput> = {}): DatasetSplitPlanInput {
  const { setSizes, labels } = unevenLabels();
  return { setSizes, labels, validationFraction: 0.5, seed: 1, fixedBatch: null, ...overrides };
}

/** Every (set, row) of the dataset lands in exactly one part; rows ascend; no part lists an empty set. */
function expectPartition(plan: DatasetSplitPlan, setSizes: number[]): void {
  const seen = setSizes.map((n) => new Uint8Array(n));
  for (const part of [plan.fit, plan.validation]) {
    let samples = 0;
    for (const { set, rows } of part.sets) {
      expect(rows.length).toBeGreaterThan(0);
      rows.forEach((r, i) => {
        if (i > 0) expect(r).toBeGreaterThan(rows[i - 1]!);
        seen[set]![r]!++;
      });
      samples += rows.length;
    }
    expect(part.samples).toBe(samples);
  }
  for (const marks of seen) expect([...marks].every((m) => m === 1)).toBe(true);
}

function validationCountsByClass(plan: DatasetSplitPlan, labels: BigInt64Array[]): Map<bigint, number> {
  const counts = new Map<bigint, number>();
  for (const { set, rows } of plan.validation.sets) for (const r of rows) counts.set(labels[set]![r]!, (counts.get(labels[set]![r]!) ?? 0) + 1);
  return counts;
}

function classCounts(labels: BigInt64Array[]): Map<bigint, number> {
  const counts = new Map<bigint, number>();
  for (const set of labels) for (const l of set) counts.set(l, (counts.get(l) ?? 0) + 1);
  return counts;
}

describe('planDatasetSplit', () => {
  it('gives the same plan, byte for byte, for the same input', () => {
    const a = planDatasetSplit(input());
    const b = planDatasetSplit(input());
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const unlabelled = { ...input(), labels: null };
    expect(JSON.stringify(planDatasetSplit(unlabelled))).toBe(JSON.stringify(planDatasetSplit(unlabelled)));
  });

  it('gives different plans for different seeds', () => {
    const a = planDatasetSplit(input({ seed: 1 }));
    const b = planDatasetSplit(input({ seed: 2 }));
    expect(a.validation.samples).toBe(b.validation.samples);
    expect(JSON.stringify(a.validation.sets)).not.toBe(JSON.stringify(b.validation.sets));
    const c = planDatasetSplit(input({ seed: 1, labels: null }));
    const d = planDatasetSplit(input({ seed: 2, labels: null }));
    expect(JSON.stringify(c.validation.sets)).not.toBe(JSON.stringify(d.validation.sets));
  });

  it.each([0.2, 0.35, 0.5, 0.7, 0.9])('stratifies a %s split exactly: largest-remainder quotas per class, every sample once', (fraction) => {
    const { setSizes, labels } = unevenLabels();
    const plan = planDatasetSplit(input({ validationFraction: fraction }));
    expect(plan.stratified).toBe(true);
    expect(plan.unit).toBe('sample');
    expectPartition(plan, setSizes);
    const total = setSizes.reduce((a, b) => a + b, 0);
    expect(plan.validation.samples).toBe(Math.round(total * fraction));
    expect(plan.fit.samples).toBe(total - plan.validation.samples);

    const counts = classCounts(labels);
    const got = validationCountsByClass(plan, labels);
    const remainderUp: number[] = [];
    const remainderDown: number[] = [];
    for (const [label, count] of counts) {
      const exact = count * fraction;
      const quota = got.get(label) ?? 0;
      expect([Math.floor(exact), Math.ceil(exact)]).toContain(quota);
      if (quota > Math.floor(exact)) remainderUp.push(exact - Math.floor(exact));
      else remainderDown.push(exact - Math.floor(exact));
    }
    // Largest remainder: every class rounded up has a remainder at least as large as every class rounded down.
    if (remainderUp.length && remainderDown.length) expect(Math.min(...remainderUp)).toBeGreaterThanOrEqual(Math.max(...remainderDown));
  });

  it('gives each class exactly its largest-remainder quota when there are no ties', () => {
    // Classes 0, 1, 2 with 10, 7 and 3 samples; 30 %: exact quotas 3, 2.1, 0.9 → floors 3, 2, 0 (5) → target 6 → 3, 2, 1.
    const labels = [BigInt64Array.from([0, 0, 0, 0, 0, 1, 1, 1, 2, 2].map(BigInt)), BigInt64Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 2].map(BigInt))];
    const plan = planDatasetSplit({ setSizes: [10, 10], labels, validationFraction: 0.3, seed: 5, fixedBatch: null });
    const got = validationCountsByClass(plan, labels);
    expect([got.get(0n), got.get(1n), got.get(2n)]).toEqual([3, 2, 1]);
    expectPartition(plan, [10, 10]);
  });

  it('stratifies int32 (number) labels too', () => {
    const labels = [Int32Array.from([0, 1, 0, 1, 0, 1]), Int32Array.from([1, 1, 0, 0, 2, 2])];
    const plan = planDatasetSplit({ setSizes: [6, 6], labels, validationFraction: 0.5, seed: 3, fixedBatch: null });
    expect(plan.stratified).toBe(true);
    const got = new Map<number, number>();
    for (const { set, rows } of plan.validation.sets) for (const r of rows) got.set(labels[set]![r]!, (got.get(labels[set]![r]!) ?? 0) + 1);
    // 5, 5 and 2 samples at 50 %: exact 2.5, 2.5, 1 → class 2 gets 1, classes 0 and 1 share the other 5 as 2 + 3.
    expect(got.get(2)).toBe(1);
    expect([got.get(0), got.get(1)].sort()).toEqual([2, 3]);
  });

  it('shuffles all samples together when the dataset has no labels', () => {
    const { setSizes } = unevenLabels();
    const plan = planDatasetSplit(input({ labels: null, validationFraction: 0.25 }));
    expect(plan.stratified).toBe(false);
    expect(plan.unit).toBe('sample');
    expect(plan.validation.samples).toBe(Math.round(82 * 0.25));
    expectPartition(plan, setSizes);
  });

  it('does not stratify when only some sets have labels (the adapter refuses such a dataset)', () => {
    const { setSizes, labels } = unevenLabels();
    const plan = planDatasetSplit(input({ labels: labels.map((l, i) => (i === 2 ? null : l)) }));
    expect(plan.stratified).toBe(false);
    expectPartition(plan, setSizes);
  });

  it('splits whole sets when the model fixes the batch axis above 1', () => {
    const setSizes = [32, 32, 32, 32, 32, 32, 32, 32];
    const labels = setSizes.map((n) => BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 10)));
    const plan = planDatasetSplit({ setSizes, labels, validationFraction: 0.5, seed: 9, fixedBatch: 32 });
    expect(plan.unit).toBe('set');
    expect(plan.stratified).toBe(false);
    expectPartition(plan, setSizes);
    for (const { rows } of [...plan.fit.sets, ...plan.validation.sets]) expect(rows).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(plan.validation.samples).toBe(128);
    const fitSets = plan.fit.sets.map((s) => s.set);
    expect(plan.validation.sets.every((s) => !fitSets.includes(s.set))).toBe(true);
    // Seeded: another seed picks other sets, the same seed the same ones.
    expect(JSON.stringify(planDatasetSplit({ setSizes, labels, validationFraction: 0.5, seed: 9, fixedBatch: 32 }))).toBe(JSON.stringify(plan));
    expect(planDatasetSplit({ setSizes, labels, validationFraction: 0.5, seed: 10, fixedBatch: 32 }).validation.sets.map((s) => s.set)).not.toEqual(plan.validation.sets.map((s) => s.set));
  });

  it('picks whole sets of uneven sizes close to the fraction and keeps a set in each part', () => {
    const setSizes = [50, 10, 10, 10, 20];
    const plan = planDatasetSplit({ setSizes, labels: null, validationFraction: 0.2, seed: 4, fixedBatch: 10 });
    expectPartition(plan, setSizes);
    expect(Math.abs(plan.validation.samples - 20)).toBeLessThanOrEqual(10);
    expect(plan.fit.sets.length).toBeGreaterThan(0);
    expect(plan.validation.sets.length).toBeGreaterThan(0);
    const two = planDatasetSplit({ setSizes: [10, 10], labels: null, validationFraction: 0.1, seed: 4, fixedBatch: 10 });
    expect([two.fit.sets.length, two.validation.sets.length]).toEqual([1, 1]);
  });

  it('splits samples when the fixed batch is 1', () => {
    const plan = planDatasetSplit(input({ fixedBatch: 1 }));
    expect(plan.unit).toBe('sample');
    expect(plan.stratified).toBe(true);
  });

  it.each([0, 1, -0.5, 1.5, Number.NaN])('refuses validation fraction %s with USAGE', (fraction) => {
    const run = () => planDatasetSplit(input({ validationFraction: fraction }));
    expect(run).toThrow(EdgetuneError);
    expect(run).toThrow(/validation fraction must be between 0 and 1/);
    try {
      run();
    } catch (error) {
      expect((error as EdgetuneError).code).toBe('USAGE');
    }
  });

  it('refuses labels that do not match the set sizes', () => {
    expect(() => planDatasetSplit(input({ labels: [new BigInt64Array(3)] }))).toThrow(RangeError);
    expect(() => planDatasetSplit({ setSizes: [4], labels: [new BigInt64Array(3)], validationFraction: 0.5, seed: 1, fixedBatch: null })).toThrow(/labels\[0\] has 3 labels for a set of 4/);
    expect(() => planDatasetSplit({ setSizes: [-1], labels: null, validationFraction: 0.5, seed: 1, fixedBatch: null })).toThrow(RangeError);
  });
});

describe('largestRemainderQuotas', () => {
  it('sums to the target and breaks ties by the seed, deterministically', () => {
    const counts = [3, 3, 3, 3, 3, 3];
    const a = largestRemainderQuotas(counts, 0.5, 9, mulberry32(1));
    expect(a.reduce((x, y) => x + y, 0)).toBe(9);
    expect(a.every((q) => q === 1 || q === 2)).toBe(true);
    expect(largestRemainderQuotas(counts, 0.5, 9, mulberry32(1))).toEqual(a);
    const others = [2, 3, 4, 5, 6].map((s) => JSON.stringify(largestRemainderQuotas(counts, 0.5, 9, mulberry32(s))));
    expect(others.some((o) => o !== JSON.stringify(a))).toBe(true);
  });
});

describe('assertSplitLargeEnough', () => {
  const plan = (samples: number, fraction: number) => planDatasetSplit({ setSizes: [samples], labels: null, validationFraction: fraction, seed: 1, fixedBatch: null });

  it(`refuses a validation part under ${MIN_SPLIT_SAMPLES} samples with the numbers`, () => {
    expect(MIN_SPLIT_SAMPLES).toBe(8);
    let caught: unknown;
    try {
      assertSplitLargeEnough(plan(10, 0.5));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EdgetuneError);
    expect((caught as EdgetuneError).code).toBe('DATASET_INVALID');
    expect((caught as EdgetuneError).message).toBe(
      '--data has 10 samples: a 50 % validation split leaves 5 to judge on, fewer than 8; give --val-data DIR or --no-holdout to judge on the fitted data',
    );
  });

  it('refuses a fit part under the minimum, and names the data and remedy as told', () => {
    expect(() => assertSplitLargeEnough(plan(20, 0.7))).toThrow(/--data has 20 samples: a 70 % validation split leaves 6 to fit on, fewer than 8/);
    expect(() => assertSplitLargeEnough(plan(20, 0.5), { minSamples: 11, dataLabel: "job data 'calib'", remedy: 'send validation data' })).toThrow(
      "job data 'calib' has 20 samples: a 50 % validation split leaves 10 to judge on, fewer than 11; send validation data",
    );
  });

  it('says when whole sets were split', () => {
    const sets = planDatasetSplit({ setSizes: [4, 4, 4], labels: null, validationFraction: 0.33, seed: 1, fixedBatch: 4 });
    expect(() => assertSplitLargeEnough(sets)).toThrow(/a 33 % validation split \(whole sets: the model has a fixed batch size\) leaves 4 to judge on/);
  });

  it('accepts parts of at least the minimum', () => {
    expect(() => assertSplitLargeEnough(plan(16, 0.5))).not.toThrow();
  });
});

describe('gatherRows', () => {
  const tensor: Tensor = { name: 'x', dataType: DataType.FLOAT, dims: [4, 2], values: Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31]) };

  it('gathers rows of axis 0 in the order given', () => {
    const out = gatherRows(tensor, [3, 1]);
    expect(out.dims).toEqual([2, 2]);
    expect(out.values).toBeInstanceOf(Float32Array);
    expect([...(out.values as Float32Array)]).toEqual([30, 31, 10, 11]);
    expect(out.name).toBe('x');
  });

  it('keeps int64 values and dtype', () => {
    const labels: Tensor = { name: '', dataType: DataType.INT64, dims: [3], values: BigInt64Array.from([5n, 6n, 7n]) };
    const out = gatherRows(labels, [0, 2]);
    expect(out.dataType).toBe(DataType.INT64);
    expect([...(out.values as BigInt64Array)]).toEqual([5n, 7n]);
  });

  it('refuses string tensors and rows out of range', () => {
    const strings: Tensor = { name: 's', dataType: DataType.STRING, dims: [2], values: ['a', 'b'] };
    expect(() => gatherRows(strings, [0])).toThrow(/string tensors cannot be split/);
    expect(() => gatherRows(tensor, [4])).toThrow(RangeError);
  });
});
