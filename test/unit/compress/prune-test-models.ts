/** Small hand-built graphs, one per channel-coupling pattern, for the pruning tests (pure). */
import type { OnnxModel, OnnxNode, Tensor } from '../../../src/onnx/ir.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor, int64Tensor } from '../../../src/onnx/tensor.js';
import { buildModel, randomWeight, seededFloats, tensorInfo } from './quantize-test-models.js';

let seed = 100;
const conv = (name: string, x: string, y: string, m: number, c: number, k: number, inits: Tensor[], extra: Record<string, ReturnType<typeof attr.int>> = {}, bias = true): OnnxNode => {
  inits.push(randomWeight(`${name}.w`, [m, c, k, k], seed++));
  if (bias) inits.push(randomWeight(`${name}.b`, [m], seed++, 0.1));
  return makeNode('Conv', [x, `${name}.w`, ...(bias ? [`${name}.b`] : [])], [y], name, { kernel_shape: attr.ints([k, k]), pads: attr.ints(k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0]), ...extra });
};
const bn = (name: string, x: string, y: string, c: number, inits: Tensor[]): OnnxNode => {
  inits.push(floatTensor(`${name}.g`, [c], Array.from(seededFloats(c, seed++, 0.5)).map((v) => 1 + v)));
  inits.push(randomWeight(`${name}.beta`, [c], seed++, 0.1));
  inits.push(randomWeight(`${name}.mean`, [c], seed++, 0.1));
  inits.push(floatTensor(`${name}.var`, [c], Array.from(seededFloats(c, seed++, 0.3)).map((v) => 1 + v)));
  return makeNode('BatchNormalization', [x, `${name}.g`, `${name}.beta`, `${name}.mean`, `${name}.var`], [y], name, { epsilon: attr.float(1e-5) });
};
const relu = (x: string, y: string): OnnxNode => makeNode('Relu', [x], [y], `relu_${y}`);
const input = (c: number, hw = 8) => tensorInfo('x', ['N', c, hw, hw]);

/** Conv → BN → Relu → Conv → output. */
export function chainModel(): OnnxModel {
  const inits: Tensor[] = [];
  const nodes = [conv('c1', 'x', 'a', 16, 3, 3, inits), bn('bn1', 'a', 'b', 16, inits), relu('b', 'r'), conv('c2', 'r', 'y', 4, 16, 3, inits)];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 4, 8, 8])], initializers: inits, valueInfo: [tensorInfo('a', ['N', 16, 8, 8])] });
}

/** Two branches joined by a residual Add (BN on one branch, identity on the other), then a Conv. */
export function residualModel(): OnnxModel {
  const inits: Tensor[] = [];
  const nodes = [
    conv('stem', 'x', 's', 16, 3, 3, inits),
    relu('s', 'sr'),
    conv('body', 'sr', 'b', 16, 16, 3, inits),
    bn('bnb', 'b', 'bb', 16, inits),
    makeNode('Add', ['bb', 'sr'], ['sum'], 'add'),
    relu('sum', 'out'),
    conv('head', 'out', 'y', 4, 16, 1, inits),
  ];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 4, 8, 8])], initializers: inits });
}

/** Two convs concatenated on channels, then a Conv reading the concatenation. */
export function concatModel(): OnnxModel {
  const inits: Tensor[] = [];
  const nodes = [conv('a', 'x', 'ya', 16, 3, 3, inits), conv('b', 'x', 'yb', 24, 3, 1, inits), makeNode('Concat', ['ya', 'yb'], ['cat'], 'cat', { axis: attr.int(1) }), relu('cat', 'r'), conv('c', 'r', 'y', 4, 40, 3, inits)];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 4, 8, 8])], initializers: inits });
}

/** Conv → depthwise Conv (group = channels) → Relu → pointwise Conv. */
export function depthwiseModel(): OnnxModel {
  const inits: Tensor[] = [];
  const nodes = [conv('pw1', 'x', 'a', 16, 3, 1, inits), conv('dw', 'a', 'd', 16, 1, 3, inits, { group: attr.int(16) }), relu('d', 'r'), conv('pw2', 'r', 'y', 4, 16, 1, inits)];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 4, 8, 8])], initializers: inits });
}

