/**
 * Mutations of JSON control messages and config files: value-level edits at random paths (dropped keys, unknown
 * keys, wrong types, absurd numbers, huge strings and arrays, deep nesting, prototype keys) and byte-level damage
 * of the serialized text (truncation, bit flips, duplicate keys, BOM, invalid UTF-8, other top-level types).
 */
import type { Prng } from './prng.js';

/** A mutated payload and what was done to it. */
export interface MutatedJson {
  payload: Buffer;
  detail: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function deepNest(depth: number, asArray: boolean): string {
  return asArray ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Options for {@link mutateJson}. */
export interface JsonMutationOptions {
  /** Deepest nesting a mutation may create (default 20,000: deeper than any recursive walker survives). */
  maxDepth?: number;
}

/** A value that is wrong for almost any field (as JSON text, so that depth and size are not limited by JS). */
function nastyValueText(rng: Prng, maxDepth: number): string {
  return rng.pick<() => string>([
    () => 'null',
    () => rng.pick(['true', 'false']),
    () => rng.pick(['0', '-1', '-0', '1.5', '1e308', '-1e308', '1e309', '9007199254740993', '4294967296', '2147483648', '0.000001', '123456789012345678901234567890']),
    () => JSON.stringify(rng.pick(['', ' ', '\u0000', '../../etc/passwd', '/etc/passwd', 'C:\\Windows\\system32', '%2e%2e%2f', 'a/b', '#', '+', '$SYS', '\ud800', '😀', 'NaN', 'Infinity', '2026-13-45T99:99:99Z', '2026-01-01', '0000-00-00T00:00:00Z', 'f'.repeat(63), 'F'.repeat(64), 'g'.repeat(64)])),
    () => JSON.stringify('x'.repeat(rng.pick([256, 257, 1025, 70_000]))),
    () => rng.pick(['[]', '{}', '[null]', '[-1]', '[1.5]', '["0"]', '[0,0,0]', '{"":1}']),
    () => `[${Array.from({ length: rng.pick([100_001, 5000]) }, (_, i) => (rng.chance(0.5) ? i : -i)).join(',')}]`,
    () => deepNest(Math.min(maxDepth, rng.pick([64, 1000, 20_000])), rng.chance(0.5)),
    () => '{"__proto__":{"polluted":true}}',
    () => '{"constructor":{"prototype":{"polluted":true}}}',
  ])();
}

function paths(value: Json, prefix: string[] = [], out: string[][] = []): string[][] {
  out.push(prefix);
  if (value !== null && typeof value === 'object') {
    const keys = Array.isArray(value) ? value.map((_, i) => String(i)) : Object.keys(value);
    for (const k of keys) paths((value as Record<string, Json>)[k]!, [...prefix, k], out);
  }
  return out;
}

const PLACEHOLDER = '"@@fuzz-slot-7f3a@@"';

/** Apply 1..3 value-level edits; returns the JSON text. */
function editValue(original: Json, rng: Prng, maxDepth: number): { text: string; detail: string } {
  const value = structuredClone(original) as Json;
  const edits: string[] = [];
  let slotText: string | null = null;
  const n = rng.range(1, 3);
  for (let e = 0; e < n; e++) {
    const all = paths(value);
    const path = rng.pick(all.filter((p) => p.length > 0));
    const parentPath = path.slice(0, -1);
    let parent = value as Record<string, Json>;
    for (const k of parentPath) parent = parent[k] as Record<string, Json>;
    if (parent === null || typeof parent !== 'object') continue;
    const key = path[path.length - 1]!;
    const how = rng.pick(['delete', 'replace', 'replace', 'replace', 'unknown-key', 'prototype-key'] as const);
    if (how === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      edits.push(`delete ${path.join('.')}`);
    } else if (how === 'replace' && slotText === null) {
      slotText = nastyValueText(rng, maxDepth);
      parent[key] = PLACEHOLDER.slice(1, -1);
      edits.push(`${path.join('.')} = ${slotText.length > 60 ? `${slotText.slice(0, 40)}… (${slotText.length} chars)` : slotText}`);
    } else if (how === 'unknown-key' && !Array.isArray(parent)) {
      parent[rng.pick(['extra', 'path', 'file', 'exec', 'x'.repeat(300)])] = rng.pick<Json>([1, 'a', null, {}]);
      edits.push(`unknown key under ${parentPath.join('.') || '(top)'}`);
    } else if (!Array.isArray(parent)) {
      // JSON.parse keeps "__proto__" as an own key: the parser and the schema must not let it reach a prototype.
      const k = rng.pick(['__proto__', 'constructor', 'prototype']);
      Object.defineProperty(parent, k, { value: { polluted: true, allowUnsigned: true, deviceId: 'evil' }, enumerable: true, writable: true, configurable: true });
      edits.push(`own '${k}' key under ${parentPath.join('.') || '(top)'}`);
    }
  }
  let text = JSON.stringify(value);
  if (slotText !== null) text = text.replace(PLACEHOLDER, slotText);
  return { text, detail: edits.join('; ') || 'no-op' };
}

/** Damage the serialized text. */
function editBytes(text: string, rng: Prng): { payload: Buffer; detail: string } {
  const bytes = Buffer.from(text, 'utf8');
  const how = rng.pick(['truncate', 'bit-flip', 'duplicate-key', 'bom', 'invalid-utf8', 'trailing', 'top-level', 'empty', 'nul-bytes'] as const);
  switch (how) {
    case 'truncate': {
      const at = rng.int(bytes.length);
      return { payload: bytes.subarray(0, at), detail: `truncated to ${at} bytes` };
    }
    case 'bit-flip': {
      const out = Buffer.from(bytes);
      const flips = rng.range(1, 4);
      for (let i = 0; i < flips; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return { payload: out, detail: `${flips} bit flips` };
    }
    case 'duplicate-key': {
      // JSON.parse keeps the last duplicate: a second value after the signed one.
      const m = /"([A-Za-z]+)":/.exec(text.slice(1 + rng.int(Math.max(1, text.length - 2))));
      const key = m?.[1] ?? 'jobId';
      const out = `${text.slice(0, -1)},"${key}":${rng.pick(['"other"', '1', 'null', '{}'])}}`;
      return { payload: Buffer.from(out), detail: `duplicate key '${key}' at the end` };
    }
    case 'bom':
      return { payload: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]), detail: 'UTF-8 BOM prefix' };
    case 'invalid-utf8': {
      const out = Buffer.from(bytes);
      out[rng.int(out.length)] = rng.pick([0xff, 0xc0, 0x80, 0xfe]);
      return { payload: out, detail: 'an invalid UTF-8 byte' };
    }
    case 'trailing':
      return { payload: Buffer.concat([bytes, Buffer.from(rng.pick([' x', '}', '\u0000', '{"a":1}']))]), detail: 'trailing garbage' };
    case 'top-level':
      return { payload: Buffer.from(rng.pick(['[]', '"job"', '42', 'null', 'true', `[${text}]`])), detail: 'top level is not an object' };
    case 'empty':
      return { payload: Buffer.from(rng.pick(['', ' ', '\n'])), detail: 'empty' };
    case 'nul-bytes':
      return { payload: Buffer.concat([bytes, Buffer.alloc(rng.range(1, 64))]), detail: 'NUL bytes appended' };
  }
}

/** One mutated version of `value`'s JSON: value-level edits (70%) or byte-level damage (30%). */
export function mutateJson(value: Json | object, rng: Prng, options: JsonMutationOptions = {}): MutatedJson {
  const base = value as Json;
  if (rng.chance(0.7)) {
    const { text, detail } = editValue(base, rng, options.maxDepth ?? 20_000);
    return { payload: Buffer.from(text, 'utf8'), detail };
  }
  const { payload, detail } = editBytes(JSON.stringify(base), rng);
  return { payload, detail };
}
