/**
 * COCO box mAP exactly as pycocotools 2.0.11 computes it (`COCOeval(gt, dt, 'bbox')` → evaluate, accumulate,
 * summarize; ppwwyyxx/cocoapi @ac87f507 `PythonAPI/pycocotools/cocoeval.py`, `coco.py` `loadRes`,
 * `common/maskApi.c` `bbIou`). Pure: no files, no clock. Every step below names the pycocotools line it mirrors;
 * the quirks are kept on purpose (see /work/shared/notes/detection-evaluation.md §1):
 *
 * - maxDets is per image *and category*; detections are sorted by score with a stable sort (ties keep input order).
 * - `best = min(t, 1 − 1e-10)`, matched with `≥` (a later GT with equal IoU wins); non-ignored GTs are preferred.
 * - crowd GT: IoU = inter / area(dt), may be matched any number of times, its matches are ignored.
 * - area buckets are inclusive at both ends (area 1024 is small *and* medium); GT `area` is read verbatim,
 *   detection area = w·h; box IoU uses w·h of both boxes (never the GT `area`).
 * - precision = tp / (tp + fp + 2⁻⁵²): one lone true positive scores 1 − 2⁻⁵², not 1.
 * - −1 marks "no ground truth" cells; they are left out of every mean, and a stat with no cell at all is −1.
 * - means are numpy's pairwise float64 sums, so results are bit-identical to `COCOeval.stats`.
 */
import { z } from 'zod';
import { EdgetuneError } from '../util/errors.js';
import type { Box, Detection, GroundTruthBox, Point } from './detection-types.js';
import { numpyMean } from './numpy-sum.js';

/** A COCO `bbox`: `[x, y, width, height]` in pixels, as COCO JSON and results files store it. */
export type CocoBbox = [number, number, number, number];

/** One ground-truth annotation in COCO terms (the fields of a COCO JSON `annotations` entry that bbox eval reads). */
export interface CocoGroundTruth {
  /** Annotation id, ≥ 1: pycocotools records a match by GT id, so a GT with id 0 could never be a true positive. */
  id: number;
  imageId: number;
  categoryId: number;
  bbox: CocoBbox;
  /** Area in px², read verbatim and used only for the small/medium/large buckets (in COCO: the mask area). */
  areaPx2: number;
  iscrowd: boolean;
}

/** One detection in COCO results-file terms; its id is its position in the list, from 1 (as `loadRes` assigns). */
export interface CocoDetection {
  imageId: number;
  categoryId: number;
  bbox: CocoBbox;
  score: number;
}

/** Everything `COCOeval` reads: the images and categories of the GT file, its annotations, the results list. */
export interface CocoEvalInput {
  imageIds: readonly number[];
  categoryIds: readonly number[];
  groundTruth: readonly CocoGroundTruth[];
  detections: readonly CocoDetection[];
}

/** The 12 numbers of `COCOeval.stats` by name (each −1 when no category has ground truth in that slice). */
export interface CocoStats {
  map5095: number;
  map50: number;
  map75: number;
  mapSmall: number;
  mapMedium: number;
  mapLarge: number;
  ar1: number;
  ar10: number;
  ar100: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
}

/** Per-category AP at area "all", maxDets 100 (the detectron2 per-class table), −1 for a category without GT. */
export interface CocoCategoryAp {
  categoryId: number;
  ap5095: number;
  ap50: number;
  /** Non-crowd ground-truth boxes of this category. */
  groundTruthCount: number;
  /** Detections of this category on the evaluated images (before the per-image cap of 100). */
  detectionCount: number;
}

