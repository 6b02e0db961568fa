import { planForModel } from '../../hardware/plan-for-model.js';
import { parseTargetCache, type CompressionPlan } from '../../hardware/planner.js';
import type { ModelFacts } from '../../hardware/model-facts.js';
import { chooseMeasuredPrecision, type MeasuredPrecision, type MeasuredPrecisionName, type MeasuredSpeedup } from '../../hardware/measured-precision.js';
import { upgradeOpset } from '../../onnx/normalize.js';
import { cloneModel, defaultOpset, type OnnxModel, type Tensor } from '../../onnx/ir.js';
import { encodeModel } from '../../onnx/model-codec.js';
import { comparePairedLatency } from '../../profile/paired-latency.js';
import { detectEmulation } from '../../util/emulation.js';
import { messageOf } from '../../util/errors.js';
import { feedsForBatch, type Dataset } from '../dataset.js';
import type { PassReport } from '../pass.js';
import { syntheticDataset } from '../validation-data.js';
import type { CompressMethodRunner, MethodContext, MethodOptions, MethodOutcome } from './method-types.js';
import { loadCompressMethod } from './registry.js';

/** What `compress --method plan` measured on the device and kept (the report's `details.precisionCheck`). */
export interface PlanPrecisionCheck {
  /** The plan's precision before the measurement. */
  planned: CompressionPlan['precision'];
  /** compress METHOD that was tried (null: none, the plan keeps its precision without a variant to time). */
  tried: string | null;
  /** Quantized variants timed against fp32 (the model as it stood before quantizing) on this device. */
  measured: { int8: MeasuredSpeedup | null; fp16: MeasuredSpeedup | null };
  /** What the output holds. */
  chosen: CompressionPlan['precision'];
  reason: string;
  /** Why nothing was timed here (null: timed, or nothing to time). */
  notMeasured: string | null;
}

/**
 * `plan`: whatever `edgetune plan` chooses for this device (or `--profile`): structured pruning sized to the cache
 * when the plan asks for it and a prune pass exists, then the precision method (int8 with the plan's reduce_range
 * and per-channel choice, fp16, int4), or nothing for fp32. On the device itself (not for another profile, not
 * emulated, CPU provider) the quantized variant is timed against the fp32 model in alternation and kept only if it
 * is faster (`chooseMeasuredPrecision`); a plan that keeps fp32 by a rule of thumb has its int8 candidate timed the
 * same way when --data is given (issue 12: plan never keeps an int8 variant that measures slower than fp32).
 */
