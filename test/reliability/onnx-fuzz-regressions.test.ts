/**
 * One small, deterministic test per defect the ONNX fuzzer found (see RELIABILITY.md "Fuzzing"), so that each fix
 * stays fixed even if the random run stops drawing that case.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressModelFile } from '../../src/compress/compress-model.js';
import { evaluateModelFiles } from '../../src/compress/evaluate-files.js';
import { DataType } from '../../src/onnx/dtype.js';
import { attr, makeNode, validateGraph } from '../../src/onnx/graph.js';
import { cloneModel, type OnnxModel } from '../../src/onnx/ir.js';
import { decodeModel, encodeModel } from '../../src/onnx/model-codec.js';
import { inferTensorTypes } from '../../src/onnx/shape-inference.js';
import { profileInChild } from '../../src/profile/profile-child.js';
import { EdgetuneError } from '../../src/util/errors.js';
import { buildSmallModel, prepareBases, type BaseId, type FuzzBase } from './fuzz/fuzz-bases.js';

let dir: string;
let bases: Record<BaseId, FuzzBase>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-fuzz-regress-'));
  bases = prepareBases(process.cwd(), join(dir, 'bases'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The error a call throws (sync or async), or null. */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  return null;
}

function expectRefused(error: unknown, code: string, pattern: RegExp): void {
  expect(error).toBeInstanceOf(EdgetuneError);
  expect((error as EdgetuneError).code).toBe(code);
  expect((error as EdgetuneError).message).toMatch(pattern);
}

function writeModel(name: string, model: OnnxModel): string {
  const path = join(dir, name);
  writeFileSync(path, encodeModel(model));
  return path;
}

function freshOutDir(name: string): string {
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  return out;
}

describe('ONNX fuzz findings stay fixed', () => {
  it('a STRING initializer declaring 268M elements but holding 2 is refused before anything is allocated (was a hang)', async () => {
    const model = buildSmallModel();
    model.graph.initializers.set('s', { name: 's', dataType: DataType.STRING, dims: [2 ** 26, 4], values: ['a', 'b'], storage: 'typed' });
    expectRefused(await caught(() => decodeModel(encodeModel(model))), 'MODEL_INVALID', /tensor 's': 2 values in stringData for shape \[67108864,4\]/);
  });

  it('float_data declaring 2^31 elements is refused by the value count, not by an 8 GB allocation', async () => {
    const model = buildSmallModel();
    const w = model.graph.initializers.get('fc.b')!;
    model.graph.initializers.set('fc.b', { ...w, dims: [2 ** 31], storage: 'typed' });
    expectRefused(await caught(() => decodeModel(encodeModel(model))), 'MODEL_INVALID', /10 values in floatData for shape \[2147483648\]/);
  });

  it('shape inference gives up quietly on a rank-1 input to Conv and on an absurd Reshape rank (was RangeError)', () => {
    const model = buildSmallModel();
    model.graph.inputs[0]!.type = { elemType: DataType.FLOAT, shape: [2 ** 31 - 1] };
    expect(inferTensorTypes(model).get('c1')?.shape ?? null).toBeNull();
    const reshape = buildSmallModel();
    reshape.graph.inputs.push({ name: 'shape', type: { elemType: DataType.INT64, shape: [2 ** 40] } });
    reshape.graph.nodes.push(makeNode('Reshape', ['y', 'shape'], ['z'], 'reshape'));
    expect(inferTensorTypes(reshape).get('z')?.shape ?? null).toBeNull();
  });

  it('a model importing the default domain at two versions is refused (edgetune and onnxruntime would disagree)', async () => {
    const model = buildSmallModel();
    model.opsetImports.push({ domain: 'ai.onnx', version: 11 });
    expectRefused(await caught(() => decodeModel(encodeModel(model))), 'MODEL_INVALID', /opset_import lists domain 'ai.onnx' twice, at versions 13 and 11/);
  });

  it('a graph without outputs is refused by validateGraph (compress used to write a model onnxruntime cannot load)', async () => {
    const model = buildSmallModel();
    model.graph.outputs = [];
    expectRefused(await caught(() => validateGraph(model)), 'MODEL_INVALID', /no outputs/);
  });

  it('compress refuses an input onnxruntime will not load, and writes nothing (was: an output onnxruntime refuses)', async () => {
    const model = buildSmallModel();
    model.graph.nodes[3]!.attributes.set('kernel_shape', attr.string('3x3'));
    const input = writeModel('bad-attribute.onnx', model);
    for (const method of ['fp16', 'int4', 'int8-dynamic'] as const) {
      const out = freshOutDir(`out-attr-${method}`);
      const error = await caught(() => compressModelFile({ inputPath: input, outputPath: join(out, 'out.onnx'), method }));
      expectRefused(error, 'MODEL_INVALID', /onnxruntime could not load the model.*kernel_shape/);
      expect(readdirSync(out)).toEqual([]);
    }
  });

  it('a model that loads but whose node fails on valid data is MODEL_INVALID in eval and int8 calibration (was RUNTIME_FAILED)', async () => {
    const model = buildSmallModel();
    const bias = model.graph.initializers.get('c2.b')!;
    model.graph.initializers.set('c2.b', { ...bias, dims: [1, 4] });
    const input = writeModel('bias-rank.onnx', model);
    const small = bases.small;
    expectRefused(await caught(() => evaluateModelFiles({ modelPath: input, dataDir: small.dataDir })), 'MODEL_INVALID', /the model fails on test_data_set_0: onnxruntime run failed/);
    expectRefused(
      await caught(() => evaluateModelFiles({ modelPath: small.path, dataDir: small.dataDir, referencePath: input })),
      'MODEL_INVALID',
      /the reference model fails on test_data_set_0/,
    );
    const out = freshOutDir('out-bias-int8');
    expectRefused(await caught(() => compressModelFile({ inputPath: input, outputPath: join(out, 'out.onnx'), method: 'int8', dataDir: small.dataDir })), 'MODEL_INVALID', /fails on test_data_set_0/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('profile of a model whose node fails on inputs of its declared shapes is a MODEL_INVALID failed result (was RUNTIME_FAILED)', async () => {
    const model = buildSmallModel();
    const bias = model.graph.initializers.get('bn.bias')!;
    model.graph.initializers.set('bn.bias', { ...bias, dims: [1, 4] });
    const input = writeModel('bn-bias-rank.onnx', model);
    const outcome = await profileInChild({ modelPath: input, iterations: 2, warmup: 0, energy: 'off', baselineMs: 0, energyMinDurationMs: 0, timeLimitMs: 60_000 });
    expect(outcome.state).toBe('failed');
    if (outcome.state === 'failed') {
      expect(outcome.error.code).toBe('MODEL_INVALID');
      expect(outcome.error.message).toMatch(/the model fails on inputs of its declared types and shapes: .*BatchNormalization/);
    }
  });

  it('eval against a reference whose output has another shape is a USAGE error (was RangeError)', async () => {
    const model = cloneModel(buildSmallModel());
    const bias = model.graph.initializers.get('fc.b')!;
    model.graph.initializers.set('fc.b', { ...bias, dims: [10, 1, 1, 1] });
    const reference = writeModel('broadcast-bias.onnx', model);
    const error = await caught(() => evaluateModelFiles({ modelPath: bases.small.path, dataDir: bases.small.dataDir, referencePath: reference }));
    expectRefused(error, 'USAGE', /reference model's output 'y' \[.*\] and the model's output 'y' \[4,10\] differ in shape/);
  });
});
