/**
 * The hardware-matched compression planner: pure rules from the device's arithmetic, caches and memory plus the
 * model's facts to a plan, with a reason a person can read for every choice (SPEC.md `plan` JSON).
 *
 * Rules (issue 3): int8 where the CPU has an int8 dot product (ARM asimddp, x86 VNNI); int8 with 7-bit weights
 * (reduce_range) on x86 without VNNI, where u8s8 VPMADDUBSW pair sums saturate; fp16 on a GPU provider, or on an
 * ARM core with fp16 arithmetic when the model is fp16-friendly; int4 weight-only for MatMul-heavy models whose
 * weights would take more than a set share of RAM even at int8; fp32 plus "verify on device" where int8 is known to
 * be slow (ARM without dot product). Structured pruning sized so the largest layers fit a cache level, capped per
 * layer. Threads = big cores. GPU providers only where onnxruntime-node offers them and a GPU is there.
 *
 * Rules of thumb against int8 on the CPU provider (issue 12, `int8Doubt`): fp32 (int8 kept as a candidate) when ops
 * onnxruntime keeps float between DequantizeLinear and QuantizeLinear make up a large share of the compute nodes, or
 * when the model is tiny (the caller gave its FLOPs). They are not measurements: `tune` measures both.
 */
import type { DeviceProfile } from './device-profile.js';
import type { Accelerator, HardwareInfo, IsaFamily } from './hardware-info.js';
import { isaFamily } from './capabilities.js';
import type { LayerFacts, ModelFacts } from './model-facts.js';
import { EdgetuneError } from '../util/errors.js';

/** A cache level, or an explicit size in bytes (`--target-cache l1|l2|l3|BYTES`). */
export type TargetCache = 'l1' | 'l2' | 'l3' | number;

/** Planner tunables. */
export interface PlanOptions {
  /** Force the cache level (or bytes) pruning sizes layers for; default: chosen by the rules. */
  targetCache?: TargetCache;
  /** int4 weight-only when int8 layer weights exceed this share of RAM (MatMul-heavy models). Default 0.25. */
  int4RamShare?: number;
  /** No layer loses more than this share of its channels. Default 0.5. */
  maxLayerPruneRatio?: number;
  /** int4 block size (MatMulNBits block_size: a power of two ≥ 16). Default 32. */
  int4BlockSize?: number;
  /**
   * Size layers for pruning at the plan's precision ('plan', default: the plan quantizes after pruning) or at the
   * precision the weights are stored in ('stored': for a prune-only run that leaves the model float).
   */
  weightPrecision?: 'plan' | 'stored';
}

/** Defaults of PlanOptions. */
export const PLAN_DEFAULTS: ResolvedPlanOptions = { int4RamShare: 0.25, maxLayerPruneRatio: 0.5, int4BlockSize: 32 };

/** PlanOptions with defaults applied. */
export interface ResolvedPlanOptions {
  targetCache?: TargetCache;
  weightPrecision?: 'plan' | 'stored';
  int4RamShare: number;
  maxLayerPruneRatio: number;
  int4BlockSize: number;
}

/** Planner input. */
export interface PlannerInput {
  profile: DeviceProfile;
  /** The probed device being planned for; null when planning for a profile this machine is not. */
  hw: HardwareInfo | null;
  facts: ModelFacts;
  options?: PlanOptions;
}

/** Plan precisions (SPEC.md). */
export type PlanPrecision = 'int8' | 'fp16' | 'fp32' | 'int4';
/** compress METHOD values a plan can apply (null: keep the model's precision). */
export type PlanMethod = 'int8' | 'int8-dynamic' | 'fp16' | 'int4' | null;

/** An alternative worth profiling on the device. */
export interface PlanCandidate {
  precision: PlanPrecision;
  method: PlanMethod;
  reduceRange: boolean;
  note: string;
}

/** One layer the pruning target affects. */
export interface PrunedLayer {
  name: string;
  opType: string;
  /** Weight bytes at the plan's precision before pruning. */
  weightBytes: number;
  /** Bytes after the plan's channel ratio ((1−r)² when input and output channels shrink, (1−r) when one side does). */
  bytesAfter: number;
  /** Channel ratio this layer alone would need to fit (before the cap). */
  neededRatio: number;
  fits: boolean;
}

/** Structured-pruning part of a plan. */
export interface PruningPlan {
  targetCache: 'l1' | 'l2' | 'l3' | 'bytes';
  targetBytes: number;
  /** Uniform channel ratio for the prune pass (`--ratio`). */
  ratio: number;
  maxLayerRatio: number;
  /** Keep channel counts multiples of this (MLAS NCHWc blocks: 8 AVX2, 16 AVX-512; benefit unverified). */
  channelMultiple: number;
  layers: PrunedLayer[];
}

/** Low-rank factorisation part of a plan: 2-D weights that still do not fit, with the rank that makes them fit. */
export interface LowRankPlan {
  targetBytes: number;
  layers: Array<{ name: string; k: number; n: number; rank: number; bytesBefore: number; bytesAfter: number }>;
}

/** What the planner based its choices on. */
export interface PlanBasis {
  target: 'this-device' | 'profile';
  isa: IsaFamily | null;
  capabilities: { int8Dot: boolean | null; fp16Arith: boolean | null; i8mm: boolean | null; vnni: boolean | null; avx2: boolean | null; avx512: boolean | null };
  capabilitiesFrom: 'detected' | 'profile' | 'detected+profile';
  caches: { l1d: number | null; l2: number | null; l3: number | null; l2Shared: boolean | null; from: 'sysfs' | 'profile' | null };
  memoryBytes: number | null;
  executionProviders: string[];
}

