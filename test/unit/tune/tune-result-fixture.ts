import type { CandidateAccuracyJson, TuneCandidateJson, TuneResult } from '../../../src/tune/tune-types.js';

const MiB = 1024 * 1024;
const BASELINE_TOP1 = 0.99;

/** A top-1 accuracy judged on 256 validation samples at 95 %: the interval is [drop − 0.30, drop + 0.35] pp (0 for the baseline). */
export function accuracyJson(dropPp: number, over: Partial<CandidateAccuracyJson> = {}): CandidateAccuracyJson {
  return {
    metric: 'top1',
    drop: dropPp,
    ci: dropPp === 0 ? [0, 0] : [dropPp - 0.3, dropPp + 0.35],
    samples: 256,
    judgedOn: 'validation',
    confidence: 0.95,
    value: BASELINE_TOP1 - dropPp / 100,
    baseline: BASELINE_TOP1,
    agreement: 0.97,
    cosine: 0.999,
    ...over,
  };
}

/**
 * A candidate row of a hand-made tune result. Unless given, `accuracy` follows `accuracyDrop` (see accuracyJson)
 * and `latencyCiMs` is p50 ± 4 %.
 */
export function candidateJson(id: string, over: Partial<TuneCandidateJson> = {}): TuneCandidateJson {
  const row: TuneCandidateJson = {
    id,
    methods: [id.split('+')[0]!],
    latencyMs: 5,
    sizeBytes: MiB,
    peakRssBytes: 100 * MiB,
    joulesPerInference: 0.02,
    accuracyDrop: 0.1,
    pareto: false,
    state: 'done',
    reason: null,
    violations: [],
    dominatedBy: null,
    whyLost: null,
    slowerThanBaseline: false,
    speedup: 2,
    sizeRatio: 4,
    accuracyMetric: 'top1',
    accuracy: null,
    collapsed: [],
    suspect: null,
    latencyCiMs: null,
    indistinguishableFrom: [],
    energyMethod: 'estimated',
    latencyCv: 0.05,
    origin: 'neighbour',
    note: `note of ${id}`,
    steps: id === 'fp32' ? [] : [{ method: id.split('+')[0]!, options: {} }],
    resumed: false,
    seconds: 1,
    modelPath: `/tmp/${id}.onnx`,
    sha256: 'ab'.repeat(32),
    ...over,
  };
  if (!('accuracy' in over)) row.accuracy = row.accuracyDrop === null ? null : accuracyJson(row.accuracyDrop);
  if (!('latencyCiMs' in over)) row.latencyCiMs = row.latencyMs === null ? null : [row.latencyMs * 0.96, row.latencyMs * 1.04];
  return row;
}

/** A hand-made tune result with a front, a dominated candidate, a constraint miss, a failure and a rejection. */
export function sampleTuneResult(): TuneResult {
  const candidates = [
    candidateJson('fp32', { latencyMs: 10, sizeBytes: 4 * MiB, accuracyDrop: 0, speedup: 1, sizeRatio: 1, origin: 'baseline', violations: ['--max-latency-ms: p50 10.0 ms > 8 ms'], whyLost: 'misses --max-latency-ms: p50 10.0 ms > 8 ms' }),
    candidateJson('int8', { latencyMs: 4, sizeBytes: 1.05 * MiB, accuracyDrop: 0.4, pareto: true }),
    candidateJson('int8-keep', { latencyMs: 5.5, sizeBytes: 1.3 * MiB, accuracyDrop: 0.1, pareto: true }),
    candidateJson('int8-pt', { latencyMs: 4.6, sizeBytes: 1.05 * MiB, accuracyDrop: 0.6, dominatedBy: 'int8', whyLost: 'dominated by int8: latency 4.00 vs 4.60 ms (1.15× faster), accuracy drop 0.40 vs 0.60 pp' }),
    candidateJson('prune-0.5', { latencyMs: 3, sizeBytes: 2 * MiB, accuracyDrop: 1.8, violations: ['--max-accuracy-drop: drop 1.80 pp > 1 pp'], whyLost: 'misses --max-accuracy-drop: drop 1.80 pp > 1 pp' }),
    candidateJson('fp16', { state: 'failed', latencyMs: null, peakRssBytes: null, joulesPerInference: null, accuracyDrop: null, reason: 'profile: profile child exceeded the time limit of 1 s', speedup: null }),
    candidateJson('prune-0.75', { state: 'rejected', latencyMs: null, peakRssBytes: null, joulesPerInference: null, accuracyDrop: 6.2, reason: 'top1 drop 6.20 pp > --max-accuracy-drop 1 pp: dropped before profiling', speedup: null }),
  ];
  return {
    model: { path: '/models/net <x>.onnx', sha256: 'cd'.repeat(32), bytes: 4 * MiB },
    device: { profile: 'x86-avx512-vnni', board: 'Test & Board', cpu: 'Test CPU', arch: 'x86_64', cores: 2, caches: { l1d: 32 * 1024, l2: MiB, l3: 32 * MiB } },
    plan: { method: 'int8', precision: 'int8', pruningRatio: null, reasons: ['VNNI present → int8 per-channel', 'largest layer within L2 → no pruning'] },
    settings: { shapes: {}, batchSize: 32, iterations: 20, warmup: 3, threads: 2, energy: 'auto', dataDir: '/data/test', calibrationDataDir: '/data/calib', accuracyMetric: 'top1', workDir: '/tmp/work',
      validationDataDir: null,
      judgedOn: 'validation',
      split: {
        fit: { samples: 768, sets: 24 },
        validation: { samples: 256, sets: 8 },
        unit: 'sample',
        stratified: true,
        seed: 7,
        validationFraction: 0.25,
        sourceDir: '/data/test',
        key: 'ef'.repeat(32),
        reused: false,
      },
      confidence: 0.95,
    },
    baseline: { id: 'fp32', latencyMs: 10, sizeBytes: 4 * MiB, peakRssBytes: 140 * MiB, joulesPerInference: 0.05, accuracy: { metric: 'top1', value: BASELINE_TOP1 } },
    candidates,
    chosen: 'int8',
    chosenReason: 'lowest p50 latency of the 3 front members meeting the constraints',
    objective: 'latency',
    objectiveUsed: 'latency',
    constraints: { maxAccuracyDropPp: 1, maxLatencyMs: 8, maxMemoryMb: null, maxSizeMb: null },
    front: ['int8', 'int8-keep'],
    axes: ['latencyMs', 'accuracyDropPp', 'sizeBytes', 'joulesPerInference'],
    axesLeftOut: [],
    notTried: [{ id: 'lowrank-0.5', reason: 'time budget of 60 s used up' }],
    output: null,
    report: null,
    elapsedSeconds: 42.5,
    budgetSeconds: 60,
    complete: false,
    store: '/tmp/work/tune.sqlite',
    notes: ['energy per inference is ESTIMATED from CPU utilisation and the device profile power model, not measured'],
  };
}
