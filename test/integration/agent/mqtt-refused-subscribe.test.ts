/**
 * A broker that accepts CONNECT and refuses a SUBSCRIBE (SUBACK 0x80 — NATS does so under a connect storm in the
 * cluster bench; here aedes with an authorizeSubscribe hook, since Mosquitto 2.0's acl_file grants every SUBSCRIBE
 * and only withholds delivery): the link drops and reconnects to try again, and its backoff keeps growing across
 * those connects instead of restarting at the initial delay on every CONNACK — a fleet would otherwise hammer the
 * broker that is already failing it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { testLogger, waitFor } from './fleet-harness.js';

describe('MqttConnection against a broker that refuses a subscription', () => {
  let broker: Aedes;
  let server: Server;
  const sockets = new Set<Socket>();
  let url = '';

  beforeAll(async () => {
    broker = await Aedes.createBroker({
      // a null subscription is a refusal: SUBACK 0x80, the connection stays (an error would close it)
      authorizeSubscribe: (_client, sub, done) => (sub.topic.startsWith('forbidden/') ? done(null, null) : done(null, sub)),
    });
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a refused resubscribe backs off exponentially over reconnects; a live refusal rejects subscribe(); an allowed filter is granted', async () => {
    const connectTimes: number[] = [];
    const link = new MqttConnection({
      url,
      clientId: 'refused',
      protocolVersion: 'auto',
      clean: true,
      sessionExpirySeconds: 0,
      keepaliveSeconds: 10,
      reconnectInitialMs: 100,
      reconnectMaxMs: 10_000,
      onMessage: () => undefined,
      log: testLogger('refused'),
      random: () => 1, // no jitter: delays 100, 200, 400, 800 ms
    });
    link.on('connect', () => connectTimes.push(Date.now()));
    await link.subscribe(['forbidden/x'], 1); // offline: remembered, sent on every connect
    link.start();
    await waitFor('five connects', () => connectTimes.length >= 5, 20_000);
    await link.stop();
    const gaps = connectTimes.slice(1).map((t, i) => t - (connectTimes[i] as number));
    // each gap is the backoff delay (100 · 2^k ms) plus a connect; restarting the backoff at every CONNACK made
    // every gap ~100 ms
    expect(gaps[3]).toBeGreaterThanOrEqual(800);
    expect(gaps[3]! / gaps[0]!).toBeGreaterThan(3);

    const ok = new MqttConnection({
      url, clientId: 'allowed', protocolVersion: 'auto', clean: true, sessionExpirySeconds: 0, keepaliveSeconds: 10,
      reconnectInitialMs: 100, reconnectMaxMs: 10_000, onMessage: () => undefined, log: testLogger('allowed'),
    });
    ok.start();
    await ok.waitForConnection(10_000);
    await ok.subscribe(['allowed/x'], 1);
    await expect(ok.subscribe(['forbidden/y'], 1)).rejects.toMatchObject({ code: 'BROKER_FAILED' });
    await ok.stop();
  }, 40_000);
});
