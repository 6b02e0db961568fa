import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttConnection, type IncomingMessage } from '../../../src/transport/mqtt-connection.js';
import { BROKER_KINDS, fleetDir, startTestBroker, testLogger, waitFor, type TestBroker } from './fleet-harness.js';

function link(url: string, clientId: string, onMessage: (m: IncomingMessage) => void | Promise<void>, clean = false): MqttConnection {
  const c = new MqttConnection({
    url,
    clientId,
    protocolVersion: 'auto',
    clean,
    sessionExpirySeconds: 3600,
    keepaliveSeconds: 10,
    reconnectInitialMs: 100,
    reconnectMaxMs: 500,
    onMessage,
    log: testLogger(clientId),
  });
  c.start();
  return c;
}

describe.each(BROKER_KINDS)('MqttConnection against %s', (kind) => {
  const fleet = fleetDir();
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startTestBroker(kind, fleet.dir);
  });
  afterAll(async () => {
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('acknowledges a QoS 1 message only after the handler finished: an unfinished one is delivered again to the resumed session', async () => {
    const got: string[] = [];
    let release: (() => void) | null = null;
    const first = link(broker.url, `ack-${kind}`, (m) => {
      got.push(`first:${m.payload.toString()}`);
      return new Promise<void>((resolve) => {
        release = resolve; // never called before the link goes away: no PUBACK
      });
    });
    await first.waitForConnection(10_000);
    await first.subscribe(['test/ack'], 1);
    const sender = link(broker.url, `sender-${kind}`, () => undefined, true);
    await sender.waitForConnection(10_000);
    await sender.publish('test/ack', 'job-1', { qos: 1 });
    await waitFor('the first link to get the message', () => got.length === 1, 10_000);
    await first.stop();
    expect(release).not.toBeNull();

    const second = link(broker.url, `ack-${kind}`, (m) => {
      got.push(`second:${m.payload.toString()}`);
    });
    await waitFor('redelivery to the resumed session', () => got.includes('second:job-1'), 15_000);
    await second.stop();
    await sender.stop();
    expect(got).toEqual(['first:job-1', 'second:job-1']);
  });

  it('reconnects by itself after a broker restart, subscribes again, and refuses to publish while offline', async () => {
    const got: string[] = [];
    const c = link(broker.url, `restart-${kind}`, (m) => {
      got.push(m.payload.toString());
    });
    await c.waitForConnection(10_000);
    await c.subscribe(['test/restart'], 1);
    let disconnects = 0;
    c.on('disconnect', () => (disconnects += 1));
    await broker.stop();
    await waitFor('the link to notice', () => !c.connected, 10_000);
    await expect(c.publish('test/restart', 'x', { qos: 1 })).rejects.toMatchObject({ code: 'BROKER_FAILED' });
    await broker.start();
    await c.waitForConnection(15_000);
    const sender = link(broker.url, `sender2-${kind}`, () => undefined, true);
    await sender.waitForConnection(10_000);
    await waitFor('the message after the restart', async () => {
      await sender.publish('test/restart', 'after', { qos: 1 });
      return got.includes('after');
    }, 10_000, 300);
    expect(disconnects).toBe(1);
    await sender.stop();
    await c.stop();
  });
});
