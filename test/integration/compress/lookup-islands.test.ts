/**
 * Lookup islands in the real onnxruntime: a table computed by onnxruntime from the island itself gives exactly the
 * island's output, on hand-built islands of several op types (every one of the 256 input values present, per tensor
 * and per channel) and on the int8 PP-OCR direction classifier and PP-OCRv4 det (paddle2onnx, HardSwish and
 * HardSigmoid islands followed by equalization's channel scales), whose lookup models must load and give the island
 * model's outputs bit for bit on held-out photos.
 */
import { describe, expect, it } from 'vitest';
import { findLookupIslands, LOOKUP_MIN_ELEMENTS, lookupIslands } from '../../../src/compress/lookup-islands.js';
import { runInt8Pipeline, type Int8PipelineResult } from '../../../src/compress/int8-pipeline.js';
import { feedsForBatch, openDataset } from '../../../src/compress/dataset.js';
import { DataType } from '../../../src/onnx/dtype.js';
import type { OnnxModel, OnnxNode, Tensor } from '../../../src/onnx/ir.js';
import { cloneModel } from '../../../src/onnx/ir.js';
import { makeNode } from '../../../src/onnx/graph.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS, type ThirdPartyModel } from '../../../scripts/lib/photo-datasets.js';
import { buildModel, tensorInfo } from '../../unit/compress/quantize-test-models.js';
import { runCli, tempDir } from '../cli/cli-helpers.js';
import { join } from 'node:path';

const SLOW = 300_000;

/** Run two models on the same feeds and count the output values that differ (exact comparison: a table is exact). */
async function differingValues(a: OnnxModel, b: OnnxModel, feedSets: Array<Record<string, Tensor>>): Promise<{ values: number; differing: number }> {
  const ra = await createInferenceRunner(encodeModel(a), { intraOpNumThreads: 2 });
  const rb = await createInferenceRunner(encodeModel(b), { intraOpNumThreads: 2 });
  let values = 0;
  let differing = 0;
  try {
    for (const feeds of feedSets) {
      const x = await ra.run(feeds);
      const y = await rb.run(feeds);
      expect([...y.keys()]).toEqual([...x.keys()]);
      for (const [name, t] of x) {
        const u = t.values as ArrayLike<number>;
        const v = y.get(name)!.values as ArrayLike<number>;
        expect(v.length).toBe(u.length);
        values += u.length;
        for (let i = 0; i < u.length; i++) if (!Object.is(u[i], v[i])) differing++;
      }
    }
  } finally {
    await ra.release();
    await rb.release();
  }
  return { values, differing };
}

