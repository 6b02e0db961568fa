/**
 * Text-detection precision, recall and hmean as PaddleOCR computes them: `DetectionIoUEvaluator` in
 * PaddlePaddle/PaddleOCR `ppocr/metrics/eval_det_iou.py` (iou_constraint 0.5, area_precision_constraint 0.5; from
 * MhLiao/DB's ICDAR 2015 evaluation), `evaluate_image` per image and `combine_results` over the data set. Pure.
 *
 * Per image:
 * - polygons that shapely would call invalid or not simple (fewer than 3 distinct points, zero area, a ring that
 *   crosses or touches itself) are skipped, ground truth and detections alike;
 * - ground truth with `iscrowd` (the `###` transcriptions) is don't-care; a detection is don't-care when its
 *   intersection with some don't-care ground truth (tried in order) is more than 0.5 of its own area;
 * - matching is order-greedy, with no scores involved: for each ground truth in order, for each detection in order,
 *   the first pair with both still unmatched, both cared for, and polygon IoU **> 0.5** is a match.
 * Data set: recall = Σ matched / Σ cared-for ground truth, precision = Σ matched / Σ cared-for detections (each 0
 * when its denominator is 0), hmean = 2PR / (P + R) (0 when P + R = 0).
 *
 * Polygons may be non-convex (curved-text quads); intersections use the polygon-clipping library (Martinez–Rueda
 * sweep line, any simple polygons), areas the shoelace formula, union = area A + area B − intersection (what
 * shapely's `union(...).area` is for valid polygons).
 */
import polygonClipping from 'polygon-clipping';
import { pointBounds, type Detection, type GroundTruthBox, type Point } from './detection-types.js';

/** The evaluator's two thresholds (defaults: PaddleOCR's 0.5 and 0.5). */
export interface TextHmeanOptions {
  /** A match needs polygon IoU strictly above this. */
  iouConstraint?: number;
  /** A detection is don't-care when more than this fraction of its area lies in one don't-care ground truth. */
  areaPrecisionConstraint?: number;
}

/** One image's counts and matches; indices refer to the lists as given (before skipping invalid polygons). */
export interface TextImageResult {
  gtCare: number;
  detCare: number;
  detMatched: number;
  /** Matched pairs in the order they were made. */
  pairs: Array<{ gt: number; det: number }>;
  /** Inputs skipped as invalid or non-simple polygons. */
  skippedGt: number[];
  skippedDet: number[];
  /** Detections that counted as don't-care. */
  dontCareDet: number[];
}

/** Data-set precision, recall and hmean, with the totals and each image's result. */
export interface TextHmeanResult {
  precision: number;
  recall: number;
  hmean: number;
  gtCare: number;
  detCare: number;
  matched: number;
  images: TextImageResult[];
}

/** One image to evaluate: its ground truth and the detections (in source-image pixels). */
export interface TextHmeanImage {
  gt: readonly GroundTruthBox[];
  detections: readonly Detection[];
}

/** Precision, recall and hmean of `images` as PaddleOCR's DetectionIoUEvaluator + combine_results compute them. */
export function textHmean(images: readonly TextHmeanImage[], options: TextHmeanOptions = {}): TextHmeanResult {
  const results = images.map((image) => evaluateTextImage(image.gt, image.detections, options));
  let gtCare = 0;
  let detCare = 0;
  let matched = 0;
  for (const r of results) {
    gtCare += r.gtCare;
    detCare += r.detCare;
    matched += r.detMatched;
  }
  const recall = gtCare === 0 ? 0 : matched / gtCare;
  const precision = detCare === 0 ? 0 : matched / detCare;
  const hmean = recall + precision === 0 ? 0 : (2 * recall * precision) / (recall + precision);
  return { precision, recall, hmean, gtCare, detCare, matched, images: results };
}

/** One image's `evaluate_image`: skip invalid polygons, mark don't-care detections, match order-greedily. */
export function evaluateTextImage(
  gt: readonly GroundTruthBox[],
  detections: readonly Detection[],
  options: TextHmeanOptions = {},
): TextImageResult {
  const iouConstraint = threshold(options.iouConstraint, 0.5, 'iouConstraint');
  const areaPrecisionConstraint = threshold(options.areaPrecisionConstraint, 0.5, 'areaPrecisionConstraint');

  const skippedGt: number[] = [];
  const gts: Array<{ index: number; polygon: Point[]; area: number; dontCare: boolean }> = [];
  gt.forEach((g, index) => {
    const polygon = g.polygon ?? boxPolygon(g.box);
    if (!isValidSimplePolygon(polygon)) skippedGt.push(index);
    else gts.push({ index, polygon, area: polygonArea(polygon), dontCare: g.iscrowd });
  });
  const dontCareGts = gts.filter((g) => g.dontCare);

  const skippedDet: number[] = [];
  const dets: Array<{ index: number; polygon: Point[]; area: number; dontCare: boolean }> = [];
  detections.forEach((d, index) => {
    const polygon = d.polygon ?? boxPolygon(d.box);
    if (!isValidSimplePolygon(polygon)) {
      skippedDet.push(index);
      return;
    }
    const area = polygonArea(polygon);
    const dontCare = dontCareGts.some((g) => area > 0 && polygonIntersectionArea(g.polygon, polygon) / area > areaPrecisionConstraint);
    dets.push({ index, polygon, area, dontCare });
  });

  const pairs: Array<{ gt: number; det: number }> = [];
  const detMatched = new Uint8Array(dets.length);
  for (const g of gts) {
    if (g.dontCare) continue;
    for (let k = 0; k < dets.length; k++) {
      const d = dets[k]!;
      if (detMatched[k] || d.dontCare) continue;
      const inter = polygonIntersectionArea(d.polygon, g.polygon);
      const iou = inter / (d.area + g.area - inter);
      if (iou > iouConstraint) {
        detMatched[k] = 1;
        pairs.push({ gt: g.index, det: d.index });
        break;
      }
    }
  }
  return {
    gtCare: gts.length - dontCareGts.length,
    detCare: dets.filter((d) => !d.dontCare).length,
    detMatched: pairs.length,
    pairs,
    skippedGt,
    skippedDet,
    dontCareDet: dets.filter((d) => d.dontCare).map((d) => d.index),
  };
}

