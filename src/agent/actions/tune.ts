import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EdgetuneError, messageOf } from '../../util/errors.js';
import type { TuneResult } from '../../tune/tune-types.js';
import { runCliChild } from '../cli-child.js';
import type { ActionHandler, JobContext } from '../job-context.js';
import { installVariantFile, resolveJobModel, summarizeVariant } from '../variants.js';
import { boolOption, enumOption, intOption, numberOption, patternOption } from './job-options.js';

/** Time budget of a tune job when `options.budgetS` is not given. */
export const DEFAULT_TUNE_BUDGET_S = 1800;
/** Without `options.maxLatencyMs`, the health check allows this multiple of the p50 the tune measured. */
export const HEALTH_LATENCY_FACTOR = 1.5;

/** `edgetune tune` flags from the job's options (each validated; JOB_INVALID names the option). */
export function tuneFlags(ctx: JobContext): { flags: string[]; budgetS: number; maxLatencyMs: number | undefined } {
  const flags: string[] = [];
  const num = (option: string, flag: string, min: number, max: number): number | undefined => {
    const v = numberOption(ctx, option, min, max);
    if (v !== undefined) flags.push(flag, String(v));
    return v;
  };
  const int = (option: string, flag: string, min: number, max: number): void => {
    const v = intOption(ctx, option, min, max);
    if (v !== undefined) flags.push(flag, String(v));
  };
  num('maxAccuracyDrop', '--max-accuracy-drop', 0, 100);
  const maxLatencyMs = num('maxLatencyMs', '--max-latency-ms', 1e-6, 1e7);
  num('maxMemoryMb', '--max-memory-mb', 1e-3, 1e7);
  num('maxSizeMb', '--max-size-mb', 1e-6, 1e7);
  const objective = enumOption(ctx, 'objective', ['latency', 'energy', 'size'] as const);
  if (objective) flags.push('--objective', objective);
  const budgetS = numberOption(ctx, 'budgetS', 1, 7 * 24 * 3600) ?? DEFAULT_TUNE_BUDGET_S;
  flags.push('--budget-s', String(budgetS));
  int('batch', '--batch', 1, 4096);
  int('iterations', '--iterations', 1, 100_000);
  int('warmup', '--warmup', 0, 10_000);
  int('threads', '--threads', 1, 256);
  const energy = enumOption(ctx, 'energy', ['auto', 'off', 'rapl', 'ina3221', 'pi5-pmic', 'hwmon', 'nvidia-smi', 'estimate'] as const);
  if (energy) flags.push('--energy', energy);
  if (boolOption(ctx, 'fresh')) flags.push('--fresh');
  const candidates = patternOption(ctx, 'candidates', /^[A-Za-z0-9_.+-]{1,120}(,[A-Za-z0-9_.+-]{1,120}){0,63}$/, 'a comma list of candidate ids');
  if (candidates) flags.push('--candidates', candidates);
  return { flags, budgetS, maxLatencyMs };
}

/**
 * `tune`: run `edgetune tune` on the job's model in a child process (the tune's own store under dataDir/tune lets a
 * tune cut by an agent restart continue), store the chosen variant, and report the front. With `activate: true`
 * the chosen variant goes live and a health check follows (it loads, it runs, its p50 is within `maxLatencyMs`, or
 * within 1.5× what the tune measured); when it fails, the previous live model is restored.
 */
