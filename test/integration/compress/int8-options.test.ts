/** int8 options given through the library (the agent and scripts skip yargs) are checked before any work: USAGE, no file. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import type { MethodOptions } from '../../../src/compress/methods/method-types.js';

const dir = mkdtempSync(join(tmpdir(), 'edgetune-int8-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('int8 refuses bad options', () => {
  it.each<[string, MethodOptions, RegExp]>([
    ['an unknown calibration method', { calibration: 'bogus' as MethodOptions['calibration'] }, /calibration must be one of auto, minmax, percentile, entropy, mse, consumer-mse, got "bogus"/],
    ['a percentile above 100', { calibration: 'percentile', percentile: 150 }, /percentile must be in \(50, 100\], got 150/],
    ['too many bias-correction rounds', { biasCorrectionRounds: 99 }, /bias correction rounds must be a whole number from 0 to 5, got 99/],
    ['negative bias-correction rounds', { biasCorrectionRounds: -1 }, /got -1/],
  ])('%s: USAGE, nothing written', async (_label, options, message) => {
    const out = join(dir, 'out.onnx');
    const error = await compressModelFile({
      inputPath: 'test/fixtures/models/mnist-mlp.onnx',
      outputPath: out,
      method: 'int8',
      dataDir: 'test/fixtures/data/mnist-calib-flat',
      ...options,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'USAGE' });
    expect((error as Error).message).toMatch(message);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
