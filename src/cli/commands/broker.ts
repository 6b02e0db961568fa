import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { startEmbeddedBroker } from '../../transport/embedded-broker.js';
import { createLogger } from '../../agent/logger.js';
import { EdgetuneError } from '../../util/errors.js';

/** `edgetune broker`: run the embedded MQTT 3.1.1 broker alone until SIGINT/SIGTERM. */
export const commandModule: CommandModule = {
  command: 'broker',
  describe: 'run the embedded MQTT broker (aedes, MQTT 3.1.1, in memory) alone',
  builder: (y: Argv) =>
    y
      .option('port', { type: 'number', default: 1883, describe: 'TCP port (0 = any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'interface to listen on' })
      .option('json', { type: 'boolean', default: false, describe: 'print { url, host, port } once listening' }),
  handler: async (args) => {
    const port = Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EdgetuneError('USAGE', `--port ${String(args.port)} must be an integer in 0..65535`);
    const log = createLogger('info');
    const broker = await startEmbeddedBroker({ host: String(args.host), port, log: log.child('broker') });
    if (args.json === true) process.stdout.write(`${JSON.stringify({ url: broker.url, host: broker.host, port: broker.port })}\n`);
    log.info(`broker listening on ${broker.url} (MQTT 3.1.1; Ctrl-C stops it)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await broker.close();
  },
};