/** The plan (SPEC.md `plan` fields first). */
export interface CompressionPlan {
  profile: string;
  precision: PlanPrecision;
  weightType: 'int8' | 'int4' | 'float16' | 'float32';
  activationType: 'uint8' | 'float16' | 'float32';
  perChannel: boolean;
  reduceRange: boolean;
  executionProvider: string;
  pruning: PruningPlan | null;
  lowRank: LowRankPlan | null;
  reasons: string[];
  /** compress METHOD that applies the precision part (null: keep). */
  method: PlanMethod;
  symmetricWeights: boolean;
  /** int4: MatMulNBits block size and accuracy_level (4 = int8 compute); null otherwise. */
  int4: { blockSize: number; accuracyLevel: number | null } | null;
  /** True when the choice must be confirmed by profiling on the device (int8 without dot product, CPU fp16). */
  verifyOnDevice: boolean;
  candidates: PlanCandidate[];
  /** intra-op threads: the big cores. */
  threads: number | null;
  basis: PlanBasis;
}

/** Parse `--target-cache`: 'l1' | 'l2' | 'l3' | bytes ('262144', '256K', '2M', '1MiB'). Throws USAGE. */
export function parseTargetCache(text: string): TargetCache {
  const t = text.trim().toLowerCase();
  if (t === 'l1' || t === 'l2' || t === 'l3') return t;
  const m = /^(\d+)\s*(k|m|kb|mb|kib|mib)?$/.exec(t);
  if (m) {
    const unit = m[2]?.[0];
    const bytes = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : 1);
    if (Number.isSafeInteger(bytes) && bytes > 0) return bytes;
  }
  throw new EdgetuneError('USAGE', `--target-cache must be l1, l2, l3 or a size in bytes (e.g. 262144, 256K, 2M); got '${text}'`);
}

/** Plan compression for a model on a device. Pure: same input, same plan. */
export function planCompression(input: PlannerInput): CompressionPlan {
  const { profile, hw, facts } = input;
  const options: ResolvedPlanOptions = { ...PLAN_DEFAULTS, ...stripUndefined(input.options ?? {}) };
  validateOptions(options);
  const reasons: string[] = [];
  const basis = resolveBasis(profile, hw, reasons);

  // Execution provider.
  const gpu = resolveGpu(profile, hw);
  const ep = chooseExecutionProvider(profile, basis.executionProviders, gpu, reasons);

  // Precision.
  let choice = choosePrecision(basis, facts, ep, gpu, options, reasons);
  if (ep === 'cpu' && (choice.method === 'int8' || choice.method === 'int8-dynamic')) {
    const doubt = int8Doubt(facts, choice.method, basis.isa);
    if (doubt !== null) {
      reasons.push(doubt);
      const int8: PlanCandidate = { precision: 'int8', method: choice.method, reduceRange: choice.reduceRange, note: 'int8 for a smaller file (weights 4× smaller); not expected to be faster here: measure' };
      choice = keep('fp32', true, [int8, ...choice.candidates]);
    }
  }

  if (ep === 'cpu') {
    const measured = measuredCheckReason(choice, basis.isa === 'arm64' && basis.capabilities.fp16Arith === true && facts.fp16.friendly);
    if (measured) reasons.push(measured);
  }

  // Threads.
  const threads = hw?.cpu.bigCores ?? profile.cpu.bigCores;
  if (ep !== 'cpu') reasons.push(`threads: the ${ep} provider runs the graph; CPU threads only for fallback ops`);
  if (threads !== null) {
    const core = hw?.cpu.clusters.find((c) => c.big)?.core ?? profile.cpu.core;
    const smt = hw?.cpu.threadsPerCore && hw.cpu.threadsPerCore > 1 ? `, SMT siblings not counted` : '';
    if (ep === 'cpu') reasons.push(`${threads} big core${threads === 1 ? '' : 's'}${core ? ` (${core})` : ''} → ${threads} intra-op thread${threads === 1 ? '' : 's'}${smt}`);
  } else reasons.push('core count unknown → onnxruntime picks the thread count');

  // Pruning and low rank.
  const { pruning, lowRank } =
    ep === 'cpu' ? planCacheFit(basis, facts, choice, options, reasons) : gpuNoCacheFit(ep, reasons);

  return {
    profile: profile.name,
    precision: choice.precision,
    weightType: choice.weightType,
    activationType: choice.activationType,
    perChannel: choice.perChannel,
    reduceRange: choice.reduceRange,
    executionProvider: ep,
    pruning,
    lowRank,
    reasons,
    method: choice.method,
    symmetricWeights: choice.symmetricWeights,
    int4: choice.int4,
    verifyOnDevice: choice.verifyOnDevice,
    candidates: choice.candidates,
    threads,
    basis,
  };
}

function stripUndefined(o: PlanOptions): PlanOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as PlanOptions;
}

function validateOptions(o: ResolvedPlanOptions): void {
  if (!(o.int4RamShare > 0 && o.int4RamShare <= 1)) throw new RangeError(`int4RamShare must be in (0, 1]; got ${o.int4RamShare}`);
  if (!(o.maxLayerPruneRatio >= 0 && o.maxLayerPruneRatio < 1)) throw new RangeError(`maxLayerPruneRatio must be in [0, 1); got ${o.maxLayerPruneRatio}`);
  const b = o.int4BlockSize;
  if (!(Number.isInteger(b) && b >= 16 && (b & (b - 1)) === 0)) throw new RangeError(`int4BlockSize must be a power of two ≥ 16; got ${b}`);
  if (typeof o.targetCache === 'number' && !(Number.isSafeInteger(o.targetCache) && o.targetCache > 0)) {
    throw new RangeError(`targetCache bytes must be a positive integer; got ${o.targetCache}`);
  }
}

