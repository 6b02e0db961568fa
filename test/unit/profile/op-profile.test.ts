import { describe, expect, it } from 'vitest';
import { summarizeOpProfile } from '../../../src/profile/op-profile.js';

/** A trace as onnxruntime writes it: session spans, model_run spans, node kernel times (µs). */
function trace(): unknown[] {
  const node = (name: string, op: string, ts: number, dur: number) => ({
    cat: 'Node', name: `${name}_kernel_time`, ts, dur, ph: 'X', args: { op_name: op, provider: 'CPUExecutionProvider' },
  });
  const events: unknown[] = [
    { cat: 'Session', name: 'model_loading_uri', ts: 0, dur: 50 },
    { cat: 'Session', name: 'session_initialization', ts: 50, dur: 900 },
  ];
  // run 0 (warm-up, slow) then runs 1 and 2
  const runs = [
    { ts: 1000, conv: 500, relu: 100 },
    { ts: 2000, conv: 300, relu: 60 },
    { ts: 3000, conv: 340, relu: 40 },
  ];
  for (const r of runs) {
    events.push({ cat: 'Session', name: 'model_run', ts: r.ts, dur: 450 });
    events.push(node('conv1', 'Conv', r.ts + 5, r.conv));
    events.push(node('relu1', 'Relu', r.ts + 5 + r.conv, r.relu));
    events.push({ cat: 'Node', name: 'conv1_fence_before', ts: r.ts + 1, dur: 0 });
  }
  return events;
}

describe('summarizeOpProfile', () => {
  it('keeps the last runs only, gives ms per run and share of node time', () => {
    const s = summarizeOpProfile(trace(), 2);
    expect(s.runs).toBe(2);
    expect(s.top).toEqual([
      { op: 'Conv', name: 'conv1', provider: 'CPUExecutionProvider', ms: 0.32, share: 640 / 740 },
      { op: 'Relu', name: 'relu1', provider: 'CPUExecutionProvider', ms: 0.05, share: 100 / 740 },
    ]);
    expect(s.nodeMsPerRun).toBeCloseTo(0.37, 12);
    expect(s.runMs).toBeCloseTo(0.45, 12);
    expect(s.byOpType.map((t) => t.op)).toEqual(['Conv', 'Relu']);
    expect(s.top.reduce((a, t) => a + t.share, 0)).toBeCloseTo(1, 12);
  });
  it('limits the list to the top N', () => {
    expect(summarizeOpProfile(trace(), 3, 1).top.map((t) => t.name)).toEqual(['conv1']);
  });
  it('rejects something that is not a trace', () => {
    expect(() => summarizeOpProfile({}, 1)).toThrow(/not a JSON array/);
    expect(() => summarizeOpProfile([{ cat: 'Node', name: 'x_kernel_time', ts: 1, dur: 2 }], 1)).toThrow(/no model_run/);
  });
});
