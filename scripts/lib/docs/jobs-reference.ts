/**
 * docs/jobs.md's generated sections: the job actions (JOB_ACTIONS of src/transport/messages.ts) and one option table per action from the zod schemas of
 * src/agent/actions/job-option-schemas.ts (the same schemas `push` and the agent's intake validate with).
 */
import type { z } from 'zod';
import { JOB_OPTION_SCHEMAS } from '../../../src/agent/actions/job-option-schemas.js';
import { JOB_ACTIONS, type JobAction } from '../../../src/transport/messages.js';
import { code, jsonValue, table } from './markdown.js';
import { jsonSchemaOf, schemaFields } from './schema-fields.js';

/** The sources named in the markers of the job sections. */
export const JOB_ACTION_SOURCES = 'src/transport/messages.ts (JOB_ACTIONS) and src/agent/actions/job-option-schemas.ts';
export const JOB_OPTION_SOURCES = 'src/agent/actions/job-option-schemas.ts';

/** What one action does, from the `.describe()` of its option schema; throws naming an undescribed action. */
function actionSummary(action: JobAction, schemas: Readonly<Record<JobAction, z.ZodType>>): string {
  const text = jsonSchemaOf(schemas[action]).description;
  if (!text) throw new RangeError(`job action '${action}' has no description (add .describe() to its schema in src/agent/actions/job-option-schemas.ts)`);
  return text;
}

/** The action table: action (linked to its options), what it does. */
export function renderJobActions(schemas: Readonly<Record<JobAction, z.ZodType>> = JOB_OPTION_SCHEMAS): string {
  return table(
    ['action', 'what it does'],
    JOB_ACTIONS.map((a) => [`[${a}](#action-${a})`, actionSummary(a, schemas)]),
  );
}

/**
 * One `### action: NAME` section per action with its options (name, type, default, description); throws naming
 * every option without a description, so an undocumented option cannot be added quietly.
 */
export function renderJobOptions(schemas: Readonly<Record<JobAction, z.ZodType>> = JOB_OPTION_SCHEMAS): string {
  const parts: string[] = [];
  const undocumented: string[] = [];
  for (const action of JOB_ACTIONS) {
    const fields = schemaFields(jsonSchemaOf(schemas[action]));
    for (const f of fields) if (!f.description) undocumented.push(`${action}.${f.path}`);
    parts.push(`### action: ${action}`);
    parts.push('');
    parts.push(actionSummary(action, schemas));
    parts.push('');
    if (fields.length === 0) parts.push('No options.');
    else {
      parts.push(
        table(
          ['option', 'type', 'default', 'description'],
          fields.map((f) => [code(f.path), f.type, f.required ? '**required**' : f.defaultValue === undefined ? '' : jsonValue(f.defaultValue), f.description ?? '']),
        ),
      );
    }
    parts.push('');
  }
  if (undocumented.length > 0) throw new RangeError(`job options without a description: ${undocumented.join(', ')} (add .describe() in src/agent/actions/job-option-schemas.ts)`);
  return parts.join('\n').trimEnd();
}