function resolveBasis(profile: DeviceProfile, hw: HardwareInfo | null, reasons: string[]): PlanBasis {
  const pc = profile.capabilities;
  if (hw === null) {
    reasons.push(`planning for profile ${profile.name} (${profile.displayName}), not for this machine: capabilities, caches and memory from the profile`);
    const caches = { l1d: profile.caches.l1dBytes, l2: profile.caches.l2Bytes, l3: profile.caches.l3Bytes, l2Shared: profile.caches.l2Shared, from: 'profile' as const };
    return {
      target: 'profile',
      isa: isaFamily(profile.arch),
      capabilities: { int8Dot: pc.int8Dot, fp16Arith: pc.fp16Arith, i8mm: pc.i8mm, vnni: pc.vnni, avx2: pc.avx2, avx512: pc.avx512 },
      capabilitiesFrom: 'profile',
      caches: caches.l1d === null && caches.l2 === null && caches.l3 === null ? { ...caches, from: null } : caches,
      memoryBytes: profile.memory.bytes.value,
      executionProviders: [...profile.executionProviders.onnxruntimeNode],
    };
  }
  if (hw.profileMatch) reasons.push(`device profile: ${hw.profileMatch.reason}`);
  const hc = hw.capabilities;
  let fromProfile = false;
  const pick = (key: keyof PlanBasis['capabilities'], flag: string): boolean | null => {
    const detected = hc[key];
    const documented = pc[key];
    if (detected === null) {
      if (documented !== null) fromProfile = true;
      return documented;
    }
    if (detected === false && documented === true) {
      reasons.push(`profile ${profile.name} lists ${flag} but this kernel does not show it in /proc/cpuinfo → treated as absent`);
    }
    return detected;
  };
  const capabilities = {
    int8Dot: pick('int8Dot', 'int8 dot product'),
    fp16Arith: pick('fp16Arith', 'fp16 arithmetic'),
    i8mm: pick('i8mm', 'i8mm'),
    vnni: pick('vnni', 'VNNI'),
    avx2: pick('avx2', 'avx2'),
    avx512: pick('avx512', 'avx512f'),
  };
  const isa = hw.cpu.userland32On64 ? 'arm32' : isaFamily(hw.cpu.arch) ?? isaFamily(profile.arch);
  const cachesKnown = hw.caches.source !== null;
  const eps = hw.executionProviders === null ? ['cpu'] : hw.executionProviders.filter((e) => e.bundled || e.libraryPresent === true).map((e) => e.name);
  if (hw.executionProviders === null) reasons.push('onnxruntime-node execution providers were not probed → CPU only');
  return {
    target: 'this-device',
    isa,
    capabilities,
    capabilitiesFrom: fromProfile ? 'detected+profile' : 'detected',
    caches: cachesKnown
      ? { l1d: hw.caches.l1d, l2: hw.caches.l2, l3: hw.caches.l3, l2Shared: hw.caches.l2Shared, from: hw.caches.source }
      : { l1d: profile.caches.l1dBytes, l2: profile.caches.l2Bytes, l3: profile.caches.l3Bytes, l2Shared: profile.caches.l2Shared, from: profile.caches.l2Bytes !== null ? 'profile' : null },
    memoryBytes: hw.memoryBytes ?? profile.memory.bytes.value,
    executionProviders: eps,
  };
}

interface GpuFacts {
  present: boolean;
  name: string | null;
  fp16: boolean | null;
  int8: boolean | null;
}

function resolveGpu(profile: DeviceProfile, hw: HardwareInfo | null): GpuFacts {
  if (hw === null) {
    return profile.gpu ? { present: true, name: profile.gpu.name, fp16: profile.gpu.fp16, int8: profile.gpu.int8 } : { present: false, name: null, fp16: null, int8: null };
  }
  const a: Accelerator | undefined = hw.accelerators.find((x) => x.vendor === 'NVIDIA' && x.inferenceUsable);
  if (!a) return { present: false, name: null, fp16: null, int8: null };
  return { present: true, name: a.name, fp16: a.fp16, int8: a.int8 };
}

function chooseExecutionProvider(profile: DeviceProfile, offered: string[], gpu: GpuFacts, reasons: string[]): string {
  const gpuEps = ['tensorrt', 'cuda'];
  const usable = (ep: string): boolean => offered.includes(ep) && (ep === 'cpu' || (gpuEps.includes(ep) && gpu.present));
  const preferred = profile.executionProviders.preferred;
  const order = [preferred, ...gpuEps.filter((e) => e !== preferred)].filter((e) => e !== 'cpu');
  for (const ep of order) {
    if (usable(ep)) {
      reasons.push(`${gpu.name ?? 'NVIDIA GPU'} present and onnxruntime-node offers ${ep} → execution provider ${ep}`);
      return ep;
    }
  }
  if (preferred !== 'cpu') {
    const why = !gpu.present ? 'no usable GPU was detected' : `onnxruntime-node here offers only ${offered.join(', ') || 'nothing'}`;
    reasons.push(`profile ${profile.name} prefers ${preferred}, but ${why} → execution provider cpu`);
  } else if (gpu.present) {
    reasons.push(`${gpu.name} present but onnxruntime-node offers neither cuda nor tensorrt with its libraries installed → execution provider cpu`);
  } else {
    reasons.push('no GPU provider applies → execution provider cpu');
  }
  return 'cpu';
}

