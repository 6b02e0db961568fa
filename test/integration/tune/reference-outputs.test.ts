import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModelFiles } from '../../../src/compress/evaluate-files.js';
import { ReferenceOutputs } from '../../../src/tune/reference-outputs.js';

const MLP = 'test/fixtures/models/mnist-mlp.onnx';
const TEST = 'test/fixtures/data/mnist-test-flat';

describe('ReferenceOutputs: the original runs once, candidates are scored against its kept outputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-refout-'));
  const candidate = join(dir, 'int4.onnx');
  beforeAll(async () => {
    await compressModelFile({ inputPath: MLP, outputPath: candidate, method: 'int4' });
  });

  it('gives the same metrics as evaluateModelFiles with the original as reference', async () => {
    const ref = await ReferenceOutputs.compute(MLP, TEST);
    expect(ref).not.toBeNull();
    const cached = await ref!.evaluate(candidate);
    const pairwise = await evaluateModelFiles({ modelPath: candidate, dataDir: TEST, referencePath: MLP });
    expect(cached.samples).toBe(pairwise.samples);
    expect(cached.top1).toBeCloseTo(pairwise.top1!, 12);
    expect(cached.referenceTop1).toBeCloseTo(pairwise.referenceTop1!, 12);
    expect(cached.agreement).toBeCloseTo(pairwise.agreement!, 12);
    expect(cached.cosine).toBeCloseTo(pairwise.cosine!, 9);
    expect(cached.kl).toBeCloseTo(pairwise.kl!, 9);
    expect(ref!.classifier).toBe(true); // [batch, 10] logits: agreement applies
    // The original's own top-1, from the same pass.
    expect(ref!.baseline.top1).toBeCloseTo(pairwise.referenceTop1!, 12);
    // The original against itself is perfect.
    const self = await ref!.evaluate(MLP);
    expect(self.agreement).toBe(1);
    expect(self.cosine!).toBeCloseTo(1, 6);
  });

  it('declines (null) when the outputs would pass the memory cap', async () => {
    expect(await ReferenceOutputs.compute(MLP, TEST, { maxBytes: 1000 })).toBeNull();
  });
});
