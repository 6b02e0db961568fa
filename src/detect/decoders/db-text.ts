/**
 * The `db-text` decoder: PaddleOCR's `DBPostProcess` (box_type 'quad') for Differentiable-Binarization text
 * detectors such as PP-OCRv4 det (`ch_PP-OCRv4_det_infer.onnx`: input `x` [N,3,H,W], output `sigmoid_0.tmp_0`
 * [N,1,H,W], already a probability map). Source: PaddlePaddle/PaddleOCR `ppocr/postprocess/db_postprocess.py`
 * (`boxes_from_bitmap`, `get_mini_boxes`, `box_score_fast`/`box_score_slow`, `unclip`); defaults are the
 * inference ones of `tools/infer/utility.py` (det_db_thresh 0.3, det_db_box_thresh 0.6, det_db_unclip_ratio 1.5,
 * det_db_score_mode fast, use_dilation false, det_limit_side_len 960, det_limit_type max; the class's own
 * defaults are box_thresh 0.7 and unclip_ratio 2.0). Pure.
 *
 * Per image: `bitmap = prob > thresh` (float32 comparison) → optional 2×2 dilation → every border
 * (findContours RETR_LIST, CHAIN_APPROX_SIMPLE: outer and hole borders, OpenCV's order) → the first
 * `maxCandidates` → per border: minimum-area rectangle, dropped if its short side < 3 → score (fast: mean
 * probability inside the rectangle as OpenCV fills it; slow: inside the border polygon), dropped if < boxThresh →
 * unclip (grow by d = area·ratio/perimeter on every side, see `unclipRect`), dropped if the short side < 5 → corners
 * snapped to PaddleOCR's integer source-image grid (round half to even, clipped to the image) → returned in
 * model-input pixels with `polygon` = the 4 corners [top-left, top-right, bottom-right, bottom-left] as
 * `get_mini_boxes` orders them, `box` = their bounds, `score` = the box score, `cls` 0.
 *
 * Known differences from PaddleOCR (measured against it in test/integration/detect/db-text-golden.test.ts on
 * the real PP-OCRv4 det maps: the same boxes in the same order, scores within 1e-7, 62 % of corner coordinates
 * exact, 37 % one pixel off, 1 % two): pyclipper offsets on an integer grid (corners truncated, then the offset
 * rounded), here the offset is exact (see `unclipRect`); geometry is float64 where OpenCV's `minAreaRect` and
 * `boxPoints` are float32, so a corner OpenCV puts at 4.9999998 is 5 here, which can move the scoring mask by a
 * pixel. Contour tracing and polygon filling are OpenCV's, pixel for pixel. PaddleOCR's
 * `filter_tag_det_res` (predict_det.py: clip to w−1, drop boxes ≤ 3 px) is not part of DBPostProcess and is not
 * applied, as in PaddleOCR's own evaluation (tools/eval.py feeds DBPostProcess output to the metric).
 */
import { z } from 'zod';
import { pointBounds, type Decoder, type Detection, type InputFrame, type Point, type RawOutput } from '../detection-types.js';
import { fillPolyMask } from '../fill-poly.js';
import { findContours } from '../find-contours.js';
import { minAreaRect, rectCorners, type RotatedRect } from '../min-area-rect.js';
import type { DetectionInputPreset } from '../preprocess.js';
import { EdgetuneError } from '../../util/errors.js';

const NAME = 'db-text';
/** `DBPostProcess.min_size`: candidates whose short side is below it are dropped (below it + 2 after unclip). */
const MIN_SIZE = 3;

/**
 * PP-OCR det preprocessing (tools/infer/predict_det.py `TextDetector`): the image as `cv2.imread` gives it (BGR),
 * `DetResizeForTest` (limit 960, 'max', sides rounded to multiples of 32), `NormalizeImage` with scale 1/255 and
 * the ImageNet mean/std lists in the order given, i.e. mean 0.485 / std 0.229 on the **B** plane (PaddleOCR
 * applies the RGB-ordered constants to BGR data), then CHW. scripts/lib/photo-datasets.ts feeds this model the same
 * way, and test/integration/detect/db-text-golden.test.ts reproduces PaddleOCR's boxes with it.
 */