interface PrecisionChoice {
  precision: PlanPrecision;
  method: PlanMethod;
  weightType: CompressionPlan['weightType'];
  activationType: CompressionPlan['activationType'];
  perChannel: boolean;
  symmetricWeights: boolean;
  reduceRange: boolean;
  int4: CompressionPlan['int4'];
  verifyOnDevice: boolean;
  candidates: PlanCandidate[];
}

function keep(precision: PlanPrecision, verify: boolean, candidates: PlanCandidate[] = []): PrecisionChoice {
  const weightType = precision === 'fp16' ? 'float16' : precision === 'int8' ? 'int8' : precision === 'int4' ? 'int4' : 'float32';
  return { precision, method: null, weightType, activationType: precision === 'fp16' ? 'float16' : 'float32', perChannel: false, symmetricWeights: false, reduceRange: false, int4: null, verifyOnDevice: verify, candidates };
}

function int8Choice(facts: ModelFacts, reduceRange: boolean, verify: boolean, candidates: PlanCandidate[] = []): PrecisionChoice {
  return {
    precision: 'int8',
    method: int8Method(facts),
    weightType: 'int8',
    activationType: 'uint8',
    perChannel: true,
    symmetricWeights: true,
    reduceRange,
    int4: null,
    verifyOnDevice: verify,
    candidates,
  };
}

/** Static QDQ for Conv-dominated models, dynamic for MatMul-dominated ones (onnxruntime's guidance: static for CNNs, dynamic for transformers/RNNs). */
function int8Method(facts: ModelFacts): 'int8' | 'int8-dynamic' {
  return facts.dominantKind === 'matmul' ? 'int8-dynamic' : 'int8';
}

function int8Style(facts: ModelFacts): string {
  return facts.dominantKind === 'matmul'
    ? `dynamic (MatMul/Gemm hold ${pct(facts.matmulWeightShare)} of the weights)`
    : `static QDQ with calibration (Conv holds ${pct(facts.convWeightShare)} of the weights)`;
}

