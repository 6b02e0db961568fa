import { rmSync } from 'node:fs';
import { EdgetuneError } from '../../util/errors.js';
import type { CompressJson, EvalJson } from '../agent-services.js';
import { compressGateOf, deployVerdict, describeVerdict, recordedGate, type FidelityVerdict } from '../fidelity-verdict.js';
import type { ActionHandler, JobContext } from '../job-context.js';
import { JobFailure } from '../job-failure.js';
import { installVariantFile, registerReceivedModel, summarizeVariant } from '../variants.js';
import type { VariantRow } from '../../store/agent-store.js';
import type { DetectionTaskFiles } from '../../detect/load-detection-task.js';
import { compressToFile, type CompressedFile } from './compress.js';
import { compressPassThrough, detectionTaskOf, optionsOf, profileSettings } from './job-options.js';

/**
 * `deploy`: store the model, compress it by the device's plan (or `options.method`; 'none' keeps it as is),
 * evaluate the result against the original when a dataset came with the job and apply the fidelity gate, profile
 * it (the health check), then make it the live variant (the previous one is kept for rollback). Any failure leaves
 * the live model untouched.
 *
 * The gate (issue 13): a variant whose output collapsed (constant across samples, one class for every sample) is
 * not activated: the job fails with FIDELITY_FAILED naming the figures, and the variant is stored with the verdict
 * (a later `activate` refuses it as well). `options.maxAccuracyDrop` goes to compress, which judges it on a
 * held-out part of the job's data; the eval here runs on the data the variant was calibrated on, so it checks the
 * bound only with `options.noHoldout`. `options.force` writes and activates a failing variant anyway; the report
 * then says `forced: true` and lists the failures. With `options.detection` (a detector) compress and eval judge
 * the decoded boxes: the eval's `detection` figures, and a bound in points of mAP@.5:.95 (hmean for text).
 */
