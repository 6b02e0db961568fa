/**
 * The decoder registry: the CLI's `--decoder` value → a decoder built from its raw JSON config, and the input
 * preprocessing that decoder's models expect. Pure.
 */
import type { Decoder } from '../detection-types.js';
import type { DetectionInputPreset } from '../preprocess.js';
import { EdgetuneError } from '../../util/errors.js';
import { createSsdAnchorsDecoder, SSD_ANCHORS_PRESETS } from './ssd-anchors.js';
import { createYoloDecoder, YOLO_INPUT_PRESET } from './yolo.js';
import { createDbTextDecoder, DB_TEXT_INPUT_PRESET } from './db-text.js';

/** The decoder names, as the CLI spells them. */
export const DECODER_NAMES = ['ssd-anchors', 'yolo', 'db-text'] as const;

/** A known decoder name. */
export type DecoderName = (typeof DECODER_NAMES)[number];

const FACTORIES: Record<DecoderName, (config: unknown) => Decoder> = {
  'ssd-anchors': createSsdAnchorsDecoder,
  yolo: createYoloDecoder,
  'db-text': createDbTextDecoder,
};

function known(name: string): DecoderName {
  if (!(DECODER_NAMES as readonly string[]).includes(name)) {
    throw new EdgetuneError('USAGE', `unknown decoder '${name}'; known: ${DECODER_NAMES.join(', ')}`);
  }
  return name as DecoderName;
}

/** A copy the caller may change without changing the built-in preset. */
function copyPreset(preset: DetectionInputPreset): DetectionInputPreset {
  return { ...preset, mean: [...preset.mean], std: [...preset.std] };
}

/** Create decoder `name` from its raw config; USAGE for an unknown name or a bad config. */
export function createDecoder(name: string, config: unknown): Decoder {
  return FACTORIES[known(name)](config);
}

/**
 * The preprocessing decoder `name`'s models expect: yolo and db-text have one; ssd-anchors has one per built-in
 * preset (`{ "preset": "blazeface-back-256" }`) and null for a custom config, whose preprocessing the caller must give.
 */
export function decoderInputPreset(name: string, config: unknown): DetectionInputPreset | null {
  const decoder = known(name);
  if (decoder === 'yolo') return copyPreset(YOLO_INPUT_PRESET);
  if (decoder === 'db-text') return copyPreset(DB_TEXT_INPUT_PRESET);
  const preset = config !== null && typeof config === 'object' ? (config as { preset?: unknown }).preset : undefined;
  if (typeof preset === 'string' && Object.hasOwn(SSD_ANCHORS_PRESETS, preset)) {
    return copyPreset(SSD_ANCHORS_PRESETS[preset as keyof typeof SSD_ANCHORS_PRESETS].inputPreset);
  }
  return null;
}