function choosePrecision(basis: PlanBasis, facts: ModelFacts, ep: string, gpu: GpuFacts, options: ResolvedPlanOptions, reasons: string[]): PrecisionChoice {
  const caps = basis.capabilities;
  if (facts.layers.length === 0) {
    reasons.push('no Conv/Gemm/MatMul with constant weights: nothing to quantize → keep the model as it is');
    return keep('fp32', false);
  }
  const stored = facts.weightElementType;
  if (facts.quantizationNodes > 0 || stored === 'int8' || stored === 'uint8' || stored === 'int4' || stored === 'uint4') {
    const precision: PlanPrecision = stored === 'int4' || stored === 'uint4' ? 'int4' : 'int8';
    reasons.push(`model is already quantized (${facts.quantizationNodes} quantization nodes, weights stored as ${stored}) → precision kept`);
    return { ...keep(precision, false), weightType: precision === 'int4' ? 'int4' : 'int8' };
  }

  // int4 weight-only when memory binds.
  const int8Bytes = facts.layerWeightElements;
  if (facts.dominantKind === 'matmul') {
    if (basis.memoryBytes === null) {
      reasons.push('RAM size unknown → the int4 weight-only rule was not evaluated');
    } else if (int8Bytes > options.int4RamShare * basis.memoryBytes) {
      const accuracyLevel = caps.int8Dot === true ? 4 : null;
      reasons.push(
        `MatMul/Gemm hold ${pct(facts.matmulWeightShare)} of the weights and even at int8 they take ${fmtBytes(int8Bytes)}, more than ${pct(options.int4RamShare)} of RAM ` +
          `(${fmtBytes(basis.memoryBytes)}) → int4 weight-only (MatMulNBits, block ${options.int4BlockSize}); activations stay float`,
      );
      reasons.push(
        accuracyLevel === 4
          ? 'int8 dot product present → MatMulNBits accuracy_level 4 (activations quantized per block, int8 compute)'
          : 'no int8 dot product → MatMulNBits without accuracy_level (fp32 compute after dequantization)',
      );
      if (facts.convWeightShare > 0) reasons.push(`Conv weights (${pct(facts.convWeightShare)}) stay float: MatMulNBits covers MatMul only`);
      return {
        precision: 'int4',
        method: 'int4',
        weightType: 'int4',
        activationType: ep === 'cpu' ? 'float32' : 'float16',
        perChannel: false,
        symmetricWeights: false,
        reduceRange: false,
        int4: { blockSize: options.int4BlockSize, accuracyLevel },
        verifyOnDevice: false,
        candidates: [{ precision: 'int8', method: 'int8-dynamic', reduceRange: false, note: 'int8 dynamic, if the device has the memory to spare' }],
      };
    } else {
      reasons.push(`int8 weights (${fmtBytes(int8Bytes)}) stay below ${pct(options.int4RamShare)} of RAM (${fmtBytes(basis.memoryBytes)}) → memory does not bind; no int4`);
    }
  }

  // GPU provider.
  if (ep !== 'cpu') {
    const int8Candidate: PlanCandidate[] =
      ep === 'tensorrt' && gpu.int8 === true
        ? [{ precision: 'int8', method: 'int8', reduceRange: false, note: 'TensorRT int8 needs symmetric (zero-point 0) activations and weights; calibrate and compare with fp16' }]
        : [];
    if (gpu.fp16 === true && facts.fp16.friendly) {
      reasons.push(`${ep} GPU provider with fp16 arithmetic and fp16-friendly weights (max |w| ${facts.fp16.maxAbsWeight.toPrecision(3)}) → fp16 weights and activations`);
      return { ...keep('fp16', false, int8Candidate), method: 'fp16' };
    }
    reasons.push(gpu.fp16 === true ? `fp16 rejected on the GPU: ${facts.fp16.reason} → fp32 on ${ep}` : `GPU fp16 support unknown → fp32 on ${ep}`);
    return keep('fp32', false, int8Candidate);
  }

  const fp32Candidate: PlanCandidate = { precision: 'fp32', method: null, reduceRange: false, note: 'the unquantized model, as the reference to beat' };
  switch (basis.isa) {
    case 'arm64': {
      if (caps.int8Dot === true) {
        reasons.push(`asimddp present → int8 per-channel, s8 weights, u8 activations, ${int8Style(facts)}`);
        if (caps.i8mm === true) reasons.push('i8mm present → onnxruntime uses its SMMLA/UMMLA int8 kernels');
        const cands: PlanCandidate[] = [];
        if (caps.fp16Arith === true && facts.fp16.friendly) cands.push({ precision: 'fp16', method: 'fp16', reduceRange: false, note: 'asimdhp present; onnxruntime CPU fp16 kernels cover few ops: smaller file, speed unverified' });
        return int8Choice(facts, false, false, cands);
      }
      if (caps.fp16Arith === true && facts.fp16.friendly) {
        reasons.push('no asimddp but asimdhp present and weights are fp16-friendly → fp16; onnxruntime CPU fp16 kernels cover few ops (others run through Casts): verify on device');
        return { ...keep('fp16', true, [int8Candidate(facts, 'no int8 dot product: int8 GEMM uses widening multiplies, may not beat fp16/fp32'), fp32Candidate]), method: 'fp16' };
      }
      if (caps.int8Dot === false) {
        const fp16Note = caps.fp16Arith === true ? ` (fp16 rejected: ${facts.fp16.reason})` : '';
        reasons.push(`no asimddp (int8 dot product)${fp16Note} → int8 GEMM falls back to widening NEON multiplies and may be no faster than fp32: keep fp32, int8 is a candidate to verify on device`);
        return keep('fp32', true, [int8Candidate(facts, 'verify on device: without SDOT/UDOT int8 may be slower than fp32')]);
      }
      reasons.push('ARM CPU flags unknown → keep fp32; int8 is a candidate to verify on device');
      return keep('fp32', true, [int8Candidate(facts, 'capabilities unknown: verify on device')]);
    }
    case 'arm32': {
      reasons.push('32-bit ARM userland: onnxruntime-node ships no 32-bit ARM build and 64-bit int8/fp16 kernels are unavailable → keep fp32; install a 64-bit OS');
      return keep('fp32', true, [int8Candidate(facts, 'verify on device')]);
    }
    case 'x86': {
      if (caps.vnni === true) {
        reasons.push(`VNNI present (VPDPBUSD accumulates u8×s8 into int32 without saturation) → int8 per-channel, s8 weights, u8 activations, full 8-bit weights, ${int8Style(facts)}`);
        return int8Choice(facts, false, false);
      }
      if (caps.avx2 === true || caps.avx512 === true) {
        reasons.push(
          `${caps.avx512 === true ? 'AVX-512' : 'AVX2'} without VNNI: u8s8 VPMADDUBSW pair sums saturate int16 (2·255·127 = 64770 > 32767) → int8 with reduce_range (7-bit weights), ${int8Style(facts)}`,
        );
        reasons.push("alternative: keep 8-bit weights and set session.x64quantprecision='1' (onnxruntime rewrites them to u8u8 at load)");
        return int8Choice(facts, true, false, [{ precision: 'int8', method: int8Method(facts), reduceRange: false, note: "full 8-bit weights with session.x64quantprecision='1'" }]);
      }
      if (caps.avx2 === false) {
        reasons.push('x86 without AVX2: the SSE int8 path also uses saturating u8s8 products → int8 with reduce_range; speed unverified against fp32');
        return int8Choice(facts, true, true, [fp32Candidate]);
      }
      reasons.push('x86 CPU flags unknown → keep fp32; int8 with reduce_range is a candidate to verify on device');
      return keep('fp32', true, [{ ...int8Candidate(facts, 'capabilities unknown: verify on device'), reduceRange: true }]);
    }
    default:
      reasons.push('CPU architecture unknown → keep fp32; verify any quantization on device');
      return keep('fp32', true, [int8Candidate(facts, 'architecture unknown: verify on device')]);
  }
}

/**
 * Ops onnxruntime's CPU provider runs in float between DequantizeLinear and QuantizeLinear in a QDQ model: no QDQ
 * selector turns them into an integer kernel or drops their Q/DQ (onnxruntime 1.30
 * core/optimizer/qdq_transformer/selectors_actions/qdq_selector_action_transformer.cc). Resize is not one of them: its
 * Q/DQ are dropped and it runs on 8-bit data.
 */
export const QDQ_FLOAT_OPS: readonly string[] = ['HardSwish', 'HardSigmoid', 'ConvTranspose', 'Tanh', 'Softplus', 'Elu', 'Selu', 'Softsign', 'Erf', 'Gelu'];
/**
 * Rule of thumb: above this share of the compute nodes (float-kept nodes + Conv/Gemm/MatMul) kept float, static int8
 * is not expected to beat fp32 on the CPU provider. PP-OCR's direction classifier (MobileNetV3: HardSigmoid and
 * exported hard-swish, 33 %) ran at 0.6–0.9× of fp32 after int8 on an x86 CPU (issue 12); MobileNetV3-large is ~30 %,
 * ResNets and MobileNetV2 are 0 %.
 */
