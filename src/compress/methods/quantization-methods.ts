import { defaultOpset, type OnnxGraph, type OnnxModel } from '../../onnx/ir.js';
import { decodeModel, encodeModel } from '../../onnx/model-codec.js';
import { optimizedGraphBytes } from '../../profile/optimized-graph.js';
import { feedsForBatch, realInputs, type DataBatch } from '../dataset.js';
import { comparePairedLatency } from '../../profile/paired-latency.js';
import { analyzeFusion, describeFusion } from '../fusion-report.js';
import { runInt8Pipeline } from '../int8-pipeline.js';
import { quantizeDynamic } from '../quantize-dynamic.js';
import { quantizeFp16 } from '../quantize-fp16.js';
import { upgradeOpset } from '../../onnx/normalize.js';
import { quantizeInt4 } from '../quantize-int4.js';
import type { CompressMethodRunner, MethodOptions, MethodOutcome } from './method-types.js';
import { EdgetuneError } from '../../util/errors.js';
import { detectEmulation } from '../../util/emulation.js';

/** `int8`: static QDQ with calibration, optional mixed precision. */
export const int8Method: CompressMethodRunner = {
  minOpset: 13,
  needsData: true,
  async run({ model, original, dataset, options, onProgress, signal }) {
    const already = leaveQuantized(model, 'int8');
    if (already) return already;
    if (!dataset) throw new EdgetuneError('USAGE', 'int8 needs calibration data: --data DIR (ONNX test-data layout)');
    checkInt8Options(options);
    const result = await runInt8Pipeline(model, dataset, {
      calibration: options.calibration ?? 'auto',
      ...(options.percentile !== undefined ? { percentile: options.percentile } : {}),
      activationType: options.symmetric ? 'int8' : 'uint8',
      perChannel: options.perChannel ?? true,
      reduceRange: options.reduceRange ?? false,
      keepFloatMode: options.keepFloat ?? 'none',
      ...(options.equalize === false ? { equalize: false } : options.equalizeFloatInputs ? { equalize: 'full' as const } : {}),
      ...(options.biasCorrectionRounds !== undefined ? { biasCorrectionRounds: options.biasCorrectionRounds } : {}),
      ...(options.floatHead !== undefined ? { floatHead: options.floatHead } : {}),
      ...(options.lookupIslands === false ? { lookupIslands: false } : {}),
      ...(options.hardSwishProduct === false ? { hardSwishProduct: false } : {}),
      ...(options.convTransposeAsConv === false ? { convTransposeAsConv: false } : {}),
      ...(options.channelsLastCopies === false ? { channelsLastCopies: false } : {}),
      ...(options.pointwiseHeadAsMatMul === false ? { pointwiseHeadAsMatMul: false } : {}),
      ...(options.adaptiveRounding === false ? { adaptiveRounding: false } : {}),
      ...(options.maxAccuracyDropPp !== undefined ? { maxAccuracyDropPp: options.maxAccuracyDropPp } : {}),
      ...(options.confidence !== undefined ? { confidence: options.confidence } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
    if (result.fusedHardSwish > 0) result.report.notes.push(`${result.fusedHardSwish} hard-swish pattern(s) fused into HardSwish before quantizing`);
    if (result.foldedAffine > 0) result.report.notes.push(`${result.foldedAffine} constant Mul/Add step(s) after a Conv folded into its weights`);
    if (result.foldedBatchNorms.length > 0) result.report.notes.push(`${result.foldedBatchNorms.length} BatchNormalization node(s) folded into the Conv or ConvTranspose before them`);
    if (result.foldedPads.length > 0) result.report.notes.push(`${result.foldedPads.length} zero Pad(s) folded into the Conv(s) that read them (an 8-bit Pad op fewer each)`);
    if (result.convTransposeAsConv && result.convTransposeAsConv.rewritten.length > 0) {
      const ct = result.convTransposeAsConv;
      result.report.notes.push(`${ct.rewritten.length} ConvTranspose (kernel = stride) rewritten as a 1×1 Conv + DepthToSpace so that it runs in int8 (exact in float)${ct.movedActivations > 0 ? `; ${ct.movedActivations} Relu/Clip moved in front of the DepthToSpace` : ''}`);
    }
    if (result.pointwiseHeads && result.pointwiseHeads.length > 0) {
      result.report.notes.push(`${result.pointwiseHeads.length} float head 1×1 Conv(s) before a channels-last Transpose run as Transpose + MatMul (no layout reorders; exact up to float rounding): ${result.pointwiseHeads.join(', ')}`);
    }
    if (result.equalization) {
      const eq = result.equalization;
      const worst = eq.sites.reduce((m, site) => Math.max(m, site.spreadBefore), 1);
      result.report.notes.push(
        `channel equalization: ${eq.sites.length} tensor(s) rescaled per channel (largest channel-range spread ${worst.toFixed(1)}× before), ${eq.scaleNodes} channel-scale Mul(s) added, ${eq.skipped.length} left as they were`,
      );
    }
    if (result.adaptiveRounding?.notApplied) result.report.notes.push(`adaptive rounding: not applied — ${result.adaptiveRounding.notApplied}`);
    if (result.adaptiveRounding && result.adaptiveRounding.layers > 0) {
      const ar = result.adaptiveRounding;
      const worst = ar.perLayer.reduce((w, l) => (l.sqnrAdaptiveDb < w.sqnrAdaptiveDb ? l : w));
      if (!ar.kept) result.report.notes.push('adaptive rounding: not kept — nearest rounding judged better on the held-out calibration sets (see calibration auto)');
      else result.report.notes.push(
        `adaptive rounding: ${ar.layers} layer(s), ${ar.flipped} weight(s) rounded the other way than nearest; their output error ${(ar.meanErrorRatio * 100).toFixed(0)} % of nearest rounding's on the data; least faithful layer ${worst.node} at ${worst.sqnrAdaptiveDb.toFixed(1)} dB (nearest ${worst.sqnrNearestDb.toFixed(1)} dB)${ar.skipped.length > 0 ? `; ${ar.skipped.length} layer(s) kept nearest rounding` : ''}`,
      );
    }
    if (result.biasCorrection) {
      const bc = result.biasCorrection;
      result.report.notes.push(`bias correction: ${bc.correctedLayers} layer(s) on ${bc.samples} samples, RMS of the per-channel mean shift ${bc.meanShiftBefore.toPrecision(3)} before`);
    }
    result.report.details = {
      ...result.report.details,
      equalization: result.equalization ? { sites: result.equalization.sites.length, scaleNodes: result.equalization.scaleNodes, skipped: result.equalization.skipped.length, detail: result.equalization.sites } : null,
      adaptiveRounding: result.adaptiveRounding
        ? { kept: result.adaptiveRounding.kept, notApplied: result.adaptiveRounding.notApplied, samples: result.adaptiveRounding.samples, layers: result.adaptiveRounding.layers, flipped: result.adaptiveRounding.flipped, meanErrorRatio: result.adaptiveRounding.meanErrorRatio, skipped: result.adaptiveRounding.skipped, perLayer: result.adaptiveRounding.perLayer }
        : null,
      biasCorrection: result.biasCorrection,
      convTransposeAsConv: result.convTransposeAsConv,
      channelsLastCopies: result.channelsLastCopies,
      pointwiseHeads: result.pointwiseHeads,
      stageSeconds: result.stageSeconds,
    };
    if (result.accuracy) result.report.details = { ...result.report.details, accuracy: result.accuracy };
    // What onnxruntime makes of the QDQ model: one session at 'extended' (before x86 layout rewrites).
    // This is also the check that onnxruntime loads what we are about to write: a failure here is ours, not the input's.
    const int8Bytes = encodeModel(result.model);
    const firstBatch = dataset.load(0);
    const optimizedBytes = await optimizedGraphBytes(int8Bytes, { level: 'extended' }).catch((error: unknown) => {
      throw new EdgetuneError('PASS_FAILED', `int8 produced a model onnxruntime cannot load (nothing written): ${(error as Error).message}`, { cause: error });
    });
    const optimized = decodeModel(optimizedBytes);
    const fusion = analyzeFusion(result.model, optimized, { inputShapes: batchShapes(model, firstBatch) });
    result.report.details = { ...result.report.details, fusion };
    result.report.notes.push(describeFusion(fusion));
    // Does int8 pay here? Measured on this device: fp32 and int8 alternating on the first calibration sample.
    // Not under emulation (issue 16): the emulator's timings are not the device's.
    const emulation = options.speedCheck !== false ? detectEmulation() : null;
    if (emulation !== null) {
      result.report.notes.push(`int8 vs fp32 speed not measured: running emulated${emulation.emulator ? ` by ${emulation.emulator}` : ''}, whose timings are not the device's`);
    } else if (options.speedCheck !== false) {
      const feeds = feedsForBatch(original, firstBatch)[0]!.feeds;
      const speed = await comparePairedLatency(encodeModel(original), int8Bytes, feeds, { warmup: 2, iterations: 20, minIterations: 5, budgetMs: 4000 });
      result.report.details = { ...result.report.details, speed: { fp32P50Ms: speed.aP50Ms, int8P50Ms: speed.bP50Ms, speedup: speed.speedup, speedupCi: speed.speedupCi, runs: speed.runs } };
      result.report.notes.push(
        speed.speedup < 1
          ? `int8 is slower than fp32 on this device: ${speed.speedup.toFixed(2)}× (p50 ${speed.bP50Ms.toFixed(2)} vs ${speed.aP50Ms.toFixed(2)} ms, ${speed.runs} alternated runs); onnxruntime's int8 kernels do not pay for this model here — keep fp32 for speed (int8 still makes the file smaller)`
          : `int8 vs fp32 on this device: ${speed.speedup.toFixed(2)}× (p50 ${speed.bP50Ms.toFixed(2)} vs ${speed.aP50Ms.toFixed(2)} ms, ${speed.runs} alternated runs)`,
      );
    }
    return { model: result.model, report: result.report, calibration: result.calibration };
  },
};

/** `int8-dynamic`: runtime-quantized activations for MatMul/Gemm. */
export const int8DynamicMethod: CompressMethodRunner = {
  minOpset: 11,
  needsData: false,
  async run({ model, options }) {
    const already = leaveQuantized(model, 'int8-dynamic');
    if (already) return already;
    const keepFloat = Array.isArray(options.keepFloat) ? options.keepFloat : [];
    return quantizeDynamic(model, { ...(options.reduceRange !== undefined ? { reduceRange: options.reduceRange } : {}), perChannel: options.perChannel ?? false, keepFloat });
  },
};

/**
 * The opset below which onnxruntime's fp16 pooling kernels are missing on ARM: with fp16 arithmetic (Cortex-A76,
 * A78, Neoverse) its layout transformer rewrites a float16 MaxPool into the NHWC domain, where the CPU provider has a
 * kernel from opset 12 only (AveragePool from 11), and the session does not load. Found by the emulated arm64 lane
 * on the PaddleOCR classifier (opset 10); x86 has no fp16 kernels and never takes that path.
 */
export const FP16_POOL_MIN_OPSET = 12;

/** `fp16`: float16 weights and compute, float32 IO. */
export const fp16Method: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run({ model, options }) {
    const from = defaultOpset(model);
    const pools = from < FP16_POOL_MIN_OPSET ? model.graph.nodes.filter((n) => n.domain === '' && (n.opType === 'MaxPool' || n.opType === 'AveragePool')).length : 0;
    if (pools > 0) upgradeOpset(model, FP16_POOL_MIN_OPSET);
    const outcome = quantizeFp16(model, { keepFloat: Array.isArray(options.keepFloat) ? options.keepFloat : [] });
    if (pools > 0) {
      outcome.report.opset = { from, to: outcome.report.opset.to };
      outcome.report.notes.push(`opset ${from} → ${FP16_POOL_MIN_OPSET}: onnxruntime has no float16 kernels for ${pools} MaxPool/AveragePool node(s) of opset ${from} on ARM cores with fp16 arithmetic (the model would not load there)`);
    }
    return outcome;
  },
};

/** `int4`: weight-only MatMulNBits. */
export const int4Method: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run({ model, options }) {
    return quantizeInt4(model, { blockSize: options.blockSize ?? 32, keepFloat: Array.isArray(options.keepFloat) ? options.keepFloat : [] });
  },
};

/** Op types that mark a model as quantized already (QAT export, another tool's output, an edgetune int8 model). */
const QUANTIZED_OPS = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'ConvInteger', 'MatMulInteger', 'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul', 'QGemm', 'QAttention', 'MatMulNBits',
]);

