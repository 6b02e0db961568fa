/**
 * Cluster benchmark (issue 18): the fleet push of `scripts/bench-fleet.ts` (N real Agent instances in P worker
 * processes, one signed group push of an MB-sized artifact, action ping) through one Mosquitto and through a
 * three-node NATS cluster (MQTT 3.1.1 on JetStream R3, `scripts/lib/nats-cluster.ts`; device i lists the nodes
 * starting at node i mod 3, the operator starts at node 1). Per broker: time to all reports, chunks, broker CPU
 * seconds and bytes written (`/proc/PID/stat`, `/proc/PID/io` wchar: client and route sockets) per node. On the
 * cluster, after the push: node 1 is SIGKILLed and the time until every agent is connected again is measured.
 * One JSON line per broker.
 *
 * `--connect-rate R` paces the agents' first connects (R per second over all workers; default: as fast as they
 * start) and gives them the agent's default reconnect cap (60 s) instead of 10 s: NATS 2.9 creates ~11–14 MQTT
 * sessions per second here, and a storm of 500 at once was refused for minutes ("unable to persist session").
 *
 * `--artifact-qos 0` sets the agents' `broker.artifactQos` and the push's chunk QoS to 0 (no JetStream consumer per
 * artifact subscription and session on NATS; lost chunks are asked for again).
 *
 *   npx tsx scripts/bench-cluster.ts [--devices 100] [--mb 5] [--brokers mosquitto,nats] [--processes P] [--max-ack-pending N] [--connect-rate R] [--artifact-qos 0|1]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/agent/logger.js';
import { pushJob } from '../src/operator/push-job.js';
import { OperatorStore } from '../src/store/operator-store.js';
import { generateSigningKeyPair } from '../src/transport/signature.js';
import { NATS_SERVER, startNatsCluster, type NatsCluster } from './lib/nats-cluster.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
};
const N = Number(flag('--devices', '100'));
const MB = Number(flag('--mb', '5'));
const P = Number(flag('--processes', String(Math.min(8, Math.ceil(N / 64)))));
const BROKERS = flag('--brokers', 'mosquitto,nats').split(',');
const CONNECT_RATE = Number(flag('--connect-rate', '0'));
const TIMEOUT_S = Number(flag('--timeout-s', '1800'));
const ARTIFACT_QOS = Number(flag('--artifact-qos', '1')) as 0 | 1;
const MAX_ACK_PENDING = args.includes('--max-ack-pending') ? Number(flag('--max-ack-pending', '0')) : undefined;
if (!(CONNECT_RATE >= 0) || (ARTIFACT_QOS !== 0 && ARTIFACT_QOS !== 1) || !Number.isInteger(N) || N < 1 || !(MB > 0) || !Number.isInteger(P) || P < 1 || BROKERS.some((b) => b !== 'mosquitto' && b !== 'nats')) {
  process.stderr.write('usage: bench-cluster.ts [--devices N] [--mb MB] [--brokers mosquitto,nats] [--processes P] [--max-ack-pending N] [--connect-rate R] [--artifact-qos 0|1]\n');
  process.exit(2);
}
if (BROKERS.includes('nats') && NATS_SERVER === null) {
  process.stderr.write('bench-cluster: nats-server is not installed (Debian: apt-get install nats-server)\n');
  process.exit(2);
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** Bytes the process wrote through write()/send() so far: its sockets, for a broker. */
function writtenBytes(pid: number): number {
  try {
    const m = /^wchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : 0;
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

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
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
    const onExit = (code: number | null): void => reject(new Error(`fleet worker ${worker.pid} exited (${code}) before '${type}'`));
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

interface Brokers {
  /** Node processes (one for Mosquitto). */
  pids: () => number[];
  urls: string[];
  cluster: NatsCluster | null;
  stop(): Promise<void>;
}

async function startMosquitto(dir: string): Promise<Brokers> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\n`);
  const child = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  await until(() => new Promise<boolean>((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  }), 'mosquitto', 10_000);
  return { pids: () => [child.pid as number], urls: [`mqtt://127.0.0.1:${port}`], cluster: null, stop: async () => void child.kill('SIGKILL') };
}

async function startNats(dir: string): Promise<Brokers> {
  const cluster = await startNatsCluster({ dir, ...(MAX_ACK_PENDING !== undefined ? { maxAckPending: MAX_ACK_PENDING } : {}) });
  return { pids: () => cluster.nodes.map((n) => n.pid ?? 0), urls: cluster.urls, cluster, stop: () => cluster.stop() };
}

async function runOne(kind: 'mosquitto' | 'nats'): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), `edgetune-bench-cluster-${kind}-`));
  const workers: ChildProcess[] = [];
  let brokers: Brokers | null = null;
  try {
    brokers = kind === 'mosquitto' ? await startMosquitto(dir) : await startNats(dir);
    const urls = brokers.urls;
    const pair = generateSigningKeyPair();
    writeFileSync(join(dir, 'operator.pub'), pair.publicKeyPem);
    writeFileSync(join(dir, 'operator.key'), pair.privateKeyPem, { mode: 0o600 });
    const deviceIds = Array.from({ length: N }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    const rotate = (i: number): string[] => urls.map((_, k) => urls[(i + k) % urls.length] as string);
    const startT = performance.now();
    for (let p = 0; p < P; p++) {
      workers.push(fork(join(import.meta.dirname, 'lib/fleet-worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    }
    await Promise.all(
      workers.map((w, p) => {
        const slice = deviceIds.map((id, i) => ({ id, i })).filter(({ i }) => i % P === p);
        const r = nextMessage<{ rssMb: number }>(w, 'ready');
        w.send({ type: 'start', deviceIds: slice.map((s) => s.id), url: urls[0], ...(urls.length > 1 ? { urls: slice.map((s) => rotate(s.i)) } : {}), dir, publicKeyPath: join(dir, 'operator.pub'), receiveMaximum: 4, artifactQos: ARTIFACT_QOS, ...(CONNECT_RATE > 0 ? { startsPerSecond: CONNECT_RATE / P, reconnectMaxMs: 60_000 } : {}) });
        return r;
      }),
    );
    const startupSeconds = (performance.now() - startT) / 1000;
    const model = join(dir, 'model.bin');
    writeFileSync(model, randomBytes(Math.round(MB * 1024 * 1024)));
    const pids = brokers.pids();
    const cpu0 = pids.map(cpuSeconds);
    const written0 = pids.map(writtenBytes);
    let rssPeak = pids.map(vmRssMb);
    const sampler = setInterval(() => (rssPeak = pids.map((pid, i) => Math.max(rssPeak[i] ?? 0, vmRssMb(pid)))), 200);
    const pushT = performance.now();
    const push = pushJob({
      modelPath: model, target: { group: 'fleet' }, action: 'ping', broker: { url: urls[0] as string, ...(urls.length > 1 ? { urls } : {}) }, topicPrefix: 'edgetune/v1',
      keyPath: join(dir, 'operator.key'), wait: true, timeoutMs: TIMEOUT_S * 1000, chunkSizeBytes: 256 * 1024, chunkQos: ARTIFACT_QOS, operatorDataDir: join(dir, 'operator'), log: silentLogger(),
    });
    const result = await push.catch((error: unknown) => {
      // a push that times out: record what arrived (the operator store has every report) instead of nothing
      const store = new OperatorStore(join(dir, 'operator', 'operator.db'));
      try {
        const rows = store.listReports();
        const failures = new Map<string, number>();
        for (const r of rows.filter((x) => x.state !== 'ok')) {
          const e = (JSON.parse(r.payload) as { error?: { code?: string; message?: string } }).error;
          const key = `${e?.code ?? '?'}: ${(e?.message ?? '').replace(/[0-9a-f]{64}/g, 'SHA')}`.slice(0, 160);
          failures.set(key, (failures.get(key) ?? 0) + 1);
        }
        return { timedOut: String(error), reports: rows.map((r) => ({ deviceId: r.deviceId, state: r.state, error: null })), failures: Object.fromEntries(failures), transferSeconds: null, chunksSent: null, chunksResent: null };
      } finally {
        store.close();
      }
    });
    const pushSeconds = (performance.now() - pushT) / 1000;
    clearInterval(sampler);
    const cpu = pids.map((pid, i) => cpuSeconds(pid) - (cpu0[i] ?? 0));
    const writtenMb = pids.map((pid, i) => (writtenBytes(pid) - (written0[i] ?? 0)) / 2 ** 20);
    const ok = result.reports.filter((r) => r.state === 'ok').length;
    const out: Record<string, unknown> = {
      broker: kind === 'mosquitto' ? 'mosquitto' : `nats x${urls.length}`,
      devices: N,
      processes: P,
      connectRatePerSecond: CONNECT_RATE > 0 ? CONNECT_RATE : null,
      artifactQos: ARTIFACT_QOS,
      artifactMb: MB,
      agentsStartupSeconds: Number(startupSeconds.toFixed(1)),
      secondsToAllReports: Number(pushSeconds.toFixed(2)),
      transferSeconds: result.transferSeconds,
      reportsOk: ok,
      lostReports: N - result.reports.length,
      ...('timedOut' in result ? { timedOut: result.timedOut.slice(0, 200), failuresByError: result.failures } : { failed: result.reports.filter((r) => r.state !== 'ok').map((r) => ({ deviceId: r.deviceId, state: r.state, error: r.error })) }),
      chunksSent: result.chunksSent,
      chunksResent: result.chunksResent,
      brokerCpuSeconds: cpu.map((c) => Number(c.toFixed(1))),
      brokerWrittenMb: writtenMb.map((m) => Number(m.toFixed(0))),
      brokerEgressMbPerSecond: writtenMb.map((m) => Number((m / pushSeconds).toFixed(1))),
      brokerRssPeakMb: rssPeak.map((m) => Number(m.toFixed(0))),
    };
    if (ok !== N) process.exitCode = 1;
    if (brokers.cluster) {
      // node loss: kill node 1 and time until every agent is connected again (a third of them were on it)
      const connected = async (): Promise<number> => (await Promise.all(workers.map((w) => {
        const r = nextMessage<{ connected: number }>(w, 'connected');
        w.send({ type: 'connected' });
        return r;
      }))).reduce((s, r) => s + r.connected, 0);
      const killT = performance.now();
      await brokers.cluster.nodes[0]!.kill('SIGKILL');
      let lowest = N;
      let firstDropMs: number | null = null;
      try {
        await until(async () => {
          const c = await connected();
          if (c < N && firstDropMs === null) firstDropMs = performance.now() - killT;
          lowest = Math.min(lowest, c);
          return firstDropMs !== null && c === N;
        }, 'every agent connected again after the node loss', 300_000, 20);
        out.nodeLoss = { agentsCutOff: N - lowest, secondsToAllConnected: Number(((performance.now() - killT) / 1000).toFixed(2)) };
      } catch (error) {
        out.nodeLoss = { agentsCutOff: N - lowest, error: String(error), connectedAfter300s: await connected() };
      }
    }
    return out;
  } finally {
    await Promise.all(workers.map(async (w) => {
      if (w.exitCode !== null) return;
      const stopped = nextMessage(w, 'stopped').catch(() => undefined);
      w.send({ type: 'stop' });
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 60_000))]);
      w.kill('SIGKILL');
    }));
    await brokers?.stop();
    if (process.env.EDGETUNE_BENCH_KEEP) process.stderr.write(`bench-cluster: kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

process.stderr.write(`bench-cluster: ${N} devices, ${MB} MB, ${P} worker processes, ${cpus().length} cores\n`);
for (const kind of BROKERS as Array<'mosquitto' | 'nats'>) {
  process.stdout.write(`${JSON.stringify(await runOne(kind))}\n`);
}
