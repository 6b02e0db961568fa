import { describe, expect, it } from 'vitest';
import {
  COCO_AREA_RANGES_PX2,
  COCO_IOU_THRESHOLDS,
  COCO_MAX_DETS,
  COCO_RECALL_THRESHOLDS,
  cocoBboxToCorners,
  cocoEvalInputOf,
  cornersToCocoBbox,
  evaluateCoco,
  evaluateCocoDetections,
  groundTruthBoxesByImage,
  parseCocoLabels,
  type CocoEvalInput,
} from '../../../src/detect/coco-eval.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { cocoInputOf, imagesOf, loadGolden, type GoldenCocoCase } from './coco-golden.js';

const golden = loadGolden();
const TOLERANCE = 1e-12;

/** Largest |a − b| over two equal-length lists, and how many entries differ at all (bitwise). */
function compare(actual: ArrayLike<number>, expected: ArrayLike<number>): { maxAbs: number; differing: number } {
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  let differing = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(actual[i]! - expected[i]!));
    if (!Object.is(actual[i], expected[i])) differing++;
  }
  return { maxAbs, differing };
}

/** The golden run-length rows back into a [T, R, K, A, M] C-order array. */
function expectedPrecision(c: GoldenCocoCase, K: number): Float64Array {
  const [T, R, A, M] = [10, 101, 4, 3];
  const expected = new Float64Array(T * R * K * A * M).fill(Number.NaN);
  for (const [key, runs] of Object.entries(c.expected.precisionRows!)) {
    const [k, a, m, t] = key.split(',').map(Number) as [number, number, number, number];
    let r = 0;
    for (const [value, count] of runs) for (let j = 0; j < count; j++, r++) expected[(((t * R + r) * K + k) * A + a) * M + m] = value;
    expect(r).toBe(R);
  }
  return expected;
}

describe('COCO parameters', () => {
  it('iouThrs and recThrs equal numpy linspace bit for bit (index 8 is 0.8999999999999999)', () => {
    expect([...COCO_IOU_THRESHOLDS]).toEqual(golden.iouThrs);
    expect([...COCO_RECALL_THRESHOLDS]).toEqual(golden.recThrs);
    expect(COCO_IOU_THRESHOLDS[8]).toBe(0.8999999999999999);
    expect(COCO_IOU_THRESHOLDS[5]).toBe(0.75);
    expect([...COCO_MAX_DETS]).toEqual([1, 10, 100]);
    expect(COCO_AREA_RANGES_PX2.map((r) => [r.minPx2, r.maxPx2])).toEqual([[0, 1e10], [0, 1024], [1024, 9216], [9216, 1e10]]);
  });
});

