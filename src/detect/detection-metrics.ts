/**
 * Detector accuracy from decoded detections: COCO mAP against labels, mAP against the original model's own
 * detections (pseudo ground truth, when there are no labels), agreement at the operating threshold, and — for text
 * detectors — PaddleOCR's hmean; with the drop of a variant against its original and a paired bootstrap interval
 * over images. Pure: detections in, figures out.
 */
import { mulberry32 } from '../util/random.js';
import { EdgetuneError } from '../util/errors.js';
import { cocoBboxToCorners, evaluateCocoDetections, type CocoEvalResult, type CocoLabels, type ImageDetections } from './coco-eval.js';
import type { Detection, GroundTruthBox } from './detection-types.js';
import { vocAp } from './voc-ap.js';
import { referenceAgreement, type OperatingPointAgreement } from './reference-agreement.js';
import { evaluateTextImage } from './text-hmean.js';

/** The figure a detector is judged by: COCO mAP@[.5:.95] (boxes) or PaddleOCR's hmean (text regions). */
export type DetectionMetricName = 'map5095' | 'hmean';

/** What the caller fixes once per evaluation. */
export interface DetectionMetricsOptions {
  metric: DetectionMetricName;
  /** COCO labels (source-image pixels), or null: judge against the reference's detections. */
  labels: CocoLabels | null;
  /** COCO category id of each decoder class (default: the labels' categories in file order; without labels cls + 1). */
  categoryIdOfClass?: readonly number[];
  /** Operating threshold: the reference's detections at or above it are the pseudo ground truth, and agreement is measured there. */
  refConf: number;
  /** Confidence of the bootstrap interval of the drop (0 = none). */
  confidence: number;
  /** Bootstrap resamples (default 1000) and seed. */
  resamples?: number;
  seed?: number;
}

/** mAP figures of one model (COCO `stats` that people quote). */
export interface MapFigures {
  map50: number;
  map5095: number;
  map75: number;
  ar100: number;
}

/** PaddleOCR's text-detection figures. */
export interface HmeanFigures {
  precision: number;
  recall: number;
  hmean: number;
}

/** The `detection` object of the eval JSON. */
export interface DetectionMetrics {
  /** `labels`: against labelled boxes; `reference`: against the original's detections at `refConf`. */
  mode: 'labels' | 'reference';
  metric: DetectionMetricName;
  images: number;
  /** Ground-truth objects judged against (labels: non-crowd boxes; reference: pseudo ground truth). */
  objects: number;
  /** Detections the model made on these images (all kept by the decoder). */
  detections: number;
  refConf: number;
  /** The model's mAP: against labels, or against the reference's detections. */
  map50: number;
  map5095: number;
  map75: number;
  ar100: number;
  /** VOC mAP@0.5 (all-points, py-faster-rcnn's voc_eval; crowd boxes as "difficult") on the same boxes; null when no class has ground truth. */
  vocMap50: number | null;
  /** Per category (labels mode): AP@[.5:.95] and AP50; −1 where the category has no ground truth. */
  perClass: Array<{ categoryId: number; name: string | null; ap5095: number; ap50: number; objects: number }>;
  /** With labels and a reference: the reference's own figures on the same labels. */
  referenceMap: MapFigures | null;
  /** With a reference: mAP of the model against the reference's detections (1.0 for the reference itself). */
  vsReference: MapFigures | null;
  /** With a reference: one-to-one agreement at `refConf` (IoU ≥ 0.5, same class). */
  agreement: OperatingPointAgreement | null;
  /** Text detectors: hmean against labels (or against the reference's regions without labels). */
  hmean: (HmeanFigures & { reference: HmeanFigures | null }) | null;
  /**
   * The variant's loss against its original in points of `metric` (×100): labels → reference's minus the model's;
   * no labels → 100 × (1 − figure against the reference). Null without a reference.
   */
  drop: { points: number; ci: [number, number]; confidence: number } | null;
  notes: string[];
}

/** Detections of one image (source-image pixels) by the model and, when given, the reference. */
export interface ImageResult {
  fileName: string;
  model: Detection[];
  reference: Detection[] | null;
}

