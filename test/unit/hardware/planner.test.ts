import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDeviceProfiles } from '../../../src/hardware/load-device-profiles.js';
import { findDeviceProfile } from '../../../src/hardware/match-profile.js';
import { mergeDeviceProfileOverride, type DeviceProfile } from '../../../src/hardware/device-profile.js';
import { detectHardware } from '../../../src/hardware/detect-hardware.js';
import { modelFacts, type ModelFacts } from '../../../src/hardware/model-facts.js';
import { DEPTHWISE_FLOP_SHARE_MAX, int8Doubt, parseTargetCache, planCompression, QDQ_FLOAT_SHARE_MAX, type CompressionPlan, type PlanOptions } from '../../../src/hardware/planner.js';
import { planForModel } from '../../../src/hardware/plan-for-model.js';
import type { ExecutionProviderInfo, HardwareInfo } from '../../../src/hardware/hardware-info.js';
import { cnnLarge, cnnSmall, gemmWith, mlpLarge, quantizedMatMul } from './hardware-test-models.js';

const SYSROOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'sysroots');
const profiles = loadDeviceProfiles();
const profile = (n: string): DeviceProfile => findDeviceProfile(profiles, n);
const MiB = 1024 * 1024;

const FACTS: Record<string, ModelFacts> = {};
const HW: Record<string, { hw: HardwareInfo; profile: DeviceProfile }> = {};
const CPU_ONLY: ExecutionProviderInfo[] = [{ name: 'cpu', bundled: true, libraryPresent: true }];

beforeAll(async () => {
  FACTS['cnn-small'] = modelFacts(cnnSmall());
  FACTS['cnn-large'] = modelFacts(cnnLarge());
  FACTS['mlp-large'] = modelFacts(mlpLarge());
  for (const tree of ['x86-avx2', 'x86-avx512-vnni', 'jetson-orin-nano', 'rpi5-armhf']) {
    const d = await detectHardware({ sysroot: join(SYSROOTS, tree), executionProviders: CPU_ONLY, profiles });
    HW[tree] = { hw: d.hw, profile: d.profile };
  }
});

/** Plan for a named profile (not this machine) or for a probed sysroot ('sysroot:<tree>'). */
function plan(target: string, model: string, options?: PlanOptions, override?: Record<string, unknown>): CompressionPlan {
  const facts = FACTS[model]!;
  if (target.startsWith('sysroot:')) {
    const { hw, profile: p } = HW[target.slice('sysroot:'.length)]!;
    return planCompression({ profile: p, hw, facts, options });
  }
  const p = override ? mergeDeviceProfileOverride(profile(target), override) : profile(target);
  return planCompression({ profile: p, hw: null, facts, options });
}

const SMALL_RAM = { memory: { bytes: { value: 8 * MiB, estimated: false, source: 'test: an 8 MiB device' } } };

interface Row {
  target: string;
  model: string;
  override?: Record<string, unknown>;
  precision: CompressionPlan['precision'];
  method: CompressionPlan['method'];
  reduceRange: boolean;
  verify: boolean;
  pruning: { targetCache: string; ratio: number } | null;
  threads: number | null;
}