export const DB_TEXT_INPUT_PRESET: DetectionInputPreset = {
  layout: 'nchw',
  channels: 'bgr',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  resize: 'limit-side',
  limitSideLen: 960,
  limitType: 'max',
  multipleOf: 32,
};

/** The raw config of the db-text decoder (zod schema, strict): DBPostProcess's options in camelCase plus the resize limit. */
export const dbTextConfigSchema = z.strictObject({
  /** Probability above which a pixel is text (det_db_thresh). */
  thresh: z.number().min(0).max(1).default(0.3),
  /** Minimum box score (det_db_box_thresh). */
  boxThresh: z.number().min(0).max(1).default(0.6),
  /** At most this many borders are scored (max_candidates). */
  maxCandidates: z.int().positive().default(1000),
  /** Unclip distance = area · ratio / perimeter (det_db_unclip_ratio). */
  unclipRatio: z.number().positive().default(1.5),
  /** Dilate the bitmap with a 2×2 kernel first (use_dilation). */
  useDilation: z.boolean().default(false),
  /** `fast`: mean inside the rectangle; `slow`: mean inside the border polygon (det_db_score_mode). */
  scoreMode: z.enum(['fast', 'slow']).default('fast'),
  /** DetResizeForTest limit_side_len (det_limit_side_len). */
  limitSideLen: z.number().positive().default(960),
  /** DetResizeForTest limit_type: `max` shrinks the longer side to the limit, `min` grows the shorter one. */
  limitType: z.enum(['max', 'min']).default('max'),
});

/** The db-text config as a caller writes it (JSON, camelCase keys). */
export type DbTextOptions = z.input<typeof dbTextConfigSchema>;
/** The db-text config with defaults applied. */
export type ResolvedDbTextConfig = z.output<typeof dbTextConfigSchema>;

/** A db-text decoder: the Decoder contract plus its resolved config and the input preset that goes with it. */
export interface DbTextDecoder extends Decoder {
  readonly config: ResolvedDbTextConfig;
  /** DB_TEXT_INPUT_PRESET with this config's limitSideLen and limitType. */
  readonly input: DetectionInputPreset;
}

