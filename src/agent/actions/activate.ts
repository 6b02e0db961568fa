import { SHA256_PATTERN } from '../../transport/topics.js';
import { EdgetuneError } from '../../util/errors.js';
import { recordedGateFailures } from '../fidelity-verdict.js';
import type { ActionHandler } from '../job-context.js';
import { JobFailure } from '../job-failure.js';
import { registerReceivedModel, summarizeVariant } from '../variants.js';
import { fidelityOptions } from './job-options.js';

/**
 * `activate`: make a stored variant live (`options.variantId`, or the job's model); the live one becomes previous.
 * A variant recorded as failing its fidelity gate (written with force, or refused by a deploy) is refused with
 * FIDELITY_FAILED and the live variant stays, unless `options.force`; the report then says `forced: true`.
 */
export const activate: ActionHandler = async (ctx) => {
  const { force } = fidelityOptions(ctx);
  let variantId: string;
  if (ctx.job.artifact) variantId = registerReceivedModel(ctx).variantId;
  else {
    const v = ctx.job.options.variantId;
    if (typeof v !== 'string' || !SHA256_PATTERN.test(v)) throw new EdgetuneError('JOB_INVALID', 'activate: options.variantId must be the sha256 of a stored variant');
    variantId = v;
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