/** The result of `evaluateCoco`: named stats, the same 12 in pycocotools order, per-category APs, raw arrays. */
export interface CocoEvalResult {
  stats: CocoStats;
  /** `COCOeval.stats`, in its order: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl. */
  statsArray: number[];
  perCategory: CocoCategoryAp[];
  /** Sorted, deduplicated image and category ids (the K axis of the arrays follows `categoryIds`). */
  imageIds: number[];
  categoryIds: number[];
  /** `eval['precision']`, shape [T=10, R=101, K, A=4, M=3], C order; −1 where the cell has no ground truth. */
  precision: Float64Array;
  /** `eval['recall']`, shape [T=10, K, A=4, M=3], C order; −1 where the cell has no ground truth. */
  recall: Float64Array;
}

/** `np.linspace(start, stop, num)`: `i · ((stop − start) / (num − 1)) + start`, the last value forced to `stop`. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  out[num - 1] = stop;
  return out;
}

/** `Params.iouThrs` = `np.linspace(.5, .95, 10)`; index 8 is 0.8999999999999999, as in numpy. */
export const COCO_IOU_THRESHOLDS: readonly number[] = Object.freeze(linspace(0.5, 0.95, 10));

/** `Params.recThrs` = `np.linspace(0, 1, 101)` (equal to `i · 0.01`, not to `i / 100`). */
export const COCO_RECALL_THRESHOLDS: readonly number[] = Object.freeze(linspace(0, 1, 101));

/** `Params.maxDets`: detections kept per image and category, for AR@1/10/100 (AP uses 100). */
export const COCO_MAX_DETS: readonly number[] = Object.freeze([1, 10, 100]);

/** `Params.areaRng` in px² with its labels; bounds are inclusive on both sides. */
export const COCO_AREA_RANGES_PX2: ReadonlyArray<{ label: 'all' | 'small' | 'medium' | 'large'; minPx2: number; maxPx2: number }> =
  Object.freeze([
    { label: 'all', minPx2: 0, maxPx2: 1e5 ** 2 },
    { label: 'small', minPx2: 0, maxPx2: 32 ** 2 },
    { label: 'medium', minPx2: 32 ** 2, maxPx2: 96 ** 2 },
    { label: 'large', minPx2: 96 ** 2, maxPx2: 1e5 ** 2 },
  ] as const);

/** `np.spacing(1)`. */
const SPACING_1 = Number.EPSILON;

/** maskApi.c `bbIou`: IoU of a detection and a GT box (xywh); crowd GT divides by the detection's area only. */
export function cocoBoxIou(dt: CocoBbox, gt: CocoBbox, gtIsCrowd: boolean): number {
  const ga = gt[2] * gt[3];
  const da = dt[2] * dt[3];
  const w = Math.min(dt[2] + dt[0], gt[2] + gt[0]) - Math.max(dt[0], gt[0]);
  if (w <= 0) return 0;
  const h = Math.min(dt[3] + dt[1], gt[3] + gt[1]) - Math.max(dt[1], gt[1]);
  if (h <= 0) return 0;
  const i = w * h;
  const u = gtIsCrowd ? da : da + ga - i;
  return i / u;
}

/** Corners `[x1, y1, x2, y2]` → COCO `[x1, y1, x2 − x1, y2 − y1]`, the bbox a results file written from corners holds. */
export function cornersToCocoBbox(box: Box): CocoBbox {
  return [box[0], box[1], box[2] - box[0], box[3] - box[1]];
}

/**
 * COCO `[x, y, w, h]` → corners `[x, y, x + w, y + h]`. Note `x + w − x` need not equal `w` in floating point, so
 * evaluate labels read from COCO JSON through `evaluateCoco` with their bbox verbatim, not through corners.
 */
export function cocoBboxToCorners(bbox: CocoBbox): Box {
  return [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]];
}

/** Indices of `items` sorted by descending key, ties in input order (`np.argsort(-key, kind='mergesort')`). */
function stableArgsortDescending(keys: ArrayLike<number>): number[] {
  const order = Array.from({ length: keys.length }, (_, i) => i);
  order.sort((a, b) => (keys[a]! > keys[b]! ? -1 : keys[a]! < keys[b]! ? 1 : 0));
  return order;
}

