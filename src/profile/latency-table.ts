import { performance } from 'node:perf_hooks';
import type { Tensor } from '../onnx/ir.js';
import { createInferenceRunner } from './ort-inference.js';
import { median, PAIRED_SESSION_CONFIG } from './paired-latency.js';
import { medianIntervalSorted } from './latency-stats.js';
import { EdgetuneError } from '../util/errors.js';

/** Options of a latency table measurement. */
export interface LatencyTableOptions {
  /** Alternated runs per candidate (default 12). */
  iterations?: number;
  /** Untimed runs of each new candidate (and of the base, once) before timing (default 2). */
  warmup?: number;
  /** intra-op threads (default 1: steadier on a shared machine, and what a one-core edge budget looks like). */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** One row of the table: the candidate's p50 and the base's p50 over the same alternated runs. */
export interface CandidateLatency {
  baseP50Ms: number;
  candidateP50Ms: number;
  /** candidate p50 / base p50 of the same pairing (< 1: faster). */
  ratio: number;
  /** 95 % distribution-free interval of the median of the run-by-run ratios (candidate run / the base run beside it). */
  ratioCi: [number, number];
  runs: number;
}

/** The table and the base latency over all pairings. */
export interface LatencyTable {
  /** Median of the base's p50 over all pairings. */
  baseLatencyMs: number;
  candidates: CandidateLatency[];
}

/**
 * Latency of `count` candidate models against one base model on this device, each candidate run by run in
 * alternation with the base (base, candidate, base, …) so that drifting load on a shared machine hits both alike.
 * The base session is loaded once; `bytesOf(i)` is asked for candidate i when it is measured.
 */
export async function measureLatencyTable(
  baseBytes: Uint8Array,
  count: number,
  bytesOf: (index: number) => Uint8Array,
  feeds: Record<string, Tensor>,
  options: LatencyTableOptions = {},
): Promise<LatencyTable> {
  // No spin-waiting threads: the idle session's would steal the measured one's cores (PAIRED_SESSION_CONFIG).
  const session = { intraOpNumThreads: options.threads ?? 1, configEntries: { ...PAIRED_SESSION_CONFIG } };
  const iterations = options.iterations ?? 12;
  const warmup = options.warmup ?? 2;
  const base = await createInferenceRunner(baseBytes, session);
  const candidates: CandidateLatency[] = [];
  try {
    for (let i = 0; i < warmup; i++) await base.run(feeds);
    for (let c = 0; c < count; c++) {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'latency measurement aborted');
      const runner = await createInferenceRunner(bytesOf(c), session);
      try {
        for (let i = 0; i < warmup; i++) await runner.run(feeds);
        const tb: number[] = [];
        const tc: number[] = [];
        for (let i = 0; i < iterations; i++) {
          // Alternate which goes first, so neither always runs on a warm cache after the other.
          const order = i % 2 === 0 ? ([[base, tb], [runner, tc]] as const) : ([[runner, tc], [base, tb]] as const);
          for (const [r, times] of order) {
            const t = performance.now();
            await r.run(feeds);
            times.push(performance.now() - t);
          }
        }
        const baseP50Ms = median(tb);
        const candidateP50Ms = median(tc);
        const pairRatios = tc.map((t, i) => t / tb[i]!).sort((a, b) => a - b);
        candidates.push({ baseP50Ms, candidateP50Ms, ratio: candidateP50Ms / baseP50Ms, ratioCi: medianIntervalSorted(pairRatios), runs: iterations });
      } finally {
        await runner.release();
      }
      options.onProgress?.(c + 1, count);
    }
  } finally {
    await base.release();
  }
  return { baseLatencyMs: candidates.length ? median(candidates.map((c) => c.baseP50Ms)) : Number.NaN, candidates };
}
