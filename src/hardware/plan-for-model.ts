/**
 * The planner's composition: probe (or reuse a probe), pick the device profile, compute model facts, plan.
 * `edgetune plan`, `edgetune compress --method plan` and the agent call this.
 */
import type { OnnxModel } from '../onnx/ir.js';
import { detectHardware, type DetectedHardware, type DetectHardwareOptions } from './detect-hardware.js';
import { findDeviceProfile } from './match-profile.js';
import { modelFacts, type ModelFacts } from './model-facts.js';
import { planCompression, type CompressionPlan, type PlanOptions } from './planner.js';
import type { DeviceProfile } from './device-profile.js';

/** Caller input for planForModel. */
export interface PlanForModelOptions extends Omit<DetectHardwareOptions, 'processArch'> {
  model: OnnxModel;
  /** Plan for this device profile; when it is not the one this machine matches, detection is not used. */
  profileName?: string;
  /** A previous detectHardware() result to reuse (the agent probes once at start-up). */
  detected?: DetectedHardware;
  plan?: PlanOptions;
}

/** A plan with what it was computed from. */
export interface PlanForModelResult {
  plan: CompressionPlan;
  facts: ModelFacts;
  profile: DeviceProfile;
  /** This machine (or sysroot) as probed, even when the plan is for another profile. */
  detected: DetectedHardware;
}

/** Plan compression of `model` for this machine (or `sysroot`), or for the named device profile. */
export async function planForModel(options: PlanForModelOptions): Promise<PlanForModelResult> {
  const detected = options.detected ?? (await detectHardware(options));
  let profile = detected.profile;
  let hw: DetectedHardware['hw'] | null = detected.hw;
  if (options.profileName !== undefined && options.profileName !== detected.profile.name) {
    profile = findDeviceProfile(detected.profiles, options.profileName);
    hw = null;
  }
  const facts = modelFacts(options.model);
  const plan = planCompression({ profile, hw, facts, options: options.plan });
  return { plan, facts, profile, detected };
}
