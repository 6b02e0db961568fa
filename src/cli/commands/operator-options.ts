import type { Argv } from 'yargs';
import type { OperatorBrokerOptions } from '../../operator/operator-link.js';
import { DEFAULT_CHUNK_SIZE_BYTES } from '../../config/agent-config-defaults.js';
import { loadAgentConfig } from '../../config/load-agent-config.js';
import { EdgetuneError } from '../../util/errors.js';

/** The broker / store / topic options shared by push and devices. */
export function operatorOptions(y: Argv): Argv {
  return y
    .option('config', { type: 'string', describe: 'take broker URL, credentials, TLS files, topic prefix and chunk size from this agent.config.json' })
    .option('broker', { type: 'string', describe: 'broker URL, mqtt:// or mqtts:// (default mqtt://127.0.0.1:1883); a clustered broker: URL,URL,… tried in order with failover' })
    .option('mqtt-version', { type: 'string', choices: ['4', '5', 'auto'], describe: 'MQTT protocol level (default auto: 5, falling back to 3.1.1)' })
    .option('username', { type: 'string', describe: 'broker username' })
    .option('password', { type: 'string', describe: 'broker password (or EDGETUNE_BROKER_PASSWORD)' })
    .option('ca', { type: 'string', describe: 'CA certificate (PEM) for mqtts://' })
    .option('cert', { type: 'string', describe: 'client certificate (PEM)' })
    .option('client-key', { type: 'string', describe: 'client certificate key (PEM)' })
    .option('session', { type: 'string', describe: 'persistent session name: the broker keeps reports for this operator while it is away' })
    .option('prefix', { type: 'string', describe: 'topic prefix (default edgetune/v1)' })
    .option('data-dir', { type: 'string', default: './.edgetune-operator', describe: "the operator's store directory" })
    .option('verbose', { type: 'boolean', default: false, describe: 'debug logs on stderr' });
}

/** Broker, topic prefix and chunk size for an operator command: flags > --config file (+ EDGETUNE_* env) > defaults. */
export interface OperatorSettings {
  broker: OperatorBrokerOptions;
  topicPrefix: string;
  chunkSizeBytes: number;
  /** QoS of published chunks: `--chunk-qos`, else the config's `broker.artifactQos`, else 1. */
  chunkQos: 0 | 1;
}

/** Resolve the operator settings from parsed flags. */
export function operatorSettingsFrom(args: Record<string, unknown>): OperatorSettings {
  let fromConfig: Partial<OperatorBrokerOptions> & { topicPrefix?: string; chunkSizeBytes?: number; chunkQos?: 0 | 1 } = {};
  if (args.config !== undefined) {
    // An agent config: its own signing policy does not concern the operator, so it is not checked here.
    const { resolved: c } = loadAgentConfig({ configPath: String(args.config), env: process.env, flags: { allowUnsigned: true }, checkFiles: false });
    const host = c.broker.host === '0.0.0.0' ? '127.0.0.1' : c.broker.host;
    fromConfig = {
      url: c.broker.url === 'embedded' ? `mqtt://${host}:${c.broker.port}` : c.broker.url,
      ...(c.broker.url !== 'embedded' && c.broker.urls !== undefined ? { urls: c.broker.urls } : {}),
      ...(c.broker.protocolVersion !== undefined ? { protocolVersion: c.broker.protocolVersion } : {}),
      ...(c.broker.username !== undefined ? { username: c.broker.username } : {}),
      ...(c.broker.password !== undefined ? { password: c.broker.password } : {}),
      ...(c.broker.ca !== undefined ? { ca: c.broker.ca } : {}),
      ...(c.broker.cert !== undefined ? { cert: c.broker.cert } : {}),
      ...(c.broker.key !== undefined ? { key: c.broker.key } : {}),
      topicPrefix: c.topicPrefix,
      chunkSizeBytes: c.chunkSizeBytes,
      chunkQos: c.broker.artifactQos,
    };
  }
  const v = args.mqttVersion === undefined ? undefined : String(args.mqttVersion);
  const password = (args.password as string | undefined) ?? process.env.EDGETUNE_BROKER_PASSWORD ?? fromConfig.password;
  const topicPrefix = (args.prefix as string | undefined) ?? fromConfig.topicPrefix ?? 'edgetune/v1';
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(topicPrefix)) throw new EdgetuneError('USAGE', `--prefix '${topicPrefix}' is not a topic prefix`);
  const pick = (flag: unknown, cfg: string | undefined): string | undefined => (flag !== undefined ? String(flag) : cfg);
  const username = pick(args.username, fromConfig.username);
  const ca = pick(args.ca, fromConfig.ca);
  const cert = pick(args.cert, fromConfig.cert);
  const key = pick(args.clientKey, fromConfig.key);
  const urls = args.broker !== undefined ? parseBrokerList(String(args.broker)) : fromConfig.urls;
  return {
    broker: {
      url: urls?.[0] ?? fromConfig.url ?? 'mqtt://127.0.0.1:1883',
      ...(urls !== undefined && urls.length > 1 ? { urls } : {}),
      protocolVersion: v === '4' ? 4 : v === '5' ? 5 : v === 'auto' ? 'auto' : (fromConfig.protocolVersion ?? 'auto'),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(args.session !== undefined ? { sessionName: String(args.session) } : {}),
    },
    topicPrefix,
    chunkSizeBytes: (args.chunkSize as number | undefined) ?? fromConfig.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES,
    chunkQos: chunkQosFrom(args.chunkQos, fromConfig.chunkQos),
  };
}

/** `--chunk-qos 0|1` (push), else the config's value, else 1; anything else is a USAGE error. */
function chunkQosFrom(flag: unknown, fromConfig: 0 | 1 | undefined): 0 | 1 {
  if (flag === undefined) return fromConfig ?? 1;
  if (flag === 0 || flag === 1 || flag === '0' || flag === '1') return Number(flag) as 0 | 1;
  throw new EdgetuneError('USAGE', `--chunk-qos ${String(flag)} must be 0 or 1`);
}

/** `--broker URL[,URL…]`: the nodes of a broker, each an mqtt:// or mqtts:// URL, no repeats. USAGE otherwise. */
export function parseBrokerList(text: string): string[] {
  const urls = text.split(',').map((u) => u.trim());
  const problems: string[] = [];
  if (urls.length === 0 || urls.every((u) => u === '')) problems.push('is empty');
  urls.forEach((u, i) => {
    if (u === '') problems.push(`node ${i + 1} is empty`);
    else if (!/^mqtts?:\/\/[^\s/?#]+(:\d+)?\/?$/.test(u)) problems.push(`node ${i + 1} '${u}' is not an mqtt:// or mqtts:// URL of a host and port`);
    else if (urls.indexOf(u) !== i) problems.push(`node ${i + 1} '${u}' is listed twice`);
  });
  if (problems.length > 0) throw new EdgetuneError('USAGE', `--broker '${text}': ${problems.join('; ')}`);
  return urls;
}
