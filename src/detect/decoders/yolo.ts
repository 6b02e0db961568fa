/**
 * The `yolo` decoder: Ultralytics exports with boxes already decoded in the graph.
 * YOLOv5 (`ultralytics/yolov5` models/yolo.py Detect, export): `[1, N, 5+C]` rows of centre x, y, w, h (input
 * pixels), objectness, class probabilities; score = objectness · class probability.
 * YOLOv8/11 (`ultralytics/ultralytics` nn/modules/head.py Detect): `[1, 4+C, N]` channels first, no objectness.
 * Post-processing as Ultralytics' `non_max_suppression`: score > confThreshold, at most maxCandidates by score,
 * per-class hard NMS, maxDetections. Pure.
 */
import { z } from 'zod';
import type { Decoder, Detection, InputFrame, RawOutput } from '../detection-types.js';
import { hardNms } from '../nms.js';
import { EdgetuneError } from '../../util/errors.js';
import { dimsText, outputsText, parseDecoderConfig } from './decoder-config.js';
import type { DetectionInputPreset } from '../preprocess.js';

/** The raw config of the yolo decoder (zod schema, strict). */
export const yoloConfigSchema = z.strictObject({
  /** `v5`: [1, N, 5+C]; `v8`: [1, 4+C, N]; absent: told from the shape. */
  layout: z.enum(['v5', 'v8']).optional(),
  /** Number of classes; absent: from the shape (then the layout comes from which axis is shorter). */
  numClasses: z.int().positive().optional(),
  /** Name of the output to read; absent: the only three-dimensional output. */
  output: z.string().min(1).optional(),
  /** Keep scores above this (Ultralytics val: 0.001; predict: 0.25). */
  confThreshold: z.number().min(0).max(1).default(0.001),
  /** Per-class NMS IoU; absent: 0.7 for v8 (Ultralytics default.yaml), 0.6 for v5 (yolov5 val.py). */
  iouThreshold: z.number().min(0).max(1).optional(),
  maxDetections: z.int().nonnegative().default(300),
  /** Boxes kept for NMS, by score (Ultralytics `max_nms`). */
  maxCandidates: z.int().positive().default(30000),
  /** One detection per class above the threshold (Ultralytics val), instead of the best class only. */
  multiLabel: z.boolean().default(false),
  /** `normalized`: boxes in 0–1 of the input (TFLite-style exports), scaled to pixels here. */
  boxUnits: z.enum(['pixels', 'normalized']).default('pixels'),
});

/** The yolo config as a caller writes it. */
export type YoloOptions = z.input<typeof yoloConfigSchema>;
/** The yolo config with defaults applied. */
export type ResolvedYoloConfig = z.output<typeof yoloConfigSchema>;

/** Ultralytics preprocessing: letterbox padded with grey 114, RGB, /255, NCHW. */
export const YOLO_INPUT_PRESET: DetectionInputPreset = {
  layout: 'nchw',
  channels: 'rgb',
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  resize: 'letterbox',
  padValue: 114,
};

/** Validate a raw yolo config; USAGE lists every problem. */
export function resolveYoloConfig(config: unknown): ResolvedYoloConfig {
  return parseDecoderConfig('yolo', yoloConfigSchema, config);
}

interface OutputShape {
  name: string;
  dims: ReadonlyArray<number | null>;
}

/** How one output is read: layout, box count, class count. */
export interface YoloLayout {
  layout: 'v5' | 'v8';
  numBoxes: number;
  numClasses: number;
}

function pickOutput<T extends OutputShape>(c: ResolvedYoloConfig, outputs: readonly T[]): T {
  if (c.output !== undefined) {
    const named = outputs.find((o) => o.name === c.output);
    if (!named) throw new EdgetuneError('USAGE', `yolo: output '${c.output}' not found; the model has ${outputsText(outputs)}`);
    return named;
  }
  const threeD = outputs.filter((o) => o.dims.length === 3);
  if (threeD.length !== 1) {
    throw new EdgetuneError('USAGE', `yolo: expected one output [1,N,5+C] (v5) or [1,4+C,N] (v8), got ${threeD.length} three-dimensional outputs; set 'output' to the one to read. The model has ${outputsText(outputs)}`);
  }
  return threeD[0]!;
}

/**
 * The layout of a `[1, a, b]` output: with `numClasses`, v5 when b = 5+C and v8 when a = 4+C; without it, the
 * shorter axis holds the channels (v8 if it is the middle one). Throws USAGE when the shape fits neither, or both
 * and no `layout` is set.
 */
