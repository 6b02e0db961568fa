import { describe, expect, it } from 'vitest';
import { FidelityAccumulator } from '../../../src/compress/fidelity.js';

/** A [batch, positions, classes] score tensor whose argmax at each position is `classes[b][t]`. */
function sequenceScores(classes: number[][], width: number): { values: Float32Array; dims: number[] } {
  const batch = classes.length;
  const positions = classes[0]!.length;
  const values = new Float32Array(batch * positions * width).fill(0.1);
  classes.forEach((row, b) => row.forEach((c, t) => (values[(b * positions + t) * width + c] = 0.9)));
  return { values, dims: [batch, positions, width] };
}

describe('fidelity of a sequence output [batch, positions, classes]', () => {
  it('agreement is per position (argmax over classes at each position), not n/a', () => {
    const reference = sequenceScores([[0, 1, 2, 0], [3, 3, 0, 1]], 5);
    const model = sequenceScores([[0, 1, 2, 0], [3, 4, 0, 2]], 5);
    const acc = new FidelityAccumulator({ confidence: 0 });
    acc.addOutputs([{ name: 'probs', values: model.values, dims: model.dims, reference: reference.values }]);
    const r = acc.result();
    expect(r.agreement).toBeNull(); // top-1 agreement is of [batch, classes] outputs
    expect(r.sequenceAgreement).not.toBeNull();
    const s = r.sequenceAgreement!;
    expect(s.output).toBe('probs');
    expect(s.positions).toBe(8);
    expect(s.agreement).toBeCloseTo(6 / 8, 12); // sample 0: 4/4, sample 1: 2/4
    expect(s.identicalSamples).toBe(1);
    expect(s.ci[0]).toBeCloseTo(0.75, 12);
    expect(s.ci[1]).toBeCloseTo(0.75, 12);
  });

  it('an interval over samples at a confidence level; accumulates across batches', () => {
    const acc = new FidelityAccumulator({ confidence: 0.95 });
    for (let b = 0; b < 6; b++) {
      const reference = sequenceScores([[0, 1, 2, 3]], 4);
      const model = sequenceScores([b % 2 === 0 ? [0, 1, 2, 3] : [0, 1, 2, 2]], 4);
      acc.addOutputs([{ name: 'probs', values: model.values, dims: model.dims, reference: reference.values }]);
    }
    const s = acc.result().sequenceAgreement!;
    expect(s.positions).toBe(24);
    expect(s.agreement).toBeCloseTo(21 / 24, 12);
    expect(s.identicalSamples).toBe(3);
    expect(s.ci[0]).toBeLessThanOrEqual(s.agreement);
    expect(s.ci[1]).toBeGreaterThanOrEqual(s.agreement);
    expect(s.ci[1]).toBeLessThanOrEqual(1);
  });

  it('none for classifier outputs, and none without a reference', () => {
    const classifier = new FidelityAccumulator();
    classifier.add(new Float32Array([1, 0, 0, 1]), [2, 2], new Float32Array([1, 0, 0, 1]));
    expect(classifier.result().sequenceAgreement).toBeNull();
    const alone = new FidelityAccumulator();
    const m = sequenceScores([[0, 1]], 3);
    alone.add(m.values, m.dims);
    expect(alone.result().sequenceAgreement).toBeNull();
  });
});
