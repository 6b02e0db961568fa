/**
 * Issue 18: a link with several broker nodes fails over to the next node when its node goes away, and round to the
 * first again when the node it moved to goes away too; subscriptions follow it. Two in-process aedes brokers stand
 * in for the nodes (the order of failover is the client's; the NATS cluster test covers a real cluster).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/agent/logger.js';
import { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { aedesBroker, freePort, testLogger, waitFor, type TestBroker } from '../agent/fleet-harness.js';

describe('failover between broker nodes', () => {
  const brokers: TestBroker[] = [];
  const links: MqttConnection[] = [];
  afterAll(async () => {
    await Promise.all(links.map((l) => l.stop()));
    await Promise.all(brokers.map((b) => b.stop()));
  });

  it('moves to the next node, back to the first, and keeps its subscriptions', async () => {
    const a = aedesBroker(await freePort());
    const b = aedesBroker(await freePort());
    brokers.push(a, b);
    await a.start();
    await b.start();
    const got: string[] = [];
    const connects: string[] = [];
    const link = new MqttConnection({
      url: a.url, urls: [a.url, b.url], clientId: 'failover-order', protocolVersion: 4, clean: false, sessionExpirySeconds: 0, keepaliveSeconds: 30,
      reconnectInitialMs: 50, reconnectMaxMs: 200, onMessage: (m) => void got.push(`${m.topic}=${m.payload.toString()}`), log: testLogger('failover'),
    });
    links.push(link);
    link.on('connect', () => connects.push(link.url));
    await link.subscribe(['t/jobs'], 1);
    link.start();
    await link.waitForConnection(5000);
    expect(link.url).toBe(a.url);

    const publishTo = async (broker: TestBroker, payload: string): Promise<void> => {
      const p = new MqttConnection({ url: broker.url, clientId: `pub-${payload}`, protocolVersion: 4, clean: true, sessionExpirySeconds: 0, keepaliveSeconds: 30, reconnectInitialMs: 50, reconnectMaxMs: 200, onMessage: () => undefined, log: silentLogger() });
      p.start();
      await p.waitForConnection(5000);
      await p.publish('t/jobs', payload, { qos: 1 });
      await p.stop();
    };

    await a.stop(); // node 1 gone: to node 2
    await waitFor('connected to node 2', () => link.connected && link.url === b.url, 10_000);
    await waitFor('subscribed on node 2', async () => {
      await publishTo(b, 'on-b');
      return got.includes('t/jobs=on-b');
    }, 10_000, 200);

    await a.start(); // node 1 back; node 2 gone: round to node 1
    await b.stop();
    await waitFor('connected to node 1 again', () => link.connected && link.url === a.url, 10_000);
    await waitFor('subscribed on node 1 again', async () => {
      await publishTo(a, 'on-a');
      return got.includes('t/jobs=on-a');
    }, 10_000, 200);
    expect(connects[0]).toBe(a.url);
    expect(connects).toContain(b.url);
    expect(connects[connects.length - 1]).toBe(a.url);
  });
});
