/**
 * A clustered broker can store the Will ('offline') of an agent's earlier link after the 'online' of its current one
 * (NATS, while a node is lost: the node-loss test saw it). The agent reads its own retained status and publishes
 * 'online' again when the broker holds 'offline' while it is connected. Here the stale Will is published by hand,
 * retained, on a real broker; a fresh subscriber must then read 'online'. A stopped agent stays 'offline'.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { encodeMessage } from '../../../src/transport/messages.js';
import { Topics } from '../../../src/transport/topics.js';
import { edgetuneVersion } from '../../../src/agent/version.js';
import { agentConfig, BROKER_KINDS, fleetDir, startAgent, startTestBroker, testLogger, waitFor } from './fleet-harness.js';

const topics = new Topics('edgetune/v1');

/** The retained status of `deviceId` as a fresh subscriber reads it (null when none within the settle time). */
async function retainedStatus(url: string, deviceId: string): Promise<string | null> {
  let state: string | null = null;
  const watcher = await connectOperator({ url }, (m) => {
    if (m.topic === topics.device(deviceId, 'status') && m.payload.length > 0) state = (JSON.parse(m.payload.toString()) as { state: string }).state;
  }, testLogger('watcher'));
  try {
    await watcher.subscribe([topics.device(deviceId, 'status')], 1);
    await new Promise((r) => setTimeout(r, 300));
    return state;
  } finally {
    await watcher.stop();
  }
}

describe.each(BROKER_KINDS)('a stale retained offline for a connected agent (%s)', (kind) => {
  const fleet = fleetDir();
  afterAll(() => rmSync(fleet.dir, { recursive: true, force: true }));

  it('is corrected to online by the agent; after stop() the status stays offline', async () => {
    const broker = await startTestBroker(kind, fleet.dir);
    const agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: `alive-${kind}`, brokerUrl: broker.url, publicKey: fleet.publicKey }));
    try {
      await waitFor('online retained', async () => (await retainedStatus(broker.url, `alive-${kind}`)) === 'online', 10_000, 100);
      const staleWill = encodeMessage('status', { state: 'offline', version: edgetuneVersion(), since: new Date(Date.now() - 60_000).toISOString(), deviceId: `alive-${kind}` });
      const publisher = await connectOperator({ url: broker.url }, () => undefined, testLogger('stale'));
      await publisher.publish(topics.device(`alive-${kind}`, 'status'), staleWill, { qos: 1, retain: true });
      await publisher.stop();
      await waitFor('the agent to publish online again', async () => (await retainedStatus(broker.url, `alive-${kind}`)) === 'online', 10_000, 100);

      await agent.stop();
      // its own final 'offline' is not corrected (nor is anything after stop)
      await new Promise((r) => setTimeout(r, 1500));
      expect(await retainedStatus(broker.url, `alive-${kind}`)).toBe('offline');
    } finally {
      await agent.stop();
      await broker.stop();
    }
  }, 60_000);
});
