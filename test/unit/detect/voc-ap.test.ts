import { describe, expect, it } from 'vitest';
import { vocAp, vocApOfCurve, vocIou, type VocApMetric } from '../../../src/detect/voc-ap.js';
import { imagesOf, loadGolden } from './coco-golden.js';

const golden = loadGolden();

describe('vocAp against py-faster-rcnn voc_eval (re-implemented in numpy by scripts/make-coco-golden.py)', () => {
  for (const c of golden.voc) {
    for (const [key, expected] of Object.entries(c.expected)) {
      const metric = key.replace('+1', '') as VocApMetric;
      const pixelInclusive = key.endsWith('+1');
      it(`${c.name}, ${metric}${pixelInclusive ? ', +1 pixel' : ''}: per-class AP and mAP, bit-identical`, () => {
        const result = vocAp({ images: imagesOf(c.images, false), categoryIdOfClass: c.categoryIdOfClass, categoryIds: c.categoryIds, metric, pixelInclusive });
        expect(result.perClass.map((p) => p.categoryId)).toEqual(expected.perClass.map((p) => p.categoryId));
        result.perClass.forEach((p, i) => {
          const want = expected.perClass[i]!.ap;
          if (want === null) expect(p.ap).toBeNull();
          else {
            expect(Math.abs(p.ap! - want)).toBeLessThanOrEqual(1e-12);
            expect(p.ap).toBe(want);
          }
        });
        expect(result.map).toBe(expected.map);
      });
    }
  }

  it('the +1 convention decides a borderline match: IoU 8/16 = 0.5 is not > 0.5, 15/25 = 0.6 is', () => {
    expect(vocIou([0, 0, 4, 2], [0, 0, 4, 4], false)).toBe(0.5);
    expect(vocIou([0, 0, 4, 2], [0, 0, 4, 4], true)).toBe(0.6);
    const images = [{ imageId: 1, groundTruth: [{ id: 1, categoryId: 1, box: [0, 0, 4, 4] as [number, number, number, number], area: 16, iscrowd: false }], detections: [{ cls: 0, box: [0, 0, 4, 2] as [number, number, number, number], score: 0.9 }] }];
    expect(vocAp({ images, categoryIdOfClass: [1] }).map).toBe(0);
    expect(vocAp({ images, categoryIdOfClass: [1], pixelInclusive: true }).map).toBe(1);
  });
});

describe('vocApOfCurve by hand', () => {
  // Detections TP, FP, TP over 2 GT: recall 0.5, 0.5, 1; precision 1, 0.5, 2/3.
  const rec = [0.5, 0.5, 1];
  const prec = [1, 0.5, 2 / 3];

  it('all-points: 0.5 · 1 + 0.5 · 2/3 (the envelope lifts 0.5 to 2/3)', () => {
    expect(vocApOfCurve(rec, prec, 'all-points')).toBeCloseTo(0.5 + (0.5 * 2) / 3, 15);
  });

  it('11-point: 6 thresholds ≤ 0.5 at precision 1, 5 above at 2/3, over 11', () => {
    expect(vocApOfCurve(rec, prec, '11-point')).toBeCloseTo((6 + (5 * 2) / 3) / 11, 15);
  });

  it('no detections: AP 0 either way', () => {
    expect(vocApOfCurve([], [], 'all-points')).toBe(0);
    expect(vocApOfCurve([], [], '11-point')).toBe(0);
  });
});

describe('vocAp semantics', () => {
  const box = (x1: number, y1: number, x2: number, y2: number): [number, number, number, number] => [x1, y1, x2, y2];

  it('a difficult (iscrowd) GT is not counted and its detections are neither TP nor FP; a duplicate is FP', () => {
    const result = vocAp({
      images: [{
        imageId: 1,
        groundTruth: [
          { id: 1, categoryId: 5, box: box(0, 0, 10, 10), area: 100, iscrowd: false },
          { id: 2, categoryId: 5, box: box(50, 50, 60, 60), area: 100, iscrowd: true },
        ],
        detections: [
          { cls: 0, box: box(0, 0, 10, 10), score: 0.9 },
          { cls: 0, box: box(50, 50, 60, 60), score: 0.8 },
          { cls: 0, box: box(0, 0, 10, 10), score: 0.7 },
        ],
      }],
      categoryIdOfClass: [5],
    });
    expect(result.perClass).toEqual([{ categoryId: 5, ap: 1, groundTruthCount: 1, detectionCount: 3, truePositives: 1, falsePositives: 1 }]);
  });

  it('a class without GT has ap null and stays out of the mean', () => {
    const result = vocAp({
      images: [{ imageId: 1, groundTruth: [{ id: 1, categoryId: 1, box: box(0, 0, 10, 10), area: 100, iscrowd: false }], detections: [{ cls: 1, box: box(0, 0, 10, 10), score: 0.5 }] }],
      categoryIdOfClass: [1, 2],
    });
    expect(result.perClass.map((p) => p.ap)).toEqual([0, null]);
    expect(result.map).toBe(0);
  });

  it('rejects an unmapped class with USAGE', () => {
    expect(() => vocAp({ images: [{ imageId: 1, groundTruth: [], detections: [{ cls: 3, box: box(0, 0, 1, 1), score: 1 }] }], categoryIdOfClass: [1] })).toThrow(
      expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('class 3') }),
    );
  });
});
