/**
 * Border following on a binary image, as OpenCV's `findContours(img, RETR_LIST, CHAIN_APPROX_SIMPLE)` does it:
 * Suzuki & Abe, "Topological structural analysis of digitized binary images by border following" (CVGIP 1985),
 * Algorithm 1, with OpenCV's scan, neighbour order, marking and chain compression (opencv `modules/imgproc/src/
 * contours.cpp`, `icvFetchContour`). Pure.
 *
 * What it yields, per border (foreground is 8-connected, background 4-connected):
 * - outer borders of every connected component and the borders of its holes (RETR_LIST: all, no hierarchy);
 * - each border as the foreground pixels on it, `[x, y]`, compressed to the points where the chain direction
 *   changes (CHAIN_APPROX_SIMPLE: straight horizontal, vertical and diagonal runs keep only their ends);
 * - in OpenCV's output order, which is the reverse of discovery in the raster scan (OpenCV links each new contour
 *   in front of the list); a single isolated pixel is a one-point contour.
 * Pixels on the image edge are traced as if the image were framed by background (OpenCV ≥ 3.2 pads by one pixel).
 *
 * How it may differ from OpenCV: it is a port of the same algorithm, checked point for point against
 * opencv-python-headless 4.14 on random bitmaps (test/fixtures/detection/dbtext-primitives.json), so a difference
 * would be a bug; OpenCV builds before 3.2 instead cleared the image's outermost pixel ring first.
 */
import type { Point } from './detection-types.js';

/** Label of a traced border pixel whose right (east) neighbour is background seen during tracing. */
const RIGHT_EDGE = -2;
/** Label of any other traced border pixel. */
const TRACED = 2;

/**
 * Every border of the foreground (`bitmap[y·width + x] ≠ 0`) as OpenCV's RETR_LIST + CHAIN_APPROX_SIMPLE lists
 * them (see the module comment). `bitmap` is not modified.
 */
export function findContours(bitmap: ArrayLike<number>, width: number, height: number): Point[][] {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`findContours: width and height must be non-negative integers, got ${width}×${height}`);
  }
  if (bitmap.length !== width * height) {
    throw new RangeError(`findContours: bitmap has ${bitmap.length} values, ${width}×${height} needs ${width * height}`);
  }
  // One pixel of background around the image, so that neighbours of edge pixels exist.
  const stride = width + 2;
  const labels = new Int8Array(stride * (height + 2));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (bitmap[y * width + x] !== 0) labels[(y + 1) * stride + x + 1] = 1;
  }
  // Chain codes 0..7 = E, NE, N, NW, W, SW, S, SE (y grows downwards), twice so that s + 8 needs no wrap.
  const step = [1, 1 - stride, -stride, -stride - 1, -1, stride - 1, stride, stride + 1];
  const deltas = [...step, ...step];
  const dx = [1, 1, 0, -1, -1, -1, 0, 1];
  const dy = [0, -1, -1, -1, 0, 1, 1, 1];

  const found: Point[][] = [];
  for (let y = 1; y <= height; y++) {
    const row = y * stride;
    for (let x = 1; x <= width; x++) {
      const prev = labels[row + x - 1]!;
      const p = labels[row + x]!;
      if (p === prev) continue;
      // Suzuki–Abe: an outer border starts at an unvisited 1 after a 0; a hole border at a 0 after a non-negative
      // foreground label (a pixel already marked as a right edge closes a border traced before).
      let hole: boolean;
      if (prev === 0 && p === 1) hole = false;
      else if (p === 0 && prev >= 1) hole = true;
      else continue;
      const ox = hole ? x - 1 : x;
      found.push(trace(labels, row + ox, ox - 1, y - 1, hole, deltas, dx, dy));
    }
  }
  return found.reverse();
}

/** Follow one border from `origin` (label index) whose pixel is (`px`, `py`) in image coordinates. */
function trace(
  labels: Int8Array,
  origin: number,
  px: number,
  py: number,
  hole: boolean,
  deltas: readonly number[],
  dx: readonly number[],
  dy: readonly number[],
): Point[] {
  const points: Point[] = [];
  // (3.1) Look clockwise round the origin, starting next to the background pixel that started the border
  // (west for an outer border, east for a hole), for the first foreground neighbour.
  const sEnd0 = hole ? 0 : 4;
  let s = sEnd0;
  let first: number;
  do {
    s = (s - 1) & 7;
    first = origin + deltas[s]!;
  } while (labels[first] === 0 && s !== sEnd0);
  if (s === sEnd0) {
    // An isolated pixel.
    labels[origin] = RIGHT_EDGE;
    points.push([px, py]);
    return points;
  }
  let current = origin;
  let prevS = s ^ 4;
  let x = px;
  let y = py;
  for (;;) {
    // (3.3) Counterclockwise round `current`, from the neighbour after the one we came from, to the next
    // foreground pixel (at most 8 looks; the last is where we came from, which is foreground).
    const sEnd = s;
    let next = current;
    for (let k = sEnd + 1; k <= sEnd + 8; k++) {
      next = current + deltas[k]!;
      s = k;
      if (labels[next] !== 0) break;
    }
    s &= 7;
    // (3.4) The east neighbour was looked at and is background ⇔ the search wrapped past direction 0.
    if (s >= 1 && s <= sEnd) labels[current] = RIGHT_EDGE;
    else if (labels[current] === 1) labels[current] = TRACED;
    // CHAIN_APPROX_SIMPLE: keep a point only where the direction changes.
    if (s !== prevS) {
      points.push([x, y]);
      prevS = s;
    }
    x += dx[s]!;
    y += dy[s]!;
    // (3.5) Back at the start, about to repeat the first move.
    if (next === origin && current === first) break;
    current = next;
    s = (s + 4) & 7;
  }
  return points;
}