/** Per-threshold state of a detection after matching (`dtMatches`, `dtIgnore` folded into one byte). */
const FALSE_POSITIVE = 0;
const TRUE_POSITIVE = 1;
const IGNORED = 2;

/** `evaluateImg` output for one (image, category), all area ranges at once, at maxDet 100. */
interface EvalImg {
  /** Detection scores in score order (stable), at most 100. */
  dtScores: Float64Array;
  /** [A × T × D]: FALSE_POSITIVE, TRUE_POSITIVE (matched, not ignored) or IGNORED. */
  state: Uint8Array;
  /** [A]: non-ignored GTs per area range (`count_nonzero(gtIg == 0)`). */
  nonIgnoredGt: Int32Array;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function checkBbox(bbox: unknown): boolean {
  return Array.isArray(bbox) && bbox.length === 4 && bbox.every(isFiniteNumber);
}

/** Reject what pycocotools would silently mis-evaluate (GT id 0, duplicate ids) or choke on (NaN, unknown images). */
function validateInput(input: CocoEvalInput, imageSet: ReadonlySet<number>): void {
  for (const [name, ids] of [['imageIds', input.imageIds], ['categoryIds', input.categoryIds]] as const) {
    ids.forEach((id, i) => {
      if (!isFiniteNumber(id)) throw new EdgetuneError('USAGE', `coco-eval: ${name}[${i}] is ${String(id)}, not a finite number`);
    });
  }
  const gtIds = new Set<number>();
  input.groundTruth.forEach((g, i) => {
    const where = `coco-eval: groundTruth[${i}]`;
    if (!Number.isInteger(g.id) || g.id < 1) {
      throw new EdgetuneError('DATASET_INVALID', `${where}.id is ${String(g.id)}; ground-truth ids must be integers ≥ 1 (pycocotools never counts a match on GT id 0)`);
    }
    if (gtIds.has(g.id)) throw new EdgetuneError('DATASET_INVALID', `${where}.id ${g.id} is used twice; ground-truth ids must be unique`);
    gtIds.add(g.id);
    if (!checkBbox(g.bbox)) throw new EdgetuneError('DATASET_INVALID', `${where}.bbox must be 4 finite numbers [x, y, w, h]`);
    if (!isFiniteNumber(g.areaPx2)) throw new EdgetuneError('DATASET_INVALID', `${where}.areaPx2 is ${String(g.areaPx2)}, not a finite number`);
    if (!isFiniteNumber(g.imageId) || !isFiniteNumber(g.categoryId)) {
      throw new EdgetuneError('DATASET_INVALID', `${where}: imageId and categoryId must be finite numbers`);
    }
  });
  input.detections.forEach((d, i) => {
    const where = `coco-eval: detections[${i}]`;
    if (!imageSet.has(d.imageId)) {
      throw new EdgetuneError('USAGE', `${where}.imageId ${String(d.imageId)} is not among the evaluated images (pycocotools: "Results do not correspond to current coco set")`);
    }
    if (!checkBbox(d.bbox)) throw new EdgetuneError('USAGE', `${where}.bbox must be 4 finite numbers [x, y, w, h]`);
    if (!isFiniteNumber(d.score)) throw new EdgetuneError('USAGE', `${where}.score is ${String(d.score)}, not a finite number`);
    if (!isFiniteNumber(d.categoryId)) throw new EdgetuneError('USAGE', `${where}.categoryId is ${String(d.categoryId)}, not a finite number`);
  });
}

function sortedUnique(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Group by (image, category), keeping list order within a group (`_gts[imgId, catId].append`). */
function groupByImageCategory<T extends { imageId: number; categoryId: number }>(
  items: readonly T[],
  imageSet: ReadonlySet<number>,
  categorySet: ReadonlySet<number>,
): Map<number, Map<number, T[]>> {
  const byImage = new Map<number, Map<number, T[]>>();
  for (const item of items) {
    if (!imageSet.has(item.imageId) || !categorySet.has(item.categoryId)) continue;
    let byCategory = byImage.get(item.imageId);
    if (!byCategory) byImage.set(item.imageId, (byCategory = new Map()));
    let list = byCategory.get(item.categoryId);
    if (!list) byCategory.set(item.categoryId, (list = []));
    list.push(item);
  }
  return byImage;
}

/** `computeIoU` + `evaluateImg` for one (image, category) and every area range; null when it has no GT and no DT. */
function evaluateImageCategory(gt: readonly CocoGroundTruth[], dtAll: readonly CocoDetection[]): EvalImg | null {
  if (gt.length === 0 && dtAll.length === 0) return null;
  const maxDet = COCO_MAX_DETS[COCO_MAX_DETS.length - 1]!;
  const dt = stableArgsortDescending(dtAll.map((d) => d.score))
    .slice(0, maxDet)
    .map((i) => dtAll[i]!);
  const T = COCO_IOU_THRESHOLDS.length;
  const A = COCO_AREA_RANGES_PX2.length;
  const G = gt.length;
  const D = dt.length;
  // computeIoU: ious[d][g] with detections in score order and GTs in list order.
  const ious = new Float64Array(D * G);
  for (let d = 0; d < D; d++) for (let g = 0; g < G; g++) ious[d * G + g] = cocoBoxIou(dt[d]!.bbox, gt[g]!.bbox, gt[g]!.iscrowd);
  const dtAreas = dt.map((d) => d.bbox[2] * d.bbox[3]);
  const state = new Uint8Array(A * T * D);
  const nonIgnoredGt = new Int32Array(A);
  const gtMatched = new Uint8Array(T * G);
  const matched = new Uint8Array(T * D);

  COCO_AREA_RANGES_PX2.forEach(({ minPx2, maxPx2 }, a) => {
    // gt['_ignore'] = iscrowd or area outside [lo, hi]; GTs stably sorted non-ignored first.
    const ignoreOf = gt.map((g) => (g.iscrowd || g.areaPx2 < minPx2 || g.areaPx2 > maxPx2 ? 1 : 0));
    const gtind = [...gt.keys()].sort((x, y) => ignoreOf[x]! - ignoreOf[y]!);
    const gtIg = gtind.map((i) => ignoreOf[i]!);
    const crowd = gtind.map((i) => gt[i]!.iscrowd);
    nonIgnoredGt[a] = gtIg.filter((v) => v === 0).length;
    const st = state.subarray(a * T * D, (a + 1) * T * D);
    gtMatched.fill(0);
    matched.fill(0);
    if (D > 0 && G > 0) {
      for (let t = 0; t < T; t++) {
        for (let d = 0; d < D; d++) {
          let best = Math.min(COCO_IOU_THRESHOLDS[t]!, 1 - 1e-10);
          let m = -1;
          for (let g = 0; g < G; g++) {
            if (gtMatched[t * G + g] && !crowd[g]) continue; // already matched, and not a crowd
            if (m > -1 && gtIg[m] === 0 && gtIg[g] === 1) break; // matched a regular GT; the rest are ignored
            const iou = ious[d * G + gtind[g]!]!;
            if (iou < best) continue;
            best = iou;
            m = g;
          }
          if (m === -1) continue;
          matched[t * D + d] = 1;
          gtMatched[t * G + m] = 1;
          st[t * D + d] = gtIg[m] ? IGNORED : TRUE_POSITIVE;
        }
      }
    }
    // Unmatched detections outside the area range are ignored.
    for (let d = 0; d < D; d++) {
      if (dtAreas[d]! < minPx2 || dtAreas[d]! > maxPx2) {
        for (let t = 0; t < T; t++) if (!matched[t * D + d]) st[t * D + d] = IGNORED;
      }
    }
  });
  return { dtScores: Float64Array.from(dt, (d) => d.score), state, nonIgnoredGt };
}

/** Mean of the entries > −1 (numpy pairwise), or −1 when there is none (`summarize`'s `mean_s`). */
function meanOfValid(values: readonly number[]): number {
  const valid = values.filter((v) => v > -1);
  return valid.length === 0 ? -1 : numpyMean(valid);
}

/**
 * COCO box evaluation as pycocotools 2.0.11 runs it: `evaluate()`, `accumulate()`, `summarize()` with the default
 * bbox `Params`. Ground truth on images or categories outside the given ids is left out (as `getAnnIds` does),
 * and so are detections of other categories; a detection on an unknown image is an error (as in `loadRes`).
 */
export function evaluateCoco(input: CocoEvalInput): CocoEvalResult {
  const imageIds = sortedUnique(input.imageIds);
  const categoryIds = sortedUnique(input.categoryIds);
  const imageSet = new Set(imageIds);
  const categorySet = new Set(categoryIds);
  validateInput(input, imageSet);

  const gts = groupByImageCategory(input.groundTruth, imageSet, categorySet);
  const dts = groupByImageCategory(input.detections, imageSet, categorySet);

  const T = COCO_IOU_THRESHOLDS.length;
  const R = COCO_RECALL_THRESHOLDS.length;
  const K = categoryIds.length;
  const A = COCO_AREA_RANGES_PX2.length;
  const M = COCO_MAX_DETS.length;

  // evaluate(): per category, the non-empty (image, category) results in image order (accumulate drops the rest).
  const evalImgs: EvalImg[][] = categoryIds.map((catId) => {
    const list: EvalImg[] = [];
    for (const imgId of imageIds) {
      const e = evaluateImageCategory(gts.get(imgId)?.get(catId) ?? [], dts.get(imgId)?.get(catId) ?? []);
      if (e) list.push(e);
    }
    return list;
  });

  // accumulate()
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  for (let k = 0; k < K; k++) {
    const E = evalImgs[k]!;
    if (E.length === 0) continue;
    for (let m = 0; m < M; m++) {
      const maxDet = COCO_MAX_DETS[m]!;
      // Concatenate each image's first maxDet detections in image order, then a stable sort by score (the same
      // order for every area range).
      let n = 0;
      for (const e of E) n += Math.min(maxDet, e.dtScores.length);
      const scores = new Float64Array(n);
      const source = new Int32Array(n);
      const index = new Int32Array(n);
      n = 0;
      E.forEach((e, ei) => {
        for (let d = 0; d < Math.min(maxDet, e.dtScores.length); d++, n++) {
          scores[n] = e.dtScores[d]!;
          source[n] = ei;
          index[n] = d;
        }
      });
      const order = stableArgsortDescending(scores);
      const nd = order.length;
      // states[(a·T + t)·nd + j]: the state of the j-th detection in score order.
      const states = new Uint8Array(A * T * nd);
      for (let j = 0; j < nd; j++) {
        const e = E[source[order[j]!]!]!;
        const D = e.dtScores.length;
        const d = index[order[j]!]!;
        for (let row = 0; row < A * T; row++) states[row * nd + j] = e.state[row * D + d]!;
      }
      const rc = new Float64Array(nd);
      const pr = new Float64Array(nd);
      for (let a = 0; a < A; a++) {
        let npig = 0;
        for (const e of E) npig += e.nonIgnoredGt[a]!;
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) {
          let tp = 0;
          let fp = 0;
          const row = (a * T + t) * nd;
          for (let j = 0; j < nd; j++) {
            const st = states[row + j];
            if (st === TRUE_POSITIVE) tp++;
            else if (st === FALSE_POSITIVE) fp++;
            rc[j] = tp / npig;
            pr[j] = tp / (fp + tp + SPACING_1);
          }
          recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1]! : 0;
          for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
          // q[ri] = pr[searchsorted(rc, recThrs[ri], 'left')]; past the end the rest stay 0 (the bare try/except).
          let pi = 0;
          for (let ri = 0; ri < R; ri++) {
            while (pi < nd && rc[pi]! < COCO_RECALL_THRESHOLDS[ri]!) pi++;
            precision[(((t * R + ri) * K + k) * A + a) * M + m] = pi < nd ? pr[pi]! : 0;
          }
        }
      }
    }
  }

