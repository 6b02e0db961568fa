/**
 * bench-transfer: push an artifact (default 50 MB of random bytes) to an agent process on loopback, through the
 * embedded broker (aedes, inside the agent) and through Mosquitto, and measure
 *   - MB/s of the transfer (first chunk published → device reports the file complete and verified),
 *   - the agent's RSS before, peak during and growth over the transfer (sampled from /proc every 20 ms),
 *   - the agent's idle RSS and CPU share over a window (default 60 s) with the shipped schedules running.
 * The agent is a real `node bin/edgetune.js start` child (run `npm run build` first); the operator is this process.
 *
 * The agent runs with the node flags and environment of scripts/edgetune.service (override with --agent-node-flags
 * and --agent-env, e.g. --agent-node-flags '' --agent-env '' to measure plain `node`).
 *
 *   npx tsx scripts/bench-transfer.ts [--size-mb 50] [--chunk-kib 256] [--idle-seconds 60] [--brokers aedes,mosquitto] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushJob } from '../src/operator/push-job.js';
import { silentLogger } from '../src/agent/logger.js';
import { generateSigningKeyPair } from '../src/transport/signature.js';

const REPO = join(import.meta.dirname, '..');
const BIN = join(REPO, 'bin/edgetune.js');
const MOSQUITTO = '/usr/sbin/mosquitto';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}
const SIZE_MB = Number(arg('size-mb', '50'));
const CHUNK_KIB = Number(arg('chunk-kib', '256'));
const IDLE_SECONDS = Number(arg('idle-seconds', '60'));
const BROKERS = arg('brokers', 'aedes,mosquitto').split(',').filter((b) => b === 'aedes' || b === 'mosquitto');
const JSON_OUT = process.argv.includes('--json');
const AGENT_NODE_FLAGS = arg('agent-node-flags', '--max-semi-space-size=1 --lite-mode').split(' ').filter(Boolean);
const AGENT_ENV: Record<string, string> = Object.fromEntries(
  arg('agent-env', 'MALLOC_MMAP_THRESHOLD_=131072')
    .split(' ')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resident set size of a process in bytes (from /proc/PID/status VmRSS). */
function rssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** utime + stime of a process in seconds (from /proc/PID/stat, clock ticks at 100 Hz). */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

interface BrokerRun {
  broker: 'aedes' | 'mosquitto';
  sizeBytes: number;
  chunkBytes: number;
  transferSeconds: number;
  mbPerSec: number;
  endToEndSeconds: number;
  agentRssBeforeBytes: number | null;
  agentRssPeakBytes: number | null;
  agentRssGrowthBytes: number | null;
  idle: { seconds: number; rssBytes: number | null; cpuPercent: number | null } | null;
}

