/**
 * The ONNX backend test suite (Debian's `libonnx-testdata`) as a conformance check of `compress` (issue 19).
 *
 * Every model of the suite, for every method: onnxruntime must first run the ORIGINAL and match the recorded outputs
 * (else the model is "not applicable": onnxruntime itself fails); then `compressModelFile` runs in-process, as the
 * CLI would call it, and the outcome is classified:
 *   matched      written, loads in onnxruntime, runs on every test_data_set, every output within the method's tolerance
 *   mismatched   written and runs, but an output is beyond the method's tolerance (a defect)
 *   unusable     exit 0 with a model onnxruntime cannot load or run where the original runs, or an output file left
 *                behind by a failure (the worst outcome: the agent would deploy it)
 *   refused      a bad-input error (exit 2: MODEL_UNSUPPORTED, MODEL_INVALID, DATASET_INVALID…), nothing written
 *   misrefused   MODEL_INVALID (exit 2) for a model onnxruntime loads, runs and matches: the tool blames a valid
 *                model for a failure of its own (a defect, however clean the exit)
 *   pass-failed  PASS_FAILED (exit 1, nothing written): the floor caught a pass that produced an unusable model (a defect)
 *   gated        FIDELITY_FAILED (exit 1, nothing written): the fidelity gate refused the result
 *   crashed      any other error (RUNTIME_FAILED, a non-edgetune exception…): a defect
 *   timeout      the case ran past its time limit (set by the worker pool, scripts/lib/onnx-suite-pool.ts)
 *   unverified   not applicable, written, and onnxruntime loads it: nothing recorded to compare with
 *
 * Tolerances (per output, per test_data_set; `compareOutput`):
 *   all methods  dims and element type equal to the recorded output; NaN / ±Inf where the recorded output has them
 *   non-float    (int, bool, string) equal element for element — except sparsity / lowrank
 *   reference    the original in onnxruntime: |a − e| ≤ 1e-3·|e| + 1e-4·rms(e) + 1e-6 (the backend suite's rtol 1e-3,
 *                with an absolute term scaled to the output instead of its fixed 1e-7)
 *   fp16         |a − e| ≤ 1e-2·|e| + 1e-2·rms(e) + 1e-6: float16 rounds to 2^-11 ≈ 4.9e-4 relative, so 1e-2 leaves
 *                room for ~20 roundings through a few float16 ops, and an element small against the output's scale
 *                is judged on the scale (a float16 result cannot be better than 4.9e-4·rms relative to it)
 *   int8, int8-dynamic
 *                relative RMS error rms(a − e) / rms(e) ≤ 0.1, i.e. SQNR ≥ 20 dB (cosine ≳ 0.995): 8-bit uniform
 *                quantization of one tensor alone gives ~0.01–0.03, so 0.1 leaves room for a few quantized ops in
 *                series while a wrong scale, a wrong zero point or a saturated range is far beyond it
 *   int4         relative RMS error ≤ 0.2 (SQNR ≥ 14 dB): 4-bit block-wise weights (absmax per 32) alone give
 *                ~0.08–0.1 on Gaussian-like weights
 *   sparsity, lowrank
 *                change the function by design: only load, run, and the recorded dims and element types
 */
import { fork } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compressModelFile, type CompressFileOptions } from '../../src/compress/compress-model.js';
import { evaluateModelFiles, type EvaluateFilesResult } from '../../src/compress/evaluate-files.js';
import { profileInChild } from '../../src/profile/profile-child.js';
import { realInputs } from '../../src/compress/dataset.js';
import { DataType, dataTypeName } from '../../src/onnx/dtype.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../../src/onnx/float16.js';
import type { Tensor } from '../../src/onnx/ir.js';
import { decodeModel, decodeTensor } from '../../src/onnx/model-codec.js';
import { createInferenceRunner, type InferenceRunner } from '../../src/profile/ort-inference.js';
import { EdgetuneError, errorCodeOf, messageOf } from '../../src/util/errors.js';

/** Where Debian's `libonnx-testdata` installs the suite. */
export const SUITE_ROOT = '/usr/share/libonnx-testdata/data';

