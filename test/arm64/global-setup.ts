/**
 * Prepares the lane once (scripts/arm64/setup: apt packages, the arm64 Node, better-sqlite3 for arm64) and tells
 * the specs whether it is usable. A machine that cannot run it (no qemu and no root to install it, no user
 * namespaces, no per-namespace binfmt_misc) skips every test and says why, loudly.
 */
import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    arm64Lane: { ready: boolean; reason: string | null };
  }
}

export default function setup(project: TestProject): void {
  const started = Date.now();
  const r = spawnSync('bash', ['scripts/arm64/setup'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20 * 60_000 });
  const stderr = (r.stderr ?? '').trim();
  let lane: { ready: boolean; reason: string | null };
  if (r.status === 0) lane = { ready: true, reason: null };
  else {
    const said = stderr.split('\n').filter((l) => /arm64\/(setup|run)/.test(l)).pop() ?? stderr.split('\n').pop() ?? '';
    lane = { ready: false, reason: `scripts/arm64/setup exited ${r.status ?? r.signal}: ${said}` };
  }
  process.stderr.write(lane.ready ? `arm64 lane ready (setup ${((Date.now() - started) / 1000).toFixed(0)} s)\n` : `\n*** arm64 lane SKIPPED: ${lane.reason}\n\n`);
  project.provide('arm64Lane', lane);
}
