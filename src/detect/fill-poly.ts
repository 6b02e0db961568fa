/**
 * Rasterise a polygon with integer vertices the way OpenCV's `fillPoly(img, [pts], 1)` does (8-connected, no
 * sub-pixel shift): every edge is drawn as an 8-connected Bresenham line (OpenCV's `LineIterator`, always walked
 * left to right), and in each row the pixels from the left crossing rounded up to the right crossing rounded
 * down are set, crossings in 16.16 fixed point (opencv `modules/imgproc/src/drawing.cpp`, `CollectPolyEdges` and
 * `FillEdgeCollection` as of OpenCV 4.6+; even–odd pairing of the crossings; an edge covers rows y0 ≤ y < y1; an
 * edge with an end outside the image takes its slope from the cut segment). Checked pixel for pixel against opencv-python-headless
 * 4.14 (test/fixtures/detection/dbtext-primitives.json). Pure.
 */
import type { Point } from './detection-types.js';

const XY_SHIFT = 16;
const XY_ONE = 2 ** XY_SHIFT;

/**
 * The 0/1 mask (row-major, `width`×`height`) that `cv2.fillPoly` sets for `polygon` on a zero image of that size;
 * vertices are truncated to integers first (as `astype(np.int32)` does) and may lie outside the image.
 */
export function fillPolyMask(polygon: readonly Point[], width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`fillPolyMask: width and height must be non-negative integers, got ${width}×${height}`);
  }
  const mask = new Uint8Array(width * height);
  const n = polygon.length;
  if (n === 0 || width === 0 || height === 0) return mask;
  const pts = polygon.map(([x, y]): Point => [Math.trunc(x), Math.trunc(y)]);
  const set = (x: number, y: number): void => {
    if (x >= 0 && x < width && y >= 0 && y < height) mask[y * width + x] = 1;
  };

  interface Edge {
    y0: number;
    y1: number;
    /** x at row y0, 16.16 fixed point. */
    x: number;
    /** x step per row, 16.16 fixed point (truncated division, as OpenCV's int64 division). */
    dx: number;
  }
  const edges: Edge[] = [];
  const outside = (p: Point): boolean => p[0] < 0 || p[0] >= width || p[1] < 0 || p[1] >= height;
  let prev = pts[n - 1]!;
  for (const pt of pts) {
    drawLine(prev, pt, width, height, set);
    // The edge's slope comes from its ends cut to the image, as OpenCV ≥ 4.6 does ("use clipped endpoints to create
    // a more accurate PolyEdge"); rows still run over the uncut y range, extrapolated from the cut ends.
    let [x0, y0c, x1, y1c] = [prev[0], prev[1], pt[0], pt[1]];
    if (outside(prev) || outside(pt)) {
      const cut = clipLine(width, height, prev[0], prev[1], pt[0], pt[1]);
      x0 = cut.x1;
      x1 = cut.x2;
      if (cut.y1 !== cut.y2) {
        y0c = cut.y1;
        y1c = cut.y2;
      }
    }
    if (prev[1] !== pt[1]) {
      const dx = Math.trunc(((x1 - x0) * XY_ONE) / (y1c - y0c));
      edges.push(
        prev[1] < pt[1]
          ? { y0: prev[1], y1: pt[1], x: x0 * XY_ONE + (prev[1] - y0c) * dx, dx }
          : { y0: pt[1], y1: prev[1], x: x1 * XY_ONE + (pt[1] - y1c) * dx, dx },
      );
    }
    prev = pt;
  }
  if (edges.length < 2) return mask;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const e of edges) {
    yMin = Math.min(yMin, e.y0);
    yMax = Math.max(yMax, e.y1);
  }
  const xs: number[] = [];
  for (let y = Math.max(yMin, 0); y < Math.min(yMax, height); y++) {
    xs.length = 0;
    for (const e of edges) if (e.y0 <= y && y < e.y1) xs.push(e.x + (y - e.y0) * e.dx);
    xs.sort((a, b) => a - b);
    for (let i = 0; i + 1 < xs.length; i += 2) {
      const x1 = Math.max(Math.floor((xs[i]! + XY_ONE - 1) / XY_ONE), 0);
      const x2 = Math.min(Math.floor(xs[i + 1]! / XY_ONE), width - 1);
      for (let x = x1; x <= x2; x++) mask[y * width + x] = 1;
    }
  }
  return mask;
}

