import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { decodeModel, encodeModel, encodeTensor } from '../../../src/onnx/model-codec.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';
import { DataType } from '../../../src/onnx/dtype.js';

const MLP = 'test/fixtures/models/mnist-mlp.onnx';

describe('compress and eval reject bad input with exit code 2 and write nothing', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });

  const expectRefused = (args: string[], pattern: RegExp, output?: string): void => {
    const r = runCli(args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(pattern);
    if (output) expect(existsSync(output)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.edgetune-tmp'))).toEqual([]);
  };

  it('a file that is not ONNX', () => {
    const bad = join(dir, 'text.onnx');
    writeFileSync(bad, 'hello, I am not a model\n');
    expectRefused(['compress', bad, '-o', join(dir, 'a.onnx'), '--method', 'fp16'], /not a valid ONNX model.*\[MODEL_INVALID\]/, join(dir, 'a.onnx'));
  });

  it('a truncated model', () => {
    const truncated = join(dir, 'truncated.onnx');
    writeFileSync(truncated, readFileSync(MLP).subarray(0, 40_000));
    expectRefused(['compress', truncated, '-o', join(dir, 'b.onnx'), '--method', 'int4'], /MODEL_INVALID/, join(dir, 'b.onnx'));
  });

  it('a model whose graph reads a tensor that does not exist', () => {
    const model = decodeModel(readFileSync(MLP));
    model.graph.nodes[1]!.inputs[0] = 'no_such_tensor';
    const broken = join(dir, 'dangling.onnx');
    writeFileSync(broken, encodeModel(model));
    expectRefused(['compress', broken, '-o', join(dir, 'c.onnx'), '--method', 'fp16'], /reads 'no_such_tensor'/, join(dir, 'c.onnx'));
  });

  it('an unknown method', () => {
    expectRefused(['compress', MLP, '-o', join(dir, 'd.onnx'), '--method', 'int3'], /unknown compression method 'int3'/, join(dir, 'd.onnx'));
  });

  it('int8 without data, and an empty dataset directory', () => {
    expectRefused(['compress', MLP, '-o', join(dir, 'e.onnx'), '--method', 'int8'], /needs .*--data/, join(dir, 'e.onnx'));
    const empty = join(dir, 'empty-data');
    mkdirSync(empty);
    expectRefused(['compress', MLP, '-o', join(dir, 'e.onnx'), '--method', 'int8', '--data', empty], /no test_data_set_N.*\[DATASET_INVALID\]/, join(dir, 'e.onnx'));
  });

  it('a dataset that does not match the model', () => {
    const data = join(dir, 'wrong-shape');
    mkdirSync(join(data, 'test_data_set_0'), { recursive: true });
    writeFileSync(join(data, 'test_data_set_0', 'input_0.pb'), encodeTensor(floatTensor('x', [2, 100], new Float32Array(200))));
    expectRefused(['compress', MLP, '-o', join(dir, 'f.onnx'), '--method', 'int8', '--data', data], /input_0\.pb has shape \[2,100\].*\[DATASET_INVALID\]/, join(dir, 'f.onnx'));
    const labels = join(dir, 'wrong-labels');
    mkdirSync(join(labels, 'test_data_set_0'), { recursive: true });
    writeFileSync(join(labels, 'test_data_set_0', 'input_0.pb'), encodeTensor(floatTensor('x', [2, 784], new Float32Array(1568))));
    writeFileSync(join(labels, 'test_data_set_0', 'label.pb'), encodeTensor(makeTensor('l', DataType.INT64, [3], [1, 2, 3])));
    expectRefused(['eval', MLP, '--data', labels], /3 labels for a batch of 2/);
  });

  it('never overwrites its input', () => {
    const copy = join(dir, 'input.onnx');
    copyFileSync(MLP, copy);
    const before = readFileSync(copy);
    expectRefused(['compress', copy, '-o', copy, '--method', 'fp16'], /never overwrites its input/);
    expect(Buffer.compare(readFileSync(copy), before)).toBe(0);
  });

  it('prints one JSON error object with --json', () => {
    const r = runCli(['compress', join(dir, 'missing.onnx'), '-o', join(dir, 'g.onnx'), '--method', 'fp16', '--json']);
    expect(r.status).toBe(2);
    const parsed = JSON.parse(r.stdout);
    expect(parsed.error.code).toBe('MODEL_INVALID');
  });
});
