import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { createLogger } from '../../agent/logger.js';
import { jobOptionsFromArgs } from '../../operator/job-option-args.js';
import { parseStages, checkShare } from '../../operator/rollout/rollout-plan.js';
import { ROLLOUT_ACTIONS, resumeRollout, rolloutStatus, startRollout, type RolloutAction, type RolloutStatus } from '../../operator/rollout/run-rollout.js';
import { EdgetuneError } from '../../util/errors.js';
import { operatorOptions, operatorSettingsFrom } from './operator-options.js';

/** The rollout for a person: one line per stage, then each device that failed or was rolled back. */
export function formatRolloutStatus(s: RolloutStatus): string {
  const lines = [
    `rollout ${s.rolloutId}: ${s.action} ${s.model.path} (${s.model.sha256.slice(0, 12)}) to group ${s.group}: ${s.state}${s.reason ? ` — ${s.reason}` : ''}`,
    `  criteria: success ≥ ${s.criteria.minSuccess}, abort when failures > ${s.criteria.abortFailureRate}${s.criteria.maxLatencyMs !== null ? `, p50 ≤ ${s.criteria.maxLatencyMs} ms` : ''}; stage timeout ${s.stageTimeoutS} s${s.rollbackOnAbort ? '; rollback on abort' : ''}`,
  ];
  for (const st of s.stages) {
    lines.push(
      `  stage ${st.stage} (${st.percent}%): ${st.state}; ${st.devices} device(s): ${st.succeeded} succeeded, ${st.failed} failed, ${st.pending} pending${st.reason ? ` — ${st.reason}` : ''}`,
    );
  }
  for (const d of s.devices) {
    if (d.outcome === 'failed') lines.push(`    ${d.deviceId} (stage ${d.stage}): failed: ${d.reason ?? ''}`);
    if (d.rollback) lines.push(`    ${d.deviceId} (stage ${d.stage}): rollback ${d.rollback.state ?? 'pending'}${d.rollback.reason ? `: ${d.rollback.reason}` : ''}`);
  }
  if (s.skipped.length > 0) lines.push(`  offline when it started (not part of it): ${s.skipped.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function numberArg(args: Record<string, unknown>, key: string, flag: string): number {
  const v = Number(args[key]);
  if (!Number.isFinite(v)) throw new EdgetuneError('USAGE', `rollout: --${flag} ${String(args[key])} is not a number`);
  return v;
}

/**
 * `edgetune rollout MODEL --group G --stages 5%,25%,100%`: a staged rollout with success and abort thresholds;
 * `rollout --resume ID` continues one, `rollout status ID` shows it.
 */
export const commandModule: CommandModule = {
  command: 'rollout [model] [id]',
  describe: 'roll a model out to a group in stages (success / abort thresholds, rollback on abort); rollout --resume ID; rollout status ID',
  builder: (y: Argv) =>
    operatorOptions(
      y
        .positional('model', { type: 'string', describe: 'ONNX model file to roll out; or the word `status` followed by a rollout ID' })
        .positional('id', { type: 'string', describe: 'with `status`: the rollout ID' })
        .option('group', { type: 'string', describe: 'the group to roll out to (its online members when it starts)' })
        .option('action', { type: 'string', choices: [...ROLLOUT_ACTIONS], default: 'deploy', describe: 'job action that makes the model live' })
        .option('stages', { type: 'string', default: '5%,25%,100%', describe: 'cumulative shares of the group, increasing, ending at 100%' })
        .option('min-success', { type: 'number', default: 0.95, describe: "share of a stage's devices that must succeed before the next stage starts, in [0, 1]" })
        .option('abort-failure-rate', { type: 'number', default: 0.1, describe: "share of a stage's devices whose failure aborts the rollout (more than this), in [0, 1]" })
        .option('stage-timeout-s', { type: 'number', default: 600, describe: 'seconds a stage waits for its reports; devices without one count as failed' })
        .option('max-latency-ms', { type: 'number', describe: "a device whose report's p50 latency exceeds this fails" })
        .option('max-accuracy-drop', { type: 'number', describe: "the deploy's accuracy bound in percentage points (job option maxAccuracyDrop; the device's fidelity gate judges it)" })
        .option('rollback-on-abort', { type: 'boolean', default: false, describe: 'on abort, send rollback to every device that made the model live' })
        .option('bake-s', { type: 'number', default: 0, describe: 'seconds to wait after a stage passes before the next one starts' })
        .option('rollout-id', { type: 'string', describe: 'the new rollout\'s ID (default: generated); [A-Za-z0-9_-]{1,64}' })
        .option('resume', { type: 'string', describe: 'continue the stored rollout ID where it stopped (no device that reported is pushed to again)' })
        .option('data', { type: 'string', describe: 'dataset directory (ONNX test-data layout) sent with each job' })
        .option('key', { type: 'string', describe: 'ed25519 private key (PEM) that signs the jobs (kept for --resume)' })
        .option('option', { type: 'string', array: true, describe: 'job option KEY=VALUE (repeatable), as push --option' })
        .option('chunk-size', { type: 'number', describe: 'artifact chunk bytes (default 262144)' })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object: the rollout as `rollout status --json` shows it' }),
    ),
  handler: async (args) => {
    const json = args.json === true;
    const dataDir = String(args.dataDir);
    const print = (s: RolloutStatus): void => {
      process.stdout.write(json ? `${JSON.stringify(s)}\n` : formatRolloutStatus(s));
    };
    const exitFor = (s: RolloutStatus): void => {
      if (s.state !== 'completed') process.exitCode = 1;
    };
    if (args.model === 'status') {
      if (typeof args.id !== 'string' || args.id === '') throw new EdgetuneError('USAGE', 'rollout status: name the rollout ID (rollout status ID)');
      print(rolloutStatus(dataDir, args.id));
      return;
    }
    const log = createLogger(args.verbose === true ? 'debug' : 'warn');
    const onEvent = (line: string): void => {
      process.stderr.write(`${line}\n`);
    };
    const settings = operatorSettingsFrom(args);
    const connection = { broker: settings.broker, topicPrefix: settings.topicPrefix, chunkSizeBytes: settings.chunkSizeBytes, operatorDataDir: dataDir, log, onEvent };
    if (args.resume !== undefined) {
      if (args.model !== undefined) throw new EdgetuneError('USAGE', 'rollout --resume ID continues a stored rollout with its own model; give no MODEL');
      const status = await resumeRollout({ ...connection, rolloutId: String(args.resume), ...(args.key !== undefined ? { keyPath: String(args.key) } : {}) });
      print(status);
      exitFor(status);
      return;
    }
    if (args.model === undefined) throw new EdgetuneError('USAGE', 'rollout: name a MODEL (rollout MODEL --group G --stages …), or rollout --resume ID, or rollout status ID');
    if (args.id !== undefined) throw new EdgetuneError('USAGE', `rollout: unexpected argument '${String(args.id)}' after MODEL (rollout status ID shows a rollout)`);
    if (args.group === undefined) throw new EdgetuneError('USAGE', 'rollout: --group G is required');
    const action = String(args.action) as RolloutAction;
    const stagesPercent = parseStages(String(args.stages));
    const minSuccess = checkShare('min-success', numberArg(args, 'minSuccess', 'min-success'));
    const abortFailureRate = checkShare('abort-failure-rate', numberArg(args, 'abortFailureRate', 'abort-failure-rate'));
    const jobOptions = jobOptionsFromArgs(action, (args.option as string[] | undefined) ?? []);
    if (args.maxAccuracyDrop !== undefined) {
      if (jobOptions.maxAccuracyDrop !== undefined) throw new EdgetuneError('USAGE', 'rollout: give the accuracy bound with --max-accuracy-drop or --option maxAccuracyDrop=…, not both');
      jobOptions.maxAccuracyDrop = numberArg(args, 'maxAccuracyDrop', 'max-accuracy-drop');
    }
    const status = await startRollout({
      ...connection,
      ...(args.rolloutId !== undefined ? { rolloutId: String(args.rolloutId) } : {}),
      modelPath: String(args.model),
      group: String(args.group),
      action,
      stagesPercent,
      minSuccess,
      abortFailureRate,
      maxLatencyMs: args.maxLatencyMs === undefined ? null : numberArg(args, 'maxLatencyMs', 'max-latency-ms'),
      stageTimeoutS: numberArg(args, 'stageTimeoutS', 'stage-timeout-s'),
      rollbackOnAbort: args.rollbackOnAbort === true,
      bakeS: numberArg(args, 'bakeS', 'bake-s'),
      jobOptions,
      ...(args.data !== undefined ? { dataDir: String(args.data) } : {}),
      ...(args.key !== undefined ? { keyPath: String(args.key) } : {}),
    });
    print(status);
    exitFor(status);
  },
};