export const QDQ_FLOAT_SHARE_MAX = 0.25;
/**
 * Rule of thumb (x86 CPU provider): above this depthwise share of the Conv MACs, static int8 is not expected to beat
 * fp32. Measured here (BENCHMARKS.md, issue 12; paired, int8 vs fp32): BlazeFace 20 % → 0.73–0.81×, PP-OCR cls 30 %
 * → 0.64×; M-LSD tiny 8.5 % → 1.50×, M-LSD large 6.6 % → 1.96×, PP-OCRv4 det 4 % → 1.21–1.40×. Five models, one
 * machine: a threshold between 8.5 % and 19 %, not a law; `compress` measures and says so.
 */
export const DEPTHWISE_FLOP_SHARE_MAX = 0.15;
const RULE_OF_THUMB = "a rule of thumb from the model's ops, not a measurement: `npx edgetune tune` measures int8 against fp32 on the device";

/**
 * Why int8 is not expected to pay on the CPU provider for this model, or null. Pure. Static int8 (`method` 'int8'):
 * the share of compute nodes onnxruntime keeps float between DQ and Q (exported hard-swish `x·Clip(x+3,0,6)/6`,
 * fused into HardSwish by the int8 pass, is counted as min(#Clip, #Div); hard-swishes the int8 pass runs as int8
 * products, `int8HardSwishProducts`, and ConvTransposes it runs as QLinearConv, `int8ConvTransposes`, are not counted);
 * on x86, the depthwise share of the Conv
 * MACs (`DEPTHWISE_FLOP_SHARE_MAX`). No rule on model size: the MNIST MLP (~1 MFLOP) runs 1.9× faster in int8 on
 * this machine while BlazeFace (~391 MFLOPs) runs slower; `compress` measures.
 */
export function int8Doubt(
  facts: Pick<ModelFacts, 'opHistogram'> & Partial<Pick<ModelFacts, 'depthwiseFlopShare' | 'int8HardSwishProducts' | 'int8ConvTransposes'>>,
  method: 'int8' | 'int8-dynamic',
  isa: IsaFamily | null = null,
): string | null {
  const h = facts.opHistogram;
  if (method !== 'int8') return null;
  const depthwise = facts.depthwiseFlopShare ?? null;
  if (isa === 'x86' && depthwise !== null && depthwise > DEPTHWISE_FLOP_SHARE_MAX) {
    return (
      `depthwise convolutions do ${pct(depthwise)} of the Conv multiply-accumulates (above ${pct(DEPTHWISE_FLOP_SHARE_MAX)}): onnxruntime's x86 int8 depthwise ` +
      `kernels lose to its fp32 NCHWc ones on such models, so static int8 is not expected to beat fp32 → keep fp32; int8 stays a candidate for a smaller file (${RULE_OF_THUMB})`
    );
  }
  const kept: Array<[string, number]> = [];
  // Hard-swishes the int8 pass runs as int8 products (hardswish-product.ts) are not float islands.
  let products = facts.int8HardSwishProducts ?? 0;
  const floatHardSwish = Math.max(0, (h.HardSwish ?? 0) - products);
  products -= (h.HardSwish ?? 0) - floatHardSwish;
  // ConvTransposes the int8 pass runs as QLinearConv + DepthToSpace (conv-transpose-as-conv.ts) are convolutions.
  const int8Transposed = Math.min(h.ConvTranspose ?? 0, facts.int8ConvTransposes ?? 0);
  for (const op of QDQ_FLOAT_OPS) {
    const n = op === 'HardSwish' ? floatHardSwish : op === 'ConvTranspose' ? (h[op] ?? 0) - int8Transposed : (h[op] ?? 0);
    if (n > 0) kept.push([op, n]);
  }
  const exportedHardSwish = Math.max(0, Math.min(h.Clip ?? 0, h.Div ?? 0) - products);
  if (exportedHardSwish > 0) kept.push(['exported hard-swish (Clip+Div pairs)', exportedHardSwish]);
  const floatNodes = kept.reduce((sum, [, n]) => sum + n, 0);
  const weighted = (h.Conv ?? 0) + (h.Gemm ?? 0) + (h.MatMul ?? 0) + int8Transposed;
  const total = floatNodes + weighted;
  if (floatNodes === 0 || total === 0) return null;
  const share = floatNodes / total;
  if (share <= QDQ_FLOAT_SHARE_MAX) return null;
  return (
    `${floatNodes} of ${total} compute nodes (${pct(share)}, above ${pct(QDQ_FLOAT_SHARE_MAX)}) are ops onnxruntime's CPU provider keeps float between ` +
    `DequantizeLinear and QuantizeLinear (${kept.map(([op, n]) => `${op} ×${n}`).join(', ')}): each is a dequantize → float → quantize round trip, ` +
    `so static int8 is not expected to beat fp32 → keep fp32; int8 stays a candidate for a smaller file (${RULE_OF_THUMB})`
  );
}

/**
 * What `compress --method plan` checks on the device before keeping a quantized precision (plan-method.ts,
 * measured-precision.ts): said up front, since `edgetune plan` itself runs nothing. Null when nothing is timed.
 */
