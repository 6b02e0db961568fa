/**
 * The operator's side of a detector job (`push --task detection`, issue 14): the decoder config and the labels are
 * read from their files here and travel inline in the job's `options.detection`, and a folder of photographs given
 * as `--data` is fitted to the model by the decoder's preset and written as ONNX test-data sets (each with its
 * `meta.json`) before it is bundled, so that a device only ever receives the test-data layout. Every check that can
 * be made here is made before anything is sent (bad input: USAGE / DATASET_INVALID / MODEL_INVALID, exit 2).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDetectionTask, type DetectionTask } from '../detect/detection-task.js';
import { prepareDetectionData } from '../detect/image-dataset.js';
import { isImageFolder } from '../detect/image-folder.js';
import type { DetectionTaskFiles } from '../detect/load-detection-task.js';
import { loadModelFile } from '../onnx/model-file.js';
import type { JobAction } from '../transport/messages.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** Job actions that take `options.detection`. */
export const DETECTION_ACTIONS: readonly JobAction[] = ['deploy', 'compress', 'tune', 'eval'];

/** `options.detection` of a job: the task with its JSON inline. */
export interface JobDetectionOption {
  decoder: string;
  decoderConfig?: unknown;
  labels?: unknown;
  refConf?: number;
}

/** Where the task's JSON came from (the files `push` read), for messages; absent for JSON given inline. */
export interface DetectionSources {
  decoderConfig?: string;
  labels?: string;
}

function readJsonFile(path: string, flag: string, code: 'USAGE' | 'DATASET_INVALID'): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new EdgetuneError(code, `push: ${flag} ${path} cannot be read: ${messageOf(error)}; nothing was sent`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new EdgetuneError(code, `push: ${flag} ${path} is not valid JSON: ${messageOf(error)}; nothing was sent`, { cause: error });
  }
}

/**
 * The job option of a `push --task detection` (files read, JSON inline) and where its parts came from; USAGE
 * naming the flag for an action that takes no detector task or a file that cannot be read or parsed.
 */
export function detectionJobOption(action: JobAction, files: DetectionTaskFiles): { option: JobDetectionOption; sources: DetectionSources } {
  if (!DETECTION_ACTIONS.includes(action)) {
    throw new EdgetuneError('USAGE', `push: --task detection applies to ${DETECTION_ACTIONS.join(', ')}, not to ${action}`);
  }
  const option: JobDetectionOption = { decoder: files.decoder };
  const sources: DetectionSources = {};
  if (files.decoderConfigPath !== undefined) {
    option.decoderConfig = readJsonFile(files.decoderConfigPath, '--decoder-config', 'USAGE');
    sources.decoderConfig = `--decoder-config ${files.decoderConfigPath}`;
  } else if (files.decoderConfig !== undefined) option.decoderConfig = files.decoderConfig;
  if (files.labelsPath !== undefined) {
    option.labels = readJsonFile(files.labelsPath, '--labels', 'DATASET_INVALID');
    sources.labels = `--labels ${files.labelsPath}`;
  } else if (files.labels !== undefined) option.labels = files.labels;
  if (files.refConf !== undefined) option.refConf = files.refConf;
  return { option, sources };
}

/** Resolve the job's detector task as the device will (unknown decoder, bad config, bad labels: bad input, naming the source). */
export function resolveJobDetection(option: JobDetectionOption, sources: DetectionSources = {}): DetectionTask {
  try {
    return resolveDetectionTask({
      decoder: option.decoder,
      ...(option.decoderConfig !== undefined ? { decoderConfig: option.decoderConfig, decoderConfigSource: sources.decoderConfig ?? 'options.detection.decoderConfig' } : {}),
      ...(option.labels !== undefined ? { labels: option.labels, labelsSource: sources.labels ?? 'options.detection.labels' } : {}),
      ...(option.refConf !== undefined ? { refConf: option.refConf } : {}),
    });
  } catch (error) {
    if (error instanceof EdgetuneError) throw new EdgetuneError(error.code, `push: ${error.message}; nothing was sent`, { cause: error });
    throw error;
  }
}

