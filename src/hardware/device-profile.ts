/**
 * Device profiles (device-profiles/*.json): what detection cannot see about a board family — power envelope,
 * memory bandwidth, peak throughput for roofline figures, preferred execution provider, thermal limits — plus the
 * rules that match a probed machine to the family. Validated with zod; overridable from agent.config.json.
 */
import { z } from 'zod';
import { EdgetuneError } from '../util/errors.js';

/** A number with where it came from. `estimated: true` marks anything not taken from a primary source or measured. */
export const sourcedNumberSchema = z.strictObject({
  value: z.number().nonnegative().nullable(),
  estimated: z.boolean(),
  source: z.string().min(1, 'must say where the number comes from'),
});

/** A sourced number. */
export type SourcedNumber = z.infer<typeof sourcedNumberSchema>;

const regexSource = z.string().refine(
  (s) => {
    try {
      new RegExp(s, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a valid regular expression' },
);

const armPartKey = z.string().regex(/^0x[0-9a-f]{2}:0x[0-9a-f]{3}$/, "must be 'implementer:part' in lower-case hex, e.g. '0x41:0xd0b'");
const bytes = z.number().int().positive().nullable();
const nullableBool = z.boolean().nullable();

/** How a probed machine is matched to the profile: board strings first, then CPU part and flags. */
export const profileMatchRulesSchema = z.strictObject({
  /** Regular expressions (case-insensitive) tested against the board string (device-tree model, DMI). */
  boardPatterns: z.array(regexSource),
  /** Device-tree compatible entries; an exact entry matches. */
  compatible: z.array(z.string().min(1)),
  /** ARM 'implementer:part' keys; one must equal the big cores' part. */
  cpuParts: z.array(armPartKey),
  /** cpuinfo flags that must all be present. */
  flagsAll: z.array(z.string().min(1)),
  /** cpuinfo flags of which at least one must be present (ignored when empty). */
  flagsAny: z.array(z.string().min(1)),
  /** cpuinfo flags that must all be absent. */
  flagsNone: z.array(z.string().min(1)),
});

/** The full device profile schema. */
export const deviceProfileSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
  displayName: z.string().min(1),
  /** Kernel architecture of the family. */
  arch: z.enum(['aarch64', 'x86_64']),
  /** True for the fallback profiles (generic-arm64, generic-x86-64). */
  generic: z.boolean(),
  match: profileMatchRulesSchema,
  cpu: z.strictObject({
    /** Core name ('Cortex-A76'), null for a class of machines. */
    core: z.string().nullable(),
    cores: z.number().int().positive().nullable(),
    /** Cores inference threads should use (big cluster, physical cores). */
    bigCores: z.number().int().positive().nullable(),
    clockGHz: sourcedNumberSchema,
    /** Peak fp32 FLOP per cycle per core (FMA = 2). */
    fp32FlopsPerCycle: sourcedNumberSchema,
    /** Peak int8 ops per cycle per core (multiply-accumulate = 2). */
    int8OpsPerCycle: sourcedNumberSchema,
  }),
  /** Arithmetic the family has, used when planning for a device that is not this machine. */
  capabilities: z.strictObject({
    int8Dot: nullableBool,
    fp16Arith: nullableBool,
    i8mm: nullableBool,
    bf16: nullableBool,
    vnni: nullableBool,
    avx2: nullableBool,
    avx512: nullableBool,
  }),
  /** Documented cache sizes, used when sysfs has none (ARM kernels without cache topology) or for --profile. */
  caches: z.strictObject({
    l1dBytes: bytes,
    l2Bytes: bytes,
    l2Shared: nullableBool,
    l3Bytes: bytes,
    l3Shared: nullableBool,
    source: z.string().min(1),
  }),
  memory: z.strictObject({
    /** RAM of the reference variant; the probe's /proc/meminfo wins on the device. */
    bytes: sourcedNumberSchema,
    bandwidthGBps: sourcedNumberSchema,
  }),
  power: z.strictObject({
    idleWatts: sourcedNumberSchema,
    maxWatts: sourcedNumberSchema,
  }),
  /** Peak CPU throughput for roofline figures (all cores); null values are computed from per-cycle figures. */
  peakGops: z.strictObject({
    fp32: sourcedNumberSchema,
    int8: sourcedNumberSchema,
  }),
  gpu: z
    .strictObject({
      name: z.string().min(1),
      cudaArch: z.string().nullable(),
      fp16: z.boolean(),
      int8: z.boolean(),
      peakGops: z.strictObject({ fp16: sourcedNumberSchema, int8: sourcedNumberSchema }),
    })
    .nullable(),
  executionProviders: z.strictObject({
    /** Best provider for the family in principle ('cpu', 'cuda', 'tensorrt'). */
    preferred: z.string().min(1),
    /** What onnxruntime-node offers on this platform (used when planning for a device that is not this machine). */
    onnxruntimeNode: z.array(z.string().min(1)).min(1),
    source: z.string().min(1),
  }),
  thermal: z.strictObject({
    /** Temperature where the firmware/kernel starts throttling, °C. */
    throttleC: sourcedNumberSchema,
    /** Hard limit (shutdown or full throttle), °C. */
    criticalC: sourcedNumberSchema,
  }),
  notes: z.array(z.string()),
});

/** A validated device profile. */
export type DeviceProfile = z.infer<typeof deviceProfileSchema>;

/** An override object from agent.config.json: any subset of a profile's keys, deep-merged over the profile. */
export type DeviceProfileOverride = { [key: string]: unknown };

/**
 * The `deviceProfile` section another module may embed in agent.config.json: `name` forces a profile,
 * `override` deep-merges over the chosen one (e.g. a measured `memory.bandwidthGBps`).
 */
export const deviceProfileConfigSchema = z.strictObject({
  name: z.string().min(1).optional().describe('use the device profile of this name (device-profiles/*.json) instead of matching one'),
  override: z.record(z.string(), z.unknown()).optional().describe("any subset of a profile's keys, deep-merged over the named or matched profile (e.g. a measured memory.bandwidthGBps)"),
});

/** A validated `deviceProfile` section. */
export type DeviceProfileConfig = { name?: string; override?: DeviceProfileOverride };

/** Validate a `deviceProfile` section; throws `code` (USAGE for flags, CONFIG_INVALID for config) listing every problem after `origin`. */
export function parseDeviceProfileConfig(value: unknown, code: 'USAGE' | 'CONFIG_INVALID', origin: string): DeviceProfileConfig {
  const parsed = deviceProfileConfigSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new EdgetuneError(code, `${origin}: ${problems.join('; ')}`);
  }
  const out: DeviceProfileConfig = {};
  if (parsed.data.name !== undefined) out.name = parsed.data.name;
  if (parsed.data.override !== undefined) out.override = parsed.data.override;
  return out;
}

