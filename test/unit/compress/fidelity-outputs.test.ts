import { describe, expect, it } from 'vitest';
import { FidelityAccumulator, worstOutputOf, type OutputFidelity } from '../../../src/compress/fidelity.js';
import { mulberry32 } from '../../../src/util/random.js';

describe('fidelity of every output', () => {
  it('scores each output, picks the one with the lowest cosine as worst and reports its cosine and SQNR on top', () => {
    const acc = new FidelityAccumulator();
    // Output 'scores' [2, 2]: a classifier output, identical to the reference.
    const scores = new Float32Array([1, 0, 0, 1]);
    // Output 'boxes' [2, 2]: row 0 identical (cos 1), row 1 orthogonal (cos 0) → mean cosine 0.5.
    const boxesRef = new Float32Array([3, 4, 1, 0]);
    const boxes = new Float32Array([3, 4, 0, 1]);
    acc.addOutputs(
      [
        { name: 'scores', values: scores, dims: [2, 2], reference: scores },
        { name: 'boxes', values: boxes, dims: [2, 2], reference: boxesRef },
      ],
      [0n, 1n],
    );
    const r = acc.result();
    expect(r.samples).toBe(2);
    expect(r.outputs).toHaveLength(2);
    const [s, b] = r.outputs!;
    expect(s!.name).toBe('scores');
    expect(s!.cosine).toBeCloseTo(1, 12);
    expect(s!.sqnrDb).toBe(Infinity);
    expect(s!.maxAbsError).toBeCloseTo(0, 12);
    expect(b!.name).toBe('boxes');
    expect(b!.cosine).toBeCloseTo(0.5, 12);
    // signal 9 + 16 + 1 = 26, noise 1 + 1 = 2.
    expect(b!.sqnrDb).toBeCloseTo(10 * Math.log10(26 / 2), 9);
    expect(b!.maxAbsError).toBeCloseTo(1, 12);
    expect(r.worstOutput).toBe('boxes');
    expect(r.cosine).toBeCloseTo(0.5, 12);
    expect(r.sqnrDb).toBeCloseTo(10 * Math.log10(13), 9);
    // Classification metrics stay on output 0.
    expect(r.top1).toBeCloseTo(1, 12);
    expect(r.agreement).toBeCloseTo(1, 12);
    expect(r.kl).toBeCloseTo(0, 12);
  });

  it('scores classification on the chosen output and accumulates over batches', () => {
    const acc = new FidelityAccumulator();
    const a = new Float32Array([0, 1]);
    const b = new Float32Array([2, 1]);
    for (let k = 0; k < 3; k++) {
      acc.addOutputs(
        [
          { name: 'feature', values: a, dims: [1, 2], reference: new Float32Array([0, 2]) },
          { name: 'logits', values: b, dims: [1, 2], reference: new Float32Array([1, 2]) },
        ],
        [0n],
        1,
      );
    }
    const r = acc.result();
    expect(r.samples).toBe(3);
    expect(r.top1).toBeCloseTo(1, 12); // argmax of 'logits' is 0
    expect(r.agreement).toBeCloseTo(0, 12); // the reference's argmax is 1
    expect(r.referenceTop1).toBeCloseTo(0, 12);
    const feature = r.outputs!.find((o) => o.name === 'feature')!;
    const logits = r.outputs!.find((o) => o.name === 'logits')!;
    expect(feature.cosine).toBeCloseTo(1, 12);
    expect(logits.cosine).toBeCloseTo(4 / Math.sqrt(5 * 5), 9);
    expect(r.worstOutput).toBe('logits');
    expect(r.cosine).toBeCloseTo(0.8, 9);
  });

  it('breaks a cosine tie by the lower SQNR', () => {
    const o = (name: string, cosine: number, sqnrDb: number): OutputFidelity => ({ name, cosine, sqnrDb, maxAbsError: 0, collapsed: false, explainedVariation: null, referenceNonFinite: false, cosineCi: [cosine, cosine], sqnrDbCi: [sqnrDb, sqnrDb] });
    expect(worstOutputOf([o('a', 0.9, 30), o('b', 0.9, 20), o('c', 0.95, 5)])!.name).toBe('b');
    expect(worstOutputOf([o('a', 0.99, 30), o('b', Number.NaN, 40)])!.name).toBe('b');
    expect(worstOutputOf([])).toBeUndefined();
    // Through the accumulator: two outputs, both of cosine 1 (scaled copies), different SQNR.
    const acc = new FidelityAccumulator();
    const ref = new Float32Array([1, 2, 3]);
    acc.addOutputs(
      [
        { name: 'close', values: new Float32Array([1.01, 2.02, 3.03]), dims: [1, 3], reference: ref },
        { name: 'far', values: new Float32Array([2, 4, 6]), dims: [1, 3], reference: ref },
      ],
      undefined,
    );
    const r = acc.result();
    expect(r.outputs![0]!.cosine).toBeCloseTo(1, 6);
    expect(r.outputs![1]!.cosine).toBeCloseTo(1, 6);
    expect(r.worstOutput).toBe('far');
    expect(r.sqnrDb).toBeCloseTo(0, 9); // noise = signal
  });

  it('flags an output that is constant across samples where the reference varies', () => {
    const acc = new FidelityAccumulator();
    // 4 samples of 3 values: 'stuck' repeats one vector; 'fine' follows the reference with a small error.
    const ref = new Float32Array([1, 2, 3, 2, 1, 0, 5, 5, 1, -1, 0, 2]);
    const stuck = new Float32Array([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    const fine = ref.map((v) => v * 1.01);
    acc.addOutputs(
      [
        { name: 'fine', values: fine, dims: [4, 3], reference: ref },
        { name: 'stuck', values: stuck, dims: [4, 3], reference: ref },
      ],
      undefined,
    );
    const r = acc.result();
    const byName = new Map(r.outputs!.map((o) => [o.name, o]));
    expect(byName.get('fine')!.collapsed).toBe(false);
    expect(byName.get('stuck')!.collapsed).toBe(true);
    expect(byName.get('stuck')!.cosine).toBeGreaterThan(0);
    expect(r.worstOutput).toBe('stuck');
  });

  it('does not flag an output whose reference is constant too, nor a single sample, nor softmax-like rows', () => {
    const bothConstant = new FidelityAccumulator();
    const c = new Float32Array([1, 1, 1, 1]);
    bothConstant.addOutputs([{ name: 'y', values: c, dims: [2, 2], reference: c }]);
    expect(bothConstant.result().outputs![0]!.collapsed).toBe(false);

    const single = new FidelityAccumulator();
    single.addOutputs([{ name: 'y', values: new Float32Array([1, 1]), dims: [1, 2], reference: new Float32Array([1, 2]) }]);
    expect(single.result().outputs![0]!.collapsed).toBe(false);

    // Per-sample means constant (rows sum to 1) but the values vary: not collapsed.
    const softmax = new FidelityAccumulator();
    const p = new Float32Array([0.9, 0.1, 0.2, 0.8, 0.5, 0.5]);
    softmax.addOutputs([{ name: 'prob', values: p, dims: [3, 2], reference: p }]);
    expect(softmax.result().outputs![0]!.collapsed).toBe(false);
  });

  it('keeps the single-output add without a per-output list, and has no outputs without a reference', () => {
    const legacy = new FidelityAccumulator();
    legacy.add(new Float32Array([1, 0, 1, 0]), [2, 2], new Float32Array([1, 0, 0, 1]));
    const r = legacy.result();
    expect(r.cosine).toBeCloseTo(0.5, 12);
    expect(r.outputs).toBeNull();
    expect(r.worstOutput).toBeNull();

    const noRef = new FidelityAccumulator();
    noRef.addOutputs([{ name: 'y', values: new Float32Array([1, 0]), dims: [1, 2] }], [0n]);
    const n = noRef.result();
    expect(n.top1).toBeCloseTo(1, 12);
    expect(n.outputs).toBeNull();
    expect(n.worstOutput).toBeNull();
    expect(n.cosine).toBeNull();
  });

  it('rejects a reference of another size and a classification index out of range', () => {
    const acc = new FidelityAccumulator();
    expect(() => acc.addOutputs([{ name: 'y', values: new Float32Array(4), dims: [1, 4], reference: new Float32Array(3) }])).toThrow(RangeError);
    expect(() => acc.addOutputs([{ name: 'y', values: new Float32Array(4), dims: [1, 4] }], undefined, 1)).toThrow(/classIndex 1/);
    expect(acc.result().samples).toBe(0);
  });
});

describe('collapse and intervals', () => {
  /** A map output [n, 16]: the reference varies by sample; the model is the reference scaled by `spread` around 0.5. */
  const run = (spread: number): ReturnType<FidelityAccumulator['result']> => {
    const acc = new FidelityAccumulator();
    const n = 20;
    const ref = new Float32Array(n * 16);
    const out = new Float32Array(n * 16);
    for (let i = 0; i < ref.length; i++) {
      ref[i] = Math.sin(i * 0.7) + (i % 16) * 0.01;
      out[i] = 0.5 + spread * (ref[i]! - 0.5);
    }
    acc.addOutputs([{ name: 'map', values: out, dims: [n, 16], reference: ref }]);
    return acc.result();
  };
  it('near-constant (spread 1e-4 of the original) is collapsed, with the finding in words', () => {
    const m = run(1e-4);
    expect(m.outputs![0]!.collapsed).toBe(true);
    expect(m.collapsed[0]).toMatch(/output 'map' is near-constant across the 20 samples where the original's varies \(spread 1\.0e-4 × the original's\)/);
  });
  it('a spread of 1 % of the original is not collapsed by spread, but no closer than a constant (R² ≤ 0)', () => {
    const m = run(1e-2);
    expect(m.outputs![0]!.collapsed).toBe(false);
    expect(m.collapsed).toEqual([expect.stringMatching(/no closer to the original than a constant output would be/)]);
    expect(run(0.9).collapsed).toEqual([]);
  });
  it('cosine and SQNR intervals contain their estimate and are points at confidence 0', () => {
    const m = run(0.9);
    const o = m.outputs![0]!;
    expect(o.cosineCi[0]).toBeLessThanOrEqual(o.cosine);
    expect(o.cosineCi[1]).toBeGreaterThanOrEqual(o.cosine);
    expect(o.sqnrDbCi[0]).toBeLessThanOrEqual(o.sqnrDb);
    expect(o.sqnrDbCi[1]).toBeGreaterThanOrEqual(o.sqnrDb);
    expect(m.intervals.cosine).toEqual(o.cosineCi);
    const point = new FidelityAccumulator({ confidence: 0 });
    point.addOutputs([{ name: 'y', values: new Float32Array([1, 2, 3, 5]), dims: [2, 2], reference: new Float32Array([1, 2, 3, 4]) }]);
    const p = point.result();
    expect(p.intervals.cosine).toEqual([p.cosine, p.cosine]);
    expect(() => new FidelityAccumulator({ confidence: 1 })).toThrow(/confidence/);
  });
  it('the same data gives the same bootstrap interval', () => {
    expect(run(0.9).intervals).toEqual(run(0.9).intervals);
  });
});

describe('explained variation (R²) against the original', () => {
  /** [n, 8] outputs: the reference varies by sample; the model gives another sample's reference (uncorrelated). */
  const pair = (n: number, shift: number, noise: number): ReturnType<FidelityAccumulator['result']> => {
    const ref = new Float32Array(n * 8);
    const random = mulberry32(7);
    for (let k = 0; k < ref.length; k++) ref[k] = random();
    const out = new Float32Array(n * 8);
    for (let i = 0; i < n; i++) for (let j = 0; j < 8; j++) out[i * 8 + j] = ref[((i + shift) % n) * 8 + j]! + noise * Math.sin(13 * i + j);
    const acc = new FidelityAccumulator();
    acc.addOutputs([{ name: 'y', values: out, dims: [n, 8], reference: ref }]);
    return acc.result();
  };
  it('is near 1 for a faithful output', () => {
    const m = pair(40, 0, 0.01);
    expect(m.outputs![0]!.explainedVariation!).toBeGreaterThan(0.99);
    expect(m.collapsed).toEqual([]);
  });
  it('is ≤ 0 for an output that varies but follows another sample (no better than a constant): a gate finding', () => {
    const m = pair(40, 7, 0);
    expect(m.outputs![0]!.explainedVariation!).toBeLessThanOrEqual(0);
    expect(m.outputs![0]!.collapsed).toBe(false);
    expect(m.collapsed).toHaveLength(1);
    expect(m.collapsed[0]).toMatch(/output 'y' is no closer to the original than a constant output would be: its error is .* × the original's variation across the 40 samples \(R² -/);
  });
});

describe('non-finite values', () => {
  it('the same NaN or infinity in model and reference is agreement; one only in the model makes the figures NaN', () => {
    const ref = new Float32Array([NaN, 2, Infinity, 3]);
    const same = new FidelityAccumulator();
    same.addOutputs([{ name: 'y', values: ref, dims: [1, 4], reference: ref }]);
    const o = same.result().outputs![0]!;
    expect(o.cosine).toBe(1);
    expect(o.maxAbsError).toBe(0);
    expect(o.sqnrDb).toBe(Infinity);
    const differ = new FidelityAccumulator();
    differ.addOutputs([{ name: 'y', values: new Float32Array([NaN, 2, 1, 3]), dims: [1, 4], reference: ref }]);
    expect(differ.result().outputs![0]!.cosine).toBeNaN();
  });
});

describe('the fidelity gate on non-finite values', () => {
  it('fails a variant with NaN where the original is finite; not when the original itself is not finite', async () => {
    const { fidelityGate } = await import('../../../src/compress/accuracy-judgement.js');
    const judge = (values: Float32Array, ref: Float32Array) => {
      const acc = new FidelityAccumulator();
      acc.addOutputs([{ name: 'y', values, dims: [2, 4], reference: ref }]);
      return fidelityGate(acc.result(), { judgedOn: 'validation' });
    };
    const finite = new Float32Array([1, 2, 5, 3, 1, 2, 3, 4]);
    const broken = judge(new Float32Array([1, 2, NaN, 3, 1, 2, 3, 4]), finite);
    expect(broken.passed).toBe(false);
    expect(broken.failures).toContain("output 'y' has NaN or infinite values where the original's are finite");
    const withNaN = new Float32Array([NaN, 2, 5, 3, 1, 2, 3, 4]);
    expect(judge(withNaN, withNaN).passed).toBe(true);
    // The original already outputs NaN: the figures are NaN, but the variant is not blamed for it.
    const r = judge(new Float32Array([0, 2, 5, 3, 1, 2, 3, 4]), withNaN);
    expect(r.failures.filter((f) => f.includes('NaN'))).toEqual([]);
  });
});
