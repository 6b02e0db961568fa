import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Result of running the built CLI. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `node bin/edgetune.js ARGS` (the test script builds dist/ first). */
export function runCli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): CliRun {
  const r = spawnSync(process.execPath, [join(process.cwd(), 'bin/edgetune.js'), ...args], {
    cwd: options.cwd ?? process.cwd(),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'edgetune-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
