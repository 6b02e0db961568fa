/**
 * Run a three-node NATS cluster with MQTT listeners on loopback until Ctrl-C (issue 18), for trying the agent and the
 * operator against a clustered broker by hand. Prints `{ urls, dir, nodes: [{ name, pid, mqttUrl }] }` as one JSON
 * line; `--broker` takes the urls joined with commas.
 *
 *   npx tsx scripts/nats-cluster.ts [--nodes 3] [--max-ack-pending N] [--keep]   (--keep leaves the temp dir)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_SERVER, startNatsCluster } from './lib/nats-cluster.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const nodes = Number(flag('--nodes') ?? 3);
const maxAckPending = flag('--max-ack-pending') === undefined ? undefined : Number(flag('--max-ack-pending'));
if (!Number.isInteger(nodes) || nodes < 1 || (maxAckPending !== undefined && !(Number.isInteger(maxAckPending) && maxAckPending >= 0 && maxAckPending <= 65535))) {
  process.stderr.write('usage: nats-cluster.ts [--nodes N] [--max-ack-pending 0..65535] [--keep]\n');
  process.exit(2);
}
if (NATS_SERVER === null) {
  process.stderr.write('nats-cluster: nats-server is not installed (Debian: apt-get install nats-server)\n');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'edgetune-nats-'));
const cluster = await startNatsCluster({ dir, nodes, ...(maxAckPending !== undefined ? { maxAckPending } : {}) });
process.stdout.write(`${JSON.stringify({ urls: cluster.urls, broker: cluster.urls.join(','), dir, nodes: cluster.nodes.map((n) => ({ name: n.name, pid: n.pid, mqttUrl: n.mqttUrl })) })}\n`);
const stop = async (): Promise<void> => {
  await cluster.stop();
  if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
