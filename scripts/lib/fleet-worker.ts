/**
 * One worker process of `scripts/bench-fleet.ts`: runs a slice of the fleet as real `Agent` instances (each with
 * its own config, SQLite store and data dir) and talks to the coordinator over the fork IPC channel:
 *   ← { type: 'start', deviceIds, url, urls?, dir, publicKeyPath, startsPerSecond?, reconnectMaxMs? }
 *                                                              → { type: 'ready', rssMb, startupSeconds }
 *   ← { type: 'connected' }                                    → { type: 'connected', connected, total }
 *   ← { type: 'stop' }                                         → { type: 'stopped' } and exit
 * `urls` (scripts/bench-cluster.ts): per device, the node list of a clustered broker (`broker.urls`).
 */
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { silentLogger } from '../../src/agent/logger.js';
import { fileLayer, resolveAgentConfig } from '../../src/config/load-agent-config.js';

interface StartMessage {
  type: 'start';
  deviceIds: string[];
  url: string;
  /** Per device (same order as deviceIds): its `broker.urls`. */
  urls?: string[][];
  dir: string;
  publicKeyPath: string;
  receiveMaximum: number;
  /** Pace: agents this worker starts per second (default: batches of START_BATCH as fast as they start). */
  startsPerSecond?: number;
  /** broker.reconnectMaxMs of every agent (default 10 s). */
  reconnectMaxMs?: number;
  /** broker.artifactQos of every agent (default 1). */
  artifactQos?: 0 | 1;
}

/** Agents started in parallel at a time (each start opens a store and a connection). */
const START_BATCH = 16;

const agents: Agent[] = [];

function send(message: object): void {
  process.send?.(message);
}

async function startAgents(m: StartMessage): Promise<void> {
  const t0 = performance.now();
  const batch = m.startsPerSecond ? 1 : START_BATCH;
  for (let i = 0; i < m.deviceIds.length; i += batch) {
    if (m.startsPerSecond && i > 0) {
      const dueMs = (i / m.startsPerSecond) * 1000 - (performance.now() - t0);
      if (dueMs > 0) await new Promise((r) => setTimeout(r, dueMs));
    }
    await Promise.all(
      m.deviceIds.slice(i, i + batch).map(async (deviceId, j) => {
        const urls = m.urls?.[i + j];
        const raw = {
          deviceId,
          groups: ['fleet'],
          broker: { url: urls?.[0] ?? m.url, ...(urls ? { urls } : {}), reconnectInitialMs: 500, reconnectMaxMs: m.reconnectMaxMs ?? 10_000, artifactQos: m.artifactQos ?? 1, receiveMaximum: m.receiveMaximum },
          dataDir: join(m.dir, deviceId),
          trustedKeys: [m.publicKeyPath],
          schedules: { heartbeat: null, reprofile: null, cleanup: null },
          logLevel: 'error',
        };
        const config = resolveAgentConfig([fileLayer(raw, join(m.dir, `${deviceId}.json`))], { configPath: null, cwd: m.dir, checkFiles: true });
        const agent = new Agent(config, { log: silentLogger() });
        await agent.start();
        agents.push(agent);
      }),
    );
  }
  while (!agents.every((a) => a.connected)) await new Promise((r) => setTimeout(r, 50));
  // each agent probes its hardware in an `edgetune hw` child at start; the push is timed on a machine at rest
  await Promise.all(agents.map((a) => a.hardwareProbed()));
  send({ type: 'ready', rssMb: process.memoryUsage().rss / 2 ** 20, startupSeconds: (performance.now() - t0) / 1000 });
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'start') {
    startAgents(m as StartMessage).catch((error: unknown) => {
      process.stderr.write(`fleet worker: ${String(error)}\n`);
      process.exit(1);
    });
  } else if (m.type === 'connected') {
    send({ type: 'connected', connected: agents.filter((a) => a.connected).length, total: agents.length });
  } else if (m.type === 'stop') {
    Promise.all(agents.map((a) => a.stop().catch(() => undefined))).then(() => {
      send({ type: 'stopped' });
      process.exit(0);
    });
  }
});