/** Caller input for {@link preparePushData}. */
export interface PushDataOptions {
  /** `--data`: the ONNX test-data layout, or (with a task) a folder of JPEG/PNG images. */
  dataDir: string;
  /** MODEL, when the job sends one: images are fitted to its input, and the decoder checked against its outputs. */
  modelPath?: string | undefined;
  /** The resolved detector task, or null for any other model. */
  task: DetectionTask | null;
  /** Where the temporary directory of converted images goes (default: the OS's temporary directory). */
  tempRoot?: string;
}

/** The data directory a push bundles, and how to remove what was converted for it. */
export interface PushData {
  /** The ONNX test-data layout: the given directory, or the images converted into a temporary one. */
  dataDir: string;
  /** Converted from a folder of images (then `images` of them). */
  fromImages: boolean;
  images: number | null;
  /** Remove the temporary directory (nothing for a directory given in the test-data layout). */
  cleanup(): void;
}

/**
 * The data of a push, ready to bundle. A folder of images needs a detector task (USAGE otherwise: a classifier's
 * data is the test-data layout) and MODEL, whose input the decoder's preset fits the images to; they are written
 * into a temporary directory that `cleanup` removes. With a task and MODEL the decoder must fit the model's
 * outputs, and labels must name only images that are in the data (DATASET_INVALID naming them).
 */
export function preparePushData(o: PushDataOptions): PushData {
  const images = isImageFolder(o.dataDir);
  if (!o.task) {
    if (images) {
      throw new EdgetuneError(
        'USAGE',
        `push: --data ${o.dataDir} is a folder of images; images are a detector's data and need --task detection --decoder NAME (its preset fits them to the model's input), other models take the ONNX test-data layout; nothing was sent`,
      );
    }
    return { dataDir: o.dataDir, fromImages: false, images: null, cleanup: () => undefined };
  }
  if (!o.modelPath) {
    if (images) throw new EdgetuneError('USAGE', `push: --data ${o.dataDir} is a folder of images: converting it needs MODEL (the images are fitted to its input); nothing was sent`);
    return { dataDir: o.dataDir, fromImages: false, images: null, cleanup: () => undefined };
  }
  const model = loadModelFile(o.modelPath).model;
  const outputs = model.graph.outputs.map((v) => ({ name: v.name, dims: (v.type?.shape ?? []).map((d) => (typeof d === 'number' ? d : null)) }));
  try {
    o.task.decoder.checkOutputs(outputs);
  } catch (error) {
    if (error instanceof EdgetuneError) throw new EdgetuneError(error.code, `push: MODEL ${o.modelPath}: ${error.message}; nothing was sent`, { cause: error });
    throw error;
  }
  if (images && o.tempRoot) mkdirSync(o.tempRoot, { recursive: true });
  const root = images ? mkdtempSync(join(o.tempRoot ?? tmpdir(), 'edgetune-push-images-')) : null;
  const removeRoot = (): void => {
    if (root) rmSync(root, { recursive: true, force: true });
  };
  try {
    // The test-data layout is read where it is (no work directory is created for it).
    const prepared = prepareDetectionData({ dataDir: o.dataDir, model, preset: o.task.preset, workDir: join(root ?? o.dataDir, 'sets'), labels: o.task.labels });
    return {
      dataDir: prepared.dataDir,
      fromImages: prepared.fromImages,
      images: prepared.fromImages ? prepared.fileNames.length : null,
      cleanup: () => {
        prepared.cleanup();
        removeRoot();
      },
    };
  } catch (error) {
    removeRoot();
    if (error instanceof EdgetuneError) throw new EdgetuneError(error.code, `push: ${error.message}; nothing was sent`, { cause: error });
    throw error;
  }
}
