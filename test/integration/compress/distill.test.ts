/** Head distillation in onnxruntime, and the `edgetune distill` CLI (needs `npm run build`, as `npm test` does). */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { distillHead, findHead } from '../../../src/compress/distill.js';
import { openDataset } from '../../../src/compress/dataset.js';
import { evaluateModel } from '../../../src/compress/evaluate.js';
import { factorizeLowRank } from '../../../src/compress/low-rank.js';
import { cloneModel } from '../../../src/onnx/ir.js';
import { loadModelFile, saveModelFile } from '../../../src/onnx/model-file.js';
import { writeMnistDigitDataset } from '../../../scripts/lib/mnist-pages.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'edgetune-distill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MLP = 'test/fixtures/models/mnist-mlp.onnx';

function digits(path: string, sets: number, batch: number, seed: number): string {
  return writeMnistDigitDataset(path, { flat: true, sets, batch, seed });
}

describe('head distillation', () => {
  const fit = digits(join(dir, 'fit'), 4, 128, 31);
  const heldOut = digits(join(dir, 'held'), 4, 100, 32);
  const teacher = loadModelFile(MLP).model;
  const student = cloneModel(teacher);
  factorizeLowRank(student, { ratio: 0.95 }); // a harsh low-rank student
  const studentPath = join(dir, 'student.onnx');
  saveModelFile(studentPath, student);

  it('finds the Gemm head and raises held-out accuracy of a harsh low-rank student', async () => {
    const head = findHead(student);
    expect(typeof head === 'string' ? head : head.node.opType).toBe('Gemm');
    const result = await distillHead(teacher, student, openDataset(fit, student), { temperature: 4 });
    expect(result.head.applied).toBe(true);
    expect(result.after.kl).toBeLessThan(result.before.kl);
    expect(result.after.agreement).toBeGreaterThan(result.before.agreement);
    const before = (await evaluateModel(student, heldOut)).top1!;
    const after = (await evaluateModel(result.student, heldOut)).top1!;
    expect(after).toBeGreaterThan(before + 0.1);
  }, 120_000);

  it('CLI: --json prints one object and writes the student; a bad temperature exits 2 with no file', async () => {
    expect(existsSync('dist/cli/main.js')).toBe(true);
    const out = join(dir, 'distilled.onnx');
    const { stdout } = await run('node', ['bin/edgetune.js', 'distill', '--teacher', MLP, '--student', studentPath, '--data', fit, '-o', out, '--json']);
    const json = JSON.parse(stdout) as { after: { kl: number }; before: { kl: number }; head: { applied: boolean }; output: { bytes: number } };
    expect(json.head.applied).toBe(true);
    expect(json.after.kl).toBeLessThan(json.before.kl);
    expect(existsSync(out)).toBe(true);
    const bad = join(dir, 'bad.onnx');
    const failed = await run('node', ['bin/edgetune.js', 'distill', '--teacher', MLP, '--student', studentPath, '--data', fit, '-o', bad, '--temperature', '0']).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(/temperature/);
    expect(existsSync(bad)).toBe(false);
  }, 120_000);
});