// One row per rule combination: profile × model kind → precision, reduce_range, pruning target.
const TABLE: Row[] = [
  { target: 'pi4', model: 'cnn-small', precision: 'fp32', method: null, reduceRange: false, verify: true, pruning: null, threads: 4 },
  // conv2 is 4.5 MiB at fp32; L2 (1 MiB shared, no L3) would need 53% > the 50% cap.
  { target: 'pi4', model: 'cnn-large', precision: 'fp32', method: null, reduceRange: false, verify: true, pruning: { targetCache: 'l2', ratio: 0.5 }, threads: 4 },
  { target: 'pi5', model: 'cnn-small', precision: 'int8', method: 'int8', reduceRange: false, verify: false, pruning: null, threads: 4 },
  // conv2 is 1.125 MiB at int8, both channel sides prunable: 1 − √(512 KiB / 1.125 MiB) = 0.333.
  { target: 'pi5', model: 'cnn-large', precision: 'int8', method: 'int8', reduceRange: false, verify: false, pruning: { targetCache: 'l2', ratio: 0.34 }, threads: 4 },
  // fc1 is 3 MiB at int8, one side prunable: L2 would need 83% → L3 (2 MiB): 1 − 2/3 = 0.333.
  { target: 'pi5', model: 'mlp-large', precision: 'int8', method: 'int8-dynamic', reduceRange: false, verify: false, pruning: { targetCache: 'l3', ratio: 0.34 }, threads: 4 },
  { target: 'jetson-nano', model: 'cnn-large', precision: 'fp32', method: null, reduceRange: false, verify: true, pruning: { targetCache: 'l2', ratio: 0.34 }, threads: 4 },
  // L2 256 KiB would need 53%; every layer fits the 2 MiB L3 → no pruning.
  { target: 'jetson-orin-nano', model: 'cnn-large', precision: 'int8', method: 'int8', reduceRange: false, verify: false, pruning: null, threads: 6 },
  { target: 'x86-avx2', model: 'cnn-small', precision: 'int8', method: 'int8', reduceRange: true, verify: false, pruning: null, threads: null },
  { target: 'sysroot:x86-avx2', model: 'cnn-large', precision: 'int8', method: 'int8', reduceRange: true, verify: false, pruning: null, threads: 4 },
  { target: 'sysroot:x86-avx512-vnni', model: 'cnn-large', precision: 'int8', method: 'int8', reduceRange: false, verify: false, pruning: null, threads: 4 },
  { target: 'sysroot:x86-avx512-vnni', model: 'mlp-large', precision: 'int8', method: 'int8-dynamic', reduceRange: false, verify: false, pruning: null, threads: 4 },
  { target: 'x86-avx512-vnni', model: 'mlp-large', precision: 'int8', method: 'int8-dynamic', reduceRange: false, verify: false, pruning: null, threads: null },
  { target: 'generic-arm64', model: 'cnn-small', precision: 'fp32', method: null, reduceRange: false, verify: true, pruning: null, threads: null },
  { target: 'generic-x86-64', model: 'cnn-large', precision: 'fp32', method: null, reduceRange: false, verify: true, pruning: null, threads: null },
  // int8 weights (5.9 MiB) exceed 25% of 8 MiB RAM → int4; fc1 at int4 (0.64 B/weight) ≈ 1.92 MiB → L2 1 MiB: 0.48.
  { target: 'pi4', model: 'mlp-large', override: SMALL_RAM, precision: 'int4', method: 'int4', reduceRange: false, verify: false, pruning: { targetCache: 'l2', ratio: 0.48 }, threads: 4 },
  { target: 'sysroot:rpi5-armhf', model: 'cnn-small', precision: 'fp32', method: null, reduceRange: false, verify: true, pruning: null, threads: 4 },
];

describe('planner table: profile × model kind', () => {
  it.each(TABLE)('$target × $model → $precision (reduceRange $reduceRange, pruning $pruning.targetCache)', (row) => {
    const p = plan(row.target, row.model, undefined, row.override);
    expect(p.precision).toBe(row.precision);
    expect(p.method).toBe(row.method);
    expect(p.reduceRange).toBe(row.reduceRange);
    expect(p.verifyOnDevice).toBe(row.verify);
    expect(p.threads).toBe(row.threads);
    expect(p.executionProvider).toBe('cpu');
    if (row.pruning === null) expect(p.pruning).toBeNull();
    else {
      expect(p.pruning).not.toBeNull();
      expect(p.pruning!.targetCache).toBe(row.pruning.targetCache);
      expect(p.pruning!.ratio).toBeCloseTo(row.pruning.ratio, 6);
      expect(p.pruning!.ratio).toBeLessThanOrEqual(p.pruning!.maxLayerRatio);
    }
    expect(p.reasons.length).toBeGreaterThanOrEqual(3);
    expect(p.profile).toBe(row.target.startsWith('sysroot:') ? HW[row.target.slice(8)]!.profile.name : row.target);
  });
});

