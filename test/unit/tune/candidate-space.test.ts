import { describe, expect, it } from 'vitest';
import { candidateSpace, type AvailableMethod, type CandidateSpaceInput } from '../../../src/tune/candidate-space.js';
import type { LayerFacts } from '../../../src/hardware/model-facts.js';
import { loadDeviceProfiles } from '../../../src/hardware/load-device-profiles.js';
import { findDeviceProfile } from '../../../src/hardware/match-profile.js';
import { modelFacts } from '../../../src/hardware/model-facts.js';
import { planCompression } from '../../../src/hardware/planner.js';
import { cnnLarge, mlpLarge, quantizedMatMul } from '../hardware/hardware-test-models.js';

const ALL: AvailableMethod[] = [
  { name: 'int8', needsData: true },
  { name: 'int8-dynamic', needsData: false },
  { name: 'fp16', needsData: false },
  { name: 'int4', needsData: false },
  { name: 'prune', needsData: false },
  { name: 'lowrank', needsData: false },
];

const layer = (kind: LayerFacts['kind'], k: number, n: number): LayerFacts => ({
  name: `${kind}-${k}x${n}`,
  opType: kind === 'conv' ? 'Conv' : kind === 'gemm' ? 'Gemm' : 'MatMul',
  kind,
  weightName: 'w',
  weightDims: kind === 'conv' ? [n, k, 3, 3] : [k, n],
  weightElements: k * n,
  weightBytes: 4 * k * n,
  weightType: 'float',
  outChannels: n,
  inChannels: k,
  group: 1,
  prunableOut: true,
  prunableIn: true,
  quantized: false,
});

function input(over: { plan?: Partial<CandidateSpaceInput['plan']>; facts?: Partial<CandidateSpaceInput['facts']>; methods?: AvailableMethod[]; hasData?: boolean; bound?: number | null } = {}): CandidateSpaceInput {
  return {
    plan: { method: 'int8', precision: 'int8', reduceRange: false, perChannel: true, pruning: null, lowRank: null, candidates: [], int4: null, ...over.plan },
    facts: { dominantKind: 'conv', layers: [layer('conv', 64, 64), layer('gemm', 256, 10)], fp16: { maxAbsWeight: 1, underflowShare: 0, friendly: true, reason: null }, quantizationNodes: 0, weightElementType: 'float', matmulWeightShare: 0.05, ...over.facts },
    methods: over.methods ?? ALL,
    hasData: over.hasData ?? true,
    maxAccuracyDropPp: over.bound === undefined ? 1 : over.bound,
  };
}

const ids = (i: CandidateSpaceInput): string[] => candidateSpace(i).candidates.map((c) => c.id);

