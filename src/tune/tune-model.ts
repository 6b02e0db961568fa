/**
 * `tuneModel`: which variant of this model should this device run, decided by measuring. Candidates from the plan
 * and its neighbours are built (step by step, each step's file cached), checked for fidelity on the data (those
 * that miss the accuracy bound are dropped before profiling), profiled in a child process, and kept in the tune
 * store as they finish; the front over (latency, accuracy drop, size, energy) and the choice by objective follow.
 * A failing candidate is recorded with its reason and the search goes on; an interrupted tune continues.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compressModelFile, type CompressReport } from '../compress/compress-model.js';
import { openDataset, realInputs } from '../compress/dataset.js';
import { evaluateModelFiles } from '../compress/evaluate-files.js';
import { declaredOutputs } from '../compress/evaluate.js';
import { distillDetectorHeads } from '../compress/distill-detector.js';
import { objectShortage } from '../compress/detection-objects.js';
import type { OnnxModel } from '../onnx/ir.js';
import { isImageFolder } from '../detect/image-folder.js';
import { checkLabelsInData, prepareDetectionData } from '../detect/image-dataset.js';
import { openImageFolder } from '../detect/image-folder.js';
import type { CocoLabels } from '../detect/coco-eval.js';
import { loadDetectionTask, type DetectionTaskFiles } from '../detect/load-detection-task.js';
import type { DetectionTask } from '../detect/detection-task.js';
import { DEFAULT_CONFIDENCE, type FidelityMetrics } from '../compress/fidelity.js';
import { accuracyMetricLabel, checkBound, identityJudgement, judgeAccuracy, judgedOnLabel, type AccuracyJudgement, type JudgedOn } from '../compress/accuracy-judgement.js';
import { datasetOverlap, splitDatasetToDirs } from '../compress/dataset-split.js';
import { isConfidenceLevel } from '../compress/confidence.js';
import { checkValidationData, type SplitSummary } from '../compress/validation-data.js';
import { availableCompressMethods, loadCompressMethod } from '../compress/methods/registry.js';
import { detectHardware } from '../hardware/detect-hardware.js';
import { planForModel, type PlanForModelResult } from '../hardware/plan-for-model.js';
import { validateGraph } from '../onnx/graph.js';
import { loadModelFile, saveModelFile } from '../onnx/model-file.js';
import { distillHead } from '../compress/distill.js';
import { peaksFromFigures, powerModelFromFigures } from '../profile/device-figures.js';
import { profileInChild } from '../profile/profile-child.js';
import type { ProfileOptions } from '../profile/profile-types.js';
import { TuneStore } from '../store/tune-store.js';
import { requireOutputDirectory, writeFileAtomic } from '../util/atomic-file.js';
import { EdgetuneError, errorCodeOf, messageOf, type ErrorCode } from '../util/errors.js';
import { candidateSpace, type AvailableMethod, type CandidateSpec, type CandidateStep } from './candidate-space.js';
import { fmtMs, fmtPp, fmtSize } from './pareto.js';
import { latencyIntervalMs, selectCandidate, validateConstraints, type SelectablePoint, type TuneConstraints } from './select-candidate.js';
import { ReferenceOutputs } from './reference-outputs.js';
import { renderTuneReport, reportFormatOf } from './tune-report.js';
import type { CandidateAccuracy, CandidateDetection, CandidateMeasurement, CandidateResult, CandidateState, TuneCandidateJson, TuneOptions, TuneResult } from './tune-types.js';

/** Bumped when stored results of an older edgetune must not be reused. */
export const TUNE_FORMAT_VERSION = 2;
/** Without --max-accuracy-drop, a chosen candidate that loses at least this much (pp) gets a warning first in the notes. */
export const UNBOUNDED_DROP_WARNING_PP = 5;
/** A candidate that beats the original on the labels while disagreeing with it on more than this share (pp) is suspect. */
export const SUSPECT_DISAGREEMENT_PP = 5;

const PROFILE_DEFAULTS = { iterations: 30, warmup: 5, batchSize: 1, baselineMs: 1000, energyMinDurationMs: 1000, timeLimitMs: 300_000, memoryLimitBytes: 2048 * 1024 * 1024 };
/** A candidate whose run was cut this many times (the process died under it) is not tried again. */
const MAX_ATTEMPTS = 2;

/** Canonical JSON: object keys sorted, undefined dropped (for keys and hashes). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** sha256 over a dataset directory: every file's relative path and content, in sorted order. */
export function fingerprintDirectory(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        hash.update(`${relative(dir, p)}\0${st.size}\0`);
        hash.update(readFileSync(p));
      }
    }
  };
  walk(dir);
  return hash.digest('hex');
}

function positiveInt(name: string, v: number | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new EdgetuneError('USAGE', `${name} must be an integer ≥ ${min}; got ${v}`);
  return v;
}

function nonNegative(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v < 0) throw new EdgetuneError('USAGE', `${name} must be a number ≥ 0; got ${v}`);
  return v;
}

/**
 * Detector data for tune: an image folder is converted once into test-data sets under the work dir (keyed by the
 * folder's content and the preset, so a resumed tune reuses it); a test-data directory is used as it is.
 */
function detectionDataDir(dir: string, model: Parameters<typeof realInputs>[0], task: DetectionTask, workDir: string, labels: CocoLabels | null): string {
  if (!isImageFolder(dir)) return prepareDetectionData({ dataDir: dir, model, preset: task.preset, workDir: dir, labels }).dataDir;
  if (labels) checkLabelsInData(labels, openImageFolder(dir).fileNames, dir);
  const key = sha256Hex(canonicalJson({ images: fingerprintDirectory(dir), preset: task.preset })).slice(0, 16);
  const out = join(workDir, 'images', key);
  if (existsSync(join(out, 'test_data_set_0'))) return out;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  return prepareDetectionData({ dataDir: dir, model, preset: task.preset, workDir: out, labels: null }).dataDir;
}

/** Abort with a message that says the work done so far is kept. */
function abortedError(done: number, total: number, store: string): EdgetuneError {
  return new EdgetuneError('ABORTED', `tune interrupted after ${done} of ${total} candidate(s); finished ones are kept in ${store}: run the same command again to continue`);
}

/** Run a tune. Bad input throws before any work (USAGE, MODEL_INVALID, DATASET_INVALID); interruption throws ABORTED. */
/**
 * Profiling shapes from the first sample of a dataset, for the inputs whose declared shape has a symbolic dim past
 * the batch axis (the batch axis takes `batchSize`); inputs with only a symbolic batch are left to `--batch`.
 */
function shapesFromData(model: Parameters<typeof realInputs>[0], dataDir: string, batchSize: number): Record<string, number[]> {
  const batch = openDataset(dataDir, model).load(0);
  const shapes: Record<string, number[]> = {};
  realInputs(model).forEach((input, k) => {
    const declared = input.type?.shape;
    const dims = batch.inputs[k]?.dims;
    if (!declared || !dims || dims.length !== declared.length) return;
    if (!declared.some((d, i) => i > 0 && typeof d !== 'number')) return;
    shapes[input.name] = dims.map((d, i) => (i === 0 && dims.length >= 2 && !batch.unbatched && typeof declared[0] !== 'number' ? batchSize : d));
  });
  return shapes;
}

