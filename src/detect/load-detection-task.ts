/**
 * Read the JSON files a detection task names (`--decoder-config`, `--labels`) and resolve the task. Adapter: the
 * only part of detection setup that touches the disk.
 */
import { readFileSync } from 'node:fs';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { resolveDetectionTask, type DetectionTask } from './detection-task.js';

/**
 * The task as the command line gives it (a decoder name and file paths) or as a job carries it (the same JSON
 * inline: `decoderConfig`, `labels`). A path and its inline form are not given together.
 */
export interface DetectionTaskFiles {
  decoder: string;
  decoderConfigPath?: string;
  decoderConfig?: unknown;
  labelsPath?: string;
  labels?: unknown;
  refConf?: number;
}

/** Read and resolve a detection task; USAGE (config) or DATASET_INVALID (labels) naming the file on a bad one. */
export function loadDetectionTask(files: DetectionTaskFiles): DetectionTask {
  return resolveDetectionTask({
    decoder: files.decoder,
    ...(files.decoderConfigPath !== undefined
      ? { decoderConfig: readJson(files.decoderConfigPath, 'USAGE', '--decoder-config'), decoderConfigSource: files.decoderConfigPath }
      : files.decoderConfig !== undefined
        ? { decoderConfig: files.decoderConfig, decoderConfigSource: 'decoderConfig' }
        : {}),
    ...(files.labelsPath !== undefined
      ? { labels: readJson(files.labelsPath, 'DATASET_INVALID', '--labels'), labelsSource: files.labelsPath }
      : files.labels !== undefined
        ? { labels: files.labels, labelsSource: 'labels' }
        : {}),
    ...(files.refConf !== undefined ? { refConf: files.refConf } : {}),
  });
}

function readJson(path: string, code: 'USAGE' | 'DATASET_INVALID', option: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new EdgetuneError(code, `${option} ${path}: cannot read it (${messageOf(error)})`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new EdgetuneError(code, `${option} ${path}: not valid JSON (${messageOf(error)})`, { cause: error });
  }
}
