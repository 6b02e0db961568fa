import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { BIN, REPO, waitFor } from '../agent/fleet-harness.js';

/** Debian's Chromium: playwright-core drives it (it downloads no browser of its own). */
export const CHROMIUM = '/usr/bin/chromium';

/** A running `edgetune dashboard` child. */
export interface DashboardProcess {
  child: ChildProcess;
  /** The URL it printed (with ?token= when bound beyond loopback). */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  token: string | null;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Start `node bin/edgetune.js dashboard ARGS` and wait for the URL line (needs `npm run build`). */
export async function startDashboard(args: string[]): Promise<DashboardProcess> {
  const child = spawn(process.execPath, [BIN, 'dashboard', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-50_000);
    if (process.env.EDGETUNE_TEST_LOG) process.stderr.write(b);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await Promise.race([
    waitFor('the dashboard URL', () => /edgetune dashboard: (\S+)/.exec(out)?.[1], 30_000),
    exited.then((code) => {
      throw new Error(`dashboard exited ${code} before it listened: ${err}`);
    }),
  ]);
  const u = new URL(url);
  return {
    child,
    url,
    origin: `http://127.0.0.1:${u.port}`,
    token: u.searchParams.get('token'),
    stdout: () => out,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Run `edgetune dashboard ARGS` expecting it to exit (bad input). */
export function runDashboard(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'dashboard', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Headless Chromium with a fresh profile directory, removed on close. */
export async function launchBrowser(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'edgetune-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