export async function tuneModel(options: TuneOptions): Promise<TuneResult> {
  const started = performance.now();
  const signal = options.signal;
  // --- Input checks: everything the caller gave, before any work. ---
  const constraints: TuneConstraints = { ...(options.constraints ?? {}) };
  const problems = validateConstraints(constraints);
  if (problems.length > 0) throw new EdgetuneError('USAGE', problems.join('; '));
  const objective = options.objective ?? 'latency';
  if (!['latency', 'energy', 'size'].includes(objective)) throw new EdgetuneError('USAGE', `--objective must be latency, energy or size; got '${String(objective)}'`);
  if (options.budgetSeconds !== undefined && !(Number.isFinite(options.budgetSeconds) && options.budgetSeconds > 0)) {
    throw new EdgetuneError('USAGE', `--budget-s must be a number > 0; got ${options.budgetSeconds}`);
  }
  if (options.reportPath !== undefined) reportFormatOf(options.reportPath);
  // Before any candidate is built: a missing directory is bad input, not an ENOENT after the whole search.
  if (options.reportPath !== undefined) requireOutputDirectory(options.reportPath, '--report');
  if (options.outputPath !== undefined) requireOutputDirectory(options.outputPath, '-o');
  const modelPath = resolve(options.modelPath);
  if (options.outputPath !== undefined && resolve(options.outputPath) === modelPath) {
    throw new EdgetuneError('USAGE', `output '${options.outputPath}' is the input model; edgetune never overwrites its input`);
  }
  const p = options.profile ?? {};
  const settings = {
    iterations: positiveInt('--iterations', p.iterations, PROFILE_DEFAULTS.iterations),
    warmup: positiveInt('--warmup', p.warmup, PROFILE_DEFAULTS.warmup, 0),
    batchSize: positiveInt('--batch', p.batchSize, PROFILE_DEFAULTS.batchSize),
    shapes: p.shapes ?? {},
    energy: p.energy ?? 'auto',
    baselineMs: nonNegative('baselineMs', p.baselineMs, PROFILE_DEFAULTS.baselineMs),
    energyMinDurationMs: nonNegative('energyMinDurationMs', p.energyMinDurationMs, PROFILE_DEFAULTS.energyMinDurationMs),
    timeLimitMs: positiveInt('timeLimitMs', p.timeLimitMs, PROFILE_DEFAULTS.timeLimitMs),
    memoryLimitBytes: positiveInt('memoryLimitBytes', p.memoryLimitBytes, PROFILE_DEFAULTS.memoryLimitBytes),
  };
  if (p.threads !== undefined) positiveInt('--threads', p.threads, 1);

  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (!isConfidenceLevel(confidence)) throw new EdgetuneError('USAGE', `--confidence must be 0 (point estimates) or in (0, 1); got ${confidence}`);

  const loaded = loadModelFile(modelPath);
  validateGraph(loaded.model);
  const workDir = resolve(options.workDir);
  // A detector: its decoder and labels, and image folders turned into test-data sets (kept in the work dir).
  const detectionTask = options.detection ? loadDetectionTask(options.detection) : null;
  if (detectionTask) detectionTask.decoder.checkOutputs(declaredOutputs(loaded.model));
  const asData = (dir: string | undefined, flag: string): string | null => {
    if (!dir) return null;
    if (!detectionTask) {
      if (isImageFolder(dir)) throw new EdgetuneError('USAGE', `${flag} ${dir} is a folder of images: tune reads images for detectors (--task detection --decoder NAME, whose preset says how to feed them); other models take the ONNX test-data layout`);
      return resolve(dir);
    }
    // Labels cover the data tune judges on (--val-data, else --data, which it splits).
    const judged = flag === '--val-data' || (flag === '--data' && !options.validationDataDir);
    return detectionDataDir(resolve(dir), loaded.model, detectionTask, workDir, judged ? detectionTask.labels : null);
  };
  const givenData = asData(options.dataDir, '--data');
  const givenCalib = asData(options.calibrationDataDir, '--calib');
  const givenVal = asData(options.validationDataDir, '--val-data');
  for (const dir of new Set([givenData, givenCalib])) {
    if (dir) openDataset(dir, loaded.model).load(0);
  }
  const separateCalib = givenCalib !== null && givenCalib !== givenData ? givenCalib : null;
  let dataDir: string | null = null;
  let calibDir: string | null = null;
  let judgedOn: JudgedOn | null = null;
  let split: SplitSummary | null = null;
  if (givenVal) {
    for (const fit of new Set([givenData, separateCalib])) if (fit) checkValidationData(givenVal, loaded.model, fit);
    if (!givenData && !separateCalib) checkValidationData(givenVal, loaded.model);
    dataDir = givenVal;
    calibDir = separateCalib ?? givenData;
    judgedOn = 'validation';
  } else if (givenData && separateCalib && !options.noHoldout) {
    const overlap = datasetOverlap(separateCalib, givenData);
    if (overlap.length > 0) {
      throw new EdgetuneError('DATASET_INVALID', `--data ${givenData} shares ${overlap.length} set(s) with --calib-data ${separateCalib} (${overlap.slice(0, 3).join(', ')}): candidates would be judged on data they were fitted to; give disjoint sets, or --no-holdout`);
    }
    dataDir = givenData;
    calibDir = separateCalib;
    judgedOn = 'validation';
  } else if (givenData && !options.noHoldout) {
    // Fit on one part, judge on the other: deterministic (seeded, stratified by label), kept in the work dir so an
    // interrupted tune resumes with the same split.
    mkdirSync(workDir, { recursive: true });
    const parts = splitDatasetToDirs({
      dataDir: givenData,
      model: loaded.model,
      outDir: join(workDir, 'splits', sha256Hex(givenData).slice(0, 16)),
      ...(options.splitSeed !== undefined ? { seed: options.splitSeed } : {}),
    });
    const { fitDir, validationDir, ...summary } = parts;
    dataDir = validationDir;
    calibDir = fitDir;
    split = summary;
    judgedOn = 'validation';
  } else if (givenData) {
    dataDir = givenData;
    calibDir = separateCalib ?? givenData;
    judgedOn = separateCalib ? 'validation' : 'calibration';
  } else {
    calibDir = separateCalib;
  }
  if (constraints.maxAccuracyDropPp !== undefined && !dataDir) {
    throw new EdgetuneError('USAGE', '--max-accuracy-drop needs --data DIR: accuracy is measured on real samples');
  }
  // Inputs with symbolic dims other than the batch (a detector's H and W) are profiled at the data's shape when no
  // --shape was given: the data says what the model is used at.
  const shapeDataDir = dataDir ?? calibDir;
  if (Object.keys(settings.shapes).length === 0 && shapeDataDir) settings.shapes = shapesFromData(loaded.model, shapeDataDir, settings.batchSize);
  const evalFingerprint = dataDir ? fingerprintDirectory(dataDir) : null;
  // The decoder, its config and the labels decide a detector's figures: stored candidates judged otherwise are stale.
  const detectionKey = options.detection
    ? sha256Hex(canonicalJson({ decoder: options.detection.decoder, refConf: detectionTask!.refConf, config: options.detection.decoderConfigPath ? sha256Hex(readFileSync(options.detection.decoderConfigPath)) : (options.detection.decoderConfig ?? null), labels: options.detection.labelsPath ? sha256Hex(readFileSync(options.detection.labelsPath)) : options.detection.labels !== undefined ? sha256Hex(canonicalJson(options.detection.labels)) : null }))
    : null;
  const calibFingerprint = calibDir ? (calibDir === dataDir ? evalFingerprint : fingerprintDirectory(calibDir)) : null;
  if (signal?.aborted) throw new EdgetuneError('ABORTED', 'tune aborted before it started');

  // --- Plan and candidates. ---
  const detected = options.detected ?? (await detectHardware({ ...(options.sysroot ? { sysroot: options.sysroot } : {}) }));
  const planned: PlanForModelResult = await planForModel({ model: loaded.model, detected, ...(options.profileName ? { profileName: options.profileName } : {}) });
  const { plan, facts } = planned;
  const threads = p.threads ?? plan.threads ?? undefined;
  const methods: AvailableMethod[] = [];
  for (const name of availableCompressMethods()) {
    if (name === 'plan') continue;
    methods.push({ name, needsData: (await loadCompressMethod(name)).needsData });
  }
  // A detector's pruning and self-distillation fit to the calibration photos: without objects in them they keep
  // background (compress and distill refuse such data; here the candidates are not tried). Counted once, when needed.
  let calibShortage: Promise<string | null> | null = null;
  const calibObjectShortage = (): Promise<string | null> =>
    (calibShortage ??= detectionTask && calibDir ? objectShortage(loaded.model, openDataset(calibDir, loaded.model), detectionTask, { who: 'the original', where: 'calibration image(s)' }, signal) : Promise.resolve(null));
  const shortage = options.candidates ? null : await calibObjectShortage();
  const pruneDataProblem = shortage ? `pruning: ${shortage}; a recovery fitted there keeps background` : null;
  const space = candidateSpace({ plan, facts, methods, hasData: calibDir !== null, maxAccuracyDropPp: constraints.maxAccuracyDropPp ?? null, pruneDataProblem });
  const baselineSpec = space.candidates[0]!;
  let specs: CandidateSpec[] = options.candidates ? [baselineSpec, ...options.candidates.filter((c) => c.id !== 'fp32')] : [...space.candidates];
  for (const extra of options.extraCandidates ?? []) if (!specs.some((s) => s.id === extra.id)) specs.push(extra);
  const notTried: TuneResult['notTried'] = options.candidates ? [] : [...space.skipped];
  if (options.only) {
    const wanted = new Set(options.only);
    const unknown = options.only.filter((id) => !specs.some((s) => s.id === id));
    if (unknown.length > 0) throw new EdgetuneError('USAGE', `--candidates: unknown candidate id(s) ${unknown.join(', ')}; this model's candidates: ${specs.map((s) => s.id).join(', ')}`);
    specs = specs.filter((s) => s.id === 'fp32' || wanted.has(s.id));
  }
  for (const s of specs) validateSpec(s);
  options.onEvent?.({ type: 'plan', candidates: specs.length, skipped: notTried.length });

  // --- Store. ---
  mkdirSync(workDir, { recursive: true });
  const store = TuneStore.open(join(workDir, 'tune.sqlite'));
  try {
    if (options.fresh) {
      for (const path of store.forgetModel(loaded.sha256)) rmSync(path, { force: true });
    }
    const profileKey = { iterations: settings.iterations, warmup: settings.warmup, batchSize: settings.batchSize, shapes: settings.shapes, threads: threads ?? null, energy: settings.energy, baselineMs: settings.baselineMs, energyMinDurationMs: settings.energyMinDurationMs, profile: planned.profile.name };
    const runId = store.startRun(loaded.sha256, { modelPath, dataDir, calibDir, profile: profileKey, constraints, objective, candidates: specs.map((s) => s.id) });
    const artifactsDir = join(workDir, 'models', loaded.sha256.slice(0, 16));
    const figures = detected.figures;
    const profileBase: Omit<ProfileOptions, 'modelPath'> = {
      iterations: settings.iterations,
      warmup: settings.warmup,
      batchSize: settings.batchSize,
      shapes: settings.shapes,
      ...(threads !== undefined ? { threads } : {}),
      energy: settings.energy,
      baselineMs: settings.baselineMs,
      energyMinDurationMs: settings.energyMinDurationMs,
      timeLimitMs: settings.timeLimitMs,
      memoryLimitBytes: settings.memoryLimitBytes,
      flops: false,
      powerModel: powerModelFromFigures(figures, planned.profile.name),
      peak: peaksFromFigures(figures, planned.profile.name),
      ...(options.sysroot ? { sysroot: options.sysroot } : {}),
      device: { profile: planned.profile.name, board: detected.hw.board, cpu: detected.hw.cpu.model },
    };
    const profiler = options.profiler ?? ((o: ProfileOptions, _id: string, s?: AbortSignal) => profileInChild(o, s));

    // Baseline accuracy (with labels: its top-1; without: 1 for agreement and cosine).
    let baselineTop1: number | null = null;
    let baselineMetric: CandidateAccuracy['metric'] = 'cosine';
    let baselineDetection: CandidateDetection | null = null;
    const results: CandidateResult[] = [];
    const builtBySha = new Map<string, string>([[loaded.sha256, 'fp32']]);

    const ctx: CandidateContext = {
      modelPath,
      modelSha256: loaded.sha256,
      modelBytes: loaded.bytes,
      calibDir,
      dataDir,
      calibFingerprint,
      artifactsDir,
      store,
      constraints,
      signal,
      onEvent: options.onEvent,
      profileFor: (path) => ({ ...profileBase, modelPath: path }),
      profiler,
      builtBySha,
      baselineTop1: () => baselineTop1,
      baselineMetric: () => baselineMetric,
      baselineDetection: () => baselineDetection,
      reference: null,
      judgedOn: judgedOn ?? 'calibration',
      confidence,
      detection: options.detection ?? null,
      calibObjectShortage,
    };
    const optionsKeyOf = (spec: CandidateSpec): string =>
      sha256Hex(canonicalJson({ v: TUNE_FORMAT_VERSION, steps: spec.steps, eval: evalFingerprint, calib: spec.steps.length > 0 ? calibFingerprint : null, profile: profileKey, confidence, judgedOn, ...(detectionKey ? { detection: detectionKey } : {}) }));

    if (dataDir && detectionTask) {
      // A detector: the original against itself on the decoded detections gives the baseline (labels: its mAP).
      const self = await evaluateModelFiles({ modelPath, dataDir, referencePath: modelPath, confidence: 0, detection: options.detection!, ...(signal ? { signal } : {}) });
      const d = self.detection!;
      baselineMetric = d.metric;
      baselineTop1 = d.mode === 'labels' ? (d.metric === 'hmean' ? d.hmean!.hmean : d.map5095) : 1;
      baselineDetection = { mode: d.mode, map50: d.map50, map5095: d.map5095, hmean: d.hmean?.hmean ?? null, agreementF1: d.agreement?.f1 ?? null };
    } else if (dataDir) {
      // The original runs over the data once; candidates are scored against its kept outputs.
      try {
        ctx.reference = await ReferenceOutputs.compute(modelPath, dataDir, { confidence, ...(signal ? { signal } : {}) });
        if (ctx.reference) {
          baselineTop1 = ctx.reference.baseline.top1;
          baselineMetric = baselineTop1 !== null ? 'top1' : ctx.reference.classifier ? 'agreement' : 'cosine';
        } else {
          const self = await evaluateModelFiles({ modelPath, dataDir, referencePath: modelPath, ...(signal ? { signal } : {}) });
          baselineTop1 = self.referenceTop1 ?? self.top1;
          baselineMetric = baselineTop1 !== null ? 'top1' : self.agreement !== null ? 'agreement' : 'cosine';
        }
      } catch (error) {
        if (signal?.aborted) {
          store.finishRun(runId, 'interrupted', null);
          throw abortedError(0, specs.length, store.path);
        }
        throw error;
      }
    }

    const budgetMs = options.budgetSeconds !== undefined ? options.budgetSeconds * 1000 : Infinity;
    let stoppedByBudget = false;
    // Self-distillation notes already shown in a progress line, with the first candidate that had each.
    const distillSeen = new Map<string, string>();
    for (let index = 0; index < specs.length; index++) {
      const spec = specs[index]!;
      const key = optionsKeyOf(spec);
      const stored = store.getCandidate(loaded.sha256, spec.id, key);
      const finished = stored && stored.state !== 'running' ? (stored.result as CandidateResult) : null;
      // A rejected candidate whose accuracy now meets a looser bound goes on to profiling (a collapsed one never).
      const reopen =
        finished?.state === 'rejected' &&
        finished.accuracy !== null &&
        finished.accuracy.collapsed.length === 0 &&
        (constraints.maxAccuracyDropPp === undefined || checkBound(judgementOf(finished.accuracy), constraints.maxAccuracyDropPp, finished.accuracy.pairedCounts).met);
      if (finished && !reopen) {
        const result = { ...finished, resumed: true };
        // Rejected by a bound: say it against this run's bound (a stored reason may name an earlier, tighter one).
        const a = result.accuracy;
        if (result.state === 'rejected' && a && a.collapsed.length === 0 && constraints.maxAccuracyDropPp !== undefined) {
          const bound = checkBound(judgementOf(a), constraints.maxAccuracyDropPp, a.pairedCounts);
          result.accuracy = { ...a, bound };
          result.reason = `--max-accuracy-drop: ${bound.message} (${judgedOnLabel(a.judgedOn, a.samples)}): dropped before profiling`;
        }
        if (result.model) builtBySha.set(result.model.sha256, builtBySha.get(result.model.sha256) ?? spec.id);
        results.push(result);
        options.onEvent?.({ type: 'candidate-start', id: spec.id, index, total: specs.length, resumed: true });
        options.onEvent?.({ type: 'candidate-done', id: spec.id, index, total: specs.length, state: result.state, resumed: true, summary: summarize(result, distillSeen) });
        continue;
      }
      if (index > 0 && performance.now() - started >= budgetMs) {
        stoppedByBudget = true;
        notTried.push({ id: spec.id, reason: `time budget of ${options.budgetSeconds} s used up` });
        continue;
      }
      if (signal?.aborted) {
        store.finishRun(runId, 'interrupted', null);
        throw abortedError(results.length, specs.length, store.path);
      }
      options.onEvent?.({ type: 'candidate-start', id: spec.id, index, total: specs.length, resumed: false });
      let result: CandidateResult;
      if (stored?.state === 'running' && stored.attempts >= MAX_ATTEMPTS) {
        result = baseResult(spec, 'failed', `interrupted ${stored.attempts} times while running (the process died under it: a native crash or the OOM killer?); not tried again`, 'CHILD_CRASHED');
      } else {
        store.markRunning(loaded.sha256, spec.id, key);
        try {
          result = await runCandidate(spec, ctx, reopen ? finished : null);
        } catch (error) {
          if (signal?.aborted || errorCodeOf(error) === 'ABORTED') {
            store.clearRunning(loaded.sha256, spec.id, key);
            store.finishRun(runId, 'interrupted', null);
            throw abortedError(results.length, specs.length, store.path);
          }
          throw error;
        }
      }
      store.finishCandidate(loaded.sha256, spec.id, key, result.state, result);
      if (result.model && result.state !== 'skipped') builtBySha.set(result.model.sha256, builtBySha.get(result.model.sha256) ?? spec.id);
      results.push(result);
      options.onEvent?.({ type: 'candidate-done', id: spec.id, index, total: specs.length, state: result.state, resumed: false, summary: summarize(result, distillSeen) });
      if (index === 0 && result.state === 'failed' && isBadInput(result.errorCode)) {
        store.finishRun(runId, 'done', null);
        throw new EdgetuneError(result.errorCode!, `the original model cannot be profiled: ${result.reason}`);
      }
    }
    if (stoppedByBudget) options.onEvent?.({ type: 'budget', notTried: notTried.filter((n) => n.reason.startsWith('time budget')).map((n) => n.id) });

    // --- Front and choice. ---
    const tuneResult = assemble({
      loadedPath: modelPath,
      sha256: loaded.sha256,
      bytes: loaded.bytes,
      planned,
      detected,
      settings: { ...settings, threads: threads ?? null },
      dataDir,
      calibDir,
      givenData,
      validationDataDir: givenVal,
      judgedOn,
      split,
      confidence,
      baselineTop1,
      results,
      constraints,
      objective,
      notTried,
      workDir,
      storePath: store.path,
      budgetSeconds: options.budgetSeconds ?? null,
      complete: !stoppedByBudget,
    });

    // --- Outputs, written last and atomically. ---
    if (options.outputPath !== undefined) {
      const chosen = results.find((r) => r.id === tuneResult.chosen);
      if (chosen?.model) {
        const source = chosen.model.path;
        if (!existsSync(source)) throw new EdgetuneError('IO_FAILED', `the chosen candidate's model file '${source}' is gone; run again with --fresh`);
        const bytes = readFileSync(source);
        writeFileAtomic(options.outputPath, bytes);
        tuneResult.output = { path: resolve(options.outputPath), sha256: sha256Hex(bytes), bytes: bytes.length };
      } else {
        tuneResult.notes.push(`-o ${options.outputPath} not written: no candidate was chosen`);
      }
    }
    tuneResult.elapsedSeconds = (performance.now() - started) / 1000;
    if (options.reportPath !== undefined) {
      tuneResult.report = resolve(options.reportPath);
      writeFileAtomic(options.reportPath, renderTuneReport(tuneResult, reportFormatOf(options.reportPath)));
    }
    tuneResult.elapsedSeconds = (performance.now() - started) / 1000;
    store.finishRun(runId, 'done', { chosen: tuneResult.chosen, front: tuneResult.front, complete: tuneResult.complete });
    return tuneResult;
  } finally {
    store.close();
  }
}

