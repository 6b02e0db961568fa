/**
 * `--task detection --decoder NAME [--decoder-config F.json] [--labels coco.json] [--ref-conf τ]` resolved into what
 * an evaluation needs: the decoder, the input preprocessing, the labels and the figure to judge by. Pure (the
 * caller reads the JSON files).
 */
import { z } from 'zod';
import { EdgetuneError } from '../util/errors.js';
import { parseCocoLabels, type CocoLabels } from './coco-eval.js';
import type { Decoder } from './detection-types.js';
import type { DetectionMetricName } from './detection-metrics.js';
import { createDecoder, decoderInputPreset } from './decoders/index.js';
import type { DetectionInputPreset } from './preprocess.js';

/** The task options as given (JSON already parsed). */
export interface DetectionTaskOptions {
  decoder: string;
  /** The decoder config JSON; besides the decoder's own keys: `input` (preprocessing) and `categoryIds`. */
  decoderConfig?: unknown;
  /** Where the config came from, for messages. */
  decoderConfigSource?: string;
  labels?: unknown;
  labelsSource?: string;
  /** Operating threshold for agreement and the reference's pseudo ground truth (default: the decoder's). */
  refConf?: number;
}

/** A resolved detection task. */
export interface DetectionTask {
  decoderName: string;
  decoder: Decoder;
  preset: DetectionInputPreset;
  labels: CocoLabels | null;
  metric: DetectionMetricName;
  refConf: number;
  categoryIdOfClass: number[] | null;
}

/** Default operating thresholds per decoder (MediaPipe BlazeFace 0.5, Ultralytics predict 0.25, PaddleOCR box 0.6). */
const DEFAULT_REF_CONF: Record<string, number> = { 'ssd-anchors': 0.5, yolo: 0.25, 'db-text': 0.6 };

const presetSchema = z.strictObject({
  layout: z.enum(['nhwc', 'nchw']),
  channels: z.enum(['rgb', 'bgr']),
  scale: z.number().positive(),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  resize: z.enum(['letterbox', 'stretch', 'limit-side']),
  padValue: z.number().min(0).max(255).optional(),
  limitSideLen: z.number().int().positive().optional(),
  limitType: z.enum(['max', 'min']).optional(),
  multipleOf: z.number().int().positive().optional(),
});

/** Resolve the task; USAGE naming the option for anything that does not fit. */
export function resolveDetectionTask(options: DetectionTaskOptions): DetectionTask {
  const source = options.decoderConfigSource ?? '--decoder-config';
  const raw = options.decoderConfig ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new EdgetuneError('USAGE', `${source}: a decoder config is a JSON object`);
  const { input, categoryIds, ...decoderConfig } = raw as Record<string, unknown>;
  const decoder = createDecoder(options.decoder, decoderConfig);
  let preset = decoderInputPreset(options.decoder, decoderConfig);
  if (input !== undefined) {
    const parsed = presetSchema.safeParse(input);
    if (!parsed.success) {
      throw new EdgetuneError('USAGE', `${source}: "input" (preprocessing): ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`);
    }
    preset = parsed.data;
  }
  if (!preset) {
    throw new EdgetuneError(
      'USAGE',
      `${source}: decoder '${options.decoder}' has no built-in preprocessing for this config; add "input": { "layout": "nhwc"|"nchw", "channels": "rgb"|"bgr", "scale": 0.00392, "mean": [0,0,0], "std": [1,1,1], "resize": "letterbox"|"stretch"|"limit-side" } or use a "preset"`,
    );
  }
  let categoryIdOfClass: number[] | null = null;
  if (categoryIds !== undefined) {
    const parsed = z.array(z.number().int()).min(1).safeParse(categoryIds);
    if (!parsed.success) throw new EdgetuneError('USAGE', `${source}: "categoryIds" must be a non-empty list of integers (the COCO category id of each decoder class, in class order)`);
    categoryIdOfClass = parsed.data;
  }
  let labels: CocoLabels | null = null;
  if (options.labels !== undefined) {
    try {
      labels = parseCocoLabels(options.labels);
    } catch (error) {
      if (error instanceof EdgetuneError) throw new EdgetuneError(error.code, `${options.labelsSource ?? '--labels'}: ${error.message}`, { cause: error });
      throw error;
    }
    if (categoryIdOfClass) {
      const known = new Set(labels.categories.map((c) => c.id));
      const missing = categoryIdOfClass.filter((id) => !known.has(id));
      if (missing.length > 0) throw new EdgetuneError('USAGE', `${source}: categoryIds ${missing.join(', ')} are not categories of the labels (${[...known].join(', ')})`);
    }
  }
  const refConf = options.refConf ?? DEFAULT_REF_CONF[options.decoder] ?? 0.5;
  if (!(refConf >= 0 && refConf <= 1)) throw new EdgetuneError('USAGE', `--ref-conf must be in [0, 1]; got ${options.refConf}`);
  return {
    decoderName: options.decoder,
    decoder,
    preset,
    labels,
    metric: options.decoder === 'db-text' ? 'hmean' : 'map5095',
    refConf,
    categoryIdOfClass,
  };
}
