/**
 * What a detector's own detections say about a dataset: how many objects the model finds at its operating threshold.
 * Distillation of detector heads needs data with objects in it — on photos without any, the refit heads learn
 * background only and pass a held-out check on more background (measured on BlazeFace: mAP@.5 0.95 → 0.09).
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
 * Distillation data must hold at least this many objects the teacher detects: with fewer, the refit heads learn
 * background (BlazeFace on 26 photos with one face between them lost nearly every face after the refit).
 */
export const MIN_DISTILL_OBJECTS = 10;
