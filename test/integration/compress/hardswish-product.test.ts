/**
 * HardSwish as x·HardSigmoid(x) in int8 ops, in the real onnxruntime: the float rewrite gives the original's outputs
 * (hand-built graphs with equalization's channel scale in front, PP-LCNet's affine behind, read by a pointwise Conv
 * (β folded) and by a padded depthwise Conv (β added by a 1×1 Conv)); where it does not apply the graph is
 * untouched; on int8 PP-OCRv4 det (paddle2onnx) the HardSwishes become QLinearConv + QLinearMul in onnxruntime's
 * optimized graph, with no table lookups left for them, and the text map stays at least as close to fp32 as with
 * the lookups on held-out photos.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hardSwishAsProduct } from '../../../src/compress/hardswish-product.js';
import { runInt8Pipeline } from '../../../src/compress/int8-pipeline.js';
import { feedsForBatch, openDataset } from '../../../src/compress/dataset.js';
import type { OnnxModel, OnnxNode, Tensor } from '../../../src/onnx/ir.js';
import { cloneModel } from '../../../src/onnx/ir.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { decodeModel, encodeModel } from '../../../src/onnx/model-codec.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';
import { normalizeModel } from '../../../src/onnx/normalize.js';
import { floatTensor, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { createInferenceRunner } from '../../../src/profile/ort-inference.js';
import { optimizedGraphBytes } from '../../../src/profile/optimized-graph.js';
import { modelFacts } from '../../../src/hardware/model-facts.js';
import { int8Doubt } from '../../../src/hardware/planner.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS, type ThirdPartyModel } from '../../../scripts/lib/photo-datasets.js';
import { buildModel, randomWeight, seededFloats, tensorInfo } from '../../unit/compress/quantize-test-models.js';

const SLOW = 300_000;
/** The ONNX backend test suite's HardSwish case (Debian libonnx-testdata): a [3, 4, 5] tensor. */
const SUITE_HARDSWISH = '/usr/share/libonnx-testdata/data/node/test_hardswish';
const C = 8;

/** Run both models on `feeds`; the largest |a − b| over every output, relative to the largest |a|. */
async function relativeDifference(a: OnnxModel, b: OnnxModel, feeds: Record<string, Tensor>): Promise<number> {
  const ra = await createInferenceRunner(encodeModel(a));
  const rb = await createInferenceRunner(encodeModel(b));
  try {
    const x = await ra.run(feeds);
    const y = await rb.run(feeds);
    let worst = 0;
    for (const [name, t] of x) {
      const u = tensorToFloat32(t);
      const v = tensorToFloat32(y.get(name)!);
      const scale = Math.max(...u.map(Math.abs));
      for (let i = 0; i < u.length; i++) worst = Math.max(worst, Math.abs(u[i]! - v[i]!) / scale);
    }
    return worst;
  } finally {
    await ra.release();
    await rb.release();
  }
}

/**
 * x [1, 8, 12, 12] → Conv 3×3 → Mul k (per channel) → HardSwish → Mul γ (per channel) → Add β (per channel) → the
 * readers given (each writes a graph output).
 */
function hardSwishModel(readers: (input: string) => { nodes: OnnxNode[]; initializers: Tensor[]; outputs: string[] }): OnnxModel {
  const r = readers('y');
  return buildModel({
    opset: 14,
    inputs: [tensorInfo('x', [1, C, 12, 12])],
    outputs: r.outputs.map((o) => tensorInfo(o, null)),
    initializers: [
      randomWeight('w0', [C, C, 3, 3], 1), randomWeight('b0', [C], 2),
      floatTensor('k', [1, C, 1, 1], Array.from({ length: C }, (_, c) => 0.2 + 0.9 * c)),
      floatTensor('gamma', [1, C, 1, 1], Array.from({ length: C }, (_, c) => 1.3 - 0.1 * c)),
      floatTensor('beta', [1, C, 1, 1], Array.from({ length: C }, (_, c) => 0.3 - 0.07 * c)),
      ...r.initializers,
    ],
    nodes: [
      makeNode('Conv', ['x', 'w0', 'b0'], ['u'], 'conv0', { pads: attr.ints([1, 1, 1, 1]) }),
      makeNode('Mul', ['u', 'k'], ['a'], 'scale'),
      makeNode('HardSwish', ['a'], ['h'], 'hs'),
      makeNode('Mul', ['gamma', 'h'], ['g'], 'affine_mul'),
      makeNode('Add', ['g', 'beta'], ['y'], 'affine_add'),
      ...r.nodes,
    ],
  });
}

