import { createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { validate as validateCron } from 'node-cron';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { AGENT_CONFIG_DEFAULTS } from './agent-config-defaults.js';
import { agentConfigSchema, type AgentConfigShape } from './agent-config-schema.js';

/** A partial configuration from one source, plus a label per leaf path saying where it came from. */
export interface ConfigLayer {
  /** 'defaults', the config file path, 'environment' or 'flags'. */
  name: string;
  values: Record<string, unknown>;
  /** Leaf path ('broker.port') → human label ('EDGETUNE_BROKER_PORT', '--port', 'agent.config.json'). */
  labels: Map<string, string>;
}

/** The validated configuration with absolute paths: what the agent runs with. */
export interface ResolvedAgentConfig extends AgentConfigShape {
  /** Absolute path of the config file that was read, or null when none was. */
  configPath: string | null;
}

/** Raw inputs kept apart from the resolved configuration (for `--json` dumps and error messages). */
export interface LoadedAgentConfig {
  /** The file's JSON, the EDGETUNE_* variables that were set (passwords masked), and the flags. */
  raw: { file: unknown; environment: Record<string, string>; flags: Record<string, unknown> };
  resolved: ResolvedAgentConfig;
}

/** Caller input for {@link loadAgentConfig}. */
export interface LoadAgentConfigOptions {
  /** Path of agent.config.json; when absent no file is read. */
  configPath?: string;
  /** Environment to read EDGETUNE_* overrides from (default: none). */
  env?: Record<string, string | undefined>;
  /** Overrides from command-line flags, already shaped like the config (e.g. { broker: { url } }). */
  flags?: Record<string, unknown>;
  /** Label per flag path, e.g. 'broker.url' → '--broker'. */
  flagLabels?: Record<string, string>;
  /** Base for relative paths given in the environment or on the command line (default process.cwd()). */
  cwd?: string;
  /** Check that key and TLS files exist and parse (default true). */
  checkFiles?: boolean;
}

type EnvParser = 'string' | 'int' | 'bool' | 'list';

/** EDGETUNE_* environment variables and the config path each one overrides. */
export const ENV_OVERRIDES: ReadonlyArray<{ name: string; path: string; parse: EnvParser }> = [
  { name: 'EDGETUNE_DEVICE_ID', path: 'deviceId', parse: 'string' },
  { name: 'EDGETUNE_GROUPS', path: 'groups', parse: 'list' },
  { name: 'EDGETUNE_BROKER_URL', path: 'broker.url', parse: 'string' },
  { name: 'EDGETUNE_BROKER_URLS', path: 'broker.urls', parse: 'list' },
  { name: 'EDGETUNE_BROKER_HOST', path: 'broker.host', parse: 'string' },
  { name: 'EDGETUNE_BROKER_PORT', path: 'broker.port', parse: 'int' },
  { name: 'EDGETUNE_BROKER_USERNAME', path: 'broker.username', parse: 'string' },
  { name: 'EDGETUNE_BROKER_PASSWORD', path: 'broker.password', parse: 'string' },
  { name: 'EDGETUNE_BROKER_CA', path: 'broker.ca', parse: 'string' },
  { name: 'EDGETUNE_BROKER_CERT', path: 'broker.cert', parse: 'string' },
  { name: 'EDGETUNE_BROKER_KEY', path: 'broker.key', parse: 'string' },
  { name: 'EDGETUNE_BROKER_PROTOCOL_VERSION', path: 'broker.protocolVersion', parse: 'int' },
  { name: 'EDGETUNE_TOPIC_PREFIX', path: 'topicPrefix', parse: 'string' },
  { name: 'EDGETUNE_DATA_DIR', path: 'dataDir', parse: 'string' },
  { name: 'EDGETUNE_TRUSTED_KEYS', path: 'trustedKeys', parse: 'list' },
  { name: 'EDGETUNE_ALLOW_UNSIGNED', path: 'allowUnsigned', parse: 'bool' },
  { name: 'EDGETUNE_CHUNK_SIZE_BYTES', path: 'chunkSizeBytes', parse: 'int' },
  { name: 'EDGETUNE_MAX_ARTIFACT_BYTES', path: 'limits.maxArtifactBytes', parse: 'int' },
  { name: 'EDGETUNE_MAX_PROFILE_SECONDS', path: 'limits.maxProfileSeconds', parse: 'int' },
  { name: 'EDGETUNE_MAX_CHILD_MEMORY_MB', path: 'limits.maxChildMemoryMb', parse: 'int' },
  { name: 'EDGETUNE_MAX_QUEUED_JOBS', path: 'limits.maxQueuedJobs', parse: 'int' },
  { name: 'EDGETUNE_LOG_LEVEL', path: 'logLevel', parse: 'string' },
];

/** Config paths that hold file paths (made absolute against the layer's base directory). */
const PATH_KEYS = ['dataDir', 'broker.ca', 'broker.cert', 'broker.key'] as const;
const PATH_LIST_KEYS = ['trustedKeys'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(cur[part])) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

function leafPaths(obj: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(value)) out.push(...leafPaths(value, path));
    else out.push(path);
  }
  return out;
}

