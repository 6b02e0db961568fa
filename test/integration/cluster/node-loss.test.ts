/**
 * Issue 18: a group push through a three-node NATS cluster (MQTT 3.1.1 on JetStream, R3) while the node that the
 * operator and half the agents are connected to is SIGKILLed mid-transfer and restarted later. Every device must end
 * with the verified artifact and exactly one report at the operator; retained status and manifests must survive the
 * node loss; the Last Will of an agent that is cut off after failing over must still show it offline.
 *
 * Agents speak `protocolVersion` unset (MQTT 5, falling back to 3.1.1: NATS refuses 5), so the fallback is tested too.
 * Skipped, loudly, when nats-server is not installed (Debian: apt-get install nats-server; `.ci/run` installs it).
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { pushJob, type PushResult } from '../../../src/operator/push-job.js';
import { OperatorStore } from '../../../src/store/operator-store.js';
import { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { Topics } from '../../../src/transport/topics.js';
import { NATS_SERVER, startNatsCluster, type NatsCluster } from '../../../scripts/lib/nats-cluster.js';
import { agentConfig, fleetDir, gatedProxy, sha256Of, startAgent, testLogger, waitFor } from '../agent/fleet-harness.js';

const AGENTS = 6;
const MB = 2;
const CHUNK_BYTES = 16 * 1024;

if (NATS_SERVER === null) console.warn('test/integration/cluster: SKIPPED — nats-server is not installed (Debian: apt-get install nats-server)');

describe.skipIf(NATS_SERVER === null)(`a group push through a NATS cluster that loses a node${NATS_SERVER === null ? ' (SKIPPED: nats-server not installed)' : ''}`, () => {
  const fleet = fleetDir();
  const topics = new Topics('edgetune/v1');
  let cluster: NatsCluster;
  const agents: Agent[] = [];
  let cut: Agent | null = null;
  let proxies: Array<Awaited<ReturnType<typeof gatedProxy>>> = [];
  let watcher: MqttConnection | null = null;

  beforeAll(async () => {
    cluster = await startNatsCluster({ dir: fleet.dir });
    const [n1, n2, n3] = cluster.urls as [string, string, string];
    // half the agents start on n1 (the node that dies), half on n2; each lists every node
    for (let i = 0; i < AGENTS; i++) {
      const urls = i % 2 === 0 ? [n1, n2, n3] : [n2, n3, n1];
      agents.push(await startAgent(agentConfig({ dir: fleet.dir, deviceId: `dev-${i}`, groups: ['cams'], brokerUrl: urls[0] as string, publicKey: fleet.publicKey, extra: { broker: { urls } } })));
    }
    // the agent that is cut off later: reaches n1 and n2 through gates the test closes
    proxies = [await gatedProxy(cluster.nodes[0]!.mqttPort), await gatedProxy(cluster.nodes[1]!.mqttPort)];
    const cutUrls = proxies.map((p) => p.url);
    cut = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'cut', groups: ['elsewhere'], brokerUrl: cutUrls[0] as string, publicKey: fleet.publicKey, extra: { broker: { urls: cutUrls } } }));
  }, 120_000);

  afterAll(async () => {
    await watcher?.stop();
    await Promise.all([...agents, ...(cut ? [cut] : [])].map((a) => a.stop()));
    await Promise.all(proxies.map((p) => p.stop()));
    await cluster?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  }, 60_000);

  it('every device ends with the verified artifact and exactly one report; retained status, manifest and Will survive', async () => {
    const [n1, n2, n3] = cluster.urls as [string, string, string];
    const modelPath = join(fleet.dir, 'artifact.bin');
    writeFileSync(modelPath, randomBytes(MB * 1024 * 1024));
    const sha = sha256Of(modelPath);
    const chunks = (MB * 1024 * 1024) / CHUNK_BYTES;
    let killedAt: number | null = null;
    let killing: Promise<void> | null = null;
    const operatorDir = join(fleet.dir, 'operator');
    const result: Promise<PushResult> = pushJob({
      modelPath,
      target: { group: 'cams' },
      action: 'ping',
      broker: { url: n1, urls: [n1, n2, n3] },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 150_000,
      chunkSizeBytes: CHUNK_BYTES,
      operatorDataDir: operatorDir,
      log: testLogger('push'),
      onProgress: (p) => {
        // mid-transfer: some device has a fifth of the chunks, none has them all
        if (killing === null && p.devices.some((d) => d.received >= chunks / 5) && !p.devices.some((d) => d.complete)) {
          killedAt = Date.now();
          killing = cluster.nodes[0]!.kill('SIGKILL');
        }
      },
    });
    await waitFor('n1 killed mid-transfer', () => killedAt !== null, 60_000, 5);
    await killing;
    // the agents of n1 fail over; the cut agent moves to its second gate (n2)
    await waitFor('every agent connected again', () => [...agents, cut!].every((a) => a.connected), 60_000);
    const stillMissing = agents.filter((a) => a.store.receivedChunks(sha).length < chunks).length;
    // n1 comes back while the push goes on (or has just finished); on a loaded machine its JetStream takes a while
    // to catch up with the other two before /healthz says ok
    await cluster.nodes[0]!.start(150_000);
    const r = await result;

    expect(killedAt).not.toBeNull();
    expect(r.devices).toEqual(agents.map((_, i) => `dev-${i}`));
    expect(r.reports.map((x) => [x.deviceId, x.state])).toEqual(agents.map((_, i) => [`dev-${i}`, 'ok']));
    for (const a of agents) expect(sha256Of(a.paths.model(sha))).toBe(sha);
    // exactly one report per device at the operator, in its store as well as in the result
    const store = new OperatorStore(join(operatorDir, 'operator.db'), { readonly: true });
    try {
      const rows = store.listReports({ jobId: r.jobId });
      expect(rows.map((x) => x.deviceId).sort()).toEqual(agents.map((_, i) => `dev-${i}`));
    } finally {
      store.close();
    }
    for (const a of agents) expect(a.store.listReports().filter((x) => x.jobId === r.jobId)).toHaveLength(1);

    // the push's own persistent session is gone (MQTT 3.1.1 has no expiry; the push discards it at the end)
    let sessionPresent: boolean | null = null;
    const probe = new MqttConnection({
      url: n2, clientId: `edgetune-operator-push-${r.jobId}`, protocolVersion: 4, clean: false, sessionExpirySeconds: 0, keepaliveSeconds: 30,
      reconnectInitialMs: 200, reconnectMaxMs: 1000, onMessage: () => undefined, log: testLogger('probe'),
    });
    probe.on('connect', (present) => (sessionPresent ??= present));
    probe.start();
    await probe.waitForConnection(30_000);
    await probe.stop();
    await probe.discardSession();
    expect(sessionPresent).toBe(false);

    // retained status and the manifest, read fresh from the restarted node: they were published (half of them to
    // n1) before the node loss
    const statuses = new Map<string, string>();
    const manifests = new Set<string>();
    watcher = await connectOperator({ url: n1 }, (m) => {
      const parsed = topics.parse(m.topic);
      if (!parsed || m.payload.length === 0) return;
      if (parsed.kind === 'status' && 'deviceId' in parsed) statuses.set(parsed.deviceId, (JSON.parse(m.payload.toString()) as { state: string }).state);
      if (parsed.kind === 'manifest') manifests.add(m.topic);
    }, testLogger('watcher'));
    await watcher.subscribe([topics.allDevices('status'), topics.manifest(sha)], 1);
    // the cut agent included: a Will of one of its earlier links that the cluster stored after its 'online' (seen
    // once in CI) is corrected by the agent itself (it reads its own retained status), so 'online' must come
    await waitFor('retained status of every agent and the manifest', () => [...agents.map((_, i) => `dev-${i}`), 'cut'].every((d) => statuses.get(d) === 'online') && manifests.size === 1, 20_000);
    expect(cut!.connected).toBe(true);

    // the cut agent failed over to n2 (its n1 gate led to the dead node) and registered its Will there: cut it off
    proxies.forEach((p) => p.close());
    await waitFor('the Will of the cut agent (offline) at a fresh subscriber', () => statuses.get('cut') === 'offline', 30_000);
    if (process.env.EDGETUNE_TEST_LOG) console.log(`chunks sent ${r.chunksSent}, re-sent ${r.chunksResent}; ${stillMissing} agents lacked chunks when all were back; push ${r.seconds} s`);
  }, 300_000);
});
