/**
 * The tolerances of the conformance lane (scripts/lib/onnx-suite.ts): what each method's rule accepts and rejects,
 * so that a lane that is green is green for the stated reason. Pure: no suite, no onnxruntime.
 */
import { describe, expect, it } from 'vitest';
import { compareOutput, isDefect, refusalReason, type CaseResult } from '../../scripts/lib/onnx-suite.js';
import { DataType } from '../../src/onnx/dtype.js';
import { float32ToFloat16Bits } from '../../src/onnx/float16.js';
import type { Tensor } from '../../src/onnx/ir.js';

const float = (values: number[], dims = [values.length]): Tensor => ({ name: 'y', dataType: DataType.FLOAT, dims, values: Float32Array.from(values) });
const ramp = (n: number, f: (i: number) => number = (i) => Math.sin(i) * 3): number[] => Array.from({ length: n }, (_, i) => f(i));

describe('compareOutput', () => {
  it('requires the recorded dims and element type under every rule', () => {
    for (const rule of ['reference', 'fp16', 'int8', 'int4', 'shape'] as const) {
      expect(compareOutput(float([1, 2, 3, 4], [2, 2]), float([1, 2, 3, 4], [4]), rule).ok).toBe(false);
      const f16: Tensor = { name: 'y', dataType: DataType.FLOAT16, dims: [2], values: Uint16Array.from([1, 2].map(float32ToFloat16Bits)) };
      expect(compareOutput(f16, float([1, 2]), rule).ok).toBe(false);
    }
  });

  it('fp16: accepts float16 rounding, rejects a 5 % error', () => {
    const e = ramp(64);
    const rounded = e.map((x) => x * (1 + 2 ** -11));
    expect(compareOutput(float(rounded), float(e), 'fp16').ok).toBe(true);
    expect(compareOutput(float(e.map((x) => x * 1.05)), float(e), 'fp16').ok).toBe(false);
  });

  it('fp16: an element small against the output scale is judged on the scale', () => {
    const e = [100, -100, 100, 1e-4];
    expect(compareOutput(float([100, -100, 100, 0.5]), float(e), 'fp16').ok).toBe(true); // 0.5 < 1e-2 · rms 86.6
    expect(compareOutput(float([100, -100, 100, 2]), float(e), 'fp16').ok).toBe(false);
  });

  it('reference: ten times tighter than fp16', () => {
    const e = ramp(64);
    expect(compareOutput(float(e.map((x) => x * (1 + 5e-4))), float(e), 'reference').ok).toBe(true);
    expect(compareOutput(float(e.map((x) => x * (1 + 5e-3))), float(e), 'reference').ok).toBe(false);
    expect(compareOutput(float(e.map((x) => x * (1 + 5e-3))), float(e), 'fp16').ok).toBe(true);
  });

  it('int8 / int4: relative RMS error within 0.1 / 0.2', () => {
    const e = ramp(256);
    const noisy = (amount: number): number[] => e.map((x, i) => x + (i % 2 === 0 ? amount : -amount));
    // sin·3 has rms 3/√2 ≈ 2.12; ±0.15 noise is a relative RMS error of ≈ 0.07, ±0.3 of ≈ 0.14, ±0.6 of ≈ 0.28
    expect(compareOutput(float(noisy(0.15)), float(e), 'int8').ok).toBe(true);
    expect(compareOutput(float(noisy(0.3)), float(e), 'int8').ok).toBe(false);
    expect(compareOutput(float(noisy(0.3)), float(e), 'int4').ok).toBe(true);
    expect(compareOutput(float(noisy(0.6)), float(e), 'int4').ok).toBe(false);
  });

  it('int8: an all-zero recorded output needs an (almost) all-zero result', () => {
    expect(compareOutput(float([0, 0, 0]), float([0, 0, 0]), 'int8').ok).toBe(true);
    expect(compareOutput(float([0, 0.1, 0]), float([0, 0, 0]), 'int8').ok).toBe(false);
  });

  it('NaN and ±Inf must be where the recorded output has them', () => {
    expect(compareOutput(float([NaN, Infinity, 1]), float([NaN, Infinity, 1]), 'fp16').ok).toBe(true);
    expect(compareOutput(float([1, Infinity, 1]), float([NaN, Infinity, 1]), 'fp16').ok).toBe(false);
    expect(compareOutput(float([NaN, 65504, 1]), float([NaN, Infinity, 1]), 'int8').ok).toBe(false);
    expect(compareOutput(float([NaN, 2, 1]), float([1, 2, 1]), 'int8').ok).toBe(false);
    expect(compareOutput(float([Infinity, 2, 1]), float([1, 2, 1]), 'fp16').ok).toBe(false);
  });

  it('non-float outputs match exactly, except under the shape rule (sparsity, lowrank)', () => {
    const ints = (v: bigint[]): Tensor => ({ name: 'i', dataType: DataType.INT64, dims: [v.length], values: BigInt64Array.from(v) });
    for (const rule of ['fp16', 'int8', 'int4'] as const) {
      expect(compareOutput(ints([1n, 2n]), ints([1n, 2n]), rule).ok).toBe(true);
      expect(compareOutput(ints([1n, 3n]), ints([1n, 2n]), rule).ok).toBe(false);
    }
    expect(compareOutput(ints([1n, 3n]), ints([1n, 2n]), 'shape').ok).toBe(true);
    const strings = (v: string[]): Tensor => ({ name: 's', dataType: DataType.STRING, dims: [v.length], values: v });
    expect(compareOutput(strings(['a', 'b']), strings(['a', 'c']), 'fp16').ok).toBe(false);
  });
});

describe('classification', () => {
  const result = (outcome: CaseResult['outcome'], applicable: boolean): CaseResult => ({ model: 'node/x', method: 'fp16', applicable, outcome, code: null, message: '', nodesChanged: null, seconds: 0 });

  it('a defect is anything but matched, refused or unverified; on a model onnxruntime fails, only crash, timeout or an unusable output', () => {
    expect(['matched', 'refused', 'unverified'].map((o) => isDefect(result(o as CaseResult['outcome'], true)))).toEqual([false, false, false]);
    for (const o of ['mismatched', 'unusable', 'misrefused', 'pass-failed', 'gated', 'crashed', 'timeout'] as const) expect(isDefect(result(o, true))).toBe(true);
    expect(isDefect(result('mismatched', false))).toBe(false);
    expect(isDefect(result('crashed', false))).toBe(true);
  });

  it('groups refusals by their reason, not by the names in them', () => {
    expect(refusalReason("fp16: node 'Loop' (Loop) has a subgraph")).toBe(refusalReason("fp16: node 'body_7' (Loop) has a subgraph"));
    expect(refusalReason('opset 6 is older than 7; re-export')).toBe('opset N is older than N; re-export');
    expect(refusalReason('no float Conv/Gemm/MatMul weights to sparsify')).toBe('no float Conv/Gemm/MatMul weights to sparsify');
    expect(refusalReason('test_data_set_0: /usr/share/x/output_0.pb is not a valid TensorProto')).toBe('test_data_set_0: … is not a valid TensorProto');
  });
});
