/**
 * Issue 18: on NATS every QoS 1 subscription of an MQTT session is a replicated JetStream consumer, so a group push
 * makes (devices × 3) consumers at once for the artifact's manifest and chunk topics — at 500 devices on this
 * machine the cluster spent the push timing those out. With `broker.artifactQos: 0` on the devices and
 * `push --chunk-qos 0` the artifact moves on plain NATS subscriptions; what a device loses it asks for again.
 * Here one device's link is cut mid-transfer (its chunks in between are lost, nothing queues at QoS 0) and comes
 * back through its own gate: every device must still end verified with one report. Skipped without nats-server.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { NATS_SERVER, startNatsCluster, type NatsCluster } from '../../../scripts/lib/nats-cluster.js';
import { agentConfig, fleetDir, gatedProxy, runCli, sha256Of, startAgent } from '../agent/fleet-harness.js';

const AGENTS = 4;
const MB = 2;
const CHUNK_BYTES = 16 * 1024;

describe.skipIf(NATS_SERVER === null)(`artifacts at QoS 0 through a NATS cluster${NATS_SERVER === null ? ' (SKIPPED: nats-server not installed)' : ''}`, () => {
  const fleet = fleetDir();
  let cluster: NatsCluster;
  const agents: Agent[] = [];
  let gate: Awaited<ReturnType<typeof gatedProxy>> | null = null;

  beforeAll(async () => {
    cluster = await startNatsCluster({ dir: fleet.dir });
    const [n1, n2, n3] = cluster.urls as [string, string, string];
    gate = await gatedProxy(cluster.nodes[1]!.mqttPort);
    for (let i = 0; i < AGENTS; i++) {
      // dev-0 reaches the cluster only through the gate (node 2), so the test can cut it mid-transfer
      const urls = i === 0 ? [gate.url] : i % 2 === 0 ? [n1, n2, n3] : [n2, n3, n1];
      // a short stall time: what a device lost at QoS 0 is asked for again after it
      const extra = { broker: { urls, artifactQos: 0 }, limits: { transferStallSeconds: 2 } };
      agents.push(await startAgent(agentConfig({ dir: fleet.dir, deviceId: `dev-${i}`, groups: ['cams'], brokerUrl: urls[0] as string, publicKey: fleet.publicKey, extra })));
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await gate?.stop();
    await cluster?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  }, 60_000);

  it('push --chunk-qos 0 (from the CLI) reaches every device, one of them cut off mid-transfer, with one report each', async () => {
    const modelPath = join(fleet.dir, 'artifact.bin');
    writeFileSync(modelPath, randomBytes(MB * 1024 * 1024));
    const sha = sha256Of(modelPath);
    const chunks = (MB * 1024 * 1024) / CHUNK_BYTES;
    const cutOff = agents[0] as Agent;
    let cut = false;
    const watcher = setInterval(() => {
      // cut dev-0 once it holds some of the chunks, then let it back in after a few seconds
      const have = cutOff.store.getArtifact(sha);
      if (!cut && have && cutOff.store.receivedChunks(sha).length > chunks / 8) {
        cut = true;
        gate?.close();
        setTimeout(() => gate?.open(), 3000);
      }
    }, 20);
    const out = await runCli([
      'push', modelPath, '--group', 'cams', '--action', 'ping', '--broker', cluster.urls.join(','), '--key', fleet.privateKey,
      '--wait', '--timeout', '150', '--chunk-size', String(CHUNK_BYTES), '--chunk-qos', '0', '--json', '--data-dir', join(fleet.dir, 'operator'),
    ]);
    clearInterval(watcher);
    expect(out.code, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout) as { jobId: string; reports: Array<{ deviceId: string; state: string }> };
    expect(r.reports.map((x) => [x.deviceId, x.state]).sort()).toEqual(agents.map((_, i) => [`dev-${i}`, 'ok']));
    expect(cut).toBe(true);
    for (const a of agents) {
      expect(sha256Of(a.paths.model(sha))).toBe(sha);
      expect(a.store.listReports().filter((x) => x.jobId === r.jobId)).toHaveLength(1);
    }
  }, 240_000);

  it('--chunk-qos other than 0 or 1 is refused before connecting: exit 2 naming it', async () => {
    const out = await runCli(['push', join(fleet.dir, 'artifact.bin'), '--group', 'cams', '--action', 'ping', '--broker', cluster.urls[0] as string, '--chunk-qos', '2', '--data-dir', join(fleet.dir, 'operator-bad')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('--chunk-qos 2 must be 0 or 1');
  });

  it('broker.artifactQos other than 0 or 1 is a config error naming the key', () => {
    expect(() => agentConfig({ dir: fleet.dir, deviceId: 'bad', brokerUrl: cluster.urls[0] as string, publicKey: fleet.publicKey, extra: { broker: { artifactQos: 2 } } })).toThrow(/broker\.artifactQos/);
  });
});
