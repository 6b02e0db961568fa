/** Issue 20: a note shared by many candidates or nodes is said once (tune's self-distillation, compress's opset upgrade). */
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../cli/cli-helpers.js';
import { OCR } from '../compress/quantize-ort-helpers.js';
import type { TuneResult } from '../../../src/tune/tune-types.js';

// The CLI runs from dist/ (the test script builds it first).
const MLP = resolve('test/fixtures/models/mnist-mlp.onnx');
const TEST = resolve('test/fixtures/data/mnist-test-flat');
const CALIB = resolve('test/fixtures/data/mnist-calib-flat');

const count = (text: string, needle: string): number => text.split(needle).length - 1;

describe('tune: the same self-distillation note for many rejections is printed once', () => {
  const dir = tempDir('edgetune-tune-notes-');
  let result: TuneResult;
  let stdout: string;
  let stderr: string;
  beforeAll(() => {
    // A bound no quantized MLP meets: every candidate is rejected and self-distillation is tried on each; the MLP's
    // head after int8 / int8-pt (and after the int8-dyn combinations) is not refittable, for the same reason.
    const args = ['tune', MLP, '--data', TEST, '--calib', CALIB, '--candidates', 'int8,int8-pt,prune-0.5+int8-dyn,lowrank-0.5+int8-dyn,prune-0.25+lowrank-0.5+int8-dyn'];
    const r = runCli([...args, '--max-accuracy-drop', '0.01', '--confidence', '0', '--iterations', '3', '--warmup', '1', '--energy', 'off', '--work-dir', join(dir, 'work'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    result = JSON.parse(r.stdout) as TuneResult;
    const t = runCli([...args, '--max-accuracy-drop', '0.01', '--confidence', '0', '--iterations', '3', '--warmup', '1', '--energy', 'off', '--work-dir', join(dir, 'work2')]);
    expect(t.status, t.stderr).toBe(0);
    stdout = t.stdout;
    stderr = t.stderr;
  }, 300_000);

  it('each rejected candidate carries its attempt in selfDistillation, not in its reason', () => {
    const rejected = result.candidates.filter((c) => c.state === 'rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(4);
    for (const c of rejected) {
      expect(c.selfDistillation, c.id).toMatch(/^self-distill/);
      expect(c.reason, c.id).not.toMatch(/self-distill/);
    }
  });

  it('one note per distinct attempt, naming the candidates; a shared note is not repeated', () => {
    const byNote = new Map<string, string[]>();
    for (const c of result.candidates) if (c.selfDistillation) byNote.set(c.selfDistillation, [...(byNote.get(c.selfDistillation) ?? []), c.id]);
    expect([...byNote.values()].some((ids) => ids.length >= 2)).toBe(true);
    for (const [note, ids] of byNote) {
      const line = `note: ${note} — tried on ${ids.length === 1 ? 'the rejected candidate' : `${ids.length} rejected candidates`}: ${ids.join(', ')}`;
      expect(stdout).toContain(line);
      expect(count(stdout, note), note).toBe(1); // the candidate table's note column no longer repeats it
      expect(count(stderr, note), note).toBe(1); // the progress lines say it for the first candidate only
      for (const id of ids.slice(1)) expect(stderr).toMatch(new RegExp(`\\] ${id.replace(/[+.]/g, '\\$&')}: rejected: .*\\(self-distillation: as for ${ids[0]!.replace(/[+.]/g, '\\$&')}\\)`));
    }
  });
});

describe('compress: the opset upgrade is one note grouped by op type, not one note per node', () => {
  it('PaddleOCR cls (opset 9, 18 Clips): one line naming the counts', () => {
    const r = runCli(['compress', OCR.cls, '-o', join(tempDir(), 'cls.onnx'), '--method', 'int8-dynamic']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.includes('opset upgrade'));
    expect(lines).toEqual(['note: opset upgrade 9 → 11 converted 19 nodes: Clip ×18, Slice ×1']);
  });
});
