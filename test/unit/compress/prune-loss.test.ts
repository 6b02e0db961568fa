/** The loss the pruning sensitivity ranks widths by (lossOf in src/compress/prune-group-profile.ts). */
import { describe, expect, it } from 'vitest';
import type { FidelityMetrics, OutputFidelity } from '../../../src/compress/fidelity.js';
import { lossOf } from '../../../src/compress/prune-group-profile.js';

const output = (o: Partial<OutputFidelity>): OutputFidelity =>
  ({ name: 'y', cosine: 1, sqnrDb: Infinity, maxAbsError: 0, collapsed: false, explainedVariation: null, referenceNonFinite: false, cosineCi: [1, 1], sqnrDbCi: [0, 0], ...o }) as OutputFidelity;
const metrics = (outputs: OutputFidelity[], agreement: number | null = null): FidelityMetrics => ({ outputs, agreement, cosine: Math.min(...outputs.map((o) => o.cosine)) }) as unknown as FidelityMetrics;

describe('lossOf', () => {
  it('is the worst output’s 1 − R² where R² exists', () => {
    expect(lossOf(metrics([output({ explainedVariation: 0.9, sqnrDb: 30 }), output({ name: 'z', explainedVariation: 0.7, sqnrDb: 30 })]))).toBeCloseTo(0.3, 9);
  });
  it('without R² (output sizes differ across samples) the pooled relative squared error, not 1 − the mean per-sample cosine', () => {
    // A text map of ~1e-4 on photos without text: per-sample cosines near 0 for any change, pooled error 10 dB down.
    expect(lossOf(metrics([output({ cosine: 0.05, sqnrDb: 10 })]))).toBeCloseTo(0.1, 9);
    expect(lossOf(metrics([output({ cosine: 0.05, sqnrDb: 20 })]))).toBeCloseTo(0.01, 9);
    // Neither R² nor a finite SQNR: 1 − cosine.
    expect(lossOf(metrics([output({ cosine: 0.6, sqnrDb: NaN })]))).toBeCloseTo(0.4, 9);
  });
  it('a classifier’s disagreement when it is larger', () => {
    expect(lossOf(metrics([output({ explainedVariation: 0.99 })], 0.9))).toBeCloseTo(0.1, 9);
  });
});
