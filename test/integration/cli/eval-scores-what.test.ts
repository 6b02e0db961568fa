import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { writeDataset } from '../../../src/compress/dataset-writer.js';
import { floatTensor, int64Tensor } from '../../../src/onnx/tensor.js';
import { digitTextLine, FIXTURE_MODELS, OCR } from '../compress/quantize-ort-helpers.js';

// The CLI runs from dist/ (the test script builds it first). Issue 20: eval says what it measured, or refuses.
const MLP = join(FIXTURE_MODELS, 'mnist-mlp.onnx'); // logits [N, 10]

describe('edgetune eval: what it scores against', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    const pixels = (fill: number) => floatTensor('x', [2, 784], new Float32Array(1568).fill(fill));
    writeDataset(join(dir, 'unlabelled'), [{ inputs: [pixels(0)] }, { inputs: [pixels(0.5)] }]);
    writeDataset(join(dir, 'label-10'), [{ inputs: [pixels(0)], labels: int64Tensor('l', [2], [0, 1]) }, { inputs: [pixels(0.5)], labels: int64Tensor('l', [2], [3, 10]) }]);
    writeDataset(join(dir, 'label-neg'), [{ inputs: [pixels(0)], labels: int64Tensor('l', [2], [-1, 1]) }]);
    const lines = [1, 2, 3].map((seed) => digitTextLine(100 + seed));
    writeDataset(join(dir, 'lines'), lines.map((l) => ({ inputs: [floatTensor('x', l.dims, l.data)] })));
    writeDataset(join(dir, 'lines-labelled'), lines.map((l) => ({ inputs: [floatTensor('x', l.dims, l.data)], labels: int64Tensor('l', [1], [5]) })));
  });

  it('neither labels nor --reference: exit 2 saying what it needs, not a row of n/a', () => {
    const r = runCli(['eval', MLP, '--data', join(dir, 'unlabelled')]);
    expect(r.status, r.stdout).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/nothing to score against.*no label\.pb.*labels in the dataset \(label\.pb.*--reference MODEL.*\[USAGE\]/);
    const json = runCli(['eval', MLP, '--data', join(dir, 'unlabelled'), '--json']);
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout).error.code).toBe('USAGE');
  });

  it('labels are enough, and so is a reference', () => {
    const reference = runCli(['eval', MLP, '--data', join(dir, 'unlabelled'), '--reference', MLP, '--json']);
    expect(reference.status, reference.stderr).toBe(0);
    expect(JSON.parse(reference.stdout).agreement).toBe(1);
  });

  it('labels without a reference: the top-1 and what a reference would add, no row of n/a', () => {
    writeDataset(join(dir, 'labelled'), [{ inputs: [floatTensor('x', [2, 784], new Float32Array(1568).fill(0.25))], labels: int64Tensor('l', [2], [0, 1]) }]);
    const r = runCli(['eval', MLP, '--data', join(dir, 'labelled')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^top-1 \d+\.\d\d%$/m);
    expect(r.stdout).toContain('give it with --reference MODEL');
    expect(r.stdout).not.toContain('n/a');
  });

  it('a label outside the classifier output: exit 2 naming the set and the label (≥ width, and < 0)', () => {
    const high = runCli(['eval', MLP, '--data', join(dir, 'label-10')]);
    expect(high.status, high.stdout).toBe(2);
    expect(high.stderr).toMatch(/test_data_set_1: label\.pb holds label 10 \(sample 1\), outside the classes of output 'logits' \[2,10\] \(0 to 9\) \[DATASET_INVALID\]/);
    const negative = runCli(['eval', MLP, '--data', join(dir, 'label-neg'), '--reference', MLP]);
    expect(negative.status, negative.stdout).toBe(2);
    expect(negative.stderr).toMatch(/test_data_set_0: label\.pb holds label -1 \(sample 0\).*\[DATASET_INVALID\]/);
  });

  describe('a text recognizer (PaddleOCR rec, output [N, T, C])', () => {
    let variant: string;
    beforeAll(() => {
      variant = join(dir, 'rec-dyn.onnx');
      const r = runCli(['compress', OCR.rec, '-o', variant, '--method', 'int8-dynamic']);
      expect(r.status, r.stderr).toBe(0);
    });

    it('--json: agreement per position (argmax over classes at each of T positions)', () => {
      const r = runCli(['eval', variant, '--data', join(dir, 'lines'), '--reference', OCR.rec, '--json']);
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { samples: number; agreement: unknown; sequenceAgreement: { output: string; positions: number; agreement: number; ci: [number, number]; identicalSamples: number } };
      expect(result.samples).toBe(3);
      expect(result.agreement).toBeNull();
      const s = result.sequenceAgreement;
      expect(s.output).toBe('softmax_11.tmp_0');
      expect(s.positions).toBe(3 * 40); // 320 px wide lines: 40 positions each
      expect(s.agreement).toBeGreaterThan(0.9);
      expect(s.agreement).toBeLessThanOrEqual(1);
      expect(s.ci[0]).toBeLessThanOrEqual(s.agreement);
      expect(s.identicalSamples).toBeGreaterThanOrEqual(0);
      expect(s.identicalSamples).toBeLessThanOrEqual(3);
    });

    it('text: the per-position agreement, not n/a', () => {
      const r = runCli(['eval', variant, '--data', join(dir, 'lines'), '--reference', OCR.rec]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^agreement \d+\.\d{2}% per position \[\d+\.\d{2}%, \d+\.\d{2}%\] \(class at each position of output 'softmax_11\.tmp_0', 120 positions; \d of 3 sequences identical at every position\)$/m);
      expect(r.stdout).not.toMatch(/agreement n\/a/);
    });

    it('labels without a reference score nothing on a sequence output: exit 2 asking for --reference', () => {
      const r = runCli(['eval', variant, '--data', join(dir, 'lines-labelled')]);
      expect(r.status, r.stdout).toBe(2);
      expect(r.stderr).toMatch(/output 0 'softmax_11\.tmp_0'.* has rank 3.*--reference MODEL.*\[USAGE\]/);
    });
  });
});
