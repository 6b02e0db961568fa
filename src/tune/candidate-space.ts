/**
 * The candidates a tune tries, from the plan and its neighbours (issue 7): the fp32 baseline, the plan's own choice
 * and its alternatives, the other precisions (int8 per-channel / per-tensor / with sensitive layers kept float,
 * int8 dynamic, fp16, int4 weight-only for MatMul-heavy models), structured pruning at the cache-sized ratio and
 * one step either side, low rank where it saves FLOPs, and chains in the order prune → low rank → quantize. Pure:
 * the same plan, facts and methods give the same list in the same order (most promising first, so that a time
 * budget cuts the least promising).
 */
import type { CompressionPlan } from '../hardware/planner.js';
import type { ModelFacts } from '../hardware/model-facts.js';
import type { MethodOptions } from '../compress/methods/method-types.js';

/** One compression step: a registered method and its options (JSON-safe: stored and hashed). */
export interface CandidateStep {
  method: string;
  options: MethodOptions;
}

/** Where a candidate comes from. */
export type CandidateOrigin = 'baseline' | 'plan' | 'plan-alternative' | 'neighbour' | 'extra';

/** A candidate to build, check and profile. */
export interface CandidateSpec {
  /** Stable id: 'fp32', 'int8', 'prune-0.25+int8', ... */
  id: string;
  /** Steps in order; empty for the baseline. */
  steps: CandidateStep[];
  origin: CandidateOrigin;
  note: string;
}

/** A compression method this build has. */
export interface AvailableMethod {
  name: string;
  needsData: boolean;
}

/** Input of the candidate space. */
export interface CandidateSpaceInput {
  plan: Pick<CompressionPlan, 'method' | 'precision' | 'reduceRange' | 'perChannel' | 'pruning' | 'lowRank' | 'candidates' | 'int4'>;
  facts: Pick<ModelFacts, 'dominantKind' | 'layers' | 'fp16' | 'quantizationNodes' | 'weightElementType' | 'matmulWeightShare'>;
  methods: readonly AvailableMethod[];
  /** Calibration / reconstruction data is available. */
  hasData: boolean;
  /** `--max-accuracy-drop`: the int8 mixed-precision candidate needs it as its bound. */
  maxAccuracyDropPp: number | null;
  /** Why pruning cannot use the data (a detector's calibration without objects), or null/absent when it can. */
  pruneDataProblem?: string | null;
}

/** The candidates, and the ones left out with the reason. */
export interface CandidateSpace {
  candidates: CandidateSpec[];
  skipped: Array<{ id: string; reason: string }>;
}

/** Pruning ratios offered when the plan asks for none (no cache pressure): a FLOP-reduction ladder. */
export const DEFAULT_PRUNE_RATIOS = [0.25, 0.5] as const;
/** One pruning step either side of the plan's ratio. */
export const PRUNE_RATIO_STEP = 0.1;
/** int8 dynamic is only worth a candidate when MatMul/Gemm hold at least this share of the weights. */
export const MIN_DYNAMIC_MATMUL_SHARE = 0.1;
/** Low rank keeps this share of a factorised layer's parameters. */
export const LOWRANK_RATIO = 0.5;

type Quant = { id: string; step: CandidateStep; note: string };