/** One model of the suite: `id` is `<category>/<test>` (e.g. `node/test_abs`). */
export interface SuiteModel {
  id: string;
  dir: string;
  modelPath: string;
  sizeBytes: number;
}

/** The suite's models in a fixed order (category, then test name), and the test directories without a model.onnx. */
export interface SuiteListing {
  models: SuiteModel[];
  /** `real/` ships only download links (data.json): listed here, not run. */
  withoutModel: string[];
}

/** List the suite's models, sorted by id (a stable order: the rotation sample of the test lane depends on it). */
export function listSuiteModels(root: string = SUITE_ROOT): SuiteListing {
  const models: SuiteModel[] = [];
  const withoutModel: string[] = [];
  for (const category of readdirSync(root).sort()) {
    const categoryDir = join(root, category);
    if (!statSync(categoryDir).isDirectory()) continue;
    for (const test of readdirSync(categoryDir).sort()) {
      const dir = join(categoryDir, test);
      if (!statSync(dir).isDirectory()) continue;
      const modelPath = join(dir, 'model.onnx');
      if (existsSync(modelPath)) models.push({ id: `${category}/${test}`, dir, modelPath, sizeBytes: statSync(modelPath).size });
      else withoutModel.push(`${category}/${test}`);
    }
  }
  return { models, withoutModel };
}

/** The methods the lane and the script run, with the options the CLI would give them. */
export const COMPRESS_METHODS = ['fp16', 'int8-dynamic', 'int4', 'sparsity', 'lowrank', 'int8'] as const;
/** One of COMPRESS_METHODS. */
export type CompressMethod = (typeof COMPRESS_METHODS)[number];
/**
 * The other commands checked on every model: `profile` on synthesized inputs (a result, or a refusal with a
 * reason), `eval --reference` of the model against itself on its recorded data (perfect fidelity on every float
 * output: cosine 1, no error).
 */
export const COMMAND_CHECKS = ['profile', 'eval'] as const;
/** Everything the lane runs per model. */
export const SUITE_METHODS = [...COMPRESS_METHODS, ...COMMAND_CHECKS] as const;
/** One of SUITE_METHODS. */
export type SuiteMethod = (typeof SUITE_METHODS)[number];

/** What the tolerance of a method is (see the file comment). */
export type ToleranceRule = 'reference' | 'fp16' | 'int8' | 'int4' | 'shape';

/** The comparison rule of each method. */
export const METHOD_RULE: Record<CompressMethod, ToleranceRule> = {
  fp16: 'fp16',
  'int8-dynamic': 'int8',
  int8: 'int8',
  int4: 'int4',
  sparsity: 'shape',
  lowrank: 'shape',
};

/** Relative RMS error allowed by the quantizing rules. */
export const RELATIVE_RMS_LIMIT = { int8: 0.1, int4: 0.2 } as const;

/**
 * `compressModelFile` options for one method: the CLI's defaults (calibration minmax, per-channel, asymmetric,
 * equalization, one bias-correction round, float head, confidence 0.95, fidelity gate on), sparsity at ratio 0.5,
 * lowrank at energy 0.95, int8 calibrated on the model's own test_data_set_* (the dataset layout already), and no
 * speed check (timing is not what is tested).
 */
export function methodOptions(method: CompressMethod, model: SuiteModel, outputPath: string): CompressFileOptions {
  return {
    inputPath: model.modelPath,
    outputPath,
    method,
    calibration: 'minmax',
    percentile: 99.999,
    perChannel: true,
    symmetric: false,
    confidence: 0.95,
    force: false,
    noHoldout: false,
    equalize: true,
    equalizeFloatInputs: false,
    biasCorrectionRounds: 1,
    floatHead: true,
    speedCheck: false,
    ...(method === 'int8' ? { dataDir: model.dir } : {}),
    ...(method === 'sparsity' ? { ratio: 0.5 } : {}),
    ...(method === 'lowrank' ? { energy: 0.95 } : {}),
  };
}

/** One test_data_set_N: inputs in the order of the model's non-initializer inputs, recorded outputs in output order. */
export interface RecordedSet {
  name: string;
  inputs: Tensor[];
  outputs: Tensor[];
}

const SET_PATTERN = /^test_data_set_(\d+)$/;