/** Deep merge: plain objects merge key by key, everything else (arrays included) is replaced. */
export function mergeConfigValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? mergeConfigValues(prev, value) : value;
  }
  return out;
}

/** Make the path-valued keys of a layer absolute against `baseDir` (non-strings are left for the schema to reject). */
function absolutizePaths(values: Record<string, unknown>, baseDir: string): Record<string, unknown> {
  const out = structuredClone(values);
  for (const key of PATH_KEYS) {
    const v = getPath(out, key);
    if (typeof v === 'string' && v.length > 0 && !isAbsolute(v)) setPath(out, key, resolve(baseDir, v));
  }
  for (const key of PATH_LIST_KEYS) {
    const v = getPath(out, key);
    if (Array.isArray(v)) {
      setPath(out, key, v.map((p) => (typeof p === 'string' && p.length > 0 && !isAbsolute(p) ? resolve(baseDir, p) : p)));
    }
  }
  return out;
}

function parseEnvValue(raw: string, parse: EnvParser): unknown {
  switch (parse) {
    case 'string':
      return raw;
    case 'int':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      return raw;
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
  }
}

/** The EDGETUNE_* overrides found in `env`, as a config layer. */
export function environmentLayer(env: Record<string, string | undefined>, cwd: string): ConfigLayer & { raw: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const labels = new Map<string, string>();
  const raw: Record<string, string> = {};
  for (const o of ENV_OVERRIDES) {
    const text = env[o.name];
    if (text === undefined || text === '') continue;
    // EDGETUNE_BROKER_URL=URL,URL,… names the nodes of a cluster: the same as EDGETUNE_BROKER_URLS.
    const path = o.path === 'broker.url' && text.includes(',') ? 'broker.urls' : o.path;
    setPath(values, path, parseEnvValue(text, path === o.path ? o.parse : 'list'));
    labels.set(path, o.name);
    raw[o.name] = o.name.endsWith('PASSWORD') ? '(set)' : text;
  }
  return { name: 'environment', values: absolutizePaths(values, cwd), labels, raw };
}

/** A config layer from already-parsed file content (must be a JSON object). */
export function fileLayer(content: unknown, configPath: string): ConfigLayer {
  const values = isPlainObject(content) ? content : {};
  const labels = new Map<string, string>();
  for (const p of leafPaths(values)) labels.set(p, configPath);
  return { name: configPath, values: absolutizePaths(values, dirname(configPath)), labels };
}

/** A config layer from command-line flags. */
export function flagLayer(flags: Record<string, unknown>, flagLabels: Record<string, string>, cwd: string): ConfigLayer {
  const labels = new Map<string, string>();
  for (const p of leafPaths(flags)) labels.set(p, flagLabels[p] ?? `--${p}`);
  return { name: 'flags', values: absolutizePaths(flags, cwd), labels };
}

function labelFor(layers: ConfigLayer[], path: string): string {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i] as ConfigLayer;
    for (const [p, label] of layer.labels) {
      if (p === path || p.startsWith(`${path}.`) || path.startsWith(`${p}.`)) return label;
    }
  }
  return 'defaults';
}

/** The keys the schema knows in the object at `path` (optional and defaulted sections unwrapped); [] when unknown. */
function knownKeysAt(path: readonly string[]): string[] {
  let schema: unknown = agentConfigSchema;
  for (let i = 0; i <= path.length; i++) {
    while (isWrapper(schema)) schema = schema.unwrap();
    const shape = (schema as { shape?: Record<string, unknown> } | null)?.shape;
    if (!isPlainObject(shape)) return [];
    if (i === path.length) return Object.keys(shape);
    schema = shape[path[i]!];
  }
  return [];
}

