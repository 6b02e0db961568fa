/**
 * Peer benchmark of int8 post-training quantization: edgetune's `int8` against onnxruntime's own quantizer
 * (scripts/bench-ptq-peers.py: quant_pre_process + quantize_static, QDQ, per-channel, MinMax, U8S8) on the real
 * third-party models of scripts/lib/photo-datasets.ts. Both calibrate on the same calibration photos; fidelity is
 * judged against the fp32 model on the disjoint evaluation photos; latency is timed fp32 and variant run by run in
 * alternation in one process (BENCHMARKS.md header). Prints a Markdown table and writes the rows as JSON to
 * `.cache/ptq-peers/results.json`. The datasets are photoDataset's crops, cached in `.cache/ptq-peers/data/` under a key
 * that includes each model's input normalisation.
 *
 *   npx tsx scripts/bench-ptq-peers.ts [MODEL_ID ...] [--calib 32] [--eval 16] [--iterations 20] [--threads 2]
 *     [--activation uint8|int8] [--python /work/v/bin/python]
 *
 * Dev-time only: needs a Python with onnxruntime and onnx (`--python`, or PTQ_PYTHON, default /work/v/bin/python).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { compressModelFile, type CompressFileOptions } from '../src/compress/compress-model.js';
import { openDataset, type Dataset } from '../src/compress/dataset.js';
import { defaultOpset, type Tensor } from '../src/onnx/ir.js';
import { loadModelFile } from '../src/onnx/model-file.js';
import { tensorToFloat32 } from '../src/onnx/tensor.js';
import { createInferenceRunner, type InferenceRunner } from '../src/profile/ort-inference.js';
import { errorCodeOf, messageOf } from '../src/util/errors.js';
import { compareLatency } from './lib/latency.js';
import { writeDataset } from '../src/compress/dataset-writer.js';
import { imageToTensor } from '../src/compress/image-tensor.js';
import { CALIBRATION_PHOTOS, EVALUATION_PHOTOS, THIRD_PARTY_MODELS, modelPath, photoSamples, type ThirdPartyModel } from './lib/photo-datasets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, '.cache', 'ptq-peers');
const PEER_SCRIPT = join(ROOT, 'scripts', 'bench-ptq-peers.py');

/** Fidelity of one model output over the evaluation set. */
interface OutputFidelity {
  output: string;
  /** Mean over samples of the cosine between the flattened fp32 and variant outputs. */
  meanCosine: number;
  /** 10·log10(Σ fp32² / Σ (fp32 − variant)²) over all samples. */
  sqnrDb: number;
  /** Cosine of all samples' values concatenated (dominated by samples with signal: a text detector's empty maps weigh nothing). */
  pooledCosine: number;
}

/** One table row: a variant of one model, as data (`state` says whether it was measured). */
interface PeerRow {
  model: string;
  exporter: string;
  opset: number;
  variant: string;
  state: 'ok' | 'failed' | 'unloadable';
  /** Why it failed or what was odd (quant_pre_process fallback, load error). */
  note: string | null;
  sizeBytes: number | null;
  outputs: OutputFidelity[] | null;
  worstCosine: number | null;
  worstOutput: string | null;
  worstSqnrDb: number | null;
  worstSqnrOutput: string | null;
  fp32P50Ms: number | null;
  variantP50Ms: number | null;
  /** fp32 p50 / variant p50 from the alternated runs (> 1 = faster). */
  speedUp: number | null;
  compressSeconds: number | null;
  evalSamples: number;
  calibSamples: number;
}

/** Row labels of the peer's variants (scripts/bench-ptq-peers.py names them). */
const PEER_VARIANTS: Record<string, string> = {
  ort: '',
  'ort-opset13': ' after opset-13 upgrade',
  'ort-lifted': ' after lifting Constant weights to initializers (+ opset 13)',
};