/** Read every test_data_set_N of a model directory (throws when a file is not a TensorProto: sequences, optionals). */
export function readRecordedSets(dir: string): RecordedSet[] {
  const names = readdirSync(dir)
    .filter((n) => SET_PATTERN.test(n))
    .sort((a, b) => Number(SET_PATTERN.exec(a)![1]) - Number(SET_PATTERN.exec(b)![1]));
  return names.map((name) => {
    const files = new Set(readdirSync(join(dir, name)));
    const read = (prefix: string): Tensor[] => {
      const tensors: Tensor[] = [];
      for (let k = 0; files.has(`${prefix}_${k}.pb`); k++) {
        try {
          tensors.push(decodeTensor(readFileSync(join(dir, name, `${prefix}_${k}.pb`))));
        } catch (error) {
          throw new Error(`${name}/${prefix}_${k}.pb is not a tensor (${messageOf(error)})`);
        }
      }
      return tensors;
    };
    return { name, inputs: read('input'), outputs: read('output') };
  });
}

/** Input and output names of a model file, in graph order (initializers listed as inputs excluded). */
export function modelSignature(modelBytes: Uint8Array): { inputs: string[]; outputs: string[] } {
  const model = decodeModel(modelBytes);
  return { inputs: realInputs(model).map((i) => i.name), outputs: model.graph.outputs.map((o) => o.name) };
}

/** Whether onnxruntime runs the original and matches the recorded outputs; `reason` says why not. */
export interface OriginalCheck {
  applicable: boolean;
  reason: string;
  sets: number;
}

/** Run the original in onnxruntime on every recorded set and compare with the recorded outputs (rule 'reference'). */
export async function checkOriginal(model: SuiteModel): Promise<OriginalCheck> {
  let sets: RecordedSet[];
  let signature: { inputs: string[]; outputs: string[] };
  try {
    const bytes = readFileSync(model.modelPath);
    signature = modelSignature(bytes);
    sets = readRecordedSets(model.dir);
  } catch (error) {
    return { applicable: false, reason: `cannot read the model or its data: ${messageOf(error)}`, sets: 0 };
  }
  if (sets.length === 0) return { applicable: false, reason: 'no test_data_set_N', sets: 0 };
  let runner: InferenceRunner;
  try {
    runner = await createInferenceRunner(readFileSync(model.modelPath), { intraOpNumThreads: 1 });
  } catch (error) {
    return { applicable: false, reason: `onnxruntime cannot load the original: ${messageOf(error)}`, sets: sets.length };
  }
  try {
    const verdict = await runAndCompare(runner, signature, sets, 'reference');
    if (verdict.failure) return { applicable: false, reason: `onnxruntime on the original: ${verdict.failure}`, sets: sets.length };
    return { applicable: true, reason: '', sets: sets.length };
  } finally {
    await runner.release();
  }
}

/** The outcome of one (model, method) case. */
export type CaseOutcome = 'matched' | 'mismatched' | 'unusable' | 'refused' | 'misrefused' | 'pass-failed' | 'gated' | 'crashed' | 'timeout' | 'unverified';

/** One (model, method) case, as data. */
export interface CaseResult {
  model: string;
  method: string;
  /** onnxruntime runs the original and matches the recorded outputs. */
  applicable: boolean;
  outcome: CaseOutcome;
  /** The error code of a failure, else null. */
  code: string | null;
  /** The failure's message, the mismatch figures, or (matched) the worst figure. */
  message: string;
  /** nodesChanged of the compress report (written outputs), else null. */
  nodesChanged: number | null;
  seconds: number;
}

/**
 * Run one method on one model in this process and classify the outcome (see the file comment). `workDir` receives
 * the output, which is removed afterwards.
 */