/** Validate a raw db-text config (JSON) and build the decoder; throws EdgetuneError('USAGE') listing every problem. */
export function createDbTextDecoder(config: unknown): DbTextDecoder {
  const parsed = dbTextConfigSchema.safeParse(config ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${path ? `${path}.` : ''}${key}: unknown key`);
      return [`${path || '(top level)'}: ${issue.message}`];
    });
    throw new EdgetuneError('USAGE', `${NAME} config: ${problems.join('; ')}`);
  }
  const resolved = parsed.data;
  return {
    name: NAME,
    config: resolved,
    input: { ...DB_TEXT_INPUT_PRESET, limitSideLen: resolved.limitSideLen, limitType: resolved.limitType },
    checkOutputs: checkDbTextOutputs,
    decode: (outputs, frame) => decodeDbText(outputs, frame, resolved),
  };
}

function dimsText(dims: ReadonlyArray<number | null>): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

function checkDbTextOutputs(outputs: ReadonlyArray<{ name: string; dims: ReadonlyArray<number | null> }>): void {
  const expected = 'one probability map [N,1,H,W] (rank 4, 1 channel, batch 1)';
  if (outputs.length !== 1) {
    const got = outputs.length === 0 ? 'none' : outputs.map((o) => `'${o.name}' ${dimsText(o.dims)}`).join(', ');
    throw new EdgetuneError('USAGE', `${NAME}: expected ${expected}; the model has ${outputs.length} outputs: ${got}`);
  }
  const { name, dims } = outputs[0]!;
  const batchOk = dims[0] === null || dims[0] === 1;
  const channelOk = dims[1] === null || dims[1] === 1;
  if (dims.length !== 4 || !batchOk || !channelOk) {
    throw new EdgetuneError('USAGE', `${NAME}: expected ${expected}; output '${name}' is ${dimsText(dims)}`);
  }
}

/** Decode one probability map (DBPostProcess.boxes_from_bitmap) into text quads in model-input pixels. */
function decodeDbText(outputs: readonly RawOutput[], frame: InputFrame, config: ResolvedDbTextConfig): Detection[] {
  checkDbTextOutputs(outputs);
  const out = outputs[0]!;
  const [, , height, width] = out.dims as [number, number, number, number];
  if (out.dims.some((d) => !Number.isInteger(d) || d < 1) || out.dims[0] !== 1 || out.dims[1] !== 1 || out.values.length !== width * height) {
    throw new EdgetuneError(
      'USAGE',
      `${NAME}: output '${out.name}' must be [1,1,H,W] with H·W values; it is ${dimsText(out.dims)} with ${out.values.length} values`,
    );
  }
  const pred = out.values;
  // numpy compares the float32 map with the threshold as float32 (NEP 50: a Python float is a weak scalar).
  const thresh = Math.fround(config.thresh);
  let bitmap: Uint8Array = new Uint8Array(width * height);
  for (let i = 0; i < bitmap.length; i++) bitmap[i] = pred[i]! > thresh ? 1 : 0;
  if (config.useDilation) bitmap = dilate2x2(bitmap, width, height);

  const snap = sourceGridSnapper(frame, width, height);
  const contours = findContours(bitmap, width, height);
  const detections: Detection[] = [];
  const count = Math.min(contours.length, config.maxCandidates);
  for (let i = 0; i < count; i++) {
    const contour = contours[i]!;
    const rect = minAreaRect(contour);
    if (Math.min(rect.width, rect.height) < MIN_SIZE) continue;
    const score = config.scoreMode === 'fast' ? boxScoreFast(pred, width, height, miniBox(rect)) : boxScoreSlow(pred, width, height, contour);
    if (config.boxThresh > score) continue;
    const grown = unclipRect(rect, config.unclipRatio);
    if (Math.min(grown.width, grown.height) < MIN_SIZE + 2) continue;
    const polygon = miniBox(grown).map(snap);
    detections.push({ box: pointBounds(polygon), score, cls: 0, polygon });
  }
  return detections;
}

/** cv2.dilate with a 2×2 kernel of ones, anchor (1,1), constant border: out(x,y) = max of in(x−1..x, y−1..y). */
function dilate2x2(bitmap: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(bitmap.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      out[i] = bitmap[i]! | (x > 0 ? bitmap[i - 1]! : 0) | (y > 0 ? bitmap[i - width]! : 0) | (x > 0 && y > 0 ? bitmap[i - width - 1]! : 0);
    }
  }
  return out;
}

/**
 * A rectangle's corners in `get_mini_boxes` order: sort by x (stably); of the two leftmost, the upper is first and
 * the lower last; of the two rightmost, the upper is second and the lower third.
 */
export function miniBox(rect: RotatedRect): Point[] {
  const p = rectCorners(rect).sort((a, b) => a[0] - b[0]);
  const [topLeft, bottomLeft] = p[1]![1] > p[0]![1] ? [p[0]!, p[1]!] : [p[1]!, p[0]!];
  const [topRight, bottomRight] = p[3]![1] > p[2]![1] ? [p[2]!, p[3]!] : [p[3]!, p[2]!];
  return [topLeft, topRight, bottomRight, bottomLeft];
}

/**
 * PaddleOCR's `unclip` followed by `get_mini_boxes`, done directly: the rectangle grown by
 * d = area · ratio / perimeter on every side (same centre and direction, each side + 2d).
 *
 * Why that is what pyclipper + minAreaRect give. pyclipper offsets the rectangle R (w × h) with round joins by d:
 * the result is the Minkowski sum R ⊕ disc(d) (edges pushed out by d, corners rounded with radius d), up to its
 * polygonal arcs. Widths of convex sets add under Minkowski sums, and a disc has width 2d in every direction. A
 * rectangle enclosing R ⊕ disc(d) with sides at angle θ ∈ [0, π/2] to R's has area
 *   A(θ) = (w·cosθ + h·sinθ + 2d) · (w·sinθ + h·cosθ + 2d)
 *        = w·h + (w² + h²)·sinθ·cosθ + 2d·(w + h)·(sinθ + cosθ) + 4d²,
 * and on [0, π/2] sinθ·cosθ ≥ 0 and sinθ + cosθ ≥ 1, both with equality only at θ = 0 or π/2 (the same
 * rectangle). So A(θ) ≥ A(0) = (w + 2d)(h + 2d): the minimum-area rectangle is R grown by d on every side. ∎
 * pyclipper's arcs are polygons with vertices on the circle and its straight edges are exact, so the extent along
 * R's axes is the same; what differs is its integer grid (input truncated, output rounded half away from zero),
 * which moves a corner by up to about a pixel before PaddleOCR's final rounding.
 */
export function unclipRect(rect: RotatedRect, unclipRatio: number): RotatedRect {
  const area = rect.width * rect.height;
  const perimeter = 2 * (rect.width + rect.height);
  const d = (area * unclipRatio) / perimeter;
  return { center: rect.center, direction: rect.direction, width: rect.width + 2 * d, height: rect.height + 2 * d };
}

/**
 * `box_score_fast`: the mean of the map over the pixels `cv2.fillPoly` sets for the box (vertices truncated to
 * integers), within the box's bounding rectangle clipped to the map.
 */
function boxScoreFast(pred: Float32Array, width: number, height: number, box: readonly Point[]): number {
  const [x0, y0, x1, y1] = pointBounds(box);
  const xmin = clamp(Math.floor(x0), 0, width - 1);
  const xmax = clamp(Math.ceil(x1), 0, width - 1);
  const ymin = clamp(Math.floor(y0), 0, height - 1);
  const ymax = clamp(Math.ceil(y1), 0, height - 1);
  return maskedMean(pred, width, box, xmin, xmax, ymin, ymax);
}

/** `box_score_slow`: the mean of the map inside the border polygon itself. */
function boxScoreSlow(pred: Float32Array, width: number, height: number, contour: readonly Point[]): number {
  const [x0, y0, x1, y1] = pointBounds(contour);
  return maskedMean(pred, width, contour, clamp(x0, 0, width - 1), clamp(x1, 0, width - 1), clamp(y0, 0, height - 1), clamp(y1, 0, height - 1));
}

/** cv2.mean(pred[ymin:ymax+1, xmin:xmax+1], mask) with the polygon filled into the window's own mask; 0 if empty. */
function maskedMean(pred: Float32Array, width: number, polygon: readonly Point[], xmin: number, xmax: number, ymin: number, ymax: number): number {
  const w = xmax - xmin + 1;
  const h = ymax - ymin + 1;
  const mask = fillPolyMask(polygon.map(([x, y]): Point => [x - xmin, y - ymin]), w, h);
  let sum = 0;
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x] === 0) continue;
      sum += pred[(y + ymin) * width + x + xmin]!;
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

/**
 * Map-pixel corner → PaddleOCR's output grid → model-input pixels. PaddleOCR scales each corner to the source image
 * (x / mapWidth · srcWidth), rounds half to even and clips to [0, srcWidth]; here the frame says where the source
 * is, and the snapped point is expressed back in model-input pixels so that `toSourcePixels` gives PaddleOCR's
 * integers (up to float rounding).
 */
function sourceGridSnapper(frame: InputFrame, mapWidth: number, mapHeight: number): (p: Point) => Point {
  const kx = frame.inputWidth / mapWidth;
  const ky = frame.inputHeight / mapHeight;
  return ([x, y]) => {
    const sx = clamp(roundHalfEven((x * kx - frame.padX) / frame.scaleX), 0, frame.sourceWidth);
    const sy = clamp(roundHalfEven((y * ky - frame.padY) / frame.scaleY), 0, frame.sourceHeight);
    return [sx * frame.scaleX + frame.padX, sy * frame.scaleY + frame.padY];
  };
}


function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/** numpy's `np.round`: to the nearest integer, ties to the even one. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
