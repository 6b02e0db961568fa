/**
 * PASCAL VOC AP per class, as py-faster-rcnn computes it (`rbgirshick/py-faster-rcnn` `lib/datasets/voc_eval.py`,
 * `voc_eval` + `voc_ap`). Pure: no files, no clock.
 *
 * - A GT with `iscrowd` set plays VOC's `difficult`: it is not counted in npos, and a detection whose best GT it is
 *   is neither a true nor a false positive.
 * - Detections of a class are pooled over all images (image order, then list order) and sorted by score; the sort
 *   is stable (voc_eval's `np.argsort(-confidence)` is numpy's unstable quicksort, so with tied scores
 *   py-faster-rcnn may order them differently).
 * - Each detection looks only at its max-IoU GT (first one on ties): IoU > threshold (strict) and unclaimed →
 *   TP, already claimed → FP, difficult → ignored; otherwise FP. There is no fallback to the second-best GT.
 * - `pixelInclusive` adds VOC's +1 to every width and height (`x2 − x1 + 1`), the convention of integer pixel
 *   indices in the VOC devkit. It is off by default: decoders emit continuous coordinates, where +1 would inflate
 *   the IoU of small boxes.
 * - precision = tp / max(tp + fp, 2⁻⁵²); recall = tp / npos.
 * - `11-point` (VOC2007): Σ over t = i·0.1, i = 0…10, of max(precision[recall ≥ t]) / 11 (0 when none), summed
 *   in that order. `all-points` (VOC2010+): sentinels recall [0, …, 1], precision [0, …, 0], the precision
 *   envelope, Σ Δrecall · precision where recall changes (numpy pairwise sum, so results are bit-identical).
 */
import { EdgetuneError } from '../util/errors.js';
import type { Box } from './detection-types.js';
import type { ImageDetections } from './coco-eval.js';
import { numpyMean, numpySum } from './numpy-sum.js';

/** `11-point` (VOC2007, `use_07_metric=True`) or `all-points` (VOC2010 and later). */
export type VocApMetric = 'all-points' | '11-point';

/** Caller input of `vocAp`. */
export interface VocApOptions {
  images: readonly ImageDetections[];
  /** The category id of each decoder class index: `categoryIdOfClass[detection.cls]`. */
  categoryIdOfClass: readonly number[];
  /** Classes evaluated; default: every id in `categoryIdOfClass`. */
  categoryIds?: readonly number[];
  /** Default `all-points`. */
  metric?: VocApMetric;
  /** A match needs IoU strictly above this; default 0.5 (`ovthresh`). */
  iouThreshold?: number;
  /** Add 1 pixel to widths and heights, as voc_eval does for integer pixel boxes; default false. */
  pixelInclusive?: boolean;
}

/** AP of one class; `ap` is null when the class has no non-difficult GT (voc_eval would divide by zero). */
export interface VocClassAp {
  categoryId: number;
  ap: number | null;
  /** Non-difficult GT boxes (`npos`). */
  groundTruthCount: number;
  detectionCount: number;
  truePositives: number;
  falsePositives: number;
}

/** Per-class VOC AP and their mean over classes that have GT. */
export interface VocApResult {
  metric: VocApMetric;
  iouThreshold: number;
  pixelInclusive: boolean;
  /** Mean AP over classes with `ap !== null` (numpy mean); null when no class has GT. */
  map: number | null;
  perClass: VocClassAp[];
}

/** voc_eval's overlap of one detection with one GT (corners), with or without the +1 pixel convention. */
export function vocIou(det: Box, gt: Box, pixelInclusive: boolean): number {
  const one = pixelInclusive ? 1 : 0;
  const ixmin = Math.max(gt[0], det[0]);
  const iymin = Math.max(gt[1], det[1]);
  const ixmax = Math.min(gt[2], det[2]);
  const iymax = Math.min(gt[3], det[3]);
  const iw = Math.max(ixmax - ixmin + one, 0);
  const ih = Math.max(iymax - iymin + one, 0);
  const inters = iw * ih;
  const uni = (det[2] - det[0] + one) * (det[3] - det[1] + one) + (gt[2] - gt[0] + one) * (gt[3] - gt[1] + one) - inters;
  return inters / uni;
}