describe('lookup islands on hand-built QDQ islands', () => {
  /** x (8-bit, [N, 16, 40, 40]) → DequantizeLinear → chain → QuantizeLinear → y (8-bit). */
  function island(chain: OnnxNode[], constants: Tensor[], type: number): OnnxModel {
    const zero = (name: string, v: number): Tensor => makeTensor(name, type, [], [v]);
    return buildModel({
      opset: 14,
      inputs: [tensorInfo('x', ['N', 16, 40, 40], type)],
      outputs: [tensorInfo('y', ['N', 16, 40, 40], type)],
      initializers: [floatTensor('s1', [], [0.0473]), zero('z1', type === DataType.UINT8 ? 131 : -3), floatTensor('s2', [], [0.0217]), zero('z2', type === DataType.UINT8 ? 17 : 5), ...constants],
      nodes: [makeNode('DequantizeLinear', ['x', 's1', 'z1'], ['f0'], 'dq'), ...chain, makeNode('QuantizeLinear', [chain.at(-1)!.outputs[0]!, 's2', 'z2'], ['y'], 'q')],
    });
  }
  const k = (name: string, v: number): Tensor => floatTensor(name, [], [v]);
  const cases: Array<[string, OnnxNode[], Tensor[]]> = [
    ['HardSwish', [makeNode('HardSwish', ['f0'], ['f1'], 'hs')], []],
    ['HardSigmoid', [makeNode('HardSigmoid', ['f0'], ['f1'], 'hsig', { alpha: { type: 'float', value: 0.2 }, beta: { type: 'float', value: 0.5 } })], []],
    ['Tanh', [makeNode('Tanh', ['f0'], ['f1'], 'tanh')], []],
    ['Clip(0, 6)', [makeNode('Clip', ['f0', 'lo', 'hi'], ['f1'], 'clip')], [k('lo', 0), k('hi', 6)]],
    ['HardSwish → Mul → Add (PP-LCNet affine)', [makeNode('HardSwish', ['f0'], ['f1'], 'hs'), makeNode('Mul', ['f1', 'a'], ['f2'], 'mul'), makeNode('Add', ['b', 'f2'], ['f3'], 'add')], [k('a', 0.913), k('b', -0.071)]],
    ['Sigmoid → Div', [makeNode('Sigmoid', ['f0'], ['f1'], 'sig'), makeNode('Div', ['f1', 'a'], ['f2'], 'div')], [k('a', 3)]],
    ['HardSwish → per-channel Mul (equalization\'s exit scale)', [makeNode('HardSwish', ['f0'], ['f1'], 'hs'), makeNode('Mul', ['f1', 'c'], ['f2'], 'mul')], [floatTensor('c', [1, 16, 1, 1], Array.from({ length: 16 }, (_, i) => 0.25 + i * 0.173))]],
    ['HardSigmoid → per-channel Mul → per-channel Add', [makeNode('HardSigmoid', ['f0'], ['f1'], 'hsig'), makeNode('Mul', ['c', 'f1'], ['f2'], 'mul'), makeNode('Add', ['f2', 'd'], ['f3'], 'add')], [floatTensor('c', [16, 1, 1], Array.from({ length: 16 }, (_, i) => 2 - i * 0.11)), floatTensor('d', [1, 16, 1, 1], Array.from({ length: 16 }, (_, i) => i * 0.05 - 0.4))]],
  ];
  for (const type of [DataType.UINT8, DataType.INT8]) {
    for (const [label, chain, constants] of cases) {
      it(`${label}, ${type === DataType.UINT8 ? 'uint8' : 'int8'}: the lookup model loads and equals the island on all 256 values`, async () => {
        const model = island(chain, constants, type);
        expect(findLookupIslands(model)).toHaveLength(1);
        const { model: lookup, lookups } = await lookupIslands(cloneModel(model));
        expect(lookups.replaced).toBe(1);
        expect(lookup.graph.nodes.map((n) => n.opType)).toContain('GatherElements');
        // Every byte value in every channel, in a shuffled order, many times over; a batch of 2.
        const bytes = new Uint8Array(2 * 16 * 40 * 40);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 149 + (i >> 8)) & 255;
        const values = type === DataType.UINT8 ? bytes : new Int8Array(bytes.buffer);
        const x = makeTensor('x', type, [2, 16, 40, 40], values);
        const { values: n, differing } = await differingValues(model, lookup, [{ x }]);
        expect(n).toBe(bytes.length);
        expect(differing).toBe(0);
      });
    }
  }
});

/** The int8 pipeline on a real model, with lookup islands off and on (the CLI's defaults otherwise). */
async function int8Both(spec: ThirdPartyModel, calibrationSets: number): Promise<{ islands: Int8PipelineResult; lookups: Int8PipelineResult; model: OnnxModel }> {
  const load = (): OnnxModel => {
    const model = loadModelFile(modelPath(spec)).model;
    normalizeModel(model, { minOpset: 13 });
    return model;
  };
  const model = load();
  const calibration = openDataset(photoDataset(spec, 'calibration', calibrationSets), model);
  // HardSwishes stay islands here (hardswish-product.test.ts covers them as int8 products)
  const options = { calibration: 'minmax', activationType: 'uint8', perChannel: true, reduceRange: false, keepFloatMode: 'none', hardSwishProduct: false } as const;
  // the same equalization (island inputs that become lookups are equalized), islands left float
  const islands = await runInt8Pipeline(model, calibration, { ...options, lookupIslands: false, equalizeLookupIslandInputs: true });
  const lookups = await runInt8Pipeline(load(), calibration, options);
  return { islands, lookups, model: load() };
}

/** Feeds of `count` evaluation crops. */
function evaluationFeeds(spec: ThirdPartyModel, model: OnnxModel, count: number): Array<Record<string, Tensor>> {
  const data = openDataset(photoDataset(spec, 'evaluation', count), model);
  return data.setNames.flatMap((_, i) => feedsForBatch(model, data.load(i)).map((p) => p.feeds));
}

