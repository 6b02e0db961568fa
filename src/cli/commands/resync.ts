import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { createLogger } from '../../agent/logger.js';
import { formatRanges } from '../../util/seq-ranges.js';
import { resyncReports, type DeviceResync } from '../../operator/resync-reports.js';
import { DEVICE_ID_PATTERN } from '../../config/agent-config-schema.js';
import { EdgetuneError } from '../../util/errors.js';
import { operatorOptions, operatorSettingsFrom } from './operator-options.js';

function describeDevice(d: DeviceResync): string {
  if (d.missingBeforeCount === 0) return `${d.deviceId}: nothing missing${d.lastReportSeq === null ? ' (no lastReportSeq in its heartbeat: a lost newest report would not show)' : ''}`;
  const parts = [`${d.deviceId}: ${d.missingBeforeCount} missing (seq ${formatRanges(d.missingBefore)})`];
  if (d.jobs.length > 0) parts.push(`recovered ${d.recoveredCount}`);
  if (d.stillMissingCount === 0) parts.push('nothing missing now');
  else {
    parts.push(`still missing ${d.stillMissingCount} (seq ${formatRanges(d.stillMissing)})`);
    if (d.notStoredOnDevice.length > 0) parts.push(`the device says it does not have seq ${formatRanges(d.notStoredOnDevice)}`);
  }
  for (const j of d.jobs) {
    if (j.outcome !== 'ok') parts.push(`job ${j.jobId ?? '-'} (${j.fromSeq}..${j.toSeq}) ${j.outcome}: ${j.error?.message ?? ''} [${j.error?.code ?? '?'}]`);
  }
  if (d.note) parts.push(d.note);
  return parts.join('; ');
}

/** `edgetune resync`: ask devices to re-send the reports missing from the operator store. */
export const commandModule: CommandModule = {
  command: 'resync',
  describe: 'ask devices to re-send reports missing from the operator store (holes in their seq), and store them',
  builder: (y: Argv) =>
    operatorOptions(
      y
        .option('device', { type: 'string', array: true, describe: 'only this device (repeatable; default: every device the store knows)' })
        .option('key', { type: 'string', describe: 'ed25519 private key (PEM) that signs the resend-reports jobs; agents refuse unsigned jobs by default' })
        .option('timeout-s', { type: 'number', default: 60, describe: "seconds to wait for each job's report and the reports it re-sends" })
        .option('settle-ms', { type: 'number', default: 1500, describe: 'how long to gather retained status and heartbeats first' })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
    ),
  handler: async (args) => {
    const devices = args.device as string[] | undefined;
    for (const d of devices ?? []) {
      if (!DEVICE_ID_PATTERN.test(d)) throw new EdgetuneError('USAGE', `resync: --device '${d}' must match [A-Za-z0-9_-]{1,64}`);
    }
    const timeoutS = Number(args.timeoutS);
    if (!(timeoutS > 0) || !Number.isFinite(timeoutS)) throw new EdgetuneError('USAGE', `--timeout-s ${String(args.timeoutS)} must be a positive number of seconds`);
    const settleMs = Number(args.settleMs);
    if (!(settleMs >= 0) || !Number.isFinite(settleMs)) throw new EdgetuneError('USAGE', `--settle-ms ${String(args.settleMs)} must be a non-negative number`);
    const settings = operatorSettingsFrom(args);
    const log = createLogger(args.verbose === true ? 'debug' : 'warn');
    const result = await resyncReports({
      broker: settings.broker,
      topicPrefix: settings.topicPrefix,
      operatorDataDir: String(args.dataDir),
      ...(args.key !== undefined ? { keyPath: String(args.key) } : {}),
      ...(devices !== undefined ? { devices: [...new Set(devices)] } : {}),
      timeoutMs: timeoutS * 1000,
      settleMs,
      chunkSizeBytes: settings.chunkSizeBytes,
      log,
    });
    if (args.json === true) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (result.devices.length === 0) {
      process.stdout.write('no devices known to this operator store (none has connected to this broker, or the prefix differs)\n');
    } else {
      for (const d of result.devices) process.stdout.write(`${describeDevice(d)}\n`);
      process.stdout.write(`resync: ${result.jobsPushed} job(s) pushed, ${result.recoveredCount} report(s) recovered, ${result.stillMissingCount} still missing\n`);
    }
    if (result.stillMissingCount > 0) process.exitCode = 1;
  },
};