/** Compute the detection metrics of a whole evaluation. */
export function detectionMetrics(results: readonly ImageResult[], options: DetectionMetricsOptions): DetectionMetrics {
  if (results.length === 0) throw new EdgetuneError('DATASET_INVALID', 'detection eval: no images to score');
  const notes: string[] = [];
  const hasReference = results.every((r) => r.reference !== null);
  const labels = options.labels;
  if (!labels && !hasReference) {
    throw new EdgetuneError('USAGE', 'detection eval: nothing to score against: give --labels COCO.json (boxes by image file name) or --reference MODEL (its own detections)');
  }
  // Labelled images only; the rest are named in a note (a split's part holds only some of the labelled images).
  let scored = results;
  let gtByImage: Map<string, GroundTruthBox[]> | null = null;
  if (labels) {
    gtByImage = groundTruthByFileName(labels);
    scored = results.filter((r) => gtByImage!.has(r.fileName));
    const unlabelled = results.length - scored.length;
    if (scored.length === 0) {
      throw new EdgetuneError(
        'DATASET_INVALID',
        `detection eval: none of the ${results.length} images (${results.slice(0, 3).map((r) => r.fileName).join(', ')}…) is in the labels' images (${labels.images.slice(0, 3).map((i) => i.fileName).join(', ')}…); labels match images by file_name`,
      );
    }
    if (unlabelled > 0) notes.push(`${unlabelled} image(s) have no entry in the labels and are not scored against them`);
  }
  const categoryIdOfClass = options.categoryIdOfClass ?? (labels ? labels.categories.map((c) => c.id) : classIdsOf(results));
  const names = new Map(labels?.categories.map((c) => [c.id, c.name]) ?? []);

  const mapOf = (pick: (r: ImageResult) => Detection[], against: (r: ImageResult, index: number) => GroundTruthBox[], rows: readonly number[]): CocoEvalResult =>
    evaluateCocoDetections({
      images: rows.map((row, i) => ({ imageId: i + 1, groundTruth: renumber(against(scored[row]!, row), i), detections: pick(scored[row]!) }) satisfies ImageDetections),
      categoryIdOfClass,
      ...(labels ? { categoryIds: labels.categories.map((c) => c.id) } : {}),
    });
  const labelled = (r: ImageResult): GroundTruthBox[] => gtByImage!.get(r.fileName)!;
  const pseudo = (r: ImageResult): GroundTruthBox[] => pseudoGroundTruth(r.reference!, options.refConf, categoryIdOfClass);
  const all = scored.map((_, i) => i);
  const modelDets = (r: ImageResult): Detection[] => r.model;
  const refDets = (r: ImageResult): Detection[] => r.reference!;

  const main = mapOf(modelDets, labels ? labelled : pseudo, all);
  const referenceMap = labels && hasReference ? figures(mapOf(refDets, labelled, all)) : null;
  const vsReference = hasReference ? figures(labels ? mapOf(modelDets, pseudo, all) : main) : null;
  const agreement = hasReference ? referenceAgreementOf(scored, options.refConf) : null;
  const objects = labels ? scored.reduce((n, r) => n + labelled(r).filter((g) => !g.iscrowd).length, 0) : scored.reduce((n, r) => n + pseudo(r).length, 0);
  if (!labels && objects === 0) notes.push(`the reference made no detection at or above ${options.refConf} on these images: mAP against it is undefined (−1)`);

  let hmean: DetectionMetrics['hmean'] = null;
  let hmeanCounts: { model: TextHmeanCounts[]; reference: TextHmeanCounts[] | null } | null = null;
  if (options.metric === 'hmean') {
    const against = labels ? labelled : (r: ImageResult) => pseudoTextTruth(r.reference!, options.refConf);
    const model = scored.map((r) => textHmeanCounts(against(r), r.model));
    const reference = labels && hasReference ? scored.map((r) => textHmeanCounts(labelled(r), r.reference!)) : null;
    hmeanCounts = { model, reference };
    hmean = { ...hmeanOf(model, all), reference: reference ? hmeanOf(reference, all) : null };
  }

  let drop: DetectionMetrics['drop'] = null;
  if (hasReference) {
    const pointsOn = (rows: readonly number[]): number => {
      if (options.metric === 'hmean') {
        const h = hmeanOf(hmeanCounts!.model, rows).hmean;
        return labels ? (hmeanOf(hmeanCounts!.reference!, rows).hmean - h) * 100 : (1 - h) * 100;
      }
      // −1: no ground truth in these images (COCO's sentinel): no figure.
      const valid = (v: number): number => (v < 0 ? Number.NaN : v);
      if (labels) return (valid(mapOf(refDets, labelled, rows).stats.map5095) - valid(mapOf(modelDets, labelled, rows).stats.map5095)) * 100;
      return (1 - valid(mapOf(modelDets, pseudo, rows).stats.map5095)) * 100;
    };
    const points = pointsOn(all);
    if (Number.isFinite(points)) drop = { points, ci: bootstrapInterval(pointsOn, scored.length, points, options), confidence: options.confidence };
    else notes.push('no drop against the original: these images hold no object to score it on');
  }

  const stats = main.stats;
  return {
    mode: labels ? 'labels' : 'reference',
    metric: options.metric,
    images: scored.length,
    objects,
    detections: scored.reduce((n, r) => n + r.model.length, 0),
    refConf: options.refConf,
    map50: stats.map50,
    map5095: stats.map5095,
    map75: stats.map75,
    ar100: stats.ar100,
    vocMap50: vocAp({
      images: all.map((row, i) => ({ imageId: i + 1, groundTruth: (labels ? labelled : pseudo)(scored[row]!), detections: scored[row]!.model })),
      categoryIdOfClass,
      ...(labels ? { categoryIds: labels.categories.map((c) => c.id) } : {}),
    }).map,
    perClass: labels
      ? main.perCategory.map((c) => ({ categoryId: c.categoryId, name: names.get(c.categoryId) ?? null, ap5095: c.ap5095, ap50: c.ap50, objects: c.groundTruthCount }))
      : [],
    referenceMap,
    vsReference,
    agreement,
    hmean,
    drop,
    notes,
  };
}

