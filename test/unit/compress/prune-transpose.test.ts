/** Channels followed through Transpose (the channel axis moves with the permutation) and channel-preserving Reshape. */
import { describe, expect, it } from 'vitest';
import { analyzeChannels, pruneChannels } from '../../../src/compress/prune-channels.js';
import { tensorToNumbers } from '../../../src/onnx/tensor.js';
import { reshapeBlockedModel, transposeModel } from './prune-test-models.js';

const dims = (m: ReturnType<typeof transposeModel>, name: string) => m.graph.initializers.get(name)!.dims;

describe('Transpose and Reshape channel mapping', () => {
  it('maps the channel axis through NHWC and back; the SE gate (via Reshape) joins the MatMul group', () => {
    const a = analyzeChannels(transposeModel());
    expect(a.layouts.get('at')!.axis).toBe(3);
    expect(a.layouts.get('b')!.axis).toBe(1);
    expect(a.layouts.get('gf')!.axis).toBe(1);
    const names = a.groups.map((g) => ({ producers: g.producers.map((p) => p.node.name).sort(), blocked: g.blocked }));
    expect(names).toContainEqual({ producers: ['c1'], blocked: null });
    expect(names).toContainEqual({ producers: ['fc2', 'mm'], blocked: null });
    expect(names).toContainEqual({ producers: ['fc1'], blocked: null });
    expect(a.groups.find((g) => g.producers.some((p) => p.node.name === 'c2'))!.blocked).toBe("feeds output 'y': its channels are the model's output");
  });

  it('prunes through the Transposes and rewrites the Reshape shapes', () => {
    const m = transposeModel();
    pruneChannels(m, { ratio: 0.5 });
    expect(dims(m, 'c1.w')[0]).toBe(8);
    expect(dims(m, 'mm.w')).toEqual([8, 6]);
    expect(dims(m, 'mm.b')).toEqual([6]);
    expect(dims(m, 'fc1.w')).toEqual([6, 3]);
    expect(dims(m, 'fc2.w')).toEqual([3, 6]);
    expect(dims(m, 'c2.w')).toEqual([4, 6, 1, 1]);
    expect(tensorToNumbers(m.graph.initializers.get('flat')!)).toEqual([-1, 6]);
    expect(tensorToNumbers(m.graph.initializers.get('unflat')!)).toEqual([-1, 6, 1, 1]);
  });

  it('a Reshape that merges channels with pixels still blocks, and says so', () => {
    const g = analyzeChannels(reshapeBlockedModel()).groups.find((x) => x.producers.some((p) => p.node.name === 'c1'))!;
    expect(g.blocked).toMatch(/reshape: Reshape \[N,16,8,8\] → \[N,\?\] splits or merges the channel axis/);
  });
});