/** Conv → Relu → MaxPool → GlobalAveragePool → Flatten → Gemm (stride 1 flatten). */
export function gapGemmModel(): OnnxModel {
  const inits: Tensor[] = [randomWeight('fc.w', [5, 16], seed++), randomWeight('fc.b', [5], seed++, 0.1)];
  const nodes = [
    conv('c1', 'x', 'a', 16, 3, 3, inits),
    relu('a', 'r'),
    makeNode('MaxPool', ['r'], ['p'], 'pool', { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }),
    makeNode('GlobalAveragePool', ['p'], ['g'], 'gap'),
    makeNode('Flatten', ['g'], ['f'], 'flat', { axis: attr.int(1) }),
    makeNode('Gemm', ['f', 'fc.w', 'fc.b'], ['y'], 'fc', { transB: attr.int(1) }),
  ];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 5])], initializers: inits });
}

/** Conv (on a 2×2 map) → Flatten → Gemm: H·W = 4 blocks per channel; then Relu → Gemm (MLP coupling). */
export function flattenGemmModel(): OnnxModel {
  const inits: Tensor[] = [randomWeight('fc1.w', [16, 64], seed++), randomWeight('fc1.b', [16], seed++, 0.1), randomWeight('fc2.w', [16, 5], seed++)];
  const nodes = [
    conv('c1', 'x', 'a', 16, 3, 3, inits),
    relu('a', 'r'),
    makeNode('Flatten', ['r'], ['f'], 'flat', { axis: attr.int(1) }),
    makeNode('Gemm', ['f', 'fc1.w', 'fc1.b'], ['h'], 'fc1', { transB: attr.int(1) }),
    relu('h', 'hr'),
    makeNode('MatMul', ['hr', 'fc2.w'], ['y'], 'fc2'),
  ];
  return buildModel({ nodes, inputs: [tensorInfo('x', ['N', 3, 2, 2])], outputs: [tensorInfo('y', ['N', 5])], initializers: inits });
}

/** Squeeze-excitation: x · HardSigmoid(Conv(Relu(Conv(GAP(x))))), plus Resize ×2 and a hard-swish with scalar constants. */
export function seModel(): OnnxModel {
  const inits: Tensor[] = [floatTensor('three', [], [3]), floatTensor('six', [], [6]), floatTensor('zero', [], [0]), floatTensor('scales', [4], [1, 1, 2, 2])];
  const nodes = [
    conv('c1', 'x', 'a', 16, 3, 3, inits),
    makeNode('Add', ['a', 'three'], ['a3'], 'hs_add'),
    makeNode('Clip', ['a3', 'zero', 'six'], ['ac'], 'hs_clip'),
    makeNode('Mul', ['a', 'ac'], ['am'], 'hs_mul'),
    makeNode('Div', ['am', 'six'], ['h'], 'hs_div'),
    makeNode('GlobalAveragePool', ['h'], ['g'], 'gap'),
    conv('sq', 'g', 's1', 8, 16, 1, inits),
    relu('s1', 's1r'),
    conv('ex', 's1r', 's2', 16, 8, 1, inits),
    makeNode('HardSigmoid', ['s2'], ['gate'], 'hsig', { alpha: attr.float(0.2), beta: attr.float(0.5) }),
    makeNode('Mul', ['h', 'gate'], ['se'], 'se_mul'),
    makeNode('Resize', ['se', '', 'scales'], ['up'], 'resize', { mode: attr.string('nearest') }),
    conv('out', 'up', 'y', 4, 16, 1, inits),
  ];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 4, 16, 16])], initializers: inits });
}

/** A Conv whose output goes through a Reshape that merges channels with pixels (no channel mapping) into a Gemm head. */
export function reshapeBlockedModel(): OnnxModel {
  const inits: Tensor[] = [int64Tensor('shape', [2], [0, -1]), randomWeight('fc.w', [5, 1024], seed++)];
  const nodes = [conv('c1', 'x', 'a', 16, 3, 3, inits), makeNode('Reshape', ['a', 'shape'], ['f'], 'reshape'), makeNode('Gemm', ['f', 'fc.w'], ['y'], 'fc', { transB: attr.int(1) })];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 5])], initializers: inits });
}

/**
 * Channels through Transposes: Conv → Transpose to NHWC → Relu → MatMul over channels (a 1×1 conv in NHWC) →
 * Transpose back → Conv; and an SE gate computed through Reshape [N,C,1,1] → [N,C] → Gemm → Gemm → Reshape back.
 */
