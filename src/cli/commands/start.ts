import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { loadAgentConfig } from '../../config/load-agent-config.js';
import { Agent } from '../../agent/agent.js';
import { parseBrokerList } from './operator-options.js';

/** `edgetune start`: run the agent until SIGINT/SIGTERM. */
export const commandModule: CommandModule = {
  command: 'start',
  describe: 'run the agent (daemon): receive jobs over MQTT, compress, profile, report',
  builder: (y: Argv) =>
    y
      .option('config', { type: 'string', describe: 'agent.config.json (default: ./agent.config.json if present)' })
      .option('device-id', { type: 'string', describe: 'override deviceId' })
      .option('broker', { type: 'string', describe: 'override broker.url: embedded or mqtt(s)://host:port; URL,URL,… sets broker.urls (a clustered broker)' })
      .option('port', { type: 'number', describe: 'override broker.port (embedded broker)' })
      .option('data-dir', { type: 'string', describe: 'override dataDir' })
      .option('log-level', { type: 'string', choices: ['error', 'warn', 'info', 'debug'], describe: 'override logLevel' }),
  handler: async (args) => {
    const flags: Record<string, unknown> = {};
    const labels: Record<string, string> = {};
    const set = (path: string, value: unknown, flag: string): void => {
      if (value === undefined) return;
      const parts = path.split('.');
      let cur = flags;
      for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
      cur[parts[parts.length - 1] as string] = value;
      labels[path] = flag;
    };
    set('deviceId', args.deviceId, '--device-id');
    if (typeof args.broker === 'string' && args.broker.includes(',')) set('broker.urls', parseBrokerList(args.broker), '--broker');
    else set('broker.url', args.broker, '--broker');
    set('broker.port', args.port, '--port');
    set('dataDir', args.dataDir, '--data-dir');
    set('logLevel', args.logLevel, '--log-level');
    let configPath = args.config as string | undefined;
    if (configPath === undefined && existsSync('agent.config.json')) configPath = 'agent.config.json';
    const { resolved } = loadAgentConfig({ ...(configPath !== undefined ? { configPath } : {}), env: process.env, flags, flagLabels: labels });
    const agent = new Agent(resolved);
    // The daemon never dies of one bad callback: an unexpected rejection is logged (jobs and messages already turn
    // their own failures into reports).
    process.on('unhandledRejection', (reason) => process.stderr.write(`edgetune: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`));
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    await agent.start(controller.signal);
    await new Promise<void>((resolve) => {
      if (controller.signal.aborted) resolve();
      else controller.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await agent.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  },
};
