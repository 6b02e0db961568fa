/** `edgetune profile` through the built bin (run `npm run build` first; `npm test` does). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { CONV_NET_FLOPS_PER_SAMPLE, convNet } from '../../unit/profile/profile-test-models.js';

const BIN = resolve(import.meta.dirname, '../../../bin/edgetune.js');
let dir: string;

function edgetune(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-profile-cli-'));
  writeFileSync(join(dir, 'conv.onnx'), encodeModel(convNet()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edgetune profile', () => {
  it('--json prints exactly one JSON object with the SPEC fields', async () => {
    const r = await edgetune(['profile', 'conv.onnx', '--iterations', '15', '--warmup', '2', '--threads', '1', '--energy', 'off', '--op-profile', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['model', 'iterations', 'warmup', 'threads', 'latencyMs', 'throughputPerSec', 'memory', 'energy', 'thermal', 'opProfile', 'flops', 'device']));
    expect(Object.keys(j.model)).toEqual(['path', 'bytes', 'sha256']);
    expect(Object.keys(j.latencyMs)).toEqual(expect.arrayContaining(['mean', 'std', 'p50', 'p90', 'p99', 'min', 'max']));
    expect(Object.keys(j.memory)).toEqual(expect.arrayContaining(['peakRssBytes', 'sessionRssBytes']));
    expect(Object.keys(j.thermal)).toEqual(expect.arrayContaining(['startC', 'endC', 'throttled']));
    expect(j).toMatchObject({ iterations: 15, warmup: 2, threads: 1, energy: null, flops: CONV_NET_FLOPS_PER_SAMPLE });
    expect(j.opProfile.length).toBeGreaterThan(0);
    expect(Object.keys(j.opProfile[0])).toEqual(expect.arrayContaining(['op', 'name', 'ms', 'share']));
  });

  it('prints a readable table without --json', async () => {
    const r = await edgetune(['profile', 'conv.onnx', '--iterations', '10', '--warmup', '1', '--threads', '1', '--energy', 'off']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model\s+.*conv\.onnx/m);
    expect(r.stdout).toMatch(/^latency\s+p50 [\d.]+ ms {2}p90 [\d.]+ ms {2}p99 [\d.]+ ms$/m);
    expect(r.stdout).toMatch(/^energy\s+energy measurement off/m);
    expect(r.stdout).toMatch(/^compute\s+14\.62 kFLOP\/run/m);
  });

  it('--op-profile prints the top nodes and the time per operator type', async () => {
    const r = await edgetune(['profile', 'conv.onnx', '--iterations', '10', '--warmup', '1', '--threads', '1', '--energy', 'off', '--op-profile']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^top operators \(onnxruntime profiler, 10 runs; ms per run\)$/m);
    expect(r.stdout).toMatch(/^operator types \([\d.]+ ms of node time per run; traced run [\d.]+ ms\)$/m);
    const types = r.stdout.slice(r.stdout.indexOf('operator types'));
    // conv.onnx is one Conv (then Relu, Flatten, Gemm): each type on its own row with its node count and share.
    expect(types).toMatch(/^ {2}Conv +1 +[\d.]+ +[\d.]+%$/m);
    const shares = [...types.matchAll(/ ([\d.]+)%$/gm)].map((m) => Number(m[1]));
    expect(shares.length).toBeGreaterThan(1);
    expect(shares.reduce((a, b) => a + b, 0)).toBeGreaterThan(99);
  });

  it('bad input exits 2 with the problem named, and writes nothing', async () => {
    const before = readdirSync(dir).sort();
    const missing = await edgetune(['profile', 'nope.onnx', '--json']);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { code: 'MODEL_INVALID', message: "model file 'nope.onnx' does not exist" } });
    const energy = await edgetune(['profile', 'conv.onnx', '--energy', 'battery']);
    expect(energy.code).toBe(2);
    expect(energy.stderr).toMatch(/--energy battery: expected auto, off or one of .* \[USAGE\]/);
    const shape = await edgetune(['profile', 'conv.onnx', '--shape', 'y=1x2']);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toMatch(/the model has no input 'y' \(inputs: x\) \[USAGE\]/);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
