import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { createLogger } from '../../agent/logger.js';
import { Dashboard } from '../../operator/dashboard/dashboard.js';
import { EdgetuneError } from '../../util/errors.js';
import { operatorOptions, operatorSettingsFrom } from './operator-options.js';

/** `edgetune dashboard`: the operator's web page over its store, live from the broker. */
export const commandModule: CommandModule = {
  command: 'dashboard',
  describe: 'a local web page over the operator store, live from the broker: fleet, devices, models and their tune fronts, pushes',
  builder: (y: Argv) =>
    operatorOptions(
      y
        .option('port', { type: 'number', default: 8080, describe: 'HTTP port (0: any free port)' })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on; anything but loopback requires the token printed at start on every request' })
        .option('key', { type: 'string', describe: 'ed25519 private key (PEM) that signs pushes and resyncs on the server side (it never reaches the browser)' })
        .option('push-timeout', { type: 'number', default: 600, describe: "seconds a push from the page waits for the devices' reports" })
        .option('chunk-size', { type: 'number', describe: 'artifact chunk bytes (default 262144; 65536 for brokers with 128 KB limits)' }),
    ),
  handler: async (args) => {
    const port = Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EdgetuneError('USAGE', `--port ${String(args.port)} must be an integer in 0..65535`);
    const host = String(args.host).trim();
    if (host.length === 0) throw new EdgetuneError('USAGE', '--host must name an address');
    const pushTimeout = Number(args.pushTimeout);
    if (!(pushTimeout > 0) || !Number.isFinite(pushTimeout)) throw new EdgetuneError('USAGE', `--push-timeout ${String(args.pushTimeout)} must be a positive number of seconds`);
    const settings = operatorSettingsFrom(args);
    const chunkSize = settings.chunkSizeBytes;
    if (!Number.isInteger(chunkSize) || chunkSize < 1024 || chunkSize > 64 * 1024 * 1024) throw new EdgetuneError('USAGE', `chunk size ${String(chunkSize)} must be an integer in 1024..67108864`);
    const log = createLogger(args.verbose === true ? 'debug' : 'info');
    const dashboard = new Dashboard({
      dataDir: String(args.dataDir),
      broker: settings.broker,
      topicPrefix: settings.topicPrefix,
      chunkSizeBytes: chunkSize,
      ...(args.key !== undefined ? { keyPath: String(args.key) } : {}),
      host,
      port,
      pushTimeoutMs: pushTimeout * 1000,
      log,
    });
    const address = await dashboard.start();
    process.stdout.write(`edgetune dashboard: ${address.url}\n`);
    if (address.token) {
      process.stdout.write(
        `bound to ${host}, beyond loopback: every request and the live stream need this token (shown once; a new one each start).\n` +
          'Open the URL above; it sets a cookie and drops the token from the address bar. Scripts: header Authorization: Bearer <token>.\n',
      );
    } else {
      process.stdout.write(`bound to ${host} (loopback only; --host 0.0.0.0 serves the network and then requires a token)\n`);
    }
    if (args.key === undefined) process.stdout.write('no --key: pushes from the page go unsigned, and agents refuse unsigned jobs by default\n');
    log.info(`dashboard on ${host}:${address.port} over ${String(args.dataDir)}, broker ${settings.broker.url}`);
    await new Promise<void>((resolve) => {
      const onSignal = (): void => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    log.info('dashboard stopping');
    await dashboard.stop();
  },
};
