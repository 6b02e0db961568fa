/**
 * The parent side of the ONNX fuzzer: forks the worker (fuzz-child.ts through tsx), feeds it case indices one at a
 * time, and turns a hang (per-case time limit), runaway memory (resident-size limit polled from /proc) or a dead
 * worker (native crash, abort) into a finding for that case, then starts a fresh worker and carries on.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readProcMemory } from '../../../src/profile/proc-memory.js';
import type { MutationKind } from './model-mutations.js';
import type { CaseOutcome, CaseRecord, ChildToParent, ParentToChild } from './fuzz-protocol.js';

/** What to run. */
export interface FuzzRunOptions {
  seed: number;
  indices: readonly number[];
  workDir: string;
  repoRoot: string;
  /** A case that has not finished after this long is a hang (the worker is killed). */
  caseTimeoutMs: number;
  /** A worker whose resident memory passes this is killed and the case is a memory finding. */
  memoryLimitBytes: number;
  forceKind?: MutationKind;
}

const MEMORY_POLL_MS = 100;

function workerArgs(): { modulePath: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return { modulePath: join(dirname(here), 'fuzz-child.ts'), execArgv: ['--import', pathToFileURL(tsx).href] };
}

/** Run the cases; resolves with one record per index, in order. Never rejects for a case that misbehaves. */
export async function runFuzzCases(options: FuzzRunOptions): Promise<CaseRecord[]> {
  const records: CaseRecord[] = [];
  let pos = 0;
  let restarts = 0;
  while (pos < options.indices.length) {
    pos = await driveWorker(options, pos, records);
    restarts++;
    if (restarts > options.indices.length + 1) throw new Error('fuzz worker keeps dying before it runs a case');
  }
  return records;
}

function driveWorker(o: FuzzRunOptions, startPos: number, records: CaseRecord[]): Promise<number> {
  const { modulePath, execArgv } = workerArgs();
  const child: ChildProcess = fork(modulePath, [], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
  let tail = '';
  const keepTail = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-3000);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const send = (m: ParentToChild): void => {
    if (child.connected) child.send(m);
  };

  return new Promise((resolve, reject) => {
    let pos = startPos;
    let ready = false;
    let settled = false;
    let info: Extract<ChildToParent, { type: 'case' }> | null = null;
    let caseTimer: NodeJS.Timeout | undefined;
    const unhandled = new Map<number, string>();

    const record = (outcome: CaseOutcome, ms: number): void => {
      const index = o.indices[pos]!;
      const late = unhandled.get(index);
      const final: CaseOutcome = late && outcome.kind !== 'bug' ? { kind: 'bug', bug: 'unhandled-rejection', code: 'UNHANDLED', message: late } : outcome;
      records.push({
        index,
        baseId: info?.baseId ?? '?',
        mutation: info?.mutation ?? '?',
        detail: info?.detail ?? '?',
        target: info?.target ?? '?',
        outcome: final,
        ms,
      });
    };
    const settle = (next: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(caseTimer);
      clearInterval(memoryTimer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(next);
    };
    const runNext = (): void => {
      if (pos >= o.indices.length) {
        send({ type: 'exit' });
        settle(pos);
        return;
      }
      info = null;
      const startedAt = performance.now();
      caseTimer = setTimeout(() => {
        record({ kind: 'bug', bug: 'hang', code: 'TIMEOUT', message: `no result after ${o.caseTimeoutMs} ms (worker killed)` }, performance.now() - startedAt);
        settle(pos + 1);
      }, o.caseTimeoutMs);
      send({ type: 'run', index: o.indices[pos]! });
    };
    const memoryTimer = setInterval(() => {
      if (!child.pid || !ready) return;
      const mem = readProcMemory(child.pid);
      if (mem && mem.rssBytes > o.memoryLimitBytes) {
        record({ kind: 'bug', bug: 'memory', code: 'RSS', message: `worker resident memory ${Math.round(mem.rssBytes / 2 ** 20)} MB passed the ${Math.round(o.memoryLimitBytes / 2 ** 20)} MB limit` }, 0);
        settle(pos + 1);
      }
    }, MEMORY_POLL_MS);

    child.on('message', (m: ChildToParent) => {
      if (settled) return;
      if (m.type === 'ready') {
        ready = true;
        runNext();
      } else if (m.type === 'case') {
        info = m;
      } else if (m.type === 'done') {
        clearTimeout(caseTimer);
        record(m.outcome, m.ms);
        pos++;
        runNext();
      } else if (m.type === 'unhandled') {
        const index = m.index ?? o.indices[Math.max(0, pos - 1)]!;
        unhandled.set(index, m.message);
        const done = records.find((r) => r.index === index);
        if (done && done.outcome.kind !== 'bug') done.outcome = { kind: 'bug', bug: 'unhandled-rejection', code: 'UNHANDLED', message: m.message };
      }
    });
    child.on('exit', (code, signal) => {
      if (settled) return;
      if (!ready) {
        settled = true;
        clearInterval(memoryTimer);
        reject(new Error(`fuzz worker died during start-up (${signal ?? code}): ${tail}`));
        return;
      }
      record({ kind: 'bug', bug: 'crash', code: String(signal ?? code), message: `worker died (${signal ? `signal ${signal}` : `exit code ${code}`}): ${tail.trim().split('\n').slice(-5).join(' | ')}` }, 0);
      settle(pos + 1);
    });
    send({ type: 'init', seed: o.seed, workDir: join(o.workDir, `worker-${startPos}`), repoRoot: o.repoRoot, ...(o.forceKind ? { forceKind: o.forceKind } : {}) });
  });
}

/** Counts per mutation kind and outcome, for the test log and RELIABILITY.md. */
export function summarize(records: readonly CaseRecord[]): { byMutation: Record<string, Record<string, number>>; byTarget: Record<string, Record<string, number>>; codes: Record<string, number> } {
  const byMutation: Record<string, Record<string, number>> = {};
  const byTarget: Record<string, Record<string, number>> = {};
  const codes: Record<string, number> = {};
  for (const r of records) {
    const label = r.outcome.kind === 'bug' ? `bug:${r.outcome.bug}` : r.outcome.kind;
    (byMutation[r.mutation] ??= {})[label] = (byMutation[r.mutation]![label] ?? 0) + 1;
    (byTarget[r.target] ??= {})[label] = (byTarget[r.target]![label] ?? 0) + 1;
    if (r.outcome.kind === 'refused') codes[r.outcome.code] = (codes[r.outcome.code] ?? 0) + 1;
  }
  return { byMutation, byTarget, codes };
}