function isBadInput(code: ErrorCode | null): boolean {
  return code === 'MODEL_INVALID' || code === 'MODEL_UNSUPPORTED' || code === 'DATASET_INVALID' || code === 'USAGE';
}

function validateSpec(spec: CandidateSpec): void {
  if (!/^[A-Za-z0-9_.+-]{1,120}$/.test(spec.id)) throw new EdgetuneError('USAGE', `candidate id '${spec.id}' must match [A-Za-z0-9_.+-]{1,120}`);
  if (!Array.isArray(spec.steps)) throw new EdgetuneError('USAGE', `candidate '${spec.id}': steps must be an array`);
}

interface CandidateContext {
  modelPath: string;
  modelSha256: string;
  modelBytes: number;
  calibDir: string | null;
  dataDir: string | null;
  calibFingerprint: string | null;
  artifactsDir: string;
  store: TuneStore;
  constraints: TuneConstraints;
  signal: AbortSignal | undefined;
  onEvent: TuneOptions['onEvent'];
  profileFor: (path: string) => ProfileOptions;
  profiler: NonNullable<TuneOptions['profiler']>;
  builtBySha: Map<string, string>;
  baselineTop1: () => number | null;
  /** The accuracy metric of this tune (the original's: top1 with labels, agreement for classifiers, else cosine). */
  baselineMetric: () => CandidateAccuracy['metric'];
  /** A detector's figures of the original (its own detections against labels, or 1 against itself). */
  baselineDetection: () => CandidateDetection | null;
  /** The original's outputs on the data (null: evaluate pairwise). */
  reference: ReferenceOutputs | null;
  /** What dataDir is: held-out samples, or the data the candidates were fitted to. */
  judgedOn: JudgedOn;
  confidence: number;
  /** A detector's task: candidates are judged on decoded detections. */
  detection: DetectionTaskFiles | null;
  /** Why the calibration data holds too few objects for a detector's fit (counted once a tune), or null. */
  calibObjectShortage: () => Promise<string | null>;
}

