/**
 * onnxruntime's profiler output (a Chrome trace: `[{cat, name, ts, dur, args: {op_name, provider}}]`, times in µs)
 * condensed to the operators that take the time (pure). Only nodes inside the last `runs` `model_run` spans are
 * counted, so warm-up runs traced by the same session are left out.
 */

/** One node of the condensed profile: time per run and share of all node time. */
export interface OpTime {
  op: string;
  name: string;
  provider: string;
  ms: number;
  share: number;
}

/** The condensed profile. */
export interface OpProfileSummary {
  runs: number;
  /** Sum of node times per run (ms); less than the run time (scheduling, copies). */
  nodeMsPerRun: number;
  /** Mean model_run span (ms), as traced (profiling adds overhead). */
  runMs: number;
  /** Top nodes by time. */
  top: OpTime[];
  /** Every op type with its time per run and share. */
  byOpType: Array<{ op: string; ms: number; share: number; nodes: number }>;
}

interface TraceEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string; provider?: string };
}

/** Condense a parsed trace; throws RangeError when it holds no model_run span. */
export function summarizeOpProfile(trace: unknown, runs: number, topN = 15): OpProfileSummary {
  if (!Array.isArray(trace)) throw new RangeError('onnxruntime profile is not a JSON array of trace events');
  const events = trace as TraceEvent[];
  const spans = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run' && typeof e.ts === 'number' && typeof e.dur === 'number')
    .sort((a, b) => a.ts! - b.ts!);
  if (spans.length === 0) throw new RangeError('onnxruntime profile holds no model_run span');
  const kept = spans.slice(-Math.max(1, Math.min(runs, spans.length)));
  const inKept = (ts: number): boolean => kept.some((s) => ts >= s.ts! && ts <= s.ts! + s.dur!);
  const byNode = new Map<string, { op: string; provider: string; us: number }>();
  let totalUs = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || typeof e.dur !== 'number' || typeof e.ts !== 'number' || !e.name) continue;
    if (!e.name.endsWith('_kernel_time') || !inKept(e.ts)) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    const entry = byNode.get(name) ?? { op: e.args?.op_name ?? '?', provider: e.args?.provider ?? '?', us: 0 };
    entry.us += e.dur;
    totalUs += e.dur;
    byNode.set(name, entry);
  }
  const n = kept.length;
  const share = (us: number): number => (totalUs > 0 ? us / totalUs : 0);
  const top = [...byNode.entries()]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, topN)
    .map(([name, v]) => ({ op: v.op, name, provider: v.provider, ms: v.us / n / 1000, share: share(v.us) }));
  const types = new Map<string, { us: number; nodes: number }>();
  for (const v of byNode.values()) {
    const t = types.get(v.op) ?? { us: 0, nodes: 0 };
    t.us += v.us;
    t.nodes++;
    types.set(v.op, t);
  }
  const byOpType = [...types.entries()]
    .sort((a, b) => b[1].us - a[1].us)
    .map(([op, v]) => ({ op, ms: v.us / n / 1000, share: share(v.us), nodes: v.nodes }));
  return {
    runs: n,
    nodeMsPerRun: totalUs / n / 1000,
    runMs: kept.reduce((s, e) => s + e.dur!, 0) / n / 1000,
    top,
    byOpType,
  };
}