export function transposeModel(): OnnxModel {
  const inits: Tensor[] = [
    randomWeight('mm.w', [16, 12], seed++),
    randomWeight('mm.b', [12], seed++, 0.1),
    int64Tensor('flat', [2], [-1, 12]),
    int64Tensor('unflat', [4], [-1, 12, 1, 1]),
    randomWeight('fc1.w', [12, 6], seed++),
    randomWeight('fc2.w', [6, 12], seed++),
  ];
  const nodes = [
    conv('c1', 'x', 'a', 16, 3, 3, inits),
    makeNode('Transpose', ['a'], ['at'], 'to_nhwc', { perm: attr.ints([0, 2, 3, 1]) }),
    relu('at', 'atr'),
    makeNode('MatMul', ['atr', 'mm.w'], ['m'], 'mm'),
    makeNode('Add', ['m', 'mm.b'], ['mb'], 'mm_bias'),
    makeNode('Transpose', ['mb'], ['b'], 'to_nchw', { perm: attr.ints([0, 3, 1, 2]) }),
    makeNode('GlobalAveragePool', ['b'], ['g'], 'gap'),
    makeNode('Reshape', ['g', 'flat'], ['gf'], 'se_flat'),
    makeNode('MatMul', ['gf', 'fc1.w'], ['s1'], 'fc1'),
    relu('s1', 's1r'),
    makeNode('MatMul', ['s1r', 'fc2.w'], ['s2'], 'fc2'),
    makeNode('Sigmoid', ['s2'], ['s2g'], 'se_gate'),
    makeNode('Reshape', ['s2g', 'unflat'], ['gate'], 'se_unflat'),
    makeNode('Mul', ['b', 'gate'], ['se'], 'se_mul'),
    conv('c2', 'se', 'y', 4, 12, 1, inits),
  ];
  return buildModel({ nodes, inputs: [input(3)], outputs: [tensorInfo('y', ['N', 4, 8, 8])], initializers: inits });
}

/** How a channel-pad residual widens its shortcut: tf2onnx's ConstantOfShape → Concat, a zero initializer in a Concat, or a Pad. */
export type ChannelPadKind = 'constant-of-shape' | 'zero-initializer' | 'pad';

/**
 * A BlazeBlock with a channel-padded shortcut (batch 1, 8 → 16 channels): stem Conv → Relu → [MaxPool, zero-padded
 * to 16 channels] + [depthwise 3×3 stride 2 → pointwise Conv 16] → Add → Relu → Conv head. With `zeroPadFilters`
 * the pointwise filters at the padded positions are zero, so those Add channels are exactly zero.
 */
export function channelPadModel(kind: ChannelPadKind, zeroPadFilters = false): OnnxModel {
  const inits: Tensor[] = [];
  const nodes = [
    conv('stem', 'x', 's', 8, 3, 3, inits),
    relu('s', 'sr'),
    makeNode('MaxPool', ['sr'], ['p'], 'pool', { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }),
    conv('dw', 'sr', 'd', 8, 1, 3, inits, { group: attr.int(8), strides: attr.ints([2, 2]) }),
    conv('pw', 'd', 'b', 16, 8, 1, inits),
  ];
  if (kind === 'constant-of-shape') {
    inits.push(int64Tensor('pad_shape', [4], [1, 8, 4, 4]));
    nodes.push(makeNode('ConstantOfShape', ['pad_shape'], ['zeros'], 'pad_zeros'), makeNode('Concat', ['p', 'zeros'], ['short'], 'pad_concat', { axis: attr.int(1) }));
  } else if (kind === 'zero-initializer') {
    inits.push(floatTensor('zeros', [1, 8, 4, 4], new Float32Array(128)));
    nodes.push(makeNode('Concat', ['p', 'zeros'], ['short'], 'pad_concat', { axis: attr.int(-3) }));
  } else {
    inits.push(int64Tensor('pads', [8], [0, 0, 0, 0, 0, 8, 0, 0]));
    nodes.push(makeNode('Pad', ['p', 'pads'], ['short'], 'pad'));
  }
  nodes.push(makeNode('Add', ['b', 'short'], ['sum'], 'add'), relu('sum', 'out'), conv('head', 'out', 'y', 4, 16, 1, inits));
  if (zeroPadFilters) {
    const w = inits.find((t) => t.name === 'pw.w')!.values as Float32Array;
    const b = inits.find((t) => t.name === 'pw.b')!.values as Float32Array;
    w.fill(0, 8 * 8);
    b.fill(0, 8);
  }
  return buildModel({ nodes, inputs: [tensorInfo('x', [1, 3, 8, 8])], outputs: [tensorInfo('y', [1, 4, 4, 4])], initializers: inits });
}
