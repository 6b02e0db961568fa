/** findContours, minAreaRect and fillPolyMask against OpenCV 4.14 on seeded random inputs (scripts/make-dbtext-golden.py). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Point } from '../../../src/detect/detection-types.js';
import { fillPolyMask } from '../../../src/detect/fill-poly.js';
import { findContours } from '../../../src/detect/find-contours.js';
import { minAreaRect, rectCorners } from '../../../src/detect/min-area-rect.js';

interface Golden {
  opencv: string;
  findContours: Array<{ width: number; height: number; rows: string[]; contours: Point[][] }>;
  minAreaRect: Array<{ points: Point[]; center: Point; size: [number, number]; angle: number; corners: Point[] }>;
  fillPoly: Array<{ polygon: Point[]; width: number; height: number; rows: string[] }>;
}

const golden = JSON.parse(readFileSync('test/fixtures/detection/dbtext-primitives.json', 'utf8')) as Golden;

function bitmapOf(rows: string[]): Uint8Array {
  return Uint8Array.from(rows.join(''), (c) => Number(c));
}

describe(`findContours equals cv2.findContours(RETR_LIST, CHAIN_APPROX_SIMPLE) (OpenCV ${golden.opencv})`, () => {
  it.each(golden.findContours.map((g, i) => ({ ...g, i })))('random bitmap $i ($width×$height)', ({ width, height, rows, contours }) => {
    expect(findContours(bitmapOf(rows), width, height)).toEqual(contours);
  });
  it('the cases cover many borders, single pixels and borders along the image edge', () => {
    const all = golden.findContours;
    expect(all.reduce((n, g) => n + g.contours.length, 0)).toBeGreaterThan(60);
    expect(all.some((g) => g.contours.some((c) => c.length === 1))).toBe(true);
    expect(all.some((g) => g.contours.some((c) => c.some(([x]) => x === 0) && c.some(([x]) => x === g.width - 1)))).toBe(true);
  });
  it('a ring gives its outer border and its hole border (the foreground pixels round the hole), island included', () => {
    const rows = ['0000000', '0111110', '0100010', '0101010', '0100010', '0111110', '0000000'];
    const contours = findContours(bitmapOf(rows), 7, 7);
    // OpenCV order (checked with cv2 4.14): last found first — island (row 3), hole (row 2), outer (row 1).
    expect(contours).toEqual([
      [[3, 3]],
      // the hole border: background is 4-connected, so the ring's inner corners are not on it
      [[1, 2], [2, 1], [4, 1], [5, 2], [5, 4], [4, 5], [2, 5], [1, 4]],
      [[1, 1], [1, 5], [5, 5], [5, 1]],
    ]);
  });
});

function cornerSetClose(actual: Point[], expected: Point[], tolerance: number): boolean {
  return expected.every(([ex, ey]) => actual.some(([ax, ay]) => Math.abs(ax - ex) <= tolerance && Math.abs(ay - ey) <= tolerance));
}

describe(`minAreaRect equals cv2.minAreaRect (OpenCV ${golden.opencv})`, () => {
  it.each(golden.minAreaRect.map((g, i) => ({ ...g, i })))('point set $i ($points.length points)', ({ points, size, corners }) => {
    const rect = minAreaRect(points);
    // OpenCV computes in float32: sizes agree to ~1e-5 relative.
    expect(rect.width * rect.height).toBeCloseTo(size[0] * size[1], 2);
    const sides = [rect.width, rect.height].sort((a, b) => a - b);
    const expectedSides = [...size].sort((a, b) => a - b);
    expect(sides[0]).toBeCloseTo(expectedSides[0]!, 3);
    expect(sides[1]).toBeCloseTo(expectedSides[1]!, 3);
    expect(cornerSetClose(rectCorners(rect), corners, 1e-3)).toBe(true);
  });
});

describe('minAreaRect on known point sets', () => {
  it('an axis-aligned rectangle of pixels is itself', () => {
    const rect = minAreaRect([[2, 3], [10, 3], [10, 7], [2, 7], [5, 5]]);
    expect([rect.width, rect.height].sort((a, b) => a - b)).toEqual([4, 8]);
    expect(rect.center[0]).toBeCloseTo(6, 12);
    expect(rect.center[1]).toBeCloseTo(5, 12);
  });
  it('a square rotated by 45° keeps its side √2·a, not its 2a bounding box', () => {
    const rect = minAreaRect([[0, 2], [2, 0], [4, 2], [2, 4]]);
    expect(rect.width).toBeCloseTo(2 * Math.SQRT2, 12);
    expect(rect.height).toBeCloseTo(2 * Math.SQRT2, 12);
    expect(rect.width * rect.height).toBeCloseTo(8, 12);
  });
  it('a rotated 30×10 rectangle sampled on its outline is found with its angle', () => {
    const angle = (20 * Math.PI) / 180;
    const pts: Point[] = [];
    for (let i = 0; i <= 30; i++) for (const j of [0, 10]) pts.push([i, j]);
    for (let j = 0; j <= 10; j++) for (const i of [0, 30]) pts.push([i, j]);
    const rotated = pts.map(([x, y]): Point => [x * Math.cos(angle) - y * Math.sin(angle), x * Math.sin(angle) + y * Math.cos(angle)]);
    const rect = minAreaRect(rotated);
    expect(rect.width * rect.height).toBeCloseTo(300, 9);
    // The direction is along one side or the other: its angle is 20° modulo 90°.
    const degrees = (Math.atan2(rect.direction[1], rect.direction[0]) * 180) / Math.PI;
    expect((((degrees % 90) + 90) % 90)).toBeCloseTo(20, 9);
  });
  it('one point is 0×0; collinear points are a segment of height 0', () => {
    expect(minAreaRect([[3, 4]])).toMatchObject({ width: 0, height: 0, center: [3, 4] });
    const seg = minAreaRect([[0, 0], [3, 4], [6, 8]]);
    expect(seg.width).toBeCloseTo(10, 12);
    expect(seg.height).toBe(0);
  });
  it('no points is a RangeError', () => {
    expect(() => minAreaRect([])).toThrow(RangeError);
  });
});

describe(`fillPolyMask equals cv2.fillPoly (OpenCV ${golden.opencv})`, () => {
  it.each(golden.fillPoly.map((g, i) => ({ ...g, i })))('polygon $i ($polygon.length vertices)', ({ polygon, width, height, rows }) => {
    const mask = fillPolyMask(polygon, width, height);
    const got: string[] = [];
    for (let y = 0; y < height; y++) got.push(Array.from(mask.subarray(y * width, (y + 1) * width)).join(''));
    expect(got).toEqual(rows);
  });
});