describe('planner rules in detail', () => {
  it('says up front that compress --method plan verifies int8 (or the int8 candidate, or fp16) against fp32 on the device', () => {
    const verified = (p: CompressionPlan): string | undefined => p.reasons.find((r) => r.includes('--method plan --data DIR` run on the device itself'));
    expect(verified(plan('pi5', 'cnn-small'))).toMatch(/^int8 will be verified against fp32 on the device: .* keeps int8 only if it is faster, else fp16 if that measures faster, else fp32$/);
    expect(verified(plan('sysroot:x86-avx512-vnni', 'cnn-large'))).toMatch(/keeps int8 only if it is faster, else fp32$/);
    expect(verified(plan('pi4', 'cnn-small'))).toMatch(/^int8 stays a candidate to measure: /);
    const noDot = mergeDeviceProfileOverride(profile('pi5'), { capabilities: { int8Dot: false } });
    expect(verified(planCompression({ profile: noDot, hw: null, facts: FACTS['cnn-small']! }))).toMatch(/^fp16 will be verified against fp32/);
  });

  it('int8 on a dot-product ARM core: per-channel, s8 weights, u8 activations, and says why', () => {
    const p = plan('pi5', 'cnn-small');
    expect(p).toMatchObject({ weightType: 'int8', activationType: 'uint8', perChannel: true, symmetricWeights: true });
    expect(p.reasons.some((r) => r.startsWith('asimddp present → int8 per-channel, s8 weights, u8 activations'))).toBe(true);
  });

  it('ARM without dot product keeps fp32 and offers int8 as a candidate to verify', () => {
    const p = plan('pi4', 'cnn-small');
    expect(p.candidates).toEqual([expect.objectContaining({ precision: 'int8', method: 'int8' })]);
    expect(p.reasons.some((r) => r.includes('no asimddp') && r.includes('verify on device'))).toBe(true);
  });

  it('x86 AVX2 without VNNI: reduce_range with the saturation reason and the x64quantprecision alternative', () => {
    const p = plan('x86-avx2', 'cnn-small');
    expect(p.reasons.some((r) => r.includes('64770 > 32767') && r.includes('reduce_range'))).toBe(true);
    expect(p.candidates).toEqual([expect.objectContaining({ precision: 'int8', reduceRange: false })]);
  });

  it('ARM with fp16 arithmetic but no dot product: fp16 for fp16-friendly weights, fp32 otherwise, both verified on device', () => {
    const noDot = mergeDeviceProfileOverride(profile('pi5'), { capabilities: { int8Dot: false } });
    const friendly = planCompression({ profile: noDot, hw: null, facts: FACTS['cnn-small']! });
    expect(friendly).toMatchObject({ precision: 'fp16', method: 'fp16', weightType: 'float16', verifyOnDevice: true });
    const unfriendly = planCompression({ profile: noDot, hw: null, facts: modelFacts(gemmWith([1e5, 0.5])) });
    expect(unfriendly).toMatchObject({ precision: 'fp32', verifyOnDevice: true });
    expect(unfriendly.reasons.some((r) => r.includes('overflows fp16'))).toBe(true);
  });

  it('int4 weight-only: block size, accuracy level from the dot product, and the RAM arithmetic in the reasons', () => {
    const p4 = plan('pi4', 'mlp-large', undefined, SMALL_RAM);
    expect(p4).toMatchObject({ weightType: 'int4', activationType: 'float32', int4: { blockSize: 32, accuracyLevel: null } });
    expect(p4.reasons.some((r) => r.includes('more than 25% of RAM (8 MiB)'))).toBe(true);
    const p5 = plan('pi5', 'mlp-large', undefined, SMALL_RAM);
    expect(p5.int4).toEqual({ blockSize: 32, accuracyLevel: 4 });
    // A Conv-dominated model is never planned int4, however small the RAM.
    expect(plan('pi5', 'cnn-large', undefined, SMALL_RAM).precision).toBe('int8');
    // A larger share threshold lets the same model stay int8.
    expect(plan('pi5', 'mlp-large', { int4RamShare: 0.9 }, SMALL_RAM).precision).toBe('int8');
  });

  it('an already-quantized model keeps its precision and gets no pruning', () => {
    const p = planCompression({ profile: profile('pi5'), hw: null, facts: modelFacts(quantizedMatMul()) });
    expect(p).toMatchObject({ precision: 'int8', method: null, pruning: null });
    expect(p.reasons.some((r) => r.includes('already quantized'))).toBe(true);
  });

  it('--target-cache forces the level or a byte size, still capped', () => {
    const l1 = plan('pi5', 'cnn-large', { targetCache: 'l1' });
    expect(l1.pruning).toMatchObject({ targetCache: 'l1', targetBytes: 64 * 1024, ratio: 0.5 });
    expect(l1.pruning!.layers.every((l) => l.neededRatio > 0)).toBe(true);
    expect(l1.pruning!.layers.some((l) => !l.fits)).toBe(true);
    const l3 = plan('pi5', 'cnn-large', { targetCache: 'l3' });
    expect(l3.pruning).toBeNull(); // everything fits 2 MiB at int8
    const bytes = plan('pi5', 'cnn-large', { targetCache: 768 * 1024 });
    expect(bytes.pruning).toMatchObject({ targetCache: 'bytes', targetBytes: 768 * 1024 });
    // 1 − √(768 KiB / 1152 KiB) = 0.1835
    expect(bytes.pruning!.ratio).toBeCloseTo(0.19, 6);
    const noL3 = plan('pi4', 'cnn-large', { targetCache: 'l3' });
    expect(noL3.pruning).toBeNull();
    expect(noL3.reasons.some((r) => r.includes('no known L3'))).toBe(true);
  });

  it('sizes layers at the stored precision when asked (a prune-only run keeps fp32 weights)', () => {
    // conv2 at fp32 is 4.5 MiB: 1 − √(512 KiB / 4.5 MiB) = 0.667 > cap → L3 2 MiB: 1 − √(2 / 4.5) = 0.333.
    const p = plan('pi5', 'cnn-large', { weightPrecision: 'stored' });
    expect(p.pruning).toMatchObject({ targetCache: 'l3', ratio: 0.34 });
    expect(p.pruning!.layers[0]).toMatchObject({ name: 'conv2', weightBytes: 512 * 256 * 9 * 4 });
  });

  it('the per-layer cap is an option', () => {
    const p = plan('pi4', 'cnn-large', { maxLayerPruneRatio: 0.6 });
    // 1 − √(1 MiB / 4.5 MiB) = 0.5286 → 0.53 now fits under the cap.
    expect(p.pruning).toMatchObject({ targetCache: 'l2', ratio: 0.53 });
    expect(p.pruning!.layers[0]).toMatchObject({ name: 'conv2', fits: true });
  });

  it('MatMul layers that still do not fit after capped pruning get a low-rank candidate below break-even', () => {
    const p = plan('pi4', 'mlp-large');
    expect(p.pruning).toMatchObject({ targetCache: 'l2', ratio: 0.5 });
    expect(p.lowRank).not.toBeNull();
    expect(p.lowRank!.layers.map((l) => [l.name, l.k, l.n, l.rank])).toEqual([
      ['fc1', 1024, 3072, 64],
      ['fc2', 3072, 1000, 64],
    ]);
    for (const l of p.lowRank!.layers) {
      expect(l.bytesAfter).toBeLessThanOrEqual(p.lowRank!.targetBytes);
      expect(l.rank).toBeLessThanOrEqual((l.k * l.n) / (l.k + l.n) / 2);
    }
    expect(plan('pi5', 'cnn-large').lowRank).toBeNull();
  });

  it('GPU providers only where onnxruntime-node offers them with their libraries and a GPU is present', async () => {
    const orin = async (eps: ExecutionProviderInfo[]) => (await detectHardware({ sysroot: join(SYSROOTS, 'jetson-orin-nano'), executionProviders: eps, profiles })).hw;
    const cuda = planCompression({ profile: profile('jetson-orin-nano'), hw: await orin([...CPU_ONLY, { name: 'cuda', bundled: false, libraryPresent: true }]), facts: FACTS['cnn-large']! });
    expect(cuda).toMatchObject({ executionProvider: 'cuda', precision: 'fp16', method: 'fp16', weightType: 'float16', activationType: 'float16', pruning: null, candidates: [] });
    const trt = planCompression({ profile: profile('jetson-orin-nano'), hw: await orin([...CPU_ONLY, { name: 'tensorrt', bundled: false, libraryPresent: true }]), facts: FACTS['cnn-large']! });
    expect(trt).toMatchObject({ executionProvider: 'tensorrt', precision: 'fp16' });
    expect(trt.candidates).toEqual([expect.objectContaining({ precision: 'int8' })]);
    // Listed but without its library (what onnxruntime-node reports on a plain x64 install): CPU.
    const missing = planCompression({ profile: profile('jetson-orin-nano'), hw: await orin([...CPU_ONLY, { name: 'cuda', bundled: false, libraryPresent: false }]), facts: FACTS['cnn-large']! });
    expect(missing).toMatchObject({ executionProvider: 'cpu', precision: 'int8' });
    expect(missing.reasons.some((r) => r.includes('prefers tensorrt'))).toBe(true);
    // cuda offered but no GPU on the machine: CPU.
    const noGpu = planCompression({ profile: HW['x86-avx2']!.profile, hw: { ...HW['x86-avx2']!.hw, executionProviders: [...CPU_ONLY, { name: 'cuda', bundled: false, libraryPresent: true }] }, facts: FACTS['cnn-small']! });
    expect(noGpu.executionProvider).toBe('cpu');
  });

  it('on the device, detected capabilities win over the profile and the difference is stated', () => {
    const { hw, profile: p } = HW['rpi5-armhf']!;
    const out = planCompression({ profile: p, hw, facts: FACTS['cnn-small']! });
    expect(out.basis).toMatchObject({ target: 'this-device', isa: 'arm32', capabilitiesFrom: 'detected' });
    expect(out.reasons.some((r) => r.includes('lists int8 dot product but this kernel does not show it'))).toBe(true);
    expect(out.reasons.some((r) => r.includes('32-bit ARM userland'))).toBe(true);
  });

  it('is pure: the same input gives the same plan', () => {
    expect(plan('pi5', 'cnn-large')).toEqual(plan('pi5', 'cnn-large'));
  });

  it('rejects bad options naming the parameter', () => {
    expect(() => plan('pi5', 'cnn-small', { int4RamShare: 0 })).toThrow(RangeError);
    expect(() => plan('pi5', 'cnn-small', { maxLayerPruneRatio: 1 })).toThrow(/maxLayerPruneRatio/);
    expect(() => plan('pi5', 'cnn-small', { int4BlockSize: 48 })).toThrow(/int4BlockSize/);
  });
});

