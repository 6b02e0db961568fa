import { describe, expect, it } from 'vitest';
import type { Box, Detection } from '../../../src/detect/detection-types.js';
import { boxIou, hardNms, weightedNms } from '../../../src/detect/nms.js';

function det(box: Box, score: number, cls = 0, keypoints?: Array<[number, number]>): Detection {
  return { box, score, cls, ...(keypoints ? { keypoints } : {}) };
}

function expectBox(actual: Box, expected: Box): void {
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 9));
}

describe('boxIou', () => {
  it('is 1 for equal boxes, 0 for disjoint or edge-touching ones, and inter/union otherwise', () => {
    expect(boxIou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(boxIou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(boxIou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    // Overlap 5×10 = 50; union 100 + 100 − 50 = 150.
    expect(boxIou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 12);
  });

  it('is 0 (not NaN) for empty boxes', () => {
    expect(boxIou([5, 5, 5, 5], [5, 5, 5, 5])).toBe(0);
  });
});

describe('hardNms', () => {
  it('suppresses a lower-scoring box of the same class above the IoU threshold, not one of another class', () => {
    const a = det([0, 0, 10, 10], 0.9);
    const b = det([1, 0, 11, 10], 0.8); // IoU 90/110 ≈ 0.82 with a
    const c = det([1, 0, 11, 10], 0.7, 1);
    expect(hardNms([b, a, c], { iouThreshold: 0.5 })).toEqual([a, c]);
  });

  it('keeps a box whose IoU equals the threshold (suppression is strictly above)', () => {
    const a = det([0, 0, 10, 10], 0.9);
    const b = det([5, 0, 15, 10], 0.8); // IoU exactly 1/3
    expect(hardNms([a, b], { iouThreshold: 1 / 3 })).toHaveLength(2);
    expect(hardNms([a, b], { iouThreshold: 0.33 })).toEqual([a]);
  });

  it('is class-agnostic with perClass false', () => {
    const a = det([0, 0, 10, 10], 0.9, 0);
    const b = det([1, 0, 11, 10], 0.8, 1);
    expect(hardNms([a, b], { iouThreshold: 0.5, perClass: false })).toEqual([a]);
  });

  it('stops at maxDetections, highest scores first, ties in input order', () => {
    const boxes = [det([0, 0, 1, 1], 0.5), det([10, 0, 11, 1], 0.9), det([20, 0, 21, 1], 0.5), det([30, 0, 31, 1], 0.7)];
    expect(hardNms(boxes, { iouThreshold: 0.5, maxDetections: 3 })).toEqual([boxes[1], boxes[3], boxes[0]]);
    expect(hardNms(boxes, { iouThreshold: 0.5, maxDetections: 0 })).toEqual([]);
  });

  it('rejects a bad threshold or maxDetections naming the parameter', () => {
    expect(() => hardNms([], { iouThreshold: Number.NaN })).toThrow(/iouThreshold/);
    expect(() => hardNms([], { iouThreshold: 0.5, maxDetections: -1 })).toThrow(/maxDetections/);
  });
});

describe('weightedNms (MediaPipe WEIGHTED)', () => {
  it("merges overlapping boxes and keypoints into their score-weighted mean, keeping the top one's score and class", () => {
    const top = det([0, 0, 10, 10], 0.75, 0, [[2, 2], [8, 2]]);
    const near = det([2, 1, 12, 11], 0.25, 0, [[4, 4], [10, 2]]); // IoU 72/128 = 0.5625
    const far = det([50, 50, 60, 60], 0.6, 0, [[52, 52], [58, 52]]);
    const out = weightedNms([near, far, top], { iouThreshold: 0.3 });
    expect(out).toHaveLength(2);
    // (0.75·0 + 0.25·2) / 1 = 0.5, (0.75·0 + 0.25·1) = 0.25, (0.75·10 + 0.25·12) = 10.5, (0.75·10 + 0.25·11) = 10.25
    expectBox(out[0]!.box, [0.5, 0.25, 10.5, 10.25]);
    expect(out[0]!.score).toBe(0.75);
    expect(out[0]!.cls).toBe(0);
    expect(out[0]!.keypoints![0]![0]).toBeCloseTo(2.5, 12);
    expect(out[0]!.keypoints![0]![1]).toBeCloseTo(2.5, 12);
    expect(out[0]!.keypoints![1]![0]).toBeCloseTo(8.5, 12);
    expect(out[0]!.keypoints![1]![1]).toBeCloseTo(2, 12);
    expect(out[1]).toEqual(far);
  });

  it('takes candidates by IoU with the top box only (a box near a merged one but not the top stays)', () => {
    const top = det([0, 0, 10, 10], 0.9);
    const middle = det([4, 0, 14, 10], 0.8); // IoU with top 60/140 ≈ 0.43: merged
    const right = det([8, 0, 18, 10], 0.7); // IoU with top 20/180 ≈ 0.11: stays, though it overlaps `middle`
    const out = weightedNms([top, middle, right], { iouThreshold: 0.3 });
    expect(out).toHaveLength(2);
    expect(out[1]).toEqual(right);
    expectBox(out[0]!.box, [(0.8 * 4) / 1.7, 0, (0.9 * 10 + 0.8 * 14) / 1.7, 10]);
  });

  it('merges across classes unless perClass is set, and caps at maxDetections', () => {
    const a = det([0, 0, 10, 10], 0.9, 0);
    const b = det([0, 0, 10, 10], 0.8, 1);
    expect(weightedNms([a, b], { iouThreshold: 0.3 })).toHaveLength(1);
    expect(weightedNms([a, b], { iouThreshold: 0.3, perClass: true })).toHaveLength(2);
    expect(weightedNms([a, det([50, 50, 60, 60], 0.5)], { iouThreshold: 0.3, maxDetections: 1 })).toEqual([a]);
  });

  it('keeps a zero-area top detection as its own group instead of stopping', () => {
    const point = det([5, 5, 5, 5], 0.9);
    const box = det([20, 20, 30, 30], 0.8);
    expect(weightedNms([point, box], { iouThreshold: 0.3 })).toEqual([point, box]);
  });
});
