/**
 * One worker process of `scripts/bench-control.ts`: lightweight simulated agents, control traffic only. Each is one
 * MQTT link (MQTT 3.1.1, persistent session, retained `offline` Last Will) that publishes a retained status and hello,
 * subscribes to its device jobs and the group's jobs, and answers every job with a report; no store, no artifact.
 *   ← { type: 'start', deviceIds, urls: string[][], batch }  → { type: 'ready', seconds, rssMb }
 *   ← { type: 'stats' }                                      → { type: 'stats', latenciesMs: number[], reports }
 *   ← { type: 'stop' }                                       → { type: 'stopped' } and exit
 */
import { silentLogger } from '../../src/agent/logger.js';
import { MqttConnection } from '../../src/transport/mqtt-connection.js';

interface StartMessage {
  type: 'start';
  deviceIds: string[];
  urls: string[][];
  /** Links opened at a time. */
  batch: number;
}

const PREFIX = 'edgetune/v1';
const links: MqttConnection[] = [];
/** Job delivery latency: the job's `sentAtMs` (the operator's clock, same machine) to its arrival here. */
const latenciesMs: number[] = [];
let reports = 0;

function send(message: object): void {
  process.send?.(message);
}

function simAgent(deviceId: string, urls: string[]): MqttConnection {
  const statusTopic = `${PREFIX}/devices/${deviceId}/status`;
  const link: MqttConnection = new MqttConnection({
    url: urls[0] as string,
    urls,
    clientId: `edgetune-${deviceId}`,
    protocolVersion: 4,
    clean: false,
    sessionExpirySeconds: 0,
    keepaliveSeconds: 60,
    reconnectInitialMs: 1000,
    reconnectMaxMs: 30_000,
    connectTimeoutMs: 60_000,
    will: { topic: statusTopic, payload: Buffer.from(JSON.stringify({ state: 'offline', deviceId })), qos: 1, retain: true },
    onMessage: (m) => {
      const job = JSON.parse(m.payload.toString()) as { jobId: string; sentAtMs: number };
      latenciesMs.push(Date.now() - job.sentAtMs);
      // the report, as small as a ping's: QoS 1, not retained
      link.publish(`${PREFIX}/devices/${deviceId}/reports`, JSON.stringify({ reportId: `${deviceId}-${job.jobId}`, jobId: job.jobId, deviceId, state: 'ok', action: 'ping' }), { qos: 1 })
        .then(() => (reports += 1), () => undefined);
    },
    log: silentLogger(),
  });
  return link;
}

async function start(m: StartMessage): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < m.deviceIds.length; i += m.batch) {
    await Promise.all(
      m.deviceIds.slice(i, i + m.batch).map(async (deviceId, j) => {
        const link = simAgent(deviceId, m.urls[i + j] as string[]);
        links.push(link);
        await link.subscribe([`${PREFIX}/devices/${deviceId}/jobs`, `${PREFIX}/groups/fleet/jobs`], 1);
        link.start();
        await link.waitForConnection(600_000);
        const status = JSON.stringify({ state: 'online', version: 'sim', since: new Date().toISOString(), deviceId });
        await link.publishWhenConnected(`${PREFIX}/devices/${deviceId}/status`, status, { qos: 1, retain: true }, 600_000);
        await link.publishWhenConnected(`${PREFIX}/devices/${deviceId}/hello`, JSON.stringify({ deviceId, board: 'sim', cpu: { arch: 'arm64', cores: 4 }, pad: 'x'.repeat(600) }), { qos: 1, retain: true }, 600_000);
      }),
    );
  }
  send({ type: 'ready', seconds: (performance.now() - t0) / 1000, rssMb: process.memoryUsage().rss / 2 ** 20 });
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'start') {
    start(m as StartMessage).catch((error: unknown) => {
      process.stderr.write(`control-sim worker: ${String(error)}\n`);
      process.exit(1);
    });
  } else if (m.type === 'stats') {
    send({ type: 'stats', latenciesMs: latenciesMs.splice(0), reports });
  } else if (m.type === 'stop') {
    // no clean DISCONNECT per link (10k of them): the process exits and the broker sees the links drop
    send({ type: 'stopped' });
    process.exit(0);
  }
});