describe('int8 rules of thumb (issue 12): fp32 where int8 is not expected to pay on the CPU provider', () => {
  // Op histograms of real models (modelFacts of the ONNX files in scripts/lib/photo-datasets.ts).
  const PPOCR_CLS = { Constant: 250, Conv: 53, BatchNormalization: 35, Add: 26, Clip: 18, Mul: 27, Div: 18, Relu: 15, GlobalAveragePool: 10, HardSigmoid: 9, MaxPool: 1, Shape: 1, Cast: 3, Slice: 1, Concat: 1, Reshape: 1, MatMul: 1, Softmax: 1 };
  const BLAZEFACE = { Transpose: 5, Conv: 69, Relu: 33, Add: 31, MaxPool: 3, ConstantOfShape: 2, Concat: 2, Reshape: 4 };
  const MLSD_TINY = { Split: 1, Mul: 2, Sub: 1, Transpose: 2, Concat: 6, Conv: 41, Clip: 20, Pad: 3, Add: 8, Relu: 10, Shape: 3, Slice: 5, Resize: 3, Sigmoid: 1, Reshape: 3, MaxPool: 1, Equal: 1, Cast: 1 };
  const TAIL = "→ keep fp32; int8 stays a candidate for a smaller file (a rule of thumb from the model's ops, not a measurement: `npx edgetune tune` measures int8 against fp32 on the device)";

  it('PP-OCR direction classifier: HardSigmoid and exported hard-swish are a third of the compute nodes → fp32, with the reason', () => {
    expect(int8Doubt({ opHistogram: PPOCR_CLS }, 'int8')).toBe(
      "27 of 81 compute nodes (33%, above 25%) are ops onnxruntime's CPU provider keeps float between DequantizeLinear and QuantizeLinear " +
        '(HardSigmoid ×9, exported hard-swish (Clip+Div pairs) ×18): each is a dequantize → float → quantize round trip, so static int8 is not expected to beat fp32 ' +
        TAIL,
    );
  });

  it('hard-swishes the int8 pass runs as int8 products are not counted as float islands', () => {
    // PP-OCR cls: 9 of its 18 hard-swishes are read by Convs (modelFacts' lower bound, hardswish-product.test.ts): 18 of 72 = 25 %.
    expect(int8Doubt({ opHistogram: PPOCR_CLS, int8HardSwishProducts: 9 }, 'int8')).toBeNull();
    expect(int8Doubt({ opHistogram: PPOCR_CLS, int8HardSwishProducts: 3 }, 'int8')).toMatch(/^24 of 78 compute nodes .*exported hard-swish \(Clip\+Div pairs\) ×15\)/);
    expect(int8Doubt({ opHistogram: { Conv: 10, HardSwish: 8 }, int8HardSwishProducts: 2 }, 'int8')).toMatch(/^6 of 16 compute nodes .*\(HardSwish ×6\)/);
  });

  it('ConvTransposes the int8 pass runs as QLinearConv + DepthToSpace count as convolutions, not float islands', () => {
    // a decoder of 4 Convs and 4 upsampling ConvTransposes (kernel = stride): 4 of 8 float before the rewrite
    expect(int8Doubt({ opHistogram: { Conv: 4, ConvTranspose: 4 } }, 'int8')).toMatch(/^4 of 8 compute nodes .*\(ConvTranspose ×4\)/);
    expect(int8Doubt({ opHistogram: { Conv: 4, ConvTranspose: 4 }, int8ConvTransposes: 4 }, 'int8')).toBeNull();
    expect(int8Doubt({ opHistogram: { Conv: 4, ConvTranspose: 4 }, int8ConvTransposes: 1 }, 'int8')).toMatch(/^3 of 8 compute nodes .*\(ConvTranspose ×3\)/);
  });

  it('no float-kept ops (BlazeFace), or ReLU6 Clips without Div and a Resize that runs on 8-bit data (M-LSD): no objection', () => {
    expect(int8Doubt({ opHistogram: BLAZEFACE }, 'int8')).toBeNull();
    expect(int8Doubt({ opHistogram: MLSD_TINY }, 'int8')).toBeNull();
    expect(int8Doubt({ opHistogram: { Conv: 4, Resize: 10, ConvTranspose: 1 } }, 'int8')).toBeNull(); // 1 of 5 = 20 %
  });

  it('x86: a depthwise share of the Conv MACs above 15 % (BlazeFace 20 %) keeps fp32; M-LSD (8.5 %) and ARM boards keep int8', () => {
    expect(DEPTHWISE_FLOP_SHARE_MAX).toBe(0.15);
    expect(int8Doubt({ opHistogram: BLAZEFACE, depthwiseFlopShare: 0.193 }, 'int8', 'x86')).toBe(
      "depthwise convolutions do 19% of the Conv multiply-accumulates (above 15%): onnxruntime's x86 int8 depthwise kernels lose to its fp32 NCHWc ones on such models, " +
        'so static int8 is not expected to beat fp32 ' +
        TAIL,
    );
    expect(int8Doubt({ opHistogram: MLSD_TINY, depthwiseFlopShare: 0.085 }, 'int8', 'x86')).toBeNull();
    expect(int8Doubt({ opHistogram: BLAZEFACE, depthwiseFlopShare: 0.193 }, 'int8', 'arm64')).toBeNull();
    expect(int8Doubt({ opHistogram: BLAZEFACE, depthwiseFlopShare: null }, 'int8', 'x86')).toBeNull();
    expect(int8Doubt({ opHistogram: BLAZEFACE, depthwiseFlopShare: 0.15 }, 'int8', 'x86')).toBeNull();
  });

  it('the share threshold is exclusive; dynamic int8 (MatMul/Gemm only) is not judged on float-kept ops', () => {
    expect(QDQ_FLOAT_SHARE_MAX).toBe(0.25);
    expect(int8Doubt({ opHistogram: { Conv: 3, HardSwish: 1 } }, 'int8')).toBeNull();
    expect(int8Doubt({ opHistogram: { Conv: 3, HardSwish: 1, ConvTranspose: 1 } }, 'int8')).toContain('2 of 5 compute nodes (40%, above 25%)');
    expect(int8Doubt({ opHistogram: { MatMul: 3, Gelu: 3 } }, 'int8-dynamic')).toBeNull();
  });

  it('the plan keeps fp32, verifies on device, and offers int8 (same reduce_range) as a candidate', () => {
    const facts: ModelFacts = { ...FACTS['cnn-small']!, opHistogram: { ...FACTS['cnn-small']!.opHistogram, HardSwish: 10 } };
    for (const [target, reduceRange] of [['sysroot:x86-avx512-vnni', false], ['x86-avx2', true]] as const) {
      const { hw, profile: pr } = target.startsWith('sysroot:') ? HW[target.slice(8)]! : { hw: null, profile: profile(target) };
      const p = planCompression({ profile: pr, hw, facts });
      expect(p).toMatchObject({ precision: 'fp32', method: null, weightType: 'float32', activationType: 'float32', verifyOnDevice: true });
      expect(p.candidates[0]).toEqual({ precision: 'int8', method: 'int8', reduceRange, note: 'int8 for a smaller file (weights 4× smaller); not expected to be faster here: measure' });
      const i = p.reasons.findIndex((r) => r.includes("are ops onnxruntime's CPU provider keeps float"));
      expect(i).toBeGreaterThan(0);
      expect(p.reasons[i]).toMatch(/HardSwish ×10\)/);
    }
    // Without float-kept ops, the same model on the same device stays int8.
    expect(planCompression({ profile: HW['x86-avx512-vnni']!.profile, hw: HW['x86-avx512-vnni']!.hw, facts: FACTS['cnn-small']! }).precision).toBe('int8');
  });
});

