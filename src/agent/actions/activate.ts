import { EdgetuneError } from '../../util/errors.js';
import { recordedGateFailures } from '../fidelity-verdict.js';
import type { ActionHandler } from '../job-context.js';
import { JobFailure } from '../job-failure.js';
import { registerReceivedModel, summarizeVariant } from '../variants.js';
import { optionsOf } from './job-options.js';

/**
 * `activate`: make a stored variant live (`options.variantId`, or the job's model); the live one becomes previous.
 * A variant recorded as failing its fidelity gate (written with force, or refused by a deploy) is refused with
 * FIDELITY_FAILED and the live variant stays, unless `options.force`; the report then says `forced: true`.
 */
export const activate: ActionHandler = async (ctx) => {
  const { force, variantId: wanted } = optionsOf(ctx, 'activate');
  let variantId: string;
  if (ctx.job.artifact) {
    if (wanted !== undefined && wanted !== ctx.job.artifact.sha256) throw new EdgetuneError('JOB_INVALID', 'activate: the job carries a model and names another options.variantId; give one of them');
    variantId = registerReceivedModel(ctx).variantId;
  } else {
    if (wanted === undefined) throw new EdgetuneError('JOB_INVALID', 'activate: options.variantId is required when the job carries no model (the sha256 of a stored variant)');
    variantId = wanted;
  }
  const target = ctx.store.getVariant(variantId);
  const failures = target ? recordedGateFailures(target.details) : [];
  if (target && failures.length > 0 && !force) {
    const live = ctx.store.variantWithRole('live');
    throw new JobFailure(
      'FIDELITY_FAILED',
      `activate: variant ${variantId.slice(0, 12)} (${target.method}) failed its fidelity gate: ${failures.join('; ')}; not activated: ` +
        `${live ? `the live variant stays ${live.variantId.slice(0, 12)} (${live.method})` : 'no variant is live on this device'} (job option force: true activates it anyway)`,
      { variant: summarizeVariant(target), live: live ? summarizeVariant(live) : null, activated: false, forced: false, fidelity: { passed: false, failures, forced: false } },
    );
  }
  const { live, previous } = ctx.store.activateVariant(variantId);
  return {
    live: summarizeVariant(live),
    previous: previous ? summarizeVariant(previous) : null,
    forced: failures.length > 0,
    ...(failures.length > 0 ? { fidelity: { passed: false, failures, forced: true } } : {}),
  };
};