export const planMethod: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run(context) {
    const { options } = context;
    const { plan, facts } = await planForModel({
      model: context.model,
      ...(options.sysroot ? { sysroot: options.sysroot } : {}),
      ...(options.profileName ? { profileName: options.profileName } : {}),
      ...(options.targetCache ? { plan: { targetCache: parseTargetCache(options.targetCache) } } : {}),
    });
    const steps: PassReport[] = [];
    let model = context.model;
    let calibration: MethodOutcome['calibration'] = null;
    const notes = [...plan.reasons];
    if (plan.pruning && plan.pruning.ratio > 0) {
      const prune = await loadCompressMethod('prune').catch(() => undefined);
      if (prune && (!prune.needsData || context.dataset)) {
        const outcome = await prune.run({ ...context, model, options: { ...options, ratio: plan.pruning.ratio } });
        model = outcome.model;
        steps.push(outcome.report);
      } else notes.push('plan asks for structured pruning, but it needs --data (or this build has no prune pass): skipped');
    }
    const notMeasured = whyNotTimedHere(plan, options);
    let method = plan.method;
    let reduceRange = plan.reduceRange;
    if (method === 'int8' && !context.dataset) {
      notes.push('int8 static needs --data for calibration: using int8-dynamic instead');
      method = 'int8-dynamic';
    }
    // fp32 by a rule of thumb, int8 a candidate: on the device, with data, time int8 instead of trusting the rule.
    const int8Candidate = plan.method === null && plan.precision === 'fp32' ? plan.candidates.find((c) => c.method === 'int8') : undefined;
    if (int8Candidate) {
      if (context.dataset && notMeasured === null) {
        method = 'int8';
        reduceRange = int8Candidate.reduceRange;
        notes.push('the plan keeps fp32 with int8 as a candidate: int8 is built and timed against fp32 on this device, and kept only if it is faster');
      } else if (notMeasured === null) {
        notes.push('with --data, int8 (the plan\'s candidate) would be built and timed against fp32 on this device, and kept if faster');
      }
    }
    const check: PlanPrecisionCheck = { planned: plan.precision, tried: method, measured: { int8: null, fp16: null }, chosen: plan.precision, reason: '', notMeasured };
    if (method) {
      const timed = notMeasured === null && (method === 'int8' || method === 'int8-dynamic' || method === 'fp16');
      const fp32 = timed ? cloneModel(model) : null;
      const feeds = fp32 ? timingFeeds(fp32, context.dataset, notes) : null;
      const outcome = await runPrecision(context, model, method, { ...options, reduceRange, perChannel: plan.perChannel, ...(plan.int4 ? { blockSize: plan.int4.blockSize as 32 | 64 | 128 } : {}), ...(timed ? { speedCheck: false } : {}) });
      if (!fp32 || !feeds) {
        if (timed && !feeds) check.notMeasured = 'no input to time the models on';
        model = outcome.model;
        calibration = outcome.calibration ?? null;
        steps.push(outcome.report);
        check.chosen = precisionOf(method);
        check.reason = check.notMeasured
          ? `${method} not timed against fp32: ${check.notMeasured}`
          : `${method}: weight-only, chosen for memory rather than speed; not timed`;
      } else {
        const planned: 'int8' | 'fp16' | 'fp32' = plan.precision === 'int4' ? 'fp32' : plan.precision;
        const first = await timeAgainstFp32(fp32, outcome.model, feeds, notes);
        if (method === 'fp16') check.measured.fp16 = first;
        else {
          check.measured.int8 = first;
          if (first) outcome.report.details = { ...outcome.report.details, speed: { fp32P50Ms: first.fp32P50Ms, int8P50Ms: first.variantP50Ms, speedup: first.speedup, speedupCi: first.speedupCi, runs: first.runs } };
        }
        const fp16Unavailable = whyNoFp16(plan, facts);
        let decision: MeasuredPrecision = chooseMeasuredPrecision({ planned, int8: check.measured.int8, fp16Unavailable, ...(method === 'fp16' ? { fp16: first } : {}) });
        let fp16Outcome: MethodOutcome | null = method === 'fp16' ? outcome : null;
        if (decision.precision === null) {
          fp16Outcome = await runPrecision(context, cloneModel(fp32), 'fp16', options);
          check.measured.fp16 = await timeAgainstFp32(fp32, fp16Outcome.model, feeds, notes);
          decision = chooseMeasuredPrecision({ planned, int8: check.measured.int8, fp16Unavailable, fp16: check.measured.fp16 });
        }
        const chosen: MeasuredPrecisionName = decision.precision ?? 'fp32';
        check.chosen = chosen;
        check.reason = decision.reason;
        if (chosen === 'fp32') {
          model = fp32;
        } else if (chosen === 'fp16' && fp16Outcome) {
          model = fp16Outcome.model;
          steps.push(fp16Outcome.report);
        } else {
          model = outcome.model;
          calibration = outcome.calibration ?? null;
          steps.push(outcome.report);
        }
        notes.push(`measured on this device: ${decision.reason}`);
      }
    } else {
      notes.push('plan keeps fp32: no precision change applied');
      check.reason = 'plan keeps fp32; nothing to time';
    }
    const last = steps[steps.length - 1];
    return {
      model,
      calibration,
      steps,
      report: {
        pass: 'plan',
        nodesChanged: steps.reduce((n, s) => n + s.nodesChanged, 0),
        nodesKeptFloat: last?.nodesKeptFloat ?? [],
        opset: { from: steps[0]?.opset.from ?? defaultOpset(context.model), to: defaultOpset(model) },
        notes: [...notes, ...steps.flatMap((s) => s.notes)],
        details: { plan, applied: steps.map((s) => s.pass), precisionCheck: check },
      },
    };
  },
};

