/**
 * Issue 18: `broker.urls` (the nodes of a clustered broker) beside `broker.url`, EDGETUNE_BROKER_URL(S) and the
 * operator's `--broker URL[,URL…]`: which wins, and what is refused with a clear message.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../src/transport/signature.js';
import { loadAgentConfig } from '../../../src/config/load-agent-config.js';
import { operatorSettingsFrom, parseBrokerList } from '../../../src/cli/commands/operator-options.js';
import { EdgetuneError, exitCodeFor } from '../../../src/util/errors.js';

let dir: string;
let pub: string;
const A = 'mqtt://10.0.0.1:1883';
const B = 'mqtt://10.0.0.2:1883';
const C = 'mqtts://broker-3.example:8883';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-urls-'));
  pub = join(dir, 'operator.pub');
  writeFileSync(pub, generateSigningKeyPair().publicKeyPem);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(broker: Record<string, unknown>): string {
  const p = join(dir, 'agent.config.json');
  writeFileSync(p, JSON.stringify({ deviceId: 'pi-01', trustedKeys: [pub], broker }));
  return p;
}

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect((error as EdgetuneError).code).toBe('CONFIG_INVALID');
    return (error as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('broker.urls', () => {
  it('a list in the file: url is its first node', () => {
    const { resolved } = loadAgentConfig({ configPath: config({ urls: [A, B, C] }) });
    expect(resolved.broker.urls).toEqual([A, B, C]);
    expect(resolved.broker.url).toBe(A);
  });

  it('url alone (or the embedded broker) has no list', () => {
    expect(loadAgentConfig({ configPath: config({ url: A }) }).resolved.broker.urls).toBeUndefined();
    expect(loadAgentConfig({ configPath: config({}) }).resolved.broker).toMatchObject({ url: 'embedded' });
    expect(loadAgentConfig({ configPath: config({}) }).resolved.broker.urls).toBeUndefined();
  });

  it('EDGETUNE_BROKER_URL with commas (or EDGETUNE_BROKER_URLS) names the nodes and wins over the file', () => {
    const p = config({ url: C });
    expect(loadAgentConfig({ configPath: p, env: { EDGETUNE_BROKER_URL: `${A}, ${B}` } }).resolved.broker).toMatchObject({ url: A, urls: [A, B] });
    expect(loadAgentConfig({ configPath: p, env: { EDGETUNE_BROKER_URLS: `${B},${A}` } }).resolved.broker).toMatchObject({ url: B, urls: [B, A] });
  });

  it('a single url from a higher layer replaces the file list', () => {
    const { resolved } = loadAgentConfig({ configPath: config({ urls: [A, B] }), flags: { broker: { url: C } }, flagLabels: { 'broker.url': '--broker' } });
    expect(resolved.broker.url).toBe(C);
    expect(resolved.broker.urls).toBeUndefined();
  });

  it('refuses a list that is empty, repeats a node, holds a non-MQTT URL, or disagrees with url in the same file', () => {
    expect(problemsOf(() => loadAgentConfig({ configPath: config({ urls: [] }) }))).toMatch(/broker\.urls: must list at least one node/);
    expect(problemsOf(() => loadAgentConfig({ configPath: config({ urls: [A, A] }) }))).toMatch(/broker\.urls: lists a node twice/);
    expect(problemsOf(() => loadAgentConfig({ configPath: config({ urls: [A, 'http://10.0.0.2'] }) }))).toMatch(/broker\.urls\.1: must be an mqtt:\/\/ or mqtts:\/\/ URL/);
    expect(problemsOf(() => loadAgentConfig({ configPath: config({ url: B, urls: [A, B] }) }))).toMatch(/broker\.url \/ broker\.urls: give one of them/);
  });
});

describe('--broker URL[,URL…]', () => {
  it('splits the list, trims spaces, and keeps a single URL as before', () => {
    expect(parseBrokerList(`${A}, ${B},${C}`)).toEqual([A, B, C]);
    expect(operatorSettingsFrom({ broker: `${A},${B}` }).broker).toMatchObject({ url: A, urls: [A, B] });
    expect(operatorSettingsFrom({ broker: A }).broker).toMatchObject({ url: A });
    expect(operatorSettingsFrom({ broker: A }).broker.urls).toBeUndefined();
  });

  it('refuses a malformed list with USAGE (exit 2), naming each bad node', () => {
    for (const [text, pattern] of [
      [`${A},,${B}`, /node 2 is empty/],
      [`${A},http://x:1`, /node 2 'http:\/\/x:1' is not an mqtt:\/\/ or mqtts:\/\/ URL/],
      [`${A},${A}`, /node 2 '.*' is listed twice/],
      [`${A},mqtt://h:1/path`, /node 2 'mqtt:\/\/h:1\/path' is not/],
    ] as const) {
      let caught: unknown = null;
      try {
        parseBrokerList(text);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(EdgetuneError);
      expect((caught as EdgetuneError).code).toBe('USAGE');
      expect((caught as Error).message).toMatch(pattern);
      expect(exitCodeFor(caught)).toBe(2);
    }
  });
});
