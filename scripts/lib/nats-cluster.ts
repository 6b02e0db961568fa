/**
 * A NATS cluster on loopback for tests and benchmarks (issue 18): N `nats-server` nodes (Debian's 2.9) with cluster
 * routes between them, JetStream (file store in a temp dir, streams replicated N ways) and an MQTT 3.1.1 listener
 * on each. One config file per node in `dir`; a node can be killed (SIGKILL) and started again on the same ports
 * and store, as a crashed broker host would come back.
 *
 * NATS MQTT needs a `server_name` per node and JetStream; `mqtt.stream_replicas` makes the MQTT streams (sessions,
 * retained messages, QoS 1 messages) R3, so they survive the loss of one node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { freePort } from './free-port.js';
import { join } from 'node:path';
import { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { silentLogger } from '../../src/agent/logger.js';

/** The nats-server binary, or null when it is not installed (Debian puts it in /usr/sbin). */
export const NATS_SERVER: string | null = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ?? null;

/** Caller input for {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** Directory for the config files, JetStream stores and logs (the caller removes it). */
  dir: string;
  /** Nodes (default 3). */
  nodes?: number;
  /**
   * `mqtt.max_ack_pending`: QoS 1 messages the server sends a subscription before it waits for PUBACKs; NATS's
   * equivalent of MQTT 5 Receive Maximum, set server-wide (default: the server's, 1024).
   */
  maxAckPending?: number;
  /** How long the server waits for a PUBACK before it redelivers (`mqtt.ack_wait`, default the server's 30 s). */
  ackWaitSeconds?: number;
}

/** One node of the cluster. */
export interface NatsNode {
  name: string;
  mqttPort: number;
  mqttUrl: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
  /** Process id while running, else null. */
  readonly pid: number | null;
  readonly running: boolean;
  /**
   * Start (again) and wait until it is healthy (the first time: /healthz; again: JetStream enabled) and its MQTT
   * listener answers CONNECT.
   */
  start(timeoutMs?: number): Promise<void>;
  /** Send `signal` (default SIGKILL) and wait for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A running cluster. */
export interface NatsCluster {
  nodes: NatsNode[];
  /** The MQTT URL of every node, in node order. */
  urls: string[];
  /** Kill every node that still runs. */
  stop(): Promise<void>;
}

/**
 * `/healthz`: with `jsEnabledOnly` only that JetStream runs. A restarted node's full check can stay failed for good
 * ("JetStream consumer … is not current") when consumers were deleted while it was down; it serves MQTT meanwhile.
 */
async function healthy(httpPort: number, jsEnabledOnly: boolean): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}/healthz${jsEnabledOnly ? '?js-enabled-only=true' : ''}`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** True once an MQTT 3.1.1 CONNECT to `url` gets its CONNACK within `timeoutMs`. */
export async function mqttAnswers(url: string, timeoutMs: number): Promise<boolean> {
  const c = new MqttConnection({
    url,
    clientId: `nats-probe-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
    protocolVersion: 4,
    clean: true,
    sessionExpirySeconds: 0,
    keepaliveSeconds: 30,
    reconnectInitialMs: 200,
    reconnectMaxMs: 500,
    connectTimeoutMs: Math.min(timeoutMs, 5000),
    onMessage: () => undefined,
    log: silentLogger(),
  });
  c.start();
  try {
    await c.waitForConnection(timeoutMs);
    return true;
  } catch {
    return false;
  } finally {
    await c.stop();
  }
}

function logTail(logPath: string | undefined): string {
  try {
    return `; its log ends:\n${readFileSync(logPath ?? '', 'utf8').split('\n').slice(-15).join('\n')}`;
  } catch {
    return '';
  }
}

