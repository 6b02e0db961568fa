import { existsSync } from 'node:fs';
import { EdgetuneError } from '../../util/errors.js';
import type { ActionHandler } from '../job-context.js';
import { summarizeVariant } from '../variants.js';
import { optionsOf } from './job-options.js';

/**
 * `ping`: answers with the agent's state. `options.holdMs` (≤ 60 s) keeps the job running that long first, so an
 * operator can see queueing and report delivery across a broker outage. A ping that carries an artifact reports it
 * received and verified (a transfer-only check).
 */
export const ping: ActionHandler = async (ctx) => {
  const { holdMs } = optionsOf(ctx, 'ping');
  if (holdMs > 0) {
    ctx.progress('hold', 0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, holdMs);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(new EdgetuneError('ABORTED', 'ping: aborted'));
        },
        { once: true },
      );
    });
  }
  const live = ctx.store.variantWithRole('live');
  const artifact = ctx.job.artifact;
  return {
    pong: {
      deviceId: ctx.deviceId,
      uptimeSeconds: Math.round(process.uptime()),
      agentRssBytes: process.memoryUsage().rss,
      live: live ? summarizeVariant(live) : null,
      artifactStored: artifact ? existsSync(ctx.paths.model(artifact.sha256)) : null,
      heldMs: holdMs,
    },
  };
};
