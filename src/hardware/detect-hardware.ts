/**
 * Composition of the probe, the device profiles and the matcher: what `edgetune hw`, the planner wiring and the
 * agent's hello call. On the live system it also asks onnxruntime-node which execution providers it offers.
 */
import { probeHardware, type ProbeOptions } from './probe.js';
import { loadDeviceProfiles } from './load-device-profiles.js';
import { findDeviceProfile, matchDeviceProfile } from './match-profile.js';
import { DEVICE_PROFILE_ENV, mergeDeviceProfileOverride, parseDeviceProfileConfig, resolveProfileFigures, type DeviceProfile, type DeviceProfileConfig, type ProfileFigures } from './device-profile.js';
import type { ExecutionProviderInfo, HardwareInfo } from './hardware-info.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** The `deviceProfile` section from {@link DEVICE_PROFILE_ENV}, undefined when unset; CONFIG_INVALID when malformed. */
export function deviceProfileFromEnv(env: NodeJS.ProcessEnv = process.env): DeviceProfileConfig | undefined {
  const text = env[DEVICE_PROFILE_ENV];
  if (text === undefined || text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EdgetuneError('CONFIG_INVALID', `${DEVICE_PROFILE_ENV} is not JSON: ${messageOf(error)}`);
  }
  return parseDeviceProfileConfig(value, 'CONFIG_INVALID', DEVICE_PROFILE_ENV);
}

/** Caller input for detectHardware. */
export interface DetectHardwareOptions extends ProbeOptions {
  /** Directory of device profiles; default the package's device-profiles/. */
  profilesDir?: string;
  /** Already-loaded profiles (skips profilesDir). */
  profiles?: DeviceProfile[];
  /**
   * agent.config.json `deviceProfile`: `name` forces a profile, `override` deep-merges over the chosen one.
   * Default: {@link DEVICE_PROFILE_ENV} when set (on the live system only, not for a sysroot).
   */
  deviceProfileConfig?: DeviceProfileConfig;
}

/** Probed hardware with its matched (and possibly overridden) device profile. */
export interface DetectedHardware {
  /** The `hw` JSON of SPEC.md, with `profile` and `profileMatch` filled. */
  hw: HardwareInfo;
  profile: DeviceProfile;
  profiles: DeviceProfile[];
  /** Roofline and power figures of the profile on this machine (estimated ones say so). */
  figures: ProfileFigures;
}

/** Probe, match a device profile and apply the configured override. */
export async function detectHardware(options: DetectHardwareOptions = {}): Promise<DetectedHardware> {
  const sysroot = options.sysroot ?? '/';
  const warnings: string[] = [];
  let executionProviders: ExecutionProviderInfo[] | null | undefined = options.executionProviders;
  if (executionProviders === undefined && sysroot === '/') {
    try {
      const { listOrtBackends } = await import('../profile/ort-backends.js');
      executionProviders = listOrtBackends();
    } catch (error) {
      executionProviders = null;
      warnings.push(`onnxruntime-node could not list its execution providers (${messageOf(error)}): CPU assumed`);
    }
  }
  const hw = await probeHardware({ ...options, executionProviders: executionProviders ?? null });
  hw.warnings.push(...warnings);
  if (executionProviders == null && sysroot !== '/') hw.warnings.push('execution providers are not probed for a sysroot: only the CPU provider is assumed');

  const profiles = options.profiles ?? loadDeviceProfiles(options.profilesDir);
  const profileConfig = options.deviceProfileConfig ?? (sysroot === '/' ? deviceProfileFromEnv() : undefined);
  const requested = profileConfig?.name;
  const matched = requested
    ? { profile: findDeviceProfile(profiles, requested), match: { name: requested, by: 'requested' as const, generic: false, reason: `profile '${requested}' set in the configuration` } }
    : matchDeviceProfile(hw, profiles);
  matched.match.generic = matched.profile.generic;
  const profile = mergeDeviceProfileOverride(matched.profile, profileConfig?.override);
  hw.profile = profile.name;
  hw.profileMatch = matched.match;
  if (matched.profile.generic) hw.warnings.push(matched.match.reason);

  if (hw.caches.source === null && !profile.generic && (matched.match.by === 'board' || matched.match.by === 'requested')) {
    const c = profile.caches;
    if (c.l1dBytes !== null || c.l2Bytes !== null || c.l3Bytes !== null) {
      hw.caches = { ...hw.caches, l1d: c.l1dBytes, l2: c.l2Bytes, l3: c.l3Bytes, l2Shared: c.l2Shared, l3Shared: c.l3Shared, source: 'profile' };
      hw.warnings.push(`cache sizes taken from device profile ${profile.name} (${c.source})`);
    }
  }
  return { hw, profile, profiles, figures: resolveProfileFigures(profile, { bigCores: hw.cpu.bigCores, maxFreqMHz: hw.cpu.maxFreqMHz, cpuinfoMHz: hw.cpu.cpuinfoMHz }) };
}

/**
 * The `hw` JSON of SPEC.md as `edgetune hw --json` prints it and the agent's hello carries it: the probe's fields
 * (with `profile` and `profileMatch`), the full matched profile as `deviceProfile`, and its resolved `figures`.
 */
export function hardwareReport(detected: DetectedHardware): HardwareInfo & { deviceProfile: DeviceProfile; figures: ProfileFigures } {
  return { ...detected.hw, deviceProfile: detected.profile, figures: detected.figures };
}