export async function runCase(model: SuiteModel, method: SuiteMethod, original: OriginalCheck, workDir: string): Promise<CaseResult> {
  if (method === 'profile') return runProfileCase(model, original);
  if (method === 'eval') return runEvalCase(model, original);
  const started = performance.now();
  const outputPath = join(workDir, `${model.id.replace(/[^A-Za-z0-9_.-]+/g, '_')}.${method}.onnx`);
  rmSync(outputPath, { force: true });
  const result = (outcome: CaseOutcome, code: string | null, message: string, nodesChanged: number | null = null): CaseResult => ({
    model: model.id,
    method,
    applicable: original.applicable,
    outcome,
    code,
    message,
    nodesChanged,
    seconds: (performance.now() - started) / 1000,
  });
  let nodesChanged: number;
  try {
    nodesChanged = (await compressModelFile(methodOptions(method, model, outputPath))).nodesChanged;
  } catch (error) {
    const code = errorCodeOf(error);
    const message = error instanceof EdgetuneError ? error.message : firstLines(error);
    if (existsSync(outputPath)) {
      rmSync(outputPath, { force: true });
      return result('unusable', code, `failed (${message} [${code}]) but left ${outputPath} behind`);
    }
    if (code === 'MODEL_INVALID' && original.applicable) return result('misrefused', code, message);
    if (error instanceof EdgetuneError && error.isBadInput) return result('refused', code, message);
    if (code === 'PASS_FAILED') return result('pass-failed', code, message);
    if (code === 'FIDELITY_FAILED') return result('gated', code, message);
    return result('crashed', code, message);
  }
  try {
    const verdict = await verifyOutput(model, outputPath, original, METHOD_RULE[method]);
    return result(verdict.outcome, null, verdict.message, nodesChanged);
  } finally {
    rmSync(outputPath, { force: true });
  }
}

/** How a command's failure is classified (the compress cases add the output-file checks). */
function classifyFailure(error: { code: string; message: string; badInput: boolean }, applicable: boolean): CaseOutcome {
  if (error.code === 'MODEL_INVALID' && applicable) return 'misrefused';
  if (error.badInput) return 'refused';
  return 'crashed';
}

/**
 * `edgetune profile MODEL` as the CLI runs it (in a child process), on synthesized inputs, with few runs: a result
 * with a finite positive p50, or a refusal (exit 2) with a reason. MODEL_INVALID on a model onnxruntime runs on its
 * recorded data is a misrefusal: synthesized inputs the model cannot take are the tool's problem to name, not the
 * model's fault.
 */
async function runProfileCase(model: SuiteModel, original: OriginalCheck): Promise<CaseResult> {
  const started = performance.now();
  const done = (outcome: CaseOutcome, code: string | null, message: string): CaseResult => ({
    model: model.id, method: 'profile', applicable: original.applicable, outcome, code, message, nodesChanged: null, seconds: (performance.now() - started) / 1000,
  });
  const outcome = await profileInChild({ modelPath: model.modelPath, iterations: 3, warmup: 1, threads: 1, energy: 'off', baselineMs: 0, energyMinDurationMs: 0, timeLimitMs: 60_000 });
  if (outcome.state === 'failed') {
    const { code, message } = outcome.error;
    return done(classifyFailure({ code, message, badInput: new EdgetuneError(code, message).isBadInput }, original.applicable), code, message);
  }
  const p50 = outcome.result.latencyMs.p50;
  if (!(Number.isFinite(p50) && p50 > 0)) return done('mismatched', null, `profile succeeded with a p50 of ${p50} ms`);
  return done('matched', null, `p50 ${p50.toFixed(3)} ms`);
}

/**
 * `edgetune eval MODEL --data DIR --reference MODEL` on the model's own recorded data: every numeric output must
 * compare perfectly with itself (cosine 1 within 1e-6, zero max error); non-numeric outputs are not scored.
 */
