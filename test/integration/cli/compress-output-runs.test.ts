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
