/**
 * What a detector's own detections say about a dataset: how many objects the model finds at its operating threshold.
 * Whatever is fitted to data needs objects in it — on photos without any, distilled heads learn background only and
 * pass a held-out check on more background (BlazeFace: mAP@.5 0.95 → 0.09), and a pruned model's recovery keeps
 * background (PP-OCRv4 det on 20 photos holding 6 text regions: hmean 0.896 → 0).
 */
import type { OnnxModel } from '../onnx/ir.js';
import type { Dataset } from './dataset.js';
import { evaluateModel } from './evaluate.js';
import { detectionEvalSpec } from './evaluate-files.js';
import type { DetectionTask } from '../detect/detection-task.js';

/** Objects the model detects at the task's operating threshold on `dataset`, and the images it looked at. */
export async function detectedObjectCount(model: OnnxModel, dataset: Dataset, task: DetectionTask, signal?: AbortSignal): Promise<{ objects: number; images: number }> {
  const spec = detectionEvalSpec({ ...task, labels: null });
  const m = await evaluateModel(model, dataset, { reference: model, detection: spec, confidence: 0, checkExplainedVariation: false, ...(signal ? { signal } : {}) });
  return { objects: m.detection?.objects ?? 0, images: m.detection?.images ?? 0 };
}

/**
 * Data a detector's heads are distilled on, or a pruned detector is recovered on, must hold at least this many objects
 * the original detects: with fewer, the fit learns background (BlazeFace on 26 photos with one face between them lost
 * nearly every face after the head refit).
 */
export const MIN_FIT_OBJECTS = 10;

/**
 * "<who> detects 3 object(s) at score ≥ 0.6 in the 20 <where>, fewer than 10" when `dataset` holds fewer than
 * MIN_FIT_OBJECTS objects the model detects; null when it holds enough.
 */
export async function objectShortage(model: OnnxModel, dataset: Dataset, task: DetectionTask, phrase: { who: string; where: string }, signal?: AbortSignal): Promise<string | null> {
  const found = await detectedObjectCount(model, dataset, task, signal);
  if (found.objects >= MIN_FIT_OBJECTS) return null;
  return `${phrase.who} detects ${found.objects} object(s) at score ≥ ${task.refConf} in the ${found.images} ${phrase.where}, fewer than ${MIN_FIT_OBJECTS}`;
}