function isWrapper(schema: unknown): schema is { unwrap(): unknown } {
  const type = (schema as { _zod?: { def?: { type?: string } } } | null)?._zod?.def?.type;
  return (type === 'optional' || type === 'nullable' || type === 'default') && typeof (schema as { unwrap?: unknown }).unwrap === 'function';
}

/** The known key an unknown one most likely means: the same ignoring case, or within 2 edits (1 for short keys). */
function closestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best !== null && bestDistance <= (key.length <= 4 ? 1 : 2) ? best : null;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

function checkKeyFile(path: string, what: string, problems: string[], publicKey: boolean): void {
  try {
    if (!statSync(path).isFile()) {
      problems.push(`${what}: ${path} is not a file`);
      return;
    }
    const pem = readFileSync(path);
    if (publicKey) {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== 'ed25519') {
        problems.push(`${what}: ${path} is a ${key.asymmetricKeyType ?? 'unknown'} key, expected an ed25519 public key`);
      }
    }
  } catch (error) {
    problems.push(`${what}: cannot read ${path}: ${messageOf(error)}`);
  }
}

/**
 * Merge layers (lowest first) over the defaults, validate, and return the resolved config.
 * Every problem is collected and thrown together as one CONFIG_INVALID error.
 */
export function resolveAgentConfig(layers: ConfigLayer[], options: { configPath: string | null; cwd: string; checkFiles: boolean }): ResolvedAgentConfig {
  const all: ConfigLayer[] = [
    { name: 'defaults', values: absolutizePaths(AGENT_CONFIG_DEFAULTS as unknown as Record<string, unknown>, options.cwd), labels: new Map() },
    ...layers,
  ];
  let merged: Record<string, unknown> = {};
  for (const layer of all) merged = mergeConfigValues(merged, layer.values);

  const problems: string[] = [];
  const parsed = agentConfigSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        // An unknown key is where it was written (the file, a variable, a flag), never the defaults: one line each,
        // with the known key it most likely means.
        const known = knownKeysAt(issue.path.map(String));
        for (const key of issue.keys) {
          const keyPath = path ? `${path}.${key}` : key;
          const meant = closestKey(key, known);
          problems.push(`${keyPath}: unknown key${meant ? ` (did you mean '${meant}'?)` : ''} [from ${labelFor(all, keyPath)}]`);
        }
        continue;
      }
      problems.push(`${path || '(top level)'}: ${issue.message} [from ${labelFor(all, path)}]`);
    }
  }
  // Cross-key and file checks run even when the schema found problems, on whatever values have the right type,
  // so that one run lists everything that is wrong.
  const m = merged as Record<string, any>;
  const broker = isPlainObject(m.broker) ? (m.broker as Record<string, unknown>) : {};
  const trustedKeys = Array.isArray(m.trustedKeys) ? (m.trustedKeys as unknown[]) : null;
  if (m.allowUnsigned === false && trustedKeys !== null && trustedKeys.length === 0) {
    problems.push('trustedKeys: empty while allowUnsigned is false, so no job could ever be accepted (run `npx edgetune keygen --out keys` and list keys/operator.pub)');
  }
  if (typeof broker.reconnectInitialMs === 'number' && typeof broker.reconnectMaxMs === 'number' && broker.reconnectInitialMs > broker.reconnectMaxMs) {
    problems.push(`broker.reconnectInitialMs: ${broker.reconnectInitialMs} is above broker.reconnectMaxMs ${broker.reconnectMaxMs}`);
  }
  if ((broker.cert === undefined) !== (broker.key === undefined)) {
    problems.push('broker.cert / broker.key: a client certificate needs both the certificate and its key');
  }
  // broker.url and broker.urls: whichever the higher layer set wins (a --broker flag or EDGETUNE_BROKER_URL over a
  // file's `urls`); both in one layer must agree on the first node.
  const urlRank = layerRank(all, 'broker.url');
  const urlsRank = layerRank(all, 'broker.urls');
  if (urlsRank > 0 && urlRank === urlsRank && Array.isArray(broker.urls) && broker.urls[0] !== broker.url) {
    problems.push(`broker.url / broker.urls: give one of them (url '${String(broker.url)}' is not the first of urls) [from ${labelFor(all, 'broker.urls')}]`);
  }
  if (broker.url === 'embedded' && broker.protocolVersion === 5) {
    problems.push('broker.protocolVersion: the embedded broker (aedes) speaks MQTT 3.1.1 only; use 4 or remove the key');
  }
  if (isPlainObject(m.schedules)) {
    for (const [name, expr] of Object.entries(m.schedules)) {
      if (typeof expr === 'string' && expr.length > 0 && !validateCron(expr)) problems.push(`schedules.${name}: "${expr}" is not a valid cron expression`);
    }
  }
  if (options.checkFiles) {
    trustedKeys?.forEach((p, i) => {
      if (typeof p === 'string' && p.length > 0) checkKeyFile(p, `trustedKeys[${i}]`, problems, true);
    });
    for (const k of ['ca', 'cert', 'key'] as const) {
      const p = broker[k];
      if (typeof p === 'string' && p.length > 0) checkKeyFile(p, `broker.${k}`, problems, false);
    }
  }
  if (problems.length > 0 || !parsed.success) {
    const where = options.configPath ? ` in ${options.configPath}` : '';
    throw new EdgetuneError('CONFIG_INVALID', `config${where} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  - ${problems.join('\n  - ')}`);
  }
  if (!parsed.success) throw new EdgetuneError('CONFIG_INVALID', 'config is invalid');
  const data = parsed.data;
  // The effective node list: `urls` when it won over `url` (then `url` is its first node), else `url` alone.
  if (urlsRank > 0 && urlRank <= urlsRank && data.broker.urls !== undefined) data.broker = { ...data.broker, url: data.broker.urls[0] as string };
  else {
    const { urls: _dropped, ...rest } = data.broker;
    data.broker = rest;
  }
  return { ...data, configPath: options.configPath };
}

