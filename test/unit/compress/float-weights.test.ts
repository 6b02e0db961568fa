import { describe, expect, it } from 'vitest';
import { restoreFloatWeights } from '../../../src/compress/float-weights.js';
import { cloneModel } from '../../../src/onnx/ir.js';
import { floatTensor } from '../../../src/onnx/tensor.js';
import { buildModel, randomWeight, tensorInfo } from './quantize-test-models.js';

/** x → conv1 (no bias) → conv2 (bias) → y. */
function twoConvs() {
  return buildModel({
    nodes: [
      { name: 'conv1', opType: 'Conv', domain: '', inputs: ['x', 'w1'], outputs: ['h'], attributes: new Map() },
      { name: 'conv2', opType: 'Conv', domain: '', inputs: ['h', 'w2', 'b2'], outputs: ['y'], attributes: new Map() },
    ],
    inputs: [tensorInfo('x', [1, 2, 4, 4])],
    outputs: [tensorInfo('y', [1, 2, 4, 4])],
    initializers: [randomWeight('w1', [2, 2, 1, 1], 1), randomWeight('w2', [2, 2, 1, 1], 2), randomWeight('b2', [2], 3)],
  });
}

describe('restoreFloatWeights', () => {
  it('gives the kept layers their weights from the source, drops a bias a later pass added, leaves the others', () => {
    const source = twoConvs();
    const fitted = cloneModel(source);
    // What adaptive rounding and bias correction do: new weight values under the same name, a bias added to conv1.
    fitted.graph.initializers.set('w1', floatTensor('w1', [2, 2, 1, 1], new Float32Array([1, 2, 3, 4])));
    fitted.graph.initializers.set('w2', floatTensor('w2', [2, 2, 1, 1], new Float32Array([5, 6, 7, 8])));
    fitted.graph.initializers.set('conv1_bias', floatTensor('conv1_bias', [2], new Float32Array([0.1, 0.2])));
    fitted.graph.nodes[0]!.inputs.push('conv1_bias');

    const restored = restoreFloatWeights(fitted, source, new Set(['conv1']));
    expect(restored).toBe(1);
    expect(fitted.graph.nodes[0]!.inputs).toEqual(['x', 'w1']);
    expect([...(fitted.graph.initializers.get('w1')!.values as Float32Array)]).toEqual([...(source.graph.initializers.get('w1')!.values as Float32Array)]);
    expect(fitted.graph.initializers.has('conv1_bias')).toBe(false);
    // conv2 was not kept float: its fitted weights stay.
    expect([...(fitted.graph.initializers.get('w2')!.values as Float32Array)]).toEqual([5, 6, 7, 8]);
  });

  it('restores nothing for names the source does not have', () => {
    const source = twoConvs();
    const fitted = cloneModel(source);
    expect(restoreFloatWeights(fitted, source, new Set(['conv9']))).toBe(0);
  });
});
