import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressModelFile, type CompressReport } from '../../../src/compress/compress-model.js';
import { quantizationOpCounts } from '../../../src/compress/methods/quantization-methods.js';
import { decodeModel } from '../../../src/onnx/model-codec.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { makeTensor } from '../../../src/onnx/tensor.js';
import { DataType } from '../../../src/onnx/dtype.js';

const CNN = 'test/fixtures/models/mnist-rescnn.onnx';
const CALIB = 'test/fixtures/data/mnist-calib';

const nodeList = (path: string): string[] => decodeModel(readFileSync(path)).graph.nodes.map((n) => `${n.opType}:${n.name}:${n.inputs.join(',')}>${n.outputs.join(',')}`);

describe('compressing a model that is already quantized', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-requant-'));
  const once = join(dir, 'int8.onnx');
  const twice = join(dir, 'int8-int8.onnx');
  const dynamic = join(dir, 'int8-dynamic.onnx');
  let second: CompressReport;
  let secondDynamic: CompressReport;

  beforeAll(async () => {
    await compressModelFile({ inputPath: CNN, outputPath: once, method: 'int8', dataDir: CALIB });
    second = await compressModelFile({ inputPath: once, outputPath: twice, method: 'int8', dataDir: CALIB });
    secondDynamic = await compressModelFile({ inputPath: once, outputPath: dynamic, method: 'int8-dynamic' });
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('int8 leaves it as it is and says so', () => {
    expect(second.nodesChanged).toBe(0);
    expect(second.calibration).toBeNull();
    const note = second.notes.find((n) => n.startsWith('the model is already quantized'));
    expect(note).toMatch(/^the model is already quantized \(\d+ QuantizeLinear, \d+ DequantizeLinear\); left as it is$/);
    expect(nodeList(twice)).toEqual(nodeList(once));
  });

  it('int8-dynamic leaves it as it is too', () => {
    expect(secondDynamic.nodesChanged).toBe(0);
    expect(secondDynamic.notes.some((n) => n.startsWith('the model is already quantized'))).toBe(true);
    expect(nodeList(dynamic)).toEqual(nodeList(once));
  });

  it('the output still loads and runs in onnxruntime', async () => {
    const runner = await createInferenceRunner(readFileSync(twice));
    try {
      const x = makeTensor(runner.inputNames[0]!, DataType.FLOAT, [1, 1, 28, 28], new Float32Array(784).fill(0.5));
      const out = await runner.run({ [runner.inputNames[0]!]: x });
      expect(out.size).toBeGreaterThan(0);
    } finally {
      await runner.release();
    }
  });

  it('quantizationOpCounts sees Q/DQ, QLinear* and integer ops', () => {
    const counts = quantizationOpCounts(decodeModel(readFileSync(once)));
    expect(counts['QuantizeLinear']).toBeGreaterThan(0);
    expect(counts['DequantizeLinear']).toBeGreaterThan(0);
    expect(quantizationOpCounts(decodeModel(readFileSync(CNN)))).toEqual({});
  });
});
