import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { VariantRow } from '../store/agent-store.js';
import { SHA256_PATTERN } from '../transport/topics.js';
import { fsyncDirectory } from '../util/atomic-file.js';
import { EdgetuneError } from '../util/errors.js';
import { sha256OfFile } from './artifact-receiver.js';
import type { JobContext } from './job-context.js';

/** A variant as it appears in reports. */
export interface VariantSummary {
  variantId: string;
  sha256: string;
  method: string;
  bytes: number;
  role: string;
  sourceSha256: string;
}

/** Report form of a variant row. */
export function summarizeVariant(v: VariantRow): VariantSummary {
  return { variantId: v.variantId, sha256: v.variantId, method: v.method, bytes: v.bytes, role: v.role, sourceSha256: v.sourceSha256 };
}

/** The received model of the job registered as an 'original' variant (idempotent). */
export function registerReceivedModel(ctx: JobContext): VariantRow {
  const ref = ctx.job.artifact;
  if (!ref) throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: the job names no model artifact`);
  const path = ctx.paths.model(ref.sha256);
  if (!existsSync(path)) throw new EdgetuneError('ARTIFACT_INVALID', `${ctx.job.action}: model ${ref.sha256} is not on this device`);
  return ctx.store.addVariant({ variantId: ref.sha256, sourceSha256: ref.sha256, method: 'original', bytes: statSync(path).size, details: { name: ref.name } });
}

/**
 * The model a job acts on: its artifact if it carries one, else `options.variantId`, else the live variant.
 * Returns the variant row and its file path.
 */
export function resolveJobModel(ctx: JobContext): { variant: VariantRow; path: string } {
  const wanted = ctx.job.options.variantId;
  if (ctx.job.artifact) {
    if (wanted !== undefined && wanted !== ctx.job.artifact.sha256) {
      throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: the job carries a model and names another options.variantId; give one of them`);
    }
    const variant = registerReceivedModel(ctx);
    return { variant, path: ctx.paths.model(variant.variantId) };
  }
  let variant: VariantRow | undefined;
  if (wanted !== undefined) {
    if (typeof wanted !== 'string' || !SHA256_PATTERN.test(wanted)) throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: options.variantId must be a sha256`);
    variant = ctx.store.getVariant(wanted);
    if (!variant) throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: no stored variant ${wanted}`);
  } else {
    variant = ctx.store.variantWithRole('live');
    if (!variant) throw new EdgetuneError('JOB_INVALID', `${ctx.job.action}: the job names no model and no model is live on this device`);
  }
  const path = ctx.paths.model(variant.variantId);
  if (!existsSync(path)) throw new EdgetuneError('ARTIFACT_INVALID', `${ctx.job.action}: the file of variant ${variant.variantId} is missing`);
  return { variant, path };
}

/** Hash a file produced by a child, move it to models/<sha256>.onnx and record it as a variant of `sourceSha256`. */
export async function installVariantFile(ctx: JobContext, tempPath: string, sourceSha256: string, method: string, details: unknown): Promise<VariantRow> {
  try {
    const sha = await sha256OfFile(tempPath);
    const final = ctx.paths.model(sha);
    mkdirSync(dirname(final), { recursive: true });
    if (existsSync(final)) rmSync(tempPath, { force: true });
    else {
      renameSync(tempPath, final);
      fsyncDirectory(dirname(final));
    }
    return ctx.store.addVariant({ variantId: sha, sourceSha256, method, bytes: statSync(final).size, details });
  } finally {
    rmSync(tempPath, { force: true });
  }
}
