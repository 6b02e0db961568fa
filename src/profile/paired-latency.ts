import { performance } from 'node:perf_hooks';
import type { Tensor } from '../onnx/ir.js';
import { createInferenceRunner } from './ort-inference.js';
import { medianIntervalSorted } from './latency-stats.js';

/** Options of a paired latency comparison. */
export interface PairedLatencyOptions {
  warmup?: number;
  /** Alternated runs of each model (default 20). */
  iterations?: number;
  /** Stop early once this much wall time has passed (at least `minIterations` runs each). */
  budgetMs?: number;
  minIterations?: number;
  /** intra-op threads; 0 or absent = onnxruntime's choice. */
  threads?: number;
}

/** Result of a paired comparison: each model's p50 and how much faster B is than A (p50 ratio A/B). */
export interface PairedLatency {
  aP50Ms: number;
  bP50Ms: number;
  speedup: number;
  /**
   * 95 % distribution-free interval of the median of the per-pair ratios A/B (each B run against the A run just
   * before it); [min, max] with fewer than 6 pairs. Above 1 throughout: B is distinguishably faster on this device.
   */
  speedupCi: [number, number];
  runs: number;
}

/**
 * Session settings of both sides of a paired comparison: intra-op threads do not spin-wait between runs. Two sessions
 * in one process each keep a thread pool; with spinning on (onnxruntime's default) the idle session's threads spin
 * while the other runs and steal its cores, so which side wins depends on timing: BlazeFace fp32 vs int8 measured
 * 0.69×–1.26× in three pairings with spinning and 0.99×–1.02× without (BENCHMARKS.md, issue 12).
 */
export const PAIRED_SESSION_CONFIG: Readonly<Record<string, string>> = { 'session.intra_op.allow_spinning': '0' };

/**
 * p50 latency of two models measured run by run in alternation (A, B, A, B…) in this process, so drifting load on
 * a shared machine hits both alike; `speedup` = A's p50 / B's p50. Threads do not spin ({@link PAIRED_SESSION_CONFIG}).
 */
export async function comparePairedLatency(aBytes: Uint8Array, bBytes: Uint8Array, feeds: Record<string, Tensor>, options: PairedLatencyOptions = {}): Promise<PairedLatency> {
  const session = { ...(options.threads ? { intraOpNumThreads: options.threads } : {}), configEntries: { ...PAIRED_SESSION_CONFIG } };
  const a = await createInferenceRunner(aBytes, session);
  const b = await createInferenceRunner(bBytes, session);
  try {
    for (let i = 0; i < (options.warmup ?? 3); i++) {
      await a.run(feeds);
      await b.run(feeds);
    }
    const ta: number[] = [];
    const tb: number[] = [];
    const n = options.iterations ?? 20;
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await a.run(feeds);
      ta.push(performance.now() - t);
      t = performance.now();
      await b.run(feeds);
      tb.push(performance.now() - t);
      if (options.budgetMs !== undefined && i + 1 >= (options.minIterations ?? 5) && performance.now() - started > options.budgetMs) break;
    }
    const aP50Ms = median(ta);
    const bP50Ms = median(tb);
    return { aP50Ms, bP50Ms, speedup: aP50Ms / bP50Ms, speedupCi: pairedSpeedupInterval(ta, tb), runs: ta.length };
  } finally {
    await a.release();
    await b.release();
  }
}

/** 95 % distribution-free interval of the median of the per-pair ratios a[i] / b[i]. Pure. */
export function pairedSpeedupInterval(a: readonly number[], b: readonly number[], confidence = 0.95): [number, number] {
  if (a.length !== b.length) throw new RangeError(`paired samples differ in length: ${a.length} vs ${b.length}`);
  const ratios = a.map((x, i) => x / b[i]!).sort((x, y) => x - y);
  return medianIntervalSorted(ratios, confidence);
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
