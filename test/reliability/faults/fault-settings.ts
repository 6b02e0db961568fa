/**
 * Shared pieces of the agent fault tests (issue 8, "Faults"): how many rounds to run, the agent process's resident
 * memory and children from /proc, and the models that make a profiling child exhaust memory or never finish.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { DataType } from '../../../src/onnx/dtype.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import type { OnnxModel } from '../../../src/onnx/ir.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor, int64Tensor } from '../../../src/onnx/tensor.js';

/** Rounds per fault: EDGETUNE_FAULT_ROUNDS (default `fallback`, the 20 unless a test says otherwise). */
export function faultRounds(fallback = 20): number {
  const raw = process.env.EDGETUNE_FAULT_ROUNDS;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`EDGETUNE_FAULT_ROUNDS must be a positive integer, got ${raw}`);
  return n;
}

/** Seed of the random kill points: EDGETUNE_FAULT_SEED (default 8). */
export function faultSeed(): number {
  return Number(process.env.EDGETUNE_FAULT_SEED ?? 8);
}

/** VmRSS of a process in bytes (from /proc/<pid>/status). */
export function vmRssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Pids of the live children of `pid` (scans /proc/<n>/stat for the parent pid). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // comm may hold spaces and parentheses: the fields after the last ')' are state, ppid, ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid && rest[0] !== 'Z') out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function model(name: string, nodes: OnnxModel['graph']['nodes'], initializers: OnnxModel['graph']['initializers'], opset = 13): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'edgetune-faults',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name,
      nodes,
      inputs: [{ name: 'x', type: { elemType: DataType.FLOAT, shape: [1] } }],
      outputs: [{ name: 'y', type: { elemType: DataType.FLOAT, shape: [1] } }],
      valueInfo: [],
      initializers,
    },
  });
}

/**
 * A valid model whose one run fills a float tensor of `elements` values (ConstantOfShape → ReduceSum → Add): with
 * a large count it needs gigabytes, so the profiling child exceeds its memory limit.
 */
export function memoryHogModel(elements: number): Uint8Array {
  return model(
    'memory-hog',
    [
      makeNode('ConstantOfShape', ['shape'], ['big'], 'fill', { value: attr.tensor(floatTensor('value', [1], [1])) }),
      makeNode('ReduceSum', ['big'], ['s'], 'sum', { keepdims: attr.int(1) }),
      makeNode('Add', ['x', 's'], ['y'], 'add'),
    ],
    new Map([['shape', int64Tensor('shape', [1], [elements])]]),
  );
}

/** A tiny valid model (y = x + 1): fast to profile. */
export function tinyModel(): Uint8Array {
  return model('tiny', [makeNode('Add', ['x', 'one'], ['y'], 'add')], new Map([['one', floatTensor('one', [1], [1])]]));
}