function baseResult(spec: CandidateSpec, state: CandidateState, reason: string | null, errorCode: ErrorCode | null): CandidateResult {
  return {
    id: spec.id,
    methods: spec.steps.length === 0 ? ['fp32'] : spec.steps.map((s) => s.method),
    steps: spec.steps,
    origin: spec.origin,
    note: spec.note,
    state,
    reason,
    errorCode,
    model: null,
    build: null,
    accuracy: null,
    profile: null,
    seconds: 0,
    resumed: false,
  };
}

/** Build (step by step, reusing cached step files), check fidelity, profile. Never throws for a bad candidate. */
async function runCandidate(spec: CandidateSpec, ctx: CandidateContext, previous: CandidateResult | null): Promise<CandidateResult> {
  const t0 = performance.now();
  const result = baseResult(spec, 'done', null, null);
  const fail = (error: unknown, stage: string): CandidateResult => {
    if (ctx.signal?.aborted) throw error;
    result.state = 'failed';
    result.errorCode = errorCodeOf(error);
    result.reason = `${stage}: ${messageOf(error)}`;
    result.seconds = (performance.now() - t0) / 1000;
    return result;
  };

  // Build.
  if (previous?.model) {
    result.model = previous.model;
    result.build = previous.build;
  } else if (spec.steps.length === 0) {
    result.model = { path: ctx.modelPath, sha256: ctx.modelSha256, bytes: ctx.modelBytes };
  } else {
    try {
      const built = await buildSteps(spec, ctx);
      result.model = built.model;
      result.build = built.build;
    } catch (error) {
      return fail(error, 'build');
    }
    const same = ctx.builtBySha.get(result.model.sha256);
    if (same !== undefined) {
      result.state = 'skipped';
      result.reason = `the built model is identical to ${same}'s (the steps changed nothing): not measured twice`;
      result.seconds = (performance.now() - t0) / 1000;
      return result;
    }
  }

  // Fidelity, before profiling.
  if (previous?.accuracy) result.accuracy = previous.accuracy;
  else if (ctx.dataDir) {
    ctx.onEvent?.({ type: 'stage', id: spec.id, stage: 'fidelity' });
    try {
      if (spec.steps.length === 0) result.accuracy = baselineAccuracy(ctx);
      else {
        const metrics = ctx.reference
          ? await ctx.reference.evaluate(result.model.path, ctx.signal)
          : await evaluateModelFiles({ modelPath: result.model.path, dataDir: ctx.dataDir, referencePath: ctx.modelPath, confidence: ctx.confidence, ...(ctx.detection ? { detection: ctx.detection } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) });
        result.accuracy = accuracyOf(metrics, ctx.baselineTop1(), ctx.judgedOn);
      }
    } catch (error) {
      return fail(error, 'fidelity');
    }
  }
  // A collapsed output (constant where the original varies, one class for all) is never profiled, with or without a bound.
  if (result.accuracy && result.accuracy.collapsed.length > 0) {
    result.state = 'rejected';
    result.reason = `collapsed: ${result.accuracy.collapsed.join('; ')} (${judgedOnLabel(result.accuracy.judgedOn, result.accuracy.samples)}): dropped before profiling`;
    result.seconds = (performance.now() - t0) / 1000;
    return result;
  }
  const bound = ctx.constraints.maxAccuracyDropPp;
  const meets = (a: CandidateAccuracy): boolean => {
    if (bound === undefined) return true;
    a.bound = checkBound(judgementOf(a), bound, a.pairedCounts);
    return a.bound.met;
  };
  let distillNote: string | null = null;
  if (result.accuracy && !meets(result.accuracy) && spec.steps.length > 0 && ctx.calibDir && ctx.dataDir) {
    // Self-distillation as recovery: the compressed model is the student, the original the teacher.
    ctx.onEvent?.({ type: 'stage', id: spec.id, stage: 'self-distill' });
    const recovered = await selfDistill(result, ctx).catch((error: unknown) => ({
      note: `self-distillation ${error instanceof EdgetuneError && error.isBadInput ? 'not applicable' : 'failed'}: ${messageOf(error)}`,
    }));
    distillNote = recovered.note;
    if ('model' in recovered && recovered.accuracy.collapsed.length === 0 && meets(recovered.accuracy)) {
      result.model = recovered.model;
      result.accuracy = recovered.accuracy;
      result.build = { ...(result.build ?? { seconds: 0, nodesKeptFloat: 0, cachedSteps: 0, notes: [] }), notes: [...(result.build?.notes ?? []), recovered.note] };
      result.note = `${result.note}; ${recovered.note}`;
    }
  }
  if (result.accuracy && !meets(result.accuracy)) {
    result.state = 'rejected';
    result.reason = `--max-accuracy-drop: ${result.accuracy.bound!.message} (${judgedOnLabel(result.accuracy.judgedOn, result.accuracy.samples)}): dropped before profiling`;
    result.selfDistillation = distillNote;
    result.seconds = (performance.now() - t0) / 1000;
    return result;
  }

  // Profile in a child process.
  ctx.onEvent?.({ type: 'stage', id: spec.id, stage: 'profile' });
  const outcome = await ctx.profiler(ctx.profileFor(result.model.path), spec.id, ctx.signal);
  if (outcome.state === 'failed') {
    if (outcome.error.code === 'ABORTED' && ctx.signal?.aborted) throw new EdgetuneError('ABORTED', outcome.error.message);
    // Ctrl-C reaches the whole process group: a child killed by SIGINT/SIGTERM is an interruption, not a failure.
    if (outcome.error.code === 'CHILD_CRASHED' && /killed by SIG(INT|TERM|HUP)\b/.test(outcome.error.message)) {
      throw new EdgetuneError('ABORTED', `profile of ${spec.id} interrupted: ${outcome.error.message}`);
    }
    result.state = 'failed';
    result.errorCode = outcome.error.code;
    result.reason = `profile: ${outcome.error.message}`;
    result.seconds = (performance.now() - t0) / 1000;
    return result;
  }
  const r = outcome.result;
  const measurement: CandidateMeasurement = {
    latencyMs: { p50: r.latencyMs.p50, mean: r.latencyMs.mean, p90: r.latencyMs.p90, p99: r.latencyMs.p99, std: r.latencyMs.std, cv: r.latencyMs.cv, min: r.latencyMs.min, p50Ci: r.latencyMs.p50Ci },
    throughputPerSec: r.throughputPerSec,
    peakRssBytes: r.memory.peakRssBytes,
    joulesPerInference: r.energy?.joulesPerInference ?? null,
    energyMethod: r.energy?.method ?? null,
    energySource: r.energy?.source ?? null,
    energyNote: r.energyNote,
    iterations: r.iterations,
    batchSize: r.batchSize,
    threads: r.threads,
    throttled: r.thermal.throttled,
  };
  result.profile = measurement;
  result.seconds = (performance.now() - t0) / 1000 + (previous?.seconds ?? 0);
  return result;
}

