import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionHandler, JobContext } from '../job-context.js';
import { installVariantFile, resolveJobModel, summarizeVariant } from '../variants.js';
import type { VariantRow } from '../../store/agent-store.js';
import type { CompressJson } from '../agent-services.js';
import { COMPRESS_METHODS, boolOption, compressPassThrough, enumOption } from './job-options.js';

/** Compress `source` with `method` in a child process and store the result as a new variant. */
export async function compressToVariant(ctx: JobContext, source: VariantRow, sourcePath: string, method: string): Promise<{ variant: VariantRow; result: CompressJson }> {
  mkdirSync(ctx.paths.workDir, { recursive: true });
  const outPath = join(ctx.paths.workDir, `compress-${randomBytes(8).toString('hex')}.onnx`);
  ctx.progress('compress', null, `${method} on ${source.variantId.slice(0, 12)}`);
  const result = await ctx.services.compress(
    {
      modelPath: sourcePath,
      outPath,
      method,
      ...(ctx.job.data ? { dataDir: ctx.paths.dataset(ctx.job.data.sha256) } : {}),
      options: compressPassThrough(ctx),
    },
    ctx.callOptions(),
  );
  const variant = await installVariantFile(ctx, outPath, source.variantId, typeof result.method === 'string' ? result.method : method, result);
  return { variant, result };
}

/** `compress`: compress the job's model (by `options.method`, default the device plan) into a stored variant. */
export const compress: ActionHandler = async (ctx) => {
  const method = enumOption(ctx, 'method', COMPRESS_METHODS) ?? 'plan';
  const activate = boolOption(ctx, 'activate') ?? false;
  const { variant: source, path } = resolveJobModel(ctx);
  const { variant, result } = await compressToVariant(ctx, source, path, method);
  const live = activate ? ctx.store.activateVariant(variant.variantId).live : ctx.store.getVariant(variant.variantId);
  return { source: summarizeVariant(source), variant: summarizeVariant(live ?? variant), compress: result };
};
