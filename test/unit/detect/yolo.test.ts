import { describe, expect, it } from 'vitest';
import { identityFrame, type RawOutput } from '../../../src/detect/detection-types.js';
import { createYoloDecoder, resolveYoloConfig, yoloLayoutOf } from '../../../src/detect/decoders/yolo.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const FRAME = identityFrame(640, 640);

function usageError(fn: () => unknown): EdgetuneError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('USAGE');
    return error as EdgetuneError;
  }
  throw new Error('expected a USAGE error');
}

/** Boxes as rows [xc, yc, w, h, class probs…]; v5 adds objectness after h. */
interface Row {
  xywh: [number, number, number, number];
  objectness: number;
  classes: number[];
}

function v5Output(rows: Row[]): RawOutput {
  const c = rows[0]!.classes.length;
  const values = new Float32Array(rows.length * (5 + c));
  rows.forEach((r, i) => values.set([...r.xywh, r.objectness, ...r.classes], i * (5 + c)));
  return { name: 'output0', dims: [1, rows.length, 5 + c], values };
}

/** v8: channels first [1, 4+C, N]; the objectness is folded into the class scores. */
function v8Output(rows: Row[]): RawOutput {
  const c = rows[0]!.classes.length;
  const n = rows.length;
  const values = new Float32Array((4 + c) * n);
  rows.forEach((r, i) => [...r.xywh, ...r.classes.map((p) => p * r.objectness)].forEach((v, ch) => (values[ch * n + i] = v)));
  return { name: 'output0', dims: [1, 4 + c, n], values };
}

// Two overlapping cats (IoU 45²/(2·50² − 45²) = 2025/2975 ≈ 0.68: suppressed at 0.6, kept at 0.7), a dog, a faint box.
// So few boxes need numClasses to tell the layout ([1,4,7] has fewer boxes than channels).
const ROWS: Row[] = [
  { xywh: [100, 100, 50, 50], objectness: 0.9, classes: [0.1, 0.8] }, // cat 0.72
  { xywh: [105, 105, 50, 50], objectness: 0.8, classes: [0.2, 0.7] }, // cat 0.56
  { xywh: [300, 200, 40, 80], objectness: 0.5, classes: [0.9, 0.1] }, // dog 0.45
  { xywh: [500, 500, 10, 10], objectness: 0.0005, classes: [0.5, 0.5] }, // below 0.001
];

describe('yolo layouts', () => {
  it('tells v5 [1,N,5+C] from v8 [1,4+C,N] by shape, with or without numClasses', () => {
    expect(yoloLayoutOf({}, { name: 'o', dims: [1, 25200, 85] })).toEqual({ layout: 'v5', numBoxes: 25200, numClasses: 80 });
    expect(yoloLayoutOf({}, { name: 'o', dims: [1, 84, 8400] })).toEqual({ layout: 'v8', numBoxes: 8400, numClasses: 80 });
    expect(yoloLayoutOf({ numClasses: 80 }, { name: 'o', dims: [1, 25200, 85] }).layout).toBe('v5');
    expect(yoloLayoutOf({ numClasses: 80 }, { name: 'o', dims: [1, 84, 8400] }).layout).toBe('v8');
  });

  it('asks for layout when a shape fits both, and honours it', () => {
    const error = usageError(() => yoloLayoutOf({ numClasses: 2 }, { name: 'out', dims: [1, 6, 7] }));
    expect(error.message).toBe("yolo: output 'out' [1,6,7] fits both [1,N,7] (v5) or [1,6,N] (v8) for numClasses 2; set 'layout' to 'v5' or 'v8'");
    expect(yoloLayoutOf({ numClasses: 2, layout: 'v8' }, { name: 'out', dims: [1, 6, 7] })).toEqual({ layout: 'v8', numBoxes: 7, numClasses: 2 });
    expect(yoloLayoutOf({ numClasses: 2, layout: 'v5' }, { name: 'out', dims: [1, 6, 7] })).toEqual({ layout: 'v5', numBoxes: 6, numClasses: 2 });
  });

  it('says what it expected when the shape matches neither layout', () => {
    expect(usageError(() => yoloLayoutOf({ numClasses: 80 }, { name: 'output0', dims: [1, 25200, 86] })).message).toBe(
      "yolo: output 'output0' [1,25200,86]: expected [1,N,85] (v5) or [1,84,N] (v8) for numClasses 80",
    );
    expect(usageError(() => yoloLayoutOf({}, { name: 'logits', dims: [1, 1000] })).message).toContain('expected [1,N,5+C] (v5) or [1,4+C,N] (v8)');
    expect(usageError(() => yoloLayoutOf({ layout: 'v8', numClasses: 80 }, { name: 'o', dims: [1, 85, 8400] })).message).toContain('layout v8 expects [1,84,N]');
    expect(usageError(() => yoloLayoutOf({}, { name: 'o', dims: [1, null, 85] })).message).toContain('dynamic');
  });
});

