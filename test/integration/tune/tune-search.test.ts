import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { detectHardware, type DetectedHardware } from '../../../src/hardware/detect-hardware.js';
import { profileInChild } from '../../../src/profile/profile-child.js';
import { TuneStore } from '../../../src/store/tune-store.js';
import type { CandidateSpec } from '../../../src/tune/candidate-space.js';
import { tuneModel } from '../../../src/tune/tune-model.js';
import { intervalsOverlap } from '../../../src/tune/select-candidate.js';
import type { TuneEvent, TuneOptions, TuneResult } from '../../../src/tune/tune-types.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const MLP = 'test/fixtures/models/mnist-mlp.onnx';
const TEST = 'test/fixtures/data/mnist-test-flat';
const CALIB = 'test/fixtures/data/mnist-calib-flat';
const FAST = { iterations: 5, warmup: 1, energy: 'off' as const };

const spec = (id: string, steps: CandidateSpec['steps']): CandidateSpec => ({ id, steps, origin: 'extra', note: id });
const INT8_DYN = spec('int8-dyn', [{ method: 'int8-dynamic', options: {} }]);
const INT8_PT = spec('int8-pt', [{ method: 'int8', options: { perChannel: false } }]);
const FP16 = spec('fp16', [{ method: 'fp16', options: {} }]);

let detected: DetectedHardware;
beforeAll(async () => {
  detected = await detectHardware();
});

