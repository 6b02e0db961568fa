import { describe, expect, it } from 'vitest';
import { checkBound, fidelityGate, identityJudgement, judgeAccuracy, type AccuracyJudgement } from '../../../src/compress/accuracy-judgement.js';
import { FidelityAccumulator, type FidelityMetrics } from '../../../src/compress/fidelity.js';

/** Logits [n, 2] whose argmax is `cls[i]`. */
function logits(cls: readonly number[]): Float32Array {
  const v = new Float32Array(cls.length * 2);
  cls.forEach((c, i) => {
    v[i * 2 + c] = 2 + (i % 7) * 0.1;
    v[i * 2 + (1 - c)] = -1 - (i % 5) * 0.1;
  });
  return v;
}

/** Metrics of a two-class model against a reference on labelled samples. */
function metrics(model: number[], reference: number[], labels: number[], confidence = 0.95): FidelityMetrics {
  const acc = new FidelityAccumulator({ confidence });
  acc.addOutputs([{ name: 'logits', values: logits(model), dims: [model.length, 2], reference: logits(reference) }], BigInt64Array.from(labels.map(BigInt)));
  return acc.result();
}

describe('judgeAccuracy', () => {
  it('top-1 drop with a paired interval when labels exist', () => {
    // 400 samples: the reference is right on all; the model misses 4 of them.
    const labels = Array.from({ length: 400 }, (_, i) => i % 2);
    const model = labels.map((l, i) => (i < 4 ? 1 - l : l));
    const j = judgeAccuracy(metrics(model, labels, labels), 'validation')!;
    expect(j.metric).toBe('top1');
    expect(j.drop).toBeCloseTo(1, 10);
    expect(j.ci[0]).toBeLessThan(1);
    expect(j.ci[1]).toBeGreaterThan(1);
    expect(j.samples).toBe(400);
    expect(j.judgedOn).toBe('validation');
  });

  it('agreement with an exact binomial interval without labels', () => {
    const acc = new FidelityAccumulator();
    const ref = Array.from({ length: 100 }, (_, i) => i % 2);
    const model = ref.map((c, i) => (i < 10 ? 1 - c : c));
    acc.addOutputs([{ name: 'logits', values: logits(model), dims: [100, 2], reference: logits(ref) }]);
    const j = judgeAccuracy(acc.result(), 'calibration')!;
    expect(j.metric).toBe('agreement');
    expect(j.drop).toBeCloseTo(10, 10);
    // Clopper–Pearson 95 % for 90/100 (scipy binomtest exact): [0.8237774, 0.9509953] → drop [4.90, 17.62] pp.
    expect(j.ci[0]).toBeCloseTo(4.90047, 3);
    expect(j.ci[1]).toBeCloseTo(17.62226, 3);
  });
});

describe('checkBound', () => {
  const judgement = (drop: number, ci: [number, number], confidence = 0.95): AccuracyJudgement => ({
    metric: 'top1', value: 0.9, baseline: 0.9 + drop / 100, drop, ci, confidence, samples: 256, judgedOn: 'validation', agreement: 0.99, cosine: 0.999, collapsed: [],
  });
  it('is met only when the upper end is within the bound', () => {
    expect(checkBound(judgement(0.2, [-0.5, 0.9]), 1).met).toBe(true);
    const unconfirmed = checkBound(judgement(0.2, [-0.5, 1.6]), 1);
    expect(unconfirmed).toMatchObject({ met: false, unconfirmed: true });
    expect(unconfirmed.message).toMatch(/with 256 samples the 95 % interval reaches 1.60 pp: a 1 pp bound cannot be confirmed/);
    expect(checkBound(judgement(1.4, [0.5, 2.4]), 1)).toMatchObject({ met: false, unconfirmed: false });
  });
  it('uses the point estimate at confidence 0', () => {
    expect(checkBound(judgement(0.8, [0.8, 0.8], 0), 1).met).toBe(true);
  });
  it('says how many samples would confirm the bound, and that figure does confirm it', () => {
    const m = metrics(
      Array.from({ length: 256 }, (_, i) => (i < 1 ? 1 : 0)),
      Array.from({ length: 256 }, () => 0),
      Array.from({ length: 256 }, () => 0),
    );
    const j = judgeAccuracy(m, 'validation')!;
    const check = checkBound(j, 1, m.pairedCounts);
    expect(check.unconfirmed).toBe(true);
    expect(check.samplesNeeded).toBeGreaterThan(256);
    expect(check.message).toMatch(new RegExp(`about ${check.samplesNeeded} validation samples would`));
  });
});

describe('fidelityGate', () => {
  it('fails on a classifier that gives one class for every sample', () => {
    const ref = Array.from({ length: 64 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const m = metrics(Array.from({ length: 64 }, () => 0), ref, ref);
    const gate = fidelityGate(m, { judgedOn: 'calibration' });
    expect(gate.passed).toBe(false);
    expect(gate.failures[0]).toMatch(/predicts class 0 for all 64 samples; the original predicts 2 classes \(34.4 % outside its most common one\)/);
  });
  it('passes a faithful model, and fails it when a bound cannot be confirmed', () => {
    const labels = Array.from({ length: 64 }, (_, i) => i % 2);
    const m = metrics(labels, labels, labels);
    expect(fidelityGate(m, { judgedOn: 'validation' }).passed).toBe(true);
    const bounded = fidelityGate(m, { judgedOn: 'validation', maxAccuracyDropPp: 1 });
    expect(bounded.passed).toBe(false);
    expect(bounded.bound!.unconfirmed).toBe(true);
    expect(fidelityGate(m, { judgedOn: 'validation', maxAccuracyDropPp: 10 }).passed).toBe(true);
  });
  it('does not call a rare minority class a collapse', () => {
    // The reference predicts class 1 once in 64: a model that never does is not collapsed.
    const ref = Array.from({ length: 64 }, (_, i) => (i === 5 ? 1 : 0));
    const m = metrics(Array.from({ length: 64 }, () => 0), ref, ref);
    expect(m.collapsed).toEqual([]);
  });
});

describe('identityJudgement', () => {
  it('is a zero drop with a zero-width interval', () => {
    expect(identityJudgement('top1', 0.98, 128, 'validation', 0.95)).toMatchObject({ drop: 0, ci: [0, 0], value: 0.98, baseline: 0.98 });
  });
});