export function yoloLayoutOf(c: Pick<ResolvedYoloConfig, 'layout' | 'numClasses'>, output: OutputShape): YoloLayout {
  const { dims, name } = output;
  const shape = `yolo: output '${name}' ${dimsText(dims)}`;
  const [batch, a, b] = dims;
  if (dims.length !== 3 || (batch !== 1 && batch !== null)) {
    throw new EdgetuneError('USAGE', `${shape}: expected [1,N,5+C] (v5) or [1,4+C,N] (v8) for one image`);
  }
  if (a === null || b === null || a === undefined || b === undefined) {
    throw new EdgetuneError('USAGE', `${shape}: dynamic box or channel axis; cannot check the layout before it runs`);
  }
  const C = c.numClasses;
  const fitsV5 = C === undefined ? b < a && b > 5 : b === 5 + C;
  const fitsV8 = C === undefined ? a < b && a > 4 : a === 4 + C;
  const want = C === undefined ? '[1,N,5+C] (v5) or [1,4+C,N] (v8)' : `[1,N,${5 + C}] (v5) or [1,${4 + C},N] (v8) for numClasses ${C}`;
  let layout = c.layout;
  if (layout === undefined) {
    if (fitsV5 && fitsV8) throw new EdgetuneError('USAGE', `${shape} fits both ${want}; set 'layout' to 'v5' or 'v8'`);
    if (!fitsV5 && !fitsV8) throw new EdgetuneError('USAGE', `${shape}: expected ${want}`);
    layout = fitsV5 ? 'v5' : 'v8';
  }
  if (layout === 'v5') {
    if (b <= 5 || (C !== undefined && b !== 5 + C)) throw new EdgetuneError('USAGE', `${shape}: layout v5 expects [1,N,${C === undefined ? '5+C' : 5 + C}]`);
    return { layout, numBoxes: a, numClasses: b - 5 };
  }
  if (a <= 4 || (C !== undefined && a !== 4 + C)) throw new EdgetuneError('USAGE', `${shape}: layout v8 expects [1,${C === undefined ? '4+C' : 4 + C},N]`);
  return { layout, numBoxes: b, numClasses: a - 4 };
}

/** Decode one YOLO output (one image) into scored, class-labelled candidates in model-input pixels, before NMS. */
export function decodeYoloCandidates(c: ResolvedYoloConfig, l: YoloLayout, values: Float32Array, frame: InputFrame): Detection[] {
  const rowLength = l.numClasses + (l.layout === 'v5' ? 5 : 4);
  if (values.length !== l.numBoxes * rowLength) {
    throw new EdgetuneError('USAGE', `yolo: the output holds ${values.length} values, expected ${l.numBoxes} boxes × ${rowLength} = ${l.numBoxes * rowLength}`);
  }
  // v5: row-major [N, 5+C]; v8: channels first [4+C, N].
  const at = l.layout === 'v5' ? (box: number, ch: number) => values[box * rowLength + ch]! : (box: number, ch: number) => values[ch * l.numBoxes + box]!;
  const firstClass = l.layout === 'v5' ? 5 : 4;
  const sx = c.boxUnits === 'normalized' ? frame.inputWidth : 1;
  const sy = c.boxUnits === 'normalized' ? frame.inputHeight : 1;
  const out: Detection[] = [];
  const push = (i: number, cls: number, score: number): void => {
    const xc = at(i, 0) * sx;
    const yc = at(i, 1) * sy;
    const w = at(i, 2) * sx;
    const h = at(i, 3) * sy;
    out.push({ box: [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], score, cls });
  };
  for (let i = 0; i < l.numBoxes; i++) {
    const objectness = l.layout === 'v5' ? at(i, 4) : 1;
    // yolov5 general.py: candidates need objectness > conf before the class product.
    if (l.layout === 'v5' && !(objectness > c.confThreshold)) continue;
    if (c.multiLabel) {
      for (let k = 0; k < l.numClasses; k++) {
        const score = objectness * at(i, firstClass + k);
        if (score > c.confThreshold) push(i, k, score);
      }
      continue;
    }
    let best = -Infinity;
    let cls = -1;
    for (let k = 0; k < l.numClasses; k++) {
      const p = at(i, firstClass + k);
      if (p > best) {
        best = p;
        cls = k;
      }
    }
    const score = objectness * best;
    if (score > c.confThreshold) push(i, cls, score);
  }
  return out;
}

/** Create the yolo decoder from a raw config (validated; USAGE lists every problem). */
export function createYoloDecoder(config: unknown): Decoder {
  const c = resolveYoloConfig(config);
  return {
    name: 'yolo',
    checkOutputs(outputs) {
      yoloLayoutOf(c, pickOutput(c, outputs));
    },
    decode(outputs: readonly RawOutput[], frame: InputFrame): Detection[] {
      const output = pickOutput(c, outputs);
      const layout = yoloLayoutOf(c, output);
      let candidates = decodeYoloCandidates(c, layout, output.values, frame);
      if (candidates.length > c.maxCandidates) {
        candidates = candidates
          .map((d, i) => ({ d, i }))
          .sort((p, q) => q.d.score - p.d.score || p.i - q.i)
          .slice(0, c.maxCandidates)
          .map((p) => p.d);
      }
      const iouThreshold = c.iouThreshold ?? (layout.layout === 'v8' ? 0.7 : 0.6);
      return hardNms(candidates, { iouThreshold, maxDetections: c.maxDetections, perClass: true });
    },
  };
}
