/**
 * The options of every job action as zod schemas: one strict object per action, a `.describe()` on every field (the
 * docs generator renders its tables from this module), and one parser that both ends use. The operator refuses a job
 * whose options do not parse before it sends anything (`push` exits 2); the agent refuses it again at intake
 * (JOB_INVALID, the failed report names the option), and each handler reads the parsed, typed options.
 *
 * Pure: no clock, no I/O. SPEC.md MQTT: a job is `{ jobId, action, artifact, data?, options, signature }`.
 */
import { z } from 'zod';
import type { CalibrationMethod } from '../../compress/calibration-stats.js';
import { isConfidenceLevel } from '../../compress/confidence.js';
import { COMPRESS_METHODS } from '../../compress/methods/method-types.js';
import type { DecoderName } from '../../detect/decoders/index.js';
import type { JobAction } from '../../transport/messages.js';
import { SHA256_PATTERN } from '../../transport/topics.js';
import { EdgetuneError } from '../../util/errors.js';

/** Calibration methods of `edgetune compress --calibration`. */
export const CALIBRATION_METHODS = ['auto', 'minmax', 'percentile', 'entropy', 'mse', 'consumer-mse'] as const satisfies ReadonlyArray<CalibrationMethod | 'auto'>;
/** What `edgetune tune --objective` minimises. */
export const TUNE_OBJECTIVES = ['latency', 'energy', 'size'] as const;

/** Decoders a detection job may name (the `--decoder` values of src/detect/decoders). */
export const DETECTION_DECODERS = ['ssd-anchors', 'yolo', 'db-text'] as const satisfies readonly DecoderName[];
/** Largest inline decoder config of a job (`detection.decoderConfig`), in bytes of JSON. */
export const MAX_DECODER_CONFIG_BYTES = 16 * 1024;
/** Largest inline COCO labels of a job (`detection.labels`), in bytes of JSON: the whole job is at most 64 KiB. */
export const MAX_DETECTION_LABELS_BYTES = 48 * 1024;

/** Most inputs a job's `shapes` may name, and most dims per input. */
export const MAX_SHAPE_INPUTS = 64;
export const MAX_SHAPE_RANK = 16;
/** Largest single dim in `shapes` (2^31 - 1: the profiler refuses oversized inputs by element count anyway). */
export const MAX_SHAPE_DIM = 0x7fffffff;

/** `params` of a custom issue whose message is a whole sentence (it names the options itself). */
const WHOLE = { whole: true } as const;

// Field builders: each issue a field can raise carries one message, "must be …", that names what the value must be.

function int(min: number, max: number): z.ZodNumber {
  const error = `must be an integer in ${min}..${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

function num(min: number, max: number, what = `a number in ${min}..${max}`): z.ZodNumber {
  const error = `must be ${what}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
}

