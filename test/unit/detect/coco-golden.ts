/** The pycocotools / voc_eval golden numbers (test/fixtures/detection/coco-golden.json, made by scripts/make-coco-golden.py). */
import { readFileSync } from 'node:fs';
import type { CocoDetection, CocoEvalInput, CocoGroundTruth, ImageDetections } from '../../../src/detect/coco-eval.js';

/** [id, imageId, categoryId, x, y, w, h, area, iscrowd] */
type GtRow = [number, number, number, number, number, number, number, number, number];
/** [imageId, categoryId, x, y, w, h, score] */
type DtRow = [number, number, number, number, number, number, number];

/** One pycocotools case. */
export interface GoldenCocoCase {
  name: string;
  about: string;
  imageIds: number[];
  categoryIds: number[];
  groundTruth: GtRow[];
  detections: DtRow[];
  expected: {
    stats: number[];
    perCategory: Array<{ categoryId: number; ap5095: number; ap50: number }>;
    recall: number[];
    /** 'k,a,m,t' → runs of [value, count] over the 101 recall thresholds. */
    precisionRows?: Record<string, Array<[number, number]>>;
  };
}

/** One image of a corners case: gt [id, categoryId, x1, y1, x2, y2, area, iscrowd], det [cls, x1, y1, x2, y2, score]. */
interface GoldenCornersImage {
  imageId: number;
  gt: Array<[number, number, number, number, number, number, number, number]>;
  det: Array<[number, number, number, number, number, number]>;
}

/** A case through evaluateCocoDetections. */
export interface GoldenCornersCase {
  name: string;
  images: GoldenCornersImage[];
  categoryIdOfClass: number[];
  categoryIds: number[];
  expected: { stats: number[]; perCategory: Array<{ categoryId: number; ap5095: number; ap50: number }> };
}

/** One image of a VOC case: gt [id, categoryId, x1, y1, x2, y2, difficult], det [cls, x1, y1, x2, y2, score]. */
interface GoldenVocImage {
  imageId: number;
  gt: Array<[number, number, number, number, number, number, number]>;
  det: Array<[number, number, number, number, number, number]>;
}

/** A voc_eval case; expected keyed by `all-points`, `all-points+1`, `11-point`, `11-point+1`. */
export interface GoldenVocCase {
  name: string;
  images: GoldenVocImage[];
  categoryIdOfClass: number[];
  categoryIds: number[];
  expected: Record<string, { perClass: Array<{ categoryId: number; ap: number | null }>; map: number | null }>;
}

/** The whole golden file. */
export interface Golden {
  numpy: string;
  pycocotools: string;
  iouThrs: number[];
  recThrs: number[];
  coco: GoldenCocoCase[];
  cocoCorners: GoldenCornersCase[];
  voc: GoldenVocCase[];
}

/** Read the golden JSON. */
export function loadGolden(): Golden {
  return JSON.parse(readFileSync(new URL('../../fixtures/detection/coco-golden.json', import.meta.url), 'utf8')) as Golden;
}

/** A golden case as evaluateCoco input. */
export function cocoInputOf(c: GoldenCocoCase): CocoEvalInput {
  const groundTruth: CocoGroundTruth[] = c.groundTruth.map(([id, imageId, categoryId, x, y, w, h, area, iscrowd]) => ({
    id,
    imageId,
    categoryId,
    bbox: [x, y, w, h],
    areaPx2: area,
    iscrowd: iscrowd === 1,
  }));
  const detections: CocoDetection[] = c.detections.map(([imageId, categoryId, x, y, w, h, score]) => ({ imageId, categoryId, bbox: [x, y, w, h], score }));
  return { imageIds: c.imageIds, categoryIds: c.categoryIds, groundTruth, detections };
}

/** Corner-box images (COCO corners case or VOC case) as ImageDetections; `difficult`/`iscrowd` → iscrowd. */
export function imagesOf(images: ReadonlyArray<GoldenCornersImage | GoldenVocImage>, withArea: boolean): ImageDetections[] {
  return images.map((im) => ({
    imageId: im.imageId,
    groundTruth: im.gt.map((g) => ({
      id: g[0],
      categoryId: g[1],
      box: [g[2], g[3], g[4], g[5]] as [number, number, number, number],
      area: withArea ? g[6] : (g[4] - g[2]) * (g[5] - g[3]),
      iscrowd: (withArea ? g[7] : g[6]) === 1,
    })),
    detections: im.det.map((d) => ({ cls: d[0], box: [d[1], d[2], d[3], d[4]] as [number, number, number, number], score: d[5] })),
  }));
}
