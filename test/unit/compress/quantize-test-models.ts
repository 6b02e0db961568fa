/** Small hand-built models for the quantization pass tests (pure: no onnxruntime here). */
import { DataType } from '../../../src/onnx/dtype.js';
import type { Dim, OnnxModel, OnnxNode, Tensor, ValueInfo } from '../../../src/onnx/ir.js';
import { floatTensor } from '../../../src/onnx/tensor.js';

/** Deterministic uniform values in [-scale, scale) (mulberry32). */
export function seededFloats(count: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** A float32 initializer of seeded values. */
export function randomWeight(name: string, dims: number[], seed: number, scale = 0.5): Tensor {
  return floatTensor(name, dims, seededFloats(dims.reduce((a, b) => a * b, 1), seed, scale));
}

/** A tensor value_info. */
export function tensorInfo(name: string, shape: Dim[] | null, elemType: number = DataType.FLOAT): ValueInfo {
  return { name, type: { elemType, shape } };
}

/** Assemble a model. */
export function buildModel(parts: {
  nodes: OnnxNode[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers?: Tensor[];
  opset?: number;
  valueInfo?: ValueInfo[];
}): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: parts.opset ?? 13 }],
    producerName: 'edgetune-test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'test',
      nodes: parts.nodes,
      inputs: parts.inputs,
      outputs: parts.outputs,
      valueInfo: parts.valueInfo ?? [],
      initializers: new Map((parts.initializers ?? []).map((t) => [t.name, t])),
    },
  };
}

/** Node op types in order, for structure assertions. */
export function opTypes(model: OnnxModel): string[] {
  return model.graph.nodes.map((n) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}:${n.opType}` : n.opType));
}
