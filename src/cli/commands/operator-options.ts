import type { Argv } from 'yargs';
import type { OperatorBrokerOptions } from '../../agent/operator/operator-link.js';
import { EdgetuneError } from '../../util/errors.js';

/** The broker / store / topic options shared by push, devices and results. */
export function operatorOptions(y: Argv): Argv {
  return y
    .option('broker', { type: 'string', default: 'mqtt://127.0.0.1:1883', describe: 'broker URL (mqtt:// or mqtts://)' })
    .option('mqtt-version', { type: 'string', choices: ['4', '5', 'auto'], default: 'auto', describe: 'MQTT protocol level (auto: 5, falling back to 3.1.1)' })
    .option('username', { type: 'string', describe: 'broker username' })
    .option('password', { type: 'string', describe: 'broker password (or EDGETUNE_BROKER_PASSWORD)' })
    .option('ca', { type: 'string', describe: 'CA certificate (PEM) for mqtts://' })
    .option('cert', { type: 'string', describe: 'client certificate (PEM)' })
    .option('client-key', { type: 'string', describe: 'client certificate key (PEM)' })
    .option('session', { type: 'string', describe: 'persistent session name: the broker keeps reports for this operator while it is away' })
    .option('prefix', { type: 'string', default: 'edgetune/v1', describe: 'topic prefix' })
    .option('data-dir', { type: 'string', default: './.edgetune-operator', describe: "the operator's store directory" })
    .option('verbose', { type: 'boolean', default: false, describe: 'debug logs on stderr' });
}

/** Broker options from parsed flags (password also from EDGETUNE_BROKER_PASSWORD). */
export function brokerOptionsFrom(args: Record<string, unknown>): OperatorBrokerOptions {
  const v = String(args.mqttVersion ?? 'auto');
  const password = (args.password as string | undefined) ?? process.env.EDGETUNE_BROKER_PASSWORD;
  if (!/^[A-Za-z0-9_./-]+(\/[A-Za-z0-9_./-]+)*$/.test(String(args.prefix ?? 'edgetune/v1'))) throw new EdgetuneError('USAGE', `--prefix '${String(args.prefix)}' is not a topic prefix`);
  return {
    url: String(args.broker),
    protocolVersion: v === '4' ? 4 : v === '5' ? 5 : 'auto',
    ...(args.username !== undefined ? { username: String(args.username) } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(args.ca !== undefined ? { ca: String(args.ca) } : {}),
    ...(args.cert !== undefined ? { cert: String(args.cert) } : {}),
    ...(args.clientKey !== undefined ? { key: String(args.clientKey) } : {}),
    ...(args.session !== undefined ? { sessionName: String(args.session) } : {}),
  };
}
