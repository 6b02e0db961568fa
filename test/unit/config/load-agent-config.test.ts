import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../src/transport/signature.js';
import { AGENT_CONFIG_DEFAULTS } from '../../../src/config/agent-config-defaults.js';
import { loadAgentConfig, mergeConfigValues } from '../../../src/config/load-agent-config.js';
import { EdgetuneError } from '../../../src/util/errors.js';

let dir: string;
let pub: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-config-'));
  pub = join(dir, 'operator.pub');
  writeFileSync(pub, generateSigningKeyPair().publicKeyPem);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(content: unknown, name = 'agent.config.json'): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

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

describe('loadAgentConfig', () => {
  it('fills every key from the defaults and resolves paths against the config file', () => {
    const p = writeConfig({ deviceId: 'pi-01', trustedKeys: ['./operator.pub'] });
    const { resolved, raw } = loadAgentConfig({ configPath: p, cwd: '/' });
    expect(resolved.deviceId).toBe('pi-01');
    expect(resolved.trustedKeys).toEqual([pub]);
    expect(resolved.dataDir).toBe('/.edgetune'); // defaults are relative to the working directory
    expect(resolved.broker.url).toBe('embedded');
    expect(resolved.limits.maxArtifactBytes).toBe(AGENT_CONFIG_DEFAULTS.limits.maxArtifactBytes);
    expect(resolved.chunkSizeBytes).toBe(256 * 1024);
    expect(resolved.configPath).toBe(p);
    expect(raw.file).toEqual({ deviceId: 'pi-01', trustedKeys: ['./operator.pub'] });
  });

  it('applies defaults < file < environment < flags', () => {
    const p = writeConfig({ deviceId: 'from-file', broker: { url: 'mqtt://file:1883', port: 1111 }, trustedKeys: [pub], groups: ['a'] });
    const { resolved } = loadAgentConfig({
      configPath: p,
      env: { EDGETUNE_DEVICE_ID: 'from-env', EDGETUNE_BROKER_URL: 'mqtts://env:8883', EDGETUNE_GROUPS: 'x, y', EDGETUNE_ALLOW_UNSIGNED: 'true' },
      flags: { deviceId: 'from-flag' },
      cwd: dir,
    });
    expect(resolved.deviceId).toBe('from-flag');
    expect(resolved.broker.url).toBe('mqtts://env:8883');
    expect(resolved.broker.port).toBe(1111);
    expect(resolved.broker.keepaliveSeconds).toBe(AGENT_CONFIG_DEFAULTS.broker.keepaliveSeconds);
    expect(resolved.groups).toEqual(['x', 'y']);
    expect(resolved.allowUnsigned).toBe(true);
  });

  it('keeps the raw inputs apart from the resolved config, passwords masked', () => {
    const { raw, resolved } = loadAgentConfig({ env: { EDGETUNE_BROKER_PASSWORD: 's3cret', EDGETUNE_TRUSTED_KEYS: pub, HOME: '/x' }, flags: { deviceId: 'f' } });
    expect(raw).toEqual({ file: null, environment: { EDGETUNE_BROKER_PASSWORD: '(set)', EDGETUNE_TRUSTED_KEYS: pub }, flags: { deviceId: 'f' } });
    expect(resolved.broker.password).toBe('s3cret');
  });

  it('resolves relative paths from the environment against the working directory', () => {
    const { resolved } = loadAgentConfig({ env: { EDGETUNE_DATA_DIR: 'store', EDGETUNE_TRUSTED_KEYS: 'operator.pub' }, cwd: dir });
    expect(resolved.dataDir).toBe(join(dir, 'store'));
    expect(resolved.trustedKeys).toEqual([pub]);
  });

  it('reports every problem at once, each naming its key and source', () => {
    const p = writeConfig({
      deviceId: 'bad id!',
      groups: ['ok', 'no/slash'],
      broker: { url: 'http://x', colour: 'blue' },
      trustedKeys: [pub],
      limits: { maxArtifactBytes: -1 },
      typo: true,
    });
    const message = problemsOf(() => loadAgentConfig({ configPath: p, env: { EDGETUNE_BROKER_PORT: 'abc' } }));
    expect(message).toContain('deviceId');
    expect(message).toContain('groups.1');
    expect(message).toContain('broker.url');
    expect(message).toContain('colour');
    expect(message).toContain('limits.maxArtifactBytes');
    expect(message).toContain('typo');
    expect(message).toMatch(/broker\.port: .*\[from EDGETUNE_BROKER_PORT\]/);
    expect(message).toMatch(/has 7 problems/);
  });

  it('refuses a config that could never accept a job, a bad cron, a missing key file and a lone client cert', () => {
    const p = writeConfig({ schedules: { heartbeat: 'every minute' }, broker: { url: 'mqtts://b:8883', cert: './client.crt' } });
    const message = problemsOf(() => loadAgentConfig({ configPath: p }));
    expect(message).toContain('trustedKeys: empty while allowUnsigned is false');
    expect(message).toContain('schedules.heartbeat');
    expect(message).toContain('broker.cert / broker.key');
    expect(message).toMatch(/broker\.cert: cannot read .*client\.crt/);
  });

  it('refuses a trusted key that is not ed25519', () => {
    const notKey = join(dir, 'not.pub');
    writeFileSync(notKey, 'hello');
    const message = problemsOf(() => loadAgentConfig({ flags: { trustedKeys: [notKey] } }));
    expect(message).toContain('trustedKeys[0]');
  });

  it('refuses MQTT 5 with the embedded broker (aedes speaks 3.1.1 only)', () => {
    const message = problemsOf(() => loadAgentConfig({ flags: { trustedKeys: [pub], broker: { protocolVersion: 5 } } }));
    expect(message).toContain('broker.protocolVersion');
  });

  it('says so when the file is missing or not JSON', () => {
    expect(problemsOf(() => loadAgentConfig({ configPath: join(dir, 'nope.json') }))).toContain('cannot read');
    expect(problemsOf(() => loadAgentConfig({ configPath: writeConfig('{ nope', 'broken.json') }))).toContain('not valid JSON');
    expect(problemsOf(() => loadAgentConfig({ configPath: writeConfig('[1]', 'array.json') }))).toContain('JSON object');
  });

  it('loads the shipped agent.config.json once its trusted key exists', () => {
    const shipped = join(import.meta.dirname, '../../../agent.config.json');
    const message = problemsOf(() => loadAgentConfig({ configPath: shipped }));
    expect(message).toMatch(/trustedKeys\[0\]: cannot read .*keys\/operator\.pub/);
    const { resolved } = loadAgentConfig({ configPath: shipped, checkFiles: false });
    expect(resolved.broker.url).toBe('embedded');
    expect(resolved.allowUnsigned).toBe(false);
  });
});

describe('mergeConfigValues', () => {
  it('merges objects key by key and replaces arrays', () => {
    expect(mergeConfigValues({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { c: 3 }, l: [9], u: undefined })).toEqual({ a: { b: 1, c: 3 }, l: [9] });
  });
});