describe('parseTargetCache', () => {
  it('accepts levels and sizes, refuses anything else with USAGE', () => {
    expect(parseTargetCache('l1')).toBe('l1');
    expect(parseTargetCache('L3')).toBe('l3');
    expect(parseTargetCache('262144')).toBe(262144);
    expect(parseTargetCache('256K')).toBe(262144);
    expect(parseTargetCache('2M')).toBe(2 * MiB);
    expect(parseTargetCache('1MiB')).toBe(MiB);
    for (const bad of ['l4', '0', '-5', '1.5M', 'big']) expect(() => parseTargetCache(bad)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});

describe('planForModel', () => {
  it('plans for a sysroot, or for a named profile without using the probed hardware', async () => {
    const onDevice = await planForModel({ model: cnnLarge(), sysroot: join(SYSROOTS, 'rpi5'), profiles });
    expect(onDevice.plan.basis.target).toBe('this-device');
    expect(onDevice.plan.profile).toBe('pi5');
    expect(onDevice.plan.reasons[0]).toMatch(/^device profile: board 'Raspberry Pi 5/);
    expect(onDevice.facts.layers).toHaveLength(4);
    const elsewhere = await planForModel({ model: cnnLarge(), sysroot: join(SYSROOTS, 'rpi5'), profiles, profileName: 'pi4' });
    expect(elsewhere.plan.basis.target).toBe('profile');
    expect(elsewhere.plan.precision).toBe('fp32');
    expect(elsewhere.detected.profile.name).toBe('pi5');
    // Naming the profile the machine matches anyway keeps detection.
    const same = await planForModel({ model: cnnLarge(), sysroot: join(SYSROOTS, 'rpi5'), profiles, profileName: 'pi5' });
    expect(same.plan.basis.target).toBe('this-device');
    await expect(planForModel({ model: cnnLarge(), sysroot: join(SYSROOTS, 'rpi5'), profiles, profileName: 'nope' })).rejects.toMatchObject({ code: 'USAGE' });
  });
});
