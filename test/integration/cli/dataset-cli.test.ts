import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { encodeNpy } from '../../../src/compress/npy.js';

describe('edgetune dataset', () => {
  it('converts .npy inputs and labels into the ONNX test-data layout that eval reads', () => {
    const dir = tempDir();
    const x = new Float32Array(70 * 784).map((_, i) => (i % 255) / 255);
    writeFileSync(join(dir, 'x.npy'), encodeNpy('<f4', [70, 784], x));
    writeFileSync(join(dir, 'y.npy'), encodeNpy('<i8', [70], BigInt64Array.from({ length: 70 }, (_, i) => BigInt(i % 10))));
    const out = join(dir, 'data');
    const r = runCli(['dataset', '--input', join(dir, 'x.npy'), '--labels', join(dir, 'y.npy'), '--batch', '32', '-o', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sets: 3, samples: 70, labels: true });
    const ds = openDataset(out);
    expect(ds.setNames).toEqual(['test_data_set_0', 'test_data_set_1', 'test_data_set_2']);
    const last = ds.load(2);
    expect(last.batchSize).toBe(6);
    expect(last.labels!.dims).toEqual([6]);
    // The values themselves, not the .npy header read as data (issue 20: a Buffer's slice() is a view).
    expect(Array.from(last.labels!.values as BigInt64Array, Number)).toEqual([64, 65, 66, 67, 68, 69].map((i) => i % 10));
    const first = ds.load(0).inputs[0]!.values as Float32Array;
    expect(first[0]).toBeCloseTo(0, 6);
    expect(first[300]).toBeCloseTo(45 / 255, 6);
    const ev = runCli(['eval', 'test/fixtures/models/mnist-mlp.onnx', '--data', out, '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).samples).toBe(70);
  });

  it('converts raw float32 with --shape, and refuses a size mismatch without writing anything', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.f32'), Buffer.from(new Float32Array(4 * 784).buffer));
    const ok = runCli(['dataset', '--input', join(dir, 'x.f32'), '--shape', '4x784', '-o', join(dir, 'raw')]);
    expect(ok.status, ok.stderr).toBe(0);
    const bad = runCli(['dataset', '--input', join(dir, 'x.f32'), '--shape', '5x784', '-o', join(dir, 'bad')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/shape \[5x784\] of float32 needs/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    expect(readdirSync(dir).some((f) => f.includes('partial'))).toBe(false);
  });
});
