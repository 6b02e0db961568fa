/**
 * fp16 on the ONNX backend test suite (issue 19; Debian's libonnx-testdata, skipped where it is not installed): the
 * models on which the fp16 pass once wrote models onnxruntime could not load or run. Each now comes out valid — it
 * loads, runs on its own test_data_set_0 and matches the recorded outputs within float16 tolerance — with the
 * nodes the pass left alone named in the report, or is refused with exit 2 naming the op, nothing written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compressModelFile, type CompressReport } from '../../../src/compress/compress-model.js';
import { realInputs } from '../../../src/compress/dataset.js';
import { DataType } from '../../../src/onnx/dtype.js';
import type { Tensor } from '../../../src/onnx/ir.js';
import { decodeModel, decodeTensor } from '../../../src/onnx/model-codec.js';
import { tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';

const SUITE = '/usr/share/libonnx-testdata/data';

/** float16 tolerance against the recorded float32 outputs: |got − want| ≤ ATOL + RTOL·|want|. */
const RTOL = 1e-2;
const ATOL = 1e-3;

const dir = mkdtempSync(join(tmpdir(), 'edgetune-fp16-suite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Compress `<suite>/<model>/model.onnx` with fp16 into the temp dir; returns the report and the written path. */
async function compressFp16(model: string): Promise<{ report: CompressReport; out: string }> {
  const out = join(dir, `${model.replace('/', '_')}.onnx`);
  const report = await compressModelFile({ inputPath: join(SUITE, model, 'model.onnx'), outputPath: out, method: 'fp16' });
  return { report, out };
}

/**
 * Run the written model on the suite's test_data_set_0 and compare every output with the recorded one: float
 * outputs within the float16 tolerance, the others exactly. Returns the largest float error.
 */
async function expectMatchesRecorded(model: string, out: string): Promise<number> {
  const set = join(SUITE, model, 'test_data_set_0');
  const written = decodeModel(readFileSync(out));
  const feeds: Record<string, Tensor> = {};
  realInputs(written).forEach((info, k) => {
    feeds[info.name] = { ...decodeTensor(readFileSync(join(set, `input_${k}.pb`))), name: info.name };
  });
  const runner = await createInferenceRunner(readFileSync(out));
  let worst = 0;
  try {
    const got = await runner.run(feeds);
    written.graph.outputs.forEach((output, k) => {
      const want = decodeTensor(readFileSync(join(set, `output_${k}.pb`)));
      const actual = got.get(output.name)!;
      expect(actual.dataType, output.name).toBe(want.dataType);
      expect(actual.dims, output.name).toEqual(want.dims);
      if (want.dataType === DataType.FLOAT || want.dataType === DataType.DOUBLE) {
        const a = tensorToFloat32(actual);
        const b = tensorToFloat32(want);
        for (let i = 0; i < b.length; i++) {
          const error = Math.abs(a[i]! - b[i]!);
          worst = Math.max(worst, error);
          expect(error, `${output.name}[${i}]: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(ATOL + RTOL * Math.abs(b[i]!));
        }
      } else {
        expect(Array.from(actual.values as ArrayLike<unknown>), output.name).toEqual(Array.from(want.values as ArrayLike<unknown>));
      }
    });
  } finally {
    await runner.release();
  }
  return worst;
}

describe.skipIf(!existsSync(SUITE))('fp16 on the ONNX backend test suite', () => {
  describe('opset-1 models (Cast-1 took `to` as a string; onnxruntime inserts Casts of the opset-6 form)', () => {
    const models = [
      'node/test_softsign', 'node/test_softsign_example', 'node/test_softplus', 'node/test_softplus_example',
      'node/test_globalaveragepool', 'node/test_globalaveragepool_precomputed', 'node/test_globalmaxpool', 'node/test_globalmaxpool_precomputed',
    ];
    it.each(models)('%s: moved to opset 6 (no op changed in between), runs in float16 and matches', async (model) => {
      const { report, out } = await compressFp16(model);
      expect(report.opset).toEqual({ from: 1, to: 6 });
      expect(report.notes.some((n) => n.startsWith('default-domain opset moved from 1 to 6'))).toBe(true);
      expect(report.nodesKeptFloat).toEqual([]);
      const written = decodeModel(readFileSync(out));
      expect(written.graph.nodes.filter((n) => n.opType === 'Cast').map((n) => n.attributes.get('to')?.type)).toEqual(['int', 'int']);
      await expectMatchesRecorded(model, out);
    });
  });

  describe('quantized ops: their float inputs are scales, tensor(float) only', () => {
    it.each([
      ['node/test_qlinearconv', 'QLinearConv'],
      ['node/test_qlinearmatmul_2D', 'QLinearMatMul'],
      ['node/test_qlinearmatmul_3D', 'QLinearMatMul'],
    ])('%s: %s kept float32, scales untouched, output exact', async (model, opType) => {
      const { report, out } = await compressFp16(model);
      expect(report.nodesKeptFloat).toEqual([expect.objectContaining({ opType, reason: expect.stringMatching(/scales are tensor\(float\) only/) })]);
      const written = decodeModel(readFileSync(out));
      expect(written.graph.nodes.map((n) => n.opType)).toEqual([opType]);
      await expectMatchesRecorded(model, out);
    });
  });

  describe('scatter ops with a reduction onnxruntime has no float16 kernel for', () => {
    it.each([
      ['node/test_scatternd_add', 'ScatterND', 'add'],
      ['node/test_scatternd_multiply', 'ScatterND', 'mul'],
      ['node/test_scatter_elements_with_duplicate_indices', 'ScatterElements', 'add'],
    ])('%s: %s with reduction=%s kept float32 and says why', async (model, opType, reduction) => {
      const { report, out } = await compressFp16(model);
      expect(report.nodesKeptFloat).toEqual([expect.objectContaining({ opType, reason: expect.stringContaining(`reduction='${reduction}'`) })]);
      await expectMatchesRecorded(model, out);
    });
  });

  describe('ops whose outputs are not of the first input type', () => {
    it.each([
      'node/test_unique_not_sorted_without_axis', 'node/test_unique_sorted_with_axis', 'node/test_unique_sorted_with_axis_3d',
      'node/test_unique_sorted_with_negative_axis', 'node/test_unique_sorted_without_axis',
    ])('%s: only the float output Y is cast; indices and counts stay int64', async (model) => {
      const { report, out } = await compressFp16(model);
      expect(report.nodesKeptFloat).toEqual([]);
      const written = decodeModel(readFileSync(out));
      const casts = written.graph.nodes.filter((n) => n.opType === 'Cast');
      expect(casts.flatMap((n) => n.outputs)).toEqual(expect.arrayContaining(['Y']));
      expect(casts.flatMap((n) => n.outputs)).not.toEqual(expect.arrayContaining(['indices']));
      expect(casts.flatMap((n) => n.inputs).some((x) => /indices|counts/.test(x))).toBe(false);
      await expectMatchesRecorded(model, out);
    });

    it('node/test_onehot_negative_indices: the output has the type of `values` (float16 inside, float32 out)', async () => {
      const { report, out } = await compressFp16('node/test_onehot_negative_indices');
      expect(report.nodesKeptFloat).toEqual([]);
      const written = decodeModel(readFileSync(out));
      expect(written.graph.nodes.map((n) => n.opType)).toEqual(['Cast', 'Cast', 'OneHot', 'Cast']);
      expect(await expectMatchesRecorded('node/test_onehot_negative_indices', out)).toBe(0);
    });
  });

  describe('sequence values', () => {
    it.each(['simple/test_sequence_model6', 'simple/test_sequence_model8'])('%s: the sequence is left alone, named in the report; no Cast reads it', async (model) => {
      const { report, out } = await compressFp16(model);
      expect(report.nodesKeptFloat.map((k) => k.opType)).toEqual(['SplitToSequence', 'SequenceLength']);
      expect(report.nodesKeptFloat[1]!.reason).toMatch(/'seq_1' is a sequence \(output of SplitToSequence\): sequence and optional values are not converted/);
      expect(report.notes.some((n) => n.includes("'seq_1' (a sequence (output of SplitToSequence))"))).toBe(true);
      const written = decodeModel(readFileSync(out));
      expect(written.graph.nodes.filter((n) => n.opType === 'Cast').flatMap((n) => n.inputs)).not.toContain('seq_1');
      await expectMatchesRecorded(model, out);
    });
  });

  describe('control flow', () => {
    it('node/test_if: the If and its branches stay float32, named in the report; the result matches the recorded outputs', async () => {
      const { report, out } = await compressFp16('node/test_if');
      expect(report.nodesKeptFloat).toEqual([expect.objectContaining({ opType: 'If', reason: expect.stringMatching(/^control flow: the If and its body stay float32/) })]);
      await expectMatchesRecorded('node/test_if', out);
    });
  });
});