describe('evaluateCoco against pycocotools 2.0.11', () => {
  for (const c of golden.coco) {
    it(`${c.name}: the 12 stats, per-category AP and the recall array (${c.about})`, () => {
      const result = evaluateCoco(cocoInputOf(c));
      expect(compare(result.statsArray, c.expected.stats).maxAbs).toBeLessThanOrEqual(TOLERANCE);
      expect(result.perCategory.map((p) => p.categoryId)).toEqual(c.expected.perCategory.map((p) => p.categoryId));
      expect(compare(result.perCategory.map((p) => p.ap5095), c.expected.perCategory.map((p) => p.ap5095)).maxAbs).toBeLessThanOrEqual(TOLERANCE);
      expect(compare(result.perCategory.map((p) => p.ap50), c.expected.perCategory.map((p) => p.ap50)).maxAbs).toBeLessThanOrEqual(TOLERANCE);
      expect(compare(result.recall, c.expected.recall).maxAbs).toBeLessThanOrEqual(TOLERANCE);
      const s = result.stats;
      expect([s.map5095, s.map50, s.map75, s.mapSmall, s.mapMedium, s.mapLarge, s.ar1, s.ar10, s.ar100, s.arSmall, s.arMedium, s.arLarge]).toEqual(result.statsArray);
    });
  }

  for (const c of golden.coco.filter((x) => x.expected.precisionRows)) {
    it(`${c.name}: every cell of precision[T, R, K, A, M]`, () => {
      const result = evaluateCoco(cocoInputOf(c));
      expect(compare(result.precision, expectedPrecision(c, result.categoryIds.length)).maxAbs).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('is bit-identical to pycocotools on every golden case (stats, per-category, recall, precision)', () => {
    let differing = 0;
    for (const c of golden.coco) {
      const result = evaluateCoco(cocoInputOf(c));
      differing += compare(result.statsArray, c.expected.stats).differing;
      differing += compare(result.perCategory.map((p) => p.ap5095), c.expected.perCategory.map((p) => p.ap5095)).differing;
      differing += compare(result.perCategory.map((p) => p.ap50), c.expected.perCategory.map((p) => p.ap50)).differing;
      differing += compare(result.recall, c.expected.recall).differing;
      if (c.expected.precisionRows) differing += compare(result.precision, expectedPrecision(c, result.categoryIds.length)).differing;
    }
    expect(differing).toBe(0);
  });

  it('a category with one GT detected perfectly scores 1 − 2⁻⁵² as in pycocotools, not 1', () => {
    const c = golden.coco.find((x) => x.name === 'single-gt')!;
    const result = evaluateCoco(cocoInputOf(c));
    expect(result.stats.map5095).toBe(0.9999999999999998);
    expect(result.stats.map50).toBe(0.9999999999999999);
    expect(result.stats.ar100).toBe(1);
  });

  it('corner boxes through evaluateCocoDetections match pycocotools fed [x1, y1, x2 − x1, y2 − y1]', () => {
    for (const c of golden.cocoCorners) {
      const result = evaluateCocoDetections({ images: imagesOf(c.images, true), categoryIdOfClass: c.categoryIdOfClass, categoryIds: c.categoryIds });
      expect(compare(result.statsArray, c.expected.stats).differing).toBe(0);
      expect(compare(result.perCategory.map((p) => p.ap5095), c.expected.perCategory.map((p) => p.ap5095)).differing).toBe(0);
    }
  });
});

describe('evaluateCoco by hand', () => {
  // GT A = [0,0,10,10], B = [20,0,10,10] (area 100: small). Detections by score: d1 = A (IoU 1), d2 = left half
  // of B (IoU 50/100 = 0.5 exactly), d3 far away.
  // t = 0.5: d1 TP, d2 TP (0.5 ≥ 0.5), d3 FP → recall 1; envelope precision 1 at every recall threshold → AP 1.
  // t ≥ 0.55: d2 misses → recall 0.5; precision 1/(1 + 2⁻⁵²) for the 51 thresholds 0 … 0.50, 0 above →
  // AP = 51/101 (less 2⁻⁵² · 51/101). mAP = (1 + 9 · 51/101) / 10; AR@100 = (1 + 9 · 0.5) / 10 = 0.55;
  // AR@1 = 0.5 (one detection per image and category: d1).
  const input: CocoEvalInput = {
    imageIds: [7],
    categoryIds: [3],
    groundTruth: [
      { id: 1, imageId: 7, categoryId: 3, bbox: [0, 0, 10, 10], areaPx2: 100, iscrowd: false },
      { id: 2, imageId: 7, categoryId: 3, bbox: [20, 0, 10, 10], areaPx2: 100, iscrowd: false },
    ],
    detections: [
      { imageId: 7, categoryId: 3, bbox: [50, 50, 10, 10], score: 0.7 },
      { imageId: 7, categoryId: 3, bbox: [0, 0, 10, 10], score: 0.9 },
      { imageId: 7, categoryId: 3, bbox: [20, 0, 5, 10], score: 0.8 },
    ],
  };

  it('3 boxes: AP50 1, AP75 51/101, mAP (1 + 9·51/101)/10, AR@1 0.5, AR@100 0.55, no medium/large GT → −1', () => {
    const { stats, perCategory } = evaluateCoco(input);
    expect(stats.map50).toBeCloseTo(1, 12);
    expect(stats.map75).toBeCloseTo(51 / 101, 12);
    expect(stats.map5095).toBeCloseTo((1 + (9 * 51) / 101) / 10, 12);
    expect(stats.mapSmall).toBe(stats.map5095);
    expect(stats.mapMedium).toBe(-1);
    expect(stats.mapLarge).toBe(-1);
    expect(stats.ar1).toBeCloseTo(0.5, 12);
    expect(stats.ar10).toBeCloseTo(0.55, 12);
    expect(stats.ar100).toBeCloseTo(0.55, 12);
    expect(perCategory).toEqual([{ categoryId: 3, ap5095: stats.map5095, ap50: stats.map50, groundTruthCount: 2, detectionCount: 3 }]);
  });

  it('the same boxes as corners give the same numbers', () => {
    const result = evaluateCocoDetections({
      images: [{
        imageId: 7,
        groundTruth: input.groundTruth.map((g) => ({ id: g.id, categoryId: g.categoryId, box: cocoBboxToCorners(g.bbox), area: g.areaPx2, iscrowd: g.iscrowd })),
        detections: input.detections.map((d) => ({ box: cocoBboxToCorners(d.bbox), score: d.score, cls: 0 })),
      }],
      categoryIdOfClass: [3],
    });
    expect(result.statsArray).toEqual(evaluateCoco(input).statsArray);
  });

  it('no ground truth at all: every stat is −1', () => {
    const { statsArray } = evaluateCoco({ ...input, groundTruth: [] });
    expect(statsArray).toEqual(new Array(12).fill(-1));
  });

  it('ground truth but no detections: AP and AR are 0', () => {
    const { stats } = evaluateCoco({ ...input, detections: [] });
    expect(stats.map5095).toBe(0);
    expect(stats.ar100).toBe(0);
  });
});

describe('evaluateCoco input checks', () => {
  const base: CocoEvalInput = {
    imageIds: [1],
    categoryIds: [1],
    groundTruth: [{ id: 1, imageId: 1, categoryId: 1, bbox: [0, 0, 10, 10], areaPx2: 100, iscrowd: false }],
    detections: [{ imageId: 1, categoryId: 1, bbox: [0, 0, 10, 10], score: 0.5 }],
  };

  it('rejects GT id 0 (pycocotools would never count its match) and duplicate GT ids: DATASET_INVALID', () => {
    const withId0 = { ...base, groundTruth: [{ ...base.groundTruth[0]!, id: 0 }] };
    expect(() => evaluateCoco(withId0)).toThrow(expect.objectContaining({ code: 'DATASET_INVALID', message: expect.stringContaining('groundTruth[0].id is 0') }));
    const dup = { ...base, groundTruth: [base.groundTruth[0]!, { ...base.groundTruth[0]! }] };
    expect(() => evaluateCoco(dup)).toThrow(expect.objectContaining({ code: 'DATASET_INVALID', message: expect.stringContaining('used twice') }));
  });

  it('rejects a detection on an image that is not evaluated, and NaN scores: USAGE', () => {
    expect(() => evaluateCoco({ ...base, detections: [{ ...base.detections[0]!, imageId: 2 }] })).toThrow(
      expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('detections[0].imageId 2') }),
    );
    expect(() => evaluateCoco({ ...base, detections: [{ ...base.detections[0]!, score: Number.NaN }] })).toThrow(EdgetuneError);
  });

  it('rejects a detection class that categoryIdOfClass does not map', () => {
    expect(() =>
      evaluateCocoDetections({ images: [{ imageId: 1, groundTruth: [], detections: [{ box: [0, 0, 1, 1], score: 1, cls: 4 }] }], categoryIdOfClass: [1, 2] }),
    ).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('class 4') }));
  });

  it('ignores GT and detections of categories that are not evaluated (as getAnnIds does)', () => {
    const other = {
      ...base,
      groundTruth: [...base.groundTruth, { id: 2, imageId: 1, categoryId: 9, bbox: [50, 50, 5, 5] as [number, number, number, number], areaPx2: 25, iscrowd: false }],
      detections: [...base.detections, { imageId: 1, categoryId: 9, bbox: [0, 0, 10, 10] as [number, number, number, number], score: 0.99 }],
    };
    expect(evaluateCoco(other).statsArray).toEqual(evaluateCoco(base).statsArray);
  });
});