function measuredCheckReason(choice: PrecisionChoice, fp16Alternative: boolean): string | null {
  const where = '`npx edgetune compress --method plan --data DIR` run on the device itself';
  const fallback = fp16Alternative ? 'fp16 if that measures faster, else fp32' : 'fp32';
  if (choice.method === 'int8' || choice.method === 'int8-dynamic') {
    return `int8 will be verified against fp32 on the device: ${where} times both in alternation and keeps int8 only if it is faster, else ${fallback}`;
  }
  if (choice.method === 'fp16') return `fp16 will be verified against fp32 on the device: ${where} times both in alternation and keeps fp16 only if it is faster`;
  if (choice.method === null && choice.precision === 'fp32' && choice.candidates.some((c) => c.method === 'int8')) {
    return `int8 stays a candidate to measure: ${where} builds it, times it against fp32 in alternation and keeps it only if it is faster`;
  }
  return null;
}

function int8Candidate(facts: ModelFacts, note: string): PlanCandidate {
  return { precision: 'int8', method: int8Method(facts), reduceRange: false, note };
}

function gpuNoCacheFit(ep: string, reasons: string[]): { pruning: null; lowRank: null } {
  reasons.push(`pruning: the graph runs on the ${ep} GPU provider, so CPU cache sizes do not bound its working set → no cache-sized pruning`);
  return { pruning: null, lowRank: null };
}

/** Bytes per weight element of a layer at the plan's precision (int4 counts its per-block fp32 scale and zero point). */
function bytesPerWeight(layer: LayerFacts, choice: PrecisionChoice): number {
  switch (choice.precision) {
    case 'int8':
      return 1;
    case 'fp16':
      return 2;
    case 'int4':
      return layer.kind === 'matmul' || layer.kind === 'gemm' ? 0.5 + (4 + 0.5) / (choice.int4?.blockSize ?? 32) : 4;
    default:
      return layer.weightType === 'float16' ? 2 : 4;
  }
}

function planCacheFit(
  basis: PlanBasis,
  facts: ModelFacts,
  choice: PrecisionChoice,
  options: ResolvedPlanOptions,
  reasons: string[],
): { pruning: PruningPlan | null; lowRank: LowRankPlan | null } {
  const none = { pruning: null, lowRank: null };
  if (facts.layers.length === 0) return none;
  if (choice.method === null && choice.precision !== 'fp32') {
    reasons.push('pruning: the model is already quantized; prune before quantizing → no pruning planned');
    return none;
  }
  const { l1d, l2, l3 } = basis.caches;
  const cacheFrom = basis.caches.from === 'profile' ? ' (size from the device profile)' : '';
  const cap = options.maxLayerPruneRatio;
  const stored = options.weightPrecision === 'stored';
  const sized = facts.layers.map((layer) => ({ layer, bytes: stored ? layer.weightBytes : Math.ceil(layer.weightElements * bytesPerWeight(layer, choice)), sides: sidesOf(layer) }));
  const eligible = sized.filter((s) => s.sides > 0 && (s.layer.kind === 'conv' || s.layer.kind === 'gemm' || s.layer.kind === 'matmul'));
  const largest = sized.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const precisionLabel = stored ? `stored precision (${facts.weightElementType ?? 'unknown'})` : choice.precision;

  const levelSize = (level: 'l1' | 'l2' | 'l3'): number | null => (level === 'l1' ? l1d : level === 'l2' ? l2 : l3);
  const need = (bytes: number, sides: number, target: number): number => (bytes <= target ? 0 : sides === 0 ? 1 : 1 - (target / bytes) ** (1 / sides));

  let targetName: PruningPlan['targetCache'];
  let targetBytes: number;
  const requested = options.targetCache;
  if (requested !== undefined) {
    if (typeof requested === 'number') {
      targetName = 'bytes';
      targetBytes = requested;
    } else {
      const size = levelSize(requested);
      if (size === null) {
        reasons.push(`pruning: --target-cache ${requested} requested but this device has no known ${requested.toUpperCase()} → no pruning`);
        return none;
      }
      targetName = requested;
      targetBytes = size;
    }
    reasons.push(`pruning target ${targetName === 'bytes' ? `${fmtBytes(targetBytes)} (requested)` : `${targetName.toUpperCase()} ${fmtBytes(targetBytes)} (requested)${cacheFrom}`}`);
  } else {
    if (l2 === null) {
      reasons.push('pruning: L2 size unknown (no sysfs cache data and none in the profile) → no cache-sized pruning');
      return none;
    }
    const over = (target: number) => eligible.filter((s) => s.bytes > target);
    const largestEligible = eligible.reduce<(typeof eligible)[number] | null>((a, b) => (a === null || b.bytes > a.bytes ? b : a), null);
    if (largest.bytes <= l2) {
      reasons.push(`largest layer '${largest.layer.name}' is ${fmtBytes(largest.bytes)} at ${precisionLabel}, within L2 (${fmtBytes(l2)}${basis.caches.l2Shared ? ', shared' : ' per core'})${cacheFrom} → no pruning for cache fit`);
      return none;
    }
    if (largestEligible === null) {
      reasons.push(`largest layer '${largest.layer.name}' (${fmtBytes(largest.bytes)}) exceeds L2 but no layer's channels can be pruned (graph inputs/outputs on every side) → no pruning`);
      return { pruning: null, lowRank: planLowRank(sized, l2, reasons) };
    }
    const l2Need = Math.max(...over(l2).map((s) => need(s.bytes, s.sides, l2)));
    if (l2Need <= cap) {
      targetName = 'l2';
      targetBytes = l2;
    } else if (l3 !== null && l3 > l2) {
      const l3Over = over(l3);
      if (l3Over.length === 0) {
        reasons.push(
          `layers exceed L2 (${fmtBytes(l2)}) but fitting it would take ${pct(l2Need)} of their channels (cap ${pct(cap)}), and every layer already fits L3 (${fmtBytes(l3)})${cacheFrom} → no pruning`,
        );
        return none;
      }
      targetName = 'l3';
      targetBytes = l3;
      reasons.push(`fitting L2 (${fmtBytes(l2)}) would take ${pct(l2Need)} of the channels (cap ${pct(cap)}) → target the last-level cache L3 (${fmtBytes(l3)})${cacheFrom}`);
    } else {
      targetName = 'l2';
      targetBytes = l2;
      reasons.push(`fitting L2 (${fmtBytes(l2)}, the last-level cache${basis.caches.l2Shared ? ', shared' : ''})${cacheFrom} would take ${pct(l2Need)} of the channels → capped at ${pct(cap)}`);
    }
  }

  const overTarget = eligible.filter((s) => s.bytes > targetBytes);
  if (overTarget.length === 0) {
    reasons.push(`every prunable layer fits ${targetName === 'bytes' ? fmtBytes(targetBytes) : targetName.toUpperCase()} at ${precisionLabel} → no pruning`);
    return { pruning: null, lowRank: planLowRank(sized, targetBytes, reasons) };
  }
  const needed = overTarget.map((s) => need(s.bytes, s.sides, targetBytes));
  const maxNeeded = Math.max(...needed);
  const ratio = Math.min(cap, Math.ceil(maxNeeded * 100) / 100);
  const layers: PrunedLayer[] = overTarget
    .map((s, i) => {
      const after = Math.ceil(s.bytes * (1 - ratio) ** s.sides);
      return { name: s.layer.name, opType: s.layer.opType, weightBytes: s.bytes, bytesAfter: after, neededRatio: round2(needed[i]!), fits: after <= targetBytes };
    })
    .sort((a, b) => b.weightBytes - a.weightBytes);
  const top = layers[0]!;
  reasons.push(
    `${overTarget.length} prunable layer${overTarget.length === 1 ? '' : 's'} exceed${overTarget.length === 1 ? 's' : ''} ${targetName === 'bytes' ? fmtBytes(targetBytes) : `${targetName.toUpperCase()} (${fmtBytes(targetBytes)})`} at ${precisionLabel}; ` +
      `the largest, '${top.name}' (${fmtBytes(top.weightBytes)}), needs ${pct(top.neededRatio)} of its channels removed → structured pruning ratio ${ratio.toFixed(2)}` +
      (maxNeeded > cap ? ` (capped at ${pct(cap)}: ${layers.filter((l) => !l.fits).length} layer(s) still do not fit)` : ''),
  );
  reasons.push('working set = a layer\'s weights at the planned precision (activations not counted); a layer whose input and output channels both shrink loses (1−r)² of its weights');
  const channelMultiple = basis.isa === 'x86' && basis.capabilities.avx512 === true ? 16 : 8;
  const pruning: PruningPlan = { targetCache: targetName, targetBytes, ratio, maxLayerRatio: cap, channelMultiple, layers };

  // Low rank for 2-D weights that still do not fit after the capped pruning, or could not be pruned at all.
  const stillOver = sized.filter((s) => {
    const pruned = layers.find((l) => l.name === s.layer.name);
    return pruned ? !pruned.fits : s.bytes > targetBytes;
  });
  return { pruning, lowRank: choice.precision === 'int4' ? null : planLowRank(stillOver, targetBytes, reasons) };
}