/** The JSON line scripts/bench-ptq-peers.py prints. */
interface PeerReport {
  ok: boolean;
  opset: number;
  variants: Array<{
    name: string;
    path: string | null;
    preprocess?: string | null;
    quantize?: string | null;
    converted?: string | null;
    loads: boolean;
    loadError?: string | null;
    seconds?: number;
    /** DequantizeLinear nodes over int8/uint8 initializers in the written model. */
    weightsQuantized?: number;
  }>;
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const calibCount = Number(flag('calib') ?? 32);
const evalCount = Number(flag('eval') ?? 16);
const iterations = Number(flag('iterations') ?? 20);
const threads = Number(flag('threads') ?? 2);
const activation = flag('activation') ?? 'uint8';
const python = flag('python') ?? process.env.PTQ_PYTHON ?? '/work/v/bin/python';
if (activation !== 'uint8' && activation !== 'int8') throw new RangeError(`--activation must be uint8 or int8, got '${activation}'`);
for (const id of positional) {
  if (!THIRD_PARTY_MODELS[id]) throw new RangeError(`unknown model '${id}'; known: ${Object.keys(THIRD_PARTY_MODELS).join(', ')}`);
}
const models = (positional.length > 0 ? positional : Object.keys(THIRD_PARTY_MODELS)).map((id) => THIRD_PARTY_MODELS[id]!);
const ortSuffix = activation === 'int8' ? 'ort-s8s8' : 'ort';

const log = (message: string): void => void process.stderr.write(`[ptq-peers ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/**
 * photoDataset's samples (same photos, seeds and crops), cached under a key that includes the model's input spec:
 * photoDataset's cache key (id, split, count, seed) does not, so a changed normalisation would reuse stale tensors.
 */
function peerDataset(model: ThirdPartyModel, split: 'calibration' | 'evaluation', count: number): string {
  const spec = createHash('sha256').update(JSON.stringify({ input: model.input, rotateHalf: model.rotateHalf ?? false })).digest('hex').slice(0, 10);
  const seed = split === 'calibration' ? 1 : 1001;
  const dir = join(OUT_DIR, 'data', `${model.id}-${split}-${count}-${seed}-${spec}`);
  if (existsSync(join(dir, 'test_data_set_0'))) return dir;
  const samples = photoSamples(model, split === 'calibration' ? CALIBRATION_PHOTOS : EVALUATION_PHOTOS, count, seed);
  writeDataset(dir, samples.map((image) => ({ inputs: [imageToTensor('input', image, model.input)] })));
  return dir;
}

/** Feeds for set `index`: input_K.pb goes to the runner's K-th input, whatever name the file stores. */
function feedsOf(dataset: Dataset, index: number, inputNames: readonly string[]): Record<string, Tensor> {
  const batch = dataset.load(index);
  const feeds: Record<string, Tensor> = {};
  batch.inputs.forEach((t, k) => {
    const name = inputNames[k];
    if (name === undefined) throw new RangeError(`${batch.set} has ${batch.inputs.length} inputs; the model takes ${inputNames.length}`);
    feeds[name] = { ...t, name };
  });
  return feeds;
}

/** Every output of `runner` on every evaluation sample, flattened to float32. */
async function runAll(runner: InferenceRunner, dataset: Dataset): Promise<Map<string, Float32Array[]>> {
  const out = new Map<string, Float32Array[]>(runner.outputNames.map((n) => [n, []]));
  for (let i = 0; i < dataset.setNames.length; i++) {
    const result = await runner.run(feedsOf(dataset, i, runner.inputNames));
    for (const name of runner.outputNames) out.get(name)!.push(tensorToFloat32(result.get(name)!));
  }
  return out;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

/** Per-output fidelity of `variant` against `reference` (outputs matched by name, else by position). */
function fidelity(reference: Map<string, Float32Array[]>, variant: Map<string, Float32Array[]>): OutputFidelity[] {
  const variantNames = [...variant.keys()];
  return [...reference.entries()].map(([name, refs], k) => {
    const got = variant.get(name) ?? variant.get(variantNames[k]!);
    if (!got) throw new RangeError(`variant has no output '${name}' (nor a ${k + 1}th output)`);
    let cosSum = 0;
    let signal = 0;
    let noise = 0;
    let dot = 0;
    let variantPower = 0;
    refs.forEach((ref, s) => {
      const q = got[s]!;
      if (q.length !== ref.length) throw new RangeError(`output '${name}': ${q.length} values, fp32 has ${ref.length}`);
      cosSum += cosine(ref, q);
      for (let i = 0; i < ref.length; i++) {
        signal += ref[i]! * ref[i]!;
        noise += (ref[i]! - q[i]!) ** 2;
        dot += ref[i]! * q[i]!;
        variantPower += q[i]! * q[i]!;
      }
    });
    const pooledCosine = signal === 0 && variantPower === 0 ? 1 : dot / Math.sqrt(signal * variantPower);
    return { output: name, meanCosine: cosSum / refs.length, sqnrDb: 10 * Math.log10(signal / noise), pooledCosine };
  });
}

/** Run the Python peer; its last stdout line is the JSON report. */
function runPeer(model: ThirdPartyModel, calibDir: string, outPath: string): { report: PeerReport | null; error: string | null } {
  const child = spawnSync(python, [PEER_SCRIPT, modelPath(model), calibDir, outPath, '--activation', activation], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 30 * 60 * 1000,
  });
  const last = child.stdout?.trim().split('\n').at(-1) ?? '';
  if (child.status === 0 && last.startsWith('{')) return { report: JSON.parse(last) as PeerReport, error: null };
  const stderrTail = (child.stderr ?? '').split('\n').filter((l) => !l.includes('CleanUnusedInitializers')).slice(-5).join(' | ');
  return { report: null, error: `python exited ${child.status ?? child.signal}: ${child.error?.message ?? stderrTail}` };
}

/** An onnxruntime load error without the node dump: its status code, the node's op and the reason at the end. */
function shortOrtError(message: string): string {
  const text = message.replace(/\s+/g, ' ');
  const status = /: \d+ : ([A-Z_]+) :/.exec(text)?.[1];
  const node = /In Node, \("[^"]*", (\w+),/.exec(text)?.[1];
  const reason = /(Error [^"]*)$/.exec(text)?.[1];
  return status && reason ? `${status}${node ? ` in a ${node} node` : ''}: ${reason}` : text.slice(0, 400);
}

function emptyRow(model: ThirdPartyModel, opset: number, variant: string): PeerRow {
  return {
    model: model.id,
    exporter: model.exporter,
    opset,
    variant,
    state: 'failed',
    note: null,
    sizeBytes: null,
    outputs: null,
    worstCosine: null,
    worstOutput: null,
    worstSqnrDb: null,
    worstSqnrOutput: null,
    fp32P50Ms: null,
    variantP50Ms: null,
    speedUp: null,
    compressSeconds: null,
    evalSamples: evalCount,
    calibSamples: calibCount,
  };
}

/** Fidelity and paired latency of a written variant, filled into `row`; a model onnxruntime-node refuses is `unloadable`. */
async function measure(row: PeerRow, path: string, fp32Bytes: Uint8Array, reference: Map<string, Float32Array[]>, evalSet: Dataset): Promise<void> {
  row.sizeBytes = statSync(path).size;
  const bytes = readFileSync(path);
  let runner: InferenceRunner;
  try {
    runner = await createInferenceRunner(bytes, { intraOpNumThreads: threads });
  } catch (error) {
    row.state = 'unloadable';
    row.note = [row.note, `onnxruntime-node refuses it: ${shortOrtError(messageOf(error))}`].filter(Boolean).join('; ');
    return;
  }
  try {
    const outputs = fidelity(reference, await runAll(runner, evalSet));
    row.outputs = outputs;
    const worst = outputs.reduce((a, b) => (b.meanCosine < a.meanCosine || Number.isNaN(b.meanCosine) ? b : a));
    row.worstCosine = worst.meanCosine;
    row.worstOutput = worst.output;
    const worstSqnr = outputs.reduce((a, b) => (b.sqnrDb < a.sqnrDb || Number.isNaN(b.sqnrDb) ? b : a));
    row.worstSqnrDb = worstSqnr.sqnrDb;
    row.worstSqnrOutput = worstSqnr.output;
    const feeds = feedsOf(evalSet, 0, runner.inputNames);
    await runner.release();
    const latency = await compareLatency(fp32Bytes, bytes, feeds, { warmup: 3, iterations, threads });
    row.fp32P50Ms = latency.aP50Ms;
    row.variantP50Ms = latency.bP50Ms;
    row.speedUp = latency.aP50Ms / latency.bP50Ms;
    row.state = 'ok';
  } catch (error) {
    row.state = 'failed';
    row.note = [row.note, `measuring failed: ${messageOf(error)}`].filter(Boolean).join('; ');
    await runner.release().catch(() => undefined);
  }
}

async function benchModel(model: ThirdPartyModel): Promise<PeerRow[]> {
  const rows: PeerRow[] = [];
  const fp32Path = modelPath(model);
  const fp32Bytes = readFileSync(fp32Path);
  const opset = defaultOpset(loadModelFile(fp32Path).model);
  const calibDir = peerDataset(model, 'calibration', calibCount);
  const evalDir = peerDataset(model, 'evaluation', evalCount);
  const evalSet = openDataset(evalDir);

  const fp32Runner = await createInferenceRunner(fp32Bytes, { intraOpNumThreads: threads });
  const reference = await runAll(fp32Runner, evalSet);
  await fp32Runner.release();
  rows.push({ ...emptyRow(model, opset, 'fp32'), state: 'ok', sizeBytes: fp32Bytes.length, note: `outputs: ${[...reference.keys()].join(', ')}` });

  // edgetune int8, through the library API: the defaults, and percentile 99.99 calibration.
  const edgetuneVariants: Array<{ label: string; suffix: string; options: Partial<CompressFileOptions> }> = [
    { label: 'edgetune int8', suffix: 'edgetune', options: {} },
    { label: 'edgetune int8, --calibration percentile --percentile 99.99', suffix: 'edgetune-p9999', options: { calibration: 'percentile', percentile: 99.99 } },
  ];
  for (const variant of edgetuneVariants) {
    const edgetuneRow = emptyRow(model, opset, variant.label);
    const edgetunePath = join(OUT_DIR, `${model.id}.${variant.suffix}.onnx`);
    log(`${model.id}: ${variant.label}`);
    const started = performance.now();
    try {
      const report = await compressModelFile({ inputPath: fp32Path, outputPath: edgetunePath, method: 'int8', dataDir: calibDir, speedCheck: false, fidelitySets: 0, ...variant.options });
      edgetuneRow.compressSeconds = (performance.now() - started) / 1000;
      if (report.nodesKeptFloat.length > 0) edgetuneRow.note = `${report.nodesKeptFloat.length} nodes kept float`;
      await measure(edgetuneRow, edgetunePath, fp32Bytes, reference, evalSet);
    } catch (error) {
      edgetuneRow.compressSeconds = (performance.now() - started) / 1000;
      edgetuneRow.note = `compress failed: ${messageOf(error)} [${errorCodeOf(error)}]`;
    }
    rows.push(edgetuneRow);
  }

  // onnxruntime's quantizer, in Python.
  log(`${model.id}: onnxruntime quantize_static (${activation} activations)`);
  const ortPath = join(OUT_DIR, `${model.id}.${ortSuffix}.onnx`);
  const peer = runPeer(model, calibDir, ortPath);
  if (!peer.report) {
    rows.push({ ...emptyRow(model, opset, `${ortSuffix} quantize_static`), note: peer.error });
    return rows;
  }
  for (const v of peer.report.variants) {
    const row = emptyRow(model, opset, `${ortSuffix} quantize_static${PEER_VARIANTS[v.name] ?? ` (${v.name})`}`);
    row.compressSeconds = v.seconds ?? null;
    const notes: string[] = [];
    if (v.converted && v.converted !== 'ok') notes.push(`version_converter failed: ${v.converted}`);
    if (v.preprocess && v.preprocess !== 'ok') notes.push(`quant_pre_process ${v.preprocess}`);
    if (v.quantize && v.quantize !== 'ok') notes.push(`quantize_static failed: ${v.quantize}`);
    if (v.weightsQuantized !== undefined) notes.push(`${v.weightsQuantized} weight tensors quantized`);
    if (v.quantize === 'ok' && !v.loads) {
      row.state = 'unloadable';
      row.sizeBytes = v.path && existsSync(v.path) ? statSync(v.path).size : null;
      notes.push(`written, but onnxruntime cannot load it: ${shortOrtError(v.loadError ?? '?')}`);
    }
    row.note = notes.length > 0 ? notes.join('; ') : null;
    if (v.loads && v.path) {
      log(`${model.id}: measuring ${row.variant}`);
      await measure(row, v.path, fp32Bytes, reference, evalSet);
    }
    rows.push(row);
  }
  return rows;
}

const kib = (bytes: number | null): string => (bytes === null ? '–' : `${Math.round(bytes / 1024)} KiB`);
const num = (value: number | null, digits: number): string => (value === null ? '–' : Number.isFinite(value) ? value.toFixed(digits) : String(value));

function tableRow(row: PeerRow, fp32Bytes: number | null): string {
  const size = row.sizeBytes === null ? '–' : row.variant === 'fp32' || fp32Bytes === null ? kib(row.sizeBytes) : `${kib(row.sizeBytes)} (${(fp32Bytes / row.sizeBytes).toFixed(2)}×)`;
  const every = row.outputs ? row.outputs.map((o) => `${o.output} ${num(o.meanCosine, 4)} (pooled ${num(o.pooledCosine, 4)})`).join('; ') : '–';
  const worst = row.worstCosine === null ? (row.state === 'ok' ? '1 (reference)' : `**${row.state}**`) : `${num(row.worstCosine, 4)} (${row.worstOutput})`;
  const speed = row.speedUp === null ? '–' : `${num(row.speedUp, 2)}× (${num(row.variantP50Ms, 1)} vs ${num(row.fp32P50Ms, 1)} ms)`;
  const secs = row.compressSeconds === null ? '–' : `${num(row.compressSeconds, 1)} s`;
  const cells = [`${row.model} (${row.exporter}, opset ${row.opset})`, row.variant, size, worst, every, row.worstSqnrDb === null ? '–' : `${num(row.worstSqnrDb, 1)} dB (${row.worstSqnrOutput})`, speed, secs];
  return `| ${cells.join(' | ')} |`;
}

/** Which edgetune was measured: HEAD and the src/ files that differed from it when the run started. */
function sourceState(): { commit: string; dirtySrc: string[] } {
  const git = (...gitArgs: string[]): string => spawnSync('git', gitArgs, { cwd: ROOT, encoding: 'utf8' }).stdout ?? '';
  const lines = (text: string): string[] => text.split('\n').filter(Boolean);
  const dirtySrc = [...lines(git('diff', '--name-only', 'HEAD', '--', 'src')), ...lines(git('ls-files', '--others', '--exclude-standard', '--', 'src'))];
  return { commit: git('rev-parse', '--short', 'HEAD').trim(), dirtySrc };
}

mkdirSync(OUT_DIR, { recursive: true });
const source = sourceState();
const all: PeerRow[] = [];
const resultsPath = join(OUT_DIR, 'results.json');
for (const model of models) {
  try {
    all.push(...(await benchModel(model)));
  } catch (error) {
    all.push({ ...emptyRow(model, 0, 'all'), note: `benchmark failed: ${messageOf(error)}` });
  }
  writeFileSync(resultsPath, `${JSON.stringify({ date: new Date().toISOString(), source, calibCount, evalCount, iterations, threads, activation, rows: all }, null, 2)}\n`);
}

console.log('| model (exporter) | variant | size (smaller) | worst-output cosine (output) | every output\'s cosine (pooled) | SQNR worst | speed-up vs fp32 (p50 variant vs fp32) | compress |');
console.log('|---|---|---|---|---|---|---|---|');
for (const row of all) {
  const fp32 = all.find((r) => r.model === row.model && r.variant === 'fp32')?.sizeBytes ?? null;
  console.log(tableRow(row, fp32));
}
const notes = all.filter((r) => r.note && r.variant !== 'fp32');
if (notes.length > 0) console.log(`\n${notes.map((r) => `- ${r.model} / ${r.variant}: ${r.note}`).join('\n')}`);
console.log(
  `\n(calibration ${calibCount} / evaluation ${evalCount} disjoint photo crops; cosine = mean per-sample cosine vs fp32, pooled = cosine of all samples' values together; SQNR over the whole evaluation set; ` +
    `latency ${iterations} alternated runs after 3 warm-ups, ${threads} intra-op threads, first evaluation sample; ${new Date().toISOString()}; ` +
    `edgetune at ${source.commit}${source.dirtySrc.length > 0 ? ` with ${source.dirtySrc.length} uncommitted src/ files (${source.dirtySrc.join(', ')})` : ''}; rows in ${relative(ROOT, resultsPath)})`,
);