  // summarize()
  const areaIndex = (label: string): number => COCO_AREA_RANGES_PX2.findIndex((r) => r.label === label);
  const maxDetIndex = (maxDets: number): number => COCO_MAX_DETS.indexOf(maxDets);
  const thresholdIndices = (iouThr: number | undefined): number[] =>
    COCO_IOU_THRESHOLDS.flatMap((thr, t) => (iouThr === undefined || thr === iouThr ? [t] : []));
  const summarizeAp = (iouThr: number | undefined, areaLabel: string, maxDets: number, ks: readonly number[] = [...categoryIds.keys()]): number => {
    const a = areaIndex(areaLabel);
    const m = maxDetIndex(maxDets);
    const values: number[] = [];
    for (const t of thresholdIndices(iouThr)) {
      for (let r = 0; r < R; r++) for (const k of ks) values.push(precision[(((t * R + r) * K + k) * A + a) * M + m]!);
    }
    return meanOfValid(values);
  };
  const summarizeAr = (areaLabel: string, maxDets: number): number => {
    const a = areaIndex(areaLabel);
    const m = maxDetIndex(maxDets);
    const values: number[] = [];
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) values.push(recall[((t * K + k) * A + a) * M + m]!);
    return meanOfValid(values);
  };
  const stats: CocoStats = {
    map5095: summarizeAp(undefined, 'all', 100),
    map50: summarizeAp(0.5, 'all', 100),
    map75: summarizeAp(0.75, 'all', 100),
    mapSmall: summarizeAp(undefined, 'small', 100),
    mapMedium: summarizeAp(undefined, 'medium', 100),
    mapLarge: summarizeAp(undefined, 'large', 100),
    ar1: summarizeAr('all', 1),
    ar10: summarizeAr('all', 10),
    ar100: summarizeAr('all', 100),
    arSmall: summarizeAr('small', 100),
    arMedium: summarizeAr('medium', 100),
    arLarge: summarizeAr('large', 100),
  };

  const perCategory = categoryIds.map((categoryId, k) => {
    let groundTruthCount = 0;
    let detectionCount = 0;
    for (const imgId of imageIds) {
      groundTruthCount += (gts.get(imgId)?.get(categoryId) ?? []).filter((g) => !g.iscrowd).length;
      detectionCount += (dts.get(imgId)?.get(categoryId) ?? []).length;
    }
    return { categoryId, ap5095: summarizeAp(undefined, 'all', 100, [k]), ap50: summarizeAp(0.5, 'all', 100, [k]), groundTruthCount, detectionCount };
  });

  return {
    stats,
    statsArray: [
      stats.map5095, stats.map50, stats.map75, stats.mapSmall, stats.mapMedium, stats.mapLarge,
      stats.ar1, stats.ar10, stats.ar100, stats.arSmall, stats.arMedium, stats.arLarge,
    ],
    perCategory,
    imageIds,
    categoryIds,
    precision,
    recall,
  };
}

