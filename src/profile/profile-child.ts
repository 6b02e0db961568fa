/**
 * `profileInChild`: one profile in a dedicated child process with a wall-clock and a resident-memory limit. The
 * parent samples energy and thermal state (its event loop is not busy with inference), polls the child's RSS from
 * /proc and kills it above the limit, and turns every way the child can fail into a typed `failed` outcome.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EdgetuneError, errorCodeOf, messageOf, type ErrorCode } from '../util/errors.js';
import { detectEmulation } from '../util/emulation.js';
import { baselineWatts, summarizeEnergy } from './energy/energy-integrate.js';
import { EnergySampler, selectEnergySource, type EnergySelection } from './energy/energy-sampler.js';
import { execCommand, readTextFile, type SourceContext } from './energy/energy-source.js';
import { summarizeLatency } from './latency-stats.js';
import { achievedThroughput } from './model-flops.js';
import { readProcMemory } from './proc-memory.js';
import { assessThermal, readThermalSnapshot, waitForCooldown, type CooldownResult, type ThermalSnapshot } from './thermal.js';
import type {
  ChildExtras,
  ChildMeasurement,
  ChildMessage,
  ChildProfileRequest,
  EnergyResult,
  ParentMessage,
  ProfileOptions,
  ProfileOutcome,
  ProfileResult,
} from './profile-types.js';

const DEFAULTS = {
  iterations: 100,
  warmup: 10,
  timeLimitMs: 300_000,
  memoryLimitBytes: 2048 * 1024 * 1024,
  energyMinDurationMs: 5000,
  baselineMs: 5000,
  cooldownMaxMs: 120_000,
};
const MEMORY_POLL_MS = 50;
const THERMAL_POLL_MS = 1000;
const MIN_ENERGY_SAMPLES = 20;
/** Sample periods the energy window lasts at least: one more than the sample count, so ≥ 20 readings fall inside. */
const MIN_ENERGY_PERIODS = MIN_ENERGY_SAMPLES + 1;

/** How to start the worker: the compiled .js beside this file, or the .ts through tsx when running from source. */
export function workerEntry(): { modulePath: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    return { modulePath: join(dirname(here), 'profile-worker.ts'), execArgv: ['--import', pathToFileURL(tsx).href] };
  }
  return { modulePath: join(dirname(here), 'profile-worker.js'), execArgv: [] };
}

/** sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function positiveInt(name: string, v: number | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new EdgetuneError('USAGE', `${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v < 0) throw new EdgetuneError('USAGE', `${name} must be a non-negative number, got ${v}`);
  return v;
}

class Tail {
  private text = '';
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-4000);
  }
  lastLines(n = 6): string {
    return this.text.trim().split('\n').slice(-n).join(' | ');
  }
}

const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolveSleep) => {
    if (signal.aborted) return resolveSleep();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolveSleep();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Profile a model in a child process. Never rejects for a bad model, a crash, a hang or runaway memory: the
 * outcome is `{ state: 'failed', error: { code, message, ... } }` with CHILD_CRASHED, CHILD_TIMEOUT, CHILD_OOM,
 * ABORTED, or the child's own code (MODEL_INVALID, DATASET_INVALID, USAGE, ...).
 */
export async function profileInChild(options: ProfileOptions, signal?: AbortSignal): Promise<ProfileOutcome> {
  const startedMs = Date.now();
  const fail = (code: ErrorCode, message: string, peakRssBytes: number | null = null): ProfileOutcome => ({
    state: 'failed',
    error: { code, message, peakRssBytes, durationMs: Date.now() - startedMs },
  });
  try {
    return await runProfile(options, signal, startedMs, fail);
  } catch (error) {
    return fail(errorCodeOf(error), messageOf(error));
  }
}

type Fail = (code: ErrorCode, message: string, peakRssBytes?: number | null) => ProfileOutcome;