function flag(): z.ZodBoolean {
  return z.boolean({ error: 'must be true or false' });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

function matching(pattern: RegExp, what: string): z.ZodString {
  const error = `must be ${what}`;
  return z.string({ error }).regex(pattern, { error });
}

const variantId = matching(SHA256_PATTERN, 'the sha256 of a stored variant (64 lower-case hex digits)');

const shapeError = `must map input names to shapes, e.g. { "x": [1, 3, 224, 224] }: 1..${MAX_SHAPE_RANK} dims each, every dim an integer in 1..${MAX_SHAPE_DIM}`;
const shapes = z
  .record(
    z.string({ error: shapeError }).min(1, { error: shapeError }).max(256, { error: shapeError }).refine((k) => k !== '__proto__', { error: shapeError }),
    z
      .array(z.number({ error: shapeError }).int({ error: shapeError }).min(1, { error: shapeError }).max(MAX_SHAPE_DIM, { error: shapeError }), { error: shapeError })
      .min(1, { error: shapeError })
      .max(MAX_SHAPE_RANK, { error: shapeError }),
    { error: shapeError },
  )
  .refine((m) => Object.keys(m).length <= MAX_SHAPE_INPUTS, { error: `must name at most ${MAX_SHAPE_INPUTS} inputs` });

/** Profile settings (`edgetune profile` flags of the same names). */
const profileFields = {
  iterations: int(1, 1_000_000).optional().describe('Timed runs of the profile (`edgetune profile --iterations`).'),
  warmup: int(0, 100_000).optional().describe('Untimed runs before the timed ones (`--warmup`).'),
  threads: int(1, 256).optional().describe('Intra-op threads of onnxruntime (`--threads`); default: all cores.'),
  energy: matching(/^[a-z0-9_-]{1,32}$/, 'auto, off or an energy source name (rapl, ina3221, pi5-pmic, hwmon, nvidia-smi, estimate)')
    .optional()
    .describe('Energy measurement: `auto`, `off` or a source name (`--energy`).'),
  shapes: shapes
    .optional()
    .describe('Concrete shapes of inputs with symbolic dims, `{ "input": [1, 3, 480, 640] }` (`push --shape NAME=DxDxD`, as `profile --shape`).'),
};

/** The fidelity gate (`edgetune compress --force`, `--confidence`, `--no-holdout`). */
const confidence = z
  .number({ error: 'must be 0 (point estimates) or a number in (0, 1)' })
  .refine((v) => isConfidenceLevel(v), { error: 'must be 0 (point estimates) or a number in (0, 1)' })
  .optional()
  .describe('Confidence of the accuracy intervals and of the bound check; 0 = point estimates (`--confidence`; default 0.95).');
const noHoldout = flag()
  .default(false)
  .describe('Judge `maxAccuracyDrop` on the data the variant was fitted to instead of a held-out part (`--no-holdout`).');
const maxAccuracyDrop = num(0, 100)
  .optional()
  .describe(
    'Percentage points of top-1 (or agreement) the variant may lose, checked on held-out data (`--max-accuracy-drop`); for a detector (`detection`): points of mAP@.5:.95, or of hmean for `db-text`.',
  );

/** Bytes of `value` as compact JSON (what the job carries). */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/** A JSON object carried inline in a job, at most `maxBytes` of JSON; `option` names it in the size message. */
function jsonObject(option: string, maxBytes: number, what: string) {
  const error = `must be a JSON object (${what})`;
  return z
    .record(z.string({ error }), z.unknown(), { error })
    .superRefine((v, ctx) => {
      const bytes = jsonBytes(v);
      if (bytes > maxBytes) ctx.addIssue({ code: 'custom', params: WHOLE, message: `options.${option} is ${bytes} bytes of JSON; a job carries at most ${maxBytes} (${maxBytes / 1024} KiB)` });
    });
}

/** The detector task of a job (`--task detection`): the decoder, its config and the labels, inline. */
const detection = z
  .strictObject({
    decoder: oneOf(DETECTION_DECODERS).describe('Turns the raw outputs into boxes: `ssd-anchors` (MediaPipe SSD, e.g. BlazeFace), `yolo` (v5/v8 heads) or `db-text` (text regions) (`--decoder`).'),
    decoderConfig: jsonObject('detection.decoderConfig', MAX_DECODER_CONFIG_BYTES, 'the decoder\'s options')
      .optional()
      .describe(
        `The decoder's options, e.g. \`{ "preset": "blazeface-back-256" }\`, with optional \`input\` (preprocessing) and \`categoryIds\`: the JSON of \`--decoder-config F.json\`, inline (at most ${MAX_DECODER_CONFIG_BYTES / 1024} KiB).`,
      ),
    labels: jsonObject('detection.labels', MAX_DETECTION_LABELS_BYTES, 'COCO labels: images, annotations, categories')
      .optional()
      .describe(
        `COCO labels (images matched to the data by \`file_name\`): mAP against them instead of against the original's detections; the JSON of \`--labels coco.json\`, inline (at most ${MAX_DETECTION_LABELS_BYTES / 1024} KiB).`,
      ),
    refConf: num(0, 1).optional().describe("Operating threshold: the original's detections at or above it are the ground truth without labels, and agreement is measured there (`--ref-conf`; default per decoder: ssd-anchors 0.5, yolo 0.25, db-text 0.6)."),
  }, { error: 'must be an object { decoder, decoderConfig?, labels?, refConf? }' })
  .optional()
  .describe(
    'A detector (`push --task detection`): outputs are decoded into boxes and scored by mAP (hmean for text) against `labels`, else against the original\'s detections; `maxAccuracyDrop` is then in points of that figure. The data may come from a folder of images (push converts it; each set carries a `meta.json`).',
  );

/** Options a job passes through to `edgetune compress` (flags of the same names, kebab-cased). */
const compressFields = {
  calibration: oneOf(CALIBRATION_METHODS).optional().describe('int8 activation calibration (`--calibration`; default auto).'),
  perChannel: flag().optional().describe('Per-channel weight scales; false: per-tensor (`--per-channel` / `--no-per-channel`).'),
  symmetric: flag().optional().describe('int8: symmetric int8 activations instead of uint8 asymmetric (`--symmetric`).'),
  ratio: num(0, 1).optional().describe('prune: channel share; sparsity: zero share; lowrank: parameter budget (`--ratio`).'),
  targetCache: matching(/^(l1|l2|l3|\d{1,12})$/, 'l1, l2, l3 or a byte count').optional().describe('prune: the cache the pruned weights should fit (`--target-cache`).'),
  allocate: oneOf(['uniform', 'sensitivity'] as const)
    .optional()
    .describe('prune: one channel ratio for every group, or per-group widths from measured latency and sensitivity on the data (`--allocate`; sensitivity reads `ratio` as a share of FLOPs).'),
  targetLatencyMs: num(0, 1_000_000).optional().describe('prune: latency to reach, measured on the device at batch 1, one thread (`--target-latency-ms`; implies allocate sensitivity).'),
  keepFloat: matching(/^(auto|[A-Za-z0-9_./:-]{1,200}(,[A-Za-z0-9_./:-]{1,200}){0,200})$/, "'auto' or a comma list of node names")
    .optional()
    .describe("Nodes kept float: 'auto' (with maxAccuracyDrop) or NODE,NODE,… (`--keep-float`)."),
  maxAccuracyDrop,
  equalize: flag().optional().describe('int8: per-channel activation equalization (`--equalize`; default true).'),
  equalizeFloatInputs: flag().optional().describe('int8: also equalize what float-only ops read (`--equalize-float-inputs`).'),
  biasCorrection: int(0, 5).optional().describe('int8: empirical bias correction rounds, 0 = off (`--bias-correction`; default 1).'),
  floatHead: flag().optional().describe("int8: keep a detector's output tail float (`--float-head`; default true)."),
  adaptiveRounding: flag().optional().describe('int8: each weight rounded up or down to minimise its layer\'s output error on the data (`--adaptive-rounding`; default true).'),
  hardSwishProduct: flag().optional().describe('int8: HardSwish runs as x·HardSigmoid(x) in int8 ops, a depthwise 1×1 QLinearConv and a QLinearMul (`--hard-swish-product`; default true).'),
  lookupIslands: flag().optional().describe('int8: float islands on tensors of ≥ 65,536 elements become exact table lookups (`--lookup-islands`; default true).'),
  force: flag().default(false).describe('Write (and activate) the variant even when its fidelity gate fails; the report says `forced: true` (`--force`).'),
  confidence,
  noHoldout,
};

/** Compress options that mean nothing to a deploy with method 'none' (it compresses nothing). */
const COMPRESS_ONLY_KEYS = Object.keys(compressFields).filter((k) => k !== 'force' && k !== 'confidence' && k !== 'noHoldout' && k !== 'maxAccuracyDrop');

const ping = z
  .strictObject({
    holdMs: int(0, 60_000).default(0).describe('Keep the job running this long (ms) before answering: shows queueing and delivery across an outage.'),
  })
  .describe('Answer with the agent state; with an artifact, a transfer-only check.');

const deploy = z
  .strictObject({
    method: oneOf([...COMPRESS_METHODS, 'none']).default('plan').describe("Compression: a METHOD, 'plan' (the device plan's choice) or 'none' (deploy the model as it is)."),
    activate: flag().default(true).describe('Make the variant live (the live one is kept as previous, for rollback).'),
    ...compressFields,
    detection,
    ...profileFields,
    opProfile: flag().optional().describe("Per-operator times from onnxruntime's profiler in the health-check profile (`--op-profile`)."),
  })
  .superRefine((o, ctx) => {
    if (o.method !== 'none') return;
    for (const key of COMPRESS_ONLY_KEYS) {
      if ((o as Record<string, unknown>)[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: "applies to the compression, and method 'none' compresses nothing" });
    }
  })
  .describe('Store the model, compress it, evaluate it (with data), apply the fidelity gate, profile it and make it live.');

const compress = z
  .strictObject({
    method: oneOf(COMPRESS_METHODS).default('plan').describe("Compression METHOD, or 'plan' (the device plan's choice)."),
    activate: flag().default(false).describe('Make the new variant live.'),
    variantId: variantId.optional().describe('Compress this stored variant instead of the job\'s model (default: the job\'s model, else the live one).'),
    ...compressFields,
    detection,
  })
  .describe("Compress the job's model into a stored variant.");

const profile = z
  .strictObject({
    ...profileFields,
    opProfile: flag().optional().describe("Per-operator times from onnxruntime's profiler (`--op-profile`)."),
    variantId: variantId.optional().describe("Profile this stored variant (default: the job's model, else the live one)."),
  })
  .describe("Profile the job's model (or a stored variant) on the device and store the result.");

const tune = z
  .strictObject({
    activate: flag().default(true).describe('Make the chosen variant live, then health-check it (rolled back when it fails).'),
    healthMaxLatencyMs: num(1e-9, 1e7, 'a number of milliseconds in (0, 10000000]')
      .optional()
      .describe("Health check p50 bound (ms); default: maxLatencyMs, else 1.5 × the tune's p50."),
    maxAccuracyDrop,
    maxLatencyMs: num(0, 1e7).optional().describe('p50 latency bound of a candidate, ms (`--max-latency-ms`).'),
    maxMemoryMb: num(0, 1e7).optional().describe('Peak RSS bound of the profiling process, MB (`--max-memory-mb`).'),
    maxSizeMb: num(0, 1e7).optional().describe('Model file size bound, MB (`--max-size-mb`).'),
    budgetS: num(1, 7 * 24 * 3600).optional().describe('Stop starting new candidates after this many seconds (`--budget-s`).'),
    objective: oneOf(TUNE_OBJECTIVES).optional().describe('What the chosen front member minimises (`--objective`; default latency).'),
    candidates: matching(/^[A-Za-z0-9_.+-]{1,64}(,[A-Za-z0-9_.+-]{1,64}){0,63}$/, 'a comma list of candidate ids')
      .optional()
      .describe('Only these candidate ids, comma-separated; fp32 always runs (`--candidates`).'),
    ...profileFields,
    confidence,
    noHoldout,
    detection,
    variantId: variantId.optional().describe("Tune this stored variant (default: the job's model, else the live one)."),
  })
  .describe('Search compressions under constraints on the device, store the chosen one, activate and health-check it.');

const evalOptions = z
  .strictObject({
    reference: matching(/^(source|[0-9a-f]{64})$/, "'source' or the sha256 of a stored variant")
      .optional()
      .describe("Compare against this model: 'source' (the variant's original) or a stored variant's sha256 (`eval --reference`)."),
    variantId: variantId.optional().describe("Evaluate this stored variant (default: the job's model, else the live one)."),
    detection,
  })
  .superRefine((o, ctx) => {
    // A detector is scored against labels or against the reference's own detections: one of them is needed.
    if (o.detection && o.detection.labels === undefined && o.reference === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['detection'],
        params: WHOLE,
        message: "options.detection has no labels, so the detections are scored against a reference's: give options.reference ('source' or a variant's sha256) or detection.labels (push --labels coco.json)",
      });
    }
  })
  .describe("Accuracy and fidelity of the job's model on the job's dataset (detectors: mAP of the decoded boxes).");

