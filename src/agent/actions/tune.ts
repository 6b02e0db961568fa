import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EdgetuneError, messageOf } from '../../util/errors.js';
import type { VariantRow } from '../../store/agent-store.js';
import type { ProfileJson, TuneJson } from '../agent-services.js';
import type { ActionHandler, JobContext } from '../job-context.js';
import { installVariantFile, resolveJobModel, summarizeVariant } from '../variants.js';
import { detectionTaskOf, optionsOf, tunePassThrough } from './job-options.js';

/** Without a latency bound in the job, the health check allows this multiple of the p50 the tune measured. */
export const HEALTH_LATENCY_FACTOR = 1.5;
/** Timed runs of the health check's profile (after its warm-up runs). */
export const HEALTH_ITERATIONS = 20;
/** Warm-up runs of the health check's profile. */
export const HEALTH_WARMUP = 3;

/** The latency bound of a health check and where it came from. */
export interface HealthBound {
  boundMs: number | null;
  /** 'healthMaxLatencyMs' / 'maxLatencyMs' (job options), 'tune' (factor × the tune's p50) or 'none'. */
  source: 'healthMaxLatencyMs' | 'maxLatencyMs' | 'tune' | 'none';
}

/** Outcome of the health check after activation. */
export interface HealthCheck {
  ok: boolean;
  /** The p50 the health check measured (ms), null when the variant did not load or run. */
  latencyMs: number | null;
  boundMs: number | null;
  boundSource: HealthBound['source'];
  reason: string | null;
}

/** The health check's latency bound: the job's `healthMaxLatencyMs`, else its `maxLatencyMs`, else factor × tuned p50. */
export function healthBound(o: { healthMaxLatencyMs?: number | undefined; maxLatencyMs?: number | undefined; tunedLatencyMs: number | null }): HealthBound {
  if (o.healthMaxLatencyMs !== undefined) return { boundMs: o.healthMaxLatencyMs, source: 'healthMaxLatencyMs' };
  if (o.maxLatencyMs !== undefined) return { boundMs: o.maxLatencyMs, source: 'maxLatencyMs' };
  if (o.tunedLatencyMs !== null && Number.isFinite(o.tunedLatencyMs) && o.tunedLatencyMs > 0) return { boundMs: o.tunedLatencyMs * HEALTH_LATENCY_FACTOR, source: 'tune' };
  return { boundMs: null, source: 'none' };
}

/** Judge a health-check profile: it must report a finite p50 within the bound (no bound: it loaded and ran). */
export function judgeHealth(profile: ProfileJson, bound: HealthBound): HealthCheck {
  const p50 = profile.latencyMs?.p50;
  const base = { boundMs: bound.boundMs, boundSource: bound.source };
  if (typeof p50 !== 'number' || !Number.isFinite(p50) || p50 < 0) return { ok: false, latencyMs: null, ...base, reason: 'the profile of the live variant reports no latency' };
  if (bound.boundMs !== null && p50 > bound.boundMs) {
    return { ok: false, latencyMs: p50, ...base, reason: `p50 ${p50.toPrecision(4)} ms exceeds the bound ${bound.boundMs.toPrecision(4)} ms (${bound.source})` };
  }
  return { ok: true, latencyMs: p50, ...base, reason: null };
}

/** The chosen candidate's measured latency in the tune JSON (ms), or null. */
function chosenLatencyMs(result: TuneJson, chosen: string): number | null {
  const candidates = Array.isArray(result.candidates) ? (result.candidates as Array<{ id?: unknown; latencyMs?: unknown }>) : [];
  const c = candidates.find((x) => x.id === chosen);
  return typeof c?.latencyMs === 'number' ? c.latencyMs : null;
}

/** Profile the (now live) variant in a child through the agent's services and judge it (at the job's threads and shapes). */
async function checkHealth(ctx: JobContext, variant: VariantRow, bound: HealthBound, settings: { threads?: number | undefined; shapes?: Record<string, number[]> | undefined }): Promise<HealthCheck> {
  ctx.progress('health', null, `health check of ${variant.variantId.slice(0, 12)}`);
  try {
    const profile = await ctx.services.profile(
      {
        modelPath: ctx.paths.model(variant.variantId),
        iterations: HEALTH_ITERATIONS,
        warmup: HEALTH_WARMUP,
        ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
        ...(settings.shapes !== undefined ? { shapes: settings.shapes } : {}),
        energy: 'off',
        hardware: await ctx.hardware(),
      },
      ctx.callOptions(),
    );
    ctx.store.addProfile(variant.variantId, ctx.job.jobId, profile);
    return judgeHealth(profile, bound);
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    return { ok: false, latencyMs: null, boundMs: bound.boundMs, boundSource: bound.source, reason: `the variant does not load or run: ${messageOf(error)}` };
  }
}

