import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../../src/agent/agent.js';
import type { AgentServices } from '../../../src/agent/agent-services.js';
import { silentLogger, createLogger, type Logger } from '../../../src/agent/logger.js';
import { fileLayer, resolveAgentConfig, type ResolvedAgentConfig } from '../../../src/config/load-agent-config.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../../src/transport/embedded-broker.js';
import { generateSigningKeyPair, signJob, signManifest } from '../../../src/transport/signature.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { chunkCount } from '../../../src/transport/chunk-layout.js';
import { decodeMessage, type JobMessage, type ManifestMessage, type ReportMessage, type RequestMessage } from '../../../src/transport/messages.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { Topics } from '../../../src/transport/topics.js';
import { freePort } from '../../../scripts/lib/free-port.js';

/** A free TCP port on loopback (outside the ephemeral range; see scripts/lib/free-port.ts). */
export { freePort };

/** Test harness for the fleet integration tests: real brokers, real agents, real SQLite files. */

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const HAVE_MOSQUITTO = existsSync(MOSQUITTO);
export const REPO = join(import.meta.dirname, '../../..');
export const BIN = join(REPO, 'bin/edgetune.js');
export const MNIST_MLP = join(REPO, 'test/fixtures/models/mnist-mlp.onnx');

/** Logs of agents under test: silent unless EDGETUNE_TEST_LOG=1. */
export function testLogger(name: string): Logger {
  return process.env.EDGETUNE_TEST_LOG ? createLogger('debug', (l) => process.stderr.write(l), name) : silentLogger();
}

/** Poll `check` until it returns a truthy value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A broker the tests can stop and start again on the same port. */
export interface TestBroker {
  kind: 'aedes' | 'mosquitto';
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The embedded aedes broker, in this process. */
export function aedesBroker(port: number): TestBroker {
  let broker: EmbeddedBroker | null = null;
  return {
    kind: 'aedes',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      broker = await startEmbeddedBroker({ port });
    },
    async stop() {
      await broker?.close();
      broker = null;
    },
  };
}

