import { describe, expect, it } from 'vitest';
import { suspectReason } from '../../../src/tune/tune-model.js';
import type { CandidateAccuracy, CandidateResult } from '../../../src/tune/tune-types.js';

const candidate = (accuracy: Partial<CandidateAccuracy>): CandidateResult => ({
  id: 'x',
  methods: ['prune'],
  steps: [],
  origin: 'extra',
  note: '',
  state: 'done',
  reason: null,
  errorCode: null,
  model: null,
  build: null,
  profile: null,
  seconds: 0,
  resumed: false,
  accuracy: {
    metric: 'top1', value: 0.3, baseline: 0.25, dropPp: -5, ci: [-9, -1], confidence: 0.95, judgedOn: 'validation',
    agreement: 0.6, cosine: 0.7, samples: 200, collapsed: [], pairedCounts: null, bound: null, ...accuracy,
  },
});

describe('suspectReason: beating the original while disagreeing with it', () => {
  it('flags a candidate that scores above the original on the labels while disagreeing on 40 % of samples', () => {
    expect(suspectReason(candidate({}))).toMatch(/scores 5\.00? pp above the original on the labels while disagreeing with it on 40\.0+ % of the samples/);
  });
  it('does not flag a candidate that agrees with the original (a small honest gain)', () => {
    expect(suspectReason(candidate({ dropPp: -0.5, agreement: 0.99 }))).toBeNull();
  });
  it('does not flag a candidate that is worse, or one judged without labels', () => {
    expect(suspectReason(candidate({ dropPp: 2 }))).toBeNull();
    expect(suspectReason(candidate({ metric: 'agreement' }))).toBeNull();
  });
});