async function runEvalCase(model: SuiteModel, original: OriginalCheck): Promise<CaseResult> {
  const started = performance.now();
  const done = (outcome: CaseOutcome, code: string | null, message: string): CaseResult => ({
    model: model.id, method: 'eval', applicable: original.applicable, outcome, code, message, nodesChanged: null, seconds: (performance.now() - started) / 1000,
  });
  let result: EvaluateFilesResult;
  try {
    result = await evaluateModelFiles({ modelPath: model.modelPath, dataDir: model.dir, referencePath: model.modelPath, confidence: 0 });
  } catch (error) {
    const code = errorCodeOf(error);
    const message = error instanceof EdgetuneError ? error.message : firstLines(error);
    return done(classifyFailure({ code, message, badInput: error instanceof EdgetuneError && error.isBadInput }, original.applicable), code, message);
  }
  const outputs = result.outputs ?? [];
  const imperfect = outputs.filter((o) => !(Math.abs(o.cosine - 1) <= 1e-6 && o.maxAbsError === 0));
  if (imperfect.length > 0) {
    const o = imperfect[0]!;
    return done('mismatched', null, `output '${o.name}' against itself: cosine ${o.cosine}, max error ${o.maxAbsError}, SQNR ${o.sqnrDb} dB`);
  }
  if (result.collapsed.length > 0) return done('mismatched', null, `against itself, reported collapsed: ${result.collapsed.join('; ')}`);
  return done('matched', null, `${outputs.length} output(s) compared on ${result.samples} sample(s): cosine 1, no error`);
}

async function verifyOutput(model: SuiteModel, outputPath: string, original: OriginalCheck, rule: ToleranceRule): Promise<{ outcome: CaseOutcome; message: string }> {
  let runner: InferenceRunner;
  const bytes = readFileSync(outputPath);
  try {
    runner = await createInferenceRunner(bytes, { intraOpNumThreads: 1 });
  } catch (error) {
    return { outcome: 'unusable', message: `exit 0, but onnxruntime cannot load the output: ${messageOf(error)}` };
  }
  try {
    if (!original.applicable) return { outcome: 'unverified', message: 'written and loads; the original does not run or match in onnxruntime' };
    // The names of the ORIGINAL: input_K feeds its K-th input, output_K is its K-th output; the output must keep them.
    const signature = modelSignature(readFileSync(model.modelPath));
    const verdict = await runAndCompare(runner, signature, readRecordedSets(model.dir), rule);
    if (verdict.runFailure) return { outcome: 'unusable', message: `exit 0, but the output does not run where the original runs: ${verdict.failure}` };
    if (verdict.failure) return { outcome: 'mismatched', message: verdict.failure };
    return { outcome: 'matched', message: verdict.worst };
  } finally {
    await runner.release();
  }
}

/** Run a model on the recorded sets and compare; the first failure in words, or the worst figure when all pass. */
async function runAndCompare(
  runner: InferenceRunner,
  signature: { inputs: string[]; outputs: string[] },
  sets: RecordedSet[],
  rule: ToleranceRule,
): Promise<{ failure: string | null; runFailure: boolean; worst: string }> {
  let worst = { score: -1, text: '' };
  for (const set of sets) {
    if (set.inputs.length !== signature.inputs.length) {
      return { failure: `${set.name} has ${set.inputs.length} input file(s), the model ${signature.inputs.length} input(s)`, runFailure: false, worst: '' };
    }
    const feeds: Record<string, Tensor> = {};
    set.inputs.forEach((t, k) => (feeds[signature.inputs[k]!] = { ...t, name: signature.inputs[k]! }));
    let outputs: Map<string, Tensor>;
    try {
      outputs = await runner.run(feeds, signature.outputs);
    } catch (error) {
      return { failure: `${set.name}: ${messageOf(error)}`, runFailure: true, worst: '' };
    }
    for (let k = 0; k < set.outputs.length && k < signature.outputs.length; k++) {
      const name = signature.outputs[k]!;
      const actual = outputs.get(name);
      if (!actual) return { failure: `${set.name}: output '${name}' missing`, runFailure: false, worst: '' };
      const c = compareOutput(actual, set.outputs[k]!, rule);
      if (!c.ok) return { failure: `${set.name} output '${name}': ${c.detail}`, runFailure: false, worst: '' };
      if (c.score > worst.score) worst = { score: c.score, text: `${set.name} output '${name}': ${c.detail}` };
    }
  }
  return { failure: null, runFailure: false, worst: worst.text };
}

