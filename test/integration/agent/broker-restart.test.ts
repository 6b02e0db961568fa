import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { FleetInbox } from '../../../src/operator/fleet-inbox.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { OperatorStore } from '../../../src/store/operator-store.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { Topics } from '../../../src/transport/topics.js';
import { agentConfig, BROKER_KINDS, fleetDir, gatedProxy, startAgent, startTestBroker, testLogger, waitFor, type TestBroker } from './fleet-harness.js';

const HOLD_MS = 1500;

describe.each(BROKER_KINDS)('broker (%s) restarted while reports are pending', (kind) => {
  const fleet = fleetDir();
  const topics = new Topics('edgetune/v1');
  let broker: TestBroker;
  let agent: Agent;
  let store: OperatorStore;
  let collector: MqttConnection | null = null;
  let proxy: Awaited<ReturnType<typeof gatedProxy>>;

  /** The operator's report collector: every report into the operator store (de-duplicated by reportId). */
  async function connectCollector(): Promise<void> {
    const inbox = new FleetInbox(store, topics, testLogger('collector'));
    collector = await connectOperator(
      { url: broker.url },
      (m) => {
        const parsed = topics.parse(m.topic);
        if (parsed) inbox.handle(parsed, m.payload);
      },
      testLogger('collector'),
    );
    await collector.subscribe([topics.allDevices('reports')], 1);
  }

  beforeAll(async () => {
    broker = await startTestBroker(kind, fleet.dir);
    store = new OperatorStore(join(fleet.dir, 'operator', 'operator.db'));
    // The agent reaches the broker through a gated proxy, so that the test can let it back only once the operator
    // has subscribed again (a broker without persistence forgets every subscription when it restarts).
    proxy = await gatedProxy(broker.port);
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'dev', brokerUrl: proxy.url, publicKey: fleet.publicKey, extra: { broker: { reconnectInitialMs: 200, reconnectMaxMs: 1000 } } }));
    await connectCollector();
  });
  afterAll(async () => {
    await collector?.stop();
    await agent?.stop();
    await proxy?.stop();
    await broker?.stop();
    store?.close();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('re-publishes every pending report with the same reportId after the broker comes back; none is lost', async () => {
    const jobIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await pushJob({
        target: { device: 'dev' },
        action: 'ping',
        broker: { url: broker.url },
        topicPrefix: 'edgetune/v1',
        keyPath: fleet.privateKey,
        wait: false,
        timeoutMs: 10_000,
        chunkSizeBytes: 65536,
        operatorDataDir: join(fleet.dir, 'pusher'),
        jobOptions: { holdMs: HOLD_MS },
        log: testLogger('pusher'),
      });
      jobIds.push(r.jobId);
    }
    await waitFor('all three jobs stored by the agent', () => jobIds.every((id) => agent.store.getJob(id)), 10_000);
    await waitFor('the first job running', () => agent.store.getJob(jobIds[0] as string)?.state === 'running', 10_000);

    await collector?.stop();
    collector = null;
    proxy.close();
    await broker.stop();
    await waitFor('three reports committed while the broker is down', () => agent.store.listReports().filter((r) => jobIds.includes(r.jobId)).length === 3, 20_000);
    expect(agent.connected).toBe(false);
    expect(agent.store.pendingOutboxCount()).toBe(3);
    const committed = agent.store.listReports().filter((r) => jobIds.includes(r.jobId));

    await broker.start();
    await connectCollector();
    proxy.open();
    await waitFor('all reports at the operator', () => store.listReports().filter((r) => jobIds.includes(r.jobId)).length === 3, 30_000);
    await waitFor('the outbox drained', () => agent.store.pendingOutboxCount() === 0, 10_000);

    const received = store.listReports().filter((r) => jobIds.includes(r.jobId));
    expect(received.map((r) => r.reportId).sort()).toEqual(committed.map((r) => r.reportId).sort());
    expect(received.every((r) => r.state === 'ok')).toBe(true);
    // the per-device sequence numbers have no gap
    const seqs = committed.map((r) => r.seq).sort((a, b) => a - b);
    expect(seqs).toEqual([seqs[0], (seqs[0] as number) + 1, (seqs[0] as number) + 2]);
  });
});
