/**
 * Fleet benchmark (issue 8): N real Agent instances in this process (each with its own SQLite store and data dir)
 * against Mosquitto on loopback; one signed group push of a 5 MB artifact (action ping: every agent fetches the
 * chunks, verifies sha256 and signature, stores it and reports). Prints time to all reports, chunks sent vs.
 * needed (re-sends answer chunk re-requests), broker VmRSS and this process's RSS, as one JSON object.
 *
 *   npx tsx scripts/bench-fleet.ts [N=10] [MB=5]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent/agent.js';
import { silentLogger } from '../src/agent/logger.js';
import { pushJob } from '../src/agent/operator/push-job.js';
import { fileLayer, resolveAgentConfig } from '../src/config/load-agent-config.js';
import { generateSigningKeyPair } from '../src/transport/signature.js';
import { createServer, connect as netConnect } from 'node:net';

const N = Number(process.argv[2] ?? 10);
const MB = Number(process.argv[3] ?? 5);
if (!Number.isInteger(N) || N < 1 || !(MB > 0)) {
  process.stderr.write('usage: bench-fleet.ts [N devices] [MB artifact]\n');
  process.exit(2);
}

function vmRssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
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

const dir = mkdtempSync(join(tmpdir(), 'edgetune-bench-fleet-'));
const port = await freePort();
const conf = join(dir, 'mosquitto.conf');
writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\n`);
const broker = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
const agents: Agent[] = [];
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
  const processIdleMb = process.memoryUsage().rss / 2 ** 20;

  const startT = performance.now();
  for (let i = 0; i < N; i++) {
    const deviceId = `dev-${String(i).padStart(4, '0')}`;
    const raw = {
      deviceId, groups: ['fleet'], broker: { url, reconnectInitialMs: 500, reconnectMaxMs: 10_000 }, dataDir: join(dir, deviceId),
      trustedKeys: [join(dir, 'operator.pub')], schedules: { heartbeat: null, reprofile: null, cleanup: null }, logLevel: 'error',
    };
    const config = resolveAgentConfig([fileLayer(raw, join(dir, `${deviceId}.json`))], { configPath: null, cwd: dir, checkFiles: true });
    const agent = new Agent(config, { log: silentLogger() });
    await agent.start();
    agents.push(agent);
  }
  await until(() => agents.every((a) => a.connected), 'every agent connected', 120_000);
  const startupSeconds = (performance.now() - startT) / 1000;
  const processAgentsMb = process.memoryUsage().rss / 2 ** 20;

  const model = join(dir, 'model.bin');
  writeFileSync(model, randomBytes(Math.round(MB * 1024 * 1024)));
  const chunkSizeBytes = 256 * 1024;
  let brokerPeakMb = vmRssMb(broker.pid as number);
  let processPeakMb = processAgentsMb;
  const sampler = setInterval(() => {
    brokerPeakMb = Math.max(brokerPeakMb, vmRssMb(broker.pid as number));
    processPeakMb = Math.max(processPeakMb, process.memoryUsage().rss / 2 ** 20);
  }, 200);
  const pushT = performance.now();
  const result = await pushJob({
    modelPath: model, target: { group: 'fleet' }, action: 'ping', broker: { url }, topicPrefix: 'edgetune/v1', keyPath: join(dir, 'operator.key'),
    wait: true, timeoutMs: 30 * 60_000, chunkSizeBytes, operatorDataDir: join(dir, 'operator'), log: silentLogger(),
  });
  const pushSeconds = (performance.now() - pushT) / 1000;
  clearInterval(sampler);
  const chunks = Math.ceil((MB * 1024 * 1024) / chunkSizeBytes);
  const ok = result.reports.filter((r) => r.state === 'ok').length;
  const out = {
    devices: N,
    artifactMb: MB,
    chunkSizeBytes,
    chunks,
    agentsStartupSeconds: Number(startupSeconds.toFixed(2)),
    secondsToAllReports: Number(pushSeconds.toFixed(2)),
    transferSeconds: result.transferSeconds,
    expectedDevices: result.devices.length,
    reports: result.reports.length,
    reportsOk: ok,
    lostReports: N - result.reports.length,
    chunksSent: result.chunksSent,
    chunkResends: result.chunksSent - chunks,
    brokerRssMb: { idle: Number(brokerIdleMb.toFixed(1)), peak: Number(brokerPeakMb.toFixed(1)) },
    agentsProcessRssMb: { before: Number(processIdleMb.toFixed(1)), agentsUp: Number(processAgentsMb.toFixed(1)), peak: Number(processPeakMb.toFixed(1)), perAgent: Number(((processPeakMb - processIdleMb) / N).toFixed(2)) },
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  if (out.lostReports !== 0 || ok !== N) process.exitCode = 1;
} finally {
  await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
  broker.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
