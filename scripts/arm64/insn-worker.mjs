/**
 * Instruction counts per inference (issue 16): load one model with onnxruntime-node, one intra-op thread, and run it
 * RUNS times on one fixed float32 input, then exit. scripts/bench-arm64-insns.ts runs it under the counting qemu
 * plugin with RUNS = K and K + N: the difference of the two process totals over N is the count of one inference.
 * Prints one JSON object: `{ arch, runs, outputName, output }` (the first output's first values, to check the
 * variants agree). Plain JavaScript with no build step: the emulated Node starts it as is.
 *
 *   node scripts/arm64/insn-worker.mjs MODEL.onnx INPUT.f32 DIMS RUNS      (DIMS as 1x3x48x192)
 */
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const [modelPath, inputPath, dimsText, runsText] = process.argv.slice(2);
if (!modelPath || !inputPath || !dimsText || !runsText) throw new RangeError('usage: node scripts/arm64/insn-worker.mjs MODEL.onnx INPUT.f32 DIMS RUNS');
const dims = dimsText.split('x').map(Number);
const runs = Number(runsText);
if (dims.some((d) => !Number.isInteger(d) || d <= 0)) throw new RangeError(`DIMS '${dimsText}': positive integers joined by x expected`);
if (!Number.isInteger(runs) || runs < 0) throw new RangeError(`RUNS '${runsText}': a non-negative integer expected`);
const bytes = readFileSync(inputPath);
const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const expected = dims.reduce((a, b) => a * b, 1);
if (values.length !== expected) throw new RangeError(`INPUT '${inputPath}' holds ${values.length} floats; DIMS ${dimsText} needs ${expected}`);

// One intra-op thread and sequential execution: no thread pool whose spinning would add to the count.
const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', values, dims) };
const outputName = session.outputNames[0];
let output = [];
for (let i = 0; i < runs; i++) {
  const result = await session.run(feeds);
  output = Array.from(result[outputName].data.slice(0, 4), Number);
}
process.stdout.write(`${JSON.stringify({ arch: process.arch, runs, outputName, output })}\n`);
