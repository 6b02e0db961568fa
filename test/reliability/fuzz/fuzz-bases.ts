/**
 * The models the ONNX fuzzer mutates: the two MNIST fixtures and a small hand-built CNN (fast, so it can take
 * most of the cases), each with a small dataset in the ONNX test-data layout for int8 calibration and eval.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModel, decodeTensor, encodeModel, encodeTensor } from '../../../src/onnx/model-codec.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { makeNode, attr } from '../../../src/onnx/graph.js';
import type { OnnxModel, Tensor } from '../../../src/onnx/ir.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';
import { sliceBatch } from '../../../src/compress/dataset.js';
import { Prng } from './prng.js';

/** Names of the models the fuzzer starts from. */
export type BaseId = 'small' | 'mlp' | 'rescnn';

/** A model to mutate, its bytes, and a dataset that fits it. */
export interface FuzzBase {
  id: BaseId;
  /** The unmutated model file (also the eval reference). */
  path: string;
  bytes: Uint8Array;
  model: OnnxModel;
  /** A small dataset in the ONNX test-data layout (a few samples per set, labels included). */
  dataDir: string;
  /** The full fixture dataset (for the CLI sample); the small one for the hand-built model. */
  fixtureDataDir: string;
}

/** The fixtures, relative to the repository root. */
export const FIXTURES = {
  mlp: { model: 'test/fixtures/models/mnist-mlp.onnx', data: 'test/fixtures/data/mnist-calib-flat' },
  rescnn: { model: 'test/fixtures/models/mnist-rescnn.onnx', data: 'test/fixtures/data/mnist-calib' },
} as const;

function seededWeight(rng: Prng, name: string, dims: number[], scale: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (rng.float() * 2 - 1) * scale;
  return floatTensor(name, dims, values);
}

/** A small residual CNN built through the IR: Conv, BatchNormalization, Relu, Add, Flatten, MatMul, Add. */
export function buildSmallModel(): OnnxModel {
  const rng = new Prng(20240611);
  const nodes = [
    makeNode('Conv', ['x', 'c1.w', 'c1.b'], ['c1'], 'conv1', { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) }),
    makeNode('BatchNormalization', ['c1', 'bn.scale', 'bn.bias', 'bn.mean', 'bn.var'], ['n1'], 'bn1', { epsilon: attr.float(1e-5) }),
    makeNode('Relu', ['n1'], ['r1'], 'relu1'),
    makeNode('Conv', ['r1', 'c2.w', 'c2.b'], ['c2'], 'conv2', { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]), strides: attr.ints([1, 1]) }),
    makeNode('Add', ['c2', 'r1'], ['a1'], 'residual'),
    makeNode('Relu', ['a1'], ['r2'], 'relu2'),
    makeNode('Flatten', ['r2'], ['f'], 'flatten', { axis: attr.int(1) }),
    makeNode('MatMul', ['f', 'fc.w'], ['m'], 'fc'),
    makeNode('Add', ['m', 'fc.b'], ['y'], 'fc_bias'),
  ];
  const initializers = [
    seededWeight(rng, 'c1.w', [4, 1, 3, 3], 0.5),
    seededWeight(rng, 'c1.b', [4], 0.1),
    floatTensor('bn.scale', [4], [1, 0.9, 1.1, 1.05]),
    floatTensor('bn.bias', [4], [0, 0.1, -0.1, 0.05]),
    floatTensor('bn.mean', [4], [0.01, -0.02, 0.03, 0]),
    floatTensor('bn.var', [4], [1, 0.8, 1.2, 0.9]),
    seededWeight(rng, 'c2.w', [4, 4, 3, 3], 0.3),
    seededWeight(rng, 'c2.b', [4], 0.1),
    seededWeight(rng, 'fc.w', [144, 10], 0.2),
    seededWeight(rng, 'fc.b', [10], 0.1),
  ];
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'edgetune-fuzz',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'small',
      nodes,
      inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: ['batch', 1, 6, 6] } }],
      outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: ['batch', 10] } }],
      valueInfo: [],
      initializers: new Map(initializers.map((t) => [t.name, t])),
    },
  };
}

function writeSet(dir: string, k: number, input: Tensor, labels: Tensor): void {
  const set = join(dir, `test_data_set_${k}`);
  mkdirSync(set, { recursive: true });
  writeFileSync(join(set, 'input_0.pb'), encodeTensor(input));
  writeFileSync(join(set, 'label.pb'), encodeTensor(labels));
}

/** Two sets of 4 seeded samples for the small model. */
function writeSmallDataset(dir: string): void {
  const rng = new Prng(77);
  for (let k = 0; k < 2; k++) {
    const input = seededWeight(rng, 'x', [4, 1, 6, 6], 1);
    const labels = makeTensor('label', DataType.INT64, [4], [0, 1, 2, 3].map(() => rng.int(10)));
    writeSet(dir, k, input, labels);
  }
}

/** The first `samples` samples of the first `sets` sets of a fixture dataset: calibration and eval stay quick. */
function writeFixtureSlice(fromDir: string, dir: string, sets: number, samples: number): void {
  const names = readdirSync(fromDir).filter((n) => n.startsWith('test_data_set_')).sort();
  names.slice(0, sets).forEach((name, k) => {
    const input = decodeTensor(readFileSync(join(fromDir, name, 'input_0.pb')));
    const labels = decodeTensor(readFileSync(join(fromDir, name, 'label.pb')));
    writeSet(dir, k, sliceBatch(input, 0, samples), sliceBatch(labels, 0, samples));
  });
}

/** Write the bases (model files and small datasets) under `workDir` and load them. */
export function prepareBases(repoRoot: string, workDir: string): Record<BaseId, FuzzBase> {
  mkdirSync(workDir, { recursive: true });
  const smallPath = join(workDir, 'small.onnx');
  const smallBytes = encodeModel(buildSmallModel());
  writeFileSync(smallPath, smallBytes);
  const smallData = join(workDir, 'small-data');
  writeSmallDataset(smallData);
  const bases: Partial<Record<BaseId, FuzzBase>> = {
    small: { id: 'small', path: smallPath, bytes: smallBytes, model: decodeModel(smallBytes), dataDir: smallData, fixtureDataDir: smallData },
  };
  for (const id of ['mlp', 'rescnn'] as const) {
    const path = join(repoRoot, FIXTURES[id].model);
    const bytes = new Uint8Array(readFileSync(path));
    const dataDir = join(workDir, `${id}-data`);
    writeFixtureSlice(join(repoRoot, FIXTURES[id].data), dataDir, 2, 8);
    bases[id] = { id, path, bytes, model: decodeModel(bytes), dataDir, fixtureDataDir: join(repoRoot, FIXTURES[id].data) };
  }
  return bases as Record<BaseId, FuzzBase>;
}
