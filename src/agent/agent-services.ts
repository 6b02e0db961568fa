import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { DetectionTaskFiles } from '../detect/load-detection-task.js';
import { DEVICE_PROFILE_ENV } from '../hardware/device-profile.js';
import { EdgetuneError } from '../util/errors.js';
import { runCliChild } from './cli-child.js';

/** SPEC.md `hw` JSON (fields the agent reads; the rest passes through). */
export interface HardwareJson {
  board?: string;
  profile?: string | null;
  [key: string]: unknown;
}

/** SPEC.md `plan` JSON. */
export interface PlanJson {
  profile?: string;
  precision?: string;
  reasons?: string[];
  [key: string]: unknown;
}

/** SPEC.md `compress` JSON. */
export interface CompressJson {
  method?: string;
  output?: { path?: string; bytes?: number; sha256?: string };
  [key: string]: unknown;
}

/** SPEC.md `profile` JSON. */
export interface ProfileJson {
  latencyMs?: { mean?: number; p50?: number; [k: string]: unknown };
  [key: string]: unknown;
}

/** SPEC.md `eval` JSON. */
export interface EvalJson {
  [key: string]: unknown;
}

/** Input of a profile run. */
export interface ProfileRequest {
  modelPath: string;
  dataDir?: string;
  iterations?: number;
  warmup?: number;
  threads?: number;
  energy?: string;
  opProfile?: boolean;
  /** Concrete shapes of inputs with symbolic dims (`profile --shape NAME=DxDxD`). */
  shapes?: Record<string, number[]>;
  /** The device's `hw` JSON (its `figures` and `profile` give the power model and peak figures), when known. */
  hardware?: HardwareJson | null;
}

/** Input of a compression run. */
export interface CompressRequest {
  modelPath: string;
  outPath: string;
  /** SPEC METHOD: int8, int8-dynamic, fp16, int4, prune, sparsity, lowrank or plan. */
  method: string;
  dataDir?: string;
  /** Extra SPEC compress options (calibration, ratio, targetCache, ...), passed as --flags. */
  options?: Record<string, string | number | boolean>;
  /** A detector (`--task detection`): the gate and `maxAccuracyDrop` are judged on decoded detections. */
  detection?: DetectionTaskFiles;
}

/** SPEC.md `tune` JSON (fields the agent reads). */
export interface TuneJson {
  chosen?: string | null;
  output?: { path?: string; sha256?: string; bytes?: number } | null;
  [key: string]: unknown;
}

/** Input of a tuning run (`edgetune tune`). */
export interface TuneRequest {
  modelPath: string;
  outPath: string;
  /** The tune store; a later run on the same model continues from it. */
  workDir: string;
  dataDir?: string;
  /** Extra `edgetune tune` options (maxAccuracyDrop, maxLatencyMs, objective, budgetS, iterations, ...). */
  options?: Record<string, string | number | boolean>;
  /** Concrete shapes of inputs with symbolic dims (`tune --shape NAME=DxDxD`, repeated). */
  shapes?: Record<string, number[]>;
  /** A detector (`--task detection`): candidates' accuracy is mAP@.5:.95 (hmean for text) of decoded detections. */
  detection?: DetectionTaskFiles;
}

/** Input of an evaluation run. */
export interface EvalRequest {
  modelPath: string;
  dataDir: string;
  referencePath?: string;
  /** Confidence of the intervals (`--confidence`; 0 = none); the command's default (0.95) when absent. */
  confidence?: number;
  /** A detector (`--task detection`): the result carries `detection` (mAP, agreement, hmean). */
  detection?: DetectionTaskFiles;
}

/** Telemetry sample for the heartbeat. */
export interface TelemetrySample {
  load1: number | null;
  temperatureC: number | null;
  throttled: boolean | null;
}

/** Limits each service call runs under. */
export interface ServiceCallOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Resident-memory limit for the child (limits.maxChildMemoryMb). */
  memoryLimitBytes?: number;
  /** Progress of the child's work (phase, 0..1). */
  onProgress?: (stage: string, fraction: number | null) => void;
  /** Scratch directory for the child's cwd. */
  workDir: string;
  onLog?: (line: string) => void;
}

/**
 * What the agent needs from the hardware, compression and profiling code. The wiring is here, in one place; every
 * call runs in a child process so that onnxruntime is never loaded into the agent and a native crash costs a child.
 * Profiling uses src/profile's `profileInChild`; the rest run the matching `edgetune` command as a child.
 */
