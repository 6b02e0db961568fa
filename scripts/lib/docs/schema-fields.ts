/**
 * zod schemas as documentation rows: each schema goes through `z.toJSONSchema` (zod's own, stable export) and the
 * JSON Schema is read back here, so that the docs say what the validator checks: types, ranges, patterns, enums,
 * defaults, and the `.describe()` text. Refinements (`.refine`) are code and do not show; say them in `.describe()`.
 */
import { z } from 'zod';
import { code } from './markdown.js';

/** The subset of JSON Schema that zod 4 emits and this module reads. */
export interface JsonSchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  additionalProperties?: boolean | JsonSchemaNode;
  propertyNames?: JsonSchemaNode;
  items?: JsonSchemaNode;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}

/** One documented field: dotted path, type in words (markdown), required, default, description. */
export interface SchemaField {
  path: string;
  type: string;
  required: boolean;
  /** The schema's `.default()`, undefined when it has none. */
  defaultValue: unknown;
  description: string | undefined;
  /** True for a section (an object whose fields follow as their own rows). */
  section: boolean;
}

/** A zod schema as JSON Schema, as its callers would write it (`io: 'input'`: defaults make fields optional). */
export function jsonSchemaOf(schema: z.ZodType): JsonSchemaNode {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
}

function numberRange(node: JsonSchemaNode): string {
  const integer = node.type === 'integer';
  const maxSafe = (v: number | undefined): number | undefined => (v !== undefined && Math.abs(v) >= Number.MAX_SAFE_INTEGER ? undefined : v);
  let lo: string | undefined;
  let hi: string | undefined;
  if (node.exclusiveMinimum !== undefined) lo = integer && Number.isInteger(node.exclusiveMinimum) ? String(node.exclusiveMinimum + 1) : `> ${node.exclusiveMinimum}`;
  else if (node.minimum !== undefined) lo = String(node.minimum);
  const max = maxSafe(node.maximum);
  const exMax = maxSafe(node.exclusiveMaximum);
  if (exMax !== undefined) hi = integer && Number.isInteger(exMax) ? String(exMax - 1) : `< ${exMax}`;
  else if (max !== undefined) hi = String(max);
  if (lo !== undefined && hi !== undefined && !lo.startsWith('>') && !hi.startsWith('<')) return ` ${lo}..${hi}`;
  const parts: string[] = [];
  if (lo !== undefined) parts.push(lo.startsWith('>') ? lo : `≥ ${lo}`);
  if (hi !== undefined) parts.push(hi.startsWith('<') ? hi : `≤ ${hi}`);
  return parts.length > 0 ? ` ${parts.join(', ')}` : '';
}

/** An enum member or constant: strings bare (`int8`), anything else as JSON (`4`, `null`). */
function literal(value: unknown): string {
  return code(typeof value === 'string' ? value : JSON.stringify(value));
}

function wrap(text: string): string {
  return /[\s|]/.test(text) ? `(${text})` : text;
}

/** Object members that carry fields (an object with properties, possibly `| null`): the one to descend into. */
function objectBranch(node: JsonSchemaNode): JsonSchemaNode | null {
  if (node.type === 'object' && node.properties) return node;
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) {
    const objects = alternatives.filter((a) => a.type === 'object' && a.properties);
    const others = alternatives.filter((a) => !(a.type === 'object' && a.properties));
    if (objects.length === 1 && others.every((a) => a.type === 'null')) return objects[0] as JsonSchemaNode;
  }
  return null;
}

/** A JSON Schema node in words, as markdown: `integer 1..65535`, `"int8" | "fp16"`, `string[]`, `{ device } | { group }`. */
export function describeType(node: JsonSchemaNode): string {
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) return [...new Set(alternatives.map(describeType))].join(' | ');
  if ('const' in node) return literal(node.const);
  if (node.enum) return node.enum.map(literal).join(' | ');
  switch (node.type) {
    case 'string': {
      if (node.format === 'date-time') return 'string (ISO 8601 date-time)';
      const notes: string[] = [];
      if (node.pattern !== undefined) notes.push(`matching ${code(node.pattern)}`);
      else if (node.minLength === 1) notes.push('non-empty');
      if (node.maxLength !== undefined) notes.push(`≤ ${node.maxLength} chars`);
      return notes.length > 0 ? `string, ${notes.join(', ')}` : 'string';
    }
    case 'integer':
    case 'number':
      return `${node.type}${numberRange(node)}`;
    case 'boolean':
    case 'null':
      return node.type;
    case 'array': {
      const inner = node.items ? describeType(node.items) : 'any';
      const bounds = node.minItems !== undefined || node.maxItems !== undefined ? ` (${node.minItems ?? 0}..${node.maxItems ?? '∞'} items)` : '';
      return `${wrap(inner)}[]${bounds}`;
    }
    case 'object': {
      if (node.properties) {
        const required = new Set(node.required ?? []);
        return `{ ${Object.keys(node.properties).map((k) => (required.has(k) ? k : `${k}?`)).join(', ')} }`;
      }
      const values = node.additionalProperties;
      if (typeof values === 'object' && Object.keys(values).length > 0) {
        return `object: ${node.propertyNames ? describeType(node.propertyNames) : 'string'} → ${describeType(values)}`;
      }
      return 'object';
    }
    default:
      return 'any';
  }
}

/**
 * The fields of an object schema as rows, depth first in declaration order: an object field (or object | null) is a
 * section row followed by its own fields as `parent.child`.
 */
export function schemaFields(node: JsonSchemaNode, prefix = ''): SchemaField[] {
  const object = objectBranch(node);
  if (!object?.properties) return [];
  const required = new Set(object.required ?? []);
  const out: SchemaField[] = [];
  for (const [key, child] of Object.entries(object.properties)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const inner = objectBranch(child);
    out.push({
      path,
      type: inner === null ? describeType(child) : inner === child ? 'object' : 'object | null',
      required: required.has(key),
      defaultValue: child.default,
      description: child.description,
      section: inner !== null,
    });
    if (inner) out.push(...schemaFields(child, path));
  }
  return out;
}

/** True when the object takes keys beyond its listed fields (zod `looseObject`). */
export function allowsMoreFields(node: JsonSchemaNode): boolean {
  const object = objectBranch(node);
  return object !== null && object.additionalProperties !== false;
}
