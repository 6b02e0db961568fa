/**
 * A folder of photographs as detector data: each image fitted into the model's input by the decoder's preset and
 * written as one set of the ONNX test-data layout, with `meta.json` = `{ detection: { fileName, frame } }` so that
 * detections can be mapped back to the photo's pixels and matched with labels by file name. Every command that
 * takes `--data` (calibration, validation splits, eval) then reads the same sets. Adapter (writes the disk).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeDataset, type DatasetSetToWrite } from '../compress/dataset-writer.js';
import { openDataset, realInputs, type DataBatch } from '../compress/dataset.js';
import type { CocoLabels } from './coco-eval.js';
import type { OnnxModel } from '../onnx/ir.js';
import { EdgetuneError } from '../util/errors.js';
import { identityFrame, type InputFrame } from './detection-types.js';
import { isImageFolder, openImageFolder } from './image-folder.js';
import { detectionInputTensor, fitImage, type DetectionInputPreset, type ModelInputSize } from './preprocess.js';

/** What a set of detector data says about its image: the source file and how it was fitted into the input. */
export interface ImageSetMeta {
  fileName: string;
  frame: InputFrame;
}

/** Caller input for {@link writeImageDataset}. */
export interface ImageDatasetOptions {
  imageDir: string;
  /** Created; must be absent or empty. */
  outDir: string;
  model: OnnxModel;
  preset: DetectionInputPreset;
}

/** The spatial size of the model's image input under the preset's layout (null for dynamic axes). */
export function modelImageSize(model: OnnxModel, preset: DetectionInputPreset): ModelInputSize & { inputName: string } {
  const inputs = realInputs(model);
  if (inputs.length !== 1) {
    throw new EdgetuneError('USAGE', `a detector fed from images must have one input; this model has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  }
  const input = inputs[0]!;
  const shape = input.type?.shape ?? null;
  if (shape && shape.length !== 4) {
    throw new EdgetuneError('USAGE', `input '${input.name}' has rank ${shape.length}; an image input is [N, C, H, W] or [N, H, W, C]`);
  }
  const dim = (axis: number): number | null => {
    const d = shape?.[axis];
    return typeof d === 'number' && d > 0 ? d : null;
  };
  const channelAxis = preset.layout === 'nchw' ? 1 : 3;
  const channels = dim(channelAxis);
  if (channels !== null && channels !== 3) {
    throw new EdgetuneError(
      'USAGE',
      `input '${input.name}' [${shape!.map((d) => d ?? '?').join(',')}] has ${channels} channels on axis ${channelAxis}; the decoder's preset feeds 3 (${preset.layout.toUpperCase()}) — wrong decoder, or a preset layout that does not fit this model`,
    );
  }
  return preset.layout === 'nchw' ? { inputName: input.name, height: dim(2), width: dim(3) } : { inputName: input.name, height: dim(1), width: dim(2) };
}

/** Write every image of `imageDir` as one set (batch 1) under `outDir`. Returns the number of images. */
export function writeImageDataset(options: ImageDatasetOptions): number {
  const folder = openImageFolder(options.imageDir);
  const size = modelImageSize(options.model, options.preset);
  function* sets(): Generator<DatasetSetToWrite> {
    for (let i = 0; i < folder.fileNames.length; i++) {
      const { fileName, image } = folder.load(i);
      const fitted = fitImage(image, options.preset, size);
      const meta: ImageSetMeta = { fileName, frame: fitted.frame };
      yield { inputs: [detectionInputTensor(size.inputName, fitted.image, options.preset)], meta: { detection: meta } };
    }
  }
  return writeDataset(options.outDir, sets());
}

/**
 * The image behind one sample of a set: its meta.json (written by {@link writeImageDataset}), or — for data in the
 * ONNX test-data layout that someone preprocessed — the set's name (`#row` for a batch) and the identity frame of
 * the input tensor (labels are then in input pixels).
 */
