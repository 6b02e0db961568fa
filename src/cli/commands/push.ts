import type { Argv } from 'yargs';
import cliProgress from 'cli-progress';
import type { CommandModule } from '../main.js';
import { pushJob, type PushProgress, type PushResult, type PushTarget } from '../../operator/push-job.js';
import { jobOptionsFromArgs } from '../../operator/job-option-args.js';
import { compareAcrossDevices, formatComparisonTable } from '../../operator/compare-results.js';
import { reportModelSha } from '../../operator/fleet-inbox.js';
import { createLogger } from '../../agent/logger.js';
import { DEVICE_ID_PATTERN } from '../../config/agent-config-schema.js';
import { parseShapeArgs } from '../../profile/profile-inputs.js';
import { JOB_ACTIONS, type JobAction } from '../../transport/messages.js';
import { EdgetuneError, exitCodeFor, type ErrorCode } from '../../util/errors.js';
import { detectionOptions, detectionTaskFromArgs } from './detection-options.js';
import { operatorOptions, operatorSettingsFrom } from './operator-options.js';

/** Bytes for a person, in the units of the comparison table: 412 B, 38.2 KiB, 2.04 MiB. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

/** Seconds for a person: 0.16 s, 15.8 s. */
function formatSeconds(seconds: number): string {
  return `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
}

/**
 * The push summary: the transfer and the job timed apart, e.g. `job J (deploy) → device d: 1 device(s);
 * 28 chunks (2.94 MiB) sent in 0.16 s; job done in 15.8 s`.
 */
export function formatPushSummary(result: PushResult, wait: boolean): string {
  const target = 'device' in result.target ? `device ${result.target.device}` : `group ${result.target.group}`;
  const resent = result.chunksResent > 0 ? `, ${result.chunksResent} re-sent to one device` : '';
  const transfer =
    result.chunksSent === 0
      ? result.artifact || result.data
        ? 'no chunks sent (the artifacts were on the device already)'
        : 'no artifact'
      : `${result.chunksSent} chunk${result.chunksSent === 1 ? '' : 's'} (${formatBytes(result.bytesSent)}${resent}) sent${result.transferSeconds !== null ? ` in ${formatSeconds(result.transferSeconds)}` : ''}`;
  const done = wait ? `job done in ${formatSeconds(result.seconds)}` : `push done in ${formatSeconds(result.seconds)} (the job runs on the device; --wait waits for its report)`;
  const unseen = result.unseenDevice ? ` (queued for a device not seen on this broker before; it came online)` : '';
  return `job ${result.jobId} (${result.action}) → ${target}${unseen}: ${result.devices.length} device(s); ${transfer}; ${done}\n`;
}

/**
 * `edgetune push [MODEL] (--device ID | --group G)`: signed job + chunked model transfer, optionally waiting for
 * reports; `--task detection --decoder NAME …` sends a detector's task inline (and converts an image folder `--data`).
 */
export const commandModule: CommandModule = {
  command: 'push [model]',
  describe: 'push a model and a job to a device or a group over MQTT; --wait prints the report',
  builder: (y: Argv) =>
    operatorOptions(
      detectionOptions(y)
        .positional('model', { type: 'string', describe: 'ONNX model file (deploy, profile, compress, eval, tune, activate; delete names the stored variant by its digest; ping sends any file)' })
        .option('device', { type: 'string', describe: 'target device id' })
        .option('group', { type: 'string', describe: 'target group' })
        .option('action', { type: 'string', choices: [...JOB_ACTIONS], default: 'deploy', describe: 'job action' })
        .option('data', { type: 'string', describe: 'dataset directory (ONNX test-data layout) sent with the job; with --task detection also a folder of JPEG/PNG images, converted here into test-data sets fitted to MODEL' })
        .option('key', { type: 'string', describe: 'ed25519 private key (PEM) that signs the job; agents refuse unsigned jobs by default' })
        .option('option', { type: 'string', array: true, describe: "job option KEY=VALUE (repeatable), checked against the action's options, e.g. method=int8, iterations=50" })
        .option('shape', { type: 'string', array: true, describe: 'NAME=DxDxD for model inputs with symbolic dims (repeatable; profile, deploy, tune), as profile --shape' })
        .option('queue', { type: 'boolean', default: false, describe: 'the device has not connected to this broker yet: wait (up to --timeout) for it to come online and send the job then' })
        .option('wait', { type: 'boolean', default: false, describe: "wait for each device's report and print it" })
        .option('timeout', { type: 'number', default: 600, describe: 'seconds to wait for transfers / reports' })
        .option('chunk-size', { type: 'number', describe: 'artifact chunk bytes (default 262144; 65536 for brokers with 128 KB limits)' })
        .option('chunk-qos', { type: 'string', describe: "QoS of the chunks: 1 (default, or the --config file's broker.artifactQos) or 0 for devices set to broker.artifactQos 0 on a clustered broker (NATS)" })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
    ),
  handler: async (args) => {
    const json = args.json === true;
    const device = args.device as string | undefined;
    const group = args.group as string | undefined;
    if ((device === undefined) === (group === undefined)) throw new EdgetuneError('USAGE', 'push: give exactly one of --device ID or --group G');
    const targetId = (device ?? group) as string;
    if (!DEVICE_ID_PATTERN.test(targetId)) throw new EdgetuneError('USAGE', `push: '${targetId}' must match [A-Za-z0-9_-]{1,64}`);
    const target: PushTarget = device !== undefined ? { device } : { group: group as string };
    const action = String(args.action) as JobAction;
    const timeout = Number(args.timeout);
    if (!(timeout > 0)) throw new EdgetuneError('USAGE', `--timeout ${String(args.timeout)} must be a positive number of seconds`);
    const settings = operatorSettingsFrom(args);
    const chunkSize = settings.chunkSizeBytes;
    if (!Number.isInteger(chunkSize) || chunkSize < 1024 || chunkSize > 64 * 1024 * 1024) throw new EdgetuneError('USAGE', `chunk size ${String(chunkSize)} must be an integer in 1024..67108864`);
    const jobOptions = jobOptionsFromArgs(action, (args.option as string[] | undefined) ?? []);
    const detection = detectionTaskFromArgs(args);
    const shapes = parseShapeArgs((args.shape as string[] | undefined) ?? []);
    const log = createLogger(args.verbose === true ? 'debug' : 'warn');
    const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr, format: 'push {bar} {value}/{total} chunks | {devices}', hideCursor: true }, cliProgress.Presets.shades_classic) : null;
    let barStarted = false;
    const onProgress = (p: PushProgress): void => {
      if (!bar) return;
      const total = p.devices.reduce((s, d) => s + d.chunks, 0);
      const value = p.devices.reduce((s, d) => s + (d.complete ? d.chunks : d.received), 0);
      const devices = p.devices.map((d) => `${d.deviceId}:${d.reported ? 'reported' : d.complete ? 'received' : 'receiving'}`).join(' ') || 'waiting for devices';
      if (!barStarted) {
        bar.start(Math.max(total, 1), value, { devices });
        barStarted = true;
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(value, { devices });
    };
    let result;
    try {
      result = await pushJob({
        ...(args.model !== undefined ? { modelPath: String(args.model) } : {}),
        target,
        action,
        ...(args.data !== undefined ? { dataDir: String(args.data) } : {}),
        ...(detection ? { detection } : {}),
        broker: settings.broker,
        topicPrefix: settings.topicPrefix,
        ...(args.key !== undefined ? { keyPath: String(args.key) } : {}),
        wait: args.wait === true,
        timeoutMs: timeout * 1000,
        chunkSizeBytes: chunkSize,
        chunkQos: settings.chunkQos,
        operatorDataDir: String(args.dataDir),
        jobOptions,
        ...(Object.keys(shapes).length > 0 ? { shapes } : {}),
        queue: args.queue === true,
        log,
        onProgress,
      });
    } finally {
      if (barStarted) bar?.stop();
    }
    const failed = result.reports.filter((r) => r.state !== 'ok');
    if (json) {
      const single = args.wait === true && 'device' in target ? result.reports[0] : undefined;
      process.stdout.write(`${JSON.stringify(single ?? result)}\n`);
    } else {
      process.stdout.write(formatPushSummary(result, args.wait === true));
      if (result.reports.length > 0) {
        const rows = result.reports.map((r) => ({
          reportId: r.reportId,
          deviceId: r.deviceId,
          jobId: r.jobId,
          action: r.action,
          state: r.state,
          modelSha256: reportModelSha(r),
          seq: r.seq,
          payload: JSON.stringify(r),
          createdAt: r.createdAt,
          receivedAt: r.createdAt,
        }));
        const names = new Map<string, string>();
        if (result.artifact) names.set(result.artifact.sha256, result.artifact.name);
        process.stdout.write(formatComparisonTable(compareAcrossDevices(rows, names)));
        for (const r of failed) process.stdout.write(`${r.deviceId}: ${r.error?.message ?? 'failed'} [${r.error?.code ?? '?'}]\n`);
      }
    }
    if (failed.length > 0) {
      const codes = failed.map((r) => new EdgetuneError((r.error?.code ?? 'RUNTIME_FAILED') as ErrorCode, ''));
      process.exitCode = codes.every((e) => exitCodeFor(e) === 2) ? 2 : 1;
    }
  },
};
