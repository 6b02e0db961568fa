/**
 * Synthesized integer inputs (issue 19): a model whose integer input is an index or a divisor runs on one of the
 * fills (uniform 0–9, then all 0, then all 1); a model that runs on none is refused as MODEL_UNSUPPORTED with the
 * reason, not blamed as MODEL_INVALID.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataType } from '../../../src/onnx/dtype.js';
import { makeNode } from '../../../src/onnx/graph.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { profileInChild } from '../../../src/profile/profile-child.js';
import { buildModel, tensorInfo } from '../../unit/compress/quantize-test-models.js';

const dir = mkdtempSync(join(tmpdir(), 'edgetune-profile-ints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quick = { iterations: 3, warmup: 1, threads: 1, energy: 'off' as const, flops: false };

function write(name: string, model: ReturnType<typeof buildModel>): string {
  const path = join(dir, name);
  writeFileSync(path, encodeModel(model));
  return path;
}

describe('profile on synthesized integer inputs', () => {
  it('an index into an axis of 2 runs on zeros (0–9 is out of range)', async () => {
    const path = write(
      'gather.onnx',
      buildModel({
        nodes: [makeNode('Gather', ['data', 'idx'], ['y'], 'gather')],
        inputs: [tensorInfo('idx', [6], DataType.INT64)],
        outputs: [tensorInfo('y', [6, 3])],
        initializers: [floatTensor('data', [2, 3], [1, 2, 3, 4, 5, 6])],
      }),
    );
    const outcome = await profileInChild({ modelPath: path, ...quick });
    expect(outcome.state).toBe('ok');
    if (outcome.state === 'ok') expect(outcome.result.syntheticFill).toBe('zeros');
  });

  it('an integer divisor runs on ones (0–9 and zeros include a zero divisor)', async () => {
    const path = write(
      'div.onnx',
      buildModel({
        nodes: [makeNode('Div', ['a', 'b'], ['y'], 'div')],
        inputs: [tensorInfo('a', [64], DataType.INT32), tensorInfo('b', [64], DataType.INT32)],
        outputs: [tensorInfo('y', [64], DataType.INT32)],
      }),
    );
    const outcome = await profileInChild({ modelPath: path, ...quick });
    expect(outcome.state).toBe('ok');
    if (outcome.state === 'ok') expect(outcome.result.syntheticFill).toBe('ones');
  });

  it('a model that runs on no fill is MODEL_UNSUPPORTED, naming the fills and pointing to --data', async () => {
    // Gather from an axis of 1 at index i + 1: 1..10 for every fill, always out of range.
    const path = write(
      'never.onnx',
      buildModel({
        nodes: [makeNode('Add', ['i', 'one'], ['j'], 'add'), makeNode('Gather', ['data', 'j'], ['y'], 'gather')],
        inputs: [tensorInfo('i', [4], DataType.INT64)],
        outputs: [tensorInfo('y', [4, 3])],
        initializers: [floatTensor('data', [1, 3], [1, 2, 3]), { name: 'one', dataType: DataType.INT64, dims: [], values: BigInt64Array.of(1n) }],
      }),
    );
    const outcome = await profileInChild({ modelPath: path, ...quick });
    expect(outcome.state).toBe('failed');
    if (outcome.state === 'failed') {
      expect(outcome.error.code).toBe('MODEL_UNSUPPORTED');
      expect(outcome.error.message).toMatch(/does not run on synthesized inputs .*random values: .*every value 0: .*every value 1: .*--data/);
    }
  });
});