describe('yolo decode', () => {
  it('v5: score = objectness · best class, threshold, per-class NMS at IoU 0.6 by default', () => {
    const out = createYoloDecoder({ numClasses: 2 }).decode([v5Output(ROWS)], FRAME);
    expect(out.map((d) => d.cls)).toEqual([1, 0]);
    expect(out[0]!.score).toBeCloseTo(0.72, 6);
    expect(out[0]!.box).toEqual([75, 75, 125, 125]);
    expect(out[1]!.score).toBeCloseTo(0.45, 6);
    expect(out[1]!.box).toEqual([280, 160, 320, 240]);
  });

  it('v8: the same boxes channels first give the same detections, and NMS IoU 0.7 keeps the second cat', () => {
    const v5 = createYoloDecoder({ numClasses: 2, iouThreshold: 0.7 }).decode([v5Output(ROWS)], FRAME);
    const v8 = createYoloDecoder({ numClasses: 2 }).decode([v8Output(ROWS)], FRAME);
    expect(v8).toHaveLength(3);
    expect(v8.map((d) => [d.cls, ...d.box])).toEqual(v5.map((d) => [d.cls, ...d.box]));
    v8.forEach((d, i) => expect(d.score).toBeCloseTo(v5[i]!.score, 6));
  });

  it('keeps every class above the threshold with multiLabel', () => {
    const rows: Row[] = [{ xywh: [100, 100, 20, 20], objectness: 1, classes: [0.6, 0.3, 0.0005] }];
    expect(createYoloDecoder({ numClasses: 3 }).decode([v8Output(rows)], FRAME).map((d) => d.cls)).toEqual([0]);
    const multi = createYoloDecoder({ numClasses: 3, multiLabel: true }).decode([v8Output(rows)], FRAME);
    expect(multi.map((d) => d.cls)).toEqual([0, 1]);
    expect(multi[1]!.score).toBeCloseTo(0.3, 6);
  });

  it('applies confThreshold (strictly above: float32 0.3 > 0.3) and maxDetections', () => {
    const rows: Row[] = Array.from({ length: 5 }, (_, i) => ({ xywh: [50 + 100 * i, 50, 20, 20], objectness: 1, classes: [0.1 * (i + 1)] }));
    expect(createYoloDecoder({ numClasses: 1, confThreshold: 0.35 }).decode([v8Output(rows)], FRAME)).toHaveLength(2);
    const top2 = createYoloDecoder({ numClasses: 1, maxDetections: 2 }).decode([v8Output(rows)], FRAME);
    expect(top2.map((d) => d.box[0])).toEqual([440, 340]);
  });

  it('scales normalised boxes (boxUnits) by the input size', () => {
    const rows: Row[] = [{ xywh: [0.5, 0.25, 0.1, 0.2], objectness: 1, classes: [0.9] }];
    const [d] = createYoloDecoder({ numClasses: 1, boxUnits: 'normalized' }).decode([v8Output(rows)], identityFrame(640, 320));
    [288, 48, 352, 112].forEach((v, i) => expect(d!.box[i]).toBeCloseTo(v, 4));
  });

  it('picks the named output among several, and asks for one when several are three-dimensional', () => {
    const main = v5Output(ROWS);
    const head = { name: '345', dims: [1, 3, 2, 2, 7], values: new Float32Array(84) };
    const other = { ...main, name: 'aux' };
    expect(createYoloDecoder({ numClasses: 2 }).decode([head, main], FRAME)).toHaveLength(2);
    expect(usageError(() => createYoloDecoder({ numClasses: 2 }).checkOutputs([main, other])).message).toContain("got 2 three-dimensional outputs; set 'output'");
    expect(createYoloDecoder({ numClasses: 2, output: 'aux' }).decode([main, other], FRAME)).toHaveLength(2);
    expect(usageError(() => createYoloDecoder({ output: 'detections' }).checkOutputs([main])).message).toBe(
      "yolo: output 'detections' not found; the model has 'output0' [1,4,7]",
    );
  });

  it('rejects a value count that does not match the dims', () => {
    const bad = { name: 'output0', dims: [1, 4, 7], values: new Float32Array(27) };
    expect(usageError(() => createYoloDecoder({ numClasses: 2 }).decode([bad], FRAME)).message).toBe('yolo: the output holds 27 values, expected 4 boxes × 7 = 28');
  });
});

describe('resolveYoloConfig', () => {
  it('fills the evaluation defaults', () => {
    expect(resolveYoloConfig(undefined)).toEqual({ confThreshold: 0.001, maxDetections: 300, maxCandidates: 30000, multiLabel: false, boxUnits: 'pixels' });
  });

  it('reports every unknown key and wrong type at once, as USAGE', () => {
    const error = usageError(() => resolveYoloConfig({ layout: 'v7', confThreshold: '0.25', iou: 0.5, maxDetections: 1.5 }));
    expect(error.message).toMatch(/^yolo config: /);
    for (const part of ['layout:', 'confThreshold:', 'maxDetections:', 'iou: unknown key']) expect(error.message).toContain(part);
  });
});
