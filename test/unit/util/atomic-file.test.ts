import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireOutputDirectory, writeFileAtomic } from '../../../src/util/atomic-file.js';
import { EdgetuneError, exitCodeFor } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'edgetune-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function caught(f: () => void): EdgetuneError {
  try {
    f();
  } catch (error) {
    if (error instanceof EdgetuneError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('output paths in a directory that is not there (issue 20: bad input, not ENOENT [RUNTIME_FAILED])', () => {
  it('writeFileAtomic: USAGE (exit 2) naming the missing directory; nothing created', () => {
    const missing = join(dir, 'no', 'such');
    const e = caught(() => writeFileAtomic(join(missing, 'out.onnx'), 'x'));
    expect(e.code).toBe('USAGE');
    expect(exitCodeFor(e)).toBe(2);
    expect(e.message).toBe(`cannot write '${join(missing, 'out.onnx')}': directory '${missing}' does not exist`);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('requireOutputDirectory: a missing directory, and a file where the directory should be', () => {
    expect(caught(() => requireOutputDirectory(join(dir, 'gone', 'm.onnx'), '-o')).message).toBe(`-o '${join(dir, 'gone', 'm.onnx')}': directory '${join(dir, 'gone')}' does not exist; nothing written`);
    writeFileSync(join(dir, 'file'), 'x');
    const e = caught(() => requireOutputDirectory(join(dir, 'file', 'm.onnx')));
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/'.*\/file' is not a directory/);
    expect(() => requireOutputDirectory(join(dir, 'ok.onnx'))).not.toThrow();
    expect(readdirSync(dir)).toEqual(['file']);
  });
});