function base(workDir: string, over: Partial<TuneOptions> = {}): TuneOptions {
  return { modelPath: MLP, dataDir: TEST, calibrationDataDir: CALIB, workDir, detected, profile: FAST, ...over };
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const byId = (r: TuneResult, id: string) => r.candidates.find((c) => c.id === id)!;

describe('a failing candidate does not stop the search; the accuracy bound drops candidates before profiling', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-tune-search-'));
  const events: TuneEvent[] = [];
  let result: TuneResult;

  beforeAll(async () => {
    result = await tuneModel(
      base(join(dir, 'work'), {
        constraints: { maxAccuracyDropPp: 1 },
        candidates: [
          spec('broken-pass', [{ method: 'prune', options: { ratio: 1.5 } }]), // the pass refuses
          spec('no-such-method', [{ method: 'quantize-magic', options: {} }]),
          INT8_PT, // built and checked, but its profiling child is killed (below)
          spec('prune-0.8', [{ method: 'prune', options: { ratio: 0.8 } }]), // loses too much accuracy (about 4 pp)
          INT8_DYN,
        ],
        // Give int8-pt's child a 1 ms wall-clock limit: the real child is killed and reports CHILD_TIMEOUT.
        profiler: (o, id, signal) => profileInChild(id === 'int8-pt' ? { ...o, timeLimitMs: 1 } : o, signal),
        outputPath: join(dir, 'chosen.onnx'),
        reportPath: join(dir, 'report.md'),
        onEvent: (e) => events.push(e),
      }),
    );
  }, 120_000);

  it('records each failure with its code and reason, in order, and goes on', () => {
    expect(result.candidates.map((c) => [c.id, c.state])).toEqual([
      ['fp32', 'done'],
      ['broken-pass', 'failed'],
      ['no-such-method', 'failed'],
      ['int8-pt', 'failed'],
      ['prune-0.8', 'rejected'],
      ['int8-dyn', 'done'],
    ]);
    expect(byId(result, 'broken-pass').reason).toMatch(/^build: prune\(ratio=1.5\): --ratio must be in \(0, 1\)/);
    expect(byId(result, 'no-such-method').reason).toContain("unknown compression method 'quantize-magic'");
    const killed = byId(result, 'int8-pt');
    expect(killed.reason).toMatch(/^profile: profile child exceeded the time limit/);
    expect(killed.accuracyDrop).not.toBeNull(); // it was built and checked before the child was killed
    expect(killed.latencyMs).toBeNull();
  });

  it('drops a candidate that misses the accuracy bound before profiling it', () => {
    const pruned = byId(result, 'prune-0.8');
    expect(pruned.accuracyDrop!).toBeGreaterThan(1);
    expect(pruned.reason).toMatch(/^--max-accuracy-drop: top1 drop .* \(95 % interval .*, 2000 samples\) exceeds the 1 pp bound \(judged on 2000 held-out validation samples\): dropped before profiling/);
    expect(pruned.latencyMs).toBeNull();
    expect(events.some((e) => e.type === 'stage' && e.id === 'prune-0.8' && e.stage === 'profile')).toBe(false);
    expect(events.some((e) => e.type === 'stage' && e.id === 'prune-0.8' && e.stage === 'fidelity')).toBe(true);
  });

  it('measures the survivors, takes the front among them and writes the chosen model', () => {
    const fp32 = byId(result, 'fp32');
    const dyn = byId(result, 'int8-dyn');
    expect(fp32.accuracyDrop).toBe(0);
    expect(result.baseline.accuracy?.metric).toBe('top1');
    expect(result.baseline.accuracy!.value).toBeGreaterThan(0.9);
    expect(dyn.latencyMs!).toBeGreaterThan(0);
    expect(dyn.sizeBytes!).toBeLessThan(fp32.sizeBytes! / 3);
    expect(Math.abs(dyn.accuracyDrop!)).toBeLessThanOrEqual(1);
    expect(result.front.length).toBeGreaterThan(0);
    expect(result.front.every((id) => ['fp32', 'int8-dyn'].includes(id))).toBe(true);
    expect(result.axes).toEqual(['latencyMs', 'accuracyDropPp', 'sizeBytes']);
    expect(result.axesLeftOut.map((a) => a.axis)).toEqual(['joulesPerInference']);
    expect(result.chosen).not.toBeNull();
    const chosen = byId(result, result.chosen!);
    expect(result.output?.sha256).toBe(chosen.sha256);
    expect(sha256(join(dir, 'chosen.onnx'))).toBe(chosen.sha256);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('<svg');
    expect(md).toContain('| broken-pass | prune | failed |');
  });

  it('flags int8-dyn when its measured p50 is not below fp32’s, and then never chooses it (objective latency)', () => {
    const fp32 = byId(result, 'fp32');
    const dyn = byId(result, 'int8-dyn');
    // Not faster: a p50 not below fp32's, or a p50 interval that overlaps fp32's (not distinguishable here).
    const faster = dyn.latencyMs! < fp32.latencyMs!;
    const withinNoise = faster && intervalsOverlap(dyn.latencyCiMs!, fp32.latencyCiMs!);
    const slower = !faster || withinNoise;
    expect(fp32.slowerThanBaseline).toBe(false);
    expect(dyn.slowerThanBaseline).toBe(slower);
    if (slower) {
      expect(result.chosen).not.toBe('int8-dyn');
      const note = withinNoise ? 'int8-dyn (int8-dynamic) is not distinguishable from fp32 on this device' : 'int8-dyn (int8-dynamic) is not faster than fp32 on this device';
      expect(result.notes.some((n) => n.startsWith(note))).toBe(true);
    }
  });
});