/**
 * `tune`: search compressions of the job's model under the job's constraints (`edgetune tune` in a child, its
 * store kept under dataDir/tune so a re-run continues) and store the chosen variant. Unless `options.activate` is
 * false the chosen variant becomes live (the live one stays as previous, for `rollback`) and a health check follows
 * in a profiling child: it loads, it runs, its p50 is within `healthMaxLatencyMs`, else `maxLatencyMs`, else 1.5×
 * what the tune measured. When it fails, the live/previous roles are put back exactly as they were and the report
 * says so (`rolledBack`, `health.reason`). No candidate meeting the constraints is a result too: the report says so.
 * With `options.detection` the candidates' accuracy is mAP@.5:.95 (hmean for text) of the decoded detections.
 */
export const tune: ActionHandler = async (ctx) => {
  const o = optionsOf(ctx, 'tune');
  const { activate, healthMaxLatencyMs } = o;
  const options = tunePassThrough(o);
  const detection = detectionTaskOf(o);
  const { variant: source, path } = resolveJobModel(ctx);
  mkdirSync(ctx.paths.workDir, { recursive: true });
  mkdirSync(ctx.paths.tuneDir, { recursive: true });
  const outPath = join(ctx.paths.workDir, `tune-${randomBytes(8).toString('hex')}.onnx`);
  ctx.progress('tune', null, `searching compressions of ${source.variantId.slice(0, 12)}`);
  const result = await ctx.services.tune(
    {
      modelPath: path,
      outPath,
      workDir: ctx.paths.tuneDir,
      ...(ctx.job.data ? { dataDir: ctx.paths.dataset(ctx.job.data.sha256) } : {}),
      options,
      ...(o.shapes !== undefined ? { shapes: o.shapes } : {}),
      ...(detection ? { detection } : {}),
    },
    ctx.callOptions(),
  );
  const chosen = typeof result.chosen === 'string' ? result.chosen : null;
  if (chosen === null) return { source: summarizeVariant(source), variant: null, activated: false, health: null, rolledBack: false, tune: result };
  if (!existsSync(outPath)) throw new EdgetuneError('RUNTIME_FAILED', `tune chose '${chosen}' but wrote no model`);
  const variant = await installVariantFile(ctx, outPath, source.variantId, `tune:${chosen}`, { chosen });
  if (!activate) {
    return { source: summarizeVariant(source), variant: summarizeVariant(ctx.store.getVariant(variant.variantId) ?? variant), activated: false, health: null, rolledBack: false, tune: result };
  }

  const before = { live: ctx.store.variantWithRole('live')?.variantId ?? null, previous: ctx.store.variantWithRole('previous')?.variantId ?? null };
  const roles = ctx.store.activateVariant(variant.variantId);
  const bound = healthBound({ healthMaxLatencyMs, maxLatencyMs: o.maxLatencyMs, tunedLatencyMs: chosenLatencyMs(result, chosen) });
  let health: HealthCheck;
  try {
    health = await checkHealth(ctx, roles.live, bound, o);
  } catch (error) {
    // Cancelled (agent stopping) before the check finished: an unchecked variant does not stay live.
    ctx.store.restoreVariantRoles(before);
    throw error;
  }
  if (health.ok) {
    return {
      source: summarizeVariant(ctx.store.getVariant(source.variantId) ?? source),
      variant: summarizeVariant(roles.live),
      activated: true,
      previous: roles.previous ? summarizeVariant(roles.previous) : null,
      health,
      rolledBack: false,
      tune: result,
    };
  }
  const restored = ctx.store.restoreVariantRoles(before);
  const liveNow = restored.live ? summarizeVariant(restored.live) : null;
  const note = `health check of ${variant.variantId.slice(0, 12)} failed (${health.reason}); rolled back to ${liveNow ? liveNow.variantId.slice(0, 12) : 'no live model (none was live before)'}`;
  ctx.log.warn(`tune: ${note}`);
  ctx.progress('rollback', null, note);
  return {
    source: summarizeVariant(ctx.store.getVariant(source.variantId) ?? source),
    variant: summarizeVariant(ctx.store.getVariant(variant.variantId) ?? variant),
    activated: false,
    rolledBack: true,
    rollbackReason: note,
    live: liveNow,
    previous: restored.previous ? summarizeVariant(restored.previous) : null,
    health,
    tune: result,
  };
};