/** The ordered candidate list for a model on a device. */
export function candidateSpace(input: CandidateSpaceInput): CandidateSpace {
  const { plan, facts } = input;
  const has = new Map(input.methods.map((m) => [m.name, m]));
  const out: CandidateSpec[] = [];
  const skipped: CandidateSpace['skipped'] = [];
  const seen = new Set<string>();
  const add = (spec: CandidateSpec): void => {
    if (seen.has(spec.id)) return;
    seen.add(spec.id);
    out.push(spec);
  };
  const skip = (id: string, reason: string): void => {
    if (seen.has(id) || skipped.some((s) => s.id === id)) return;
    skipped.push({ id, reason });
  };
  const usable = (method: string, id: string): boolean => {
    const m = has.get(method);
    if (!m) {
      skip(id, `method '${method}' is not in this build`);
      return false;
    }
    if (m.needsData && !input.hasData) {
      skip(id, `method '${method}' needs data (--data or --calib)`);
      return false;
    }
    return true;
  };

  add({ id: 'fp32', steps: [], origin: 'baseline', note: 'the original model: the reference every candidate is measured against' });

  const alreadyQuantized = facts.quantizationNodes > 0 || (facts.weightElementType !== null && facts.weightElementType !== 'float' && facts.weightElementType !== 'float32');
  if (facts.layers.length === 0) {
    skip('*', 'the model has no Conv/Gemm/MatMul with constant weights: nothing to compress');
    return { candidates: out, skipped };
  }
  if (alreadyQuantized) {
    skip('*', `the model is already quantized (weights ${facts.weightElementType ?? 'unknown'}, ${facts.quantizationNodes} quantization nodes): only the baseline is measured`);
    return { candidates: out, skipped };
  }

  const hasMatMul = facts.layers.some((l) => l.kind === 'gemm' || l.kind === 'matmul');
  // An fp32 plan whose int8 alternative needs 7-bit weights (x86 without VNNI) measures int8 with reduce_range.
  const reduceRange = plan.reduceRange || (plan.method === null && plan.candidates.some((c) => c.method === 'int8' && c.reduceRange));
  const int8Static = (perChannel: boolean): CandidateStep => ({ method: 'int8', options: { perChannel, reduceRange, calibration: 'minmax' } });
  const quants = new Map<string, Quant>();
  quants.set('int8', { id: 'int8', step: int8Static(true), note: `int8 static QDQ, per-channel weights${reduceRange ? ', 7-bit weights (reduce_range)' : ''}` });
  quants.set('int8-pt', { id: 'int8-pt', step: int8Static(false), note: 'int8 static QDQ, per-tensor weights' });
  quants.set('int8-dyn', { id: 'int8-dyn', step: { method: 'int8-dynamic', options: { reduceRange } }, note: 'int8 dynamic: weights int8, activations quantized at run time (MatMul/Gemm only)' });
  quants.set('fp16', { id: 'fp16', step: { method: 'fp16', options: {} }, note: 'float16 weights and compute, float32 IO' });
  quants.set('int4', { id: 'int4', step: { method: 'int4', options: { blockSize: (plan.int4?.blockSize ?? 32) as 32 | 64 | 128 } }, note: 'int4 weight-only MatMulNBits (MatMul-heavy models)' });

  const quantUsable = (q: Quant): boolean => {
    if (q.id === 'int8-dyn' && !hasMatMul) {
      skip(q.id, 'int8 dynamic quantizes MatMul/Gemm only and the model has none');
      return false;
    }
    if (q.id === 'int8-dyn' && facts.matmulWeightShare < MIN_DYNAMIC_MATMUL_SHARE && plan.method !== 'int8-dynamic') {
      skip(q.id, `int8 dynamic quantizes MatMul/Gemm only, and they hold ${Math.round(facts.matmulWeightShare * 100)}% of the weights`);
      return false;
    }
    if (q.id === 'int4' && facts.dominantKind !== 'matmul') {
      skip(q.id, 'int4 weight-only covers MatMul only; this model is not MatMul-heavy');
      return false;
    }
    if (q.id === 'fp16' && !facts.fp16.friendly) {
      skip(q.id, `fp16: ${facts.fp16.reason ?? 'weights are not fp16-friendly'}`);
      return false;
    }
    return usable(q.step.method, q.id);
  };
  const quantFor = (method: string | null): Quant | null => {
    if (method === 'int8') return quants.get('int8')!;
    if (method === 'int8-dynamic') return quants.get('int8-dyn')!;
    if (method === 'fp16') return quants.get('fp16')!;
    if (method === 'int4') return quants.get('int4')!;
    return null;
  };

  // The quantizer the plan applies (int8 static without data falls back to dynamic where it can).
  let planQuant = quantFor(plan.method);
  if (planQuant?.id === 'int8' && !input.hasData) {
    skip('int8', 'int8 static needs calibration data (--data or --calib)');
    planQuant = hasMatMul ? quants.get('int8-dyn')! : null;
  }
  const planPrune = plan.pruning && plan.pruning.ratio > 0 ? round2(plan.pruning.ratio) : null;
  const pruneOk = !has.has('prune')
    ? (skip('prune', "method 'prune' is not in this build"), false)
    : input.pruneDataProblem
      ? (skip('prune', input.pruneDataProblem), false)
      : usable('prune', 'prune');
  // The lowrank pass factorises 2-D MatMul/Gemm weights and 1×1 Convs (only where r·(K+N) < K·N).
  const pointwise = (l: (typeof facts.layers)[number]): boolean => l.kind === 'conv' && l.weightDims.length === 4 && l.weightDims[2] === 1 && l.weightDims[3] === 1;
  const lowRankApplicable = facts.layers.some((l) => (((l.kind === 'gemm' || l.kind === 'matmul') && l.weightDims.length === 2) || pointwise(l)) && Math.min(l.inChannels, l.outChannels) >= 32);
  const lowRankOk = lowRankApplicable ? usable('lowrank', 'lowrank') : (skip('lowrank', 'no 2-D MatMul/Gemm weight or 1×1 Conv with both sides ≥ 32: factorisation cannot save FLOPs'), false);
  const lowRankStep: CandidateStep = { method: 'lowrank', options: { ratio: LOWRANK_RATIO } };
  const lowRankId = `lowrank-${LOWRANK_RATIO}`;
  const pruneStep = (r: number): CandidateStep => ({ method: 'prune', options: { ratio: r } });

  // 1. The plan's own choice.
  {
    const steps: CandidateStep[] = [];
    const parts: string[] = [];
    if (planPrune !== null && pruneOk) {
      steps.push(pruneStep(planPrune));
      parts.push(`prune-${planPrune}`);
    }
    if (planQuant && quantUsable(planQuant)) {
      steps.push(planQuant.step);
      parts.push(planQuant.id);
    }
    if (steps.length > 0) add({ id: parts.join('+'), steps, origin: 'plan', note: `the plan's choice (${plan.method ?? 'fp32'}${planPrune !== null ? `, pruning ratio ${planPrune} for ${plan.pruning!.targetCache}` : ''})` });
  }

  // 2. The plan's alternatives.
  for (const c of plan.candidates) {
    const q = quantFor(c.method);
    if (!q) continue;
    if (c.method === 'int8' && c.reduceRange !== reduceRange) {
      skip(`int8${c.reduceRange ? '-rr' : '-full'}`, `plan alternative "${c.note}": needs session options the profiler does not set`);
      continue;
    }
    if (quantUsable(q)) add({ id: q.id, steps: [q.step], origin: 'plan-alternative', note: `plan alternative: ${c.note}` });
  }

  // 3. The other precisions.
  for (const id of ['int8', 'int8-keep', 'int8-pt', 'int8-dyn', 'fp16', 'int4']) {
    if (id === 'int8-keep') {
      if (!input.hasData) skip(id, 'mixed precision needs data (--data or --calib)');
      else if (input.maxAccuracyDropPp === null) skip(id, 'mixed precision needs --max-accuracy-drop as its bound');
      else if (usable('int8', id)) {
        add({
          id,
          steps: [{ method: 'int8', options: { perChannel: true, reduceRange, calibration: 'minmax', keepFloat: 'auto', maxAccuracyDropPp: input.maxAccuracyDropPp } }],
          origin: 'neighbour',
          note: `int8 per-channel with the accuracy-sensitive layers kept float (bound ${input.maxAccuracyDropPp} pp)`,
        });
      }
      continue;
    }
    const q = quants.get(id)!;
    if (quantUsable(q)) add({ id: q.id, steps: [q.step], origin: 'neighbour', note: q.note });
  }

  // 4. Structured pruning: the plan's ratio (or a ladder when the plan has none) and one step either side.
  const chainQuant = planQuant && quantUsable(planQuant) ? planQuant : null;
  if (pruneOk) {
    const ratios = planPrune !== null ? [planPrune, round2(planPrune - PRUNE_RATIO_STEP), round2(planPrune + PRUNE_RATIO_STEP)] : [...DEFAULT_PRUNE_RATIOS];
    const why = planPrune !== null ? `cache-sized ratio ${planPrune} (${plan.pruning!.targetCache})` : 'the plan sees no cache pressure; pruning offered for the FLOPs it removes';
    for (const r of ratios) {
      if (!(r > 0 && r < 0.9)) continue;
      const side = planPrune === null || r === planPrune ? why : `one step ${r < planPrune ? 'below' : 'above'} the plan's ratio ${planPrune}`;
      add({ id: `prune-${r}`, steps: [pruneStep(r)], origin: 'neighbour', note: `structured pruning, ratio ${r}: ${side}` });
      if (chainQuant) add({ id: `prune-${r}+${chainQuant.id}`, steps: [pruneStep(r), chainQuant.step], origin: 'neighbour', note: `prune ${r} then ${chainQuant.note}` });
    }
  }

  // 5. Low rank, alone and chained.
  if (lowRankOk) {
    const planned = plan.lowRank ? `the plan lists ${plan.lowRank.layers.length} layer(s) that still exceed the cache` : 'MatMul/Gemm or 1×1 Conv weights large enough to factorise';
    add({ id: lowRankId, steps: [lowRankStep], origin: plan.lowRank ? 'plan' : 'neighbour', note: `low-rank factorisation keeping ${LOWRANK_RATIO} of the parameters: ${planned}` });
    if (chainQuant) add({ id: `${lowRankId}+${chainQuant.id}`, steps: [lowRankStep, chainQuant.step], origin: 'neighbour', note: `low rank then ${chainQuant.note}` });
    const r = planPrune ?? DEFAULT_PRUNE_RATIOS[0];
    if (pruneOk) {
      const steps = [pruneStep(r), lowRankStep, ...(chainQuant ? [chainQuant.step] : [])];
      add({ id: [`prune-${r}`, lowRankId, ...(chainQuant ? [chainQuant.id] : [])].join('+'), steps, origin: 'neighbour', note: 'prune → low rank → quantize' });
    }
  }
  return { candidates: out, skipped };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
