import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFile } from '../onnx/model-file.js';
import { validateGraph } from '../onnx/graph.js';
import { openDataset } from './dataset.js';
import { tmpdir } from 'node:os';
import { declaredOutputs, evaluateModel, type DetectionEvalSpec } from './evaluate.js';
import { isImageFolder } from '../detect/image-folder.js';
import { prepareDetectionData } from '../detect/image-dataset.js';
import { loadDetectionTask, type DetectionTaskFiles } from '../detect/load-detection-task.js';
import type { DetectionTask } from '../detect/detection-task.js';
import type { FidelityMetrics } from './fidelity.js';
import type { OnnxModel } from '../onnx/ir.js';
import { EdgetuneError } from '../util/errors.js';

/** Caller input for evaluating model files. */
export interface EvaluateFilesOptions {
  modelPath: string;
  dataDir: string;
  referencePath?: string;
  outputIndex?: number;
  temperature?: number;
  /** Confidence of the metric intervals (default 0.95; 0 = point estimates). */
  confidence?: number;
  /** `--task detection`: decode outputs and score detections (mAP vs labels or vs the reference's detections). */
  detection?: DetectionTaskFiles;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The SPEC `eval` JSON: metrics plus which files were scored. */
export interface EvaluateFilesResult extends FidelityMetrics {
  model: { path: string; sha256: string };
  reference: { path: string; sha256: string } | null;
}

/** Load, validate and evaluate a model (and reference) on a dataset directory. */
export async function evaluateModelFiles(options: EvaluateFilesOptions): Promise<EvaluateFilesResult> {
  const loaded = loadModelFile(options.modelPath);
  validateGraph(loaded.model);
  const reference = options.referencePath ? loadModelFile(options.referencePath) : undefined;
  if (reference) validateGraph(reference.model);
  if (options.detection) return evaluateDetectorFiles(options, options.detection, loaded, reference);
  if (isImageFolder(options.dataDir)) {
    throw new EdgetuneError('USAGE', `--data ${options.dataDir} is a folder of images: eval reads images for detectors (--task detection --decoder NAME, whose preset says how to feed them); other models take the ONNX test-data layout`);
  }
  const dataset = openDataset(options.dataDir, loaded.model);
  dataset.load(0);
  const outputIndex = options.outputIndex ?? 0;
  if (!reference) refuseNothingToScore(loaded.model, outputIndex, options.dataDir, dataset.setNames);
  const metrics = await evaluateModel(loaded.model, dataset, {
    ...(reference ? { reference: reference.model } : {}),
    outputIndex,
    temperature: options.temperature ?? 1,
    ...(options.confidence !== undefined ? { confidence: options.confidence } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // The output's rank was not declared and turned out not to be [batch, classes]: the labels scored nothing.
  if (!reference && metrics.top1 === null) throw notAClassifier(loaded.model, outputIndex, options.dataDir, 'is not [batch, classes]');
  return {
    ...metrics,
    model: { path: loaded.path, sha256: loaded.sha256 },
    reference: reference ? { path: reference.path, sha256: reference.sha256 } : null,
  };
}

/** A detector: images (or test-data sets) through the model and the reference, decoded and scored. */
async function evaluateDetectorFiles(
  options: EvaluateFilesOptions,
  files: DetectionTaskFiles,
  loaded: ReturnType<typeof loadModelFile>,
  reference: ReturnType<typeof loadModelFile> | undefined,
): Promise<EvaluateFilesResult> {
  const task = loadDetectionTask(files);
  if (!reference && !task.labels) {
    throw new EdgetuneError('USAGE', 'eval --task detection: nothing to score against: give --labels COCO.json (boxes by image file name), --reference MODEL (its own detections), or both');
  }
  task.decoder.checkOutputs(declaredOutputs(loaded.model));
  const workDir = mkdtempSync(join(tmpdir(), 'edgetune-eval-images-'));
  rmSync(workDir, { recursive: true });
  const data = prepareDetectionData({ dataDir: options.dataDir, model: loaded.model, preset: task.preset, workDir, labels: task.labels });
  try {
    const dataset = openDataset(data.dataDir, loaded.model);
    const metrics = await evaluateModel(loaded.model, dataset, {
      ...(reference ? { reference: reference.model } : {}),
      ...(options.confidence !== undefined ? { confidence: options.confidence } : {}),
      detection: detectionEvalSpec(task),
      // Judged on decoded detections: raw box outputs at anchors without an object vary freely (no R² finding).
      checkExplainedVariation: false,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return {
      ...metrics,
      model: { path: loaded.path, sha256: loaded.sha256 },
      reference: reference ? { path: reference.path, sha256: reference.sha256 } : null,
    };
  } finally {
    data.cleanup();
  }
}

/** The evaluate-level spec of a resolved detection task. */
export function detectionEvalSpec(task: DetectionTask): DetectionEvalSpec {
  return {
    decoder: task.decoder,
    layout: task.preset.layout,
    metrics: { metric: task.metric, labels: task.labels, refConf: task.refConf, ...(task.categoryIdOfClass ? { categoryIdOfClass: task.categoryIdOfClass } : {}) },
  };
}

const NEEDS = 'labels in the dataset (label.pb in each test_data_set_N: int64 class indices) or --reference MODEL (agreement, cosine, SQNR, KL against it)';

/**
 * Without a reference only top-1 can be measured: it needs labels and a classifier output [batch, classes]. Refuse
 * (USAGE) up front rather than print a row of n/a.
 */
function refuseNothingToScore(model: OnnxModel, outputIndex: number, dataDir: string, setNames: readonly string[]): void {
  if (!setNames.some((set) => existsSync(join(dataDir, set, 'label.pb')))) {
    throw new EdgetuneError('USAGE', `eval: nothing to score against: '${dataDir}' has no label.pb in any of its ${setNames.length} set(s) and no --reference was given; eval needs ${NEEDS}`);
  }
  const rank = model.graph.outputs[outputIndex]?.type?.shape?.length;
  if (rank !== undefined && rank !== 2) throw notAClassifier(model, outputIndex, dataDir, `has rank ${rank}`);
}

function notAClassifier(model: OnnxModel, outputIndex: number, dataDir: string, why: string): EdgetuneError {
  const output = model.graph.outputs[outputIndex];
  const shape = output?.type?.shape ? ` [${output.type.shape.map((d) => d ?? '?').join(',')}]` : '';
  return new EdgetuneError(
    'USAGE',
    `eval: the labels in '${dataDir}' score top-1 of a classifier output [batch, classes]; output ${outputIndex} '${output?.name ?? '?'}'${shape} ${why}, so they score nothing without a reference; give --reference MODEL (for a sequence output: agreement per position), or --output-index of a [batch, classes] output`,
  );
}
