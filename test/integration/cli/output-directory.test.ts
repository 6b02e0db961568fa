import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';

// The CLI runs from dist/ (the test script builds it first). Issue 20: an output in a directory that does not exist
// is bad input (exit 2, the directory named, nothing written), found before any work, not ENOENT [RUNTIME_FAILED].
const MLP = 'test/fixtures/models/mnist-mlp.onnx';
const DATA = 'test/fixtures/data/mnist-calib-flat';

describe('an output path whose directory does not exist', () => {
  let dir: string;
  let missing: string;
  beforeAll(() => {
    dir = tempDir();
    missing = join(dir, 'no-such-dir');
  });

  const refused = (args: string[], flag: string, path: string): void => {
    const r = runCli(args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${flag} '${path}': directory '${missing}' does not exist; nothing written [USAGE]`);
    expect(r.stderr).not.toMatch(/ENOENT|RUNTIME_FAILED/);
    expect(existsSync(missing)).toBe(false);
  };

  it('compress -o', () => {
    refused(['compress', MLP, '-o', join(missing, 'out.onnx'), '--method', 'int8', '--data', DATA], 'output', join(missing, 'out.onnx'));
  });

  it('tune -o and --report: refused before any candidate is built (no work directory)', () => {
    const work = join(dir, 'work');
    const base = ['tune', MLP, '--data', DATA, '--work-dir', work, '--candidates', 'fp16', '--iterations', '3', '--warmup', '1', '--energy', 'off'];
    refused([...base, '-o', join(missing, 'tuned.onnx')], '-o', join(missing, 'tuned.onnx'));
    refused([...base, '--report', join(missing, 'report.html')], '--report', join(missing, 'report.html'));
    expect(existsSync(work)).toBe(false);
  });

  it('distill -o', () => {
    refused(['distill', '--teacher', MLP, '--student', MLP, '--data', DATA, '-o', join(missing, 'student.onnx')], '-o', join(missing, 'student.onnx'));
  });

  it('dataset -o (the dataset directory is created; the directory it goes in must exist)', () => {
    const x = join(dir, 'x.f32');
    writeFileSync(x, Buffer.alloc(4 * 784 * 4));
    refused(['dataset', '--input', x, '--shape', '4x784', '-o', join(missing, 'data')], '-o', join(missing, 'data'));
    const ok = runCli(['dataset', '--input', x, '--shape', '4x784', '-o', join(dir, 'data')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(readdirSync(join(dir, 'data'))).toEqual(['test_data_set_0']);
  });

  it('a file where the directory should be', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = runCli(['compress', MLP, '-o', join(file, 'out.onnx'), '--method', 'fp16']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`'${file}' is not a directory; nothing written [USAGE]`);
  });
});
