import type { z } from 'zod';
import { JOB_OPTION_SCHEMAS, closestOptionName, optionsTakenBy } from '../agent/actions/job-option-schemas.js';
import type { JobAction } from '../transport/messages.js';
import { EdgetuneError } from '../util/errors.js';

const KEY = /^[A-Za-z][A-Za-z0-9]{0,40}$/;

/**
 * Turn `push --option KEY=VALUE` strings into the job options of `action`, typed by its schema
 * (job-option-schemas.ts): a VALUE the field takes as a string stays one (`targetCache=65536`, `energy=off`), else it
 * is read as JSON (`iterations=50`, `activate=false`, `shapes={"x":[1,3,48,192]}`). Every unknown key and bad value
 * is reported at once: USAGE naming the option and what it must be.
 */
export function jobOptionsFromArgs(action: JobAction, pairs: readonly string[]): Record<string, unknown> {
  const schema = JOB_OPTION_SCHEMAS[action];
  const fields = schema.shape as Record<string, z.ZodType>;
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  let unknown = false;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      problems.push(`--option '${pair}' must be KEY=VALUE`);
      continue;
    }
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    if (!KEY.test(key)) {
      problems.push(`--option key '${key}' must be a plain identifier (camelCase)`);
      continue;
    }
    if (key in out) {
      problems.push(`--option ${key} given twice`);
      continue;
    }
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (!field) {
      const near = closestOptionName(action, key);
      const hint = (key === 'shape' || key === 'shapes') && 'shapes' in fields ? ' (give input shapes with --shape NAME=DxDxD, repeatable)' : near ? ` (did you mean ${near}?)` : '';
      problems.push(`--option ${pair}: ${key} is not a ${action} option${hint}`);
      unknown = true;
      continue;
    }
    const asString = field.safeParse(raw);
    if (asString.success) {
      out[key] = raw;
      continue;
    }
    let json: unknown;
    let isJson = false;
    try {
      json = JSON.parse(raw);
      isJson = true;
    } catch {
      // not JSON: the string's own issue explains it
    }
    const asJson = isJson ? field.safeParse(json) : null;
    if (asJson?.success) {
      out[key] = json;
      continue;
    }
    const issue = (asJson ?? asString).error?.issues[0];
    problems.push(`--option ${pair}: ${action} option ${key} ${issue?.message ?? 'is not valid'}`);
  }
  if (unknown) problems.push(optionsTakenBy(action));
  if (problems.length > 0) throw new EdgetuneError('USAGE', `push: ${problems.join('; ')}`);
  return out;
}