/**
 * Environment variable carrying agent.config.json's `deviceProfile` (JSON) to the agent's `plan`, `compress` and
 * `tune` children, so they plan for the profile the agent announces; usable by hand as well.
 */
export const DEVICE_PROFILE_ENV = 'EDGETUNE_DEVICE_PROFILE';

/** Validate one profile object; throws CONFIG_INVALID listing every problem with its path. */
export function parseDeviceProfile(value: unknown, origin: string): DeviceProfile {
  const result = deviceProfileSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new EdgetuneError('CONFIG_INVALID', `device profile ${origin} is invalid: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * Deep-merge an override over a profile (objects merge key by key; arrays, numbers and strings replace) and
 * validate the result. The name stays the profile's unless the override sets it. Throws CONFIG_INVALID.
 */
export function mergeDeviceProfileOverride(profile: DeviceProfile, override: DeviceProfileOverride | undefined, origin = 'agent.config.json deviceProfile.override'): DeviceProfile {
  if (override === undefined) return profile;
  if (override === null || typeof override !== 'object' || Array.isArray(override)) {
    throw new EdgetuneError('CONFIG_INVALID', `${origin} must be an object`);
  }
  const merged = deepMerge(profile, override);
  return parseDeviceProfile(merged, `'${profile.name}' with ${origin}`);
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = k in base ? deepMerge(base[k], v) : structuredClone(v);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Resolved roofline and power figures for a profile on a machine: profile values, else per-cycle × cores × clock. */
export interface ProfileFigures {
  peakFp32Gops: SourcedNumber;
  peakInt8Gops: SourcedNumber;
  memoryBandwidthGBps: SourcedNumber;
  idleWatts: SourcedNumber;
  maxWatts: SourcedNumber;
}

/**
 * Peak throughput and power figures. Where the profile gives no peak (a class of x86 machines), it is computed as
 * per-cycle ops × big cores × max clock of the probed machine and marked estimated.
 */
export function resolveProfileFigures(
  profile: DeviceProfile,
  machine: { bigCores: number | null; maxFreqMHz: number | null; cpuinfoMHz?: number | null } | null,
): ProfileFigures {
  const derive = (peak: SourcedNumber, perCycle: SourcedNumber, what: string): SourcedNumber => {
    if (peak.value !== null) return peak;
    const cores = machine?.bigCores ?? profile.cpu.bigCores;
    let ghz = profile.cpu.clockGHz.value;
    let clockSource = 'profile clock';
    if (machine?.maxFreqMHz != null) {
      ghz = machine.maxFreqMHz / 1000;
      clockSource = 'cpuinfo_max_freq';
    } else if (machine?.cpuinfoMHz != null) {
      ghz = machine.cpuinfoMHz / 1000;
      clockSource = "cpuinfo 'cpu MHz' at probe time (no cpufreq)";
    }
    if (perCycle.value === null || cores === null || ghz === null) return peak;
    return {
      value: round3(perCycle.value * cores * ghz),
      estimated: true,
      source: `${perCycle.value} ${what}/cycle/core × ${cores} cores × ${round3(ghz)} GHz (${clockSource}); per-cycle figure: ${perCycle.source}`,
    };
  };
  return {
    peakFp32Gops: derive(profile.peakGops.fp32, profile.cpu.fp32FlopsPerCycle, 'fp32 FLOP'),
    peakInt8Gops: derive(profile.peakGops.int8, profile.cpu.int8OpsPerCycle, 'int8 op'),
    memoryBandwidthGBps: profile.memory.bandwidthGBps,
    idleWatts: profile.power.idleWatts,
    maxWatts: profile.power.maxWatts,
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
