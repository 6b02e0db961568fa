/**
 * docs/config.md's generated sections: every key of agent.config.json from the zod schema
 * (src/config/agent-config-schema.ts, descriptions from its `.describe()`), its default
 * (src/config/agent-config-defaults.ts) and the EDGETUNE_* variable that overrides it (src/config/load-agent-config.ts).
 */
import { AGENT_CONFIG_DEFAULTS } from '../../../src/config/agent-config-defaults.js';
import { agentConfigSchema } from '../../../src/config/agent-config-schema.js';
import { ENV_OVERRIDES } from '../../../src/config/load-agent-config.js';
import { code, jsonValue, table } from './markdown.js';
import { jsonSchemaOf, schemaFields, type SchemaField } from './schema-fields.js';

/** The sources named in the markers of the config sections. */
export const CONFIG_SOURCES = 'src/config/agent-config-schema.ts, agent-config-defaults.ts and load-agent-config.ts (ENV_OVERRIDES)';

function valueAt(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

const UNITS: Array<[RegExp, (n: number) => string | null]> = [
  [/Bytes$/, (n) => (n >= 1024 ? binary(n) : null)],
  [/Seconds$/, (n) => (n >= 3600 ? duration(n) : null)],
];

function binary(n: number): string | null {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return null;
}

function duration(s: number): string | null {
  if (s % 86400 === 0) return `${s / 86400} day${s === 86400 ? '' : 's'}`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  return null;
}

/** A default as a code span, with bytes and long durations also in words (`262144` (256 KiB)). */
function defaultCell(field: SchemaField, value: unknown): string {
  if (field.section) return '';
  if (value === undefined) return 'unset';
  const text = jsonValue(value);
  if (typeof value !== 'number') return text;
  for (const [pattern, words] of UNITS) {
    if (pattern.test(field.path)) {
      const w = words(value);
      if (w !== null) return `${text} (${w})`;
    }
  }
  return text;
}

/** The config keys in schema order; throws naming every key without a `.describe()`. */
export function configFields(): SchemaField[] {
  const fields = schemaFields(jsonSchemaOf(agentConfigSchema));
  const undocumented = fields.filter((f) => !f.description).map((f) => f.path);
  if (undocumented.length > 0) {
    throw new RangeError(`agent.config.json keys without a description: ${undocumented.join(', ')} (add .describe() in src/config/agent-config-schema.ts)`);
  }
  return fields;
}

/** The key table: key, type, default, environment variable, description. */
export function renderConfigKeys(): string {
  const env = new Map(ENV_OVERRIDES.map((e) => [e.path, e.name]));
  const fields = configFields();
  const known = new Set(fields.map((f) => f.path));
  const stray = ENV_OVERRIDES.filter((e) => !known.has(e.path)).map((e) => e.name);
  if (stray.length > 0) throw new RangeError(`ENV_OVERRIDES name config paths the schema does not have: ${stray.join(', ')}`);
  return table(
    ['key', 'type', 'default', 'environment', 'description'],
    fields.map((f) => [
      f.section ? `**${code(f.path)}**` : code(f.path),
      f.type,
      defaultCell(f, valueAt(AGENT_CONFIG_DEFAULTS, f.path)),
      env.has(f.path) ? code(env.get(f.path) as string) : '',
      f.description ?? '',
    ]),
  );
}

/** Every key with its default, as one agent.config.json. */
export function renderConfigDefaults(): string {
  return ['```json', JSON.stringify(AGENT_CONFIG_DEFAULTS, null, 2), '```'].join('\n');
}
