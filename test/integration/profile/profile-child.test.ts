/**
 * profileInChild end to end: real onnxruntime in a real child process, real /proc memory polling, real limits.
 * No timed assertions: only that figures exist, are consistent with each other and say how they were obtained.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { floatTensor, int64Tensor } from '../../../src/onnx/tensor.js';
import { writeDataset } from '../../../src/compress/dataset-writer.js';
import { profileInChild } from '../../../src/profile/profile-child.js';
import type { ProfileOutcome, ProfileResult } from '../../../src/profile/profile-types.js';
import { CONV_NET_FLOPS_PER_SAMPLE, CONV_NET_WEIGHT_BYTES, convNet, endlessLoop, hugeExpand, info } from '../../unit/profile/profile-test-models.js';

let dir: string;
const path = (name: string): string => join(dir, name);
const quick = { iterations: 20, warmup: 2, threads: 1, energy: 'off' as const, flops: false };

function ok(outcome: ProfileOutcome): ProfileResult {
  if (outcome.state !== 'ok') throw new Error(`profile failed: ${outcome.error.code} ${outcome.error.message}`);
  return outcome.result;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-profile-it-'));
  writeFileSync(path('conv.onnx'), encodeModel(convNet()));
  writeFileSync(path('loop.onnx'), encodeModel(endlessLoop()));
  writeFileSync(path('huge.onnx'), encodeModel(hugeExpand(700_000_000)));
  writeFileSync(path('garbage.onnx'), 'this is not a protobuf model at all');
  const m = convNet();
  m.graph.inputs = [info('x', ['N', 3, 'H', 'W'])];
  writeFileSync(path('symbolic.onnx'), encodeModel(m));
  const pixels = (seed: number) => floatTensor('x', [2, 3, 8, 8], Float32Array.from({ length: 384 }, (_, i) => Math.sin(i * seed)));
  writeDataset(path('data'), [1, 2, 3].map((s) => ({ inputs: [pixels(s)], labels: int64Tensor('label', [2], [0, 1]) })));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('profileInChild', () => {
  it('profiles a model end to end: latency, memory, estimated energy, FLOPs, op profile', async () => {
    const phases = new Set<string>();
    let childPid = 0;
    const r = ok(
      await profileInChild({
        modelPath: path('conv.onnx'),
        iterations: 30,
        warmup: 3,
        threads: 1,
        energy: 'auto',
        powerModel: { idleWatts: 2, maxWatts: 8, source: 'integration test' },
        baselineMs: 800,
        energyMinDurationMs: 1000,
        opProfile: true,
        opProfileRuns: 5,
        peak: { fp32: { gopsPerSec: 10, source: 'test peak', estimated: true } },
        onProgress: (p) => phases.add(p.phase),
        onChildSpawn: (pid) => (childPid = pid),
      }),
    );
    expect(r.childPid).toBe(childPid);
    expect(childPid).not.toBe(process.pid);
    expect(r.model.sha256).toBe(createHash('sha256').update(readFileSync(path('conv.onnx'))).digest('hex'));
    expect(r.model.bytes).toBe(readFileSync(path('conv.onnx')).length);
    expect(r.iterations).toBe(30);
    expect(r.latencyMs.count).toBe(30);
    const l = r.latencyMs;
    expect(0 < l.min && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max).toBe(true);
    expect(r.throughputPerSec).toBeCloseTo(1000 / l.mean, 6);
    expect(r.coldStart.loadMs).toBeGreaterThan(0);
    expect(r.coldStart.firstRunMs).toBeGreaterThan(0);
    expect(r.inputs).toEqual([{ name: 'x', dataType: 1, shape: ['N', 3, 8, 8], profiledShape: [1, 3, 8, 8] }]);
    expect(r.inputSource).toBe('synthetic');
    // memory: the child's own figures, ordered as they must be
    expect(r.memory.baseRssBytes).toBeGreaterThan(0);
    expect(r.memory.sessionRssBytes).toBeGreaterThan(r.memory.baseRssBytes);
    expect(r.memory.peakRssBytes).toBeGreaterThanOrEqual(r.memory.sessionRssBytes);
    // energy: no sensor on this machine, so an estimate that says it is one
    expect(r.energy).not.toBeNull();
    const e = r.energy!;
    expect(e.method).toBe('estimated');
    expect(e.source).toBe('estimate');
    expect(e.scope).toMatch(/integration test/);
    expect(e.nSamples).toBeGreaterThanOrEqual(20);
    expect(e.durationMs).toBeGreaterThanOrEqual(20 * 200);
    expect(e.inferences).toBeGreaterThan(0);
    // the estimate stays inside the model's [idle, max] (µJ rounding of the estimated counter aside)
    expect(e.idleWatts).toBeGreaterThanOrEqual(2 - 1e-6);
    expect(e.avgWatts).toBeGreaterThanOrEqual(2 - 1e-6);
    expect(e.avgWatts).toBeLessThanOrEqual(8 + 1e-6);
    expect(e.joulesPerInference).toBeCloseTo(e.totalJoules / e.inferences, 9);
    expect(e.dynamicJoules).toBeCloseTo(e.totalJoules - e.idleJoules, 9);
    expect(e.unavailable.map((u) => u.id)).toEqual(['ina3221', 'rapl', 'pi5-pmic', 'hwmon']);
    // FLOPs: exactly the hand count; achieved rate at the p50
    expect(r.flops).toBe(CONV_NET_FLOPS_PER_SAMPLE);
    expect(r.flopsDetail?.weightBytes).toBe(CONV_NET_WEIGHT_BYTES);
    expect(r.flopsDetail?.achievedGflopsPerSec).toBeCloseTo(CONV_NET_FLOPS_PER_SAMPLE / (l.p50 / 1000) / 1e9, 9);
    expect(r.flopsDetail?.peakPrecision).toBe('fp32');
    expect(r.flopsDetail?.peakShare).toBeCloseTo(r.flopsDetail!.achievedGflopsPerSec / 10, 9);
    // op profile from onnxruntime's own trace
    expect(r.opProfile!.length).toBeGreaterThan(0);
    expect(r.opProfileDetail?.runs).toBe(5);
    for (const op of r.opProfile!) expect(op.share > 0 && op.share <= 1).toBe(true);
    expect(r.opProfile!.some((o) => /Conv/.test(o.op))).toBe(true);
    expect(r.thermal).toMatchObject({ throttled: false, cooldown: null });
    expect(r.notes).toEqual([]);
    expect([...phases]).toEqual(['load', 'warmup', 'latency', 'baseline', 'energy', 'op-profile', 'flops']);
  });

  it('uses --data samples (split to the batch) and reports fidelity against a reference', async () => {
    const r = ok(await profileInChild({ ...quick, modelPath: path('conv.onnx'), dataDir: path('data'), referencePath: path('conv.onnx'), flops: true }));
    expect(r.inputSource).toBe('data');
    expect(r.batchSize).toBe(2);
    expect(r.inputs[0]!.profiledShape).toEqual([2, 3, 8, 8]);
    expect(r.flops).toBe(2 * CONV_NET_FLOPS_PER_SAMPLE);
    expect(r.throughputPerSec).toBeCloseTo((2 * 1000) / r.latencyMs.mean, 6);
    expect(r.fidelity).toMatchObject({ samples: 6, agreement: 1 });
    expect(r.fidelity!.cosine!).toBeCloseTo(1, 6);
    expect(r.fidelity!.top1).not.toBeNull();
  });

  it('a model that never finishes (endless Loop) fails with CHILD_TIMEOUT, and the parent carries on', async () => {
    const out = await profileInChild({ ...quick, modelPath: path('loop.onnx'), timeLimitMs: 4000 });
    expect(out.state).toBe('failed');
    if (out.state === 'failed') {
      expect(out.error.code).toBe('CHILD_TIMEOUT');
      expect(out.error.message).toMatch(/time limit of 4 s/);
    }
    expect(ok(await profileInChild({ ...quick, modelPath: path('conv.onnx') })).iterations).toBe(20);
  });

  it('a model whose output is enormous fails with CHILD_OOM at the resident-memory limit', async () => {
    const limit = 400 * 1024 * 1024;
    const out = await profileInChild({ ...quick, modelPath: path('huge.onnx'), memoryLimitBytes: limit, timeLimitMs: 60_000 });
    expect(out.state).toBe('failed');
    if (out.state === 'failed') {
      expect(out.error.code).toBe('CHILD_OOM');
      expect(out.error.message).toMatch(/exceeded the memory limit: resident \d+ MB > 400 MB/);
      expect(out.error.peakRssBytes).toBeGreaterThan(limit);
    }
  });

  it('a child that dies from a signal (as on a native crash) fails with CHILD_CRASHED', async () => {
    let pid = 0;
    const out = await profileInChild({
      ...quick,
      modelPath: path('conv.onnx'),
      iterations: 10_000_000,
      onProgress: (p) => {
        if (p.phase === 'latency' && p.done > 0 && pid) {
          process.kill(pid, 'SIGSEGV');
          pid = 0;
        }
      },
      onChildSpawn: (p) => (pid = p),
    });
    expect(out.state).toBe('failed');
    if (out.state === 'failed') {
      expect(out.error.code).toBe('CHILD_CRASHED');
      expect(out.error.message).toMatch(/killed by SIGSEGV before reporting a result/);
    }
  });

  it('bad input comes back as typed failures naming the problem', async () => {
    const garbage = await profileInChild({ ...quick, modelPath: path('garbage.onnx') });
    expect(garbage).toMatchObject({ state: 'failed', error: { code: 'MODEL_INVALID' } });
    const missing = await profileInChild({ ...quick, modelPath: path('nope.onnx') });
    expect(missing).toMatchObject({ state: 'failed', error: { code: 'MODEL_INVALID', message: expect.stringMatching(/does not exist/) } });
    const symbolic = await profileInChild({ ...quick, modelPath: path('symbolic.onnx') });
    expect(symbolic).toMatchObject({ state: 'failed', error: { code: 'USAGE', message: expect.stringMatching(/dim 2 is symbolic \('H'\).*--shape x=1x3xNxN/) } });
    const shaped = ok(await profileInChild({ ...quick, modelPath: path('symbolic.onnx'), shapes: { x: [1, 3, 8, 8] } }));
    expect(shaped.inputs[0]!.profiledShape).toEqual([1, 3, 8, 8]);
    const noData = await profileInChild({ ...quick, modelPath: path('conv.onnx'), referencePath: path('conv.onnx') });
    expect(noData).toMatchObject({ state: 'failed', error: { code: 'USAGE', message: expect.stringMatching(/--reference needs --data/) } });
    const badEnergy = await profileInChild({ ...quick, modelPath: path('conv.onnx'), energy: 'ina3221' });
    expect(badEnergy).toMatchObject({ state: 'failed', error: { code: 'USAGE', message: expect.stringMatching(/--energy ina3221: not available here/) } });
    const zero = await profileInChild({ ...quick, modelPath: path('conv.onnx'), iterations: 0 });
    expect(zero).toMatchObject({ state: 'failed', error: { code: 'USAGE' } });
  });

  it('an abort signal stops the child and reports ABORTED', async () => {
    const controller = new AbortController();
    const out = await profileInChild(
      { ...quick, modelPath: path('conv.onnx'), iterations: 10_000_000, onProgress: (p) => p.phase === 'latency' && p.done > 0 && controller.abort() },
      controller.signal,
    );
    expect(out).toMatchObject({ state: 'failed', error: { code: 'ABORTED' } });
  });
});
