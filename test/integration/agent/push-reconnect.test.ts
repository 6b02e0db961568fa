/**
 * The operator's `pushJob` loses its own broker connection while the device keeps its: what the device publishes
 * meanwhile (its report, its chunk requests) must still reach the push, and the transfer must go on without waiting
 * for the device's stall timer. Found by test/reliability/broker-restart-transfer.test.ts, where the agent reconnects
 * to a restarted Mosquitto before the push does.
 *
 * The push reaches the broker through `gatedProxy`, the agent directly; closing the gate drops only the operator's
 * connection. Deterministic: nothing here depends on timing; a push that lost the report or the requests hangs
 * until its timeout and the test fails with its error.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { pushJob, type PushProgress, type PushResult } from '../../../src/operator/push-job.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { decodeMessage } from '../../../src/transport/messages.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { Topics } from '../../../src/transport/topics.js';
import { agentConfig, BROKER_KINDS, fleetDir, gatedProxy, sha256Of, startAgent, startTestBroker, testLogger, waitFor, type TestBroker } from './fleet-harness.js';

const PUSH_TIMEOUT_MS = 60_000;

describe.each(BROKER_KINDS)('pushJob whose own connection drops (%s)', (kind) => {
  const fleet = fleetDir();
  const topics = new Topics('edgetune/v1');
  let broker: TestBroker;
  let proxy: Awaited<ReturnType<typeof gatedProxy>>;
  let agent: Agent;
  /** Sees every chunk request the device publishes (straight to the broker). */
  let observer: MqttConnection;
  const requests: Array<{ atMs: number; missing: number[]; retry: boolean }> = [];

  beforeAll(async () => {
    broker = await startTestBroker(kind, fleet.dir);
    proxy = await gatedProxy(broker.port);
    // No stall re-request within the test: only the push itself can keep the transfer going.
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'dev', brokerUrl: broker.url, publicKey: fleet.publicKey, extra: { limits: { transferStallSeconds: 3600 } } }));
    observer = await connectOperator({ url: broker.url }, (m) => {
      const r = decodeMessage('requests', m.payload, 1024 * 1024);
      requests.push({ atMs: Date.now(), missing: r.missing, retry: r.retry === true });
    }, testLogger('observer'));
    await observer.subscribe([topics.device('dev', 'requests')], 1);
  });
  afterAll(async () => {
    await observer?.stop();
    await agent?.stop();
    await proxy?.stop();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const push = (o: { modelPath?: string; holdMs?: number; chunkSizeBytes?: number; onProgress?: (p: PushProgress) => void }): Promise<PushResult> =>
    pushJob({
      ...(o.modelPath ? { modelPath: o.modelPath } : {}),
      target: { device: 'dev' },
      action: 'ping',
      broker: { url: proxy.url },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: PUSH_TIMEOUT_MS,
      chunkSizeBytes: o.chunkSizeBytes ?? 65536,
      operatorDataDir: join(fleet.dir, 'operator'),
      ...(o.holdMs ? { jobOptions: { holdMs: o.holdMs } } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      log: testLogger('push'),
    });

  it('receives a report the device published while the push was disconnected', async () => {
    let jobId: string | null = null;
    const result = push({ holdMs: 2000, onProgress: (p) => (jobId ??= p.jobId) });
    await waitFor('the job stored by the device', () => jobId !== null && agent.store.getJob(jobId) !== undefined, 20_000, 5);
    expect(agent.store.listReports().some((r) => r.jobId === jobId)).toBe(false);
    proxy.close();
    // the device commits its report and the broker acknowledges it while the push has no connection
    await waitFor('the report sent by the device', () => agent.store.listReports().some((r) => r.jobId === jobId) && agent.store.pendingOutboxCount() === 0, 20_000);
    proxy.open();
    const r = await result;
    expect(r.reports.map((x) => [x.deviceId, x.state, x.reportId])).toEqual([['dev', 'ok', agent.store.listReports().find((x) => x.jobId === jobId)?.reportId]]);
  });

  it('serves the chunks the device asked for while the push was disconnected, without the device stalling', async () => {
    const modelPath = join(fleet.dir, 'artifact.bin');
    writeFileSync(modelPath, randomBytes(2 * 1024 * 1024));
    const sha = sha256Of(modelPath);
    const chunkSizeBytes = 16 * 1024;
    const chunks = (2 * 1024 * 1024) / chunkSizeBytes;
    let closedAtMs = 0;
    let cut = false;
    const result = push({
      modelPath,
      chunkSizeBytes,
      onProgress: (p) => {
        // cut the push's connection once the device has asked for a few windows
        if (!cut && (p.devices[0]?.received ?? 0) >= 20) {
          cut = true;
          closedAtMs = Date.now();
          proxy.close();
        }
      },
    });
    await waitFor('the push cut off', () => cut, 30_000, 5);
    // Either the device asks for more while the push is away (that request must wait for the push at the broker),
    // or it has received what was sent before the cut and waits for chunks it asked for that the push had queued or
    // lost with its connection (the push must send them once it is back). Open the gate once one of the two holds.
    const have = (): number => agent.store.receivedChunks(sha).length;
    let last = -1;
    let quietSince = Date.now();
    const askedWhileAway = await waitFor('a request while the push is away, or the device waiting', () => {
      if (requests.some((r) => r.atMs >= closedAtMs && r.missing.length > 0)) return 'asked';
      const n = have();
      if (n !== last) {
        last = n;
        quietSince = Date.now();
      }
      return Date.now() - quietSince > 1000 ? 'waiting' : null;
    }, 20_000, 5);
    expect(have()).toBeLessThan(chunks);
    proxy.open();
    const r = await result;
    expect(r.reports.map((x) => [x.deviceId, x.state])).toEqual([['dev', 'ok']]);
    expect(sha256Of(agent.paths.model(sha))).toBe(sha);
    // the device never re-asked: a stall re-request would be a retry, and reconnects are the device's, not ours
    expect(requests.filter((x) => x.retry)).toEqual([]);
    expect(r.chunksSent).toBeGreaterThanOrEqual(chunks);
    if (process.env.EDGETUNE_TEST_LOG) console.log(`${kind}: gate opened with the device ${askedWhileAway}; sent ${r.chunksSent}, re-sent ${r.chunksResent}`);
  });

  it('publishes the manifest and the job once its connection is back, when it dropped before them (group discovery)', async () => {
    const member = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'member', groups: ['late-link'], brokerUrl: broker.url, publicKey: fleet.publicKey }));
    try {
      const modelPath = join(fleet.dir, 'small.bin');
      writeFileSync(modelPath, randomBytes(100_000));
      const result = pushJob({
        modelPath,
        target: { group: 'late-link' },
        action: 'ping',
        broker: { url: proxy.url },
        topicPrefix: 'edgetune/v1',
        keyPath: fleet.privateKey,
        wait: true,
        timeoutMs: PUSH_TIMEOUT_MS,
        chunkSizeBytes: 16 * 1024,
        operatorDataDir: join(fleet.dir, 'operator'),
        discoveryMs: 3000,
        log: testLogger('push'),
      });
      // Cut the push's link while it listens for the group's members (3 s from its subscriptions, which take a few
      // ms after it connects) and keep it cut past the end of that wait, so that the manifest and the job fall due
      // while it has no connection.
      await waitFor('the push connected', () => proxy.connections() > 0, 20_000, 5);
      await new Promise((r) => setTimeout(r, 1000));
      proxy.close();
      await new Promise((r) => setTimeout(r, 3500));
      expect(member.store.listReports()).toEqual([]);
      proxy.open();
      const r = await result;
      expect(r.devices).toEqual(['member']);
      expect(r.reports.map((x) => [x.deviceId, x.state])).toEqual([['member', 'ok']]);
      expect(member.store.listReports().map((x) => x.jobId)).toEqual([r.jobId]);
    } finally {
      await member.stop();
    }
  });
});