describe('candidateSpace', () => {
  it('starts with the fp32 baseline and the plan\'s own choice, then the neighbours', () => {
    const space = candidateSpace(input());
    expect(space.candidates[0]).toMatchObject({ id: 'fp32', steps: [], origin: 'baseline' });
    expect(space.candidates[1]).toMatchObject({ id: 'int8', origin: 'plan', steps: [{ method: 'int8', options: { perChannel: true, reduceRange: false } }] });
    expect(ids(input())).toEqual(['fp32', 'int8', 'int8-keep', 'int8-pt', 'fp16', 'prune-0.25', 'prune-0.25+int8', 'prune-0.5', 'prune-0.5+int8']);
    // No 2-D weight with both sides ≥ 32 (256×10): no low rank; conv-dominated: no int4.
    expect(space.skipped).toEqual(
      expect.arrayContaining([
        { id: 'lowrank', reason: 'no 2-D MatMul/Gemm weight or 1×1 Conv with both sides ≥ 32: factorisation cannot save FLOPs' },
        { id: 'int4', reason: 'int4 weight-only covers MatMul only; this model is not MatMul-heavy' },
        { id: 'int8-dyn', reason: 'int8 dynamic quantizes MatMul/Gemm only, and they hold 5% of the weights' },
      ]),
    );
  });

  it('prunes at the plan\'s ratio and one step either side, chained before the plan\'s quantizer', () => {
    const plan = { pruning: { targetCache: 'l2' as const, targetBytes: 1 << 20, ratio: 0.3, maxLayerRatio: 0.5, channelMultiple: 8, layers: [] } };
    const space = candidateSpace(input({ plan }));
    expect(space.candidates[1]).toMatchObject({ id: 'prune-0.3+int8', origin: 'plan', steps: [{ method: 'prune', options: { ratio: 0.3 } }, { method: 'int8' }] });
    const prunes = space.candidates.filter((c) => c.steps[0]?.method === 'prune').map((c) => c.id);
    expect(prunes).toEqual(['prune-0.3+int8', 'prune-0.3', 'prune-0.2', 'prune-0.2+int8', 'prune-0.4', 'prune-0.4+int8']);
    expect(space.candidates.find((c) => c.id === 'prune-0.2')!.note).toContain("one step below the plan's ratio 0.3");
  });

  it('MatMul-heavy models get int4 and low rank, and the chain prune → low rank → quantize in that order', () => {
    const facts = { dominantKind: 'matmul' as const, matmulWeightShare: 1, layers: [layer('gemm', 784, 512), layer('gemm', 512, 10)] };
    const space = candidateSpace(input({ plan: { method: 'int8-dynamic' }, facts }));
    const list = space.candidates.map((c) => c.id);
    expect(list.slice(0, 2)).toEqual(['fp32', 'int8-dyn']);
    expect(list).toContain('int4');
    expect(list).toContain('lowrank-0.5');
    expect(list).toContain('lowrank-0.5+int8-dyn');
    const chain = space.candidates.find((c) => c.id === 'prune-0.25+lowrank-0.5+int8-dyn')!;
    expect(chain.steps.map((s) => s.method)).toEqual(['prune', 'lowrank', 'int8-dynamic']);
  });

  it('1×1 Convs (pointwise) make a model a low-rank candidate; 3×3 ones do not', () => {
    const pw: LayerFacts = { ...layer('conv', 96, 192), weightDims: [192, 96, 1, 1] };
    expect(ids(input({ facts: { layers: [pw] } }))).toContain('lowrank-0.5');
    expect(ids(input({ facts: { layers: [layer('conv', 96, 192)] } }))).not.toContain('lowrank-0.5');
  });

  it('without data: int8 static and mixed precision are left out with the reason, int8 dynamic stands in', () => {
    const facts = { layers: [layer('conv', 64, 64), layer('gemm', 256, 64)], matmulWeightShare: 0.3 };
    const space = candidateSpace(input({ facts, hasData: false, bound: null }));
    const list = space.candidates.map((c) => c.id);
    expect(list).not.toContain('int8');
    expect(list).not.toContain('int8-pt');
    expect(list[1]).toBe('int8-dyn');
    expect(space.candidates[1]!.origin).toBe('plan');
    expect(space.skipped).toContainEqual({ id: 'int8', reason: 'int8 static needs calibration data (--data or --calib)' });
    expect(space.skipped).toContainEqual({ id: 'int8-keep', reason: 'mixed precision needs data (--data or --calib)' });
  });

  it('mixed precision needs an accuracy bound and carries it into the step', () => {
    expect(candidateSpace(input({ bound: null })).skipped).toContainEqual({ id: 'int8-keep', reason: 'mixed precision needs --max-accuracy-drop as its bound' });
    const keep = candidateSpace(input({ bound: 0.5 })).candidates.find((c) => c.id === 'int8-keep')!;
    expect(keep.steps[0]!.options).toMatchObject({ keepFloat: 'auto', maxAccuracyDropPp: 0.5 });
  });

  it('a method this build lacks is skipped with the reason; the rest goes on', () => {
    const space = candidateSpace(input({ methods: ALL.filter((m) => m.name !== 'prune' && m.name !== 'fp16') }));
    expect(space.candidates.some((c) => c.steps.some((s) => s.method === 'prune' || s.method === 'fp16'))).toBe(false);
    expect(space.skipped).toContainEqual({ id: 'prune', reason: "method 'prune' is not in this build" });
    expect(space.skipped).toContainEqual({ id: 'fp16', reason: "method 'fp16' is not in this build" });
    expect(space.candidates.map((c) => c.id)).toContain('int8');
  });

  it('a detector whose calibration photos show no objects gets no pruned candidate, with the reason', () => {
    const reason = 'pruning: the original detects 2 object(s) at score ≥ 0.6 in the 20 calibration image(s), fewer than 10; a recovery fitted there keeps background';
    const space = candidateSpace({ ...input(), pruneDataProblem: reason });
    expect(space.candidates.some((c) => c.steps.some((s) => s.method === 'prune'))).toBe(false);
    expect(space.skipped).toContainEqual({ id: 'prune', reason });
    expect(space.candidates.map((c) => c.id)).toEqual(['fp32', 'int8', 'int8-keep', 'int8-pt', 'fp16']);
  });

  it('fp16 is left out when the weights are not fp16-friendly', () => {
    const facts = { fp16: { maxAbsWeight: 1e6, underflowShare: 0, friendly: false, reason: 'max |w| 1e6 overflows fp16' } };
    expect(candidateSpace(input({ facts })).skipped).toContainEqual({ id: 'fp16', reason: 'fp16: max |w| 1e6 overflows fp16' });
  });

  it('an already quantized model or one without weighted layers gets only the baseline', () => {
    expect(ids(input({ facts: { quantizationNodes: 4, weightElementType: 'int8' } }))).toEqual(['fp32']);
    expect(ids(input({ facts: { layers: [] } }))).toEqual(['fp32']);
  });

  it('a plan alternative that needs session options is skipped with the reason', () => {
    const plan = { reduceRange: true, candidates: [{ precision: 'int8' as const, method: 'int8' as const, reduceRange: false, note: "full 8-bit weights with session.x64quantprecision='1'" }] };
    const space = candidateSpace(input({ plan }));
    expect(space.skipped.find((s) => s.id === 'int8-full')!.reason).toContain('needs session options');
    expect(space.candidates.find((c) => c.id === 'int8')!.steps[0]!.options.reduceRange).toBe(true);
  });

  it('an fp32 plan whose int8 alternative needs 7-bit weights (x86 without VNNI) measures int8 with reduce_range', () => {
    const plan = { method: null, precision: 'fp32' as const, reduceRange: false, candidates: [{ precision: 'int8' as const, method: 'int8' as const, reduceRange: true, note: 'smaller file' }] };
    const space = candidateSpace(input({ plan }));
    expect(space.skipped.map((s) => s.id)).not.toContain('int8-rr');
    const int8 = space.candidates.find((c) => c.id === 'int8')!;
    expect(int8).toMatchObject({ origin: 'plan-alternative', steps: [{ method: 'int8', options: { perChannel: true, reduceRange: true } }] });
    expect(space.candidates.find((c) => c.id === 'int8-pt')!.steps[0]!.options.reduceRange).toBe(true);
  });

  it('works on real plans: an fp32 plan on a Pi 4 (no int8 dot product) still measures int8; a Jetson GPU plan measures fp16', () => {
    const profiles = loadDeviceProfiles();
    const pi4 = planCompression({ profile: findDeviceProfile(profiles, 'pi4'), hw: null, facts: modelFacts(cnnLarge()) });
    expect(pi4.method).toBeNull();
    const space = candidateSpace({ plan: pi4, facts: modelFacts(cnnLarge()), methods: ALL, hasData: true, maxAccuracyDropPp: 1 });
    expect(space.candidates[0]!.id).toBe('fp32');
    expect(space.candidates.find((c) => c.id === 'int8')?.origin).toBe('plan-alternative');
    const mlp = modelFacts(mlpLarge());
    const gpuPlan = planCompression({ profile: findDeviceProfile(profiles, 'jetson-orin-nano'), hw: null, facts: mlp });
    const gpuSpace = candidateSpace({ plan: gpuPlan, facts: mlp, methods: ALL, hasData: true, maxAccuracyDropPp: 1 });
    expect(gpuSpace.candidates.map((c) => c.id)).toContain('fp16');
    expect(candidateSpace({ plan: pi4, facts: modelFacts(quantizedMatMul()), methods: ALL, hasData: true, maxAccuracyDropPp: 1 }).candidates.map((c) => c.id)).toEqual(['fp32']);
  });

  it('is deterministic and has unique ids', () => {
    const a = candidateSpace(input({ facts: { dominantKind: 'matmul', matmulWeightShare: 1, layers: [layer('matmul', 512, 512)] } }));
    const b = candidateSpace(input({ facts: { dominantKind: 'matmul', matmulWeightShare: 1, layers: [layer('matmul', 512, 512)] } }));
    expect(a).toEqual(b);
    expect(new Set(a.candidates.map((c) => c.id)).size).toBe(a.candidates.length);
  });
});
