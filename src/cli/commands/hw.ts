import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { detectHardware, hardwareReport, type DetectedHardware } from '../../hardware/detect-hardware.js';
import { fmtBytes } from '../../hardware/planner.js';
import { parseDeviceProfileConfig, type DeviceProfileConfig, type SourcedNumber } from '../../hardware/device-profile.js';
import { EdgetuneError, messageOf } from '../../util/errors.js';

/** `edgetune hw`: detected hardware and the matched device profile (SPEC.md `hw` JSON). */
export const commandModule: CommandModule = {
  command: 'hw',
  describe: 'detected hardware and the matched device profile',
  builder: (y: Argv) =>
    y
      .option('sysroot', { type: 'string', default: '/', describe: 'read /proc, /sys and /etc under this root (a captured tree)' })
      .option('profile', { type: 'string', describe: 'use this device profile instead of matching one (agent.config.json deviceProfile.name)' })
      .option('profile-override', { type: 'string', describe: 'JSON object deep-merged over the profile (agent.config.json deviceProfile.override)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  handler: async (args) => {
    const deviceProfileConfig = hwDeviceProfileArgs(args.profile as string | undefined, args.profileOverride as string | undefined);
    const detected = await detectHardware({ sysroot: String(args.sysroot), ...(deviceProfileConfig ? { deviceProfileConfig } : {}) });
    if (args.json === true) process.stdout.write(`${JSON.stringify(hardwareReport(detected))}\n`);
    else process.stdout.write(formatHw(detected));
  },
};

/** `--profile` / `--profile-override` as the `deviceProfile` config section (USAGE naming the flag when bad). */
export function hwDeviceProfileArgs(name: string | undefined, overrideJson: string | undefined): DeviceProfileConfig | undefined {
  if (name === undefined && overrideJson === undefined) return undefined;
  let override: unknown;
  if (overrideJson !== undefined) {
    try {
      override = JSON.parse(overrideJson) as unknown;
    } catch (error) {
      throw new EdgetuneError('USAGE', `--profile-override is not JSON: ${messageOf(error)}`);
    }
  }
  return parseDeviceProfileConfig({ ...(name !== undefined ? { name } : {}), ...(overrideJson !== undefined ? { override } : {}) }, 'USAGE', '--profile/--profile-override');
}

function formatHw({ hw, profile, figures }: DetectedHardware): string {
  const lines: string[] = [];
  const v = (x: unknown): string => (x === null || x === undefined ? 'unknown' : String(x));
  const b = (x: number | null): string => (x === null ? 'unknown' : fmtBytes(x));
  lines.push(`board        ${v(hw.board)}${hw.boardInfo.source ? ` (${hw.boardInfo.source})` : ''}`);
  if (hw.boardInfo.tegraRelease) lines.push(`L4T          ${hw.boardInfo.tegraRelease.l4tVersion}`);
  lines.push(`cpu          ${v(hw.cpu.model)}${hw.cpu.brand ? ` [${hw.cpu.brand}]` : ''}, ${v(hw.cpu.cores)} CPUs, ${v(hw.cpu.bigCores)} big cores, ${v(hw.cpu.arch)}${hw.cpu.maxFreqMHz ? `, ${hw.cpu.maxFreqMHz} MHz` : ''}`);
  if (hw.cpu.processArch) lines.push(`process      ${hw.cpu.processArch}${hw.cpu.userland32On64 ? ' (32-bit userland on a 64-bit kernel)' : ''}`);
  if (hw.emulation) lines.push(`emulated     yes (${[hw.emulation.hostArch ? `host ${hw.emulation.hostArch}` : null, hw.emulation.emulator].filter((x) => x !== null).join(', ')}): no figure measured here is the device's`);
  const caps = Object.entries(hw.capabilities).filter(([, x]) => x === true).map(([k]) => k);
  lines.push(`capabilities ${caps.length > 0 ? caps.join(' ') : 'none detected'}`);
  lines.push(
    `caches       L1d ${b(hw.caches.l1d)}, L2 ${b(hw.caches.l2)}${hw.caches.l2Shared ? ' shared' : hw.caches.l2Shared === false ? ' per core' : ''}, L3 ${hw.caches.l3 === null ? 'none/unknown' : b(hw.caches.l3)}${hw.caches.source ? ` (${hw.caches.source})` : ''}`,
  );
  lines.push(`memory       ${b(hw.memoryBytes)}`);
  lines.push(`os           ${v(hw.os.name)}, kernel ${v(hw.os.kernel)}`);
  for (const a of hw.accelerators) lines.push(`accelerator  ${a.vendor} ${a.name}${a.cudaArch ? ` (CUDA ${a.cudaArch})` : ''}${a.inferenceUsable ? '' : ' — not usable for inference'}`);
  if (hw.executionProviders) lines.push(`onnxruntime  ${hw.executionProviders.map((e) => `${e.name}${e.bundled || e.libraryPresent ? '' : ' (library missing)'}`).join(', ')}`);
  lines.push(`profile      ${profile.name} — ${hw.profileMatch?.reason ?? ''}`);
  const f = (x: SourcedNumber, unit: string): string => (x.value === null ? 'unknown' : `${x.value} ${unit}${x.estimated ? ' (estimated)' : ''}`);
  lines.push(`figures      fp32 ${f(figures.peakFp32Gops, 'GOPS')}, int8 ${f(figures.peakInt8Gops, 'GOPS')}, memory ${f(figures.memoryBandwidthGBps, 'GB/s')}, power ${f(figures.idleWatts, 'W')} idle / ${f(figures.maxWatts, 'W')} max`);
  for (const w of hw.warnings) lines.push(`warning      ${w}`);
  return `${lines.join('\n')}\n`;
}
