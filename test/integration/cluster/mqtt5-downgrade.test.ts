/**
 * Issue 18: on an MQTT 3.1.1 broker the MQTT 5 features the caller asked for are off, and the link says so in one
 * log line, once (not on every reconnect), naming each with its equivalent. aedes speaks 3.1.1 only and refuses 5,
 * as NATS does, so `protocolVersion: 'auto'` falls back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MqttConnection, type TransportLogger } from '../../../src/transport/mqtt-connection.js';
import { aedesBroker, freePort, waitFor, type TestBroker } from '../agent/fleet-harness.js';

describe('MQTT 5 features on a 3.1.1 broker', () => {
  let broker: TestBroker | null = null;
  let link: MqttConnection | null = null;
  afterAll(async () => {
    await link?.stop();
    await broker?.stop();
  });

  it('falls back to 3.1.1 and names what is off in one line, once', async () => {
    broker = aedesBroker(await freePort());
    await broker.start();
    const lines: string[] = [];
    const log: TransportLogger = { debug: () => undefined, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
    let connects = 0;
    link = new MqttConnection({
      url: broker.url, clientId: 'downgrade', protocolVersion: 'auto', clean: false, sessionExpirySeconds: 3600, keepaliveSeconds: 30,
      will: { topic: 't/status', payload: Buffer.from('offline'), qos: 1, retain: true, delaySeconds: 15 },
      receiveMaximum: 4, maximumPacketSizeBytes: 1 << 20, reconnectInitialMs: 50, reconnectMaxMs: 200, onMessage: () => undefined, log,
    });
    link.on('connect', () => (connects += 1));
    link.start();
    await link.waitForConnection(5000);
    expect(link.protocolVersion).toBe(4);
    await broker.stop();
    await broker.start();
    await waitFor('reconnected', () => connects >= 2 && link?.connected, 10_000);
    const off = lines.filter((l) => l.includes('these MQTT 5 features are off'));
    expect(off).toHaveLength(1);
    expect(off[0]).toMatch(/MQTT 3\.1\.1 \(the broker refused 5\)/);
    expect(off[0]).toMatch(/Receive Maximum 4 \(the broker's own in-flight limit applies: NATS mqtt\.max_ack_pending/);
    expect(off[0]).toMatch(/session expiry 3600 s \(the persistent session lasts until a clean connect\)/);
    expect(off[0]).toMatch(/Will Delay 15 s/);
    expect(off[0]).toMatch(/Maximum Packet Size/);
  });
});
