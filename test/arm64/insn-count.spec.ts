/**
 * Issue 16: the instruction-counting qemu plugin (scripts/arm64/insn-count.c) that scripts/bench-arm64-insns.ts
 * relies on. A static arm64 loop of a known length is counted exactly, on one thread and on four (the plugin's add
 * is atomic across qemu's vCPU threads), and through scripts/arm64/run (EDGETUNE_ARM64_PLUGIN) a Node process gives
 * one count, more for more inferences, and nearly the same count for the same work twice. No figure of a model is
 * asserted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, sliceBatch } from '../../src/compress/dataset.js';
import { laneStatus } from './lane.js';

const lane = laneStatus();
const dir = mkdtempSync(join(tmpdir(), 'edgetune-insns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** THREADS threads each run a loop of 2 instructions (subs, b.ne) ITERATIONS times. */
const LOOP_C = `#include <pthread.h>
#include <stdlib.h>
static long iterations;
static void *spin(void *arg) {
  long n = iterations;
  __asm__ volatile("1: subs %0, %0, #1\\n b.ne 1b" : "+r"(n) : : "cc");
  return arg;
}
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int threads = atoi(argv[1]);
  iterations = atol(argv[2]);
  pthread_t t[16];
  for (int i = 0; i < threads && i < 16; i++) pthread_create(&t[i], 0, spin, 0);
  for (int i = 0; i < threads && i < 16; i++) pthread_join(t[i], 0);
  return 0;
}
`;

let plugin = '';
let seq = 0;

/**
 * Run a command that loads the plugin with `out=` a fresh file (`args` gets the plugin's argument), and return the
 * plugin's `PID COUNT` lines with the count of the first.
 */
function counted(command: string, args: (pluginArg: string) => string[]): { lines: string[]; instructions: number; stdout: string } {
  const out = join(dir, `count-${seq++}.txt`);
  const pluginArg = `file=${plugin},out=${out}`;
  const r = spawnSync(command, args(pluginArg), { encoding: 'utf8', env: { ...process.env, EDGETUNE_ARM64_PLUGIN: pluginArg }, timeout: 10 * 60_000 });
  expect(r.status, r.stderr.slice(-500)).toBe(0);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  return { lines, instructions: Number(lines[0]!.split(' ')[1]), stdout: r.stdout };
}

describe.skipIf(!lane.ready)('insn-count plugin', () => {
  beforeAll(() => {
    const built = spawnSync('bash', ['scripts/arm64/build-insn-count'], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    plugin = built.stdout.trim();
  });

  it('counts a known loop exactly, on one thread and on four', () => {
    const cc = spawnSync('aarch64-linux-gnu-gcc', ['-O2', '-static', '-pthread', '-x', 'c', '-o', join(dir, 'loop'), '-'], { input: LOOP_C, encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const loop = (threads: number, iterations: number): number =>
      counted('qemu-aarch64', (pluginArg) => ['-cpu', 'cortex-a76', '-plugin', pluginArg, join(dir, 'loop'), String(threads), String(iterations)]).instructions;
    expect(loop(1, 2_000_000) - loop(1, 1_000_000)).toBe(2 * 1_000_000);
    // Four threads: thread start-up and joins may differ by a few hundred instructions from run to run.
    expect(Math.abs(loop(4, 2_000_000) - loop(4, 1_000_000) - 4 * 2 * 1_000_000)).toBeLessThan(10_000);
  });

  it('counts one emulated Node process through scripts/arm64/run: more for more inferences, alike for the same work', () => {
    const t = sliceBatch(openDataset('test/fixtures/data/mnist-test-flat').load(0).inputs[0]!, 0, 1);
    const input = join(dir, 'digit.f32');
    writeFileSync(input, Buffer.from(Float32Array.from(t.values as Float32Array).buffer));
    const worker = (runs: number): ReturnType<typeof counted> =>
      counted('bash', () => ['scripts/arm64/run', '--board', 'pi5', '--node', '--', '--predictable', '--no-memory-reducer', 'scripts/arm64/insn-worker.mjs', resolve('test/fixtures/models/mnist-mlp.onnx'), input, '1x784', String(runs)]);
    const [a1, a2, b] = [worker(1), worker(1), worker(401)];
    for (const r of [a1, a2, b]) {
      expect(r.lines).toHaveLength(1);
      expect(JSON.parse(r.stdout).arch).toBe('arm64');
    }
    expect(a1.instructions).toBeGreaterThan(0);
    // 400 more inferences count well above the spread of two identical processes. Measured 2026-12-04: 760.68 M and
    // 760.69 M for one inference, 903.5 M for 401. One run of the lane's earlier version (40 more inferences) saw two
    // identical processes 30.5 M apart, and the 41-inference one 12.7 M below them: Node's own background work is not
    // always the same from run to run.
    const spread = Math.abs(a1.instructions - a2.instructions);
    expect(b.instructions - Math.max(a1.instructions, a2.instructions)).toBeGreaterThan(2 * spread);
  });
});
