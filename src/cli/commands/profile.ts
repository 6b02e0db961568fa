import type { Argv } from 'yargs';
import cliProgress from 'cli-progress';
import type { CommandModule } from '../main.js';
import { AGENT_CONFIG_DEFAULTS } from '../../config/agent-config-defaults.js';
import { EdgetuneError, messageOf } from '../../util/errors.js';
import { parseEnergyMode } from '../../profile/energy/energy-sampler.js';
import { parseShapeArgs } from '../../profile/profile-inputs.js';
import { profileInChild } from '../../profile/profile-child.js';
import { peaksFromFigures, powerModelFromFigures } from '../../profile/device-figures.js';
import type { ProfileOptions, ProfileProgress, ProfileResult } from '../../profile/profile-types.js';
import { dataTypeName } from '../../onnx/dtype.js';
import { latencyNoiseWarning } from '../../profile/latency-stats.js';

/** `edgetune profile MODEL`: latency, memory, energy, thermal state, op profile, FLOPs and fidelity on this device. */
export const commandModule: CommandModule = {
  command: 'profile <model>',
  describe: 'profile a model on this device in an isolated child process',
  builder: (y: Argv) =>
    y
      .positional('model', { type: 'string', describe: 'ONNX model file', demandOption: true })
      .option('iterations', { type: 'number', default: 100, describe: 'measured runs' })
      .option('warmup', { type: 'number', default: 10, describe: 'runs before measuring (after the cold first run)' })
      .option('min-seconds', { type: 'number', default: 0, describe: 'keep measuring for at least this long' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: all cores)' })
      .option('ep', { type: 'string', default: 'cpu', describe: 'execution provider (cpu, cuda, tensorrt, ...)' })
      .option('shape', { type: 'string', array: true, describe: 'NAME=DxDxD for inputs with symbolic dims (repeatable)' })
      .option('batch', { type: 'number', default: 1, describe: 'value of a symbolic batch dim (axis 0)' })
      .option('data', { type: 'string', describe: 'real samples in the ONNX test-data layout' })
      .option('reference', { type: 'string', describe: 'original model: fidelity figures on --data' })
      .option('energy', { type: 'string', default: 'auto', describe: 'auto | off | rapl | ina3221 | pi5-pmic | hwmon | nvidia-smi | estimate' })
      .option('baseline-seconds', { type: 'number', default: 5, describe: 'idle baseline before the energy window' })
      .option('energy-seconds', { type: 'number', default: 5, describe: 'minimum energy window' })
      .option('op-profile', { type: 'boolean', default: false, describe: "per-operator times from onnxruntime's profiler" })
      .option('flops', { type: 'boolean', default: true, describe: 'count FLOPs and weight bytes (--no-flops to skip)' })
      .option('cooldown-c', { type: 'number', describe: 'wait until the hottest thermal zone is at or below this (°C)' })
      .option('cooldown-max-seconds', { type: 'number', default: 120, describe: 'longest wait for --cooldown-c before measuring anyway' })
      .option('time-limit-seconds', { type: 'number', default: AGENT_CONFIG_DEFAULTS.limits.maxProfileSeconds, describe: 'wall-clock limit of the profiling child (killed beyond it: CHILD_TIMEOUT)' })
      .option('memory-limit-mb', { type: 'number', default: AGENT_CONFIG_DEFAULTS.limits.maxChildMemoryMb, describe: 'resident-memory limit of the profiling child (killed beyond it: CHILD_OOM)' })
      .option('sysroot', { type: 'string', default: '/', describe: 'read /sys and /proc under this root (tests)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  handler: async (args) => {
    const json = args.json === true;
    const energy = parseEnergyMode(String(args.energy));
    const shapes = parseShapeArgs((args.shape as string[] | undefined) ?? []);
    const sysroot = String(args.sysroot);
    const device = await deviceFigures(sysroot);
    const bar = process.stderr.isTTY ? new ProgressBar() : null;
    const options: ProfileOptions = {
      modelPath: String(args.model),
      iterations: num(args.iterations, '--iterations'),
      warmup: num(args.warmup, '--warmup'),
      minDurationMs: num(args['min-seconds'], '--min-seconds') * 1000,
      executionProvider: String(args.ep),
      shapes,
      batchSize: num(args.batch, '--batch'),
      energy,
      baselineMs: num(args['baseline-seconds'], '--baseline-seconds') * 1000,
      energyMinDurationMs: num(args['energy-seconds'], '--energy-seconds') * 1000,
      opProfile: args['op-profile'] === true,
      flops: args.flops !== false,
      timeLimitMs: num(args['time-limit-seconds'], '--time-limit-seconds') * 1000,
      memoryLimitBytes: num(args['memory-limit-mb'], '--memory-limit-mb') * 1024 * 1024,
      sysroot,
      powerModel: device.powerModel,
      peak: device.peak,
      device: device.summary,
      onProgress: bar ? (p) => bar.update(p) : undefined,
    };
    if (args.threads !== undefined) options.threads = num(args.threads, '--threads');
    if (args.data !== undefined) options.dataDir = String(args.data);
    if (args.reference !== undefined) options.referencePath = String(args.reference);
    if (args['cooldown-c'] !== undefined) {
      options.cooldownC = num(args['cooldown-c'], '--cooldown-c');
      options.cooldownMaxMs = num(args['cooldown-max-seconds'], '--cooldown-max-seconds') * 1000;
    }
    const outcome = await profileInChild(options);
    bar?.stop();
    if (outcome.state === 'failed') throw new EdgetuneError(outcome.error.code, outcome.error.message);
    if (json) process.stdout.write(`${JSON.stringify(outcome.result)}\n`);
    else process.stdout.write(formatProfile(outcome.result));
  },
};

function num(v: unknown, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new EdgetuneError('USAGE', `${flag} must be a number, got '${String(v)}'`);
  return n;
}

interface DeviceContext {
  powerModel: ProfileOptions['powerModel'];
  peak: ProfileOptions['peak'];
  summary: unknown;
}

/** The matched device profile's figures; without one (detection failed) the profile still runs, without estimate. */
async function deviceFigures(sysroot: string): Promise<DeviceContext> {
  try {
    const { detectHardware } = await import('../../hardware/detect-hardware.js');
    const detected = await detectHardware({ sysroot });
    const name = detected.profile.name;
    return {
      powerModel: powerModelFromFigures(detected.figures, name),
      peak: peaksFromFigures(detected.figures, name),
      summary: { profile: name, board: detected.hw.board, cpu: detected.hw.cpu.model, cores: detected.hw.cpu.cores, arch: detected.hw.cpu.arch },
    };
  } catch (error) {
    process.stderr.write(`edgetune: device detection failed (${messageOf(error)}): no power model, no peak figures\n`);
    return { powerModel: null, peak: null, summary: null };
  }
}

/** A one-line bar on stderr that follows the phases. */
class ProgressBar {
  private readonly bar = new cliProgress.SingleBar(
    { format: ' {phase} [{bar}] {percentage}%', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  private phase = '';

  update(p: ProfileProgress): void {
    const total = Math.max(1, p.total);
    if (p.phase !== this.phase) {
      if (this.phase) this.bar.stop();
      this.phase = p.phase;
      this.bar.start(total, Math.min(p.done, total), { phase: p.phase.padEnd(10) });
    } else {
      this.bar.setTotal(total);
      this.bar.update(Math.min(p.done, total), { phase: p.phase.padEnd(10) });
    }
  }

  stop(): void {
    if (this.phase) this.bar.stop();
  }
}

const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3));
const fmtMb = (b: number): string => `${(b / (1024 * 1024)).toFixed(1)} MB`;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

function fmtFlops(f: number): string {
  if (f >= 1e9) return `${(f / 1e9).toFixed(2)} GFLOP`;
  if (f >= 1e6) return `${(f / 1e6).toFixed(2)} MFLOP`;
  return `${(f / 1e3).toFixed(2)} kFLOP`;
}

/** The human-readable report. */
export function formatProfile(r: ProfileResult): string {
  const rows: Array<[string, string]> = [];
  const l = r.latencyMs;
  rows.push(['model', `${r.model.path} (${fmtMb(r.model.bytes)}, sha256 ${r.model.sha256.slice(0, 12)})`]);
  rows.push(['inputs', r.inputs.map((i) => `${i.name} ${dataTypeName(i.dataType)}[${i.profiledShape.join('x')}]`).join(', ') + ` (${r.inputSource}${r.syntheticFill && r.syntheticFill !== 'random' ? `, every value ${r.syntheticFill === 'zeros' ? 0 : 1}: random values did not run` : ''})`]);
  rows.push(['runs', `${r.iterations} measured after ${r.warmup} warm-up, ${r.threads} thread(s), ${r.executionProvider}, batch ${r.batchSize}`]);
  rows.push(['latency', `p50 ${fmtMs(l.p50)} ms  p90 ${fmtMs(l.p90)} ms  p99 ${fmtMs(l.p99)} ms`]);
  rows.push(['', `mean ${fmtMs(l.mean)} ± ${fmtMs(l.std)} ms  min ${fmtMs(l.min)}  max ${fmtMs(l.max)}  CV ${pct(l.cv)}`]);
  const noisy = latencyNoiseWarning(l, r.iterations, r.threads);
  if (noisy) rows.push(['warning', noisy]);
  rows.push(['throughput', `${r.throughputPerSec.toFixed(1)} inferences/s`]);
  rows.push(['cold start', `load + session ${fmtMs(r.coldStart.loadMs)} ms, first run ${fmtMs(r.coldStart.firstRunMs)} ms`]);
  rows.push(['memory', `peak RSS ${fmtMb(r.memory.peakRssBytes)}, after session ${fmtMb(r.memory.sessionRssBytes)} (process before load ${fmtMb(r.memory.baseRssBytes)})`]);
  if (r.energy) {
    const e = r.energy;
    const label = e.method === 'estimated' ? 'ESTIMATED' : 'measured';
    rows.push(['energy', `${label} ${(e.joulesPerInference * 1000).toFixed(2)} mJ/inference (dynamic, above the idle baseline: ${(e.dynamicJoulesPerInference * 1000).toFixed(2)} mJ)`]);
    // Two different idle figures can appear: the baseline measured here before the runs (what dynamic energy is
    // counted above) and, for the estimate, its power model's figure at 0 % CPU (in the scope).
    rows.push(['', `avg ${e.avgWatts.toFixed(2)} W over ${(e.durationMs / 1000).toFixed(1)} s, ${e.nSamples} samples; measured idle baseline ${e.idleWatts.toFixed(2)} W (${(e.baselineMs / 1000).toFixed(1)} s before the runs, model loaded)`]);
    rows.push(['', `source ${e.source}: ${e.scope}`]);
  } else {
    rows.push(['energy', r.energyNote ?? 'none']);
  }
  const t = r.thermal;
  const temp = t.startC === null ? 'no thermal zone' : `${t.startC.toFixed(1)} → ${t.endC?.toFixed(1)} °C (${t.zone})`;
  rows.push(['thermal', `${temp}; ${t.throttled ? `THROTTLED: ${t.reasons.join('; ')}` : 'not throttled'}`]);
  if (r.flopsDetail) {
    const f = r.flopsDetail;
    const share = f.peakShare !== null ? `, ${pct(f.peakShare)} of ${f.peakGopsPerSec} G${f.peakPrecision === 'int8' ? 'OP' : 'FLOP'}/s peak${f.peakEstimated ? ' (estimated)' : ''}` : ', no peak figure for this device';
    rows.push(['compute', `${fmtFlops(f.flops)}/run, ${f.achievedGflopsPerSec.toFixed(2)} GFLOP/s at p50${share}`]);
    rows.push(['weights', `${fmtMb(f.weightBytes)}, ${f.params.toLocaleString('en-US')} parameters`]);
    if (f.uncounted.length) rows.push(['', `not counted: ${f.uncounted.map((u) => `${u.op}×${u.nodes} (${u.reason})`).join(', ')}`]);
  }
  if (r.fidelity) {
    const fd = r.fidelity;
    const parts = [`${fd.samples} samples`];
    if (fd.top1 !== null) parts.push(`top1 ${pct(fd.top1)}`);
    if (fd.agreement !== null) parts.push(`agreement ${pct(fd.agreement)}`);
    if (fd.cosine !== null) parts.push(`cosine ${fd.cosine.toFixed(5)}`);
    if (fd.sqnrDb !== null) parts.push(`SQNR ${fd.sqnrDb.toFixed(1)} dB`);
    if (fd.kl !== null) parts.push(`KL ${fd.kl.toExponential(2)}`);
    rows.push(['fidelity', parts.join(', ')]);
  }
  for (const n of r.notes) rows.push(['note', n]);
  const width = Math.max(...rows.map(([k]) => k.length));
  let out = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
  if (r.opProfile) {
    out += `\ntop operators (onnxruntime profiler, ${r.opProfileDetail?.runs} runs; ms per run)\n`;
    const nameWidth = Math.min(48, Math.max(4, ...r.opProfile.map((o) => o.name.length)));
    out += `  ${'op'.padEnd(20)} ${'node'.padEnd(nameWidth)} ${'ms'.padStart(9)} ${'share'.padStart(7)}\n`;
    for (const o of r.opProfile) {
      out += `  ${o.op.padEnd(20)} ${o.name.slice(0, nameWidth).padEnd(nameWidth)} ${o.ms.toFixed(4).padStart(9)} ${pct(o.share).padStart(7)}\n`;
    }
    // Per type: where an int8 model's time goes when it is not in the convolutions (casts, lookups, resizes).
    const types = r.opProfileDetail?.byOpType ?? [];
    if (types.length > 0) {
      out += `\noperator types (${r.opProfileDetail!.nodeMsPerRun.toFixed(4)} ms of node time per run; traced run ${r.opProfileDetail!.runMs.toFixed(4)} ms)\n`;
      out += `  ${'op'.padEnd(24)} ${'nodes'.padStart(5)} ${'ms'.padStart(9)} ${'share'.padStart(7)}\n`;
      for (const t of types.slice(0, 12)) out += `  ${t.op.padEnd(24)} ${String(t.nodes).padStart(5)} ${t.ms.toFixed(4).padStart(9)} ${pct(t.share).padStart(7)}\n`;
    }
  }
  return out;
}
