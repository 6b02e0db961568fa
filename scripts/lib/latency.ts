import { performance } from 'node:perf_hooks';
import type { Tensor } from '../../src/onnx/ir.js';
import { createInferenceRunner } from '../../src/profile/ort-inference.js';

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
 * on a shared machine hits both equally. Returns both p50s in ms.
 */
export async function compareLatency(aBytes: Uint8Array, bBytes: Uint8Array, feeds: Record<string, Tensor>, options: { warmup?: number; iterations?: number; threads?: number } = {}): Promise<{ aP50Ms: number; bP50Ms: number; runs: number }> {
  const a = await createInferenceRunner(aBytes, { intraOpNumThreads: options.threads ?? 2 });
  const b = await createInferenceRunner(bBytes, { intraOpNumThreads: options.threads ?? 2 });
  try {
    for (let i = 0; i < (options.warmup ?? 3); i++) {
      await a.run(feeds);
      await b.run(feeds);
    }
    const ta: number[] = [];
    const tb: number[] = [];
    const n = options.iterations ?? 20;
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await a.run(feeds);
      ta.push(performance.now() - t);
      t = performance.now();
      await b.run(feeds);
      tb.push(performance.now() - t);
    }
    return { aP50Ms: median(ta), bP50Ms: median(tb), runs: n };
  } finally {
    await a.release();
    await b.release();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
