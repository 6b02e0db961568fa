import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { listDevices } from '../../operator/list-devices.js';
import { createLogger } from '../../agent/logger.js';
import { operatorOptions, operatorSettingsFrom } from './operator-options.js';

/** `edgetune devices`: devices from their retained status / hello / heartbeat. */
export const commandModule: CommandModule = {
  command: 'devices',
  describe: 'list devices from their retained status and hello (online/offline, board, profile, last seen, missing reports)',
  builder: (y: Argv) =>
    operatorOptions(y)
      .option('settle-ms', { type: 'number', default: 1500, describe: 'how long to gather retained messages' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  handler: async (args) => {
    const log = createLogger(args.verbose === true ? 'debug' : 'warn');
    const settings = operatorSettingsFrom(args);
    const devices = await listDevices({
      broker: settings.broker,
      topicPrefix: settings.topicPrefix,
      operatorDataDir: String(args.dataDir),
      settleMs: Number(args.settleMs),
      log,
    });
    if (args.json === true) {
      process.stdout.write(`${JSON.stringify({ devices })}\n`);
      return;
    }
    if (devices.length === 0) {
      process.stdout.write('no devices seen (none has connected to this broker since it started, or the prefix differs)\n');
      return;
    }
    const header = ['device', 'state', 'since', 'board', 'profile', 'groups', 'version', 'live model', 'missing reports'];
    const rows = devices.map((d) => {
      const live = d.activeModel as { sha256?: string; method?: string } | null;
      return [d.deviceId, d.heartbeatOverdueSeconds !== null ? `${d.state}, heartbeat ${formatAge(d.heartbeatOverdueSeconds)} overdue` : d.state, d.since ?? '-', d.board ?? '-', d.profile ?? '-', d.groups.join(',') || '-', d.version ?? '-', live?.sha256 ? `${live.sha256.slice(0, 12)} ${live.method ?? ''}`.trim() : '-', String(d.missingReports)];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
    process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
    const missing = devices.reduce((n, d) => n + d.missingReports, 0);
    const silent = devices.filter((d) => d.heartbeatOverdueSeconds !== null).length;
    if (silent > 0) process.stdout.write(`${silent} device(s) online by their status but silent past their heartbeat schedule: hung, or cut off without their Last Will reaching this broker\n`);
    if (missing > 0) process.stdout.write(`${missing} report(s) missing from this operator store; \`npx edgetune resync\` asks the devices to re-send them\n`);
  },
};

/** `95` → `1m35s`; `40` → `40s`; hours past 3600. */
function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
