import { describe, expect, it } from 'vitest';
import { analyzeChannels, keepCount, pruneChannels, sliceAxis } from '../../../src/compress/prune-channels.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { chainModel, concatModel, depthwiseModel, flattenGemmModel, gapGemmModel, reshapeBlockedModel, residualModel, seModel } from './prune-test-models.js';

const dims = (m: ReturnType<typeof chainModel>, name: string) => m.graph.initializers.get(name)!.dims;

describe('keepCount', () => {
  it('keeps multiples of 8 where possible, never all, never none', () => {
    expect(keepCount(32, 0.25)).toBe(24);
    expect(keepCount(128, 0.5)).toBe(64);
    expect(keepCount(16, 0.25)).toBe(12); // 16 would keep all: exact count instead
    expect(keepCount(8, 0.25)).toBe(6);
    expect(keepCount(2, 0.9)).toBe(1);
    expect(keepCount(10, 0.99)).toBe(1);
  });
});

describe('sliceAxis', () => {
  it('keeps the listed indices of one axis', () => {
    const t = floatTensor('t', [2, 3, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const s = sliceAxis(t, 1, [0, 2]);
    expect(s.dims).toEqual([2, 2, 2]);
    expect(Array.from(s.values as Float32Array)).toEqual([0, 1, 4, 5, 6, 7, 10, 11]);
  });
});

describe('pruneChannels coupling patterns', () => {
  it('Conv → BN → Relu → Conv: producer rows, BN params and consumer input channels shrink together', () => {
    const m = chainModel();
    const r = pruneChannels(m, { ratio: 0.5 });
    expect(dims(m, 'c1.w')).toEqual([8, 3, 3, 3]);
    expect(dims(m, 'c1.b')).toEqual([8]);
    for (const p of ['bn1.g', 'bn1.beta', 'bn1.mean', 'bn1.var']) expect(dims(m, p)).toEqual([8]);
    expect(dims(m, 'c2.w')).toEqual([4, 8, 3, 3]);
    expect(r.sinks.map((s) => s.node)).toEqual(['c2']);
    expect(r.sinks[0]!.keptIn).toHaveLength(8);
    // the stale value_info for 'a' is dropped; the graph output group (c2) is left alone and named
    expect(m.graph.valueInfo.find((v) => v.name === 'a')).toBeUndefined();
    expect(r.groups.find((g) => g.producers.includes('c2'))!.reason).toMatch(/feeds output 'y': its channels are the model's output/);
  });

  it('keeps the channels with the largest BN-folded filter norms', () => {
    const m = chainModel();
    const gamma = m.graph.initializers.get('bn1.g')!.values as Float32Array;
    gamma.fill(1e-3);
    for (const c of [1, 3, 5, 7, 9, 11, 13, 15]) gamma[c] = 10;
    const r = pruneChannels(m, { ratio: 0.5 });
    expect(r.keptChannels.get('a')).toEqual([1, 3, 5, 7, 9, 11, 13, 15]);
  });

  it('residual Add: both branches lose the same channel set', () => {
    const m = residualModel();
    const a = analyzeChannels(m);
    const g = a.groups.find((x) => x.producers.some((p) => p.node.name === 'stem'))!;
    expect(g.producers.map((p) => p.node.name).sort()).toEqual(['body', 'stem']);
    const r = pruneChannels(m, { ratio: 0.5 });
    expect(dims(m, 'stem.w')[0]).toBe(8);
    expect(dims(m, 'body.w')).toEqual([8, 8, 3, 3]);
    expect(dims(m, 'head.w')).toEqual([4, 8, 1, 1]);
    expect(r.keptChannels.get('s')).toEqual(r.keptChannels.get('b'));
  });

  it('Concat: the consumer keeps the input channels at each operand offset', () => {
    const m = concatModel();
    const r = pruneChannels(m, { ratio: 0.5 });
    const keptA = r.keptChannels.get('ya')!;
    const keptB = r.keptChannels.get('yb')!;
    expect(keptA).toHaveLength(8);
    expect(keptB).toHaveLength(16); // 24·0.5 = 12 → 16 (multiple of 8)
    const sink = r.sinks.find((s) => s.node === 'c')!;
    expect(sink.keptIn).toEqual([...keptA, ...keptB.map((k) => k + 16)]);
    expect(dims(m, 'c.w')).toEqual([4, 24, 3, 3]);
  });

  it('depthwise Conv: filters and group shrink with the producer', () => {
    const m = depthwiseModel();
    pruneChannels(m, { ratio: 0.5 });
    expect(dims(m, 'dw.w')).toEqual([8, 1, 3, 3]);
    expect(dims(m, 'dw.b')).toEqual([8]);
    const dw = m.graph.nodes.find((n) => n.name === 'dw')!;
    expect(dw.attributes.get('group')).toEqual({ type: 'int', value: 8 });
    expect(dims(m, 'pw2.w')).toEqual([4, 8, 1, 1]);
  });

  it('MaxPool → GlobalAveragePool → Flatten → Gemm: Gemm input columns follow channels (stride 1)', () => {
    const m = gapGemmModel();
    const r = pruneChannels(m, { ratio: 0.5 });
    expect(dims(m, 'fc.w')).toEqual([5, 8]);
    expect(r.sinks[0]!.keptIn).toEqual(r.keptChannels.get('a'));
  });

  it('Flatten with H·W = 4: Gemm keeps 4-column blocks per channel; MLP Gemm → MatMul couples', () => {
    const m = flattenGemmModel();
    const r = pruneChannels(m, { ratio: 0.5 });
    const kept = r.keptChannels.get('a')!;
    expect(dims(m, 'fc1.w')).toEqual([8, 32]);
    const fc1 = r.sinks.find((s) => s.node === 'fc1')!;
    expect(fc1.keptIn).toEqual(kept.flatMap((c) => [4 * c, 4 * c + 1, 4 * c + 2, 4 * c + 3]));
    expect(dims(m, 'fc1.b')).toEqual([8]);
    expect(dims(m, 'fc2.w')).toEqual([8, 5]);
  });

  it('squeeze-excitation, hard-swish and Resize: the gate Conv joins the feature channels', () => {
    const m = seModel();
    const a = analyzeChannels(m);
    const g = a.groups.find((x) => x.producers.some((p) => p.node.name === 'c1'))!;
    expect(g.producers.map((p) => p.node.name).sort()).toEqual(['c1', 'ex']);
    expect(g.blocked).toBeNull();
    pruneChannels(m, { ratio: 0.5 });
    expect(dims(m, 'c1.w')[0]).toBe(8);
    expect(dims(m, 'ex.w')).toEqual([8, 4, 1, 1]);
    expect(dims(m, 'sq.w')).toEqual([4, 8, 1, 1]);
    expect(dims(m, 'out.w')).toEqual([4, 8, 1, 1]);
    expect(dims(m, 'three')).toEqual([]); // scalar constants untouched
  });

  it('a group reaching an op without a mapping is left alone and named', () => {
    const m = concatModel();
    // conv 'a' also feeds a graph output: its group is unprunable; 'b' (the other Concat operand) is still pruned
    m.graph.outputs.push({ name: 'ya', type: { elemType: 1, shape: null } });
    const r = pruneChannels(m, { ratio: 0.5 });
    const g = r.groups.find((x) => x.producers.includes('a'))!;
    expect(g.prunable).toBe(false);
    expect(g.reason).toMatch(/feeds output 'ya'/);
    expect(r.report.notes.join('\n')).toMatch(/group \d+ \(a;/);
    expect(dims(m, 'a.w')[0]).toBe(16);
    expect(dims(m, 'c.w')).toEqual([4, 32, 3, 3]);
  });

  it('no prunable group → MODEL_UNSUPPORTED naming the reason; ratio outside (0,1) → USAGE', () => {
    let error: unknown;
    try {
      pruneChannels(reshapeBlockedModel(), { ratio: 0.5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('MODEL_UNSUPPORTED');
    expect((error as Error).message).toMatch(/Reshape/);
    for (const ratio of [0, 1, -0.1, 1.5, Number.NaN]) {
      expect(() => pruneChannels(chainModel(), { ratio })).toThrow(/ratio/);
    }
  });
});