const activate = z
  .strictObject({
    variantId: variantId.optional().describe("The stored variant to make live (required unless the job carries the model)."),
    force: flag().default(false).describe('Activate a variant recorded as failing its fidelity gate; the report says `forced: true`.'),
  })
  .describe('Make a stored variant live; the live one becomes previous.');

const rollback = z.strictObject({}).describe('Swap the live variant with the previous one.');

const deleteOptions = z
  .strictObject({
    variantId: variantId.describe('The stored, non-live variant to remove (push sets it from MODEL when given).'),
  })
  .describe('Remove a stored variant that is not live, and its file.');

/** Most seqs one `resend-reports` job may cover. */
export const MAX_RESEND_SPAN = 10_000;
const seqError = 'must be an integer >= 1';
const seq = z.number({ error: seqError }).int({ error: seqError }).min(1, { error: seqError }).max(Number.MAX_SAFE_INTEGER, { error: seqError });
const resendReports = z
  .strictObject({
    fromSeq: seq.describe('First report seq to re-send (required).'),
    toSeq: seq.optional().describe(`Last report seq to re-send (default: the highest committed); at most ${MAX_RESEND_SPAN} seqs per job.`),
  })
  .superRefine((o, ctx) => {
    if (o.toSeq === undefined) return;
    const span = o.toSeq - o.fromSeq + 1;
    if (o.toSeq < o.fromSeq) ctx.addIssue({ code: 'custom', path: ['toSeq'], params: WHOLE, message: `options.toSeq ${o.toSeq} is below options.fromSeq ${o.fromSeq}` });
    else if (span > MAX_RESEND_SPAN) {
      ctx.addIssue({ code: 'custom', path: ['toSeq'], params: WHOLE, message: `options.fromSeq..options.toSeq (${o.fromSeq}..${o.toSeq}) covers ${span} seqs; at most ${MAX_RESEND_SPAN} per job` });
    }
  })
  .describe('Re-publish stored reports with seq in [fromSeq, toSeq] (the operator lost them).');

