/**
 * Non-maximum suppression over decoded detections: hard (greedy, per class, as Ultralytics and torchvision do) and
 * MediaPipe's weighted variant (NonMaxSuppressionCalculator, algorithm WEIGHTED). Pure.
 */
import type { Box, Detection, Point } from './detection-types.js';

/** Options of `hardNms`. */
export interface HardNmsOptions {
  /** A detection is suppressed by a kept one whose IoU with it is **above** this. */
  iouThreshold: number;
  /** Keep at most this many (highest scores first); absent = all. */
  maxDetections?: number;
  /** Suppress only within a class (default true); false = class-agnostic. */
  perClass?: boolean;
}

/** Options of `weightedNms`. */
export interface WeightedNmsOptions {
  /** Detections whose IoU with the top one is **above** this are merged into it. */
  iouThreshold: number;
  /** Keep at most this many (MediaPipe's weighted NMS has no cap; absent = all). */
  maxDetections?: number;
  /** Merge only within a class (default false, as MediaPipe without `multiclass_nms`). */
  perClass?: boolean;
}

/** Area of a box; 0 when it is empty or inverted. */
export function boxArea(box: Box): number {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over union of two boxes; 0 when they do not overlap or the union is empty. */
export function boxIou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Indices of `detections` by descending score; ties keep input order (a stable sort). */
function byScore(detections: readonly Detection[]): number[] {
  return detections.map((_, i) => i).sort((i, j) => detections[j]!.score - detections[i]!.score || i - j);
}

function checkThreshold(name: string, options: { iouThreshold: number; maxDetections?: number }): void {
  if (!Number.isFinite(options.iouThreshold)) throw new RangeError(`${name}: iouThreshold must be a finite number, got ${options.iouThreshold}`);
  if (options.maxDetections !== undefined && !(Number.isInteger(options.maxDetections) && options.maxDetections >= 0)) {
    throw new RangeError(`${name}: maxDetections must be an integer ≥ 0, got ${options.maxDetections}`);
  }
}

/**
 * Greedy hard NMS: in descending score order, keep a detection unless a kept detection (of the same class, unless
 * `perClass` is false) overlaps it with IoU > `iouThreshold`; stop at `maxDetections`. Returns kept detections,
 * highest score first, unchanged.
 */
export function hardNms(detections: readonly Detection[], options: HardNmsOptions): Detection[] {
  checkThreshold('hardNms', options);
  const perClass = options.perClass ?? true;
  const max = options.maxDetections ?? Infinity;
  const kept: Detection[] = [];
  const keptByClass = new Map<number, Detection[]>();
  if (max === 0) return kept;
  for (const i of byScore(detections)) {
    const d = detections[i]!;
    const key = perClass ? d.cls : 0;
    let rivals = keptByClass.get(key);
    if (!rivals) {
      rivals = [];
      keptByClass.set(key, rivals);
    }
    if (rivals.some((k) => boxIou(k.box, d.box) > options.iouThreshold)) continue;
    rivals.push(d);
    kept.push(d);
    if (kept.length >= max) break;
  }
  return kept;
}

/**
 * MediaPipe's weighted NMS: take the highest-scoring remaining detection; its candidates are all remaining
 * detections (itself included) with IoU > `iouThreshold` against it; emit the score-weighted mean of the
 * candidates' corners and keypoints with the top detection's score and class; remove the candidates; repeat.
 * (MediaPipe `non_max_suppression_calculator.cc` `WeightedNonMaxSuppression`; one difference: the top detection is
 * always its own candidate, where MediaPipe stops at a top box of zero area.)
 */
export function weightedNms(detections: readonly Detection[], options: WeightedNmsOptions): Detection[] {
  checkThreshold('weightedNms', options);
  const perClass = options.perClass ?? false;
  const max = options.maxDetections ?? Infinity;
  const out: Detection[] = [];
  let remaining = byScore(detections);
  while (remaining.length > 0 && out.length < max) {
    const top = detections[remaining[0]!]!;
    const candidates: Detection[] = [top];
    const rest: number[] = [];
    for (const i of remaining.slice(1)) {
      const d = detections[i]!;
      if ((!perClass || d.cls === top.cls) && boxIou(d.box, top.box) > options.iouThreshold) candidates.push(d);
      else rest.push(i);
    }
    out.push(candidates.length === 1 ? top : weightedMean(top, candidates));
    remaining = rest;
  }
  return out;
}

/** Score-weighted mean of the candidates' corners and keypoints; score and class stay the top detection's. */
function weightedMean(top: Detection, candidates: readonly Detection[]): Detection {
  let total = 0;
  const box: Box = [0, 0, 0, 0];
  const keypointCount = top.keypoints?.length ?? 0;
  const keypoints: Point[] = Array.from({ length: keypointCount }, (): Point => [0, 0]);
  for (const c of candidates) {
    total += c.score;
    for (let k = 0; k < 4; k++) box[k] += c.box[k]! * c.score;
    for (let k = 0; k < keypointCount; k++) {
      const p = c.keypoints?.[k];
      if (!p) throw new RangeError(`weightedNms: a candidate has ${c.keypoints?.length ?? 0} keypoints, the top detection ${keypointCount}`);
      keypoints[k]![0] += p[0] * c.score;
      keypoints[k]![1] += p[1] * c.score;
    }
  }
  // All scores 0 (possible without a score threshold): there is no weighting; keep the top detection as it is.
  if (total <= 0) return top;
  return {
    ...top,
    box: [box[0] / total, box[1] / total, box[2] / total, box[3] / total],
    ...(top.keypoints ? { keypoints: keypoints.map(([x, y]): Point => [x / total, y / total]) } : {}),
  };
}