/** Verdict of one output against its recorded value: `score` grows with the error (for "worst" reporting). */
export interface OutputComparison {
  ok: boolean;
  detail: string;
  score: number;
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** Compare an output with its recorded value under a tolerance rule (see the file comment). */
export function compareOutput(actual: Tensor, expected: Tensor, rule: ToleranceRule): OutputComparison {
  const shape = (t: Tensor): string => `${dataTypeName(t.dataType)}[${t.dims.join(',')}]`;
  if (actual.dataType !== expected.dataType || actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return { ok: false, detail: `is ${shape(actual)}, recorded ${shape(expected)}`, score: Infinity };
  }
  if (rule === 'shape') return { ok: true, detail: `${shape(actual)} as recorded`, score: 0 };
  if (!FLOAT_TYPES.has(expected.dataType)) {
    const a = actual.values as ArrayLike<unknown>;
    const e = expected.values as ArrayLike<unknown>;
    for (let i = 0; i < e.length; i++) {
      if (a[i] !== e[i]) return { ok: false, detail: `element ${i} is ${String(a[i])}, recorded ${String(e[i])} (${dataTypeName(expected.dataType)}: exact match required)`, score: Infinity };
    }
    return { ok: true, detail: 'exact', score: 0 };
  }
  const a = floatValues(actual);
  const e = floatValues(expected);
  let sumE2 = 0;
  let finite = 0;
  for (let i = 0; i < e.length; i++) {
    const x = e[i]!;
    if (Number.isFinite(x)) {
      sumE2 += x * x;
      finite++;
    } else if (!(Number.isNaN(x) ? Number.isNaN(a[i]!) : a[i] === x)) {
      return { ok: false, detail: `element ${i} is ${a[i]}, recorded ${x}`, score: Infinity };
    }
  }
  const rms = finite > 0 ? Math.sqrt(sumE2 / finite) : 0;
  if (rule === 'int8' || rule === 'int4') {
    let sumD2 = 0;
    for (let i = 0; i < e.length; i++) {
      if (!Number.isFinite(e[i]!)) continue;
      const d = a[i]! - e[i]!;
      sumD2 += d * d;
    }
    const rmsDiff = finite > 0 ? Math.sqrt(sumD2 / finite) : 0;
    if (Number.isNaN(rmsDiff)) return { ok: false, detail: 'NaN where the recorded output is finite', score: Infinity };
    const limit = RELATIVE_RMS_LIMIT[rule];
    const relative = rms > 0 ? rmsDiff / rms : rmsDiff > 1e-6 ? Infinity : 0;
    const detail = `relative RMS error ${relative.toPrecision(3)} (limit ${limit}; recorded rms ${rms.toPrecision(3)})`;
    return { ok: relative <= limit, detail, score: relative };
  }
  const [rtol, atolScale] = rule === 'fp16' ? [1e-2, 1e-2] : [1e-3, 1e-4];
  const atol = atolScale * rms + 1e-6;
  let worstRatio = 0;
  let worstIndex = -1;
  for (let i = 0; i < e.length; i++) {
    if (!Number.isFinite(e[i]!)) continue;
    const err = Math.abs(a[i]! - e[i]!);
    const ratio = Number.isNaN(err) ? Infinity : err / (atol + rtol * Math.abs(e[i]!));
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
    }
  }
  const at = worstIndex >= 0 ? `element ${worstIndex} ${a[worstIndex]} vs recorded ${e[worstIndex]}` : 'no error';
  const detail = `worst error ${worstRatio.toPrecision(3)}× the tolerance (rtol ${rtol}, atol ${atolScale}·rms ${rms.toPrecision(3)}): ${at}`;
  return { ok: worstRatio <= 1, detail, score: worstRatio };
}

function floatValues(t: Tensor): Float64Array {
  const v = t.values as ArrayLike<number>;
  const out = new Float64Array(v.length);
  if (t.dataType === DataType.FLOAT16) for (let i = 0; i < v.length; i++) out[i] = float16BitsToFloat32(v[i]!);
  else if (t.dataType === DataType.BFLOAT16) for (let i = 0; i < v.length; i++) out[i] = bfloat16BitsToFloat32(v[i]!);
  else for (let i = 0; i < v.length; i++) out[i] = v[i]!;
  return out;
}

function firstLines(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const at = (error.stack ?? '').split('\n').find((l) => l.trim().startsWith('at '));
  return `${error.name}: ${error.message}${at ? ` (${at.trim()})` : ''}`;
}

