import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hwProbeArgs } from '../../../src/agent/agent-services.js';
import { hwDeviceProfileArgs } from '../../../src/cli/commands/hw.js';
import { loadAgentConfig } from '../../../src/config/load-agent-config.js';
import { generateSigningKeyPair } from '../../../src/transport/signature.js';
import { EdgetuneError } from '../../../src/util/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-devprofile-'));
  writeFileSync(join(dir, 'operator.pub'), generateSigningKeyPair().publicKeyPem);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(extra: Record<string, unknown>) {
  const p = join(dir, 'agent.config.json');
  writeFileSync(p, JSON.stringify({ deviceId: 'pi-01', trustedKeys: ['./operator.pub'], ...extra }));
  return loadAgentConfig({ configPath: p, cwd: '/' }).resolved;
}

function codeAndMessage(fn: () => unknown): [string, string] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgetuneError);
    return [(error as EdgetuneError).code, (error as Error).message];
  }
  throw new Error('expected an EdgetuneError');
}

describe('agent.config.json deviceProfile', () => {
  it('is optional, and keeps name and override as given', () => {
    expect(load({}).deviceProfile).toBeUndefined();
    const c = load({ deviceProfile: { name: 'pi4', override: { memory: { bandwidthGBps: 3.2 } } } });
    expect(c.deviceProfile).toEqual({ name: 'pi4', override: { memory: { bandwidthGBps: 3.2 } } });
    expect(load({ deviceProfile: { override: { caches: { l2Bytes: 1048576 } } } }).deviceProfile).toEqual({ override: { caches: { l2Bytes: 1048576 } } });
  });

  it('refuses an empty name, a non-object override and unknown keys, naming each', () => {
    const [code, message] = codeAndMessage(() => load({ deviceProfile: { name: '', override: 3, colour: 'red' } }));
    expect(code).toBe('CONFIG_INVALID');
    expect(message).toMatch(/deviceProfile/);
    expect(message).toMatch(/colour/);
  });

  it('reaches the hw probe as --profile / --profile-override', () => {
    expect(hwProbeArgs(undefined)).toEqual(['hw']);
    expect(hwProbeArgs({ name: 'pi5' })).toEqual(['hw', '--profile', 'pi5']);
    const args = hwProbeArgs({ name: 'pi4', override: { memory: { bandwidthGBps: 3.2 } } });
    expect(args.slice(0, 4)).toEqual(['hw', '--profile', 'pi4', '--profile-override']);
    // What the hw command parses back is the config section itself.
    expect(hwDeviceProfileArgs(args[2], args[4])).toEqual({ name: 'pi4', override: { memory: { bandwidthGBps: 3.2 } } });
  });

  it('hw flags: nothing given is no section; bad JSON or a non-object override is USAGE naming the flag', () => {
    expect(hwDeviceProfileArgs(undefined, undefined)).toBeUndefined();
    expect(hwDeviceProfileArgs('x86-avx2', undefined)).toEqual({ name: 'x86-avx2' });
    const [c1, m1] = codeAndMessage(() => hwDeviceProfileArgs(undefined, '{oops'));
    expect([c1, m1]).toEqual(['USAGE', expect.stringMatching(/--profile-override is not JSON/)]);
    const [c2, m2] = codeAndMessage(() => hwDeviceProfileArgs(undefined, '[1,2]'));
    expect(c2).toBe('USAGE');
    expect(m2).toMatch(/override/);
  });
});
