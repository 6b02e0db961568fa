/** Small IR models for model-facts and planner tests (weights are deterministic, not trained). */
import { DataType } from '../../../src/onnx/dtype.js';
import type { OnnxModel, OnnxNode, Tensor } from '../../../src/onnx/ir.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';

/** A float tensor filled with a small deterministic pattern (scale `scale`). */
export function weights(name: string, dims: number[], scale = 0.01): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (((i * 7919) % 2003) / 2003 - 0.5) * scale;
  return floatTensor(name, dims, v);
}

/** Wrap nodes and initializers into a model with one float input and one output. */
export function model(nodes: OnnxNode[], initializers: Tensor[], input: { name: string; shape: number[] }, output: string, opset = 17): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'edgetune-test',
    producerVersion: '0',
    domain: '',
    modelVersion: 1,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'g',
      nodes,
      inputs: [{ name: input.name, type: { elemType: DataType.FLOAT, shape: input.shape } }],
      outputs: [{ name: output, type: { elemType: DataType.FLOAT, shape: null } }],
      valueInfo: [],
      initializers: new Map(initializers.map((t) => [t.name, t])),
    },
  };
}

/** Conv 3→16 3×3, Relu, Conv 16→32 3×3, GlobalAveragePool, Flatten, Gemm 32→10 (transB=1): everything tiny. */
export function cnnSmall(): OnnxModel {
  return model(
    [
      makeNode('Conv', ['x', 'w1'], ['c1'], 'conv1', { pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Relu', ['c1'], ['r1'], 'relu1'),
      makeNode('Conv', ['r1', 'w2'], ['c2'], 'conv2', { pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('GlobalAveragePool', ['c2'], ['p'], 'gap'),
      makeNode('Flatten', ['p'], ['f'], 'flatten'),
      makeNode('Gemm', ['f', 'wfc', 'bfc'], ['y'], 'fc', { transB: attr.int(1) }),
    ],
    [weights('w1', [16, 3, 3, 3]), weights('w2', [32, 16, 3, 3]), weights('wfc', [10, 32]), weights('bfc', [10])],
    { name: 'x', shape: [1, 3, 32, 32] },
    'y',
  );
}

/**
 * Conv 64→256 3×3 (576 KiB fp32), Relu, Conv 256→512 3×3 (4.5 MiB fp32, 1.125 MiB int8), Relu, Conv 512→256 1×1,
 * GlobalAveragePool, Flatten, Gemm 256→10. The middle conv has prunable input and output channels.
 */
export function cnnLarge(): OnnxModel {
  return model(
    [
      makeNode('Conv', ['x', 'w1'], ['c1'], 'conv1', { pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Relu', ['c1'], ['r1'], 'relu1'),
      makeNode('Conv', ['r1', 'w2'], ['c2'], 'conv2', { pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Relu', ['c2'], ['r2'], 'relu2'),
      makeNode('Conv', ['r2', 'w3'], ['c3'], 'conv3'),
      makeNode('GlobalAveragePool', ['c3'], ['p'], 'gap'),
      makeNode('Flatten', ['p'], ['f'], 'flatten'),
      makeNode('Gemm', ['f', 'wfc'], ['y'], 'fc', { transB: attr.int(1) }),
    ],
    [weights('w1', [256, 64, 3, 3]), weights('w2', [512, 256, 3, 3]), weights('w3', [256, 512, 1, 1]), weights('wfc', [10, 256])],
    { name: 'x', shape: [1, 64, 16, 16] },
    'y',
  );
}

/** MatMul [1024×3072] (12 MiB fp32, 3 MiB int8), Relu, MatMul [3072×1000]: MatMul-dominated. */
export function mlpLarge(): OnnxModel {
  return model(
    [
      makeNode('MatMul', ['x', 'w1'], ['h'], 'fc1'),
      makeNode('Relu', ['h'], ['r'], 'relu'),
      makeNode('MatMul', ['r', 'w2'], ['y'], 'fc2'),
    ],
    [weights('w1', [1024, 3072]), weights('w2', [3072, 1000])],
    { name: 'x', shape: [1, 1024] },
    'y',
  );
}

/** Depthwise-separable block: Conv 1×1 8→32, depthwise Conv 3×3 (group 32), Conv 1×1 32→16. */
export function depthwiseBlock(): OnnxModel {
  return model(
    [
      makeNode('Conv', ['x', 'w1'], ['a'], 'pw1'),
      makeNode('Conv', ['a', 'wd'], ['b'], 'dw', { group: attr.int(32), pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Conv', ['b', 'w2'], ['y'], 'pw2'),
    ],
    [weights('w1', [32, 8, 1, 1]), weights('wd', [32, 1, 3, 3]), weights('w2', [16, 32, 1, 1])],
    { name: 'x', shape: [1, 8, 8, 8] },
    'y',
  );
}

/** A MatMul whose weight comes through DequantizeLinear from an int8 initializer (an already-quantized model). */
export function quantizedMatMul(): OnnxModel {
  const q = makeTensor('wq', DataType.INT8, [64, 32], new Int8Array(64 * 32).map((_, i) => (i % 255) - 127));
  return model(
    [makeNode('DequantizeLinear', ['wq', 'ws'], ['w'], 'dq'), makeNode('MatMul', ['x', 'w'], ['y'], 'mm')],
    [q, floatTensor('ws', [], [0.01])],
    { name: 'x', shape: [1, 64] },
    'y',
  );
}

/** A one-Gemm model with the given weight values (for fp16-friendliness checks). */
export function gemmWith(values: number[]): OnnxModel {
  return model([makeNode('Gemm', ['x', 'w'], ['y'], 'fc')], [floatTensor('w', [values.length, 1], values)], { name: 'x', shape: [1, values.length] }, 'y');
}
