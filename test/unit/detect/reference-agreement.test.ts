import { describe, expect, it } from 'vitest';
import type { Box, Detection } from '../../../src/detect/detection-types.js';
import { boxIou, matchToReference, referenceAgreement, type ReferenceImage } from '../../../src/detect/reference-agreement.js';
import { mulberry32 } from '../../../src/util/random.js';

/** A seeded reference: clustered, overlapping boxes of 3 classes, scores spread over [0.001, 1), some below τ. */
function seededReference(seed: number, images: number): ReferenceImage[] {
  const rand = mulberry32(seed);
  const out: ReferenceImage[] = [];
  for (let im = 0; im < images; im++) {
    const dets: Detection[] = [];
    const n = 3 + Math.floor(rand() * 25);
    for (let i = 0; i < n; i++) {
      const w = 2 + rand() * 200;
      const h = 2 + rand() * 200;
      const x = rand() * 500;
      const y = rand() * 500;
      dets.push({ box: [x, y, x + w, y + h], score: 0.001 + rand() * 0.998, cls: Math.floor(rand() * 3) });
      if (rand() < 0.2) dets.push({ box: [x + rand() * 5, y, x + w, y + h * (0.8 + rand() * 0.4)], score: rand(), cls: dets[dets.length - 1]!.cls });
    }
    out.push({ imageId: 100 + im, reference: dets, candidate: dets });
  }
  return out;
}

describe('referenceAgreement: the reference against itself', () => {
  const images = seededReference(14, 12);
  const result = referenceAgreement({ images, refConf: 0.25 });

  it('has pseudo-GT in every class, at least two per class (the fixture is valid for the exact-1 claim)', () => {
    const perClass = new Map<number, number>();
    for (const im of images) for (const d of im.reference) if (d.score >= 0.25) perClass.set(d.cls, (perClass.get(d.cls) ?? 0) + 1);
    expect([...perClass.keys()].sort()).toEqual([0, 1, 2]);
    for (const count of perClass.values()) expect(count).toBeGreaterThanOrEqual(2);
    expect(result.pseudoGtCount).toBe([...perClass.values()].reduce((a, b) => a + b, 0));
    expect(result.candidateDetectionCount).toBe(images.reduce((s, im) => s + im.candidate.length, 0));
  });

  it('mAP_ref is exactly 1 (AP50, AP@[.5:.95], AR@100)', () => {
    expect(result.map50Ref).toBe(1);
    expect(result.map5095Ref).toBe(1);
    expect(result.coco.stats.ar100).toBe(1);
    for (const c of result.coco.perCategory) expect([c.ap50, c.ap5095]).toEqual([1, 1]);
  });

  it('agreement is perfect: precision = recall = F1 = 1, mean IoU 1, no score or count delta, every image identical', () => {
    expect(result.agreement).toMatchObject({
      precision: 1,
      recall: 1,
      f1: 1,
      meanIou: 1,
      meanAbsScoreDelta: 0,
      countDelta: 0,
      meanAbsCountDeltaPerImage: 0,
      identicalImageShare: 1,
    });
    expect(result.agreement.matchedCount).toBe(result.pseudoGtCount);
  });
});

