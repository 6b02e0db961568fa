import { describe, expect, it } from 'vitest';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { chooseScales, equalizeChannels, EQUALIZATION_MUL_PREFIX } from '../../../src/compress/equalize-channels.js';
import type { ChannelRange } from '../../../src/compress/calibrate.js';
import { Histogram, mseRange } from '../../../src/compress/calibration-stats.js';
import { buildModel, randomWeight, tensorInfo } from './quantize-test-models.js';

const C = 4;
/** Channel ranges 1, 4, 16, 64: the spread equalization is for. */
function spreadRange(): ChannelRange {
  return { min: new Float32Array([0, 0, 0, 0]), max: new Float32Array([1, 4, 16, 64]) };
}

/** x → Conv1 (C out) → Relu → [depthwise | dense] Conv2 → y. */
function convReluConv(depthwise: boolean) {
  return buildModel({
    inputs: [tensorInfo('x', [1, 3, 8, 8])],
    outputs: [tensorInfo('y', null)],
    initializers: [
      randomWeight('w1', [C, 3, 3, 3], 1),
      floatTensor('b1', [C], [0.1, 0.2, 0.3, 0.4]),
      depthwise ? randomWeight('w2', [C, 1, 3, 3], 2) : randomWeight('w2', [6, C, 1, 1], 2),
      depthwise ? floatTensor('b2', [C], [1, 1, 1, 1]) : floatTensor('b2', [6], [1, 1, 1, 1, 1, 1]),
    ],
    nodes: [
      makeNode('Conv', ['x', 'w1', 'b1'], ['a'], 'conv1', { pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Relu', ['a'], ['r'], 'relu'),
      makeNode('Conv', ['r', 'w2', 'b2'], ['y'], 'conv2', depthwise ? { group: attr.int(C), pads: attr.ints([1, 1, 1, 1]) } : {}),
    ],
  });
}

describe('equalizeChannels', () => {
  it('divides the producer channel by s and multiplies the depthwise reader by s (bias of the reader untouched)', () => {
    const model = convReluConv(true);
    const w1 = tensorToFloat32(model.graph.initializers.get('w1')!);
    const w2 = tensorToFloat32(model.graph.initializers.get('w2')!);
    const report = equalizeChannels(model.graph, new Map([['a', spreadRange()]]), { headroom: 1, minRelativeScale: 1e-2 });
    expect(report.sites).toHaveLength(1);
    expect(report.sites[0]!.alpha).toBe(1);
    expect(report.sites[0]!.spreadBefore).toBeCloseTo(64, 5);
    expect(report.sites[0]!.spreadAfter).toBeCloseTo(1, 5);
    const conv1 = model.graph.nodes.find((n) => n.name === 'conv1')!;
    const conv2 = model.graph.nodes.find((n) => n.name === 'conv2')!;
    const nw1 = tensorToFloat32(model.graph.initializers.get(conv1.inputs[1]!)!);
    const nb1 = tensorToFloat32(model.graph.initializers.get(conv1.inputs[2]!)!);
    const nw2 = tensorToFloat32(model.graph.initializers.get(conv2.inputs[1]!)!);
    // s = range / largest range = [1/64, 4/64, 16/64, 1]
    const s = [1 / 64, 4 / 64, 16 / 64, 1];
    for (let c = 0; c < C; c++) {
      expect(nw1[c * 27]! * s[c]!).toBeCloseTo(w1[c * 27]!, 5);
      expect(nb1[c]! * s[c]!).toBeCloseTo([0.1, 0.2, 0.3, 0.4][c]!, 5);
      expect(nw2[c * 9]!).toBeCloseTo(w2[c * 9]! * s[c]!, 6);
    }
    expect(conv2.inputs[2]).toBe('b2');
  });

  it('inserts channel-scale Muls around a float-only op (HardSwish) and names them for the int8 pass', () => {
    const model = buildModel({
      inputs: [tensorInfo('x', [1, 3, 8, 8])],
      outputs: [tensorInfo('y', null)],
      initializers: [randomWeight('w1', [C, 3, 1, 1], 1), randomWeight('w2', [C, 1, 3, 3], 2)],
      nodes: [
        makeNode('Conv', ['x', 'w1'], ['a'], 'conv1'),
        makeNode('HardSwish', ['a'], ['h'], 'hswish'),
        makeNode('Conv', ['h', 'w2'], ['y'], 'dw', { group: attr.int(C), pads: attr.ints([1, 1, 1, 1]) }),
      ],
    });
    const report = equalizeChannels(model.graph, new Map([['a', spreadRange()], ['h', spreadRange()]]), { islandInputs: true, headroom: 1, minRelativeScale: 1e-2 });
    expect(report.sites.map((s) => s.tensor).sort()).toEqual(['a', 'h']);
    const muls = model.graph.nodes.filter((n) => n.opType === 'Mul');
    expect(muls).toHaveLength(2);
    expect(muls.every((m) => m.name.startsWith(EQUALIZATION_MUL_PREFIX))).toBe(true);
    // Before the HardSwish: × s restores a; after it: × 1/s.
    const entry = muls.find((m) => m.outputs[0] === model.graph.nodes.find((n) => n.opType === 'HardSwish')!.inputs[0])!;
    const k = tensorToFloat32(model.graph.initializers.get(entry.inputs[1]!)!);
    expect(Array.from(k, (v) => v * 64)).toEqual([1, 4, 16, 64].map((v) => expect.closeTo(v, 4)));
  });

  it('by default leaves a tensor read by a float-only op alone, and folds 1/s into a trailing constant Mul/Add', () => {
    const model = buildModel({
      inputs: [tensorInfo('x', [1, 3, 8, 8])],
      outputs: [tensorInfo('y', null)],
      initializers: [randomWeight('w1', [C, 3, 1, 1], 1), randomWeight('w2', [C, 1, 3, 3], 2), floatTensor('gamma', [], [2]), floatTensor('beta', [], [0.5])],
      nodes: [
        makeNode('Conv', ['x', 'w1'], ['a'], 'conv1'),
        makeNode('HardSwish', ['a'], ['h'], 'hswish'),
        makeNode('Mul', ['h', 'gamma'], ['m'], 'affine_mul'),
        makeNode('Add', ['m', 'beta'], ['b'], 'affine_add'),
        makeNode('Conv', ['b', 'w2'], ['y'], 'dw', { group: attr.int(C), pads: attr.ints([1, 1, 1, 1]) }),
      ],
    });
    const report = equalizeChannels(model.graph, new Map([['a', spreadRange()], ['b', spreadRange()]]), { headroom: 1, minRelativeScale: 1e-2 });
    expect(report.sites.map((s) => s.tensor)).toEqual(['b']);
    expect(report.scaleNodes).toBe(0);
    expect(report.skipped[0]!.reason).toMatch(/float-only HardSwish/);
    const mul = model.graph.nodes.find((n) => n.name === 'affine_mul')!;
    const add = model.graph.nodes.find((n) => n.name === 'affine_add')!;
    const gamma = tensorToFloat32(model.graph.initializers.get(mul.inputs[1]!)!);
    const beta = tensorToFloat32(model.graph.initializers.get(add.inputs[1]!)!);
    // s = [1, 4, 16, 64] / 64: γ/s and β/s per channel.
    expect(Array.from(gamma)).toEqual([128, 32, 8, 2].map((v) => expect.closeTo(v, 4)));
    expect(Array.from(beta)).toEqual([32, 8, 2, 0.5].map((v) => expect.closeTo(v, 4)));
  });

  it('skips a tensor that reaches a graph output or a residual Add, and says why', () => {
    const model = buildModel({
      inputs: [tensorInfo('x', [1, 3, 8, 8])],
      outputs: [tensorInfo('y', null)],
      initializers: [randomWeight('w1', [C, 3, 1, 1], 1), randomWeight('w2', [C, C, 1, 1], 2)],
      nodes: [
        makeNode('Conv', ['x', 'w1'], ['a'], 'conv1'),
        makeNode('Conv', ['a', 'w2'], ['b'], 'conv2'),
        makeNode('Add', ['a', 'b'], ['y'], 'residual'),
      ],
    });
    const report = equalizeChannels(model.graph, new Map([['a', spreadRange()]]));
    expect(report.sites).toHaveLength(0);
    expect(report.skipped[0]!.reason).toMatch(/Add/);
  });

  it('through Clip(0, 6) a channel that reaches 6 keeps scale 1', () => {
    const model = buildModel({
      inputs: [tensorInfo('x', [1, 3, 8, 8])],
      outputs: [tensorInfo('y', null)],
      initializers: [randomWeight('w1', [C, 3, 1, 1], 1), randomWeight('w2', [C, 1, 3, 3], 2), floatTensor('lo', [], [0]), floatTensor('hi', [], [6])],
      nodes: [
        makeNode('Conv', ['x', 'w1'], ['a'], 'conv1'),
        makeNode('Clip', ['a', 'lo', 'hi'], ['r'], 'relu6'),
        makeNode('Conv', ['r', 'w2'], ['y'], 'dw', { group: attr.int(C) }),
      ],
    });
    const range: ChannelRange = { min: new Float32Array(C), max: new Float32Array([0.5, 2, 9, 30]) };
    const before = tensorToFloat32(model.graph.initializers.get('w1')!).slice();
    const report = equalizeChannels(model.graph, new Map([['a', range]]), { headroom: 1, minRelativeScale: 1e-2 });
    expect(report.sites).toHaveLength(1);
    const conv1 = model.graph.nodes.find((n) => n.name === 'conv1')!;
    const after = tensorToFloat32(model.graph.initializers.get(conv1.inputs[1]!)!);
    // Channels 2 and 3 saturate at 6: untouched. Channels 0 and 1 are amplified to at most 6.
    expect(after[2 * 3]).toBeCloseTo(before[2 * 3]!, 6);
    expect(after[3 * 3]).toBeCloseTo(before[3 * 3]!, 6);
    expect(Math.abs(after[0]! / before[0]!)).toBeCloseTo(12, 4);
  });

  it('leaves headroom: a channel is amplified to 1/1.5 of the largest range by default, never past it', () => {
    const model = convReluConv(true);
    const report = equalizeChannels(model.graph, new Map([['a', spreadRange()]]));
    // ranges 1, 4, 16, 64 with headroom 1.5 → 1.5, 6, 24, 64, and at most 32× amplification: s = 1/32, 6/64,
    // 24/64, 1, so the scaled ranges are 32, 42.7, 42.7, 64.
    expect(report.sites[0]!.spreadAfter).toBeCloseTo(2, 5);
  });
});

describe('chooseScales', () => {
  it('uses α = 1 (full equalization) when every reader absorbs the scale for free', () => {
    const r = Float64Array.from([1, 10, 100]);
    const { s, alpha, gain } = chooseScales(r, [], [1], 1e-2);
    expect(alpha).toBe(1);
    expect(Array.from(s)).toEqual([expect.closeTo(0.01, 6), expect.closeTo(0.1, 6), 1]);
    expect(gain).toBeGreaterThan(10);
  });

  it('trades activation against weight range for a dense reader and never does worse than no scaling', () => {
    const r = Float64Array.from([1, 50]);
    const dense = randomWeight('w', [8, 2, 1, 1], 3);
    const { gain } = chooseScales(r, [dense], [0, 0.5, 1], 1e-2);
    expect(gain).toBeGreaterThanOrEqual(1);
  });
});

describe('mseRange', () => {
  it('clips a rare outlier when its clipping error is below the rounding error it saves, keeps a dense range', () => {
    const h = new Histogram(0, 100, 2048);
    const bulk = new Float32Array(100000).map((_, i) => (i % 1000) / 1000);
    // 10^6 values in [0, 1) and one at 100. Rounding on a 0..h grid costs 10^6·(h/255)²/12, clipping (100 − h)²:
    // the sum is smallest near h = 44 (≈ 5,600, against 12,800 at h = 100 and ≈ 9,600 at h = 2).
    for (let k = 0; k < 10; k++) h.add(bulk);
    h.add([100]);
    const clipped = mseRange(h, { min: 0, max: 100 });
    expect(clipped.max).toBeGreaterThan(35);
    expect(clipped.max).toBeLessThan(55);
    const dense = new Histogram(0, 1, 2048);
    dense.add(bulk);
    expect(mseRange(dense, { min: 0, max: 1 }).max).toBeGreaterThan(0.95);
  });
});