/** Per-method counts of a run. */
export interface MethodTally {
  method: string;
  cases: number;
  notApplicable: number;
  applicable: number;
  matched: number;
  /** Matched cases where the method changed at least one node (the rest pass through unchanged). */
  matchedChanged: number;
  mismatched: number;
  unusable: number;
  refused: number;
  misrefused: number;
  passFailed: number;
  gated: number;
  crashed: number;
  timeout: number;
  /** Not-applicable models: outcomes (crashes there are defects too). */
  notApplicableOutcomes: Partial<Record<CaseOutcome, number>>;
  /** Refusals of applicable models grouped by message prefix, most frequent first. */
  refusalReasons: Array<{ reason: string; count: number; example: string }>;
}

/** Failures that are defects: everything but matched, refused and (on not-applicable models) unverified. */
export function isDefect(r: CaseResult): boolean {
  if (r.outcome === 'matched' || r.outcome === 'refused' || r.outcome === 'unverified') return false;
  // On a model onnxruntime itself does not run or match, only a crash, a timeout or an unusable output is the pass's
  // (and a MODEL_INVALID there may be true).
  if (!r.applicable) return r.outcome === 'crashed' || r.outcome === 'timeout' || r.outcome === 'unusable';
  return true;
}

/**
 * A refusal message reduced to its reason: quoted names, numbers and paths replaced, cut at the first detail, so
 * that "fp16: Unique 'u1' output 0 …" and "fp16: Unique 'u7' output 1 …" group together.
 */
