/**
 * Low-rank ranks chosen per layer by an accuracy bound on data: layers largest first, each tried from the most
 * compression (lowest retained energy) to the least, on top of the layers already accepted; the first energy
 * whose whole model stays within the bound on the data is kept. The result meets the bound on that data.
 */
import { cloneModel, type OnnxModel } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import type { Dataset } from './dataset.js';
import { evaluateRunners } from './evaluate.js';
import { factorizeLowRank, lowRankCandidates, type LowRankLayer, type LowRankOptions } from './low-rank.js';
import type { PassResult } from './pass.js';
import { EdgetuneError } from '../util/errors.js';

/** Retained-energy ladder tried per layer, most compression first. */
export const LOWRANK_ENERGY_LADDER = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99] as const;

/** Options of the accuracy-bounded rank search. */
export interface LowRankAutoOptions extends Pick<LowRankOptions, 'minElements' | 'rankMultiple' | 'tucker'> {
  /** Percentage points of top-1 (agreement, or cosine × 100, without labels) the model may lose on the data. */
  maxAccuracyDropPp: number;
  ladder?: readonly number[];
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The accuracy the search measured for the chosen model. */
export interface LowRankAccuracy {
  metric: 'top1' | 'agreement' | 'cosine';
  baseline: number;
  value: number;
  dropPp: number;
  evaluations: number;
}

/** Factorise `original` (not mutated) with per-layer ranks chosen by the accuracy bound on `dataset`. */
export async function factorizeLowRankByAccuracy(
  original: OnnxModel,
  dataset: Dataset,
  options: LowRankAutoOptions,
): Promise<PassResult & { layers: LowRankLayer[]; accuracy: LowRankAccuracy; energies: Record<string, number> }> {
  const bound = options.maxAccuracyDropPp;
  if (!(bound >= 0)) throw new EdgetuneError('USAGE', `--max-accuracy-drop must be ≥ 0, got ${bound}`);
  const ladder = [...(options.ladder ?? LOWRANK_ENERGY_LADDER)].sort((a, b) => a - b);
  const base: LowRankOptions = {
    ...(options.minElements !== undefined ? { minElements: options.minElements } : {}),
    ...(options.rankMultiple !== undefined ? { rankMultiple: options.rankMultiple } : {}),
    ...(options.tucker !== undefined ? { tucker: options.tucker } : {}),
  };
  const candidates = lowRankCandidates(original, base);
  if (candidates.length === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', 'no layer to factorise: no Gemm/MatMul with a constant 2-D weight or Conv (group 1) large enough');
  const build = (energies: ReadonlyMap<string, number>): (PassResult & { layers: LowRankLayer[] }) | null => {
    try {
      return factorizeLowRank(cloneModel(original), { ...base, layerEnergy: energies, onlyLayers: new Set(energies.keys()) });
    } catch (error) {
      if (error instanceof EdgetuneError && error.code === 'MODEL_UNSUPPORTED') return null;
      throw error;
    }
  };
  const reference = await createInferenceRunner(encodeModel(original));
  let evaluations = 0;
  try {
    const score = async (model: OnnxModel): Promise<Omit<LowRankAccuracy, 'evaluations' | 'dropPp'>> => {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'low-rank search aborted');
      evaluations++;
      const runner: InferenceRunner = await createInferenceRunner(encodeModel(model));
      try {
        const m = await evaluateRunners(model, runner, reference, dataset, options.signal ? { signal: options.signal } : {});
        if (m.top1 !== null && m.referenceTop1 !== null) return { metric: 'top1', baseline: m.referenceTop1, value: m.top1 };
        if (m.agreement !== null) return { metric: 'agreement', baseline: 1, value: m.agreement };
        return { metric: 'cosine', baseline: 1, value: m.cosine ?? 0 };
      } finally {
        await runner.release();
      }
    };
    const accepted = new Map<string, number>();
    let best: { result: PassResult & { layers: LowRankLayer[] }; score: Omit<LowRankAccuracy, 'evaluations' | 'dropPp'> } | null = null;
    for (let i = 0; i < candidates.length; i++) {
      const label = candidates[i]!.node;
      options.onProgress?.('lowrank rank search', i + 1, candidates.length);
      let lastRank: string | null = null;
      for (const energy of ladder) {
        const trial = new Map(accepted).set(label, energy);
        const result = build(trial);
        const layer = result?.layers.find((l) => l.node === label);
        // A layer that does not save at this energy will not save at a higher one either.
        if (!result || !layer) break;
        const signature = `${layer.rankIn ?? ''}/${layer.rank}`;
        if (signature === lastRank) continue; // same ranks as the energy just rejected
        lastRank = signature;
        const s = await score(result.model);
        if ((s.baseline - s.value) * 100 <= bound) {
          accepted.set(label, energy);
          best = { result, score: s };
          break;
        }
      }
    }
    if (!best) throw new EdgetuneError('MODEL_UNSUPPORTED', `no layer can be factorised within --max-accuracy-drop ${bound} on the data (tried energies ${ladder.join(', ')} on ${candidates.length} layer(s))`);
    const { result, score: s } = best;
    const accuracy: LowRankAccuracy = { ...s, dropPp: (s.baseline - s.value) * 100, evaluations };
    const energies = Object.fromEntries(accepted);
    return {
      ...result,
      accuracy,
      energies,
      report: {
        ...result.report,
        notes: [
          ...result.report.notes,
          `ranks chosen per layer by --max-accuracy-drop ${bound} on the data: ${s.metric} ${(s.baseline * 100).toFixed(2)} → ${(s.value * 100).toFixed(2)} (${accuracy.dropPp.toFixed(2)} pp) after ${evaluations} evaluation(s); measured on the same data the ranks were chosen on`,
        ],
        details: { ...result.report.details, energy: null, ratio: null, maxAccuracyDropPp: bound, energies, accuracy },
      },
    };
  } finally {
    await reference.release();
  }
}
