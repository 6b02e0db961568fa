/**
 * Runs the committed fixture models on the committed fixture datasets with onnxruntime-node
 * and prints top-1 accuracy per (model, dataset). Called by scripts/make-fixtures.py to confirm
 * that onnxruntime agrees with torch; also handy by hand: `npx tsx scripts/check-fixtures.ts`.
 *
 * The TensorProto reader below is deliberately tiny (float32/int64 with raw_data only, which is
 * what make-fixtures.py writes); the product's real reader lives in src/onnx.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const fixturesDir = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

/** A decoded float32 or int64 tensor from a serialized TensorProto. */
interface RawTensor {
  dims: number[];
  dataType: number;
  name: string;
  raw: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error('truncated varint');
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, pos];
    shift += 7n;
  }
}

/** Decodes the TensorProto fields dims (1), data_type (2), name (8) and raw_data (9). */
function decodeTensor(buf: Uint8Array): RawTensor {
  const tensor: RawTensor = { dims: [], dataType: 0, name: '', raw: new Uint8Array(0) };
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    pos = afterKey;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [value, next] = readVarint(buf, pos);
      pos = next;
      if (field === 1) tensor.dims.push(Number(value));
      else if (field === 2) tensor.dataType = Number(value);
    } else if (wire === 2) {
      const [len, next] = readVarint(buf, pos);
      const end = next + Number(len);
      const bytes = buf.subarray(next, end);
      if (field === 1) {
        let p = 0;
        while (p < bytes.length) {
          const [dim, q] = readVarint(bytes, p);
          tensor.dims.push(Number(dim));
          p = q;
        }
      } else if (field === 8) tensor.name = Buffer.from(bytes).toString('utf8');
      else if (field === 9) tensor.raw = bytes;
      pos = end;
    } else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return tensor;
}

function loadTensor(path: string): RawTensor {
  return decodeTensor(new Uint8Array(readFileSync(path)));
}

/** Top-1 accuracy of one model on one dataset directory. */
async function evaluate(modelFile: string, dataName: string): Promise<Record<string, unknown>> {
  const session = await ort.InferenceSession.create(join(fixturesDir, 'models', modelFile));
  const dataDir = join(fixturesDir, 'data', dataName);
  const sets = readdirSync(dataDir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)));
  let correct = 0;
  let samples = 0;
  for (const set of sets) {
    const input = loadTensor(join(dataDir, set, 'input_0.pb'));
    const label = loadTensor(join(dataDir, set, 'label.pb'));
    if (input.dataType !== 1 || label.dataType !== 7) throw new Error(`${set}: unexpected dtypes`);
    const x = new Float32Array(input.raw.slice().buffer);
    const y = new BigInt64Array(label.raw.slice().buffer);
    const inputName = session.inputNames[0] ?? 'input';
    const out = await session.run({ [inputName]: new ort.Tensor('float32', x, input.dims) });
    const logits = out[session.outputNames[0] ?? 'logits'];
    if (logits === undefined) throw new Error('no output');
    const data = logits.data as Float32Array;
    const classes = logits.dims[1] ?? 0;
    for (let i = 0; i < y.length; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (data[i * classes + c]! > data[i * classes + best]!) best = c;
      if (BigInt(best) === y[i]) correct++;
    }
    samples += y.length;
  }
  const result = {
    model: modelFile,
    data: dataName,
    sets: sets.length,
    samples,
    top1: correct / samples,
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
  };
  await session.release();
  return result;
}

const pairs: Array<[string, string]> = [
  ['mnist-rescnn.onnx', 'mnist-test'],
  ['mnist-rescnn.onnx', 'mnist-calib'],
  ['mnist-mlp.onnx', 'mnist-test-flat'],
  ['mnist-mlp.onnx', 'mnist-calib-flat'],
  // Written by scripts/make-mbv2-fixture.py, after the others.
  ...(existsSync(join(fixturesDir, 'models', 'mnist-mbv2.onnx'))
    ? ([['mnist-mbv2.onnx', 'mnist-test'], ['mnist-mbv2.onnx', 'mnist-calib']] as Array<[string, string]>)
    : []),
];
const results = [];
for (const [model, data] of pairs) results.push(await evaluate(model, data));
if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ ortVersion: ort.env.versions.common, results })}\n`);
} else {
  for (const r of results) {
    console.log(`${String(r.model)} on ${String(r.data)}: top-1 ${(Number(r.top1) * 100).toFixed(2)}% (${String(r.samples)} samples)`);
  }
}