export function refusalReason(message: string): string {
  return message
    .replace(/(^|[\s(=])\/[^\s'"`,;:)]+/g, '$1…')
    .replace(/'[^']*'/g, "'…'")
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\[[^\]]*\]/g, '[…]')
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .slice(0, 110);
}

/** Tally the results of one method. */
export function tallyMethod(method: string, results: readonly CaseResult[]): MethodTally {
  const mine = results.filter((r) => r.method === method);
  const applicable = mine.filter((r) => r.applicable);
  const count = (o: CaseOutcome): number => applicable.filter((r) => r.outcome === o).length;
  const notApplicableOutcomes: Partial<Record<CaseOutcome, number>> = {};
  for (const r of mine) if (!r.applicable) notApplicableOutcomes[r.outcome] = (notApplicableOutcomes[r.outcome] ?? 0) + 1;
  const groups = new Map<string, { count: number; example: string }>();
  for (const r of applicable) {
    if (r.outcome !== 'refused') continue;
    const reason = `${refusalReason(r.message)} [${r.code}]`;
    const g = groups.get(reason) ?? { count: 0, example: `${r.model}: ${r.message}` };
    g.count++;
    groups.set(reason, g);
  }
  return {
    method,
    cases: mine.length,
    notApplicable: mine.length - applicable.length,
    applicable: applicable.length,
    matched: count('matched'),
    matchedChanged: applicable.filter((r) => r.outcome === 'matched' && (r.nodesChanged ?? 0) > 0).length,
    mismatched: count('mismatched'),
    unusable: count('unusable'),
    refused: count('refused'),
    misrefused: count('misrefused'),
    passFailed: count('pass-failed'),
    gated: count('gated'),
    crashed: count('crashed'),
    timeout: count('timeout'),
    notApplicableOutcomes,
    refusalReasons: [...groups].map(([reason, g]) => ({ reason, ...g })).sort((x, y) => y.count - x.count || x.reason.localeCompare(y.reason)),
  };
}

/** A job of the worker process: one model, the methods still to run on it, its original check when known. */
export interface SuiteJob {
  model: SuiteModel;
  methods: SuiteMethod[];
  original: OriginalCheck | null;
  workDir: string;
}

/** Messages of the worker process (scripts/lib/onnx-suite-worker.ts) to the pool. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'original'; check: OriginalCheck }
  | { type: 'start'; method: SuiteMethod | 'original' }
  | { type: 'case'; result: CaseResult }
  | { type: 'done' };

/** Caller input for runSuite. */
export interface SuiteRunOptions {
  methods: readonly SuiteMethod[];
  /** Scratch directory: outputs (removed after each case) and the workers' working directory. */
  workDir: string;
  /** Worker processes (default 2). */
  workers?: number;
  /** Limit of one case (the original check counts as one); past it the worker is killed and the case is a timeout. */
  caseTimeoutMs?: number;
  /** A worker is replaced after this many models (bounds what a leak can grow to; default 150). */
  modelsPerWorker?: number;
  onResult?: (result: CaseResult, done: number, total: number) => void;
}

/** What a run found: every case, and the original check of every model. */
export interface SuiteRun {
  results: CaseResult[];
  originals: Record<string, OriginalCheck>;
  seconds: number;
}

const STDERR_TAIL_BYTES = 1500;

/**
 * Run the methods on the models in worker processes (each case in-process there, through `runCase`): a native crash
 * or a hang takes down one worker, is recorded against the case it was running (crashed / timeout), and the model's
 * remaining methods go to a fresh worker.
 */
export async function runSuite(models: readonly SuiteModel[], options: SuiteRunOptions): Promise<SuiteRun> {
  const started = performance.now();
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const workerPath = join(fileURLToPath(new URL('.', import.meta.url)), 'onnx-suite-worker.ts');
  const timeoutMs = options.caseTimeoutMs ?? 120_000;
  const perWorker = options.modelsPerWorker ?? 150;
  const queue: SuiteJob[] = models.map((model) => ({ model, methods: [...options.methods], original: null, workDir: options.workDir }));
  const total = models.length * options.methods.length;
  const results: CaseResult[] = [];
  const originals: Record<string, OriginalCheck> = {};
  const record = (r: CaseResult): void => {
    results.push(r);
    options.onResult?.(r, results.length, total);
  };

  const runWorker = (): Promise<void> =>
    new Promise((resolve) => {
      const child = fork(workerPath, [], { execArgv: ['--import', tsx], cwd: options.workDir, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let stderrTail = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-STDERR_TAIL_BYTES)));
      let job: SuiteJob | null = null;
      let current: { method: SuiteMethod | 'original'; since: number } | null = null;
      let timer: NodeJS.Timeout | null = null;
      let timedOut = false;
      let served = 0;
      const next = (): void => {
        job = served < perWorker ? (queue.shift() ?? null) : null;
        if (!job) {
          child.disconnect();
          return;
        }
        served++;
        child.send(job);
      };
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') return next();
        if (!job) return;
        if (m.type === 'start') {
          current = { method: m.method, since: performance.now() };
          if (timer) clearTimeout(timer);
          timer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, timeoutMs);
        } else if (m.type === 'original') {
          job.original = m.check;
          originals[job.model.id] = m.check;
        } else if (m.type === 'case') {
          job.methods = job.methods.filter((x) => x !== m.result.method);
          current = null;
          if (timer) clearTimeout(timer);
          record(m.result);
        } else if (m.type === 'done') {
          job = null;
          next();
        }
      });
      child.on('exit', (code, signal) => {
        if (timer) clearTimeout(timer);
        if (job) {
          // Died with a job: the case it was running is charged with it; the model's other methods go back in the queue.
          const died = timedOut ? `timed out after ${timeoutMs / 1000} s` : `worker died (${signal ?? `exit ${code}`})${stderrTail ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
          const failed: SuiteJob = job;
          const what = current?.method ?? failed.methods[0];
          const seconds = current ? (performance.now() - current.since) / 1000 : 0;
          if (what === undefined) return resolve(); // between its last case and 'done': nothing was running
          if (what === 'original' || !failed.original) {
            failed.original = { applicable: false, reason: `onnxruntime on the original: ${died}`, sets: 0 };
            originals[failed.model.id] = failed.original;
          }
          if (what !== 'original') {
            record({ model: failed.model.id, method: what, applicable: failed.original.applicable, outcome: timedOut ? 'timeout' : 'crashed', code: timedOut ? 'TIMEOUT' : 'CRASH', message: died, nodesChanged: null, seconds });
            failed.methods = failed.methods.filter((x) => x !== what);
          }
          if (failed.methods.length > 0) queue.unshift(failed);
        }
        resolve();
      });
    });

  const lane = async (): Promise<void> => {
    while (queue.length > 0) await runWorker();
  };
  await Promise.all(Array.from({ length: Math.max(1, options.workers ?? 2) }, lane));
  return { results, originals, seconds: (performance.now() - started) / 1000 };
}