export const deploy: ActionHandler = async (ctx) => {
  if (!ctx.job.artifact) throw new EdgetuneError('JOB_INVALID', 'deploy: the job names no model artifact');
  const o = optionsOf(ctx, 'deploy');
  const { method, activate, maxAccuracyDrop: maxDrop } = o;
  const settings = profileSettings(o);
  const fidelity = { force: o.force, confidence: o.confidence, noHoldout: o.noHoldout };
  const passThrough = method !== 'none' ? compressPassThrough(o) : {};
  const detection = detectionTaskOf(o);
  const original = registerReceivedModel(ctx);
  const originalPath = ctx.paths.model(original.variantId);
  const dataDir = ctx.job.data ? ctx.paths.dataset(ctx.job.data.sha256) : undefined;

  let plan: unknown = null;
  if (method === 'plan') {
    ctx.progress('plan', 0.1);
    plan = await ctx.services.plan(originalPath, ctx.callOptions());
  }
  let variant = original;
  let compress: CompressJson | null = null;
  let evaluation: EvalJson | null = null;
  let verdict: FidelityVerdict | null = null;
  if (method !== 'none') {
    ctx.progress('compress', 0.3);
    const file = await compressOrRefuse(ctx, original, originalPath, method, passThrough, detection);
    compress = file.result;
    try {
      if (dataDir) {
        ctx.progress('eval', 0.5);
        evaluation = await ctx.services.evaluate(
          {
            modelPath: file.tempPath,
            dataDir,
            referencePath: originalPath,
            ...(fidelity.confidence !== undefined ? { confidence: fidelity.confidence } : {}),
            ...(detection ? { detection } : {}),
          },
          ctx.callOptions(),
        );
        verdict = deployVerdict(evaluation, {
          judgedOn: 'calibration',
          maxAccuracyDropPp: fidelity.noHoldout ? maxDrop : undefined,
          compress,
          force: fidelity.force,
        });
      }
      const details = verdict ? { ...compress, deployGate: recordedGate(verdict, ctx.job.jobId) } : compress;
      variant = await installVariantFile(ctx, file.tempPath, original.variantId, file.method, details);
    } finally {
      rmSync(file.tempPath, { force: true });
    }
    if (verdict && !verdict.passed && !verdict.forced) {
      const live = ctx.store.variantWithRole('live');
      throw new JobFailure(
        'FIDELITY_FAILED',
        `deploy: ${describeVerdict(`the ${file.method} variant ${variant.variantId.slice(0, 12)}`, verdict)}; not activated: ${liveLabel(live)} (job option force: true activates it anyway)`,
        {
          source: summarizeVariant(ctx.store.getVariant(original.variantId) ?? original),
          variant: summarizeVariant(ctx.store.getVariant(variant.variantId) ?? variant),
          activated: false,
          live: live ? summarizeVariant(live) : null,
          forced: false,
          plan,
          compress,
          eval: evaluation,
          fidelity: verdict,
        },
      );
    }
  } else if (dataDir) {
    ctx.progress('eval', 0.5);
    // Nothing to compare with: a detector is scored against its labels, or (without labels) as raw outputs.
    const scored = detection?.labels !== undefined ? { detection } : {};
    evaluation = await ctx.services.evaluate({ modelPath: originalPath, dataDir, ...scored }, ctx.callOptions());
  }
  ctx.progress('profile', 0.7);
  const profile = await ctx.services.profile(
    { modelPath: ctx.paths.model(variant.variantId), ...(dataDir ? { dataDir } : {}), ...settings, hardware: await ctx.hardware() },
    ctx.callOptions(),
  );
  ctx.store.addProfile(variant.variantId, ctx.job.jobId, profile);
  const forced = verdict?.forced === true || compressGateOf(compress)?.forced === true;
  if (forced) ctx.log.warn(`deploy: ${verdict ? describeVerdict(`variant ${variant.variantId.slice(0, 12)}`, verdict) : 'the compressed variant failed its fidelity gate'}; ${activate ? 'activated' : 'kept'} anyway (force)`);
  const roles = activate ? ctx.store.activateVariant(variant.variantId) : null;
  return {
    source: summarizeVariant(ctx.store.getVariant(original.variantId) ?? original),
    variant: summarizeVariant(roles?.live ?? ctx.store.getVariant(variant.variantId) ?? variant),
    activated: activate,
    previous: roles?.previous ? summarizeVariant(roles.previous) : null,
    forced,
    plan,
    compress,
    profile,
    eval: evaluation,
    fidelity: verdict,
  };
};

/** The compression; a FIDELITY_FAILED refusal of the compress child becomes a failed deploy that says what stays live. */
async function compressOrRefuse(
  ctx: JobContext,
  original: VariantRow,
  originalPath: string,
  method: string,
  options: Record<string, string | number | boolean>,
  detection: DetectionTaskFiles | undefined,
): Promise<CompressedFile> {
  try {
    return await compressToFile(ctx, original, originalPath, method, options, detection);
  } catch (error) {
    if (!(error instanceof EdgetuneError) || error.code !== 'FIDELITY_FAILED') throw error;
    const live = ctx.store.variantWithRole('live');
    // The child's own hint names its scratch file and a CLI flag; the job's force option is what applies here.
    const finding = error.message.replace(/^compress: /, '').replace(/; nothing written to .* \(--force writes it anyway\)$/, '');
    throw new JobFailure(
      'FIDELITY_FAILED',
      `deploy: compress refused the ${method} variant: ${finding}; not activated: ${liveLabel(live)} (job option force: true writes and activates it anyway)`,
      {
        source: summarizeVariant(ctx.store.getVariant(original.variantId) ?? original),
        variant: null,
        activated: false,
        live: live ? summarizeVariant(live) : null,
        forced: false,
        compress: null,
        fidelity: { stage: 'compress', passed: false, forced: false, failures: [finding] },
      },
      { cause: error },
    );
  }
}

function liveLabel(live: VariantRow | undefined): string {
  return live ? `the live variant stays ${live.variantId.slice(0, 12)} (${live.method})` : 'no variant is live on this device';
}
