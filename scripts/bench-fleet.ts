/**
 * Fleet benchmark (issue 8): N real Agent instances spread over P worker processes (`scripts/lib/fleet-worker.ts`;
 * each agent with its own config, SQLite store and data dir) against Mosquitto on loopback; one signed group push
 * of a 5 MB artifact (action ping: every agent fetches the chunks, verifies sha256 and signature, stores it and
 * reports). Prints time to all reports, chunks broadcast and re-sent, broker VmRSS and the workers' RSS, as one
 * JSON object.
 *
 *   npx tsx scripts/bench-fleet.ts [N=10] [MB=5] [P=ceil(N/64), at most 8] [receive maximum=4]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/agent/logger.js';
import { pushJob } from '../src/operator/push-job.js';
import { generateSigningKeyPair } from '../src/transport/signature.js';

const N = Number(process.argv[2] ?? 10);
const MB = Number(process.argv[3] ?? 5);
const P = Number(process.argv[4] ?? Math.min(8, Math.ceil(N / 64)));
/** The agents' MQTT 5 Receive Maximum (agent config `broker.receiveMaximum`; default 4, 65535 = MQTT's default). */
const RECEIVE_MAXIMUM = Number(process.argv[5] ?? 4);
if (!Number.isInteger(N) || N < 1 || !(MB > 0) || !Number.isInteger(P) || P < 1 || !Number.isInteger(RECEIVE_MAXIMUM) || RECEIVE_MAXIMUM < 1 || RECEIVE_MAXIMUM > 65535) {
  process.stderr.write('usage: bench-fleet.ts [N devices] [MB artifact] [P worker processes] [receive maximum]\n');
  process.exit(2);
}

function vmRssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // exited
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

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Next message of `type` from a worker. */
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

const dir = mkdtempSync(join(tmpdir(), 'edgetune-bench-fleet-'));
const port = await freePort();
const conf = join(dir, 'mosquitto.conf');
writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\n`);
const broker = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
const workers: ChildProcess[] = [];
try {
  await until(() => new Promise<boolean>((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  }), 'mosquitto', 10_000);
  const url = `mqtt://127.0.0.1:${port}`;
  const pair = generateSigningKeyPair();
  writeFileSync(join(dir, 'operator.pub'), pair.publicKeyPem);
  writeFileSync(join(dir, 'operator.key'), pair.privateKeyPem, { mode: 0o600 });
  const brokerIdleMb = vmRssMb(broker.pid as number);

  const deviceIds = Array.from({ length: N }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
  const startT = performance.now();
  for (let p = 0; p < P; p++) {
    workers.push(fork(join(import.meta.dirname, 'lib/fleet-worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }
  const ready = await Promise.all(
    workers.map((w, p) => {
      const slice = deviceIds.filter((_, i) => i % P === p);
      const r = nextMessage<{ rssMb: number }>(w, 'ready');
      w.send({ type: 'start', deviceIds: slice, url, dir, publicKeyPath: join(dir, 'operator.pub'), receiveMaximum: RECEIVE_MAXIMUM });
      return r;
    }),
  );
  const startupSeconds = (performance.now() - startT) / 1000;
  const workersUpMb = ready.reduce((s, r) => s + r.rssMb, 0);

  const model = join(dir, 'model.bin');
  writeFileSync(model, randomBytes(Math.round(MB * 1024 * 1024)));
  const chunkSizeBytes = 256 * 1024;
  let brokerPeakMb = vmRssMb(broker.pid as number);
  let workersPeakMb = workersUpMb;
  const sampler = setInterval(() => {
    brokerPeakMb = Math.max(brokerPeakMb, vmRssMb(broker.pid as number));
    workersPeakMb = Math.max(workersPeakMb, workers.reduce((s, w) => s + vmRssMb(w.pid as number), 0));
  }, 200);
  const pushT = performance.now();
  const marks: { firstRequestS?: number; firstChunkS?: number; allVerifiedS?: number; firstReportS?: number } = {};
  const since = (): number => Number(((performance.now() - pushT) / 1000).toFixed(2));
  const result = await pushJob({
    onProgress: (p) => {
      if (marks.firstRequestS === undefined && p.devices.length > 0) marks.firstRequestS = since();
      if (marks.firstChunkS === undefined && p.chunksSent > 0) marks.firstChunkS = since();
      if (marks.allVerifiedS === undefined && p.devices.length === N && p.devices.every((d) => d.complete)) marks.allVerifiedS = since();
      if (marks.firstReportS === undefined && p.devices.some((d) => d.reported)) marks.firstReportS = since();
    },
    modelPath: model, target: { group: 'fleet' }, action: 'ping', broker: { url }, topicPrefix: 'edgetune/v1', keyPath: join(dir, 'operator.key'),
    wait: true, timeoutMs: 30 * 60_000, chunkSizeBytes, operatorDataDir: join(dir, 'operator'), log: silentLogger(),
  });
  const pushSeconds = (performance.now() - pushT) / 1000;
  clearInterval(sampler);
  const chunks = Math.ceil((MB * 1024 * 1024) / chunkSizeBytes);
  const ok = result.reports.filter((r) => r.state === 'ok').length;
  const out = {
    devices: N,
    processes: P,
    receiveMaximum: RECEIVE_MAXIMUM,
    artifactMb: MB,
    chunkSizeBytes,
    chunks,
    agentsStartupSeconds: Number(startupSeconds.toFixed(2)),
    secondsToAllReports: Number(pushSeconds.toFixed(2)),
    timeline: marks,
    transferSeconds: result.transferSeconds,
    expectedDevices: result.devices.length,
    reports: result.reports.length,
    reportsOk: ok,
    lostReports: N - result.reports.length,
    chunksSent: result.chunksSent,
    chunksResent: result.chunksResent,
    brokerRssMb: { idle: Number(brokerIdleMb.toFixed(1)), peak: Number(brokerPeakMb.toFixed(1)) },
    workersRssMb: { agentsUp: Number(workersUpMb.toFixed(1)), peak: Number(workersPeakMb.toFixed(1)), perAgent: Number((workersPeakMb / N).toFixed(2)) },
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  if (out.lostReports !== 0 || ok !== N) process.exitCode = 1;
} finally {
  await Promise.all(workers.map(async (w) => {
    if (w.exitCode !== null) return;
    const stopped = nextMessage(w, 'stopped').catch(() => undefined);
    w.send({ type: 'stop' });
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 30_000))]);
    w.kill('SIGKILL');
  }));
  broker.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
