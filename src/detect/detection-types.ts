/**
 * The shared vocabulary of detector evaluation: what a decoder returns, what it reads, and how an image was
 * fitted into the model's input. Pure types; every module in src/detect speaks them.
 */

/** A box as `[x1, y1, x2, y2]` (corners, x1 ≤ x2, y1 ≤ y2). */
export type Box = [number, number, number, number];

/** A point as `[x, y]`. */
export type Point = [number, number];

/**
 * One detection. Coordinates are in **model-input pixels** when a decoder returns it (x in [0, input width]),
 * and in source-image pixels after `toSourcePixels` (the frame's letterbox undone).
 */
export interface Detection {
  box: Box;
  /** Confidence in [0, 1]. */
  score: number;
  /** Class index, 0-based, in the decoder's class order. */
  cls: number;
  /** Landmarks (BlazeFace's six), same coordinates as `box`. */
  keypoints?: Point[];
  /** A text region's quadrilateral or polygon (db-text), same coordinates as `box`. */
  polygon?: Point[];
}

/** One raw model output as a decoder reads it. */
export interface RawOutput {
  name: string;
  dims: readonly number[];
  values: Float32Array;
}

/**
 * How a source image was fitted into the model input: `inputX = sourceX · scaleX + padX` (likewise y).
 * Stretch: scaleX ≠ scaleY, no padding; letterbox: one scale, padding on both sides.
 */
export interface InputFrame {
  /** Model input size in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** Source image size in pixels (equal to the input for preprocessed tensors). */
  sourceWidth: number;
  sourceHeight: number;
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

/** A decoder: raw outputs of one image (batch of 1) → detections in model-input pixels. Pure. */
export interface Decoder {
  /** The CLI value (`ssd-anchors`, `yolo`, `db-text`). */
  readonly name: string;
  /**
   * Check the model's output names and shapes before anything runs; throws EdgetuneError('USAGE') saying
   * what the decoder expected and what it got. Dims may hold null for dynamic axes.
   */
  checkOutputs(outputs: ReadonlyArray<{ name: string; dims: ReadonlyArray<number | null> }>): void;
  decode(outputs: readonly RawOutput[], frame: InputFrame): Detection[];
  /**
   * The outputs whose raw values the decoder passes through a sigmoid (SSD score logits), for refits that must be
   * judged after the sigmoid (detector head distillation); absent or empty when none.
   */
  sigmoidOutputs?(outputs: ReadonlyArray<{ name: string; dims: ReadonlyArray<number | null> }>): string[];
}

/** Ground truth of one image (COCO conventions: category ids, crowd flag, area). */
export interface GroundTruthBox {
  id: number;
  box: Box;
  categoryId: number;
  area: number;
  iscrowd: boolean;
  /** Text regions: the labelled polygon (hmean); `iscrowd` marks don't-care text (`###`). */
  polygon?: Point[];
}

/** Map a detection from model-input pixels to source-image pixels (undo the frame's resize and padding). */
export function toSourcePixels(detection: Detection, frame: InputFrame): Detection {
  const x = (v: number): number => (v - frame.padX) / frame.scaleX;
  const y = (v: number): number => (v - frame.padY) / frame.scaleY;
  const point = (p: Point): Point => [x(p[0]), y(p[1])];
  const [x1, y1, x2, y2] = detection.box;
  return {
    ...detection,
    box: [x(x1), y(y1), x(x2), y(y2)],
    ...(detection.keypoints ? { keypoints: detection.keypoints.map(point) } : {}),
    ...(detection.polygon ? { polygon: detection.polygon.map(point) } : {}),
  };
}

/** The identity frame of an input that is already a tensor of the model's size. */
export function identityFrame(width: number, height: number): InputFrame {
  return { inputWidth: width, inputHeight: height, sourceWidth: width, sourceHeight: height, scaleX: 1, scaleY: 1, padX: 0, padY: 0 };
}

/** Axis-aligned bounds `[xmin, ymin, xmax, ymax]` of a non-empty point list. */
export function pointBounds(points: readonly Point[]): Box {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of points) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}