function baselineAccuracy(ctx: CandidateContext): CandidateAccuracy {
  const top1 = ctx.baselineTop1();
  const metric = ctx.baselineMetric();
  // With labels the original's own figure (top-1, or a detector's mAP / hmean on them); against itself 1.
  const value = (metric === 'top1' || metric === 'map5095' || metric === 'hmean') && top1 !== null ? top1 : 1;
  const samples = ctx.reference?.baseline.samples ?? 0;
  const accuracy = candidateAccuracyOf(identityJudgement(metric, value, samples, ctx.judgedOn, ctx.confidence), null);
  const detection = ctx.baselineDetection();
  if (detection) accuracy.detection = detection;
  return accuracy;
}

function candidateAccuracyOf(j: AccuracyJudgement, pairedCounts: CandidateAccuracy['pairedCounts']): CandidateAccuracy {
  return {
    metric: j.metric,
    value: j.value,
    baseline: j.baseline,
    dropPp: j.drop,
    ci: j.ci,
    confidence: j.confidence,
    judgedOn: j.judgedOn,
    agreement: j.agreement,
    cosine: j.cosine,
    samples: j.samples,
    collapsed: j.collapsed,
    pairedCounts,
    bound: null,
  };
}

/** The judgement a stored candidate accuracy stands for. */
function judgementOf(a: CandidateAccuracy): AccuracyJudgement {
  return { metric: a.metric, value: a.value, baseline: a.baseline, drop: a.dropPp, ci: a.ci, confidence: a.confidence, samples: a.samples, judgedOn: a.judgedOn, agreement: a.agreement, cosine: a.cosine, collapsed: a.collapsed };
}

