import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectHardware } from '../../../src/hardware/detect-hardware.js';
import type { CandidateSpec } from '../../../src/tune/candidate-space.js';
import { tuneModel } from '../../../src/tune/tune-model.js';

const spec = (id: string, steps: CandidateSpec['steps']): CandidateSpec => ({ id, steps, origin: 'extra', note: id });

describe('tune offers self-distillation when a compressed candidate misses the accuracy bound', () => {
  it('refits the head of a harshly low-ranked MLP against the original and re-scores it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-tune-distill-'));
    const result = await tuneModel({
      modelPath: 'test/fixtures/models/mnist-mlp.onnx',
      dataDir: 'test/fixtures/data/mnist-test-flat',
      calibrationDataDir: 'test/fixtures/data/mnist-calib-flat',
      workDir: join(dir, 'work'),
      detected: await detectHardware(),
      profile: { iterations: 5, warmup: 1, energy: 'off' },
      constraints: { maxAccuracyDropPp: 0.5 },
      candidates: [spec('lowrank-0.95', [{ method: 'lowrank', options: { ratio: 0.95 } }])],
    });
    const c = result.candidates.find((x) => x.id === 'lowrank-0.95')!;
    const text = `${c.reason ?? ''} ${c.note} ${c.selfDistillation ?? ''}`; // rejected after all: the attempt is in selfDistillation
    const m = /self-distilled head '[^']+' against the original: drop ([\d.]+) → ([\d.]+) pp/.exec(text);
    expect(m, text).not.toBeNull();
    expect(Number(m![2])).toBeLessThan(Number(m![1]));
    // The distilled variant is a second look at the same validation samples: judged at 97.5 % (Bonferroni).
    expect(text).toMatch(/judged again on the same samples: interval at 97\.5 %, Bonferroni over the two looks/);
  }, 180_000);
});
