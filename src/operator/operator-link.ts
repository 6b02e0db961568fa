import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { MqttConnection, type IncomingMessage } from '../transport/mqtt-connection.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import type { Logger } from '../agent/logger.js';

/** How the operator reaches the broker. */
export interface OperatorBrokerOptions {
  /** mqtt:// or mqtts:// URL (the first node when `urls` is given). */
  url: string;
  /** The nodes of a clustered broker, tried in order with failover (`--broker URL[,URL…]`). */
  urls?: readonly string[];
  protocolVersion?: 4 | 5 | 'auto';
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** A persistent session name: reports published while this operator is away are kept by the broker for it. */
  sessionName?: string;
  /** How long the broker keeps that session after a disconnect (MQTT 5; default 7 days). */
  sessionExpirySeconds?: number;
  connectTimeoutMs?: number;
  /** How long a SUBSCRIBE the broker refuses is sent again before it fails (MqttConnectionOptions; default 0). */
  refusedSubscribeRetryMs?: number;
}

/** Open an operator connection (clean session unless `sessionName`), wait until connected. */
export async function connectOperator(
  broker: OperatorBrokerOptions,
  onMessage: (m: IncomingMessage) => void | Promise<void>,
  log: Logger,
): Promise<MqttConnection> {
  const urls = broker.urls && broker.urls.length > 0 ? broker.urls : [broker.url];
  for (const u of urls) {
    if (!/^mqtts?:\/\/[^\s,]+$/.test(u)) {
      throw new EdgetuneError('USAGE', `--broker '${u}' must be an mqtt:// or mqtts:// URL (the embedded broker of an agent listens on mqtt://127.0.0.1:1883)`);
    }
  }
  const readOpt = (path: string | undefined, what: string): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new EdgetuneError('USAGE', `cannot read ${what} ${path}: ${messageOf(error)}`, { cause: error });
    }
  };
  const ca = readOpt(broker.ca, 'CA file');
  const cert = readOpt(broker.cert, 'client certificate');
  const key = readOpt(broker.key, 'client key');
  const persistent = broker.sessionName !== undefined;
  if (persistent && !/^[A-Za-z0-9_-]{1,64}$/.test(broker.sessionName as string)) {
    throw new EdgetuneError('USAGE', `session name '${broker.sessionName}' must match [A-Za-z0-9_-]{1,64}`);
  }
  const clientId = persistent ? `edgetune-operator-${broker.sessionName}` : `edgetune-op-${hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 20)}-${randomBytes(4).toString('hex')}`;
  const connection = new MqttConnection({
    url: urls[0] as string,
    urls,
    clientId,
    protocolVersion: broker.protocolVersion ?? 'auto',
    clean: !persistent,
    sessionExpirySeconds: persistent ? (broker.sessionExpirySeconds ?? 7 * 24 * 3600) : 0,
    keepaliveSeconds: 30,
    ...(broker.username !== undefined ? { username: broker.username } : {}),
    ...(broker.password !== undefined ? { password: broker.password } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    reconnectInitialMs: 500,
    reconnectMaxMs: 10_000,
    connectTimeoutMs: broker.connectTimeoutMs ?? 10_000,
    ...(broker.refusedSubscribeRetryMs !== undefined ? { refusedSubscribeRetryMs: broker.refusedSubscribeRetryMs } : {}),
    onMessage,
    log,
  });
  connection.start();
  try {
    await connection.waitForConnection(broker.connectTimeoutMs ?? 10_000);
  } catch (error) {
    const failures = connection.failures();
    await connection.stop();
    if (urls.every((u) => UNREACHABLE.test(failures.get(u) ?? ''))) {
      const which = urls.map((u) => `${u} (${failures.get(u)})`).join(', ');
      throw new EdgetuneError('BROKER_UNREACHABLE', `no broker node answers: ${which}; check --broker`, { cause: error });
    }
    throw error;
  }
  return connection;
}

/** Connection errors that say nothing listens there (or the name does not resolve), as opposed to a slow broker. */
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL)$/;