async function runOnce(kind: 'aedes' | 'mosquitto', dir: string, modelPath: string, keys: { pub: string; key: string }): Promise<BrokerRun> {
  const port = await freePort();
  let mosquitto: ChildProcess | null = null;
  if (kind === 'mosquitto') {
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`);
    mosquitto = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    await waitUntil('mosquitto', () => portOpen(port), 10_000);
  }
  const dataDir = join(dir, `agent-${kind}`);
  const configPath = join(dir, `agent-${kind}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      deviceId: `bench-${kind}`,
      broker: kind === 'aedes' ? { url: 'embedded', port } : { url: `mqtt://127.0.0.1:${port}` },
      dataDir,
      trustedKeys: [keys.pub],
      logLevel: 'warn',
    }),
  );
  const agent = spawn(process.execPath, [...AGENT_NODE_FLAGS, BIN, 'start', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...AGENT_ENV } });
  const pid = agent.pid as number;
  try {
    await waitUntil('agent broker port', () => portOpen(port), 20_000);
    await new Promise((r) => setTimeout(r, 3000)); // let start-up (hardware probe child, first hello) settle
    const before = rssBytes(pid);
    let peak = before ?? 0;
    const sampler = setInterval(() => {
      const r = rssBytes(pid);
      if (r !== null && r > peak) peak = r;
    }, 20);
    const started = Date.now();
    const result = await pushJob({
      modelPath,
      target: { device: `bench-${kind}` },
      action: 'ping',
      broker: { url: `mqtt://127.0.0.1:${port}` },
      topicPrefix: 'edgetune/v1',
      keyPath: keys.key,
      wait: true,
      timeoutMs: 600_000,
      chunkSizeBytes: CHUNK_KIB * 1024,
      operatorDataDir: join(dir, `operator-${kind}`),
      log: silentLogger(),
    });
    clearInterval(sampler);
    const end = Date.now();
    const report = result.reports[0];
    if (!report || report.state !== 'ok') throw new Error(`transfer through ${kind} failed: ${JSON.stringify(report?.error)}`);
    if (result.transferSeconds === null) throw new Error(`${kind}: no transfer timing (nothing was sent?)`);
    const transferSeconds = result.transferSeconds;
    let idle: BrokerRun['idle'] = null;
    if (IDLE_SECONDS > 0) {
      log(`${kind}: idle for ${IDLE_SECONDS} s ...`);
      await new Promise((r) => setTimeout(r, 5000));
      const cpu0 = cpuSeconds(pid);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const cpu1 = cpuSeconds(pid);
      const wall = (Date.now() - t0) / 1000;
      idle = { seconds: wall, rssBytes: rssBytes(pid), cpuPercent: cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / wall) * 100 : null };
    }
    const size = result.artifact?.bytes ?? 0;
    return {
      broker: kind,
      sizeBytes: size,
      chunkBytes: CHUNK_KIB * 1024,
      transferSeconds,
      mbPerSec: size / 1e6 / transferSeconds,
      endToEndSeconds: (end - started) / 1000,
      agentRssBeforeBytes: before,
      agentRssPeakBytes: peak || null,
      agentRssGrowthBytes: before !== null ? peak - before : null,
      idle,
    };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    mosquitto?.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(REPO, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-bench-transfer-'));
  try {
    const pair = generateSigningKeyPair();
    const keys = { pub: join(dir, 'op.pub'), key: join(dir, 'op.key') };
    writeFileSync(keys.pub, pair.publicKeyPem);
    writeFileSync(keys.key, pair.privateKeyPem, { mode: 0o600 });
    const modelPath = join(dir, 'artifact.bin');
    const fd = openSync(modelPath, 'w');
    for (let left = Math.round(SIZE_MB * 1e6); left > 0; left -= 1 << 20) writeSync(fd, randomBytes(Math.min(left, 1 << 20)));
    closeSync(fd);
    const runs: BrokerRun[] = [];
    for (const kind of BROKERS) {
      if (kind === 'mosquitto' && !existsSync(MOSQUITTO)) {
        log(`mosquitto: ${MOSQUITTO} not installed; skipped`);
        continue;
      }
      log(`${kind}: pushing ${SIZE_MB} MB in ${CHUNK_KIB} KiB chunks ...`);
      runs.push(await runOnce(kind, dir, modelPath, keys));
    }
    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      agentNodeFlags: AGENT_NODE_FLAGS,
      agentEnv: AGENT_ENV,
    };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify({ machine, runs })}\n`);
      return;
    }
    const mb = (b: number | null): string => (b === null ? '-' : `${(b / (1024 * 1024)).toFixed(1)} MiB`);
    process.stdout.write(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; agent: node ${AGENT_NODE_FLAGS.join(' ') || '(no flags)'} ${Object.entries(AGENT_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    for (const r of runs) {
      process.stdout.write(
        `${r.broker.padEnd(9)} ${(r.sizeBytes / 1e6).toFixed(0)} MB in ${r.transferSeconds.toFixed(2)} s = ${r.mbPerSec.toFixed(1)} MB/s ` +
          `(end to end ${r.endToEndSeconds.toFixed(2)} s); agent RSS ${mb(r.agentRssBeforeBytes)} -> peak ${mb(r.agentRssPeakBytes)} (growth ${mb(r.agentRssGrowthBytes)})` +
          (r.idle ? `; idle ${r.idle.seconds.toFixed(0)} s: RSS ${mb(r.idle.rssBytes)}, CPU ${r.idle.cpuPercent?.toFixed(2) ?? '-'} %` : '') +
          '\n',
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-transfer: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
