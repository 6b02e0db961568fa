import { performance } from 'node:perf_hooks';
import type { Tensor } from '../../src/onnx/ir.js';
import { createInferenceRunner } from '../../src/profile/ort-inference.js';
import { comparePairedLatency } from '../../src/profile/paired-latency.js';

/** p50 and mean latency (ms) of `iterations` runs after `warmup`, in this process, with `threads` intra-op threads. */
export async function measureLatency(modelBytes: Uint8Array, feeds: Record<string, Tensor>, options: { warmup?: number; iterations?: number; threads?: number } = {}): Promise<{ p50Ms: number; meanMs: number; runs: number }> {
  const runner = await createInferenceRunner(modelBytes, { intraOpNumThreads: options.threads ?? 2 });
  try {
    for (let i = 0; i < (options.warmup ?? 3); i++) await runner.run(feeds);
    const times: number[] = [];
    const n = options.iterations ?? 20;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await runner.run(feeds);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const mid = times.length >> 1;
    const p50Ms = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
    return { p50Ms, meanMs: times.reduce((a, b) => a + b, 0) / times.length, runs: n };
  } finally {
    await runner.release();
  }
}

/**
 * p50 latency of two models measured run by run in alternation (A, B, A, B...) in this process, so drifting load
 * on a shared machine hits both equally. Returns both p50s in ms (src/profile/paired-latency.ts does the work).
 */
export async function compareLatency(aBytes: Uint8Array, bBytes: Uint8Array, feeds: Record<string, Tensor>, options: { warmup?: number; iterations?: number; threads?: number } = {}): Promise<{ aP50Ms: number; bP50Ms: number; runs: number }> {
  const r = await comparePairedLatency(aBytes, bBytes, feeds, { ...options, threads: options.threads ?? 2 });
  return { aP50Ms: r.aP50Ms, bP50Ms: r.bP50Ms, runs: r.runs };
}

/**
 * Run every runner `iterations` times in turn (runner 0, 1, …, then again), after `warmup` runs each, so that drift
 * of a shared machine hits them alike; per runner its wall times (ms) in run order.
 */
export async function alternatedRunTimesMs(runners: ReadonlyArray<{ run(feeds: Record<string, Tensor>): Promise<unknown> }>, feeds: Record<string, Tensor>, iterations: number, warmup = 3): Promise<number[][]> {
  for (const r of runners) for (let i = 0; i < warmup; i++) await r.run(feeds);
  const times = runners.map(() => [] as number[]);
  for (let i = 0; i < iterations; i++) {
    for (let k = 0; k < runners.length; k++) {
      const t = performance.now();
      await runners[k]!.run(feeds);
      times[k]!.push(performance.now() - t);
    }
  }
  return times;
}
