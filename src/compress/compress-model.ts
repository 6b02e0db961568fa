import { performance } from 'node:perf_hooks';
import { loadModelFile, saveModelFile } from '../onnx/model-file.js';
import { cloneModel, defaultOpset, elementCount, type OnnxModel, type Tensor } from '../onnx/ir.js';
import { validateGraph } from '../onnx/graph.js';
import { normalizeModel, opsetUpgradeNote } from '../onnx/normalize.js';
import { feedsForBatch, openDataset, type Dataset } from './dataset.js';
import { loadCompressMethod } from './methods/registry.js';
import type { MethodOptions } from './methods/method-types.js';
import type { KeptNode, PassReport } from './pass.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { requireOutputDirectory } from '../util/atomic-file.js';
import { createOrtSession } from '../profile/ort-session.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import { encodeModel } from '../onnx/model-codec.js';
import { declaredOutputs, evaluateRunners } from './evaluate.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { detectionEvalSpec } from './evaluate-files.js';
import { isImageFolder } from '../detect/image-folder.js';
import { prepareDetectionData, type PreparedDetectionData } from '../detect/image-dataset.js';
import { loadDetectionTask, type DetectionTaskFiles } from '../detect/load-detection-task.js';
import type { DetectionTask } from '../detect/detection-task.js';
import type { DetectionMetrics } from '../detect/detection-metrics.js';
import { isConfidenceLevel } from './confidence.js';
import { DEFAULT_CONFIDENCE, type FidelityMetrics, type OutputFidelity } from './fidelity.js';
import { accuracyMetricLabel, fidelityGate, judgedOnLabel, type AccuracyJudgement, type BoundCheck, type JudgedOn } from './accuracy-judgement.js';
import { checkValidationData, syntheticDataset, withDataSplit, type SplitSummary } from './validation-data.js';

