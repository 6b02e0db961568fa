/**
 * Dev-time: time per operator type (or per node with --nodes 1) of several models under onnxruntime's profiler, ms
 * per run, side by side — the same trace and summary as `edgetune profile --op-profile` (profileOperators), on one
 * synthetic input of --shape. The profiler adds overhead to small ops: compare columns, not absolutes.
 * Usage: npx tsx scripts/op-profile-by-type.ts A.onnx [B.onnx …] --shape 1x3x480x480 --threads 2 --runs 20 [--nodes 1]
 */
import { profileOperators } from '../src/profile/profile-run.js';
import { floatTensor } from '../src/onnx/tensor.js';
import { createOrtSession } from '../src/profile/ort-session.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1]!;
  args.splice(i, 2);
  return v;
};
const shape = opt('--shape', '1x3x480x480').split('x').map(Number);
const threads = Number(opt('--threads', '2'));
const runs = Number(opt('--runs', '20'));
const byNode = opt('--nodes', '0') !== '0';

const values = new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.37) * 1.5);
const tables: Array<Map<string, number>> = [];
for (const file of args) {
  const probe = await createOrtSession(file);
  const inputName = probe.inputs[0]!.name;
  await probe.release();
  const summary = await profileOperators({ modelPath: file, executionProvider: 'cpu', threads }, { [inputName]: floatTensor(inputName, shape, values) }, runs, byNode ? 1_000_000 : 0);
  const rows: Array<[string, number]> = byNode ? summary.top.map((o) => [`${o.op} ${o.name}`, o.ms]) : summary.byOpType.map((t) => [t.op, t.ms]);
  tables.push(new Map([['(model_run)', summary.runMs], ['(sum of kernels)', summary.nodeMsPerRun], ...rows]));
}
const keys = [...new Set(tables.flatMap((t) => [...t.keys()]))].sort((a, b) => Math.max(...tables.map((t) => t.get(b) ?? 0)) - Math.max(...tables.map((t) => t.get(a) ?? 0)));
console.log(['op', ...args.map((a) => a.split('/').pop())].join('\t'));
for (const k of keys.slice(0, 40)) console.log([k.padEnd(40), ...tables.map((t) => (t.get(k) ?? 0).toFixed(3))].join('\t'));