/** Quantization ops of a graph and its subgraphs by op type (`QLinear*` included), in first-seen order. */
export function quantizationOpCounts(model: OnnxModel): Record<string, number> {
  const counts: Record<string, number> = {};
  const visit = (graph: OnnxGraph): void => {
    for (const node of graph.nodes) {
      if (node.opType.startsWith('QLinear') || QUANTIZED_OPS.has(node.opType)) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
      for (const a of node.attributes.values()) {
        if (a.type === 'graph') visit(a.value);
        else if (a.type === 'graphs') for (const g of a.value) visit(g);
      }
    }
  };
  visit(model.graph);
  return counts;
}

/**
 * An already-quantized model is left as it is: quantizing its remaining float ops would add a second layer of Q/DQ
 * (onnx-quantization.md §14.8). Returns the outcome for such a model, or null for a float model.
 */
function leaveQuantized(model: OnnxModel, pass: string): MethodOutcome | null {
  const counts = quantizationOpCounts(model);
  // Q before DQ, then the rest as found: "12 QuantizeLinear, 30 DequantizeLinear, ...".
  const rank = (op: string): number => (op === 'QuantizeLinear' ? 0 : op === 'DequantizeLinear' ? 1 : 2);
  const found = Object.entries(counts).sort((a, b) => rank(a[0]) - rank(b[0]));
  if (found.length === 0) return null;
  const opset = defaultOpset(model);
  const listed = found.map(([op, n]) => `${n} ${op}`).join(', ');
  return {
    model,
    report: {
      pass,
      nodesChanged: 0,
      nodesKeptFloat: [],
      opset: { from: opset, to: opset },
      notes: [`the model is already quantized (${listed}); left as it is`],
      details: { alreadyQuantized: counts },
    },
    calibration: null,
  };
}