/** Index of the highest layer that sets `path` (0: only the defaults, or none). */
function layerRank(layers: ConfigLayer[], path: string): number {
  for (let i = layers.length - 1; i > 0; i--) if (getPath((layers[i] as ConfigLayer).values, path) !== undefined) return i;
  return 0;
}

/** Read agent.config.json (if given), apply EDGETUNE_* env and flag overrides, validate; raw kept apart. */
export function loadAgentConfig(options: LoadAgentConfigOptions = {}): LoadedAgentConfig {
  const cwd = options.cwd ?? process.cwd();
  const layers: ConfigLayer[] = [];
  let fileContent: unknown = null;
  let configPath: string | null = null;
  if (options.configPath !== undefined) {
    configPath = resolve(cwd, options.configPath);
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (error) {
      throw new EdgetuneError('CONFIG_INVALID', `config: cannot read ${configPath}: ${messageOf(error)}`, { cause: error });
    }
    try {
      fileContent = JSON.parse(text);
    } catch (error) {
      throw new EdgetuneError('CONFIG_INVALID', `config: ${configPath} is not valid JSON: ${messageOf(error)}`, { cause: error });
    }
    if (!isPlainObject(fileContent)) {
      throw new EdgetuneError('CONFIG_INVALID', `config: ${configPath} must hold a JSON object`);
    }
    if (nestingDepth(fileContent, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH) {
      throw new EdgetuneError('CONFIG_INVALID', `config: ${configPath} nests deeper than ${MAX_CONFIG_DEPTH} levels`);
    }
    layers.push(fileLayer(fileContent, configPath));
  }
  const envLayer = environmentLayer(options.env ?? {}, cwd);
  layers.push(envLayer);
  const flags = options.flags ?? {};
  layers.push(flagLayer(flags, options.flagLabels ?? {}, cwd));
  const resolved = resolveAgentConfig(layers, { configPath, cwd, checkFiles: options.checkFiles ?? true });
  return { raw: { file: fileContent, environment: envLayer.raw, flags }, resolved };
}

/** No agent config needs more than a handful of levels; deeper input is refused before anything recurses over it. */
const MAX_CONFIG_DEPTH = 32;

/** Nesting depth of a JSON value, counted iteratively and cut off once it passes `limit`. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return deepest;
}
