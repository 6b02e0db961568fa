import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { createCliServices } from '../../../src/agent/agent-services.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { Topics } from '../../../src/transport/topics.js';
import { agentConfig, fleetDir, MNIST_MLP, runCli, startAgent, testLogger, waitFor } from './fleet-harness.js';

const OVERRIDE = { memory: { bandwidthGBps: { value: 3.2, estimated: false, source: 'measured with stream on this board' } } };

/** agent.config.json `deviceProfile` reaches the agent's hardware probe (`edgetune hw` child) and its hello. */
describe('deviceProfile in the agent config', () => {
  const fleet = fleetDir();
  let agent: Agent | undefined;
  afterAll(async () => {
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('edgetune hw --profile/--profile-override force and amend the profile; bad input is exit 2', async () => {
    const ok = await runCli(['hw', '--json', '--profile', 'pi4', '--profile-override', JSON.stringify(OVERRIDE)]);
    expect(ok.code, ok.stderr).toBe(0);
    const hw = JSON.parse(ok.stdout) as { profile: string; profileMatch: { by: string }; figures: { memoryBandwidthGBps: { value: number; estimated: boolean } } };
    expect(hw.profile).toBe('pi4');
    expect(hw.profileMatch.by).toBe('requested');
    expect(hw.figures.memoryBandwidthGBps).toMatchObject({ value: 3.2, estimated: false });
    const bad = await runCli(['hw', '--json', '--profile-override', '{not json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'USAGE' } }); // --json: the error object, nothing else
    expect(bad.stderr).toMatch(/--profile-override is not JSON/);
  });

  it("the agent's retained hello carries the configured profile with its override", async () => {
    agent = await startAgent(
      agentConfig({ dir: fleet.dir, deviceId: 'forced', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 }, deviceProfile: { name: 'pi4', override: OVERRIDE } } }),
    );
    let hello: Record<string, any> | null = null;
    const topics = new Topics('edgetune/v1');
    const link = await connectOperator({ url: agent.brokerUrl }, (m) => {
      if (m.payload.length > 0) hello = JSON.parse(m.payload.toString()) as Record<string, any>;
    }, testLogger('op'));
    try {
      await link.subscribe([topics.device('forced', 'hello')], 1);
      // The first hello may go out before the probe finished (hw null); the probe's result re-publishes it.
      const h = await waitFor('hello with the probed hardware', () => (hello?.hw ? hello : null), 60_000);
      const hw = h.hw as Record<string, any>;
      expect(h.profile).toBe('pi4');
      expect(hw.profile).toBe('pi4');
      expect(hw.profileMatch.by).toBe('requested');
      expect(hw.deviceProfile.memory.bandwidthGBps.value).toBe(3.2);
    } finally {
      await link.stop();
    }
  });

  it("the agent's plan child plans for the configured profile (EDGETUNE_DEVICE_PROFILE); a malformed value is exit 2", async () => {
    // the agent's own service wiring, with the real `edgetune plan` child process
    const services = createCliServices({ deviceProfile: { name: 'pi4', override: OVERRIDE } });
    const plan = (await services.plan(MNIST_MLP, { signal: new AbortController().signal, timeoutMs: 60_000, workDir: fleet.dir })) as { profile: string };
    expect(plan.profile).toBe('pi4');
    const unset = (await createCliServices().plan(MNIST_MLP, { signal: new AbortController().signal, timeoutMs: 60_000, workDir: fleet.dir })) as { profile: string };
    expect(unset.profile).not.toBe('pi4'); // this x86 machine matches another profile by itself
    const bad = await runCli(['plan', MNIST_MLP, '--json'], { env: { EDGETUNE_DEVICE_PROFILE: '{"name": 3}' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/EDGETUNE_DEVICE_PROFILE: name/);
  });
});
