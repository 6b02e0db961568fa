import { describe, expect, it } from 'vitest';
import { quantizeInt8 } from '../../../src/compress/quantize-int8.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode, topologicalSort } from '../../../src/onnx/graph.js';
import { cloneModel, type OnnxModel } from '../../../src/onnx/ir.js';
import { decodeModel, encodeModel } from '../../../src/onnx/model-codec.js';
import { optimizedGraphBytes } from '../../../src/profile/optimized-graph.js';
import { inferTensorTypes } from '../../../src/onnx/shape-inference.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner, type InferenceSessionOptions } from '../../../src/profile/ort-inference.js';
import { model as modelOf } from '../../unit/profile/profile-test-models.js';

const C = 8;
/** Per-channel weight magnitude of the depthwise Conv: 10 down to 0.001, as in M-LSD tiny's first depthwise filter. */
const MAGNITUDE = [10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.001];

/**
 * x [1, 4, 6, 6] → Conv 3×3 (4 → 8) → Relu → depthwise Conv 3×3 whose channels' weights differ 10,000× → Conv 1×1
 * (8 → 8) → y. The depthwise Conv is the one kept float: between two quantized Convs, its input comes from a
 * DequantizeLinear and its output goes to a QuantizeLinear.
 */
function twoConvs(): OnnxModel {
  const w1 = new Float32Array(C * 4 * 9).map((_, i) => Math.sin(i * 0.37) * 0.4);
  const w2 = new Float32Array(C * 9).map((_, i) => MAGNITUDE[Math.floor(i / 9)]! * Math.cos(i * 0.91));
  return modelOf({
    inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [1, 4, 6, 6] } }],
    outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: null } }],
    initializers: new Map([
      ['w1', floatTensor('w1', [C, 4, 3, 3], w1)],
      ['b1', floatTensor('b1', [C], new Float32Array(C).fill(0.1))],
      ['w2', floatTensor('w2', [C, 1, 3, 3], w2)],
      ['w3', floatTensor('w3', [C, C, 1, 1], new Float32Array(C * C).map((_, i) => (i % (C + 1) === 0 ? 1 : 0.05)))],
    ]),
    nodes: [
      makeNode('Conv', ['x', 'w1', 'b1'], ['c1'], 'conv1', { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Relu', ['c1'], ['r'], 'relu'),
      makeNode('Conv', ['r', 'w2'], ['d'], 'depthwise', { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), group: attr.int(C) }),
      makeNode('Conv', ['d', 'w3'], ['y'], 'pointwise', { kernel_shape: attr.ints([1, 1]) }),
    ],
  });
}

const X = floatTensor('x', [1, 4, 6, 6], new Float32Array(4 * 36).map((_, i) => Math.sin(i * 0.53)));

async function run(m: OnnxModel, options: InferenceSessionOptions = {}): Promise<Float32Array> {
  const runner = await createInferenceRunner(encodeModel(m), options);
  try {
    return (await runner.run({ x: X })).get('y')!.values as Float32Array;
  } finally {
    await runner.release();
  }
}

/** Largest error of one output channel relative to that channel's largest value in `reference`. */
function channelError(reference: Float32Array, other: Float32Array, channel: number): number {
  const plane = reference.length / C;
  let err = 0;
  let peak = 0;
  for (let i = channel * plane; i < (channel + 1) * plane; i++) {
    err = Math.max(err, Math.abs(reference[i]! - other[i]!));
    peak = Math.max(peak, Math.abs(reference[i]!));
  }
  return err / peak;
}

describe('a layer the int8 pass keeps float stays float in onnxruntime', () => {
  it('reads its input through a per-channel DequantizeLinear, so onnxruntime does not quantize its weights per tensor', async () => {
    const original = twoConvs();
    const m = cloneModel(original);
    const ranges = new Map([
      ['x', { min: -1, max: 1 }],
      ['c1', { min: -3, max: 3 }],
      ['r', { min: 0, max: 3 }],
      ['d', { min: -40, max: 40 }],
    ]);
    const result = quantizeInt8(m, inferTensorTypes(m), ranges, { keepFloat: new Set(['depthwise']), floatHead: false });
    expect(result.report.details?.floatLayersGuarded).toBe(1);
    const depthwise = m.graph.nodes.find((n) => n.name === 'depthwise')!;
    const dq = m.graph.nodes.find((n) => n.outputs[0] === depthwise.inputs[0])!;
    expect(dq.opType).toBe('DequantizeLinear');
    expect(m.graph.initializers.get(dq.inputs[1]!)!.dims).toEqual([C]);
    expect(m.graph.initializers.get('w2')!.dataType).toBe(DataType.FLOAT);

    // Without the guard, the same model as onnxruntime would read it: the depthwise Conv reads a DequantizeLinear with
    // the scalar parameters of the QuantizeLinear that wrote its input.
    const unguarded = cloneModel(m);
    const q = unguarded.graph.nodes.find((n) => n.outputs[0] === dq.inputs[0])!;
    expect(q.opType).toBe('QuantizeLinear');
    unguarded.graph.nodes.push(makeNode('DequantizeLinear', [q.outputs[0]!, q.inputs[1]!, q.inputs[2]!], ['r_scalar_dq'], 'scalar_dq'));
    unguarded.graph.nodes.find((n) => n.name === 'depthwise')!.inputs[0] = 'r_scalar_dq';
    unguarded.graph.nodes = topologicalSort(unguarded.graph);

    // What onnxruntime makes of each at its first optimization level: the depthwise Conv's weight input.
    const weightSource = async (mm: OnnxModel): Promise<string> => {
      const optimized = decodeModel(await optimizedGraphBytes(encodeModel(mm), { level: 'basic' })).graph;
      const conv = optimized.nodes.find((n) => n.name === 'depthwise')!;
      if (optimized.initializers.has(conv.inputs[1]!)) return `float initializer ${optimized.initializers.get(conv.inputs[1]!)!.dataType === DataType.FLOAT}`;
      return optimized.nodes.find((n) => n.outputs.includes(conv.inputs[1]!))?.opType ?? 'unknown';
    };
    expect(await weightSource(unguarded)).toBe('DequantizeLinear'); // per-tensor int8, added by onnxruntime
    expect(await weightSource(m)).toBe('float initializer true');

    // and the guarded model computes what the unoptimized QDQ graph computes: float weights on the 8-bit input
    const all = await run(m, { graphOptimizationLevel: 'all' });
    const plain = await run(m, { graphOptimizationLevel: 'disabled' });
    const unguardedAll = await run(unguarded, { graphOptimizationLevel: 'all' });
    const worst = (a: Float32Array, b: Float32Array): number => Math.max(...Array.from({ length: C }, (_, c) => channelError(a, b, c)));
    expect(worst(plain, all)).toBeLessThan(worst(plain, unguardedAll));
  });
});
