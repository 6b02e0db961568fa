/**
 * Issue 18, bad input: a `--broker` node list of which no node answers is a wrong list, not a passing fault: a clear
 * message naming every node and why, BROKER_UNREACHABLE, exit 2. Needs no broker (the ports are closed).
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/agent/logger.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { EdgetuneError, exitCodeFor } from '../../../src/util/errors.js';
import { freePort, runCli } from '../agent/fleet-harness.js';

describe('an unreachable node list', () => {
  it('connectOperator gives BROKER_UNREACHABLE naming each node', async () => {
    const urls = [`mqtt://127.0.0.1:${await freePort()}`, `mqtt://127.0.0.1:${await freePort()}`];
    let caught: unknown = null;
    try {
      await connectOperator({ url: urls[0] as string, urls, connectTimeoutMs: 3000 }, () => undefined, silentLogger());
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EdgetuneError);
    expect((caught as EdgetuneError).code).toBe('BROKER_UNREACHABLE');
    for (const u of urls) expect((caught as Error).message).toContain(`${u} (ECONNREFUSED)`);
    expect(exitCodeFor(caught)).toBe(2);
  });

  it('`devices --broker A,B` exits 2 with the message; a malformed list exits 2 before connecting', async () => {
    const urls = [`mqtt://127.0.0.1:${await freePort()}`, `mqtt://127.0.0.1:${await freePort()}`];
    const r = await runCli(['devices', '--broker', urls.join(',')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no broker node answers: .*ECONNREFUSED.*\[BROKER_UNREACHABLE\]/);
    const json = await runCli(['devices', '--broker', urls.join(','), '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'BROKER_UNREACHABLE' } });
    const bad = await runCli(['devices', '--broker', `${urls[0]},,ftp://x`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/node 2 is empty; node 3 'ftp:\/\/x' is not an mqtt:\/\/ or mqtts:\/\/ URL.*\[USAGE\]/);
  });
});