/** Job action → the schema of its options: strict (unknown keys are refused), every field described. */
export const JOB_OPTION_SCHEMAS = {
  ping,
  deploy,
  profile,
  compress,
  eval: evalOptions,
  activate,
  rollback,
  delete: deleteOptions,
  tune,
  'resend-reports': resendReports,
} as const satisfies Record<JobAction, z.ZodObject>;

/** The parsed options of one action (defaults applied). */
export type JobOptionsOf<A extends JobAction> = z.output<(typeof JOB_OPTION_SCHEMAS)[A]>;

/** One problem with a job's options: the option (dotted path, '' for the object) and what is wrong with it. */
export interface JobOptionProblem {
  option: string;
  message: string;
}

/** The option names an action takes, in schema order. */
export function optionNamesOf(action: JobAction): string[] {
  return Object.keys(JOB_OPTION_SCHEMAS[action].shape);
}

/** The closest option name of `action` to `key` (a likely typo), or null. */
export function closestOptionName(action: JobAction, key: string): string | null {
  let best: { name: string; d: number } | null = null;
  for (const name of optionNamesOf(action)) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d <= Math.max(1, Math.floor(name.length / 4)) && (best === null || d < best.d)) best = { name, d };
  }
  return best?.name ?? null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

function valueAt(options: unknown, path: readonly PropertyKey[]): unknown {
  let v = options;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** A value as shown in a message: at most 80 characters (an inline object may be kilobytes). */
function clipped(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 77)}…`;
}

/** The field names of the object option at `path` (e.g. ['detection']), in schema order; [] when it is not one. */
function nestedOptionNames(action: JobAction, path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = JOB_OPTION_SCHEMAS[action];
  for (const key of path) {
    schema = unwrapped(schema);
    const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : undefined;
    schema = typeof key === 'string' && shape && Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!schema) return [];
  }
  const inner = unwrapped(schema);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/** The schema under `.optional()` / `.default()` wrappers. */
function unwrapped(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** Why unknown options are refused: each with the likely intended name, then what the action takes. */
export function unknownOptionsMessage(action: JobAction, keys: readonly string[]): string {
  const named = keys.map((key) => {
    const near = closestOptionName(action, key);
    return `options.${key}${near ? ` (did you mean ${near}?)` : ''}`;
  });
  return `${named.join(', ')} ${keys.length === 1 ? 'is not a' : 'are not'} ${action} option${keys.length === 1 ? '' : 's'}; ${optionsTakenBy(action)}`;
}

/** `deploy takes method, activate, …` (or `rollback takes no options`). */
export function optionsTakenBy(action: JobAction): string {
  const names = optionNamesOf(action);
  return `${action} takes ${names.length > 0 ? names.join(', ') : 'no options'}`;
}

/** Every problem with `options` for `action`, each naming the option; empty when they parse. */
export function jobOptionProblems(action: JobAction, options: unknown): JobOptionProblem[] {
  const r = JOB_OPTION_SCHEMAS[action].safeParse(options);
  if (r.success) return [];
  const problems: JobOptionProblem[] = [];
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys' && issue.path.length > 0) {
      // Inside an object option (`detection`): name the keys with their path and what that object takes.
      const parent = issue.path.map(String).join('.');
      const names = nestedOptionNames(action, issue.path);
      const keys = issue.keys.map((k) => `options.${parent}.${k}`);
      problems.push({
        option: issue.keys.map((k) => `${parent}.${k}`).join(','),
        message: `${keys.join(', ')} ${keys.length === 1 ? 'is not a' : 'are not'} ${parent} option${keys.length === 1 ? '' : 's'}; ${parent} takes ${names.join(', ')}`,
      });
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      problems.push({ option: issue.keys.join(','), message: unknownOptionsMessage(action, issue.keys) });
      continue;
    }
    const option = issue.path.map(String).join('.');
    if (option === '') {
      problems.push({ option, message: 'options must be an object of KEY: VALUE' });
      continue;
    }
    if (issue.code === 'custom' && (issue.params as { whole?: boolean } | undefined)?.whole === true) {
      problems.push({ option, message: issue.message });
      continue;
    }
    const value = valueAt(options, issue.path);
    problems.push({ option, message: value === undefined ? `options.${option} is required (it ${issue.message})` : `options.${option} ${issue.message}, got ${clipped(JSON.stringify(value) ?? String(value))}` });
  }
  return problems;
}

/** Parse the options of a job: typed, defaults applied; JOB_INVALID naming every bad option otherwise. */
export function parseJobOptions<A extends JobAction>(action: A, options: unknown): JobOptionsOf<A> {
  const r = JOB_OPTION_SCHEMAS[action].safeParse(options);
  if (r.success) return r.data as JobOptionsOf<A>;
  const problems = jobOptionProblems(action, options);
  throw new EdgetuneError('JOB_INVALID', `${action}: ${problems.map((p) => p.message).join('; ')}`);
}