/** Ground truth and detections of one image, in the shared detection types. */
export interface ImageDetections {
  imageId: number;
  groundTruth: readonly GroundTruthBox[];
  /** Detections in the same pixel coordinates as the ground truth (source-image pixels for COCO labels). */
  detections: readonly Detection[];
}

/** Caller input of `evaluateCocoDetections`. */
export interface CocoDetectionsEvalOptions {
  images: readonly ImageDetections[];
  /** The COCO category id of each decoder class index: `categoryIdOfClass[detection.cls]`. */
  categoryIdOfClass: readonly number[];
  /** Categories evaluated (the GT file's `categories`); default: every id in `categoryIdOfClass`. */
  categoryIds?: readonly number[];
}

/**
 * COCO mAP of detections given as corners: each box becomes `[x1, y1, x2 − x1, y2 − y1]` (what a results file
 * written from these detections would hold) and the GT `area` is read verbatim; then `evaluateCoco`.
 */
export function evaluateCocoDetections(options: CocoDetectionsEvalOptions): CocoEvalResult {
  const groundTruth: CocoGroundTruth[] = [];
  const detections: CocoDetection[] = [];
  for (const image of options.images) {
    for (const g of image.groundTruth) {
      groundTruth.push({ id: g.id, imageId: image.imageId, categoryId: g.categoryId, bbox: cornersToCocoBbox(g.box), areaPx2: g.area, iscrowd: g.iscrowd });
    }
    image.detections.forEach((d, i) => {
      const categoryId = options.categoryIdOfClass[d.cls];
      if (categoryId === undefined) {
        throw new EdgetuneError('USAGE', `coco-eval: image ${image.imageId} detection ${i} has class ${d.cls}, which categoryIdOfClass (${options.categoryIdOfClass.length} classes) does not map`);
      }
      detections.push({ imageId: image.imageId, categoryId, bbox: cornersToCocoBbox(d.box), score: d.score });
    });
  }
  return evaluateCoco({
    imageIds: options.images.map((image) => image.imageId),
    categoryIds: options.categoryIds ?? options.categoryIdOfClass,
    groundTruth,
    detections,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// COCO JSON labels

/** One entry of a COCO JSON `images` list. */
export interface CocoImage {
  id: number;
  fileName: string;
  widthPx: number;
  heightPx: number;
}

/** One entry of a COCO JSON `categories` list. */
export interface CocoCategory {
  id: number;
  name: string;
}

/** A validated COCO JSON label file: images, categories, and box annotations with their bbox kept verbatim. */
export interface CocoLabels {
  images: CocoImage[];
  categories: CocoCategory[];
  /** `polygon`: the annotation's first segmentation polygon as points, when it has one (text regions). */
  annotations: Array<CocoGroundTruth & { polygon?: Point[] }>;
}

const finite = z.number('must be a finite number');
const cocoImageSchema = z.looseObject({
  id: z.number('must be a number').int('must be an integer'),
  file_name: z.string('must be a string').min(1, 'must not be empty'),
  width: finite.positive('must be > 0'),
  height: finite.positive('must be > 0'),
});
const cocoAnnotationSchema = z.looseObject({
  id: z.number('must be a number').int('must be an integer').min(1, 'must be ≥ 1 (pycocotools never counts a match on annotation id 0)'),
  image_id: z.number('must be a number').int('must be an integer'),
  category_id: z.number('must be a number').int('must be an integer'),
  bbox: z.tuple([finite, finite, finite.nonnegative('width must be ≥ 0'), finite.nonnegative('height must be ≥ 0')], 'must be [x, y, width, height]'),
  area: finite.nonnegative('must be ≥ 0').optional(),
  iscrowd: z.union([z.literal(0), z.literal(1), z.boolean()], 'must be 0, 1, true or false').optional(),
  // Polygons (text regions: the first polygon is the region's outline); RLE masks are accepted and not read.
  segmentation: z.union([z.array(z.array(finite)), z.looseObject({})], 'must be a list of polygons [[x1, y1, x2, y2, …]] or an RLE object').optional(),
});
const cocoCategorySchema = z.looseObject({
  id: z.number('must be a number').int('must be an integer'),
  name: z.string('must be a string'),
});
const cocoLabelsSchema = z.looseObject({
  images: z.array(cocoImageSchema, 'must be a list'),
  annotations: z.array(cocoAnnotationSchema, 'must be a list'),
  categories: z.array(cocoCategorySchema, 'must be a list'),
});

const MAX_LISTED_PROBLEMS = 20;

function failLabels(problems: readonly string[]): never {
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
  const more = problems.length > listed.length ? `\n  - … and ${problems.length - listed.length} more` : '';
  throw new EdgetuneError('DATASET_INVALID', `labels: COCO JSON has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  - ${listed.join('\n  - ')}${more}`);
}

/**
 * Validate a parsed COCO JSON object (`images`, `annotations`, `categories`) and return it in camelCase, every
 * problem listed at once in one EdgetuneError('DATASET_INVALID'). `area` defaults to w·h, `iscrowd` to 0;
 * ids must be unique, annotation ids ≥ 1, and annotations must name a listed image and category.
 */
export function parseCocoLabels(json: unknown): CocoLabels {
  const parsed = cocoLabelsSchema.safeParse(json);
  if (!parsed.success) {
    failLabels(parsed.error.issues.map((issue) => `${issue.path.length > 0 ? formatPath(issue.path) : '(top level)'}: ${issue.message}`));
  }
  const data = parsed.data;
  const problems: string[] = [];
  const imageIds = uniqueIds(data.images, 'images', problems);
  const categoryIds = uniqueIds(data.categories, 'categories', problems);
  uniqueIds(data.annotations, 'annotations', problems);
  data.annotations.forEach((a, i) => {
    if (!imageIds.has(a.image_id)) problems.push(`annotations[${i}].image_id: ${a.image_id} is not an id in images`);
    if (!categoryIds.has(a.category_id)) problems.push(`annotations[${i}].category_id: ${a.category_id} is not an id in categories`);
  });
  if (problems.length > 0) failLabels(problems);
  return {
    images: data.images.map((im) => ({ id: im.id, fileName: im.file_name, widthPx: im.width, heightPx: im.height })),
    categories: data.categories.map((c) => ({ id: c.id, name: c.name })),
    annotations: data.annotations.map((a) => ({
      id: a.id,
      imageId: a.image_id,
      categoryId: a.category_id,
      bbox: [a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3]],
      areaPx2: a.area ?? a.bbox[2] * a.bbox[3],
      iscrowd: a.iscrowd === 1 || a.iscrowd === true,
      ...polygonOf(a.segmentation),
    })),
  };
}

function polygonOf(segmentation: unknown): { polygon?: Point[] } {
  if (!Array.isArray(segmentation) || !Array.isArray(segmentation[0])) return {};
  const flat = segmentation[0] as number[];
  if (flat.length < 6 || flat.length % 2 !== 0) return {};
  const polygon: Point[] = [];
  for (let i = 0; i < flat.length; i += 2) polygon.push([flat[i]!, flat[i + 1]!]);
  return { polygon };
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function uniqueIds(items: ReadonlyArray<{ id: number }>, list: string, problems: string[]): Set<number> {
  const seen = new Map<number, number>();
  items.forEach((item, i) => {
    const first = seen.get(item.id);
    if (first !== undefined) problems.push(`${list}[${i}].id: ${item.id} is also the id of ${list}[${first}]`);
    else seen.set(item.id, i);
  });
  return new Set(seen.keys());
}

/** The `evaluateCoco` input for labels and a results list (every labelled image and category is evaluated). */
export function cocoEvalInputOf(labels: CocoLabels, detections: readonly CocoDetection[]): CocoEvalInput {
  return {
    imageIds: labels.images.map((im) => im.id),
    categoryIds: labels.categories.map((c) => c.id),
    groundTruth: labels.annotations,
    detections,
  };
}

/** Labels as GroundTruthBox lists per image id (corners `[x, y, x + w, y + h]`; every image has an entry). */
export function groundTruthBoxesByImage(labels: CocoLabels): Map<number, GroundTruthBox[]> {
  const byImage = new Map<number, GroundTruthBox[]>(labels.images.map((im) => [im.id, []]));
  for (const a of labels.annotations) {
    byImage.get(a.imageId)?.push({ id: a.id, box: cocoBboxToCorners(a.bbox), categoryId: a.categoryId, area: a.areaPx2, iscrowd: a.iscrowd });
  }
  return byImage;
}