function figures(r: CocoEvalResult): MapFigures {
  return { map50: r.stats.map50, map5095: r.stats.map5095, map75: r.stats.map75, ar100: r.stats.ar100 };
}

/** Ground truth by image file name (COCO bbox → corners, ids kept). */
function groundTruthByFileName(labels: CocoLabels): Map<string, GroundTruthBox[]> {
  const byId = new Map<number, GroundTruthBox[]>();
  const out = new Map<string, GroundTruthBox[]>();
  for (const im of labels.images) {
    const list: GroundTruthBox[] = [];
    byId.set(im.id, list);
    out.set(im.fileName, list);
  }
  for (const a of labels.annotations) {
    const polygon = a.polygon;
    byId.get(a.imageId)!.push({ id: a.id, box: cocoBboxToCorners(a.bbox), categoryId: a.categoryId, area: a.areaPx2, iscrowd: a.iscrowd, ...(polygon ? { polygon } : {}) });
  }
  return out;
}

/** Ground-truth ids must be unique across images and ≥ 1: renumber per image slot (a bootstrap repeats images). */
function renumber(boxes: readonly GroundTruthBox[], slot: number): GroundTruthBox[] {
  return boxes.map((g, k) => ({ ...g, id: slot * 100_000 + k + 1 }));
}

/** The reference's detections at or above the operating threshold, as ground truth (area = box area, no crowd). */
export function pseudoGroundTruth(reference: readonly Detection[], refConf: number, categoryIdOfClass: readonly number[]): GroundTruthBox[] {
  return reference
    .filter((d) => d.score >= refConf)
    .map((d, k) => ({
      id: k + 1,
      box: d.box,
      categoryId: categoryIdOfClass[d.cls] ?? d.cls + 1,
      area: Math.max(0, d.box[2] - d.box[0]) * Math.max(0, d.box[3] - d.box[1]),
      iscrowd: false,
      ...(d.polygon ? { polygon: d.polygon } : {}),
    }));
}

/** The reference's text regions at or above the threshold as (cared-for) text ground truth. */
function pseudoTextTruth(reference: readonly Detection[], refConf: number): GroundTruthBox[] {
  return pseudoGroundTruth(reference, refConf, [1]);
}

function classIdsOf(results: readonly ImageResult[]): number[] {
  let max = 0;
  for (const r of results) for (const d of [...r.model, ...(r.reference ?? [])]) max = Math.max(max, d.cls + 1);
  return Array.from({ length: Math.max(1, max) }, (_, k) => k + 1);
}

function referenceAgreementOf(results: readonly ImageResult[], refConf: number): OperatingPointAgreement {
  return referenceAgreement({ images: results.map((r, i) => ({ imageId: i + 1, candidate: r.model, reference: r.reference! })), refConf }).agreement;
}

/** One image's counts for PaddleOCR's hmean (summed over images: a bootstrap resamples these). */
interface TextHmeanCounts {
  matched: number;
  groundTruthCare: number;
  detectionsCare: number;
}

function textHmeanCounts(gt: readonly GroundTruthBox[], detections: readonly Detection[]): TextHmeanCounts {
  const r = evaluateTextImage(gt, detections);
  return { matched: r.detMatched, groundTruthCare: r.gtCare, detectionsCare: r.detCare };
}

function hmeanOf(counts: readonly TextHmeanCounts[], rows: readonly number[]): HmeanFigures {
  let matched = 0;
  let gtCare = 0;
  let detCare = 0;
  for (const row of rows) {
    const c = counts[row]!;
    matched += c.matched;
    gtCare += c.groundTruthCare;
    detCare += c.detectionsCare;
  }
  const recall = gtCare === 0 ? 0 : matched / gtCare;
  const precision = detCare === 0 ? 0 : matched / detCare;
  const hmean = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, hmean };
}

/** Percentile bootstrap over images (paired: both models are scored on the same resampled images). */
function bootstrapInterval(pointsOn: (rows: readonly number[]) => number, images: number, point: number, options: DetectionMetricsOptions): [number, number] {
  if (options.confidence === 0 || images < 2) return [point, point];
  const random = mulberry32(options.seed ?? 20261202);
  const resamples = options.resamples ?? 1000;
  const values: number[] = [];
  const rows = new Array<number>(images);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < images; i++) rows[i] = Math.floor(random() * images);
    const v = pointsOn(rows);
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return [point, point];
  values.sort((a, b) => a - b);
  const tail = (1 - options.confidence) / 2;
  const at = (q: number): number => values[Math.min(values.length - 1, Math.max(0, Math.floor(q * values.length)))]!;
  return [Math.min(at(tail), point), Math.max(at(1 - tail), point)];
}
