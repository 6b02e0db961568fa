import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DATASET_ENTRY_PATTERN, MAX_SET_META_BYTES, packDatasetBundle, parseDatasetBundleHeader, unpackDatasetBundle } from '../../../src/agent/dataset-bundle.js';

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

  it("carries each set's meta.json (an image set's source file and frame) and still nothing else", () => {
    const src = dataset();
    const meta = `${JSON.stringify({ detection: { fileName: 'faceapi-sample1.jpg', frame: { scale: 0.4, padX: 0, padY: 42, width: 640, height: 427 } } })}\n`;
    writeFileSync(join(src, 'test_data_set_0', 'meta.json'), meta);
    writeFileSync(join(src, 'test_data_set_0', 'photo.jpg'), Buffer.from([0xff, 0xd8, 0xff]));
    writeFileSync(join(src, 'test_data_set_1', 'meta.json.bak'), '{}');
    writeFileSync(join(src, 'meta.json'), '{}');
    const bundle = join(dir, 'm.bundle');
    expect(packDatasetBundle(src, bundle).files).toBe(5);
    const out = join(dir, 'out');
    unpackDatasetBundle(bundle, out);
    expect(readdirSync(out).sort()).toEqual(['test_data_set_0', 'test_data_set_1']);
    expect(readdirSync(join(out, 'test_data_set_0')).sort()).toEqual(['input_0.pb', 'label.pb', 'meta.json']);
    expect(readdirSync(join(out, 'test_data_set_1')).sort()).toEqual(['input_0.pb', 'label.pb']);
    expect(readFileSync(join(out, 'test_data_set_0', 'meta.json'), 'utf8')).toBe(meta);

    expect(DATASET_ENTRY_PATTERN.test('test_data_set_12/meta.json')).toBe(true);
    for (const bad of ['meta.json', 'test_data_set_0/meta.json.bak', 'test_data_set_0/Meta.json', 'test_data_set_0/meta.jsonx', 'test_data_set_0/sub/meta.json', 'test_data_set_0/../meta.json', 'test_data_set_0/photo.jpg', 'test_data_set_0/meta.pb']) {
      expect(DATASET_ENTRY_PATTERN.test(bad), bad).toBe(false);
    }
    const header = (files: unknown): Buffer => Buffer.from(`EDGETUNE-DATASET-1\n${JSON.stringify({ files })}\n`);
    const jpg = header([{ path: 'test_data_set_0/photo.jpg', bytes: 0 }]);
    expect(() => parseDatasetBundleHeader(jpg, jpg.length)).toThrow(/entry 0 has a name outside the ONNX test-data layout: "test_data_set_0\/photo.jpg"/);
  });

  it('refuses a meta.json over the cap when packing (nothing written) and in a received header', () => {
    const src = dataset();
    writeFileSync(join(src, 'test_data_set_1', 'meta.json'), `{"pad":"${'x'.repeat(MAX_SET_META_BYTES)}"}`);
    const bundle = join(dir, 'big.bundle');
    expect(() => packDatasetBundle(src, bundle)).toThrow(/test_data_set_1\/meta\.json is \d+ bytes; a set's meta\.json holds at most 65536 \(64 KiB\)/);
    expect(readdirSync(dir)).toEqual(['data']);
    const bytes = MAX_SET_META_BYTES + 1;
    const h = Buffer.from(`EDGETUNE-DATASET-1\n${JSON.stringify({ files: [{ path: 'test_data_set_0/input_0.pb', bytes: 0 }, { path: 'test_data_set_0/meta.json', bytes }] })}\n`);
    expect(() => parseDatasetBundleHeader(h, h.length + bytes)).toThrow(/dataset bundle entry test_data_set_0\/meta\.json is 65537 bytes; a set's meta\.json holds at most 65536/);
  });

  it('refuses a directory without the layout', () => {
    mkdirSync(join(dir, 'empty'));
    expect(() => packDatasetBundle(join(dir, 'empty'), join(dir, 'x.bundle'))).toThrow(/holds no test_data_set_N/);
  });
});
