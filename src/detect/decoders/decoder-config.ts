/**
 * What decoders share: validating a raw JSON config with zod (every problem reported at once as one USAGE error),
 * presets, and output shapes in messages. Pure.
 */
import type { z } from 'zod';
import { EdgetuneError } from '../../util/errors.js';

/** Format zod issues as `path: message` lines, one line per unknown key. */
export function zodProblems(error: z.ZodError): string[] {
  const problems: string[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push(`${path ? `${path}.` : ''}${key}: unknown key`);
      continue;
    }
    problems.push(`${path || '(top level)'}: ${issue.message}`);
  }
  return problems;
}

/**
 * Parse a decoder's raw config with its strict schema, then run the cross-field `checks` on the parsed value;
 * throws EdgetuneError('USAGE') listing every problem (`<decoder> config: a; b; c`). `undefined` parses as `{}`.
 */
export function parseDecoderConfig<S extends z.ZodType>(
  decoder: string,
  schema: S,
  config: unknown,
  checks: (value: z.output<S>) => string[] = () => [],
): z.output<S> {
  const parsed = schema.safeParse(config ?? {});
  const problems = parsed.success ? checks(parsed.data) : zodProblems(parsed.error);
  if (problems.length > 0) throw new EdgetuneError('USAGE', `${decoder} config: ${problems.join('; ')}`);
  return parsed.data as z.output<S>;
}

/**
 * Split a `preset` key off a raw config and lay the rest over that preset's values; throws USAGE for an unknown
 * preset name (listing the known ones).
 */
export function applyPreset(decoder: string, config: unknown, presets: Readonly<Record<string, object>>): unknown {
  if (config === null || typeof config !== 'object' || Array.isArray(config) || !('preset' in config)) return config;
  const { preset, ...rest } = config as Record<string, unknown>;
  const known = Object.keys(presets);
  if (typeof preset !== 'string' || !Object.hasOwn(presets, preset)) {
    throw new EdgetuneError('USAGE', `${decoder} config: preset: unknown preset ${JSON.stringify(preset)}; known: ${known.join(', ')}`);
  }
  return { ...presets[preset], ...rest };
}

/** Dims as text, `null` (dynamic) shown as `?`: `[1,896,16]`. */
export function dimsText(dims: ReadonlyArray<number | null>): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/** Outputs as text for messages: `'a' [1,512,1], 'b' [1,384,1]`. */
export function outputsText(outputs: ReadonlyArray<{ name: string; dims: ReadonlyArray<number | null> }>): string {
  return outputs.length === 0 ? '(none)' : outputs.map((o) => `'${o.name}' ${dimsText(o.dims)}`).join(', ');
}