export interface AgentServices {
  probeHardware(o: ServiceCallOptions): Promise<HardwareJson>;
  plan(modelPath: string, o: ServiceCallOptions): Promise<PlanJson>;
  compress(req: CompressRequest, o: ServiceCallOptions): Promise<CompressJson>;
  profile(req: ProfileRequest, o: ServiceCallOptions): Promise<ProfileJson>;
  evaluate(req: EvalRequest, o: ServiceCallOptions): Promise<EvalJson>;
  tune(req: TuneRequest, o: ServiceCallOptions): Promise<TuneJson>;
  telemetry(o: ServiceCallOptions): Promise<TelemetrySample>;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Turn `{ ratio: 0.5, perChannel: false }` into `['--ratio', '0.5', '--no-per-channel']` (keys checked). */
export function optionsToFlags(options: Record<string, string | number | boolean>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (!/^[a-zA-Z][a-zA-Z0-9]{0,40}$/.test(key)) throw new RangeError(`option name '${key}' is not a plain identifier`);
    const flag = kebab(key);
    if (typeof value === 'boolean') out.push(value ? `--${flag}` : `--no-${flag}`);
    else out.push(`--${flag}`, String(value));
  }
  return out;
}

/**
 * The `--task detection` flags of a child command (`eval`, `compress`, `tune`). A job carries the decoder config and
 * the labels inline: they are written as JSON files into `dir` (the caller's private scratch directory) and named
 * by path; paths given as such pass through.
 */