/** Rank r with r·(K+N) weights fitting the target, only where r is at most half the break-even rank KN/(K+N). */
function planLowRank(candidates: Array<{ layer: LayerFacts; bytes: number }>, targetBytes: number, reasons: string[]): LowRankPlan | null {
  const layers: LowRankPlan['layers'] = [];
  for (const { layer, bytes } of candidates) {
    if ((layer.kind !== 'gemm' && layer.kind !== 'matmul') || layer.weightDims.length !== 2 || bytes <= targetBytes) continue;
    const k = layer.inChannels;
    const n = layer.outChannels;
    const bpw = bytes / (k * n);
    const breakEven = (k * n) / (k + n);
    const rank = Math.floor(targetBytes / ((k + n) * bpw) / 8) * 8;
    if (rank < 8 || rank > breakEven / 2) continue;
    layers.push({ name: layer.name, k, n, rank, bytesBefore: bytes, bytesAfter: Math.ceil(rank * (k + n) * bpw) });
  }
  if (layers.length === 0) return null;
  const first = layers[0]!;
  reasons.push(
    `${layers.length} MatMul/Gemm weight${layers.length === 1 ? '' : 's'} still exceed ${fmtBytes(targetBytes)}; a rank-${first.rank} factorisation of '${first.name}' [${first.k}×${first.n}] fits ` +
      `(break-even rank ${Math.floor((first.k * first.n) / (first.k + first.n))}) → low-rank candidate; measure accuracy`,
  );
  return { targetBytes, layers };
}

function sidesOf(layer: LayerFacts): number {
  if (layer.kind === 'grouped-conv' || layer.kind === 'depthwise-conv') return 0;
  return (layer.prunableOut ? 1 : 0) + (layer.prunableIn ? 1 : 0);
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Human-readable bytes: '512 KiB', '1.5 MiB', '3.2 GiB'. */
export function fmtBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const text = v >= 100 || Number.isInteger(v) ? Math.round(v).toString() : v.toFixed(1);
  return `${text} ${units[u]}`;
}