/** Mosquitto as a child process on a loopback port, no persistence. */
export function mosquittoBroker(port: number, dir: string): TestBroker {
  let child: ChildProcess | null = null;
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`);
  return {
    kind: 'mosquitto',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
      await waitFor(`mosquitto on port ${port}`, () => portAccepts(port), 10_000);
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
  };
}

/** The brokers to run each test against: aedes always, Mosquitto when installed. */
export const BROKER_KINDS: Array<'aedes' | 'mosquitto'> = HAVE_MOSQUITTO ? ['aedes', 'mosquitto'] : ['aedes'];

/** Start a broker of the given kind on a free port. */
export async function startTestBroker(kind: 'aedes' | 'mosquitto', dir: string): Promise<TestBroker> {
  const port = await freePort();
  const b = kind === 'aedes' ? aedesBroker(port) : mosquittoBroker(port, dir);
  await b.start();
  return b;
}

/** A temp directory with an operator key pair. */
export function fleetDir(): { dir: string; publicKey: string; privateKey: string } {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-fleet-'));
  const pair = generateSigningKeyPair();
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'keys/operator.pub'), pair.publicKeyPem);
  writeFileSync(join(dir, 'keys/operator.key'), pair.privateKeyPem, { mode: 0o600 });
  return { dir, publicKey: join(dir, 'keys/operator.pub'), privateKey: join(dir, 'keys/operator.key') };
}

/** The raw config object of a test agent (every path absolute). */
export function agentConfigObject(o: { dir: string; deviceId: string; groups?: string[]; brokerUrl: string; publicKey: string; extra?: Record<string, unknown> }): Record<string, unknown> {
  return {
    deviceId: o.deviceId,
    groups: o.groups ?? [],
    broker: { url: o.brokerUrl, reconnectInitialMs: 200, reconnectMaxMs: 2000, ...((o.extra?.broker as object | undefined) ?? {}) },
    dataDir: join(o.dir, `agent-${o.deviceId}`),
    trustedKeys: [o.publicKey],
    schedules: { heartbeat: null, reprofile: null, cleanup: null },
    logLevel: 'debug',
    ...Object.fromEntries(Object.entries(o.extra ?? {}).filter(([k]) => k !== 'broker')),
  };
}

/** A resolved config for an in-process test agent. */
export function agentConfig(o: Parameters<typeof agentConfigObject>[0]): ResolvedAgentConfig {
  return resolveAgentConfig([fileLayer(agentConfigObject(o), join(o.dir, `${o.deviceId}.json`))], { configPath: null, cwd: o.dir, checkFiles: true });
}

/** Start an in-process agent (services: the CLI-child defaults unless a test injects its own). */
export async function startAgent(config: ResolvedAgentConfig, options: { services?: AgentServices } = {}): Promise<Agent> {
  const agent = new Agent(config, { log: testLogger(config.deviceId), ...options });
  await agent.start();
  await waitFor(`agent ${config.deviceId} connected`, () => agent.connected, 15_000);
  return agent;
}

/** Run `node bin/edgetune.js ARGS` to completion. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Start `node bin/edgetune.js start --config FILE` as a child process (stderr kept for diagnostics). */
export function spawnAgentProcess(configPath: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [BIN, 'start', '--config', configPath], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-20_000);
    if (process.env.EDGETUNE_TEST_LOG) process.stderr.write(b);
  });
  return { child, output: () => err };
}

/** A hand-driven operator for fault tests: publishes what it is told, records requests and reports. */
export class ManualOperator {
  readonly topics = new Topics('edgetune/v1');
  readonly requests: Array<{ deviceId: string; req: RequestMessage }> = [];
  readonly reports = new Map<string, ReportMessage>();
  readonly statuses = new Map<string, string>();
  /** Which requested chunks get answered. */
  allow: (index: number) => boolean = () => true;
  private connection: MqttConnection | null = null;
  private readonly files = new Map<string, { path: string; chunkSize: number; bytes: number }>();

  constructor(private readonly url: string) {}

  /** Connect and subscribe to requests, reports and status of every device. */
  async connect(): Promise<void> {
    this.connection = await connectOperator({ url: this.url }, (m) => this.onMessage(m.topic, m.payload), testLogger('manual-op'));
    await this.connection.subscribe([this.topics.allDevices('requests'), this.topics.allDevices('reports'), this.topics.allDevices('status')], 1);
  }

  /** Disconnect. */
  async close(): Promise<void> {
    await this.connection?.stop();
    this.connection = null;
  }

  /** Publish raw bytes. */
  async publish(topic: string, payload: Buffer | string, retain = false): Promise<void> {
    await (this.connection as MqttConnection).publish(topic, payload, { qos: 1, retain });
  }

  /** Serve `path` as the bytes of artifact `sha256` (a test may lie about the digest on purpose). */
  serve(sha256: string, path: string, chunkSize: number): void {
    this.files.set(sha256, { path, chunkSize, bytes: statSync(path).size });
  }

  /** Wait for the report of `jobId`. */
  report(jobId: string, timeoutMs = 60_000): Promise<ReportMessage> {
    return waitFor(`report of ${jobId}`, () => this.reports.get(jobId), timeoutMs);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parsed = this.topics.parse(topic);
    if (!parsed || !('deviceId' in parsed)) return;
    if (parsed.kind === 'reports') {
      const r = decodeMessage('reports', payload, 16 * 1024 * 1024);
      this.reports.set(r.jobId, r);
    } else if (parsed.kind === 'status' && payload.length > 0) {
      this.statuses.set(parsed.deviceId, (JSON.parse(payload.toString()) as { state: string }).state);
    } else if (parsed.kind === 'requests') {
      const req = decodeMessage('requests', payload, 1024 * 1024);
      this.requests.push({ deviceId: parsed.deviceId, req });
      const f = this.files.get(req.sha256);
      if (!f) return;
      const fd = openSync(f.path, 'r');
      try {
        for (const i of req.missing) {
          if (!this.allow(i)) continue;
          const length = Math.min(f.chunkSize, f.bytes - i * f.chunkSize);
          if (length <= 0) continue;
          const buf = Buffer.alloc(length);
          readSync(fd, buf, 0, length, i * f.chunkSize);
          this.connection?.publish(this.topics.chunk(req.sha256, i), buf, { qos: 1 }).catch(() => undefined);
        }
      } finally {
        closeSync(fd);
      }
    }
  }
}

/** Digest of a file. */
export function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A signed (or unsigned, key null) manifest + job pair for `path`. */
export function signedJobFor(o: {
  path: string;
  sha256?: string;
  deviceId: string;
  action: JobMessage['action'];
  chunkSize: number;
  key: KeyObject | null;
  options?: Record<string, unknown>;
  jobId?: string;
}): { job: JobMessage; manifest: ManifestMessage } {
  const bytes = statSync(o.path).size;
  const sha256 = o.sha256 ?? sha256Of(o.path);
  let manifest: ManifestMessage = { sha256, bytes, chunkSize: o.chunkSize, chunks: chunkCount(bytes, o.chunkSize), name: 'model.onnx', kind: 'model', signature: null };
  let job: JobMessage = {
    jobId: o.jobId ?? `job-${randomBytes(6).toString('hex')}`,
    action: o.action,
    target: { device: o.deviceId },
    artifact: { sha256, bytes, name: 'model.onnx' },
    options: o.options ?? {},
    issuedAt: new Date().toISOString(),
    signature: null,
  };
  if (o.key) {
    manifest = signManifest(manifest, o.key);
    job = signJob(job, o.key);
  }
  return { job, manifest };
}

/** A ping job without an artifact, signed when `key` is given. */
export function pingJob(deviceId: string, key: KeyObject | null, options: Record<string, unknown> = {}): JobMessage {
  const job: JobMessage = { jobId: `ping-${randomBytes(6).toString('hex')}`, action: 'ping', target: { device: deviceId }, options, issuedAt: new Date().toISOString(), signature: null };
  return key ? signJob(job, key) : job;
}

/**
 * A TCP proxy in front of a broker whose gate the test opens and closes: closed, it drops existing connections and
 * refuses new ones. Lets a test decide when an agent may reach the broker again (e.g. only after the operator has
 * subscribed), without timing assumptions.
 */
export async function gatedProxy(targetPort: number): Promise<{ port: number; url: string; open(): void; close(): void; stop(): Promise<void>; connections(): number }> {
  let gateOpen = true;
  const pairs = new Set<Socket>();
  const server = createServer((client) => {
    if (!gateOpen) {
      client.destroy();
      return;
    }
    const upstream = netConnect(targetPort, '127.0.0.1');
    pairs.add(client);
    pairs.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      pairs.delete(client);
      pairs.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    open: () => {
      gateOpen = true;
    },
    /** Client connections currently piped through. */
    connections: () => pairs.size / 2,
    close: () => {
      gateOpen = false;
      for (const s of pairs) s.destroy();
      pairs.clear();
    },
    stop: async () => {
      gateOpen = false;
      for (const s of pairs) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