/** Caller input for compressing a model file. */
export interface CompressFileOptions extends MethodOptions {
  inputPath: string;
  outputPath: string;
  method: string;
  dataDir?: string;
  /** Concrete shapes for inputs with symbolic dims (`--shape NAME=DxDxD`): used to synthesize the gate's inputs without data. */
  shapes?: Record<string, number[]>;
  /** Sets of `dataDir` the report's fidelity is measured on when there is no validation data (default 8; 0 = no fidelity and no gate). */
  fidelitySets?: number;
  /** Explicit validation data (ONNX test-data layout): the gate and the bound are judged on it. */
  validationDataDir?: string;
  /** With a bound and no validation data: judge on the data the method fitted to (no split); the report says so. */
  noHoldout?: boolean;
  /** Write the output even when the fidelity gate fails (the report's first note says so). */
  force?: boolean;
  /** Seed of the `dataDir` split (default: a fixed seed, so the same data gives the same split). */
  splitSeed?: number;
  /** `--task detection`: data may be image folders, and the gate and the bound are judged on decoded detections. */
  detection?: DetectionTaskFiles;
  onProgress?: (stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Per-output fidelity of the compressed model against the input model, and the gate's verdict. */
export interface CompressFidelity {
  /** Held-out validation samples, the data the method calibrated on, or synthesized inputs (no data given). */
  judgedOn: JudgedOn;
  samples: number;
  outputs: OutputFidelity[];
  /** The output with the lowest cosine; `cosine` and `sqnrDb` are its. */
  worstOutput: string;
  cosine: number;
  sqnrDb: number;
  /** The accuracy figure with its interval (top-1 with labels, agreement for classifiers, else cosine). */
  accuracy: AccuracyJudgement | null;
  /** `--max-accuracy-drop`, checked on the interval's upper end. */
  bound: BoundCheck | null;
  /** The fidelity gate: failed when an output collapsed or the bound is not confirmed; `forced` = written anyway. */
  gate: { passed: boolean; failures: string[]; forced: boolean };
  /** How `--data` was split into fit and validation parts (null: not split). */
  split: SplitSummary | null;
  /** `--task detection`: mAP / agreement / hmean of the variant (null otherwise). */
  detection: DetectionMetrics | null;
}

/** Default number of dataset sets the compress report's fidelity is measured on. */
export const COMPRESS_FIDELITY_SETS = 8;

/** The `compress` JSON of SPEC.md, plus the pass details. */
export interface CompressReport {
  method: string;
  input: { path: string; bytes: number; sha256: string };
  output: { path: string; bytes: number; sha256: string };
  sizeRatio: number;
  params: { before: number; after: number };
  nodesChanged: number;
  nodesKeptFloat: KeptNode[];
  opset: { from: number; to: number };
  calibration: { method: string; samples: number } | null;
  seconds: number;
  constantsLifted: number;
  notes: string[];
  details: Record<string, unknown> | null;
  steps: PassReport[] | null;
  /** With `dataDir`, when the method changed the model: fidelity to the input model on the calibration data. */
  fidelity: CompressFidelity | null;
}

/** Parameter count: elements of every initializer (quantized weights count once, scales included). */
export function countParameters(model: OnnxModel): number {
  let n = 0;
  for (const t of model.graph.initializers.values()) n += elementCount(t.dims);
  return n;
}

/**
 * Compress a model file: load and validate, normalise (Constant lifting, opset upgrade where the method needs it),
 * run the method, write the output atomically. Bad input throws before anything is written; the input is never
 * overwritten.
 */
export async function compressModelFile(options: CompressFileOptions): Promise<CompressReport> {
  if (!options.detection) {
    for (const [flag, dir] of [['--data', options.dataDir], ['--val-data', options.validationDataDir]] as const) {
      if (dir && isImageFolder(dir)) {
        throw new EdgetuneError('USAGE', `${flag} ${dir} is a folder of images: compress reads images for detectors (--task detection --decoder NAME, whose preset says how to feed them); other models take the ONNX test-data layout`);
      }
    }
    return compressPrepared(options, null);
  }
  // A detector: image folders become test-data sets (one image a set, with its frame) for calibration and judging.
  requireOutputDirectory(options.outputPath);
  const task = loadDetectionTask(options.detection);
  const model = loadModelFile(options.inputPath).model;
  validateGraph(model);
  task.decoder.checkOutputs(declaredOutputs(model));
  const prepared: PreparedDetectionData[] = [];
  try {
    const prepare = (dir: string | undefined, name: string): string | undefined => {
      if (!dir) return undefined;
      const data = prepareDetectionData({ dataDir: dir, model, preset: task.preset, workDir: join(mkdtempSync(join(tmpdir(), `edgetune-${name}-`)), 'sets') });
      prepared.push(data);
      return data.dataDir;
    };
    const dataDir = prepare(options.dataDir, 'data');
    if (dataDir && options.method === 'prune') await requireDetectedObjects(model, dataDir, task, options);
    const validationDataDir = prepare(options.validationDataDir, 'val-data');
    try {
      return await compressPrepared({ ...options, ...(dataDir ? { dataDir } : {}), ...(validationDataDir ? { validationDataDir } : {}) }, task);
    } catch (error) {
      // Messages about converted sets name the user's image files, not the temporary sets.
      if (!(error instanceof EdgetuneError)) throw error;
      let message = error.message;
      for (const [data, given] of [[dataDir, options.dataDir], [validationDataDir, options.validationDataDir]] as const) {
        const p = prepared.find((x) => x.dataDir === data);
        if (!p?.fromImages || !data || !given) continue;
        message = message.replace(new RegExp(`${escapeRegExp(data)}/test_data_set_(\\d+)`, 'g'), (_, n: string) => join(given, p.fileNames[Number(n)] ?? `image ${n}`));
        message = message.split(data).join(given);
      }
      if (message === error.message) throw error;
      throw new EdgetuneError(error.code, message, { cause: error });
    }
  } finally {
    for (const p of prepared) {
      p.cleanup();
      if (p.fromImages) rmSync(dirname(p.dataDir), { recursive: true, force: true });
    }
  }
}

/**
 * Pruning a detector fits its recovery (and judges its per-group sensitivity) on --data: on photos where the original
 * finds nothing, both see only background, and what they keep is background. Measured on PP-OCRv4 det with 20 photos
 * holding 6 text regions: `--allocate sensitivity --ratio 0.25` found no text at all afterwards (hmean 0.896 → 0).
 */
async function requireDetectedObjects(model: OnnxModel, dataDir: string, task: DetectionTask, options: CompressFileOptions): Promise<void> {
  const { objectShortage } = await import('./detection-objects.js');
  const shortage = await objectShortage(model, openDataset(dataDir, model), task, { who: 'the original', where: `image(s) of ${options.dataDir}` }, options.signal);
  if (shortage === null) return;
  throw new EdgetuneError(
    'DATASET_INVALID',
    `prune --task detection: ${shortage}: the recovery would be fitted, and each group judged, on background only; give --data photos that show the objects (not the ones you evaluate on)`,
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function compressPrepared(options: CompressFileOptions, task: DetectionTask | null): Promise<CompressReport> {
  const started = performance.now();
  requireOutputDirectory(options.outputPath); // before any work: a missing directory is bad input, not a late ENOENT
  const runner = await loadCompressMethod(options.method);
  const loaded = loadModelFile(options.inputPath);
  const model = loaded.model;
  validateGraph(model);
  await checkOnnxruntimeLoads(options.inputPath);
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (!isConfidenceLevel(confidence)) throw new EdgetuneError('USAGE', `--confidence must be 0 (point estimates) or in (0, 1); got ${confidence}`);
  const gateOn = options.fidelitySets !== 0;
  const fidelitySets = options.dataDir ? (options.fidelitySets ?? COMPRESS_FIDELITY_SETS) : 0;
  // The input as loaded (before normalisation, which the method may mutate): the reference of the fidelity check.
  const fidelityNotes: string[] = [];
  let inputBytes: Uint8Array | undefined;
  try {
    inputBytes = gateOn ? encodeModel(model) : undefined;
  } catch (error) {
    fidelityNotes.push(`fidelity not measured: ${messageOf(error)}`);
  }
  const from = defaultOpset(model);
  const normalized = normalizeModel(model, runner.minOpset > 0 ? { minOpset: runner.minOpset } : {});
  // After Constant lifting, so weights kept in Constant nodes (paddle2onnx) are counted.
  const paramsBefore = countParameters(model);
  if (runner.needsData && !options.dataDir) {
    throw new EdgetuneError('USAGE', `method '${options.method}' needs data: --data DIR (ONNX test-data layout)`);
  }
  if (options.validationDataDir && !gateOn) throw new EdgetuneError('USAGE', '--val-data needs the fidelity check');
  if (options.dataDir) openDataset(options.dataDir, model).load(0); // fail on a mismatched dataset before any work
  if (options.shapes && Object.keys(options.shapes).length > 0) {
    // A --shape naming no input, of the wrong rank or against a fixed dim is bad input before any work.
    try {
      syntheticDataset(model, 1, options.shapes);
    } catch (error) {
      if (error instanceof EdgetuneError && error.code === 'USAGE' && /^--shape /.test(error.message)) throw error;
    }
  }
  if (options.validationDataDir) checkValidationData(options.validationDataDir, model, options.dataDir);
  // A bound judged on data the method fitted to is no bound: split --data unless validation data or --no-holdout.
  const split = gateOn && options.dataDir && options.maxAccuracyDropPp !== undefined && !options.validationDataDir && !options.noHoldout;
  return withDataSplit(split ? { dataDir: options.dataDir!, model, ...(options.splitSeed !== undefined ? { seed: options.splitSeed } : {}) } : null, async (parts) => {
    const fitDir = parts?.fitDir ?? options.dataDir;
    const dataset = fitDir ? openDataset(fitDir, model) : undefined;
    const outcome = await runner.run({
      model,
      original: cloneModel(model),
      dataset,
      options,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    // What the variant is judged on: held-out samples, else the calibration data, else synthesized inputs.
    const validationDir = parts?.validationDir ?? options.validationDataDir;
    const judge: { dataset: Dataset; judgedOn: JudgedOn; maxSets?: number } | null = validationDir
      ? { dataset: openDataset(validationDir, model), judgedOn: 'validation' }
      : dataset
        ? { dataset, judgedOn: 'calibration', maxSets: fidelitySets }
        : gateOn
          ? syntheticJudge(model, fidelityNotes, options.shapes ?? {})
          : null;
    // The floor: nothing is written that onnxruntime cannot load, or run where the input model runs.
    const outputBytes = await checkOutputRuns(options.method, outcome.model, inputBytes, judge?.dataset);
    // Only what the method changed is measured (nodesChanged 0: an already-quantized model, nothing to factorise…).
    const measured =
      judge && inputBytes && outcome.report.nodesChanged > 0
        ? await compressionFidelity(inputBytes, outputBytes, outcome.model, judge, { ...options, confidence }, parts?.summary ?? null, task)
        : { fidelity: null, notes: fidelityNotes };
    const upgraded = opsetUpgradeNote(normalized);
    const controlFlow = controlFlowNote(outcome.model, outcome.report.nodesKeptFloat);
    const notes = [...(upgraded ? [upgraded] : []), ...(controlFlow ? [controlFlow] : []), ...outcome.report.notes, ...measured.notes];
    const gate = measured.fidelity?.gate;
    if (gate && !gate.passed) {
      const f = measured.fidelity!;
      const figures = `worst output '${f.worstOutput}' cosine ${f.cosine.toFixed(4)}${f.accuracy?.agreement != null ? `, agreement ${(f.accuracy.agreement * 100).toFixed(1)} %` : ''}`;
      const what = `the compressed model fails the fidelity gate (${judgedOnLabel(f.judgedOn, f.samples)}; ${figures}): ${gate.failures.join('; ')}`;
      if (!options.force) throw new EdgetuneError('FIDELITY_FAILED', `${what}; nothing written to ${options.outputPath} (--force writes it anyway)`);
      gate.forced = true;
      notes.unshift(`FORCED: written although ${what}`);
    }
    const saved = saveModelFile(options.outputPath, outcome.model, { inputPath: options.inputPath });
    return {
      method: options.method,
      input: { path: loaded.path, bytes: loaded.bytes, sha256: loaded.sha256 },
      output: { path: saved.path, bytes: saved.bytes, sha256: saved.sha256 },
      sizeRatio: loaded.bytes / saved.bytes,
      params: { before: paramsBefore, after: countParameters(outcome.model) },
      nodesChanged: outcome.report.nodesChanged,
      nodesKeptFloat: outcome.report.nodesKeptFloat,
      opset: { from, to: defaultOpset(outcome.model) },
      calibration: outcome.calibration ?? null,
      seconds: (performance.now() - started) / 1000,
      constantsLifted: normalized.constantsLifted,
      notes,
      details: outcome.report.details ?? null,
      steps: outcome.steps ?? null,
      fidelity: measured.fidelity,
    };
  });
}

/**
 * Encode the output model and make sure onnxruntime loads it and, on the first sample the input model runs on, runs
 * it: a pass that produced an unusable model fails here (PASS_FAILED, exit 1) and nothing is written.
 */
async function checkOutputRuns(method: string, output: OnnxModel, inputBytes: Uint8Array | undefined, data: Dataset | undefined): Promise<Uint8Array> {
  const refuse = (what: string, error: unknown): EdgetuneError =>
    new EdgetuneError('PASS_FAILED', `${method} produced a model onnxruntime ${what} (nothing written): ${messageOf(error)}`, { cause: error });
  let bytes: Uint8Array;
  try {
    bytes = encodeModel(output);
  } catch (error) {
    throw refuse('cannot encode', error);
  }
  let runner: InferenceRunner;
  try {
    runner = await createInferenceRunner(bytes, { intraOpNumThreads: 1 });
  } catch (error) {
    if (error instanceof EdgetuneError && error.code === 'ABORTED') throw error;
    throw refuse('cannot load', error);
  }
  try {
    if (!data || !inputBytes) return bytes;
    // Sequence / optional / map values (no tensor type) are not run here: onnxruntime-node cannot return some of
    // them and has crashed the process on an optional sequence output (ONNX suite node/test_if_opt).
    if ([...output.graph.inputs, ...output.graph.outputs].some((v) => v.type === null)) return bytes;
    let feeds: Record<string, Tensor>;
    try {
      feeds = feedsForBatch(output, data.load(0))[0]!.feeds;
    } catch {
      return bytes; // the data does not fit the output's inputs the same way: the fidelity check will say so
    }
    // Only where the input model runs on this sample: its own failures are not the pass's.
    const reference = await createInferenceRunner(inputBytes, { intraOpNumThreads: 1 }).catch(() => null);
    if (!reference) return bytes;
    try {
      const ran = await reference.run(feeds, reference.outputNames).then(
        () => true,
        () => false,
      );
      if (!ran) return bytes;
    } finally {
      await reference.release();
    }
    try {
      await runner.run(feeds, runner.outputNames);
    } catch (error) {
      throw refuse('cannot run where the input model runs', error);
    }
    return bytes;
  } finally {
    await runner.release();
  }
}

/** Synthesized inputs to judge on when no data was given; null (with a note) when the input shapes are symbolic. */
/**
 * What a pass left alone inside control flow: passes work on the main graph only, so If/Loop/Scan bodies keep their
 * ops as they were. Null when the model has none, or when the pass already listed them as kept float (fp16).
 */
function controlFlowNote(model: OnnxModel, keptFloat: readonly { opType: string }[]): string | null {
  const counts = new Map<string, number>();
  for (const node of model.graph.nodes) {
    if ([...node.attributes.values()].some((a) => a.type === 'graph' || a.type === 'graphs')) counts.set(node.opType, (counts.get(node.opType) ?? 0) + 1);
  }
  if (counts.size === 0 || keptFloat.some((k) => counts.has(k.opType))) return null;
  const list = [...counts].map(([op, n]) => `${op} ×${n}`).join(', ');
  return `control flow left as it was: ${list} and the ops in their bodies are not compressed (the pass works on the main graph)`;
}

function syntheticJudge(model: OnnxModel, notes: string[], shapes: Record<string, number[]>): { dataset: Dataset; judgedOn: JudgedOn } | null {
  try {
    return { dataset: syntheticDataset(model, SYNTHETIC_SAMPLES, shapes), judgedOn: 'synthetic' };
  } catch (error) {
    if (error instanceof EdgetuneError && error.code === 'USAGE' && /^--shape /.test(error.message)) throw error; // a bad --shape is the caller's
    notes.push(`fidelity gate not applied: no data and no inputs to synthesize (${messageOf(error)}); give --data DIR`);
    return null;
  }
}

/** Samples synthesized for the fidelity gate when no data was given. */
export const SYNTHETIC_SAMPLES = 8;

/**
 * Per-output fidelity of the output model against the input model (both in memory) on the judging data, and the
 * fidelity gate's verdict. A model that cannot be compared (outputs of another shape, a run failure) is reported in
 * a note, not thrown: the compression itself succeeded.
 */
async function compressionFidelity(
  inputBytes: Uint8Array,
  outputBytes: Uint8Array,
  output: OnnxModel,
  judge: { dataset: Dataset; judgedOn: JudgedOn; maxSets?: number },
  options: CompressFileOptions & { confidence: number },
  split: SplitSummary | null,
  task: DetectionTask | null,
): Promise<{ fidelity: CompressFidelity | null; notes: string[] }> {
  let reference: InferenceRunner | undefined;
  let runner: InferenceRunner | undefined;
  let m: FidelityMetrics;
  try {
    reference = await createInferenceRunner(inputBytes);
    runner = await createInferenceRunner(outputBytes);
    m = await evaluateRunners(output, runner, reference, judge.dataset, {
      ...(judge.maxSets ? { maxSets: judge.maxSets } : {}),
      confidence: options.confidence,
      // Random inputs are no scale for R²: on them only collapse is judged. A detector is judged on its decoded
      // detections: box regressors at anchors without an object vary freely and are not what a user reads.
      checkExplainedVariation: judge.judgedOn !== 'synthetic' && !task,
      ...(task && judge.judgedOn !== 'synthetic' ? { detection: detectionEvalSpec(task) } : {}),
      ...(options.onProgress ? { onProgress: (done: number, total: number) => options.onProgress!('fidelity', done, total) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (error instanceof EdgetuneError && error.code === 'ABORTED') throw error;
    // A detector's labels or decoder that do not fit the data are the caller's to fix, not a missing figure.
    if (task && error instanceof EdgetuneError && error.isBadInput) throw error;
    return { fidelity: null, notes: [`fidelity not measured: ${messageOf(error)}`] };
  } finally {
    await runner?.release();
    await reference?.release();
  }
  if (!m.outputs || m.worstOutput === null || m.cosine === null || m.sqnrDb === null) return { fidelity: null, notes: ['fidelity not measured: no output could be compared'] };
  const gate = fidelityGate(m, { judgedOn: judge.judgedOn, maxAccuracyDropPp: options.maxAccuracyDropPp });
  const accuracy = gate.judgement;
  const notes = [
    `fidelity ${judgedOnLabel(judge.judgedOn, m.samples)}: worst output '${m.worstOutput}' cosine ${m.cosine.toFixed(5)}, SQNR ${m.sqnrDb.toFixed(1)} dB` +
      (accuracy && accuracy.metric !== 'cosine' ? `; ${accuracyMetricLabel(accuracy.metric)} drop ${accuracy.drop.toFixed(2)} pp (interval ${accuracy.ci[0].toFixed(2)} … ${accuracy.ci[1].toFixed(2)} pp)` : '') +
      (m.collapsed.length > 0 ? `; COLLAPSED: ${m.collapsed.join('; ')}` : ''),
  ];
  // Easy to misread as held out: say so, and how to get a held-out figure.
  if (judge.judgedOn === 'calibration') {
    notes.push(
      'the fidelity above is not a held-out figure (optimistic: the method fitted to these samples); --val-data DIR judges on data it did not see' +
        (options.noHoldout ? ' (--no-holdout: the bound too was judged on the fitted samples)' : ', as does --max-accuracy-drop, which holds out part of --data'),
    );
  }
  const d = m.detection;
  if (d) {
    const f = (v: number): string => (v < 0 ? 'n/a' : v.toFixed(4));
    notes.push(
      `detection (${d.images} images, against ${d.mode === 'labels' ? `${d.objects} labelled objects` : `the original's ${d.objects} detections at score ≥ ${d.refConf}`}): ` +
        (d.hmean ? `hmean ${f(d.hmean.hmean)}${d.hmean.reference ? ` (original ${f(d.hmean.reference.hmean)})` : ''}, ` : '') +
        `mAP@.5 ${f(d.map50)}, mAP@.5:.95 ${f(d.map5095)}${d.referenceMap ? ` (original ${f(d.referenceMap.map50)} / ${f(d.referenceMap.map5095)})` : ''}` +
        (d.agreement ? `; agreement F1 ${f(d.agreement.f1)}, mean IoU ${d.agreement.meanIou === null ? 'n/a' : d.agreement.meanIou.toFixed(3)}` : ''),
    );
  }
  if (gate.bound) notes.push(`bound: ${gate.bound.message}`);
  if (split) notes.push(`--data split ${split.fit.samples} fit / ${split.validation.samples} validation samples (${split.stratified ? 'stratified by label, ' : ''}seed ${split.seed})`);
  return {
    fidelity: {
      judgedOn: judge.judgedOn,
      samples: m.samples,
      outputs: m.outputs,
      worstOutput: m.worstOutput,
      cosine: m.cosine,
      sqnrDb: m.sqnrDb,
      accuracy,
      bound: gate.bound,
      gate: { passed: gate.passed, failures: gate.failures, forced: false },
      split,
      detection: m.detection ?? null,
    },
    notes,
  };
}

/**
 * Refuse (MODEL_INVALID / MODEL_UNSUPPORTED) an input onnxruntime will not load: its checker, type inference and
 * kernel lookup see what edgetune's graph validation does not (attribute types, arity, opset, IR version), and a
 * pass would only turn such a model into an output onnxruntime refuses too.
 */
async function checkOnnxruntimeLoads(path: string): Promise<void> {
  // Default optimisation level: its graph transformers re-run shape inference, which finds more than 'disabled'.
  const session = await createOrtSession(path, { threads: 1 });
  await session.release();
}
