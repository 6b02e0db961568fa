/**
 * Dev-time: per-operator-type time of models under onnxruntime's profiler (ms per run), side by side.
 * Usage: npx tsx scripts/op-profile-by-type.ts A.onnx [B.onnx …] --shape 1x3x480x480 --threads 2 --runs 20
 */
import * as ort from 'onnxruntime-node';
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

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

interface Ev { cat: string; name: string; dur: number; args?: { op_name?: string } }
const tables: Array<Map<string, number>> = [];
for (const file of args) {
  const prefix = join(tmpdir(), `opp-${process.pid}-${tables.length}`);
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, enableProfiling: true, profileFilePrefix: prefix, extra: { 'session.intra_op.allow_spinning': '0' } } as ort.InferenceSession.SessionOptions);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  const feeds = { [s.inputNames[0]!]: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < 3; i++) await s.run(feeds);
  s.startProfiling?.();
  for (let i = 0; i < runs + 3; i++) await s.run(feeds);
  s.endProfiling();
  await s.release();
  const dir = tmpdir();
  const f = readdirSync(dir).find((x) => x.startsWith(`opp-${process.pid}-${tables.length}`))!;
  const events = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Ev[];
  unlinkSync(join(dir, f));
  const t = new Map<string, number>();
  let modelRuns = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') { modelRuns++; t.set('(model_run)', (t.get('(model_run)') ?? 0) + e.dur); }
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const key = byNode ? `${e.args?.op_name} ${e.name.replace(/_kernel_time$/, '')}` : e.args?.op_name ?? '?';
    t.set(key, (t.get(key) ?? 0) + e.dur);
  }
  for (const [k, v] of t) t.set(k, v / 1000 / modelRuns);
  let sum = 0;
  for (const [k, v] of t) if (k !== '(model_run)') sum += v;
  t.set('(sum of kernels)', sum);
  tables.push(t);
}
const keys = [...new Set(tables.flatMap((t) => [...t.keys()]))].sort((a, b) => Math.max(...tables.map((t) => t.get(b) ?? 0)) - Math.max(...tables.map((t) => t.get(a) ?? 0)));
console.log(['op', ...args.map((a) => a.split('/').pop())].join('\t'));
for (const k of keys.slice(0, 40)) console.log([k.padEnd(40), ...tables.map((t) => (t.get(k) ?? 0).toFixed(3))].join('\t'));
