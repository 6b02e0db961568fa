/** Issue 20: compress has no --shape, so its notes never send the user to one (PaddleOCR cls: symbolic H and W). */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { OCR } from '../compress/quantize-ort-helpers.js';

describe('compress without data on a model with symbolic H and W', () => {
  it('says the gate was not applied and to give --data, without pointing to a --shape flag compress lacks', () => {
    const r = runCli(['compress', OCR.cls, '-o', join(tempDir(), 'cls-fp16.onnx'), '--method', 'fp16', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const notes = (JSON.parse(r.stdout) as { notes: string[] }).notes;
    const gate = notes.find((n) => n.startsWith('fidelity gate not applied'));
    expect(gate).toMatch(/give --data DIR$/);
    expect(gate).not.toContain('--shape');
  });
});