/** Polygon IoU of two simple polygons (area of the intersection over area of the union). */
export function polygonIoU(a: readonly Point[], b: readonly Point[]): number {
  const inter = polygonIntersectionArea(a, b);
  const union = polygonArea(a) + polygonArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Area of the intersection of two simple polygons (either orientation, convex or not). */
export function polygonIntersectionArea(a: readonly Point[], b: readonly Point[]): number {
  // Disjoint bounding boxes: nothing to clip (and most pairs of a page are).
  const [ax0, ay0, ax1, ay1] = pointBounds(a);
  const [bx0, by0, bx1, by1] = pointBounds(b);
  if (ax1 <= bx0 || bx1 <= ax0 || ay1 <= by0 || by1 <= ay0) return 0;
  const result = polygonClipping.intersection([a.map(([x, y]): [number, number] => [x, y])], [b.map(([x, y]): [number, number] => [x, y])]);
  let area = 0;
  for (const polygon of result) {
    polygon.forEach((ring, i) => {
      const ringArea = polygonArea(ring);
      area += i === 0 ? ringArea : -ringArea;
    });
  }
  return area;
}

/** Absolute area of a polygon by the shoelace formula (closing point optional). */
export function polygonArea(polygon: readonly Point[]): number {
  let twice = 0;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    twice += polygon[j]![0] * polygon[i]![1] - polygon[i]![0] * polygon[j]![1];
  }
  return Math.abs(twice) / 2;
}

/**
 * What `Polygon(points).is_valid and .is_simple` says for one ring in shapely: at least 3 distinct points
 * (repeated consecutive points are ignored), non-zero area, and edges that meet only where consecutive edges
 * share their vertex (no crossing, touching or folding back).
 */
export function isValidSimplePolygon(polygon: readonly Point[]): boolean {
  const ring: Point[] = [];
  for (const p of polygon) {
    if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) return false;
    const last = ring[ring.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) ring.push(p);
  }
  while (ring.length > 1 && ring[0]![0] === ring[ring.length - 1]![0] && ring[0]![1] === ring[ring.length - 1]![1]) ring.pop();
  const n = ring.length;
  if (n < 3 || polygonArea(ring) === 0) return false;
  for (let i = 0; i < n; i++) {
    const a0 = ring[i]!;
    const a1 = ring[(i + 1) % n]!;
    for (let j = i + 1; j < n; j++) {
      const b0 = ring[j]!;
      const b1 = ring[(j + 1) % n]!;
      if (j === i + 1 || (i === 0 && j === n - 1)) {
        // Consecutive edges share one vertex; they must not run back over each other.
        const [shared, pa, pb] = j === i + 1 ? [a1, a0, b1] : [a0, a1, b0];
        const ux = pa[0] - shared[0];
        const uy = pa[1] - shared[1];
        const vx = pb[0] - shared[0];
        const vy = pb[1] - shared[1];
        if (ux * vy - uy * vx === 0 && ux * vx + uy * vy > 0) return false;
        continue;
      }
      if (segmentsTouch(a0, a1, b0, b1)) return false;
    }
  }
  return true;
}

function orientation(p: Point, q: Point, r: Point): number {
  const v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

function onSegment(p: Point, q: Point, r: Point): boolean {
  return Math.min(p[0], r[0]) <= q[0] && q[0] <= Math.max(p[0], r[0]) && Math.min(p[1], r[1]) <= q[1] && q[1] <= Math.max(p[1], r[1]);
}

/** Closed segments a0a1 and b0b1 share at least one point. */
function segmentsTouch(a0: Point, a1: Point, b0: Point, b1: Point): boolean {
  const o1 = orientation(a0, a1, b0);
  const o2 = orientation(a0, a1, b1);
  const o3 = orientation(b0, b1, a0);
  const o4 = orientation(b0, b1, a1);
  if (o1 !== o2 && o3 !== o4) return true;
  return (o1 === 0 && onSegment(a0, b0, a1)) || (o2 === 0 && onSegment(a0, b1, a1)) || (o3 === 0 && onSegment(b0, a0, b1)) || (o4 === 0 && onSegment(b0, a1, b1));
}

function boxPolygon([x1, y1, x2, y2]: readonly [number, number, number, number]): Point[] {
  return [
    [x1, y1],
    [x2, y1],
    [x2, y2],
    [x1, y2],
  ];
}


function threshold(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 0 && value <= 1)) throw new RangeError(`textHmean: ${name} must be in [0, 1], got ${value}`);
  return value;
}
