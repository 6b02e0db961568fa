import { describe, expect, it } from 'vitest';
import { modelFacts } from '../../../src/hardware/model-facts.js';
import { cnnLarge, cnnSmall, depthwiseBlock, gemmWith, mlpLarge, quantizedMatMul } from './hardware-test-models.js';

describe('modelFacts', () => {
  it('lists Conv/Gemm layers with weight sizes, channels and prunability', () => {
    const f = modelFacts(cnnLarge());
    expect(f.layers.map((l) => [l.name, l.kind, l.outChannels, l.inChannels, l.weightElements, l.weightBytes, l.prunableIn, l.prunableOut])).toEqual([
      ['conv1', 'conv', 256, 64, 256 * 64 * 9, 256 * 64 * 9 * 4, false, true],
      ['conv2', 'conv', 512, 256, 512 * 256 * 9, 512 * 256 * 9 * 4, true, true],
      ['conv3', 'conv', 256, 512, 256 * 512, 256 * 512 * 4, true, true],
      ['fc', 'gemm', 10, 256, 2560, 2560 * 4, true, false],
    ]);
    expect(f.dominantKind).toBe('conv');
    expect(f.matmulWeightShare).toBeCloseTo(2560 / (147456 + 1179648 + 131072 + 2560), 9);
    expect(f.convWeightShare + f.matmulWeightShare).toBeCloseTo(1, 12);
    expect(f.totalParams).toBe(147456 + 1179648 + 131072 + 2560);
    expect(f.totalWeightBytes).toBe(f.totalParams * 4);
    expect(f.opHistogram).toEqual({ Conv: 3, Relu: 2, GlobalAveragePool: 1, Flatten: 1, Gemm: 1 });
    expect(f.weightElementType).toBe('float');
    expect(f.quantizationNodes).toBe(0);
  });

  it('reads Gemm channels by transB and MatMul channels on the last axis', () => {
    const small = modelFacts(cnnSmall());
    expect(small.layers.find((l) => l.name === 'fc')).toMatchObject({ outChannels: 10, inChannels: 32 });
    const mlp = modelFacts(mlpLarge());
    expect(mlp.layers.map((l) => [l.name, l.kind, l.inChannels, l.outChannels, l.prunableIn, l.prunableOut])).toEqual([
      ['fc1', 'matmul', 1024, 3072, false, true],
      ['fc2', 'matmul', 3072, 1000, true, false],
    ]);
    expect(mlp.dominantKind).toBe('matmul');
    expect(mlp.matmulWeightShare).toBe(1);
  });

  it('tells depthwise convs apart and lets channels pass through them', () => {
    const f = modelFacts(depthwiseBlock());
    expect(f.layers.map((l) => [l.name, l.kind, l.group])).toEqual([
      ['pw1', 'conv', 1],
      ['dw', 'depthwise-conv', 32],
      ['pw2', 'conv', 1],
    ]);
    // pw1's output reaches pw2 through the depthwise conv: prunable.
    expect(f.layers[0]).toMatchObject({ prunableOut: true, prunableIn: false });
    expect(f.layers[2]).toMatchObject({ prunableIn: true, prunableOut: false });
  });

  it('sees weights behind DequantizeLinear as quantized', () => {
    const f = modelFacts(quantizedMatMul());
    expect(f.layers).toHaveLength(1);
    expect(f.layers[0]).toMatchObject({ weightType: 'int8', quantized: true, weightBytes: 64 * 32, outChannels: 32, inChannels: 64 });
    expect(f.quantizationNodes).toBe(1);
    expect(f.weightElementType).toBe('int8');
  });

  it('judges fp16 friendliness from weight magnitudes', () => {
    expect(modelFacts(gemmWith([0.5, -0.25, 0.125, 1])).fp16).toMatchObject({ friendly: true, reason: null, maxAbsWeight: 1 });
    const overflow = modelFacts(gemmWith([1e5, 0.5]));
    expect(overflow.fp16.friendly).toBe(false);
    expect(overflow.fp16.reason).toMatch(/overflows fp16/);
    const tiny = modelFacts(gemmWith([1e-9, 2e-9, 0.5, 0.25]));
    expect(tiny.fp16.underflowShare).toBeCloseTo(0.5, 9);
    expect(tiny.fp16.friendly).toBe(false);
    expect(tiny.fp16.reason).toMatch(/round to zero in fp16/);
    // Subnormal-range weights (2^-25 ≤ |w| < 2^-14) keep a tiny absolute error: still friendly.
    expect(modelFacts(gemmWith([1e-6, 2e-6, 0.5, 0.25])).fp16.friendly).toBe(true);
  });

  it('a model without weighted layers has no layers and kind none', () => {
    const f = modelFacts({ ...cnnSmall(), graph: { ...cnnSmall().graph, nodes: [], initializers: new Map() } });
    expect(f.layers).toEqual([]);
    expect(f.dominantKind).toBe('none');
    expect(f.totalParams).toBe(0);
  });
});