export const tune: ActionHandler = async (ctx) => {
  const { variant: source, path } = resolveJobModel(ctx);
  const { flags, budgetS, maxLatencyMs } = tuneFlags(ctx);
  const activate = boolOption(ctx, 'activate') ?? false;
  const limits = ctx.config.limits;
  const tuneDir = join(ctx.paths.dataDir, 'tune');
  mkdirSync(ctx.paths.workDir, { recursive: true });
  const args = ['tune', path, '--work-dir', tuneDir, '--time-limit-seconds', String(limits.maxProfileSeconds), '--memory-limit-mb', String(limits.maxChildMemoryMb), ...flags];
  if (ctx.job.data) args.push('--data', ctx.paths.dataset(ctx.job.data.sha256));
  ctx.progress('tune', 0, `tuning ${source.variantId.slice(0, 12)}`);
  const result = (await runCliChild(args, {
    // The budget stops new candidates; the one in flight may still build and profile.
    timeoutMs: (budgetS + 2 * limits.maxProfileSeconds + 300) * 1000,
    signal: ctx.signal,
    cwd: ctx.paths.workDir,
    onStderrLine: (line) => {
      const m = /^\[(\d+)\/(\d+)\] /.exec(line);
      if (m) ctx.progress('tune', Number(m[1]) / Number(m[2]), line);
      else ctx.log.debug(`[tune child] ${line}`);
    },
  })) as TuneResult;

  const chosen = result.candidates.find((c) => c.id === result.chosen);
  if (!chosen || !chosen.modelPath) {
    return { source: summarizeVariant(source), variant: null, activated: false, health: null, tune: result };
  }
  let variant = source;
  if (chosen.id !== 'fp32') {
    // Copy out of the tune's cache (which keeps its files for resuming), then install by digest.
    const temp = join(ctx.paths.workDir, `tune-${randomBytes(8).toString('hex')}.onnx`);
    copyFileSync(chosen.modelPath, temp);
    variant = await installVariantFile(ctx, temp, source.variantId, `tune:${chosen.id}`, { candidate: chosen.id, steps: chosen.steps, tune: { chosen: result.chosen, front: result.front } });
  }
  if (!activate) return { source: summarizeVariant(source), variant: summarizeVariant(variant), activated: false, health: null, tune: result };

  const liveBefore = ctx.store.variantWithRole('live');
  const roles = ctx.store.activateVariant(variant.variantId);
  ctx.progress('health', null, `health check of ${variant.variantId.slice(0, 12)}`);
  const boundMs = maxLatencyMs ?? (chosen.latencyMs !== null ? chosen.latencyMs * HEALTH_LATENCY_FACTOR : null);
  let health: { ok: boolean; latencyMs: number | null; boundMs: number | null; reason: string | null };
  try {
    const profile = await ctx.services.profile({ modelPath: ctx.paths.model(variant.variantId), iterations: 20, warmup: 3, energy: 'off' }, ctx.callOptions());
    ctx.store.addProfile(variant.variantId, ctx.job.jobId, profile);
    const p50 = (profile as { latencyMs?: { p50?: number } }).latencyMs?.p50 ?? null;
    const slow = boundMs !== null && (p50 === null || p50 > boundMs);
    health = { ok: !slow, latencyMs: p50, boundMs, reason: slow ? `p50 ${p50?.toFixed(3)} ms > bound ${boundMs!.toFixed(3)} ms` : null };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    health = { ok: false, latencyMs: null, boundMs, reason: `the variant does not load or run: ${messageOf(error)}` };
  }
  if (health.ok) {
    return { source: summarizeVariant(source), variant: summarizeVariant(roles.live), activated: true, previous: roles.previous ? summarizeVariant(roles.previous) : null, health, tune: result };
  }
  // Roll back: the model that was live before (or the tuned model's source when nothing was).
  const restored = liveBefore && liveBefore.variantId !== variant.variantId ? ctx.store.rollbackVariant().live : ctx.store.activateVariant(source.variantId).live;
  ctx.log.warn(`tune: health check of ${variant.variantId.slice(0, 12)} failed (${health.reason}); rolled back to ${restored.variantId.slice(0, 12)}`);
  if (restored.variantId === variant.variantId) throw new EdgetuneError('RUNTIME_FAILED', `tune: health check failed (${health.reason}) and nothing could be rolled back to`);
  return { source: summarizeVariant(source), variant: summarizeVariant(variant), activated: false, rolledBack: true, live: summarizeVariant(restored), health, tune: result };
};
