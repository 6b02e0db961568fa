import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `edgetune --version` through the real bin (bin/edgetune.js → dist/). */
describe('edgetune --version', () => {
  it("prints package.json's version and exits 0", () => {
    const r = runCli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(PACKAGE_VERSION);
    expect(r.stderr).toBe('');
  });

  it('-V is the same', () => {
    const r = runCli(['-V']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(PACKAGE_VERSION);
  });

  it('without a command: usage error (exit 2) pointing at `npx edgetune --help`', () => {
    const r = runCli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('`npx edgetune --help` lists them');
  });
});
