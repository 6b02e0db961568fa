/**
 * fp16 of a model whose MaxPool is older than opset 12 (the PaddleOCR direction classifier, opset 9): onnxruntime's
 * layout transformer on ARM cores with fp16 arithmetic turns a float16 MaxPool into an NHWC one that has kernels
 * from opset 12 only, and the session does not load there (found by the emulated arm64 lane, issue 16). The fp16
 * method upgrades such a model to opset 12 first and says so; here: the upgraded model keeps its MaxPool, loads,
 * and answers like the original (test/arm64/compress-fidelity.spec.ts runs it on arm64 kernels).
 */
import { describe, expect, it } from 'vitest';
import { defaultOpset } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { FP16_POOL_MIN_OPSET, fp16Method } from '../../../src/compress/methods/quantization-methods.js';
import { digitTextLine } from '../../../scripts/lib/mnist-pages.js';
import { OCR, cosine, loadModel, openSession, runFirst } from './quantize-ort-helpers.js';

describe('fp16 of a model with pre-opset-12 pooling', () => {
  it('upgrades the PaddleOCR classifier (opset 9, MaxPool) to opset 12, notes why, and stays faithful', async () => {
    const original = loadModel(OCR.cls);
    const from = defaultOpset(original);
    expect(from).toBeLessThan(FP16_POOL_MIN_OPSET);
    expect(original.graph.nodes.some((n) => n.opType === 'MaxPool')).toBe(true);
    const { model, report } = await fp16Method.run({ model: loadModel(OCR.cls), original, dataset: undefined, options: {} });
    expect(defaultOpset(model)).toBe(FP16_POOL_MIN_OPSET);
    expect(report.opset).toEqual({ from, to: FP16_POOL_MIN_OPSET });
    expect(report.notes.join('\n')).toMatch(new RegExp(`opset ${from} → 12: .*MaxPool`));
    expect(model.graph.nodes.filter((n) => n.opType === 'MaxPool').length).toBe(original.graph.nodes.filter((n) => n.opType === 'MaxPool').length);
    const [ref, half] = await Promise.all([openSession(original), openSession(encodeModel(model))]);
    for (let seed = 0; seed < 4; seed++) {
      const line = digitTextLine(300 + seed, 192, seed % 2 === 1);
      const input = { data: line.data, dims: [1, 3, 48, 192] };
      const [a, b] = [await runFirst(ref, input), await runFirst(half, input)];
      expect(cosine(a.data, b.data)).toBeGreaterThan(0.999);
    }
  });

  it('leaves a model without pooling at its opset', async () => {
    const original = loadModel(OCR.cls);
    original.graph.nodes = original.graph.nodes.map((n) => (n.opType === 'MaxPool' ? { ...n, opType: 'Identity', attributes: new Map() } : n));
    const from = defaultOpset(original);
    const { model, report } = await fp16Method.run({ model: original, original, dataset: undefined, options: {} });
    expect(defaultOpset(model)).toBe(from);
    expect(report.notes.join('\n')).not.toMatch(/MaxPool/);
  });
});
