/** Issue 20: compress without data on a model with symbolic H and W (PaddleOCR cls) says what would give it a gate. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { OCR } from '../compress/quantize-ort-helpers.js';

describe('compress without data on a model with symbolic H and W', () => {
  it('says the gate was not applied and how to get one: --shape (which compress has) or --data', () => {
    const r = runCli(['compress', OCR.cls, '-o', join(tempDir(), 'cls-fp16.onnx'), '--method', 'fp16', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const notes = (JSON.parse(r.stdout) as { notes: string[] }).notes;
    const gate = notes.find((n) => n.startsWith('fidelity gate not applied'));
    expect(gate).toMatch(/give it with --shape x=1x3xNxN\); give --data DIR$/);
  });
});

describe('compress --shape', () => {
  it('gives the gate synthesized inputs of that shape, and a --shape naming no input is exit 2 with nothing written', () => {
    const dir = tempDir();
    const ok = runCli(['compress', OCR.cls, '-o', join(dir, 'a.onnx'), '--method', 'fp16', '--shape', 'x=1x3x48x192', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as { notes: string[]; fidelity: { judgedOn: string } | null };
    expect(report.fidelity?.judgedOn).toBe('synthetic');
    expect(report.notes.some((n) => n.startsWith('fidelity gate not applied'))).toBe(false);
    const bad = runCli(['compress', OCR.cls, '-o', join(dir, 'b.onnx'), '--method', 'fp16', '--shape', 'y=1x3x48x192']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--shape y=\.\.\.: the model has no input 'y' \(inputs: x\) \[USAGE\]/);
    expect(existsSync(join(dir, 'b.onnx'))).toBe(false);
  });
});
