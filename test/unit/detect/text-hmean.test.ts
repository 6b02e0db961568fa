/** Text hmean: PaddleOCR's DetectionIoUEvaluator on seeded random images (scripts/make-text-hmean-golden.py) and by hand. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Box, Detection, GroundTruthBox, Point } from '../../../src/detect/detection-types.js';
import { evaluateTextImage, isValidSimplePolygon, polygonArea, polygonIntersectionArea, polygonIoU, textHmean } from '../../../src/detect/text-hmean.js';

interface GoldenImage {
  gt: Array<{ points: Point[]; ignore: boolean }>;
  pred: Array<{ points: Point[] }>;
  expected: { gtCare: number; detCare: number; detMatched: number };
}
const golden = JSON.parse(readFileSync('test/fixtures/detection/text-hmean-golden.json', 'utf8')) as {
  images: GoldenImage[];
  combined: { precision: number; recall: number; hmean: number };
  combinedFirstPaddleExample: { precision: number; recall: number; hmean: number };
};

function bounds(points: Point[]): Box {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
function gtOf(points: Point[], iscrowd = false, id = 1): GroundTruthBox {
  return { id, box: bounds(points), categoryId: 0, area: polygonArea(points), iscrowd, polygon: points };
}
function detOf(points: Point[], score = 0.9): Detection {
  return { box: bounds(points), score, cls: 0, polygon: points };
}
function rect(x1: number, y1: number, x2: number, y2: number): Point[] {
  return [
    [x1, y1],
    [x2, y1],
    [x2, y2],
    [x1, y2],
  ];
}
const toImage = (im: GoldenImage) => ({ gt: im.gt.map((g, i) => gtOf(g.points, g.ignore, i + 1)), detections: im.pred.map((p) => detOf(p.points)) });

describe('textHmean equals PaddleOCR DetectionIoUEvaluator (shapely) on seeded random images', () => {
  it.each(golden.images.map((im, i) => ({ im, i })))('image $i', ({ im }) => {
    const r = evaluateTextImage(toImage(im).gt, toImage(im).detections);
    expect({ gtCare: r.gtCare, detCare: r.detCare, detMatched: r.detMatched }).toEqual(im.expected);
  });
  it('combined precision, recall and hmean', () => {
    const r = textHmean(golden.images.map(toImage));
    expect(r.precision).toBeCloseTo(golden.combined.precision, 12);
    expect(r.recall).toBeCloseTo(golden.combined.recall, 12);
    expect(r.hmean).toBeCloseTo(golden.combined.hmean, 12);
  });
  it("PaddleOCR's own example (eval_det_iou.py __main__): P 1, R 0.5, H 2/3", () => {
    const r = textHmean([toImage(golden.images[40]!)]);
    expect(r).toMatchObject({ precision: 1, recall: 0.5, gtCare: 2, detCare: 1, matched: 1 });
    expect(r.hmean).toBeCloseTo(golden.combinedFirstPaddleExample.hmean, 15);
  });
  it('the random images exercise non-convex, invalid and don\'t-care polygons', () => {
    const results = golden.images.map((im) => evaluateTextImage(toImage(im).gt, toImage(im).detections));
    expect(results.reduce((n, r) => n + r.skippedGt.length, 0)).toBeGreaterThan(3);
    expect(results.reduce((n, r) => n + r.dontCareDet.length, 0)).toBeGreaterThan(3);
    const nonConvex = golden.images.flatMap((im) => im.gt).filter((g) => isValidSimplePolygon(g.points) && !isConvex(g.points));
    expect(nonConvex.length).toBeGreaterThan(5);
  });
});

function isConvex(points: Point[]): boolean {
  let sign = 0;
  for (let i = 0; i < points.length; i++) {
    const [a, b, c] = [points[i]!, points[(i + 1) % points.length]!, points[(i + 2) % points.length]!];
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    if (cross !== 0) {
      if (sign !== 0 && Math.sign(cross) !== sign) return false;
      sign = Math.sign(cross);
    }
  }
  return true;
}

describe('text hmean by hand', () => {
  it('a perfect detection of every cared-for line gives 1, 1, 1', () => {
    const r = textHmean([{ gt: [gtOf(rect(0, 0, 10, 2)), gtOf(rect(0, 5, 8, 7))], detections: [detOf(rect(0, 5, 8, 7)), detOf(rect(0, 0, 10, 2))] }]);
    expect(r).toMatchObject({ precision: 1, recall: 1, hmean: 1, matched: 2 });
  });

  it('IoU must be strictly above 0.5: exactly 0.5 does not match, 0.525 does', () => {
    const gt = [gtOf(rect(0, 0, 4, 1))];
    expect(evaluateTextImage(gt, [detOf(rect(0, 0, 2, 1))]).detMatched).toBe(0);
    expect(evaluateTextImage(gt, [detOf(rect(0, 0, 2.1, 1))]).detMatched).toBe(1);
  });

  it('matching is order-greedy, not best-IoU: the first detection over 0.5 takes the ground truth', () => {
    const gt = [gtOf(rect(0, 0, 10, 10))];
    const r = evaluateTextImage(gt, [detOf(rect(3, 0, 13, 10)), detOf(rect(0, 0, 10, 10))]);
    expect(r.pairs).toEqual([{ gt: 0, det: 0 }]); // IoU 70/130 ≈ 0.54 wins over the exact box, which comes second
    expect(r.detCare).toBe(2);
  });

  it('scores play no part', () => {
    const gt = [gtOf(rect(0, 0, 10, 10))];
    const r = evaluateTextImage(gt, [detOf(rect(3, 0, 13, 10), 0.1), detOf(rect(0, 0, 10, 10), 0.99)]);
    expect(r.pairs).toEqual([{ gt: 0, det: 0 }]);
  });

  it("don't-care ground truth: not counted in recall; a detection mostly inside it is neither hit nor false alarm", () => {
    const gt = [gtOf(rect(0, 0, 10, 2)), gtOf(rect(0, 10, 20, 14), true)];
    const inside = detOf(rect(1, 10, 15, 14)); // all of it inside the don't-care region
    const half = detOf(rect(15, 10, 25, 14)); // 5/10 inside: not more than 0.5, so cared for (and a false alarm)
    const r = evaluateTextImage(gt, [detOf(rect(0, 0, 10, 2)), inside, half]);
    expect(r).toMatchObject({ gtCare: 1, detCare: 2, detMatched: 1, dontCareDet: [1] });
    const total = textHmean([{ gt, detections: [detOf(rect(0, 0, 10, 2)), inside, half] }]);
    expect(total.recall).toBe(1);
    expect(total.precision).toBe(0.5);
    expect(total.hmean).toBeCloseTo(2 / 3, 15);
  });

  it('a detection matching a don\'t-care region exactly does not match it', () => {
    const r = evaluateTextImage([gtOf(rect(0, 0, 10, 2), true)], [detOf(rect(0, 0, 10, 2))]);
    expect(r).toMatchObject({ gtCare: 0, detCare: 0, detMatched: 0 });
  });

  it('invalid polygons (bow-tie, fewer than 3 points, zero area, a fold) are skipped on both sides', () => {
    const bowTie: Point[] = [
      [0, 0],
      [10, 2],
      [10, 0],
      [0, 2],
    ];
    const r = evaluateTextImage(
      [gtOf(bowTie), gtOf(rect(20, 0, 30, 2))],
      [
        detOf(bowTie),
        detOf([
          [0, 0],
          [5, 0],
        ]),
        detOf([
          [0, 0],
          [5, 0],
          [9, 0],
        ]),
        detOf(rect(20, 0, 30, 2)),
      ],
    );
    expect(r).toMatchObject({ skippedGt: [0], skippedDet: [0, 1, 2], gtCare: 1, detCare: 1, detMatched: 1, pairs: [{ gt: 1, det: 3 }] });
    expect(isValidSimplePolygon([[0, 0], [4, 0], [2, 0], [2, 3]])).toBe(false); // folds back along y = 0
    expect(isValidSimplePolygon([[0, 0], [4, 0], [4, 0], [4, 3], [0, 0]])).toBe(true); // repeats and closing point are fine
    expect(isValidSimplePolygon([[0, 0], [2, 0], [4, 0], [4, 3]])).toBe(true); // a collinear vertex is fine
  });

  it('non-convex quads: intersection and IoU of a dart with a rectangle (checked with shapely)', () => {
    // The dart (0,0) (4,2) (0,4) (1,2) is 1.5·y wide at height y ≤ 2 (and symmetric above): area 6.
    const dart: Point[] = [
      [0, 0],
      [4, 2],
      [0, 4],
      [1, 2],
    ];
    expect(polygonArea(dart)).toBeCloseTo(6, 12);
    // The band 1 ≤ y ≤ 3 cuts off two tips of 0.75 each: 4.5 inside; union 6 + 8 − 4.5 = 9.5.
    const band = rect(0, 1, 4, 3);
    expect(polygonIntersectionArea(dart, band)).toBeCloseTo(4.5, 10);
    expect(polygonIoU(dart, band)).toBeCloseTo(4.5 / 9.5, 10);
    // Orientation does not matter.
    expect(polygonIntersectionArea([...dart].reverse(), band)).toBeCloseTo(4.5, 10);
  });

  it('boxes stand in for missing polygons; disjoint shapes intersect in 0', () => {
    const gt: GroundTruthBox = { id: 1, box: [0, 0, 10, 2], categoryId: 0, area: 20, iscrowd: false };
    const det: Detection = { box: [0, 0, 10, 2], score: 1, cls: 0 };
    expect(evaluateTextImage([gt], [det]).detMatched).toBe(1);
    expect(polygonIntersectionArea(rect(0, 0, 1, 1), rect(2, 2, 3, 3))).toBe(0);
  });

  it('an empty data set is 0, 0, 0; no detections is precision 0', () => {
    expect(textHmean([])).toMatchObject({ precision: 0, recall: 0, hmean: 0 });
    expect(textHmean([{ gt: [gtOf(rect(0, 0, 1, 1))], detections: [] }])).toMatchObject({ precision: 0, recall: 0, hmean: 0, gtCare: 1 });
  });

  it('thresholds outside [0, 1] are a RangeError naming the option', () => {
    expect(() => textHmean([], { iouConstraint: 1.5 })).not.toThrow(); // nothing evaluated, nothing checked
    expect(() => evaluateTextImage([], [], { iouConstraint: 1.5 })).toThrow(/iouConstraint must be in \[0, 1\], got 1.5/);
    expect(() => evaluateTextImage([], [], { areaPrecisionConstraint: -1 })).toThrow(/areaPrecisionConstraint/);
  });
});
