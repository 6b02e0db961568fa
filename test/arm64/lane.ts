/** Helpers of the emulated arm64 lane: run edgetune (or node) as a board, and natively, and parse `--json`. */
import { spawn } from 'node:child_process';
import { inject } from 'vitest';

/** The boards of scripts/arm64/run with the device profile each must match. */
export const BOARDS = [
  { board: 'pi4', profile: 'pi4' },
  { board: 'pi5', profile: 'pi5' },
  { board: 'orin', profile: 'jetson-orin-nano' },
] as const;

/** What a child printed. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Whether the lane can run here; when not, the reason (also printed by the global setup). */
export function laneStatus(): { ready: boolean; reason: string | null } {
  const lane = inject('arm64Lane');
  if (!lane.ready) process.stderr.write(`arm64 lane skipped: ${lane.reason}\n`);
  return lane;
}

function run(command: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** `edgetune ARGS` emulated as `board` (scripts/arm64/run). */
export function runArm64(board: string, args: readonly string[], timeoutMs = 30 * 60_000): Promise<RunResult> {
  return run('bash', ['scripts/arm64/run', '--board', board, '--', ...args], timeoutMs);
}

/** The arm64 `node ARGS` emulated as `board`. */
export function runArm64Node(board: string, args: readonly string[], timeoutMs = 30 * 60_000): Promise<RunResult> {
  return run('bash', ['scripts/arm64/run', '--board', board, '--node', '--', ...args], timeoutMs);
}

/** `edgetune ARGS` on this machine's Node. */
export function runX86(args: readonly string[], timeoutMs = 10 * 60_000): Promise<RunResult> {
  return run(process.execPath, ['bin/edgetune.js', ...args], timeoutMs);
}

/** This machine's `node ARGS`. */
export function runNode(args: readonly string[], timeoutMs = 10 * 60_000): Promise<RunResult> {
  return run(process.execPath, [...args], timeoutMs);
}

/** The one JSON object of a `--json` run; throws with the tail of stderr when the run failed. */
export function jsonOf<T = Record<string, unknown>>(r: RunResult, what: string): T {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.split('\n').filter((l) => !/pthread_setaffinity_np|Error in cpuinfo/.test(l)).slice(-8).join('\n')}`);
  return JSON.parse(r.stdout) as T;
}
