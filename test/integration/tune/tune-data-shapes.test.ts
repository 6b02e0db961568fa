/**
 * Issue 20: a model with symbolic height and width (PaddleOCR cls: x [N, 3, H, W]) is tuned with --data and no
 * --shape: profiling takes the data's shape instead of refusing "dim 2 is symbolic … give it with --shape".
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../cli/cli-helpers.js';
import { digitTextLine, OCR } from '../compress/quantize-ort-helpers.js';
import { writeDataset } from '../../../src/compress/dataset-writer.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import type { TuneResult } from '../../../src/tune/tune-types.js';

describe('tune --data on a model with symbolic H and W', () => {
  it('profiles at the data\'s shape (batch from --batch) and says so', () => {
    const dir = tempDir();
    const lines = Array.from({ length: 4 }, (_, i) => digitTextLine(40 + i, 192, i % 2 === 1));
    writeDataset(join(dir, 'data'), lines.map((l) => ({ inputs: [floatTensor('x', l.dims, l.data)] })));
    const r = runCli(['tune', OCR.cls, '--data', join(dir, 'data'), '--no-holdout', '--candidates', 'fp16', '--iterations', '3', '--warmup', '1', '--energy', 'off', '--work-dir', join(dir, 'work'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as TuneResult;
    expect(result.settings.shapes).toEqual({ x: [1, 3, 48, 192] });
    expect(result.baseline.latencyMs).toBeGreaterThan(0);
  });
});
