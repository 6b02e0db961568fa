import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TuneStore } from '../../../src/store/tune-store.js';

let dir: string;
const sha = (c: string): string => c.repeat(64);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-tune-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('tune store (a real SQLite file of its own)', () => {
  it('is WAL with synchronous=FULL on every open', () => {
    const path = join(dir, 'tune.sqlite');
    for (let i = 0; i < 2; i++) {
      const store = TuneStore.open(path);
      expect(store.pragmas()).toEqual({ journalMode: 'wal', synchronous: 2 });
      store.close();
    }
    expect(existsSync(path)).toBe(true);
  });

  it('keeps finished candidates by (model sha256, candidate id, options key) across reopen', () => {
    const path = join(dir, 'tune.sqlite');
    let store = TuneStore.open(path);
    expect(store.getCandidate(sha('a'), 'int8', 'k1')).toBeNull();
    expect(store.markRunning(sha('a'), 'int8', 'k1')).toBe(1);
    expect(store.getCandidate(sha('a'), 'int8', 'k1')).toMatchObject({ state: 'running', attempts: 1, result: null });
    store.finishCandidate(sha('a'), 'int8', 'k1', 'done', { id: 'int8', latencyMs: 1.5 });
    store.finishCandidate(sha('a'), 'int8', 'k2', 'failed', { id: 'int8', reason: 'x' });
    store.finishCandidate(sha('b'), 'int8', 'k1', 'rejected', { id: 'int8' });
    store.close();
    store = TuneStore.open(path);
    expect(store.getCandidate(sha('a'), 'int8', 'k1')).toMatchObject({ state: 'done', attempts: 1, result: { id: 'int8', latencyMs: 1.5 } });
    expect(store.getCandidate(sha('a'), 'int8', 'k2')?.state).toBe('failed');
    expect(store.getCandidate(sha('b'), 'int8', 'k1')?.state).toBe('rejected');
    expect(store.candidatesOf(sha('a')).map((r) => r.optionsKey)).toEqual(['k1', 'k2']);
    store.close();
  });

  it('counts attempts of a candidate that never finished, and an on-purpose interruption does not count', () => {
    const store = TuneStore.open(join(dir, 'tune.sqlite'));
    expect(store.markRunning(sha('a'), 'prune', 'k')).toBe(1);
    expect(store.markRunning(sha('a'), 'prune', 'k')).toBe(2);
    store.clearRunning(sha('a'), 'prune', 'k');
    expect(store.getCandidate(sha('a'), 'prune', 'k')).toMatchObject({ state: 'running', attempts: 1 });
    store.finishCandidate(sha('a'), 'prune', 'k', 'done', {});
    store.clearRunning(sha('a'), 'prune', 'k'); // no effect once finished
    expect(store.getCandidate(sha('a'), 'prune', 'k')).toMatchObject({ state: 'done', attempts: 1 });
    store.close();
  });

  it('records artifacts and runs, and forgets a model on request', () => {
    const store = TuneStore.open(join(dir, 'tune.sqlite'));
    store.putArtifact({ artifactKey: 'p1', modelSha256: sha('a'), path: '/x/p1.onnx', sha256: sha('c'), bytes: 10, report: { notes: ['n'] } });
    expect(store.getArtifact('p1')).toMatchObject({ path: '/x/p1.onnx', bytes: 10, report: { notes: ['n'] } });
    store.finishCandidate(sha('a'), 'fp32', 'k', 'done', {});
    const run = store.startRun(sha('a'), { candidates: ['fp32'] });
    store.finishRun(run, 'interrupted', null);
    const run2 = store.startRun(sha('a'), { candidates: ['fp32'] });
    store.finishRun(run2, 'done', { chosen: 'fp32' });
    expect(store.runsOf(sha('a')).map((r) => [r.runId, r.state, r.result])).toEqual([
      [run2, 'done', { chosen: 'fp32' }],
      [run, 'interrupted', null],
    ]);
    expect(store.forgetModel(sha('a'))).toEqual(['/x/p1.onnx']);
    expect(store.getArtifact('p1')).toBeNull();
    expect(store.candidatesOf(sha('a'))).toEqual([]);
    store.dropArtifact('p1');
    store.close();
  });

  it('refuses an invalid state', () => {
    const store = TuneStore.open(join(dir, 'tune.sqlite'));
    expect(() => store.finishCandidate(sha('a'), 'x', 'k', 'bogus' as 'done', {})).toThrow(/CHECK constraint/);
    store.close();
  });
});
