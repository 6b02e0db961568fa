/** Shared helpers for the energy/thermal reader tests: a fixture sysroot context with a stepping clock. */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readTextFile, type CommandResult, type CommandRunner, type SourceContext } from '../../../src/profile/energy/energy-source.js';

/** test/fixtures/sysroots-energy/<name>. */
export function fixture(name: string): string {
  return resolve(import.meta.dirname, '../../fixtures/sysroots-energy', name);
}

/** Text of a fixture file. */
export function fixtureText(path: string): string {
  return readFileSync(fixture(path), 'utf8');
}

const copies: string[] = [];

/** A writable copy of a fixture sysroot (for counters that change between reads); removed after the file's tests. */
export function copyFixture(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `edgetune-${name.replace(/\W/g, '-')}-`));
  cpSync(fixture(name), dir, { recursive: true });
  copies.push(dir);
  return dir;
}

afterAll(() => {
  for (const d of copies.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A clock that returns the given seconds in turn (then keeps the last). */
export function steppingClock(seconds: number[]): () => bigint {
  let i = 0;
  return () => BigInt(Math.round(seconds[Math.min(i++, seconds.length - 1)]! * 1e9));
}

/** A runner that answers each command from a table; unknown commands fail as ENOENT (not installed). */
export function tableRunner(table: Record<string, string | CommandResult | Array<string | CommandResult>>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  const counters = new Map<string, number>();
  const run = async (command: string, args: readonly string[]): Promise<CommandResult> => {
    const key = [command, ...args].join(' ');
    calls.push(key);
    const entry = table[key] ?? table[command];
    if (entry === undefined) return { exitCode: null, stdout: '', stderr: '', error: `spawn ${command} ENOENT` };
    const n = counters.get(key) ?? 0;
    counters.set(key, n + 1);
    const value = Array.isArray(entry) ? entry[Math.min(n, entry.length - 1)]! : entry;
    return typeof value === 'string' ? { exitCode: 0, stdout: value, stderr: '' } : value;
  };
  return Object.assign(run, { calls });
}

/** A context reading `sysroot`, with an optional clock, runner and file reader. */
export function makeCtx(sysroot: string, parts: Partial<SourceContext> = {}): SourceContext {
  return {
    sysroot,
    clock: parts.clock ?? (() => process.hrtime.bigint()),
    run: parts.run ?? tableRunner({}),
    readText: parts.readText ?? readTextFile,
  };
}