describe('box conversions', () => {
  it('corners ↔ [x, y, w, h]', () => {
    expect(cornersToCocoBbox([1, 2, 11, 22])).toEqual([1, 2, 10, 20]);
    expect(cocoBboxToCorners([1, 2, 10, 20])).toEqual([1, 2, 11, 22]);
  });
});

describe('parseCocoLabels', () => {
  const valid = {
    info: { year: 2017 },
    images: [{ id: 1, file_name: 'a.jpg', width: 640, height: 480 }, { id: 2, file_name: 'b.jpg', width: 640, height: 480, license: 3 }],
    categories: [{ id: 1, name: 'person', supercategory: 'person' }, { id: 3, name: 'car' }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [10.5, 20, 30, 40], area: 900.25, iscrowd: 0, segmentation: [[0, 0]] },
      { id: 2, image_id: 2, category_id: 3, bbox: [0, 0, 8, 4] },
      { id: 3, image_id: 2, category_id: 1, bbox: [5, 5, 100, 100], area: 5000, iscrowd: 1 },
    ],
  };

  it('reads images, categories and annotations; bbox verbatim, area defaults to w·h, iscrowd to false', () => {
    const labels = parseCocoLabels(valid);
    expect(labels.images).toEqual([{ id: 1, fileName: 'a.jpg', widthPx: 640, heightPx: 480 }, { id: 2, fileName: 'b.jpg', widthPx: 640, heightPx: 480 }]);
    expect(labels.categories).toEqual([{ id: 1, name: 'person' }, { id: 3, name: 'car' }]);
    expect(labels.annotations).toEqual([
      { id: 1, imageId: 1, categoryId: 1, bbox: [10.5, 20, 30, 40], areaPx2: 900.25, iscrowd: false },
      { id: 2, imageId: 2, categoryId: 3, bbox: [0, 0, 8, 4], areaPx2: 32, iscrowd: false },
      { id: 3, imageId: 2, categoryId: 1, bbox: [5, 5, 100, 100], areaPx2: 5000, iscrowd: true },
    ]);
    const input = cocoEvalInputOf(labels, []);
    expect(input.imageIds).toEqual([1, 2]);
    expect(input.categoryIds).toEqual([1, 3]);
    expect(groundTruthBoxesByImage(labels).get(2)).toEqual([
      { id: 2, box: [0, 0, 8, 4], categoryId: 3, area: 32, iscrowd: false },
      { id: 3, box: [5, 5, 105, 105], categoryId: 1, area: 5000, iscrowd: true },
    ]);
  });

  it('lists every problem at once: DATASET_INVALID naming each', () => {
    const bad = {
      ...valid,
      images: [...valid.images, { id: 1, file_name: 'c.jpg', width: 10, height: 10 }],
      annotations: [
        { id: 0, image_id: 1, category_id: 1, bbox: [0, 0, 1, 1] },
        { id: 5, image_id: 1, category_id: 1, bbox: [0, 0, -1, 1] },
        { id: 6, image_id: 1, category_id: 1, bbox: [0, 0, 1] },
      ],
    };
    let error: unknown;
    try {
      parseCocoLabels(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('DATASET_INVALID');
    const message = (error as EdgetuneError).message;
    expect(message).toContain('3 problems');
    expect(message).toContain('annotations[0].id: must be ≥ 1');
    expect(message).toContain('annotations[1].bbox[2]: width must be ≥ 0');
    expect(message).toContain('annotations[2].bbox');
  });

  it('cross-checks ids once the shape is right: duplicates, unknown image or category', () => {
    const bad = {
      ...valid,
      images: [...valid.images, { id: 1, file_name: 'c.jpg', width: 10, height: 10 }],
      annotations: [...valid.annotations, { id: 2, image_id: 9, category_id: 2, bbox: [0, 0, 1, 1] }],
    };
    expect(() => parseCocoLabels(bad)).toThrow(
      expect.objectContaining({
        code: 'DATASET_INVALID',
        message: expect.stringMatching(/images\[2\]\.id: 1 is also the id of images\[0\][\s\S]*annotations\[3\]\.id: 2 is also the id of annotations\[1\][\s\S]*annotations\[3\]\.image_id: 9[\s\S]*annotations\[3\]\.category_id: 2/),
      }),
    );
  });

  it('rejects a value that is not a COCO object', () => {
    expect(() => parseCocoLabels([])).toThrow(expect.objectContaining({ code: 'DATASET_INVALID' }));
    expect(() => parseCocoLabels({ images: [] })).toThrow(expect.objectContaining({ code: 'DATASET_INVALID', message: expect.stringContaining('annotations') }));
  });
});