/** Why a quantized variant cannot be timed meaningfully here, or null when it can. */
function whyNotTimedHere(plan: CompressionPlan, options: MethodOptions): string | null {
  if (plan.basis.target !== 'this-device') return `planned for profile ${plan.profile}, not this machine: timings here are not that device's`;
  if (plan.executionProvider !== 'cpu') return `the plan runs on the ${plan.executionProvider} provider; the timing here uses the CPU provider`;
  if (options.speedCheck === false) return '--no-speed-check';
  const emulation = detectEmulation();
  if (emulation !== null) return `running emulated${emulation.emulator ? ` by ${emulation.emulator}` : ''}, whose timings are not the device's`;
  return null;
}

/**
 * Why fp16 is no alternative to an int8 that does not pay, or null: fp16 arithmetic that onnxruntime's CPU kernels
 * use (ARM asimdhp; its x86 kernels do not compute in fp16 even with AVX512-FP16) and weights that fit fp16.
 */
function whyNoFp16(plan: CompressionPlan, facts: ModelFacts): string | null {
  if (plan.basis.capabilities.fp16Arith !== true) return 'no fp16 arithmetic on this device';
  if (plan.basis.isa !== 'arm64') return `onnxruntime's ${plan.basis.isa ?? 'CPU'} kernels do not compute in fp16 (an fp16 model runs through Casts to fp32)`;
  if (!facts.fp16.friendly) return `the weights do not fit fp16: ${facts.fp16.reason}`;
  return null;
}

/** Run one precision method on `model` (upgraded to the opset it needs). */
async function runPrecision(context: MethodContext, model: OnnxModel, method: string, options: MethodOptions): Promise<MethodOutcome> {
  const runner = await loadCompressMethod(method);
  if (defaultOpset(model) < runner.minOpset) upgradeOpset(model, runner.minOpset);
  // `original` is what the variant is compared with: the model as it stands before quantizing (pruned, when pruned).
  return runner.run({ ...context, model, original: cloneModel(model), options });
}

/** The first sample of the data, else synthesized inputs (int8-dynamic without data); null when neither fits. */
function timingFeeds(model: OnnxModel, dataset: Dataset | undefined, notes: string[]): Record<string, Tensor> | null {
  try {
    return feedsForBatch(model, (dataset ?? syntheticDataset(model, 1)).load(0))[0]!.feeds;
  } catch (error) {
    notes.push(`cannot time the variant against fp32: no input for it (${messageOf(error)})`);
    return null;
  }
}

/**
 * fp32 and the variant in alternation on this device: up to 100 pairs within about 4 s, at least 10 (a sub-millisecond
 * model gets enough pairs for a narrow interval; a 100 ms one stops at the budget).
 */
async function timeAgainstFp32(fp32: OnnxModel, variant: OnnxModel, feeds: Record<string, Tensor>, notes: string[]): Promise<MeasuredSpeedup | null> {
  try {
    const r = await comparePairedLatency(encodeModel(fp32), encodeModel(variant), feeds, { warmup: 3, iterations: 100, minIterations: 10, budgetMs: 4000 });
    return { fp32P50Ms: r.aP50Ms, variantP50Ms: r.bP50Ms, speedup: r.speedup, speedupCi: r.speedupCi, runs: r.runs };
  } catch (error) {
    notes.push(`timing against fp32 failed: ${messageOf(error)}`);
    return null;
  }
}

function precisionOf(method: string): CompressionPlan['precision'] {
  return method === 'fp16' ? 'fp16' : method === 'int4' ? 'int4' : 'int8';
}