/** Accuracy of a candidate from its eval against the original: top-1 with labels, else agreement, else cosine. */
export function accuracyOf(m: FidelityMetrics, baselineTop1: number | null, judgedOn: JudgedOn = 'validation'): CandidateAccuracy {
  let j = judgeAccuracy(m, judgedOn);
  if (!j && m.top1 !== null && baselineTop1 !== null) {
    // No reference run on these labels: an unpaired point figure against the original's top-1.
    j = { metric: 'top1', value: m.top1, baseline: baselineTop1, drop: (baselineTop1 - m.top1) * 100, ci: [(baselineTop1 - m.top1) * 100, (baselineTop1 - m.top1) * 100], confidence: 0, samples: m.samples, judgedOn, agreement: m.agreement, cosine: m.cosine, collapsed: m.collapsed };
  }
  if (!j) throw new EdgetuneError('RUNTIME_FAILED', 'no accuracy figure: the outputs are neither classes nor comparable with the original');
  const accuracy = candidateAccuracyOf(j, m.pairedCounts);
  const d = m.detection;
  if (d) accuracy.detection = { mode: d.mode, map50: d.map50, map5095: d.map5095, hmean: d.hmean?.hmean ?? null, agreementF1: d.agreement?.f1 ?? null };
  return accuracy;
}

