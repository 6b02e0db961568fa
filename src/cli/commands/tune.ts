import type { Argv } from 'yargs';
import { accuracyMetricLabel } from '../../compress/accuracy-judgement.js';
import { detectionOptions, detectionTaskFromArgs } from './detection-options.js';
import type { CommandModule } from '../main.js';
import { printResult } from '../progress.js';
import { AGENT_CONFIG_DEFAULTS } from '../../config/agent-config-defaults.js';
import { EdgetuneError } from '../../util/errors.js';
import type { TuneEvent, TuneResult } from '../../tune/tune-types.js';
import type { TuneObjective } from '../../tune/select-candidate.js';

/** `edgetune tune MODEL`: build, check and profile the plan's candidates on this device; Pareto front and choice. */
export const commandModule: CommandModule = {
  command: 'tune <model>',
  describe: 'measure compressed variants of a model on this device and choose one (Pareto front over latency, accuracy drop, size, energy)',
  builder: (y: Argv) =>
    detectionOptions(y)
      .positional('model', { type: 'string', describe: 'ONNX model (never overwritten)', demandOption: true })
      .option('data', { type: 'string', describe: 'data (ONNX test-data layout; label.pb gives top-1): split into a part to fit on and a held-out part to judge on' })
      .option('calib', { type: 'string', describe: 'calibration / reconstruction data (then --data is only judged on, not split)' })
      .option('val-data', { type: 'string', describe: 'validation data to judge on (then --data / --calib is fitted on whole)' })
      .option('holdout', { type: 'boolean', default: true, describe: '--no-holdout: judge on the data the candidates were fitted to (reports say so)' })
      .option('confidence', { type: 'number', default: 0.95, describe: 'confidence of the accuracy intervals; a bound is met when the upper end is within it (0 = point estimates)' })
      .option('max-accuracy-drop', { type: 'number', describe: 'percentage points the chosen variant may lose (needs --data), checked on the upper end of the interval' })
      .option('max-latency-ms', { type: 'number', describe: 'p50 latency bound' })
      .option('max-memory-mb', { type: 'number', describe: 'peak RSS bound of the profiling process' })
      .option('max-size-mb', { type: 'number', describe: 'model file size bound' })
      .option('objective', { type: 'string', choices: ['latency', 'energy', 'size'], default: 'latency', describe: 'what the chosen front member minimises' })
      .option('budget-s', { type: 'number', describe: 'stop starting new candidates after this many seconds' })
      .option('report', { type: 'string', describe: 'write a report: FILE.md or FILE.html (with the Pareto chart)' })
      .option('output', { alias: 'o', type: 'string', describe: 'write the chosen model here (atomically)' })
      .option('work-dir', { type: 'string', default: '.edgetune-tune', describe: 'tune store (tune.sqlite) and built candidates; a re-run continues from it' })
      .option('fresh', { type: 'boolean', default: false, describe: "forget this model's stored candidates and start over" })
      .option('candidates', { type: 'string', describe: 'only these candidate ids (comma-separated; fp32 always runs)' })
      .option('batch', { type: 'number', default: 1, describe: 'value of a symbolic batch dim when profiling' })
      .option('shape', { type: 'string', array: true, describe: 'NAME=DxDxD for inputs with other symbolic dims (repeatable)' })
      .option('iterations', { type: 'number', default: 30, describe: 'measured runs per candidate' })
      .option('warmup', { type: 'number', default: 5, describe: 'warm-up runs per candidate' })
      .option('threads', { type: 'number', describe: "intra-op threads (default: the plan's big cores)" })
      .option('energy', { type: 'string', default: 'auto', describe: 'auto | off | rapl | ina3221 | pi5-pmic | hwmon | nvidia-smi | estimate' })
      .option('energy-seconds', { type: 'number', default: 1, describe: 'minimum energy window per candidate' })
      .option('baseline-seconds', { type: 'number', default: 1, describe: 'idle baseline before each energy window' })
      .option('time-limit-seconds', { type: 'number', default: AGENT_CONFIG_DEFAULTS.limits.maxProfileSeconds, describe: 'wall-clock limit of one profiling child' })
      .option('memory-limit-mb', { type: 'number', default: AGENT_CONFIG_DEFAULTS.limits.maxChildMemoryMb, describe: 'memory limit of one profiling child' })
      .option('profile', { type: 'string', describe: 'plan for this device profile instead of the matched one' })
      .option('sysroot', { type: 'string', describe: 'probe hardware under this root (tests)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  handler: async (args) => {
    const { tuneModel } = await import('../../tune/tune-model.js');
    const { parseEnergyMode } = await import('../../profile/energy/energy-sampler.js');
    const { parseShapeArgs } = await import('../../profile/profile-inputs.js');
    const json = args.json === true;
    const detection = detectionTaskFromArgs(args);
    const opt = (name: string): number | undefined => {
      const v = args[name];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new EdgetuneError('USAGE', `--${name} must be a number, got '${String(v)}'`);
      return n;
    };
    const need = (name: string): number => opt(name)!;
    const mb = (name: string): number | undefined => {
      const v = opt(name);
      return v === undefined ? undefined : v * 1024 * 1024;
    };
    const controller = new AbortController();
    const onSignal = (): void => {
      process.stderr.write('edgetune: interrupting the tune (finished candidates are kept)…\n');
      controller.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let result: TuneResult;
    try {
      result = await tuneModel({
        modelPath: String(args.model),
        ...(detection ? { detection } : {}),
        ...(args.data !== undefined ? { dataDir: String(args.data) } : {}),
        ...(args.calib !== undefined ? { calibrationDataDir: String(args.calib) } : {}),
        ...(args['val-data'] !== undefined ? { validationDataDir: String(args['val-data']) } : {}),
        noHoldout: args.holdout === false,
        confidence: args.confidence as number,
        constraints: {
          ...(opt('max-accuracy-drop') !== undefined ? { maxAccuracyDropPp: opt('max-accuracy-drop')! } : {}),
          ...(opt('max-latency-ms') !== undefined ? { maxLatencyMs: opt('max-latency-ms')! } : {}),
          ...(mb('max-memory-mb') !== undefined ? { maxMemoryBytes: mb('max-memory-mb')! } : {}),
          ...(mb('max-size-mb') !== undefined ? { maxSizeBytes: mb('max-size-mb')! } : {}),
        },
        objective: String(args.objective) as TuneObjective,
        ...(opt('budget-s') !== undefined ? { budgetSeconds: opt('budget-s')! } : {}),
        workDir: String(args['work-dir']),
        ...(args.output !== undefined ? { outputPath: String(args.output) } : {}),
        ...(args.report !== undefined ? { reportPath: String(args.report) } : {}),
        fresh: args.fresh === true,
        ...(args.candidates !== undefined ? { only: String(args.candidates).split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        profile: {
          batchSize: need('batch'),
          iterations: need('iterations'),
          warmup: need('warmup'),
          shapes: parseShapeArgs((args.shape as string[] | undefined) ?? []),
          ...(opt('threads') !== undefined ? { threads: opt('threads')! } : {}),
          energy: parseEnergyMode(String(args.energy)),
          energyMinDurationMs: need('energy-seconds') * 1000,
          baselineMs: need('baseline-seconds') * 1000,
          timeLimitMs: need('time-limit-seconds') * 1000,
          memoryLimitBytes: need('memory-limit-mb') * 1024 * 1024,
        },
        ...(args.profile !== undefined ? { profileName: String(args.profile) } : {}),
        ...(args.sysroot !== undefined ? { sysroot: String(args.sysroot) } : {}),
        onEvent: logEvent,
        signal: controller.signal,
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    printResult(json, result, () => formatTune(result));
    if (args.output !== undefined && result.output === null) {
      process.stderr.write(`edgetune: ${result.chosenReason}: -o ${String(args.output)} not written\n`);
      process.exitCode = 1;
    }
  },
};

/** Progress lines on stderr. */
function logEvent(e: TuneEvent): void {
  switch (e.type) {
    case 'plan':
      process.stderr.write(`tune: ${e.candidates} candidate(s), ${e.skipped} left out\n`);
      break;
    case 'stage':
      process.stderr.write(`  ${e.id}: ${e.stage}${e.step ? ` ${e.step}` : ''}\n`);
      break;
    case 'candidate-done':
      process.stderr.write(`[${e.index + 1}/${e.total}] ${e.id}${e.resumed ? ' (stored)' : ''}: ${e.summary}\n`);
      break;
    case 'budget':
      process.stderr.write(`tune: time budget used up; not tried: ${e.notTried.join(', ')}\n`);
      break;
    default:
      break;
  }
}

const ms = (v: number | null): string => (v === null ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const mib = (v: number | null): string => (v === null ? '—' : (v / (1024 * 1024)).toFixed(2));

/** The human-readable summary. */
export function formatTune(r: TuneResult): string {
  // Beside a labelled (top-1) drop, agreement with the original: how many answers changed, not only the net score.
  const agree = r.settings.accuracyMetric === 'top1' && r.candidates.some((c) => typeof c.accuracy?.agreement === 'number');
  // A detector: frames per second and the mAP figures themselves beside the drop (the comparison people quote).
  const detector = r.candidates.some((c) => c.accuracy?.detection);
  const text = r.settings.accuracyMetric === 'hmean';
  const fig = (v: number | null | undefined): string => (v === null || v === undefined || v < 0 ? '—' : v.toFixed(4));
  const detectionHead = detector ? ['FPS', ...(text ? ['hmean'] : []), 'mAP@.5', 'mAP@.5:.95'] : [];
  const rows = [['candidate', 'state', 'p50 ms', ...detectionHead, 'speed-up', 'drop pp', 'interval pp', ...(agree ? ['agree %'] : []), 'MiB', 'mJ/inf', 'front', 'note']];
  for (const c of r.candidates) {
    const d = c.accuracy?.detection;
    rows.push([
      c.id === r.chosen ? `${c.id} *` : c.id,
      c.state + (c.resumed ? ' (stored)' : ''),
      ms(c.latencyMs),
      ...(detector ? [c.latencyMs ? (1000 / c.latencyMs).toFixed(1) : '—', ...(text ? [fig(d?.hmean)] : []), fig(d?.map50), fig(d?.map5095)] : []),
      c.speedup === null ? '—' : `${c.speedup.toFixed(2)}×`,
      c.accuracyDrop === null ? '—' : c.accuracyDrop.toFixed(2),
      !c.accuracy || c.accuracy.confidence === 0 || c.id === 'fp32' ? '—' : `${c.accuracy.ci[0].toFixed(2)} … ${c.accuracy.ci[1].toFixed(2)}`,
      ...(agree ? [typeof c.accuracy?.agreement === 'number' ? (c.accuracy.agreement * 100).toFixed(2) : '—'] : []),
      mib(c.sizeBytes),
      c.joulesPerInference === null ? '—' : `${(c.joulesPerInference * 1000).toPrecision(3)}${c.energyMethod === 'estimated' ? ' est' : ''}`,
      c.pareto ? 'yes' : '',
      c.state !== 'done' ? (c.reason ?? '') : c.suspect ? `SUSPECT: ${c.suspect}` : c.violations.length ? `misses ${c.violations.join('; ')}` : c.dominatedBy ? `dominated by ${c.dominatedBy}` : '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (i === rows[0]!.length - 1 ? 0 : row[i]!.length))));
  const lastNumber = (agree ? 8 : 7) + detectionHead.length;
  const lines = rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : i >= 2 && i <= lastNumber ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  const out = [`model   ${r.model.path}`, `device  ${r.device.profile} (${r.device.cpu ?? 'unknown CPU'})`, `batch ${r.settings.batchSize}, ${r.settings.iterations} runs per candidate, accuracy: ${r.settings.accuracyMetric ? accuracyMetricLabel(r.settings.accuracyMetric) : 'not measured'}${r.settings.judgedOn ? ` (judged on ${r.settings.judgedOn === 'validation' ? 'held-out data' : 'calibration data'})` : ''}`, '', ...lines];
  const mode = r.candidates.find((c) => c.accuracy?.detection)?.accuracy?.detection?.mode;
  if (mode) out.push(mode === 'labels' ? 'mAP (and hmean) against the labels; FPS = 1000 / p50 at batch 1' : "mAP (and hmean) against the original's own detections at the operating threshold (the original scores 1); FPS = 1000 / p50 at batch 1");
  if (r.candidates.some((c) => c.accuracyDrop !== null)) out.push(`drop = the original's ${r.settings.accuracyMetric ? accuracyMetricLabel(r.settings.accuracyMetric) : 'accuracy'} − the candidate's${r.settings.accuracyMetric === 'map5095' || r.settings.accuracyMetric === 'hmean' ? ' (×100, points)' : ''}: below 0 is better than the original${agree ? '; agree % = samples where the candidate gives the original\'s top-1 class' : ''}`);
  out.push('');
  out.push(r.chosen ? `chosen: ${r.chosen} — ${r.chosenReason}` : `chosen: none — ${r.chosenReason}`);
  if (r.notTried.length) out.push(`not tried: ${r.notTried.map((n) => `${n.id} (${n.reason})`).join('; ')}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  if (r.output) out.push(`wrote ${r.output.path} (${mib(r.output.bytes)} MiB)`);
  if (r.report) out.push(`report ${r.report}`);
  out.push(`${r.elapsedSeconds.toFixed(1)} s; store ${r.store}`);
  return out.join('\n');
}
