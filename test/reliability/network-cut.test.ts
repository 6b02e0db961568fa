/**
 * Issue 8, "Faults": cut the network between the agent and Mosquitto with a TCP proxy on loopback that the test
 * controls (closing it drops the live connection and refuses new ones). While it is cut, jobs already received
 * finish and their reports queue in the agent's SQLite outbox; the agent is even SIGKILLed and restarted during the
 * cut; the retained status read by a fresh subscriber is `offline` (the Last Will). After the cut heals, every
 * report reaches the operator store exactly once and the status is `online` again.
 * Defaults: 5 cuts, 3 jobs each (EDGETUNE_FAULT_ROUNDS).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentPaths } from '../../src/agent/agent-paths.js';
import { FleetInbox } from '../../src/operator/fleet-inbox.js';
import { connectOperator } from '../../src/operator/operator-link.js';
import { openDatabase } from '../../src/store/database.js';
import { AGENT_MIGRATIONS } from '../../src/store/migrations.js';
import { OperatorStore } from '../../src/store/operator-store.js';
import { encodeMessage } from '../../src/transport/messages.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { parsePrivateKey } from '../../src/transport/signature.js';
import {
  agentConfigObject, fleetDir, gatedProxy, HAVE_MOSQUITTO, ManualOperator, pingJob, spawnAgentProcess, startTestBroker, testLogger, waitFor, type TestBroker,
} from '../integration/agent/fleet-harness.js';
import { faultRounds } from './faults/fault-settings.js';

const ROUNDS = faultRounds(5);
const JOBS = 3;

/** The retained status as a subscriber that connects now sees it. */
async function retainedStatus(url: string, topic: string): Promise<string | null> {
  let state: string | null = null;
  const c = await connectOperator({ url }, (m) => {
    if (m.topic === topic && m.payload.length > 0) state = (JSON.parse(m.payload.toString()) as { state: string }).state;
  }, testLogger('probe'));
  try {
    await c.subscribe([topic], 1);
    await waitFor('the retained status', () => state, 5_000, 20);
    return state;
  } finally {
    await c.stop();
  }
}

function pendingReports(dbPath: string): number {
  const db = openDatabase(dbPath, AGENT_MIGRATIONS, { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND topic LIKE '%/reports'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe.skipIf(!HAVE_MOSQUITTO)(`network between agent and Mosquitto cut ${ROUNDS} times`, () => {
  const fleet = fleetDir();
  let broker: TestBroker;
  let op: ManualOperator;
  let collector: MqttConnection | null = null;
  let store: OperatorStore;
  let proxy: Awaited<ReturnType<typeof gatedProxy>>;
  let agent: ReturnType<typeof spawnAgentProcess> | null = null;

  beforeAll(async () => {
    broker = await startTestBroker('mosquitto', fleet.dir);
    proxy = await gatedProxy(broker.port);
    op = new ManualOperator(broker.url);
    await op.connect();
    store = new OperatorStore(join(fleet.dir, 'operator', 'operator.db'));
    const inbox = new FleetInbox(store, op.topics, testLogger('collector'));
    collector = await connectOperator({ url: broker.url }, (m) => {
      const parsed = op.topics.parse(m.topic);
      if (parsed) inbox.handle(parsed, m.payload);
    }, testLogger('collector'));
    await collector.subscribe([op.topics.allDevices('reports')], 1);
  });
  afterAll(async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent?.child.once('exit', r));
    }
    await collector?.stop();
    await op?.close();
    await proxy?.stop();
    await broker?.stop();
    store?.close();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('reports queue in the outbox through the cut (and an agent restart), status is offline by the Will, all drain exactly once after it heals', async () => {
    const configPath = join(fleet.dir, 'agent.json');
    const config = agentConfigObject({
      dir: fleet.dir, deviceId: 'dev', brokerUrl: proxy.url, publicKey: fleet.publicKey,
      extra: { broker: { keepaliveSeconds: 2, willDelaySeconds: 0, reconnectInitialMs: 200, reconnectMaxMs: 1000 } },
    });
    writeFileSync(configPath, JSON.stringify(config));
    const paths = new AgentPaths(config.dataDir as string);
    const key = parsePrivateKey(readFileSync(fleet.privateKey), 'key');
    const statusTopic = op.topics.device('dev', 'status');
    const jobIds: string[] = [];
    agent = spawnAgentProcess(configPath);
    await waitFor('agent online', () => op.statuses.get('dev') === 'online', 60_000);

    for (let round = 0; round < ROUNDS; round++) {
      const ids: string[] = [];
      for (let j = 0; j < JOBS; j++) {
        const job = pingJob('dev', key, { holdMs: 800 });
        ids.push(job.jobId);
        await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', job));
      }
      jobIds.push(...ids);
      // Cut only once the agent holds every job of the round (received and queued) and runs the first: otherwise a
      // job still in flight from the broker at the cut is (correctly) delivered after it heals, not reported during it.
      await waitFor('every job of the round queued, the first running', () => {
        const db = openDatabase(paths.database, AGENT_MIGRATIONS, { readonly: true });
        try {
          const states = ids.map((id) => (db.prepare('SELECT state FROM jobs WHERE job_id = ?').get(id) as { state: string } | undefined)?.state);
          return states.every((st) => st !== undefined) && states[0] === 'running';
        } finally {
          db.close();
        }
      }, 30_000, 20);
      proxy.close();
      await waitFor('offline by the Last Will', () => op.statuses.get('dev') === 'offline', 15_000);
      expect(await retainedStatus(broker.url, statusTopic)).toBe('offline');
      await waitFor(`${JOBS} reports queued in the outbox`, () => pendingReports(paths.database) >= JOBS, 30_000);
      expect(ids.filter((id) => store.listReports({ jobId: id }).length > 0)).toEqual([]);
      // the queue is durable: a kill and a restart during the cut lose nothing
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent?.child.once('exit', r));
      agent = spawnAgentProcess(configPath);
      await new Promise((r) => setTimeout(r, 1500));
      expect(pendingReports(paths.database)).toBeGreaterThanOrEqual(JOBS);
      expect(await retainedStatus(broker.url, statusTopic)).toBe('offline');

      proxy.open();
      await waitFor('every report of the round at the operator', () => ids.every((id) => store.listReports({ jobId: id }).length > 0), 60_000);
      await waitFor('online again', () => op.statuses.get('dev') === 'online', 15_000);
      await waitFor('the outbox drained', () => pendingReports(paths.database) === 0, 15_000);
    }
    expect(jobIds.map((id) => store.listReports({ jobId: id }).length)).toEqual(Array(jobIds.length).fill(1));
    expect(store.listReports({ deviceId: 'dev' }).every((r) => r.state === 'ok')).toBe(true);
    console.log(`network cut: ${ROUNDS} cuts (each with an agent SIGKILL + restart inside), ${jobIds.length} reports queued and delivered once each`);
    agent.child.kill('SIGTERM');
    expect(await new Promise((r) => agent?.child.once('exit', (c) => r(c)))).toBe(0);
  }, 600_000);
});