export function imageOfSample(batch: DataBatch, row: number, layout: 'nchw' | 'nhwc'): ImageSetMeta {
  const meta = batch.meta?.detection as Partial<ImageSetMeta> | undefined;
  if (meta && typeof meta.fileName === 'string' && meta.frame && batch.batchSize === 1) return { fileName: meta.fileName, frame: meta.frame };
  const dims = batch.inputs[0]?.dims ?? [];
  const [height, width] = layout === 'nchw' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  if (height === undefined || width === undefined) {
    throw new EdgetuneError('DATASET_INVALID', `${batch.set}: input_0.pb has shape [${dims.join(',')}]; a detector's image input is rank 4`);
  }
  return { fileName: batch.batchSize === 1 ? batch.set : `${batch.set}#${row}`, frame: identityFrame(width, height) };
}

/** Detector data ready for the ONNX test-data readers: the given directory, or images converted into a temporary one. */
export interface PreparedDetectionData {
  dataDir: string;
  /** Converted from an image folder (then `images` files). */
  fromImages: boolean;
  /** File names of the images (image folder) or the sets' image names (test-data layout). */
  fileNames: string[];
  /** Remove what was converted (nothing for a directory given in the test-data layout). */
  cleanup(): void;
}

/**
 * `--data` for a detector: an image folder is fitted to the model by the preset and written (one set an image)
 * into `workDir` (created; removed by `cleanup` when it was created here); a directory in the ONNX test-data
 * layout is used as it is. With labels, every labelled image must be in the data (DATASET_INVALID naming them).
 */
export function prepareDetectionData(options: { dataDir: string; model: OnnxModel; preset: DetectionInputPreset; workDir: string; labels?: CocoLabels | null }): PreparedDetectionData {
  let prepared: PreparedDetectionData;
  if (isImageFolder(options.dataDir)) {
    const fileNames = openImageFolder(options.dataDir).fileNames;
    const created = !existsSync(options.workDir);
    writeImageDataset({ imageDir: options.dataDir, outDir: options.workDir, model: options.model, preset: options.preset });
    prepared = { dataDir: options.workDir, fromImages: true, fileNames, cleanup: () => (created ? rmSync(options.workDir, { recursive: true, force: true }) : undefined) };
  } else {
    const dataset = openDataset(options.dataDir, options.model);
    const layout = options.preset.layout;
    const fileNames: string[] = [];
    for (let i = 0; i < dataset.setNames.length; i++) {
      // An image set names its file in meta.json: no need to read its tensors (tune does this per candidate).
      const named = setFileName(join(options.dataDir, dataset.setNames[i]!, 'meta.json'));
      if (named !== null) {
        fileNames.push(named);
        continue;
      }
      const batch = dataset.load(i);
      for (let row = 0; row < batch.batchSize; row++) fileNames.push(imageOfSample(batch, row, layout).fileName);
    }
    prepared = { dataDir: options.dataDir, fromImages: false, fileNames, cleanup: () => undefined };
  }
  if (options.labels) {
    try {
      checkLabelsInData(options.labels, prepared.fileNames, options.dataDir);
    } catch (error) {
      prepared.cleanup();
      throw error;
    }
  }
  return prepared;
}

/** Every labelled image must be in the data (DATASET_INVALID naming the missing ones and what the data has). */
export function checkLabelsInData(labels: CocoLabels, fileNames: readonly string[], dataDir: string): void {
  const have = new Set(fileNames);
  const missing = labels.images.filter((im) => !have.has(im.fileName)).map((im) => im.fileName);
  if (missing.length === 0) return;
  throw new EdgetuneError(
    'DATASET_INVALID',
    `labels name ${missing.length} image(s) that are not in the data '${dataDir}': ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''} (the data has ${fileNames.slice(0, 5).join(', ')}${fileNames.length > 5 ? ', …' : ''})`,
  );
}

/** The file name an image set's meta.json gives, or null (no meta.json, or not an image set's). */
function setFileName(metaPath: string): string | null {
  if (!existsSync(metaPath)) return null;
  try {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { detection?: { fileName?: unknown } };
    return typeof meta.detection?.fileName === 'string' ? meta.detection.fileName : null;
  } catch {
    return null; // the dataset reader reports a malformed meta.json when the set is loaded
  }
}