describe('an interrupted search resumes: finished candidates are not rebuilt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-tune-resume-'));
  const workDir = join(dir, 'work');
  const candidates = [INT8_DYN, INT8_PT, FP16];

  it('abort during a candidate, then run again', async () => {
    const controller = new AbortController();
    const first: TuneEvent[] = [];
    const interrupted = tuneModel(
      base(workDir, {
        candidates,
        signal: controller.signal,
        onEvent: (e) => {
          first.push(e);
          // Interrupt while int8-pt is being profiled (after its build and fidelity check).
          if (e.type === 'stage' && e.id === 'int8-pt' && e.stage === 'profile') controller.abort();
        },
      }),
    );
    await expect(interrupted).rejects.toThrow(EdgetuneError);
    await expect(interrupted).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(interrupted).rejects.toThrow(/after 2 of 4 candidate\(s\).*run the same command again to continue/);
    expect(first.filter((e) => e.type === 'candidate-done').map((e) => (e as { id: string }).id)).toEqual(['fp32', 'int8-dyn']);

    const second: TuneEvent[] = [];
    const result = await tuneModel(base(workDir, { candidates, onEvent: (e) => second.push(e) }));
    const stagesOf = (id: string): string[] => second.filter((e): e is Extract<TuneEvent, { type: 'stage' }> => e.type === 'stage' && e.id === id).map((e) => e.stage);
    // fp32 and int8-dyn come back from the store: no build, no fidelity check, no profile.
    expect(stagesOf('fp32')).toEqual([]);
    expect(stagesOf('int8-dyn')).toEqual([]);
    expect(result.candidates.map((c) => [c.id, c.resumed, c.state])).toEqual([
      ['fp32', true, 'done'],
      ['int8-dyn', true, 'done'],
      ['int8-pt', false, 'done'],
      ['fp16', false, 'done'],
    ]);
    // int8-pt was built before the interruption: its file is reused, it is only checked and profiled.
    expect(stagesOf('int8-pt')).toEqual(['fidelity', 'profile']);
    expect(stagesOf('fp16')).toEqual(['build', 'fidelity', 'profile']);
    expect(result.chosen).not.toBeNull();

    const store = TuneStore.open(join(workDir, 'tune.sqlite'));
    try {
      const runs = store.runsOf(result.model.sha256);
      expect(runs.map((r) => r.state)).toEqual(['done', 'interrupted']);
      // The interruption was on purpose: it does not count as a crash attempt.
      expect(store.candidatesOf(result.model.sha256).find((r) => r.candidateId === 'int8-pt')).toMatchObject({ state: 'done', attempts: 1 });
    } finally {
      store.close();
    }
  }, 120_000);

  it('a time budget stops starting new candidates and lists what was not tried (stored ones are free)', async () => {
    const int4 = spec('int4', [{ method: 'int4', options: {} }]);
    const result = await tuneModel(base(workDir, { candidates: [...candidates, int4], budgetSeconds: 0.001 }));
    expect(result.candidates.map((c) => c.id)).toEqual(['fp32', 'int8-dyn', 'int8-pt', 'fp16']);
    expect(result.candidates.every((c) => c.resumed)).toBe(true);
    expect(result.notTried).toEqual([{ id: 'int4', reason: 'time budget of 0.001 s used up' }]);
    expect(result.complete).toBe(false);
  });

  it('bad input is refused before any work, and nothing is written', async () => {
    const out = join(dir, 'never.onnx');
    await expect(tuneModel(base(workDir, { constraints: { maxLatencyMs: -1 }, outputPath: out }))).rejects.toMatchObject({ code: 'USAGE' });
    await expect(tuneModel(base(workDir, { modelPath: join(dir, 'missing.onnx'), outputPath: out }))).rejects.toMatchObject({ code: 'MODEL_INVALID' });
    await expect(tuneModel(base(workDir, { dataDir: join(dir, 'nodata'), outputPath: out }))).rejects.toMatchObject({ code: 'DATASET_INVALID' });
    await expect(tuneModel(base(workDir, { dataDir: 'test/fixtures/data/mnist-test', outputPath: out }))).rejects.toMatchObject({ code: 'DATASET_INVALID' });
    await expect(tuneModel(base(workDir, { dataDir: undefined, calibrationDataDir: undefined, constraints: { maxAccuracyDropPp: 1 } }))).rejects.toThrow(/--max-accuracy-drop needs --data/);
    await expect(tuneModel(base(workDir, { reportPath: join(dir, 'r.txt') }))).rejects.toThrow(/--report must name a .md or .html file/);
    await expect(tuneModel(base(workDir, { outputPath: MLP }))).rejects.toThrow(/never overwrites its input/);
    await expect(tuneModel(base(workDir, { only: ['nope'] }))).rejects.toThrow(/unknown candidate id/);
    expect(existsSync(out)).toBe(false);
  });
});
