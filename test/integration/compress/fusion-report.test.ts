import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressModelFile, type CompressReport } from '../../../src/compress/compress-model.js';
import { analyzeFusion, uselessQdqPairs, type FusionReport } from '../../../src/compress/fusion-report.js';
import { decodeModel } from '../../../src/onnx/model-codec.js';
import { optimizedGraphBytes } from '../../../src/profile/optimized-graph.js';
import { photoDataset, THIRD_PARTY_MODELS } from '../../../scripts/lib/photo-datasets.js';
import { OCR } from './quantize-ort-helpers.js';

describe('fusion report of the int8 PP-OCR direction classifier (paddle2onnx, MobileNetV3 with HardSwish)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-fusion-'));
  const out = join(dir, 'cls-int8.onnx');
  let report: CompressReport;
  let fusion: FusionReport;

  beforeAll(async () => {
    const data = photoDataset(THIRD_PARTY_MODELS['ppocr-cls']!, 'calibration', 4);
    report = await compressModelFile({ inputPath: OCR.cls, outputPath: out, method: 'int8', dataDir: data });
    fusion = (report.details as { fusion: FusionReport }).fusion;
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the Conv fused into QLinearConv', () => {
    expect(fusion.fusedOps['QLinearConv'] ?? 0).toBeGreaterThan(0);
    const conv = fusion.sourceOps['Conv']!;
    expect(conv.int8).toBeGreaterThan(0);
    expect(conv.into['QLinearConv']).toBe(conv.int8);
    expect(fusion.fusedOps['QLinearConv']).toBe(conv.int8);
  });

  it('lists the HardSwish and HardSigmoid that stay float between DQ and Q', () => {
    const ops = new Set(fusion.floatIslands.map((i) => i.opType));
    expect(ops.has('HardSwish')).toBe(true);
    expect(ops.has('HardSigmoid')).toBe(true);
    expect(fusion.floatIslands.every((i) => i.flops >= 0)).toBe(true);
  });

  it('splits the FLOPs into int8 and float shares that sum to 1', () => {
    expect(fusion.flops).toBeGreaterThan(1e6);
    for (const share of [fusion.int8FlopsShare, fusion.floatFlopsShare]) {
      expect(share).toBeGreaterThanOrEqual(0);
      expect(share).toBeLessThanOrEqual(1);
    }
    expect(fusion.int8FlopsShare + fusion.floatFlopsShare).toBeCloseTo(1, 9);
    expect(fusion.int8FlopsShare).toBeGreaterThan(0.9);
    expect(fusion.conversions).toBeGreaterThan(0);
  });

  it('says it in one note', () => {
    const note = report.notes.find((n) => n.startsWith('onnxruntime fuses'));
    expect(note).toMatch(/of \d+ Conv into QLinearConv\b.*; float islands: .*HardSwish ×\d+.*% of FLOPs/);
  });

  it('gives the same report when run again on the saved model, and at most a few useless Q/DQ pairs', async () => {
    const quantized = decodeModel(readFileSync(out));
    const optimized = decodeModel(await optimizedGraphBytes(readFileSync(out), { level: 'extended' }));
    const again = analyzeFusion(quantized, optimized, { inputShapes: { x: [1, 3, 48, 192] } });
    expect(again.fusedOps).toEqual(fusion.fusedOps);
    expect(again.floatIslands.map((i) => i.node)).toEqual(fusion.floatIslands.map((i) => i.node));
    const useless = uselessQdqPairs(quantized, optimized);
    expect(useless.every((t) => quantized.graph.nodes.some((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === t))).toBe(true);
  });

  it.skipIf(process.arch !== 'x64')("at 'all' onnxruntime saves x86 layout ops (NHWC com.microsoft:QLinearConv between Transposes)", async () => {
    const all = decodeModel(await optimizedGraphBytes(readFileSync(out), { level: 'all' }));
    expect(all.graph.nodes.some((n) => n.opType === 'QLinearConv' && n.domain === 'com.microsoft')).toBe(true);
  });
});

describe('optimizedGraphBytes', () => {
  it('refuses an unknown level with a RangeError naming the option', async () => {
    await expect(optimizedGraphBytes(new Uint8Array(), { level: 'fast' as never })).rejects.toThrow(/options\.level/);
  });

  it('refuses bytes onnxruntime cannot load with MODEL_INVALID', async () => {
    await expect(optimizedGraphBytes(new Uint8Array([1, 2, 3]), { level: 'extended' })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});