/**
 * OpenCV's 8-connected `LineIterator` from `a` to `b`, swapped to run left to right, calling `set` per pixel. A
 * line with an end outside the image is first cut to it by `clipLine` (integer arithmetic, so the cut line's
 * pixels can differ from the uncut line's inside the image, as in OpenCV).
 */
function drawLine(a: Point, b: Point, width: number, height: number, set: (x: number, y: number) => void): void {
  let [x0, y0] = a;
  let [x1, y1] = b;
  if (x0 < 0 || x0 >= width || x1 < 0 || x1 >= width || y0 < 0 || y0 >= height || y1 < 0 || y1 >= height) {
    const cut = clipLine(width, height, x0, y0, x1, y1);
    if (!cut.inside) return;
    [x0, y0, x1, y1] = [cut.x1, cut.y1, cut.x2, cut.y2];
  }
  if (x1 < x0) {
    [x0, x1] = [x1, x0];
    [y0, y1] = [y1, y0];
  }
  const stepY = y1 < y0 ? -1 : 1;
  let major = x1 - x0;
  let minor = Math.abs(y1 - y0);
  const steep = minor > major;
  if (steep) [major, minor] = [minor, major];
  let err = major - 2 * minor;
  let x = x0;
  let y = y0;
  for (let i = 0; i <= major; i++) {
    set(x, y);
    const diagonal = err < 0;
    err += -2 * minor + (diagonal ? 2 * major : 0);
    if (steep) {
      y += stepY;
      if (diagonal) x += 1;
    } else {
      x += 1;
      if (diagonal) y += stepY;
    }
  }
}

/**
 * OpenCV's `clipLine(Size, pt1, pt2)`: the segment cut to [0, width−1]×[0, height−1] (`inside` false if it misses
 * the image; the ends may then be partly moved, as OpenCV leaves them).
 */
function clipLine(width: number, height: number, x1: number, y1: number, x2: number, y2: number): { inside: boolean; x1: number; y1: number; x2: number; y2: number } {
  const right = width - 1;
  const bottom = height - 1;
  const code = (x: number, y: number): number => (x < 0 ? 1 : 0) + (x > right ? 2 : 0) + (y < 0 ? 4 : 0) + (y > bottom ? 8 : 0);
  let c1 = code(x1, y1);
  let c2 = code(x2, y2);
  if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
    if (c1 & 12) {
      const a = c1 < 8 ? 0 : bottom;
      x1 += Math.trunc(((a - y1) * (x2 - x1)) / (y2 - y1));
      y1 = a;
      c1 = (x1 < 0 ? 1 : 0) + (x1 > right ? 2 : 0);
    }
    if (c2 & 12) {
      const a = c2 < 8 ? 0 : bottom;
      x2 += Math.trunc(((a - y2) * (x2 - x1)) / (y2 - y1));
      y2 = a;
      c2 = (x2 < 0 ? 1 : 0) + (x2 > right ? 2 : 0);
    }
    if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
      if (c1) {
        const a = c1 === 1 ? 0 : right;
        y1 += Math.trunc(((a - x1) * (y2 - y1)) / (x2 - x1));
        x1 = a;
        c1 = 0;
      }
      if (c2) {
        const a = c2 === 1 ? 0 : right;
        y2 += Math.trunc(((a - x2) * (y2 - y1)) / (x2 - x1));
        x2 = a;
        c2 = 0;
      }
    }
  }
  return { inside: (c1 | c2) === 0, x1, y1, x2, y2 };
}
