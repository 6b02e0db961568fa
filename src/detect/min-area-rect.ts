/**
 * Convex hull and the minimum-area enclosing rectangle of a point set (what OpenCV's `convexHull` and
 * `minAreaRect` compute): the best rectangle has a side on a hull edge (Freeman & Shapira, "Determining the
 * minimum-area encasing rectangle for an arbitrary closed curve", CACM 1975), so every hull edge is tried
 * (rotating calipers; hulls of pixel contours have tens of vertices, so each edge scans the hull). Pure.
 */
import type { Point } from './detection-types.js';

/** A rotated rectangle: centre, side lengths, and the unit direction of the `width` side. */
export interface RotatedRect {
  center: Point;
  /** Length of the side along `direction`. */
  width: number;
  /** Length of the side across `direction`. */
  height: number;
  /** Unit vector along the `width` side. */
  direction: Point;
}

/**
 * The convex hull of `points` (Andrew's monotone chain): distinct vertices, no collinear ones, counterclockwise
 * in x-right/y-up terms (clockwise on screen), starting from the lowest-x (then lowest-y) point. Fewer than three
 * distinct non-collinear points give the distinct extreme points (0, 1 or 2 of them).
 */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const unique: Point[] = [];
  for (const p of sorted) {
    const last = unique[unique.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) unique.push(p);
  }
  if (unique.length < 3) return unique;
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of unique) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = unique.length - 1; i >= 0; i--) {
    const p = unique[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return [...lower, ...upper];
}

/**
 * The minimum-area rectangle enclosing `points` (OpenCV `minAreaRect`): one point gives a 0×0 rectangle, two
 * (or collinear points) a segment of height 0. Among hull edges giving the same area the first one wins.
 * Throws RangeError for an empty point set.
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  if (points.length === 0) throw new RangeError('minAreaRect: no points');
  const hull = convexHull(points);
  if (hull.length === 1) return { center: [hull[0]![0], hull[0]![1]], width: 0, height: 0, direction: [1, 0] };
  if (hull.length === 2) {
    const [a, b] = hull as [Point, Point];
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    return { center: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2], width: length, height: 0, direction: [(b[0] - a[0]) / length, (b[1] - a[1]) / length] };
  }
  let best: RotatedRect | null = null;
  let bestArea = Infinity;
  const n = hull.length;
  for (let i = 0; i < n; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % n]!;
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const ux = (b[0] - a[0]) / length;
    const uy = (b[1] - a[1]) / length;
    // Extents of the hull along the edge (u) and across it (v = u turned by 90°), relative to `a`.
    let minU = 0;
    let maxU = 0;
    let minV = 0;
    let maxV = 0;
    for (const p of hull) {
      const px = p[0] - a[0];
      const py = p[1] - a[1];
      const u = px * ux + py * uy;
      const v = py * ux - px * uy;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const width = maxU - minU;
    const height = maxV - minV;
    const area = width * height;
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { center: [a[0] + cu * ux - cv * uy, a[1] + cu * uy + cv * ux], width, height, direction: [ux, uy] };
    }
  }
  return best!;
}

/** The four corners of a rotated rectangle, going round it (start and sense unspecified). */
export function rectCorners(rect: RotatedRect): [Point, Point, Point, Point] {
  const [cx, cy] = rect.center;
  const [ux, uy] = rect.direction;
  // Half-sides along u and along v = (−uy, ux).
  const ax = (ux * rect.width) / 2;
  const ay = (uy * rect.width) / 2;
  const bx = (-uy * rect.height) / 2;
  const by = (ux * rect.height) / 2;
  return [
    [cx - ax - bx, cy - ay - by],
    [cx + ax - bx, cy + ay - by],
    [cx + ax + bx, cy + ay + by],
    [cx - ax + bx, cy - ay + by],
  ];
}
