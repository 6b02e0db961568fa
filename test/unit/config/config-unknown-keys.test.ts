/** Issue 20: an unknown key (a typo) is reported as coming from where it was written, with the key it likely means. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../../src/config/load-agent-config.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'edgetune-config-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('CONFIG_INVALID');
    return (error as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('unknown keys in agent.config.json', () => {
  it("'trustedKey' (for trustedKeys) is named with the file it came from, not [from defaults]", () => {
    const path = join(dir, 'agent.config.json');
    writeFileSync(path, JSON.stringify({ deviceId: 'pi-01', trustedKey: ['./operator.pub'], allowUnsigned: true }));
    const message = problemsOf(() => loadAgentConfig({ configPath: path, cwd: '/' }));
    expect(message).toContain(`- trustedKey: unknown key (did you mean 'trustedKeys'?) [from ${path}]`);
    expect(message).not.toContain('[from defaults]');
  });

  it('a nested unknown key is named by its full path; several at once each get a line', () => {
    const path = join(dir, 'nested.json');
    writeFileSync(path, JSON.stringify({ deviceId: 'pi-01', allowUnsigned: true, broker: { url: 'embedded', keepAliveSeconds: 30 }, limits: { maxQueuedJob: 3 }, colour: 'blue' }));
    const message = problemsOf(() => loadAgentConfig({ configPath: path, cwd: '/' }));
    expect(message).toContain(`- broker.keepAliveSeconds: unknown key (did you mean 'keepaliveSeconds'?) [from ${path}]`);
    expect(message).toContain(`- limits.maxQueuedJob: unknown key (did you mean 'maxQueuedJobs'?) [from ${path}]`);
    expect(message).toContain(`- colour: unknown key [from ${path}]`);
    expect(message).toMatch(/has 3 problems/);
  });

  it('an unknown key given as a flag is said to come from the flag', () => {
    const message = problemsOf(() => loadAgentConfig({ cwd: '/', flags: { deviceId: 'pi-01', allowUnsigned: true, brokr: { url: 'embedded' } }, flagLabels: { 'brokr.url': '--broker' } }));
    expect(message).toContain("- brokr: unknown key (did you mean 'broker'?) [from --broker]");
  });
});