const pointwise = (input: string): { nodes: OnnxNode[]; initializers: Tensor[]; outputs: string[] } => ({
  nodes: [makeNode('Conv', [input, 'w1', 'b1'], ['out_pw'], 'pw')],
  initializers: [randomWeight('w1', [6, C, 1, 1], 3), randomWeight('b1', [6], 4)],
  outputs: ['out_pw'],
});
const depthwise = (input: string): { nodes: OnnxNode[]; initializers: Tensor[]; outputs: string[] } => ({
  nodes: [makeNode('Conv', [input, 'w2'], ['out_dw'], 'dw', { group: attr.int(C), pads: attr.ints([2, 2, 2, 2]) })],
  initializers: [randomWeight('w2', [C, 1, 5, 5], 5)],
  outputs: ['out_dw'],
});
const feeds = { x: floatTensor('x', [1, C, 12, 12], seededFloats(C * 144, 7, 3)) };

describe('hardSwishAsProduct on hand-built graphs (onnxruntime runs both)', () => {
  it('read by a pointwise Conv: k goes into the HardSigmoid Conv, k·γ into the reader\'s weights, β into its bias', async () => {
    const model = hardSwishModel(pointwise);
    const rewritten = cloneModel(model);
    const report = hardSwishAsProduct(rewritten.graph);
    expect(report).toMatchObject({ rewritten: 1, leftAlone: {} });
    expect(rewritten.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Conv', 'Clip', 'Mul', 'Conv']);
    const hsig = rewritten.graph.nodes[1]!;
    expect(hsig.attributes.get('group')).toEqual(attr.int(C));
    expect(report.hardSigmoidTensors).toEqual([rewritten.graph.nodes[2]!.outputs[0]]);
    expect(await relativeDifference(model, rewritten, feeds)).toBeLessThan(1e-5);
  });

  it('read by a padded depthwise Conv too: the affine stays, as a depthwise 1×1 Conv on the product (padding sees 0, not β)', async () => {
    const model = hardSwishModel((input) => {
      const a = pointwise(input);
      const b = depthwise(input);
      return { nodes: [...a.nodes, ...b.nodes], initializers: [...a.initializers, ...b.initializers], outputs: [...a.outputs, ...b.outputs] };
    });
    const rewritten = cloneModel(model);
    expect(hardSwishAsProduct(rewritten.graph).rewritten).toBe(1);
    expect(rewritten.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Conv', 'Clip', 'Mul', 'Conv', 'Conv', 'Conv']);
    expect(await relativeDifference(model, rewritten, feeds)).toBeLessThan(1e-5);
    // Folding β into the padded reader's bias instead would be wrong at the border: the test can tell.
    const naive = hardSwishModel(depthwise);
    const dwBias = floatTensor('b2', [C], Array.from({ length: C }, (_, c) => (0.3 - 0.07 * c) * tensorToFloat32(naive.graph.initializers.get('w2')!).slice(c * 25, c * 25 + 25).reduce((s, w) => s + w, 0)));
    naive.graph.initializers.set('b2', dwBias);
    naive.graph.nodes = naive.graph.nodes.filter((n) => n.name !== 'affine_add');
    naive.graph.nodes.find((n) => n.name === 'dw')!.inputs = ['g', 'w2', 'b2'];
    expect(await relativeDifference(hardSwishModel(depthwise), naive, feeds)).toBeGreaterThan(1e-3);
  });

  it('with nothing to fold (no channel scale, no affine), any reader: the product is the HardSwish itself', async () => {
    const model = buildModel({
      opset: 14,
      inputs: [tensorInfo('x', [1, C, 12, 12])],
      outputs: [tensorInfo('out', null), tensorInfo('pooled', null)],
      initializers: [randomWeight('w0', [C, C, 3, 3], 1), randomWeight('b0', [C], 2)],
      nodes: [
        makeNode('Conv', ['x', 'w0', 'b0'], ['u'], 'conv0', { pads: attr.ints([1, 1, 1, 1]) }),
        makeNode('HardSwish', ['u'], ['h'], 'hs'),
        makeNode('Relu', ['h'], ['out'], 'relu'),
        makeNode('GlobalAveragePool', ['h'], ['pooled'], 'pool'),
      ],
    });
    const rewritten = cloneModel(model);
    expect(hardSwishAsProduct(rewritten.graph, { dryRun: true, channelsOf: () => C }).rewritten).toBe(0);
    expect(hardSwishAsProduct(cloneModel(model).graph).leftAlone).toEqual({ 'a reader is not a Conv and the channel count is unknown': 1 });
    expect(hardSwishAsProduct(rewritten.graph, { channelsOf: (t) => (t === 'u' ? C : null) }).rewritten).toBe(1);
    expect(rewritten.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Conv', 'Clip', 'Mul', 'Relu', 'GlobalAveragePool']);
    expect(await relativeDifference(model, rewritten, feeds)).toBeLessThan(1e-5);
  });

  it.skipIf(!existsSync(SUITE_HARDSWISH))('int8 of a HardSwish on a rank-3 tensor (the ONNX suite\'s test_hardswish) leaves it alone and loads', async () => {
    const model = loadModelFile(join(SUITE_HARDSWISH, 'model.onnx')).model;
    normalizeModel(model, { minOpset: 13 });
    const result = await runInt8Pipeline(model, openDataset(SUITE_HARDSWISH, model), { calibration: 'minmax', keepFloatMode: 'none' });
    expect(result.hardSwishProduct!.rewritten).toBe(0);
    const runner = await createInferenceRunner(encodeModel(result.model));
    await runner.release();
  });

  it('leaves a HardSwish alone where a reader is not a Conv (or the HardSwish writes a graph output), and says why', () => {
    const relu = hardSwishModel((input) => ({ nodes: [makeNode('Relu', [input], ['out'], 'relu')], initializers: [], outputs: ['out'] }));
    const before = encodeModel(relu);
    const report = hardSwishAsProduct(relu.graph);
    expect(report).toMatchObject({ rewritten: 0, leftAlone: { 'a reader is not a Conv, and a channel scale or affine would have to go into it': 1 } });
    expect(encodeModel(relu)).toEqual(before);
    expect(hardSwishAsProduct(relu.graph, { channelsOf: () => C }).rewritten).toBe(0);
    const dry = hardSwishModel(pointwise);
    const bytes = encodeModel(dry);
    expect(hardSwishAsProduct(dry.graph, { dryRun: true })).toMatchObject({ rewritten: 1, inputs: ['u'] });
    expect(encodeModel(dry)).toEqual(bytes);
  });
});

describe('HardSwish as int8 products on PP-OCRv4 det at 320×320 (paddle2onnx, a HardSwish between every pair of convs)', () => {
  const DET_480 = THIRD_PARTY_MODELS['ppocr-det']!;
  const DET: ThirdPartyModel = { ...DET_480, id: 'ppocr-det-320', input: { ...DET_480.input, width: 320, height: 320 } };

  it(
    'onnxruntime runs them as QLinearConv + QLinearMul, no lookups are left for them, and the text map is at least as close to fp32',
    async () => {
      const load = (): OnnxModel => {
        const model = loadModelFile(modelPath(DET)).model;
        normalizeModel(model, { minOpset: 13 });
        return model;
      };
      const calibration = openDataset(photoDataset(DET, 'calibration', 4), load());
      const options = { calibration: 'minmax', keepFloatMode: 'none' } as const;
      // The head's ConvTranspose stays float in these two (so that they differ only in the HardSwishes): with 4
      // text-free calibration crops its int8 range is a guess that moves this comparison either way.
      const product = await runInt8Pipeline(load(), calibration, { ...options, convTransposeAsConv: false, channelsLastCopies: false });
      const lookups = await runInt8Pipeline(load(), calibration, { ...options, hardSwishProduct: false, convTransposeAsConv: false, channelsLastCopies: false });
      const withHeadInt8 = await runInt8Pipeline(load(), calibration, options);
      // Measured: 23 of the 24 HardSwishes (the 24th feeds a squeeze-excitation's pooling and Mul).
      expect(product.hardSwishProduct!.rewritten).toBeGreaterThanOrEqual(20);
      expect(product.report.notes.some((n) => /HardSwish\(es\) run as x·HardSigmoid\(x\) in int8 ops/.test(n))).toBe(true);
      expect(product.lookups!.byChain['Mul+HardSwish+Mul+Add'] ?? 0).toBeLessThanOrEqual(1);
      expect(lookups.hardSwishProduct).toBeNull();
      const optimized = decodeModel(await optimizedGraphBytes(encodeModel(product.model), { level: 'extended' }));
      const count = (op: string): number => optimized.graph.nodes.filter((n) => n.opType === op).length;
      expect(count('QLinearMul')).toBeGreaterThanOrEqual(product.hardSwishProduct!.rewritten);
      expect(count('HardSwish')).toBeLessThanOrEqual(24 - product.hardSwishProduct!.rewritten);
      // By default the head's first ConvTranspose (k = s = 2, 24 → 24) runs as QLinearConv + 8-bit DepthToSpace with
      // no conversion added; the last one (24 → 1) stays float (conv-transpose-as-conv.ts).
      expect(withHeadInt8.convTransposeAsConv!.rewritten).toHaveLength(1);
      const headInt8 = decodeModel(await optimizedGraphBytes(encodeModel(withHeadInt8.model), { level: 'extended' })).graph.nodes;
      const countIn = (nodes: typeof headInt8, op: string): number => nodes.filter((n) => n.opType === op).length;
      expect(count('ConvTranspose')).toBe(2);
      expect(countIn(headInt8, 'ConvTranspose')).toBe(1);
      expect(countIn(headInt8, 'QLinearConv')).toBe(count('QLinearConv') + 1);
      expect(countIn(headInt8, 'DequantizeLinear') + countIn(headInt8, 'QuantizeLinear')).toBeLessThanOrEqual(count('DequantizeLinear') + count('QuantizeLinear'));
      // ...and its six nearest upsamplings and that DepthToSpace are channels-last copies: in the graph onnxruntime
      // runs (level 'all', NHWC) no Resize or DepthToSpace is left and the added Transposes cancel against its own
      expect(withHeadInt8.channelsLastCopies!.resizes).toHaveLength(6);
      expect(withHeadInt8.channelsLastCopies!.depthToSpaces).toHaveLength(1);
      const runs = async (m: OnnxModel): Promise<Array<{ opType: string }>> => decodeModel(await optimizedGraphBytes(encodeModel(m), { level: 'all' })).graph.nodes;
      const [before, after] = await Promise.all([runs(product.model), runs(withHeadInt8.model)]);
      expect(countIn(before as typeof headInt8, 'Resize')).toBe(6);
      expect(countIn(after as typeof headInt8, 'Resize')).toBe(0);
      expect(countIn(after as typeof headInt8, 'DepthToSpace')).toBe(0);
      // (the one Transpose a DepthToSpace keeps is its own row move, [N, H, W, bs, bs, C] → [N, H, bs, W, bs, C])
      expect(countIn(after as typeof headInt8, 'Transpose')).toBeLessThanOrEqual(countIn(before as typeof headInt8, 'Transpose') + withHeadInt8.channelsLastCopies!.depthToSpaces.length);
      // Fidelity on held-out photos: pooled cosine of the text map against fp32, the product's at least the lookups'.
      const evaluation = openDataset(photoDataset(DET, 'evaluation', 4), load());
      const runners = await Promise.all([load(), product.model, lookups.model].map((m) => createInferenceRunner(encodeModel(m))));
      const dots = [{ dot: 0, nx: 0, ny: 0 }, { dot: 0, nx: 0, ny: 0 }];
      try {
        for (let s = 0; s < evaluation.setNames.length; s++) {
          for (const piece of feedsForBatch(load(), evaluation.load(s))) {
            const [ref, ...rest] = await Promise.all(runners.map((r) => r.run(piece.feeds)));
            for (const [name, t] of ref!) {
              const x = tensorToFloat32(t);
              rest.forEach((out, v) => {
                const y = tensorToFloat32(out.get(name)!);
                for (let i = 0; i < x.length; i++) {
                  dots[v]!.dot += x[i]! * y[i]!;
                  dots[v]!.nx += x[i]! * x[i]!;
                  dots[v]!.ny += y[i]! * y[i]!;
                }
              });
            }
          }
        }
      } finally {
        for (const r of runners) await r.release();
      }
      const [productCos, lookupCos] = dots.map((d) => d.dot / Math.sqrt(d.nx * d.ny)) as [number, number];
      // Measured with 4 calibration crops at 320×320: 0.553 with products, 0.464 with lookups (16 crops at 480×480
      // in BENCHMARKS.md: 0.960 and 0.952).
      expect(productCos).toBeGreaterThanOrEqual(lookupCos - 0.01);
    },
    SLOW,
  );
});

describe('plan counts the hard-swishes the int8 pass runs as products (modelFacts.int8HardSwishProducts)', () => {
  it('PP-OCRv4 det: 23 of 24, so int8 is no longer doubted on x86; PP-OCR cls: at least 9 of 18', () => {
    const det = modelFacts(loadModelFile(modelPath(THIRD_PARTY_MODELS['ppocr-det']!)).model);
    expect(det.int8HardSwishProducts).toBe(23);
    // the head's first ConvTranspose (24 → 24, k = s = 2) runs as QLinearConv; the last (24 → 1) stays float
    expect(det.int8ConvTransposes).toBe(1);
    expect(int8Doubt(det, 'int8', 'x86')).toBeNull();
    // Without the products the 24 exported hard-swishes were counted as float islands: 36 of 98 compute nodes (35
    // with the ConvTranspose that runs as a QLinearConv counted as one).
    expect(int8Doubt({ ...det, int8HardSwishProducts: 0, int8ConvTransposes: 0 }, 'int8', 'x86')).toMatch(/^36 of 98 compute nodes/);
    expect(int8Doubt({ ...det, int8HardSwishProducts: 0 }, 'int8', 'x86')).toMatch(/^35 of 98 compute nodes .*ConvTranspose ×1,/);
    const cls = modelFacts(loadModelFile(modelPath(THIRD_PARTY_MODELS['ppocr-cls']!)).model);
    // A lower bound: those read by Convs (the pipeline also rewrites 2 of the others, with nothing to fold: 11).
    expect(cls.int8HardSwishProducts).toBe(9);
    // 18 of 72 compute nodes float (25 %, not above the rule's 25 %); its depthwise share needs static shapes, which
    // the file does not have, so the rule of thumb no longer objects: `compress --method plan` measures (0.80× here).
    expect(int8Doubt({ ...cls, int8HardSwishProducts: 0 }, 'int8', 'x86')).toMatch(/^27 of 81 compute nodes/);
    expect(int8Doubt(cls, 'int8', 'x86')).toBeNull();
  });
});