/** Input shapes of a calibration batch, for the FLOP count of the fusion report. */
function batchShapes(model: OnnxModel, batch: DataBatch): Record<string, number[]> {
  const inputs = realInputs(model);
  const shapes: Record<string, number[]> = {};
  batch.inputs.forEach((t, i) => {
    const name = inputs[i]?.name;
    if (name) shapes[name] = [...t.dims];
  });
  return shapes;
}

/** The calibration methods `int8` knows (`auto`: chosen by worst-output cosine on held-out calibration sets). */
export const CALIBRATION_METHODS = ['auto', 'minmax', 'percentile', 'entropy', 'mse', 'consumer-mse'] as const;

/** Refuse int8 options the CLI would have refused too (library and agent callers skip yargs): USAGE naming the option. */
export function checkInt8Options(options: MethodOptions): void {
  if (options.calibration !== undefined && !(CALIBRATION_METHODS as readonly string[]).includes(options.calibration)) {
    throw new EdgetuneError('USAGE', `int8: calibration must be one of ${CALIBRATION_METHODS.join(', ')}, got ${JSON.stringify(options.calibration)}`);
  }
  if (options.percentile !== undefined && !(options.percentile > 50 && options.percentile <= 100)) {
    throw new EdgetuneError('USAGE', `int8: percentile must be in (50, 100], got ${options.percentile}`);
  }
  const rounds = options.biasCorrectionRounds;
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 0 && rounds <= 5)) {
    throw new EdgetuneError('USAGE', `int8: bias correction rounds must be a whole number from 0 to 5, got ${rounds}`);
  }
}
