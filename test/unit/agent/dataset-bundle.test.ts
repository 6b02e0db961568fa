import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DATASET_ENTRY_PATTERN, packDatasetBundle, parseDatasetBundleHeader, unpackDatasetBundle } from '../../../src/agent/dataset-bundle.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-bundle-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function dataset(): string {
  const src = join(dir, 'data');
  for (const set of ['test_data_set_0', 'test_data_set_1']) {
    mkdirSync(join(src, set), { recursive: true });
    writeFileSync(join(src, set, 'input_0.pb'), Buffer.from(`${set}-input`));
    writeFileSync(join(src, set, 'label.pb'), Buffer.from([1, 2, 3]));
    writeFileSync(join(src, set, 'notes.txt'), 'not part of the layout');
  }
  mkdirSync(join(src, 'other'));
  return src;
}

describe('dataset bundles', () => {
  it('round-trips the ONNX test-data layout and nothing else', () => {
    const src = dataset();
    const bundle = join(dir, 'b.bundle');
    expect(packDatasetBundle(src, bundle).files).toBe(4);
    const out = join(dir, 'out');
    unpackDatasetBundle(bundle, out);
    expect(readdirSync(out).sort()).toEqual(['test_data_set_0', 'test_data_set_1']);
    expect(readdirSync(join(out, 'test_data_set_1')).sort()).toEqual(['input_0.pb', 'label.pb']);
    expect(readFileSync(join(out, 'test_data_set_1', 'input_0.pb'), 'utf8')).toBe('test_data_set_1-input');
  });

  it('only accepts names of the layout, so no entry can point outside the directory', () => {
    for (const bad of ['../x.pb', 'test_data_set_0/../../x.pb', '/etc/passwd', 'test_data_set_0/input_0.pb/..', 'test_data_set_0\\input_0.pb', 'test_data_set_00/input_0.pb', 'test_data_set_0/input_0.pb\u0000']) {
      expect(DATASET_ENTRY_PATTERN.test(bad), bad).toBe(false);
    }
    const header = (files: unknown): Buffer => Buffer.from(`EDGETUNE-DATASET-1\n${JSON.stringify({ files })}\n`);
    const h = header([{ path: '../evil.pb', bytes: 0 }]);
    expect(() => parseDatasetBundleHeader(h, h.length)).toThrow(/outside the ONNX test-data layout/);
    const sizes = header([{ path: 'test_data_set_0/input_0.pb', bytes: 10 }]);
    expect(() => parseDatasetBundleHeader(sizes, sizes.length + 3)).toThrow(/lists 10 bytes/);
    expect(() => parseDatasetBundleHeader(Buffer.from('PK\u0003\u0004'), 4)).toThrow(/bundle header/);
  });

  it('leaves no partial directory when extraction fails', () => {
    const bundle = join(dir, 'bad.bundle');
    const h = Buffer.from(`EDGETUNE-DATASET-1\n${JSON.stringify({ files: [{ path: 'test_data_set_0/input_0.pb', bytes: 4 }, { path: 'test_data_set_0/input_0.pb', bytes: 0 }] })}\n`);
    writeFileSync(bundle, Buffer.concat([h, Buffer.alloc(4)]));
    expect(() => unpackDatasetBundle(bundle, join(dir, 'out'))).toThrow(/twice/);
    expect(readdirSync(dir).sort()).toEqual(['bad.bundle']);
  });

  it('refuses a directory without the layout', () => {
    mkdirSync(join(dir, 'empty'));
    expect(() => packDatasetBundle(join(dir, 'empty'), join(dir, 'x.bundle'))).toThrow(/holds no test_data_set_N/);
  });
});