async function runProfile(options: ProfileOptions, signal: AbortSignal | undefined, startedMs: number, fail: Fail): Promise<ProfileOutcome> {
  const iterations = positiveInt('iterations', options.iterations, DEFAULTS.iterations);
  const warmup = positiveInt('warmup', options.warmup, DEFAULTS.warmup, 0);
  const threads = positiveInt('threads', options.threads, availableParallelism());
  const timeLimitMs = positiveInt('timeLimitMs', options.timeLimitMs, DEFAULTS.timeLimitMs);
  const memoryLimitBytes = positiveInt('memoryLimitBytes', options.memoryLimitBytes, DEFAULTS.memoryLimitBytes);
  const minDurationMs = nonNegative('minDurationMs', options.minDurationMs, 0);
  const baselineMs = nonNegative('baselineMs', options.baselineMs, DEFAULTS.baselineMs);
  const energyMinDurationMs = nonNegative('energyMinDurationMs', options.energyMinDurationMs, DEFAULTS.energyMinDurationMs);
  const batchSize = positiveInt('batchSize', options.batchSize, 1);
  const opProfileRuns = options.opProfile ? positiveInt('opProfileRuns', options.opProfileRuns, Math.min(iterations, 20)) : null;

  const modelPath = resolve(options.modelPath);
  let modelBytes: number;
  try {
    const st = statSync(modelPath);
    if (!st.isFile()) return fail('MODEL_INVALID', `model path '${options.modelPath}' is not a file`);
    if (st.size === 0) return fail('MODEL_INVALID', `model file '${options.modelPath}' is empty`);
    modelBytes = st.size;
  } catch {
    return fail('MODEL_INVALID', `model file '${options.modelPath}' does not exist`);
  }
  if (options.referencePath && !options.dataDir) return fail('USAGE', '--reference needs --data: fidelity is measured on real samples');
  if (options.referencePath) {
    try {
      if (!statSync(options.referencePath).isFile()) return fail('MODEL_INVALID', `reference '${options.referencePath}' is not a file`);
    } catch {
      return fail('MODEL_INVALID', `reference model '${options.referencePath}' does not exist`);
    }
  }
  if (options.dataDir) {
    try {
      if (!statSync(options.dataDir).isDirectory()) return fail('DATASET_INVALID', `dataset '${options.dataDir}' is not a directory`);
    } catch {
      return fail('DATASET_INVALID', `dataset '${options.dataDir}' does not exist`);
    }
  }
  const sha256 = await sha256File(modelPath);

  const ctx: SourceContext = { sysroot: options.sysroot ?? '/', clock: () => process.hrtime.bigint(), run: options.run ?? execCommand, readText: readTextFile };
  const energyMode = options.energy ?? 'auto';
  const selection: EnergySelection = await selectEnergySource(energyMode, ctx, options.powerModel ?? null);

  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (signal?.aborted) return fail('ABORTED', 'profile aborted before it started');

  try {
    let cooldown: CooldownResult | null = null;
    if (options.cooldownC !== undefined) {
      options.onProgress?.({ phase: 'cooldown', done: 0, total: 1 });
      cooldown = await waitForCooldown(ctx, options.cooldownC, options.cooldownMaxMs ?? DEFAULTS.cooldownMaxMs, controller.signal);
      if (controller.signal.aborted) return fail('ABORTED', 'profile aborted during the cool-down wait');
    }
    const thermalStart = await readThermalSnapshot(ctx, true);
    const request: ChildProfileRequest = {
      modelPath,
      iterations,
      warmup,
      minDurationMs,
      threads,
      executionProvider: options.executionProvider ?? 'cpu',
      shapes: options.shapes ?? {},
      batchSize,
      dataDir: options.dataDir ? resolve(options.dataDir) : null,
      energy: selection.source !== null,
      opProfileRuns,
      flops: options.flops ?? true,
      referencePath: options.referencePath ? resolve(options.referencePath) : null,
    };
    const child = await runChild(request, {
      timeLimitMs,
      memoryLimitBytes,
      baselineMs,
      energyMinDurationMs,
      selection,
      ctx,
      signal: controller.signal,
      onProgress: options.onProgress,
      onChildSpawn: options.onChildSpawn,
    });
    if (child.failure) return fail(child.failure.code, child.failure.message, child.peakRssBytes);
    const thermalEnd = await readThermalSnapshot(ctx, true);
    const m = child.measurement!;
    const latencyMs = summarizeLatency(m.latencySamplesMs);
    const totalMs = m.latencySamplesMs.reduce((s, v) => s + v, 0);
    const extras: ChildExtras = child.extras ?? { opProfile: null, flops: null, fidelity: null, notes: [`extras lost: ${child.extrasLostReason ?? 'the child exited early'}`] };
    const notes = [...extras.notes];
    const emulation = detectEmulation();
    if (emulation !== null) notes.push(`emulated${emulation.emulator ? ` by ${emulation.emulator}` : ''} (${emulation.evidence}): latency, energy and thermal figures are not the device's`);
    if (cooldown && !cooldown.reached) {
      notes.push(cooldown.tempC === null ? 'cool-down asked for, but this machine exposes no thermal zone' : `cool-down to ${cooldown.targetC} °C not reached after ${Math.round(cooldown.waitedMs)} ms (${cooldown.tempC} °C)`);
    }
    let flopsDetail: ProfileResult['flopsDetail'] = null;
    if (extras.flops) {
      const peakPrecision = extras.flops.integerFlops > extras.flops.flops / 2 ? 'int8' : 'fp32';
      const peak = options.peak?.[peakPrecision] ?? null;
      const achieved = achievedThroughput(extras.flops.flops, latencyMs.p50, peak?.gopsPerSec ?? null);
      flopsDetail = {
        ...extras.flops,
        achievedGflopsPerSec: achieved.gflopsPerSec,
        peakPrecision,
        peakGopsPerSec: peak?.gopsPerSec ?? null,
        peakSource: peak?.source ?? null,
        peakEstimated: peak?.estimated ?? null,
        peakShare: achieved.peakShare,
      };
    }
    const result: ProfileResult = {
      model: { path: modelPath, bytes: modelBytes, sha256 },
      executionProvider: request.executionProvider,
      iterations: m.latencySamplesMs.length,
      warmup,
      threads,
      batchSize: m.batchSize,
      inputs: m.inputs,
      inputSource: m.inputSource,
      syntheticFill: m.syntheticFill,
      latencyMs,
      throughputPerSec: totalMs > 0 ? (m.latencySamplesMs.length * m.batchSize) / (totalMs / 1000) : 0,
      coldStart: m.coldStart,
      memory: { ...m.memory, modelBytes },
      energy: child.energy,
      energyNote: child.energy ? null : energyNoteFor(energyMode, selection, child.energyError),
      thermal: { ...assessThermal(thermalStart, thermalEnd, child.thermalDuring), cooldown },
      opProfile: extras.opProfile?.top ?? null,
      opProfileDetail: extras.opProfile ? { runs: extras.opProfile.runs, nodeMsPerRun: extras.opProfile.nodeMsPerRun, runMs: extras.opProfile.runMs, byOpType: extras.opProfile.byOpType } : null,
      flops: extras.flops?.flops ?? null,
      flopsDetail,
      fidelity: extras.fidelity,
      notes,
      device: options.device ?? null,
      emulated: emulation !== null,
      emulation,
      startedAt: new Date(startedMs).toISOString(),
      durationMs: Date.now() - startedMs,
      childPid: child.pid,
    };
    return { state: 'ok', result };
  } finally {
    signal?.removeEventListener('abort', onOuterAbort);
  }
}

