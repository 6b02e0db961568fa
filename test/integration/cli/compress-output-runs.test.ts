/**
 * The floor under every compression method: nothing is written that onnxruntime cannot load, or cannot run where
 * the input model runs (issue 19). Models from the ONNX backend test suite (Debian's libonnx-testdata) on which the
 * fp16 pass once wrote invalid models with exit 0; skipped where the package is not installed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { compareOutput, modelSignature, readRecordedSets } from '../../../scripts/lib/onnx-suite.js';

const NODE = '/usr/share/libonnx-testdata/data/node';
const CASES = ['test_softsign', 'test_globalaveragepool', 'test_qlinearconv', 'test_unique_not_sorted_without_axis', 'test_scatternd_add'];

describe.skipIf(!existsSync(NODE))('compress never exits 0 on a model onnxruntime cannot load or run', () => {
  const dir = tempDir();
  it.each(CASES)('%s with --method fp16: a valid model, or a refusal with nothing written', async (name) => {
    const out = join(dir, `${name}.onnx`);
    const r = runCli(['compress', join(NODE, name, 'model.onnx'), '-o', out, '--method', 'fp16', '--json']);
    if (r.status === 0) {
      // Written: onnxruntime loads it and it matches the suite's recorded outputs within the fp16 tolerance.
      const bytes = readFileSync(out);
      const { inputs, outputs } = modelSignature(bytes);
      const runner = await createInferenceRunner(bytes);
      try {
        for (const set of readRecordedSets(join(NODE, name))) {
          const got = await runner.run(Object.fromEntries(inputs.map((n, k) => [n, set.inputs[k]!])), outputs);
          set.outputs.forEach((want, k) => expect(compareOutput(got.get(outputs[k]!)!, want, 'fp16').ok, `${name} output ${k}`).toBe(true));
        }
      } finally {
        await runner.release();
      }
    } else {
      expect([1, 2], r.stderr).toContain(r.status);
      expect(r.stderr).toMatch(/\[(PASS_FAILED|MODEL_UNSUPPORTED)\]/);
      expect(existsSync(out)).toBe(false);
    }
  });
});

/**
 * int8 with each model's own recorded data as calibration data, on models it once refused (issue 19): broadcast
 * operands without a common batch axis, integer-only graphs, Unique's int64 outputs, a sequence, opset 6 (PyTorch
 * exports with constant weights, now upgraded and quantized), control flow upgraded from opset 11.
 */
const SUITE = '/usr/share/libonnx-testdata/data';
const INT8_CASES = [
  'node/test_add_bcast',
  'node/test_add_uint8',
  'node/test_unique_sorted_with_axis',
  'simple/test_sequence_model2',
  'pytorch-converted/test_Conv2d',
  'pytorch-operator/test_operator_conv',
  'node/test_if',
];

describe.skipIf(!existsSync(SUITE))('int8 on the suite models it once refused', () => {
  const dir = tempDir();
  it.each(INT8_CASES)('%s: exit 0, and the result matches the recorded outputs within the int8 tolerance', async (name) => {
    const out = join(dir, `${name.replace('/', '_')}.onnx`);
    const r = runCli(['compress', join(SUITE, name, 'model.onnx'), '-o', out, '--method', 'int8', '--data', join(SUITE, name), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { nodesChanged: number; opset: { from: number; to: number }; notes: string[] };
    if (name === 'node/test_if') expect(report.notes).toContainEqual(expect.stringMatching(/^control flow left as it was: If ×1/));
    if (name.startsWith('pytorch')) {
      expect(report.opset.from).toBe(6);
      expect(report.nodesChanged, 'the opset-6 Conv was quantized').toBeGreaterThan(0);
    }
    const bytes = readFileSync(out);
    const { inputs, outputs } = modelSignature(bytes);
    const runner = await createInferenceRunner(bytes);
    try {
      for (const set of readRecordedSets(join(SUITE, name))) {
        const got = await runner.run(Object.fromEntries(inputs.map((n, k) => [n, set.inputs[k]!])), outputs);
        set.outputs.forEach((want, k) => {
          const c = compareOutput(got.get(outputs[k]!)!, want, 'int8');
          expect(c.ok, `${name} output ${k}: ${c.detail}`).toBe(true);
        });
      }
    } finally {
      await runner.release();
    }
  });
});