describe('lookup islands on the int8 PP-OCR direction classifier (paddle2onnx, HardSwish and HardSigmoid islands)', () => {
  const CLS = THIRD_PARTY_MODELS['ppocr-cls']!;

  it(
    'the pipeline leaves its islands (all small) float and says so; forced, the lookup model gives the island model\'s outputs bit for bit',
    async () => {
      const { islands, lookups, model } = await int8Both(CLS, 8);
      expect(islands.lookups).toBeNull();
      const found = findLookupIslands(islands.model);
      // Measured: 26 islands (22 per channel), the largest 38,400 elements at 48×192.
      expect(found.length).toBeGreaterThan(20);
      expect(found.filter((i) => i.channels > 1).length).toBeGreaterThan(15);
      expect(lookups.lookups).toMatchObject({ replaced: 0, leftSmall: found.length, minElements: LOOKUP_MIN_ELEMENTS });
      expect(lookups.report.notes).toContain(`lookup islands: none replaced; ${found.length} island(s) on tensors under ${LOOKUP_MIN_ELEMENTS} elements left float (a lookup does not pay there)`);
      const { model: forced, lookups: all } = await lookupIslands(cloneModel(islands.model));
      expect(all.replaced).toBe(found.length);
      expect(findLookupIslands(forced)).toEqual([]);
      // The one HardSwish left feeds a MaxPool (not elementwise: no table).
      const left = forced.graph.nodes.filter((n) => n.opType === 'HardSwish' || n.opType === 'HardSigmoid');
      expect(left.map((n) => n.opType)).toEqual(['HardSwish']);
      const { values, differing } = await differingValues(islands.model, forced, evaluationFeeds(CLS, model, 16));
      expect(values).toBe(16 * 2);
      expect(differing).toBe(0);
    },
    SLOW,
  );
});

describe('lookup islands on int8 PP-OCRv4 det at 320×320 (paddle2onnx, a HardSwish between every pair of convs)', () => {
  const DET_480 = THIRD_PARTY_MODELS['ppocr-det']!;
  const DET: ThirdPartyModel = { ...DET_480, id: 'ppocr-det-320', input: { ...DET_480.input, width: 320, height: 320 } };

  it(
    'the pipeline replaces the large islands by default, and its model gives the island model\'s text map bit for bit on held-out photos',
    async () => {
      const { islands, lookups, model } = await int8Both(DET, 4);
      // Measured at 320×320: 34 islands, 17 of them on ≥ 65,536 elements.
      expect(findLookupIslands(islands.model).length).toBeGreaterThan(20);
      expect(lookups.lookups!.replaced).toBeGreaterThan(10);
      expect(lookups.lookups!.replaced + lookups.lookups!.leftSmall).toBe(findLookupIslands(islands.model).length);
      expect(lookups.lookups!.tableBytes).toBeGreaterThan(lookups.lookups!.replaced * 256);
      // equalization's channel scale in front of each HardSwish (a Mul) is part of the table
      expect(Object.keys(lookups.lookups!.byChain)).toEqual(expect.arrayContaining(['Mul+HardSwish+Mul+Add']));
      expect(lookups.report.notes.some((n) => /float island\(s\) replaced by exact table lookups \(.*HardSwish/.test(n))).toBe(true);
      expect(lookups.model.graph.nodes.filter((n) => n.opType === 'GatherElements')).toHaveLength(lookups.lookups!.replaced);
      const { values, differing } = await differingValues(islands.model, lookups.model, evaluationFeeds(DET, model, 4));
      expect(values).toBe(4 * 320 * 320);
      expect(differing).toBe(0);
    },
    SLOW,
  );
});

describe('compress --method int8 --no-lookup-islands', () => {
  it('turns the pass off: the report has no lookupIslands details; on (the default) it has them', () => {
    const dir = tempDir('edgetune-lookup-cli-');
    const run = (extra: string[]): { details?: { lookupIslands?: unknown } } => {
      const r = runCli(['compress', 'test/fixtures/models/mnist-mlp.onnx', '-o', join(dir, `${extra.length}.onnx`), '--method', 'int8', '--data', 'test/fixtures/data/mnist-calib-flat', '--no-speed-check', '--json', ...extra], { timeoutMs: SLOW });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    expect(run(['--no-lookup-islands']).details?.lookupIslands).toBeUndefined();
    // The MLP has no islands: the pass ran and found none.
    expect(run([]).details?.lookupIslands).toMatchObject({ replaced: 0, leftSmall: 0, minElements: LOOKUP_MIN_ELEMENTS });
  }, SLOW);
});