export function detectionFlags(detection: DetectionTaskFiles, dir: string): string[] {
  const args = ['--task', 'detection', '--decoder', detection.decoder];
  const file = (name: string, value: unknown): string => {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    writeFileSync(path, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    return path;
  };
  if (detection.decoderConfigPath !== undefined) args.push('--decoder-config', detection.decoderConfigPath);
  else if (detection.decoderConfig !== undefined) args.push('--decoder-config', file('decoder-config.json', detection.decoderConfig));
  if (detection.labelsPath !== undefined) args.push('--labels', detection.labelsPath);
  else if (detection.labels !== undefined) args.push('--labels', file('labels.json', detection.labels));
  if (detection.refConf !== undefined) args.push('--ref-conf', String(detection.refConf));
  return args;
}

/** Run `call` with the detection flags (none without a detection task); the JSON files written for it are removed after. */
async function withDetectionFlags<T>(detection: DetectionTaskFiles | undefined, workDir: string, call: (flags: string[]) => Promise<T>): Promise<T> {
  if (!detection) return call([]);
  mkdirSync(workDir, { recursive: true });
  const dir = mkdtempSync(join(workDir, 'detection-'));
  try {
    return await call(detectionFlags(detection, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `{ x: [1, 3, 48, 192] }` as `['--shape', 'x=1x3x48x192']` (the `profile` / `tune` flag, repeated). */
export function shapeFlags(shapes: Readonly<Record<string, readonly number[]>> | undefined): string[] {
  return Object.entries(shapes ?? {}).flatMap(([name, dims]) => ['--shape', `${name}=${dims.join('x')}`]);
}

/** The `edgetune hw` arguments of the agent's probe: the config's `deviceProfile` as `--profile`/`--profile-override`. */
export function hwProbeArgs(deviceProfile: { name?: string | undefined; override?: Record<string, unknown> | undefined } | undefined): string[] {
  const args = ['hw'];
  if (deviceProfile?.name !== undefined) args.push('--profile', deviceProfile.name);
  if (deviceProfile?.override !== undefined) args.push('--profile-override', JSON.stringify(deviceProfile.override));
  return args;
}

/**
 * The default services: each capability is the matching `edgetune` command (SPEC.md command line and JSON) run as
 * a child. A command missing from this build fails with "not available", honestly, instead of a made-up result.
 */
export function createCliServices(options: { deviceProfile?: { name?: string | undefined; override?: Record<string, unknown> | undefined } | undefined } = {}): AgentServices {
  let lastThrottleCount: number | null = null;
  const hwArgs = hwProbeArgs(options.deviceProfile);
  // plan, compress and tune probe the hardware themselves: they get the configured profile through the environment
  const env: Record<string, string> = options.deviceProfile ? { [DEVICE_PROFILE_ENV]: JSON.stringify(options.deviceProfile) } : {};
  const call = (args: string[], o: ServiceCallOptions): Promise<unknown> =>
    runCliChild(args, { timeoutMs: o.timeoutMs, signal: o.signal, cwd: o.workDir, env, ...(o.onLog ? { onStderrLine: o.onLog } : {}) });
  return {
    probeHardware: async (o) => (await call(hwArgs, o)) as HardwareJson,
    plan: async (modelPath, o) => (await call(['plan', modelPath], o)) as PlanJson,
    compress: async (req, o) => {
      const args = ['compress', req.modelPath, '-o', req.outPath, '--method', req.method];
      if (req.dataDir) args.push('--data', req.dataDir);
      if (req.options) args.push(...optionsToFlags(req.options));
      return (await withDetectionFlags(req.detection, o.workDir, (flags) => call([...args, ...flags], o))) as CompressJson;
    },
    profile: async (req, o) => {
      // The profiler's own child-process runner (src/profile): imported on first use so that an idle agent never
      // loads it; onnxruntime itself only ever loads in the profiling child.
      const { profileInChild } = await import('../profile/profile-child.js');
      const { parseEnergyMode } = await import('../profile/energy/energy-sampler.js');
      const { peaksFromFigures, powerModelFromFigures } = await import('../profile/device-figures.js');
      const hw = req.hardware ?? null;
      const figures = hw && typeof hw.figures === 'object' && hw.figures !== null ? (hw.figures as Parameters<typeof powerModelFromFigures>[0] & Parameters<typeof peaksFromFigures>[0]) : null;
      const profileName = typeof hw?.profile === 'string' ? hw.profile : null;
      const device = figures && profileName ? { powerModel: powerModelFromFigures(figures, profileName), peak: peaksFromFigures(figures, profileName) } : null;
      const outcome = await profileInChild(
        {
          modelPath: req.modelPath,
          ...(req.iterations !== undefined ? { iterations: req.iterations } : {}),
          ...(req.warmup !== undefined ? { warmup: req.warmup } : {}),
          ...(req.threads !== undefined ? { threads: req.threads } : {}),
          ...(req.dataDir ? { dataDir: req.dataDir } : {}),
          ...(req.energy ? { energy: parseEnergyMode(req.energy) } : {}),
          ...(req.opProfile ? { opProfile: true } : {}),
          ...(req.shapes ? { shapes: req.shapes } : {}),
          ...(device ? { powerModel: device.powerModel, peak: device.peak } : {}),
          ...(hw ? { device: { profile: profileName, board: hw.board ?? null } } : {}),
          timeLimitMs: o.timeoutMs,
          ...(o.memoryLimitBytes ? { memoryLimitBytes: o.memoryLimitBytes } : {}),
          onProgress: (p) => o.onProgress?.(p.phase, p.total > 0 ? p.done / p.total : null),
        },
        o.signal,
      );
      if (outcome.state === 'failed') throw new EdgetuneError(outcome.error.code, `profile: ${outcome.error.message}`);
      return outcome.result as unknown as ProfileJson;
    },
    evaluate: async (req, o) => {
      const args = ['eval', req.modelPath, '--data', req.dataDir];
      if (req.referencePath) args.push('--reference', req.referencePath);
      if (req.confidence !== undefined) args.push('--confidence', String(req.confidence));
      return (await withDetectionFlags(req.detection, o.workDir, (flags) => call([...args, ...flags], o))) as EvalJson;
    },
    tune: async (req, o) => {
      const args = ['tune', req.modelPath, '-o', req.outPath, '--work-dir', req.workDir, '--time-limit-seconds', String(Math.round(o.timeoutMs / 1000))];
      if (o.memoryLimitBytes) args.push('--memory-limit-mb', String(Math.floor(o.memoryLimitBytes / (1024 * 1024))));
      if (req.dataDir) args.push('--data', req.dataDir);
      if (req.options) args.push(...optionsToFlags(req.options));
      args.push(...shapeFlags(req.shapes));
      const budgetS = typeof req.options?.budgetS === 'number' ? req.options.budgetS : null;
      // The whole search may run many profiles: its wall limit is the budget (or ten profiles) plus one profile.
      const wallMs = (budgetS !== null ? budgetS * 1000 : o.timeoutMs * 10) + o.timeoutMs;
      return (await withDetectionFlags(req.detection, o.workDir, (flags) =>
        runCliChild([...args, ...flags], { timeoutMs: wallMs, signal: o.signal, cwd: o.workDir, env, resultOnExitOne: true, ...(o.onLog ? { onStderrLine: o.onLog } : {}) }),
      )) as TuneJson;
    },
    telemetry: async () => {
      // src/profile's thermal readers (sysfs zones, Pi get_throttled, Intel/Jetson throttle counters): small
      // modules, loaded on the first heartbeat.
      const { readThermalSnapshot, hottestZone, PI_NOW_MASK } = await import('../profile/thermal.js');
      const { execCommand, readTextFile } = await import('../profile/energy/energy-source.js');
      const snap = await readThermalSnapshot({ sysroot: '/', clock: () => process.hrtime.bigint(), run: execCommand, readText: readTextFile });
      const counters = (snap.intelThrottleCount ?? 0) + (snap.jetsonOcEvents ?? 0);
      const hasCounters = snap.intelThrottleCount !== null || snap.jetsonOcEvents !== null;
      let throttled: boolean | null = null;
      if (snap.piThrottledBits !== null) throttled = (snap.piThrottledBits & PI_NOW_MASK) !== 0;
      else if (hasCounters && lastThrottleCount !== null) throttled = counters > lastThrottleCount;
      if (hasCounters) lastThrottleCount = counters;
      const load1 = loadavg()[0];
      return { load1: load1 ?? null, temperatureC: hottestZone(snap)?.tempC ?? null, throttled };
    },
  };
}