function energyNoteFor(mode: string, selection: EnergySelection, error: string | null): string {
  if (mode === 'off') return 'energy measurement off (--energy off)';
  if (error) return `energy measurement failed: ${error}`;
  return `no energy source: ${selection.unavailable.map((u) => `${u.id}: ${u.reason}`).join('; ')}`;
}

interface ChildRunSettings {
  timeLimitMs: number;
  memoryLimitBytes: number;
  baselineMs: number;
  energyMinDurationMs: number;
  selection: EnergySelection;
  ctx: SourceContext;
  signal: AbortSignal;
  onProgress: ProfileOptions['onProgress'];
  onChildSpawn: ProfileOptions['onChildSpawn'];
}

interface ChildRunResult {
  pid: number;
  measurement: ChildMeasurement | null;
  extras: ChildExtras | null;
  extrasLostReason: string | null;
  energy: EnergyResult | null;
  energyError: string | null;
  thermalDuring: ThermalSnapshot[];
  failure: { code: ErrorCode; message: string } | null;
  peakRssBytes: number | null;
}

/** Fork the worker, drive the phases, enforce the limits, and collect what it sent before it exited. */
function runChild(request: ChildProfileRequest, s: ChildRunSettings): Promise<ChildRunResult> {
  const entry = workerEntry();
  const heapMb = Math.max(256, Math.min(4096, Math.floor(s.memoryLimitBytes / (1024 * 1024))));
  const child: ChildProcess = fork(entry.modulePath, [], {
    execArgv: [...entry.execArgv, `--max-old-space-size=${heapMb}`],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  const stderr = new Tail();
  child.stdout?.on('data', (c: Buffer) => stderr.push(c));
  child.stderr?.on('data', (c: Buffer) => stderr.push(c));

  const out: ChildRunResult = {
    pid: child.pid ?? -1,
    measurement: null,
    extras: null,
    extrasLostReason: null,
    energy: null,
    energyError: null,
    thermalDuring: [],
    failure: null,
    peakRssBytes: null,
  };
  let killedFor: { code: ErrorCode; message: string } | null = null;
  let lastRss = 0;
  const killFor = (code: ErrorCode, message: string): void => {
    if (killedFor) return;
    killedFor = { code, message };
    child.kill('SIGKILL');
  };
  if (child.pid) s.onChildSpawn?.(child.pid);

  const memoryTimer = setInterval(() => {
    if (!child.pid) return;
    const mem = readProcMemory(child.pid);
    if (!mem) return;
    lastRss = mem.rssBytes;
    out.peakRssBytes = Math.max(out.peakRssBytes ?? 0, mem.hwmBytes);
    if (mem.rssBytes > s.memoryLimitBytes) {
      killFor('CHILD_OOM', `profile child exceeded the memory limit: resident ${mb(mem.rssBytes)} MB > ${mb(s.memoryLimitBytes)} MB`);
    }
  }, MEMORY_POLL_MS);
  const timeTimer = setTimeout(() => killFor('CHILD_TIMEOUT', `profile child exceeded the time limit of ${Math.round(s.timeLimitMs / 1000)} s`), s.timeLimitMs);
  let thermalBusy = false;
  const thermalTimer = setInterval(() => {
    if (thermalBusy) return;
    thermalBusy = true;
    void readThermalSnapshot(s.ctx, false)
      .then((snap) => out.thermalDuring.push(snap))
      .catch(() => undefined)
      .finally(() => (thermalBusy = false));
  }, THERMAL_POLL_MS);
  const onAbort = (): void => killFor('ABORTED', 'profile aborted');
  s.signal.addEventListener('abort', onAbort, { once: true });

  const source = s.selection.source;
  const sampler = source ? new EnergySampler(source) : null;
  let idleWatts = 0;
  let baselineDone: Promise<void> = Promise.resolve();
  let energyDone: Promise<void> = Promise.resolve();

  const send = (m: ParentMessage): void => {
    if (child.connected) child.send(m);
  };

  child.on('message', (msg: ChildMessage) => {
    switch (msg.type) {
      case 'progress':
        s.onProgress?.(msg.progress);
        break;
      case 'energy-ready':
        baselineDone = (async () => {
          if (!sampler) return send({ type: 'energy-go', minDurationMs: 0 });
          s.onProgress?.({ phase: 'baseline', done: 0, total: s.baselineMs });
          const t0 = s.ctx.clock();
          sampler.start();
          await abortableSleep(s.baselineMs, s.signal);
          await sampler.sampleNow();
          const base = sampler.readingsBetween(t0, s.ctx.clock());
          try {
            idleWatts = baselineWatts(base, source!.counterRangesUj ?? []);
          } catch (error) {
            out.energyError = `idle baseline: ${messageOf(error)} (${base.length} readings in ${s.baselineMs} ms)`;
          }
          s.onProgress?.({ phase: 'baseline', done: s.baselineMs, total: s.baselineMs });
          const minDurationMs = Math.max(s.energyMinDurationMs, MIN_ENERGY_PERIODS * source!.samplePeriodMs);
          send({ type: 'energy-go', minDurationMs });
        })();
        break;
      case 'energy-done':
        energyDone = (async () => {
          await baselineDone;
          if (!sampler || !source) return;
          await sampler.sampleNow();
          await sampler.stop();
          if (out.energyError) return;
          try {
            const window = { startNs: BigInt(msg.startNs), endNs: BigInt(msg.endNs), inferences: msg.inferences };
            const sum = summarizeEnergy(sampler.readings(), window, idleWatts, source.counterRangesUj ?? []);
            out.energy = {
              method: source.method,
              source: source.id,
              scope: source.scope,
              joulesPerInference: sum.joulesPerInference,
              dynamicJoulesPerInference: sum.dynamicJoulesPerInference,
              avgWatts: sum.avgWatts,
              idleWatts: sum.idleWatts,
              totalJoules: sum.totalJoules,
              idleJoules: sum.idleJoules,
              dynamicJoules: sum.dynamicJoules,
              durationMs: sum.durationMs,
              inferences: sum.inferences,
              baselineMs: s.baselineMs,
              nSamples: sum.nSamples,
              sampleHz: sum.sampleHz,
              detail: [...source.detail],
              unavailable: s.selection.unavailable,
              readErrors: sampler.readErrors(),
            };
          } catch (error) {
            out.energyError = messageOf(error);
          }
        })();
        break;
      case 'measured':
        out.measurement = msg.measurement;
        break;
      case 'extras':
        out.extras = msg.extras;
        break;
      case 'failed':
        out.failure = { code: msg.code, message: msg.message };
        break;
    }
  });

  return new Promise((resolveRun) => {
    let settled = false;
    const finish = async (exitCode: number | null, exitSignal: NodeJS.Signals | null, spawnError?: Error): Promise<void> => {
      if (settled) return;
      settled = true;
      clearInterval(memoryTimer);
      clearInterval(thermalTimer);
      clearTimeout(timeTimer);
      s.signal.removeEventListener('abort', onAbort);
      await sampler?.stop();
      await baselineDone.catch(() => undefined);
      await energyDone.catch(() => undefined);
      const how = spawnError ? `could not start: ${spawnError.message}` : exitSignal ? `killed by ${exitSignal}` : `exited with code ${exitCode}`;
      if (killedFor) {
        if (out.measurement && (killedFor as { code: ErrorCode }).code !== 'ABORTED') {
          // The measurement is complete; only the optional extras were cut short.
          out.extrasLostReason = (killedFor as { message: string }).message;
        } else {
          out.failure = killedFor;
        }
      } else if (!out.failure && !out.measurement) {
        const hint = exitSignal === 'SIGKILL' ? ` (not by edgetune: likely the kernel OOM killer; last resident ${mb(lastRss)} MB)` : '';
        const tail = stderr.lastLines();
        out.failure = { code: 'CHILD_CRASHED', message: `profile child ${how}${hint} before reporting a result${tail ? `: ${tail}` : ''}` };
      } else if (out.measurement && !out.extras && !out.failure) {
        out.extrasLostReason = `profile child ${how} while computing the op profile / FLOPs`;
      }
      resolveRun(out);
    };
    // 'close' (not 'exit'): every IPC message and stdio byte has been delivered by then.
    child.on('close', (code, sig) => void finish(code, sig));
    child.on('error', (error) => {
      if (child.pid === undefined) void finish(null, null, error);
    });
    child.send({ type: 'start', request } satisfies ParentMessage);
  });
}

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