async function buildSteps(spec: CandidateSpec, ctx: CandidateContext): Promise<{ model: NonNullable<CandidateResult['model']>; build: NonNullable<CandidateResult['build']> }> {
  const t0 = performance.now();
  let input = { path: ctx.modelPath, sha256: ctx.modelSha256, bytes: ctx.modelBytes };
  const notes: string[] = [];
  let keptFloat = 0;
  let cachedSteps = 0;
  mkdirSync(ctx.artifactsDir, { recursive: true });
  for (let i = 0; i < spec.steps.length; i++) {
    const step = spec.steps[i]!;
    const prefix = spec.steps.slice(0, i + 1);
    // A mixed-precision search holds its bound by the tune's confidence: a variant built at another is another variant.
    const searched = prefix.some((s) => s.options.keepFloat === 'auto');
    const key = sha256Hex(canonicalJson({ v: TUNE_FORMAT_VERSION, model: ctx.modelSha256, calib: ctx.calibFingerprint, steps: prefix, ...(searched ? { confidence: ctx.confidence } : {}) }));
    const cached = ctx.store.getArtifact(key);
    if (cached && existsSync(cached.path) && statSync(cached.path).size === cached.bytes) {
      input = { path: cached.path, sha256: cached.sha256, bytes: cached.bytes };
      cachedSteps++;
      const rep = cached.report as { notes?: string[]; keptFloat?: number } | null;
      if (i === spec.steps.length - 1) keptFloat = rep?.keptFloat ?? 0;
      continue;
    }
    if (cached) ctx.store.dropArtifact(key);
    ctx.onEvent?.({ type: 'stage', id: spec.id, stage: 'build', step: stepLabel(step) });
    const outputPath = join(ctx.artifactsDir, `${key.slice(0, 24)}.onnx`);
    let report: CompressReport;
    try {
      report = await compressModelFile({
        ...step.options,
        inputPath: input.path,
        outputPath,
        method: step.method,
        confidence: ctx.confidence,
        ...(ctx.calibDir ? { dataDir: ctx.calibDir } : {}),
        // The tune measures fidelity itself, on the evaluation data: no second pass on the calibration data.
        fidelitySets: 0,
        speedCheck: false,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (error) {
      throw new EdgetuneError(errorCodeOf(error), `${stepLabel(step)}: ${messageOf(error)}`, { cause: error });
    }
    const stepNotes = report.notes.slice(0, 8);
    notes.push(...stepNotes.map((n) => `${step.method}: ${n}`));
    keptFloat = report.nodesKeptFloat.length;
    ctx.store.putArtifact({ artifactKey: key, modelSha256: ctx.modelSha256, path: outputPath, sha256: report.output.sha256, bytes: report.output.bytes, report: { notes: stepNotes, keptFloat, step } });
    input = { path: outputPath, sha256: report.output.sha256, bytes: report.output.bytes };
  }
  return { model: input, build: { seconds: (performance.now() - t0) / 1000, notes, nodesKeptFloat: keptFloat, cachedSteps } };
}

/** 'int8(perChannel=false)' */
export function stepLabel(step: CandidateStep): string {
  const opts = Object.entries(step.options)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`);
  return opts.length > 0 ? `${step.method}(${opts.join(', ')})` : step.method;
}

function summarize(r: CandidateResult, distillSeen: Map<string, string>): string {
  if (r.state !== 'done' || !r.profile) {
    const note = r.selfDistillation ?? null;
    const first = note === null ? undefined : distillSeen.get(note);
    if (note !== null && first === undefined) distillSeen.set(note, r.id);
    const distill = note === null ? '' : first === undefined ? ` (${note})` : ` (self-distillation: as for ${first})`;
    return `${r.state}: ${r.reason ?? ''}${distill}`;
  }
  const parts = [`p50 ${fmtMs(r.profile.latencyMs.p50)} ms`, fmtSize(r.model?.bytes ?? 0)];
  if (r.accuracy) parts.push(`${accuracyMetricLabel(r.accuracy.metric)} drop ${fmtPp(r.accuracy.dropPp)} pp`);
  return parts.join(', ');
}

interface AssembleInput {
  loadedPath: string;
  sha256: string;
  bytes: number;
  planned: PlanForModelResult;
  detected: NonNullable<TuneOptions['detected']>;
  settings: { iterations: number; warmup: number; batchSize: number; energy: string; threads: number | null; shapes: Record<string, number[]> };
  /** The data candidates were judged on (a split's validation part, --val-data, or --data). */
  dataDir: string | null;
  calibDir: string | null;
  /** --data as given. */
  givenData: string | null;
  validationDataDir: string | null;
  judgedOn: JudgedOn | null;
  split: SplitSummary | null;
  confidence: number;
  baselineTop1: number | null;
  results: CandidateResult[];
  constraints: TuneConstraints;
  objective: NonNullable<TuneOptions['objective']>;
  notTried: TuneResult['notTried'];
  workDir: string;
  storePath: string;
  budgetSeconds: number | null;
  complete: boolean;
}

/** The candidates' results → the `tune` JSON: constraints, front, choice, and why each one lost. */
function assemble(a: AssembleInput): TuneResult {
  const profiled = a.results.filter((r) => r.state === 'done' && r.profile && r.model);
  const unbounded = a.constraints.maxAccuracyDropPp === undefined;
  const suspects = new Map(a.results.map((r) => [r.id, suspectReason(r) ?? (unbounded ? confirmedLossReason(r) : null)]));
  const latencyCi = new Map(
    profiled.map((r) => [r.id, latencyCiOf(r.profile!, a.confidence)] as const),
  );
  const points: SelectablePoint[] = profiled.map((r) => ({
    id: r.id,
    metrics: { latencyMs: r.profile!.latencyMs.p50, accuracyDropPp: r.accuracy?.dropPp ?? null, sizeBytes: r.model!.bytes, joulesPerInference: r.profile!.joulesPerInference },
    peakRssBytes: r.profile!.peakRssBytes,
    methods: r.methods,
    accuracyDropUpperPp: r.accuracy ? (r.accuracy.confidence === 0 ? r.accuracy.dropPp : r.accuracy.ci[1]) : null,
    latencyCiMs: latencyCi.get(r.id) ?? null,
    ineligibleReason: suspects.get(r.id) ?? null,
  }));
  const selection = selectCandidate(points, a.constraints, a.objective, { baselineId: 'fp32' });
  const slower = new Map(selection.slowerThanBaseline.map((x) => [x.id, x]));
  const front = new Set(selection.pareto.front);
  const violations = new Map(selection.violations.map((v) => [v.id, v.violations]));
  const lost = new Map(selection.pareto.dominated.map((d) => [d.id, d]));
  const base = a.results.find((r) => r.id === 'fp32');
  const baseLatency = base?.profile?.latencyMs.p50 ?? null;
  const indistinguishable = new Map(selection.indistinguishable.map((x) => [x.id, x.from]));
  const notes: string[] = [];
  if (!a.dataDir) notes.push('no --data: accuracy was not measured; the front compares latency, size and energy only');
  if (a.dataDir && a.judgedOn === 'calibration') notes.push('accuracy judged on calibration data (--no-holdout): the candidates were fitted to these samples, so the figures are optimistic');
  if (a.split) {
    notes.push(
      `--data split into ${a.split.fit.samples} samples to fit on and ${a.split.validation.samples} held-out samples to judge on (${a.split.stratified ? 'stratified by label, ' : ''}${a.split.unit === 'set' ? 'whole sets, ' : ''}seed ${a.split.seed})`,
    );
  }
  const confidenceText = a.confidence === 0 ? 'point estimates (--confidence 0)' : `${+(a.confidence * 100).toFixed(1)} % intervals; a bound is met when the interval's upper end is within it`;
  if (a.dataDir) notes.push(`accuracy drops with ${confidenceText}`);
  const unconfirmed = a.results.filter((r) => r.accuracy?.bound?.unconfirmed);
  if (unconfirmed.length > 0) {
    const needed = unconfirmed.map((r) => r.accuracy!.bound!.samplesNeeded).filter((n): n is number => n !== null);
    notes.push(
      `${unconfirmed.length} candidate(s) (${unconfirmed.map((r) => r.id).join(', ')}) are within the bound on their point estimate but the ${unconfirmed[0]!.accuracy!.samples} validation samples cannot confirm it` +
        (needed.length > 0 ? `; about ${Math.min(...needed)} samples would confirm the closest one` : ''),
    );
  }
  for (const r of a.results) {
    const why = suspects.get(r.id);
    if (why) notes.push(`${r.id}: ${why}`);
  }
  const energyMethods = new Set(profiled.map((r) => r.profile!.energyMethod).filter((m): m is string => m !== null));
  if (energyMethods.has('estimated')) notes.push('energy per inference is ESTIMATED from CPU utilisation and the device profile power model, not measured');
  if (profiled.some((r) => r.profile!.throttled)) notes.push(`thermal throttling during: ${profiled.filter((r) => r.profile!.throttled).map((r) => r.id).join(', ')}`);
  notes.push(...selection.notes);
  // One note per distinct self-distillation outcome, naming the rejected candidates it was for (not one per rejection).
  const distilled = new Map<string, string[]>();
  for (const r of a.results) if (r.selfDistillation) distilled.set(r.selfDistillation, [...(distilled.get(r.selfDistillation) ?? []), r.id]);
  for (const [note, ids] of distilled) notes.push(`${note} — tried on ${ids.length === 1 ? 'the rejected candidate' : `${ids.length} rejected candidates`}: ${ids.join(', ')}`);
  const candidates: TuneCandidateJson[] = a.results.map((r) => {
    const d = lost.get(r.id);
    return {
      id: r.id,
      methods: r.methods,
      latencyMs: r.profile?.latencyMs.p50 ?? null,
      sizeBytes: r.model?.bytes ?? null,
      peakRssBytes: r.profile?.peakRssBytes ?? null,
      joulesPerInference: r.profile?.joulesPerInference ?? null,
      accuracyDrop: r.accuracy?.dropPp ?? null,
      pareto: front.has(r.id),
      state: r.state,
      reason: r.reason,
      selfDistillation: r.selfDistillation ?? null,
      violations: violations.get(r.id) ?? [],
      dominatedBy: d?.by ?? null,
      whyLost: d?.reason ?? (violations.has(r.id) ? `misses ${violations.get(r.id)!.join('; ')}` : slower.get(r.id)?.eligible === false ? slower.get(r.id)!.note : null),
      slowerThanBaseline: slower.has(r.id),
      speedup: r.profile && baseLatency !== null && r.profile.latencyMs.p50 > 0 ? baseLatency / r.profile.latencyMs.p50 : null,
      sizeRatio: r.model && r.model.bytes > 0 ? a.bytes / r.model.bytes : null,
      accuracyMetric: r.accuracy?.metric ?? null,
      accuracy: r.accuracy
        ? {
            metric: r.accuracy.metric,
            drop: r.accuracy.dropPp,
            ci: r.accuracy.ci,
            samples: r.accuracy.samples,
            judgedOn: r.accuracy.judgedOn,
            confidence: r.accuracy.confidence,
            value: r.accuracy.value,
            baseline: r.accuracy.baseline,
            agreement: r.accuracy.agreement,
            cosine: r.accuracy.cosine,
            ...(r.accuracy.detection ? { detection: r.accuracy.detection } : {}),
          }
        : null,
      collapsed: r.accuracy?.collapsed ?? [],
      suspect: suspects.get(r.id) ?? null,
      latencyCiMs: latencyCi.get(r.id) ?? null,
      indistinguishableFrom: indistinguishable.get(r.id) ?? [],
      energyMethod: r.profile?.energyMethod ?? null,
      latencyCv: r.profile?.latencyMs.cv ?? null,
      origin: r.origin,
      note: r.note,
      steps: r.steps,
      resumed: r.resumed,
      seconds: r.seconds,
      modelPath: r.model?.path ?? null,
      sha256: r.model?.sha256 ?? null,
    };
  });
  const chosenResult = a.results.find((r) => r.id === selection.chosen);
  if (chosenResult?.accuracy && a.constraints.maxAccuracyDropPp === undefined && chosenResult.accuracy.dropPp >= UNBOUNDED_DROP_WARNING_PP) {
    const acc = chosenResult.accuracy;
    notes.unshift(
      `WARNING: ${chosenResult.id} was chosen without an accuracy bound and loses ${fmtPp(acc.dropPp)} pp of ${acc.metric}${acc.confidence > 0 ? ` (interval ${fmtPp(acc.ci[0])} … ${fmtPp(acc.ci[1])} pp)` : ''}: give --max-accuracy-drop PP to bound it`,
    );
  }
  const hw = a.detected.hw;
  const metric = a.results.find((r) => r.accuracy)?.accuracy?.metric ?? null;
  const c = a.constraints;
  return {
    model: { path: a.loadedPath, sha256: a.sha256, bytes: a.bytes },
    device: {
      profile: a.planned.profile.name,
      board: hw.board,
      cpu: hw.cpu.model,
      arch: hw.cpu.arch,
      cores: hw.cpu.cores,
      caches: { l1d: hw.caches.l1d, l2: hw.caches.l2, l3: hw.caches.l3 },
    },
    plan: { method: a.planned.plan.method, precision: a.planned.plan.precision, pruningRatio: a.planned.plan.pruning?.ratio ?? null, reasons: a.planned.plan.reasons },
    settings: {
      batchSize: a.settings.batchSize,
      iterations: a.settings.iterations,
      warmup: a.settings.warmup,
      threads: a.settings.threads,
      energy: a.settings.energy,
      dataDir: a.givenData,
      calibrationDataDir: a.calibDir,
      accuracyMetric: metric,
      workDir: a.workDir,
      validationDataDir: a.validationDataDir,
      judgedOn: a.dataDir ? a.judgedOn : null,
      split: a.split,
      confidence: a.confidence,
      shapes: a.settings.shapes,
    },
    baseline: {
      id: 'fp32',
      latencyMs: baseLatency,
      sizeBytes: a.bytes,
      peakRssBytes: base?.profile?.peakRssBytes ?? null,
      joulesPerInference: base?.profile?.joulesPerInference ?? null,
      accuracy: a.dataDir ? (a.baselineTop1 !== null ? { metric: 'top1', value: a.baselineTop1 } : metric ? { metric, value: 1 } : null) : null,
    },
    candidates,
    chosen: selection.chosen,
    chosenReason: selection.chosenReason,
    objective: a.objective,
    objectiveUsed: selection.objectiveUsed,
    constraints: {
      maxAccuracyDropPp: c.maxAccuracyDropPp ?? null,
      maxLatencyMs: c.maxLatencyMs ?? null,
      maxMemoryMb: c.maxMemoryBytes !== undefined ? c.maxMemoryBytes / (1024 * 1024) : null,
      maxSizeMb: c.maxSizeBytes !== undefined ? c.maxSizeBytes / (1024 * 1024) : null,
    },
    front: selection.pareto.front,
    axes: selection.pareto.axes,
    axesLeftOut: selection.pareto.axesLeftOut,
    notTried: a.notTried,
    output: null,
    report: null,
    elapsedSeconds: 0,
    budgetSeconds: a.budgetSeconds,
    complete: a.complete,
    store: a.storePath,
    notes,
  };
}

/**
 * Interval of a candidate's p50: the profiler's distribution-free 95 % interval of the median (order statistics; a
 * long tail does not widen it); a point at confidence 0; the normal approximation for results without one.
 */
function latencyCiOf(m: CandidateMeasurement, confidence: number): [number, number] {
  if (confidence === 0) return [m.latencyMs.p50, m.latencyMs.p50];
  return m.latencyMs.p50Ci ?? latencyIntervalMs(m.latencyMs.p50, m.latencyMs.std, m.iterations, confidence);
}

/**
 * Why a candidate is suspect: it beats the original on the labels while disagreeing with it on many samples (poor
 * or too few labels make a worse model look better); null when it is not.
 */
export function suspectReason(r: CandidateResult): string | null {
  const a = r.accuracy;
  if (!a || a.metric !== 'top1' || !(a.dropPp < 0) || a.agreement === null) return null;
  const disagreePp = (1 - a.agreement) * 100;
  if (disagreePp <= SUSPECT_DISAGREEMENT_PP) return null;
  return `scores ${fmtPp(-a.dropPp)} pp above the original on the labels while disagreeing with it on ${fmtPp(disagreePp)} % of the samples: the labels may be poor or too few; not chosen`;
}

/**
 * Without --max-accuracy-drop, a candidate whose loss is confirmed to reach UNBOUNDED_DROP_WARNING_PP (the lower end
 * of its drop interval, or the point estimate without intervals) is not chosen: a device tuning itself must not pick
 * a variant measured to be that much worse because nobody set a bound. It stays in the table and on the front.
 */
export function confirmedLossReason(r: CandidateResult): string | null {
  const a = r.accuracy;
  if (!a || r.id === 'fp32') return null;
  const lower = a.confidence === 0 ? a.dropPp : a.ci[0];
  if (!(lower >= UNBOUNDED_DROP_WARNING_PP)) return null;
  return `loses at least ${fmtPp(lower)} pp of ${a.metric} (${a.confidence === 0 ? 'point estimate' : `interval ${fmtPp(a.ci[0])} … ${fmtPp(a.ci[1])} pp`}) and no --max-accuracy-drop allows it; give one to choose it`;
}

/** Report file extension check, re-exported for the CLI. */
export { reportFormatOf } from './tune-report.js';

/**
 * Refit the compressed candidate's classifier head to the original's temperature-softened logits on the calibration
 * data (src/compress/distill.ts), then re-score it on the evaluation data. Returns the distilled model and its
 * accuracy, or only a note when there is no head to refit.
 */
async function selfDistill(
  result: CandidateResult,
  ctx: CandidateContext,
): Promise<{ model: NonNullable<CandidateResult['model']>; accuracy: CandidateAccuracy; note: string } | { note: string }> {
  const student = loadModelFile(result.model!.path).model;
  const teacher = loadModelFile(ctx.modelPath).model;
  let refit: { student: OnnxModel; what: string };
  if (ctx.detection) {
    // A detector: every output's final convolution refit to the original's (score heads judged after the sigmoid).
    const task = loadDetectionTask(ctx.detection);
    const decoder = task.decoder;
    const calib = openDataset(ctx.calibDir!, teacher);
    const shortage = await ctx.calibObjectShortage();
    if (shortage !== null) return { note: `self-distillation not applied: ${shortage}; heads refit there would learn background` };
    const heads = await distillDetectorHeads(teacher, student, calib, {
      sigmoidOutputs: decoder.sigmoidOutputs?.(declaredOutputs(teacher)) ?? [],
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    if (heads.applied === 0) return { note: `self-distillation not applied: no detector head refit lowered its held-out error (${heads.heads.map((h) => `${h.output}: ${h.reason ?? 'no gain'}`).join('; ')})` };
    refit = { student: heads.student, what: `${heads.applied} detector head(s) (${heads.heads.filter((h) => h.applied).map((h) => h.node).join(', ')})` };
  } else {
    const distilled = await distillHead(teacher, student, openDataset(ctx.calibDir!, teacher));
    if (!distilled.head.applied) return { note: `self-distillation not applied: ${distilled.head.reason ?? 'no gain'}` };
    refit = { student: distilled.student, what: `head '${distilled.head.node}'` };
  }
  const path = `${result.model!.path.replace(/\.onnx$/, '')}.distilled.onnx`;
  const saved = saveModelFile(path, refit.student);
  // A second look at the same validation samples (the first variant failed there): Bonferroni over the two looks,
  // so the kept variant's interval is at 1 − α/2 (95 % → 97.5 %) and passing on the second try is not a free retry.
  const confidence = ctx.confidence === 0 ? 0 : 1 - (1 - ctx.confidence) / 2;
  const metrics = ctx.reference
    ? await ctx.reference.evaluate(path, ctx.signal, confidence)
    : await evaluateModelFiles({ modelPath: path, dataDir: ctx.dataDir!, referencePath: ctx.modelPath, confidence, ...(ctx.detection ? { detection: ctx.detection } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) });
  const accuracy = accuracyOf(metrics, ctx.baselineTop1(), ctx.judgedOn);
  return {
    model: { path, sha256: saved.sha256, bytes: saved.bytes },
    accuracy,
    note: `self-distilled ${refit.what} against the original: drop ${fmtPp(result.accuracy!.dropPp)} → ${fmtPp(accuracy.dropPp)} pp${confidence > 0 ? ` (judged again on the same samples: interval at ${+(confidence * 100).toFixed(1)} %, Bonferroni over the two looks)` : ''}`,
  };
}