/** `voc_ap(rec, prec, use_07_metric)`. */
export function vocApOfCurve(recall: ArrayLike<number>, precision: ArrayLike<number>, metric: VocApMetric): number {
  const n = recall.length;
  if (metric === '11-point') {
    let ap = 0;
    for (let i = 0; i <= 10; i++) {
      const t = i * 0.1; // np.arange(0., 1.1, 0.1)
      let p = 0;
      let any = false;
      for (let j = 0; j < n; j++) {
        if (recall[j]! >= t) {
          p = any ? Math.max(p, precision[j]!) : precision[j]!;
          any = true;
        }
      }
      ap = ap + p / 11;
    }
    return ap;
  }
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  for (let j = 0; j < n; j++) {
    mrec[j + 1] = recall[j]!;
    mpre[j + 1] = precision[j]!;
  }
  mrec[n + 1] = 1;
  for (let i = n + 1; i > 0; i--) mpre[i - 1] = Math.max(mpre[i - 1]!, mpre[i]!);
  const terms: number[] = [];
  for (let i = 0; i < n + 1; i++) if (mrec[i + 1] !== mrec[i]) terms.push((mrec[i + 1]! - mrec[i]!) * mpre[i + 1]!);
  return numpySum(terms);
}

/** VOC AP@`iouThreshold` per class over a set of images (py-faster-rcnn `voc_eval`), and their mean. */
export function vocAp(options: VocApOptions): VocApResult {
  const metric = options.metric ?? 'all-points';
  const iouThreshold = options.iouThreshold ?? 0.5;
  const pixelInclusive = options.pixelInclusive ?? false;
  if (!Number.isFinite(iouThreshold)) throw new EdgetuneError('USAGE', `voc-ap: iouThreshold is ${iouThreshold}, not a finite number`);
  const categoryIds = [...new Set(options.categoryIds ?? options.categoryIdOfClass)].sort((a, b) => a - b);

  const perClass = categoryIds.map((categoryId): VocClassAp => {
    // class_recs: per image, this class's GT boxes, difficult flags and claimed flags.
    const recs = options.images.map((image) => {
      const gt = image.groundTruth.filter((g) => g.categoryId === categoryId);
      return { boxes: gt.map((g) => g.box), difficult: gt.map((g) => g.iscrowd), claimed: gt.map(() => false) };
    });
    const npos = recs.reduce((sum, r) => sum + r.difficult.filter((d) => !d).length, 0);
    const dets: Array<{ image: number; box: Box; score: number }> = [];
    options.images.forEach((image, im) => {
      image.detections.forEach((d, i) => {
        const cat = options.categoryIdOfClass[d.cls];
        if (cat === undefined) {
          throw new EdgetuneError('USAGE', `voc-ap: image ${image.imageId} detection ${i} has class ${d.cls}, which categoryIdOfClass (${options.categoryIdOfClass.length} classes) does not map`);
        }
        if (!Number.isFinite(d.score)) throw new EdgetuneError('USAGE', `voc-ap: image ${image.imageId} detection ${i} has score ${d.score}`);
        if (cat === categoryId) dets.push({ image: im, box: d.box, score: d.score });
      });
    });
    const order = dets.map((_, i) => i).sort((a, b) => (dets[a]!.score > dets[b]!.score ? -1 : dets[a]!.score < dets[b]!.score ? 1 : 0));

    const nd = order.length;
    const rec = new Float64Array(nd);
    const prec = new Float64Array(nd);
    let tp = 0;
    let fp = 0;
    for (let k = 0; k < nd; k++) {
      const det = dets[order[k]!]!;
      const r = recs[det.image]!;
      let ovmax = -Infinity;
      let jmax = -1;
      for (let j = 0; j < r.boxes.length; j++) {
        const o = vocIou(det.box, r.boxes[j]!, pixelInclusive);
        if (Number.isNaN(o)) {
          // np.max propagates NaN (a degenerate box): NaN > ovthresh is false, so a false positive.
          ovmax = NaN;
          jmax = j;
          break;
        }
        if (o > ovmax) {
          ovmax = o;
          jmax = j;
        }
      }
      if (ovmax > iouThreshold) {
        if (!r.difficult[jmax]) {
          if (!r.claimed[jmax]) {
            tp++;
            r.claimed[jmax] = true;
          } else fp++;
        }
      } else fp++;
      rec[k] = tp / npos;
      prec[k] = tp / Math.max(tp + fp, Number.EPSILON);
    }
    const ap = npos === 0 ? null : vocApOfCurve(rec, prec, metric);
    return { categoryId, ap, groundTruthCount: npos, detectionCount: nd, truePositives: tp, falsePositives: fp };
  });

  const aps = perClass.flatMap((c) => (c.ap === null ? [] : [c.ap]));
  return { metric, iouThreshold, pixelInclusive, map: aps.length === 0 ? null : numpyMean(aps), perClass };
}
