/** Sets whose inputs share no batch axis (the ONNX backend test suite's broadcast operands and scalars) are one sample each. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { feedsForBatch, openDataset } from '../../../src/compress/dataset.js';
import { writeDataset } from '../../../src/compress/dataset-writer.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { makeNode } from '../../../src/onnx/graph.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { buildModel, tensorInfo } from './quantize-test-models.js';

const root = mkdtempSync(join(tmpdir(), 'edgetune-unbatched-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const addModel = (yShape: number[]) =>
  buildModel({ nodes: [makeNode('Add', ['x', 'y'], ['z'], 'add')], inputs: [tensorInfo('x', [3, 4, 5]), tensorInfo('y', yShape)], outputs: [tensorInfo('z', [3, 4, 5])] });

describe('unbatched dataset sets', () => {
  it('a broadcast operand: one sample, fed whole, never split', () => {
    const dir = join(root, 'bcast');
    writeDataset(dir, [{ inputs: [floatTensor('x', [3, 4, 5], new Float32Array(60)), floatTensor('y', [5], new Float32Array(5))] }]);
    const model = addModel([5]);
    const batch = openDataset(dir, model).load(0);
    expect(batch).toMatchObject({ batchSize: 1, unbatched: true });
    const pieces = feedsForBatch(model, batch);
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.feeds.x!.dims).toEqual([3, 4, 5]);
    expect(pieces[0]!.feeds.y!.dims).toEqual([5]);
  });

  it('a scalar input makes the set unbatched too', () => {
    const dir = join(root, 'scalar');
    writeDataset(dir, [{ inputs: [floatTensor('x', [3, 4, 5], new Float32Array(60)), floatTensor('y', [], [2])] }]);
    expect(openDataset(dir, addModel([])).load(0).unbatched).toBe(true);
  });

  it('inputs with a common axis 0 stay a batch of that size', () => {
    const dir = join(root, 'batched');
    writeDataset(dir, [{ inputs: [floatTensor('x', [3, 4, 5], new Float32Array(60)), floatTensor('y', [3, 4, 5], new Float32Array(60))] }]);
    const batch = openDataset(dir, addModel([3, 4, 5])).load(0);
    expect(batch.batchSize).toBe(3);
    expect(batch.unbatched).toBeUndefined();
  });

  it('an unbatched set must fit the model\'s fixed axis 0 too (a batched one may be split)', () => {
    const dir = join(root, 'fixed');
    writeDataset(dir, [{ inputs: [floatTensor('x', [2, 4, 5], new Float32Array(40)), floatTensor('y', [5], new Float32Array(5))] }]);
    expect(() => openDataset(dir, addModel([5])).load(0)).toThrow(/input_0\.pb has shape \[2,4,5\], model input 'x' needs \[3,4,5\]/);
  });

  it('labels of an unbatched set: one', () => {
    const dir = join(root, 'labels');
    writeDataset(dir, [{ inputs: [floatTensor('x', [3, 4, 5], new Float32Array(60)), floatTensor('y', [5], new Float32Array(5))], labels: { name: 'label', dataType: DataType.INT64, dims: [3], values: BigInt64Array.from([0n, 1n, 2n]) } }]);
    expect(() => openDataset(dir, addModel([5])).load(0)).toThrow(/3 labels for a batch of 1/);
  });
});
