/**
 * Control traffic at fleet scale (issue 18): N lightweight simulated agents (`scripts/lib/control-sim-worker.ts`:
 * one MQTT link each, persistent session, retained status and hello, a Last Will, a report per job; no artifact
 * bytes) against one Mosquitto or a three-node NATS cluster. Measured: connect + retained-status storm; one group
 * job to all N (job delivery latency from the operator's publish to each agent, time to all N reports); N device jobs
 * published at once (a rollout stage the size of the fleet); messages per second through the broker and its CPU
 * seconds per phase. One JSON line.
 *
 *   npx tsx scripts/bench-control.ts [--devices 10000] [--broker mosquitto|nats] [--processes W] [--batch 100]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/agent/logger.js';
import { MqttConnection } from '../src/transport/mqtt-connection.js';
import { NATS_SERVER, startNatsCluster } from './lib/nats-cluster.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
};
const N = Number(flag('--devices', '10000'));
const BROKER = flag('--broker', 'mosquitto');
const W = Number(flag('--processes', String(Math.max(1, Math.min(8, Math.ceil(N / 2500))))));
const BATCH = Number(flag('--batch', '100'));
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(W) || W < 1 || !Number.isInteger(BATCH) || BATCH < 1 || (BROKER !== 'mosquitto' && BROKER !== 'nats')) {
  process.stderr.write('usage: bench-control.ts [--devices N] [--broker mosquitto|nats] [--processes W] [--batch B]\n');
  process.exit(2);
}
if (BROKER === 'nats' && NATS_SERVER === null) {
  process.stderr.write('bench-control: nats-server is not installed (Debian: apt-get install nats-server)\n');
  process.exit(2);
}

function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function vmRssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function nextMessage<T>(worker: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }): void => {
      if (m.type !== type) return;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void => reject(new Error(`control-sim worker ${worker.pid} exited (${code}) before '${type}'`));
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

const dir = mkdtempSync(join(tmpdir(), 'edgetune-bench-control-'));
const workers: ChildProcess[] = [];
let stopBrokers: () => Promise<void> = async () => undefined;
let operator: MqttConnection | null = null;
try {
  let urls: string[];
  let pids: number[];
  if (BROKER === 'mosquitto') {
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    // no limit on connections or queued messages; persistence off as in bench-fleet
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\n`);
    const child = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = netConnect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    urls = [`mqtt://127.0.0.1:${port}`];
    pids = [child.pid as number];
    stopBrokers = async () => void child.kill('SIGKILL');
  } else {
    const cluster = await startNatsCluster({ dir });
    urls = cluster.urls;
    pids = cluster.nodes.map((n) => n.pid ?? 0);
    stopBrokers = () => cluster.stop();
  }
  const cpuNow = (): number[] => pids.map(cpuSeconds);
  const cpuSince = (before: number[]): number[] => pids.map((pid, i) => Number((cpuSeconds(pid) - (before[i] ?? 0)).toFixed(1)));

  // the operator: reports of every device
  const reportsByJob = new Map<string, number>();
  let reportsTotal = 0;
  operator = new MqttConnection({
    url: urls[0] as string, urls, clientId: `bench-operator-${process.pid}`, protocolVersion: 4, clean: true, sessionExpirySeconds: 0, keepaliveSeconds: 60,
    reconnectInitialMs: 500, reconnectMaxMs: 5000,
    onMessage: (m) => {
      const r = JSON.parse(m.payload.toString()) as { jobId: string };
      reportsByJob.set(r.jobId, (reportsByJob.get(r.jobId) ?? 0) + 1);
      reportsTotal += 1;
    },
    log: silentLogger(),
  });
  await operator.subscribe(['edgetune/v1/devices/+/reports'], 1);
  operator.start();
  await operator.waitForConnection(60_000);

  // connect storm: every simulated agent connects, subscribes and publishes its retained status and hello
  const deviceIds = Array.from({ length: N }, (_, i) => `sim-${String(i).padStart(5, '0')}`);
  const rotate = (i: number): string[] => urls.map((_, k) => urls[(i + k) % urls.length] as string);
  for (let p = 0; p < W; p++) workers.push(fork(join(import.meta.dirname, 'lib/control-sim-worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const cpuConnect0 = cpuNow();
  const connectT = performance.now();
  const ready = await Promise.all(workers.map((w, p) => {
    const slice = deviceIds.map((id, i) => ({ id, i })).filter(({ i }) => i % W === p);
    const r = nextMessage<{ seconds: number; rssMb: number }>(w, 'ready');
    w.send({ type: 'start', deviceIds: slice.map((s) => s.id), urls: slice.map((s) => rotate(s.i)), batch: BATCH });
    return r;
  }));
  const connectSeconds = (performance.now() - connectT) / 1000;
  const connectCpu = cpuSince(cpuConnect0);
  const brokerRssMb = pids.map((pid) => Number(vmRssMb(pid).toFixed(0)));
  await new Promise((r) => setTimeout(r, 2000)); // let the retained-message fan-in settle

  const collect = async (): Promise<number[]> => {
    const all = await Promise.all(workers.map((w) => {
      const r = nextMessage<{ latenciesMs: number[] }>(w, 'stats');
      w.send({ type: 'stats' });
      return r;
    }));
    return all.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  };
  const pad = 'x'.repeat(400); // a signed job is ~0.6 KB
  const phase = async (name: string, publishAll: (jobId: string) => Promise<void>, expected: number, jobId: string): Promise<Record<string, unknown>> => {
    await collect();
    const cpu0 = cpuNow();
    const t0 = performance.now();
    await publishAll(jobId);
    const publishedSeconds = (performance.now() - t0) / 1000;
    await until(() => (reportsByJob.get(jobId) ?? 0) >= expected, `${name}: ${expected} reports`, 20 * 60_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSince(cpu0);
    const lat = await collect();
    // through the broker: the operator's publishes in, N job deliveries out, N reports in, N report deliveries out
    const messages = (name === 'group job' ? 1 : expected) + 3 * expected;
    return {
      phase: name,
      publishedSeconds: Number(publishedSeconds.toFixed(2)),
      secondsToAllReports: Number(seconds.toFixed(2)),
      jobDeliveryMs: { p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), max: lat[lat.length - 1] ?? NaN, n: lat.length },
      brokerMessagesPerSecond: Math.round(messages / seconds),
      brokerCpuSeconds: cpu,
      brokerCpuShare: cpu.map((c) => Number((c / seconds).toFixed(2))),
    };
  };
  const op = operator;
  const group = await phase('group job', async (jobId) => {
    await op.publish('edgetune/v1/groups/fleet/jobs', JSON.stringify({ jobId, action: 'ping', sentAtMs: Date.now(), pad }), { qos: 1 });
  }, N, 'group-1');
  const device = await phase('device jobs', async (jobId) => {
    // N jobs, one per device, at most 1000 unacknowledged at a time
    let next = 0;
    await Promise.all(Array.from({ length: 1000 }, async () => {
      while (next < N) {
        const id = deviceIds[next++] as string;
        await op.publish(`edgetune/v1/devices/${id}/jobs`, JSON.stringify({ jobId, action: 'ping', sentAtMs: Date.now(), pad }), { qos: 1 });
      }
    }));
  }, N, 'device-1');
  process.stdout.write(`${JSON.stringify({
    broker: BROKER === 'mosquitto' ? 'mosquitto' : `nats x${urls.length}`,
    devices: N,
    processes: W,
    cores: cpus().length,
    connect: { seconds: Number(connectSeconds.toFixed(1)), brokerCpuSeconds: connectCpu, brokerRssMb, workersRssMb: ready.map((r) => Math.round(r.rssMb)) },
    phases: [group, device],
    duplicateReports: reportsTotal - 2 * N,
  })}\n`);
} finally {
  await operator?.stop();
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await stopBrokers();
  rmSync(dir, { recursive: true, force: true });
}
