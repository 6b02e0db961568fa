import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { openDatabase } from '../../../src/store/database.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { agentConfig, fleetDir, MNIST_MLP, runCli, startAgent, startTestBroker, testLogger, type TestBroker } from '../agent/fleet-harness.js';

/**
 * `edgetune rollout` refuses bad input with exit 2 and a message naming the problem, and pushes nothing: no job or
 * manifest reaches the broker (a subscriber on every topic watches), no push or rollout lands in the operator store.
 * Through the built CLI (`npm run build` first), one real agent in group 'cameras' on the embedded broker.
 */
describe('rollout: bad input is exit 2 and nothing is pushed', () => {
  const fleet = fleetDir();
  const opDir = join(fleet.dir, 'operator');
  let broker: TestBroker;
  let agent: Agent;
  let spy: MqttConnection;
  const published: string[] = [];
  const common = (): string[] => ['--broker', broker.url, '--data-dir', opDir, '--key', fleet.privateKey];

  beforeAll(async () => {
    broker = await startTestBroker('aedes', fleet.dir);
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'cam-01', groups: ['cameras'], brokerUrl: broker.url, publicKey: fleet.publicKey }));
    spy = await connectOperator({ url: broker.url }, (m) => {
      published.push(m.topic);
    }, testLogger('spy'));
    await spy.subscribe(['edgetune/v1/#'], 1);
  }, 60_000);
  afterAll(async () => {
    await spy?.stop();
    await agent?.stop();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  function nothingPushed(): void {
    expect(published.filter((t) => /\/(jobs|manifest|chunks)(\/|$)/.test(t))).toEqual([]);
    if (!existsSync(join(opDir, 'operator.db'))) return;
    const db = openDatabase(join(opDir, 'operator.db'), [], { readonly: true });
    try {
      expect((db.prepare('SELECT COUNT(*) AS n FROM pushes').get() as { n: number }).n).toBe(0);
      expect((db.prepare('SELECT COUNT(*) AS n FROM rollouts').get() as { n: number }).n).toBe(0);
    } finally {
      db.close();
    }
  }

  it.each([
    ['stages that do not increase', ['--stages', '25%,5%,100%'], /--stages '25%,5%,100%' must increase: 5% does not exceed 25%/],
    ['stages that do not end at 100 %', ['--stages', '5%,50%'], /--stages '5%,50%' must end at 100%/],
    ['a stage over 100 %', ['--stages', '50%,120%'], /'120%' is not a percentage in \(0, 100\]/],
    ['--min-success above 1', ['--min-success', '1.5'], /--min-success 1.5 must be a number in \[0, 1\]/],
    ['--abort-failure-rate below 0', ['--abort-failure-rate', '-0.1'], /--abort-failure-rate -0.1 must be a number in \[0, 1\]/],
    ['a non-positive stage timeout', ['--stage-timeout-s', '0'], /--stage-timeout-s 0 must be a positive number/],
    ['a job option the deploy does not take', ['--option', 'iteratons=3'], /iteratons/],
  ])('%s', async (_what, flags, message) => {
    const r = await runCli(['rollout', MNIST_MLP, '--group', 'cameras', ...flags, ...common(), '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'USAGE' } });
    nothingPushed();
  }, 30_000);

  it('an unknown group', async () => {
    const r = await runCli(['rollout', MNIST_MLP, '--group', 'no-such-group', ...common()]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/no device announces group 'no-such-group' on this broker .*nothing was pushed/);
    nothingPushed();
  }, 30_000);

  it('a resume or status of an unknown rollout', async () => {
    const fresh = join(fleet.dir, 'no-store');
    const none = await runCli(['rollout', '--resume', 'ro-nope', '--broker', broker.url, '--data-dir', fresh]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no rollout 'ro-nope': there is no operator store at .*no-store/);
    expect(existsSync(fresh)).toBe(false);
    // a store that exists (the unknown-group case above wrote the devices it saw) but holds no such rollout
    const r = await runCli(['rollout', '--resume', 'ro-nope', ...common()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no rollout 'ro-nope' in .*operator\.db \(it holds no rollouts\); nothing was pushed/);
    const s = await runCli(['rollout', 'status', 'ro-nope', '--data-dir', opDir, '--json']);
    expect(s.code).toBe(2);
    expect(JSON.parse(s.stdout)).toMatchObject({ error: { code: 'USAGE', message: expect.stringMatching(/no rollout 'ro-nope'/) } });
    nothingPushed();
  }, 30_000);
});