/** Thrown when a node exits while it is being waited for; `bindFailed` when it could not bind one of its ports. */
class NodeExitedError extends Error {
  constructor(
    message: string,
    readonly bindFailed: boolean,
  ) {
    super(message);
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, logPath?: string, exited?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (exited?.()) {
      const tail = logTail(logPath);
      throw new NodeExitedError(`nats cluster: the node exited while waiting for ${what}${tail}`, /address already in use/.test(tail));
    }
    if (Date.now() > deadline) {
      throw new Error(`nats cluster: timed out after ${timeoutMs} ms waiting for ${what}${logTail(logPath)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Write the config files, start every node and wait until each is healthy and answers MQTT CONNECT. A node that
 * cannot bind one of its ports (another process took it between our check and its bind) makes the whole cluster
 * start again on new ports in a fresh subdirectory, up to three times.
 */
export async function startNatsCluster(options: NatsClusterOptions): Promise<NatsCluster> {
  for (let attempt = 0; ; attempt++) {
    const dir = attempt === 0 ? options.dir : join(options.dir, `retry-${attempt}`);
    try {
      return await startNatsClusterIn({ ...options, dir });
    } catch (error) {
      if (!(error instanceof NodeExitedError && error.bindFailed) || attempt >= 2) throw error;
    }
  }
}

async function startNatsClusterIn(options: NatsClusterOptions): Promise<NatsCluster> {
  if (NATS_SERVER === null) throw new Error('nats-server is not installed (Debian: apt-get install nats-server)');
  const binary = NATS_SERVER;
  const count = options.nodes ?? 3;
  mkdirSync(options.dir, { recursive: true });
  const specs: Array<{ name: string; clientPort: number; clusterPort: number; httpPort: number; mqttPort: number }> = [];
  for (let i = 0; i < count; i++) {
    specs.push({ name: `n${i + 1}`, clientPort: await freePort(), clusterPort: await freePort(), httpPort: await freePort(), mqttPort: await freePort() });
  }
  const routes = specs.map((s) => `nats-route://127.0.0.1:${s.clusterPort}`).join(', ');
  const nodes: NatsNode[] = specs.map((spec) => {
    const store = join(options.dir, `${spec.name}-js`);
    mkdirSync(store, { recursive: true });
    const conf = join(options.dir, `${spec.name}.conf`);
    const mqtt = [
      `  listen: 127.0.0.1:${spec.mqttPort}`,
      `  stream_replicas: ${count}`,
      ...(options.maxAckPending !== undefined ? [`  max_ack_pending: ${options.maxAckPending}`] : []),
      ...(options.ackWaitSeconds !== undefined ? [`  ack_wait: "${options.ackWaitSeconds}s"`] : []),
    ];
    writeFileSync(
      conf,
      [
        `server_name: ${spec.name}`,
        `listen: 127.0.0.1:${spec.clientPort}`,
        `http: 127.0.0.1:${spec.httpPort}`,
        `jetstream { store_dir: "${store}" }`,
        `cluster { name: edgetune, listen: 127.0.0.1:${spec.clusterPort}, routes: [${routes}] }`,
        `mqtt {`,
        ...mqtt,
        `}`,
        '',
      ].join('\n'),
    );
    const logPath = join(options.dir, `${spec.name}.log`);
    let child: ChildProcess | null = null;
    let started = false;
    const node: NatsNode = {
      ...spec,
      mqttUrl: `mqtt://127.0.0.1:${spec.mqttPort}`,
      get pid() {
        return child?.pid ?? null;
      },
      get running() {
        return child !== null && child.exitCode === null && child.signalCode === null;
      },
      async start(timeoutMs = 60_000) {
        if (node.running) return;
        const fd = openSync(logPath, 'a');
        child = spawn(binary, ['-c', conf], { stdio: ['ignore', fd, fd] });
        closeSync(fd);
        const restart = started;
        started = true;
        const exited = () => !node.running;
        await until(`${spec.name} healthy (log: ${logPath})`, () => healthy(spec.httpPort, restart), timeoutMs, logPath, exited);
        await until(`${spec.name} answering MQTT CONNECT (log: ${logPath})`, () => mqttAnswers(node.mqttUrl, 5000), timeoutMs, logPath, exited);
      },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        const c = child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        await new Promise<void>((resolve) => {
          c.once('exit', () => resolve());
          c.kill(signal);
        });
      },
    };
    return node;
  });
  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.mqttUrl),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    },
  };
  try {
    // The nodes start together: JetStream needs a quorum of them before any is healthy.
    await Promise.all(nodes.map((n) => n.start()));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
