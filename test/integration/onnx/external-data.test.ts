import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelFile, saveModelFile } from '../../../src/onnx/model-file.js';
import { createOrtSession } from '../../../src/profile/ort-session.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';

const MLP = 'test/fixtures/models/mnist-mlp.onnx';

async function logits(path: string): Promise<Float32Array> {
  const session = await createOrtSession(path);
  try {
    const x = floatTensor('input', [2, 784], new Float32Array(1568).map((_, i) => Math.cos(i)));
    const out = await session.run({ [session.inputs[0]!.name]: { ...x, name: session.inputs[0]!.name } });
    return out.get(session.outputs[0]!.name)!.values as Float32Array;
  } finally {
    await session.release();
  }
}

describe('external data', () => {
  it('writes large initializers to a side file when the model would pass the limit, and reads them back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-ext-'));
    const { model } = loadModelFile(MLP);
    const out = join(dir, 'mlp-external.onnx');
    // A tiny threshold stands in for the 2 GB protobuf limit.
    const saved = saveModelFile(out, model, { externalDataThresholdBytes: 64 * 1024 });
    expect(saved.externalDataPath).toBe(join(dir, 'mlp-external.onnx.data'));
    expect(statSync(out).size).toBeLessThan(64 * 1024);
    expect(readdirSync(dir).sort()).toEqual(['mlp-external.onnx', 'mlp-external.onnx.data']);
    const reloaded = loadModelFile(out).model;
    for (const [name, t] of model.graph.initializers) {
      expect(Array.from(tensorToFloat32(reloaded.graph.initializers.get(name)!))).toEqual(Array.from(tensorToFloat32(t)));
    }
    const a = await logits(MLP);
    const b = await logits(out);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('refuses external data that points outside the model directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-ext-'));
    const { model } = loadModelFile(MLP);
    const [name, t] = [...model.graph.initializers][0]!;
    model.graph.initializers.set(name, { ...t, external: { location: '../../etc/passwd', offsetBytes: 0, lengthBytes: 16 } });
    const out = join(dir, 'escape.onnx');
    saveModelFile(out, model);
    expect(() => loadModelFile(out)).toThrow(/outside the model's directory/);
    expect(existsSync(join(dir, 'escape.onnx.data'))).toBe(false);
  });
});