describe('referenceAgreement: a candidate that differs', () => {
  const box = (x1: number, y1: number, x2: number, y2: number): Box => [x1, y1, x2, y2];
  // Image 1: reference A (cls 0), B (cls 0), C (cls 1, below τ). Candidate: A shifted by 10 px (IoU 0.8/1.2 = 2/3),
  // B missed, an extra box D, and B at a score under τ (counts for mAP, not for agreement).
  // Image 2: reference E (cls 1); candidate E exactly, score 0.1 lower.
  const images: ReferenceImage[] = [
    {
      imageId: 1,
      reference: [
        { box: box(0, 0, 100, 100), score: 0.9, cls: 0 },
        { box: box(200, 200, 300, 300), score: 0.6, cls: 0 },
        { box: box(400, 0, 450, 50), score: 0.2, cls: 1 },
      ],
      candidate: [
        { box: box(10, 0, 110, 100), score: 0.8, cls: 0 },
        { box: box(500, 500, 550, 550), score: 0.5, cls: 0 },
        { box: box(200, 200, 300, 300), score: 0.1, cls: 0 },
      ],
    },
    {
      imageId: 2,
      reference: [{ box: box(0, 0, 40, 40), score: 0.7, cls: 1 }],
      candidate: [{ box: box(0, 0, 40, 40), score: 0.6, cls: 1 }],
    },
  ];
  const result = referenceAgreement({ images, refConf: 0.25 });

  it('agreement at τ: 2 matched of 3 candidate and 3 reference boxes', () => {
    const a = result.agreement;
    expect([a.matchedCount, a.candidateCount, a.referenceCount, a.countDelta]).toEqual([2, 3, 3, 0]);
    expect(a.precision).toBeCloseTo(2 / 3, 15);
    expect(a.recall).toBeCloseTo(2 / 3, 15);
    expect(a.f1).toBeCloseTo(2 / 3, 15);
    expect(a.meanIou).toBeCloseTo((9000 / 11000 + 1) / 2, 15);
    expect(a.meanAbsScoreDelta).toBeCloseTo(0.1, 15);
    expect(a.meanAbsCountDeltaPerImage).toBe(0);
    expect(a.identicalImageShare).toBe(0.5);
  });

  it('mAP_ref: the candidate keeps its sub-τ detection; class 0 ranks A (TP at IoU ≤ 0.8), D (FP), B (TP)', () => {
    expect(result.pseudoGtCount).toBe(3);
    expect(result.candidateMinScore).toBe(0.1);
    // class 0, t = 0.5: TP, FP, TP → precision 1, 1/2, 2/3; recall 1/2, 1/2, 1 → AP50 = (51 + 50 · 2/3) / 101.
    const class0 = result.coco.perCategory.find((c) => c.categoryId === 0)!;
    expect(class0.ap50).toBeCloseTo((51 + (50 * 2) / 3) / 101, 12);
    const class1 = result.coco.perCategory.find((c) => c.categoryId === 1)!;
    // a single pseudo-GT box: precision 1/(1 + 2⁻⁵²) at every recall threshold, as pycocotools has it
    expect([class1.ap50, class1.ap5095]).toEqual([0.9999999999999999, 0.9999999999999998]);
    expect(result.map50Ref).toBeCloseTo((class0.ap50 + class1.ap50) / 2, 15);
  });

  it('a candidate that finds nothing: precision, recall, F1 0 and mAP_ref 0', () => {
    const empty = referenceAgreement({ images: images.map((im) => ({ ...im, candidate: [] })), refConf: 0.25 });
    expect(empty.agreement).toMatchObject({ precision: 0, recall: 0, f1: 0, meanIou: null, meanAbsScoreDelta: null, countDelta: -3 });
    expect(empty.map50Ref).toBe(0);
    expect(empty.candidateMinScore).toBeNull();
  });

  it('nothing on either side at τ: agreement 1 (both empty), mAP_ref −1 (no pseudo-GT)', () => {
    const quiet = referenceAgreement({ images: [{ imageId: 1, reference: [{ box: box(0, 0, 1, 1), score: 0.1, cls: 0 }], candidate: [] }], refConf: 0.25 });
    expect(quiet.agreement).toMatchObject({ precision: 1, recall: 1, f1: 1, identicalImageShare: 1 });
    expect(quiet.map50Ref).toBe(-1);
  });

  it('rejects bad input with USAGE', () => {
    expect(() => referenceAgreement({ images: [], refConf: 0.25 })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => referenceAgreement({ images, refConf: Number.NaN })).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('refConf') }));
    expect(() => referenceAgreement({ images: [images[0]!, images[0]!], refConf: 0.25 })).toThrow(expect.objectContaining({ message: expect.stringContaining('appears twice') }));
  });
});

describe('matchToReference', () => {
  it('is one-to-one, same class, greedy by candidate score, best IoU first', () => {
    const reference: Detection[] = [
      { box: [0, 0, 10, 10], score: 0.9, cls: 0 },
      { box: [0, 0, 10, 8], score: 0.8, cls: 0 },
      { box: [0, 0, 10, 10], score: 0.8, cls: 1 },
    ];
    const candidate: Detection[] = [
      { box: [0, 0, 10, 9], score: 0.3, cls: 0 }, // IoU 0.9 with ref 0, 8/9 with ref 1 → takes ref 1 (ref 0 gone)
      { box: [0, 0, 10, 10], score: 0.5, cls: 0 }, // highest score: takes ref 0
      { box: [0, 0, 10, 10], score: 0.4, cls: 2 }, // no class-2 reference
    ];
    expect(matchToReference(reference, candidate, 0.5)).toEqual([
      { reference: 0, candidate: 1, iou: 1 },
      { reference: 1, candidate: 0, iou: 80 / 90 },
    ]);
  });

  it('boxIou: touching boxes 0, identical 1', () => {
    expect(boxIou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    expect(boxIou([0.1, 0.2, 10.3, 10.7], [0.1, 0.2, 10.3, 10.7])).toBe(1);
  });
});
