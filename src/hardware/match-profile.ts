/** Pure matching of probed hardware to a device profile: board string first, then CPU part and flags, then generic. */
import { armPartKey } from './cpuinfo.js';
import { isaFamily } from './capabilities.js';
import type { DeviceProfile } from './device-profile.js';
import type { HardwareInfo, ProfileMatch } from './hardware-info.js';
import { EdgetuneError } from '../util/errors.js';

/** A chosen profile and how it was chosen. */
export interface MatchedProfile {
  profile: DeviceProfile;
  match: ProfileMatch;
}

/** The profile named `name`; throws USAGE listing the known names when there is none. */
export function findDeviceProfile(profiles: readonly DeviceProfile[], name: string): DeviceProfile {
  const found = profiles.find((p) => p.name === name);
  if (!found) throw new EdgetuneError('USAGE', `unknown device profile '${name}'; known profiles: ${profiles.map((p) => p.name).join(', ')}`);
  return found;
}

/** Match probed hardware to one of `profiles`. Never throws while a generic profile exists for the architecture. */
export function matchDeviceProfile(hw: Pick<HardwareInfo, 'board' | 'boardInfo' | 'cpu'>, profiles: readonly DeviceProfile[]): MatchedProfile {
  const byBoard = matchByBoard(hw, profiles);
  if (byBoard) return byBoard;
  const byCpu = matchByCpu(hw, profiles);
  if (byCpu) return byCpu;
  return matchGeneric(hw, profiles);
}

function matchByBoard(hw: Pick<HardwareInfo, 'board' | 'boardInfo'>, profiles: readonly DeviceProfile[]): MatchedProfile | null {
  let best: { profile: DeviceProfile; score: number; what: string } | null = null;
  for (const profile of profiles) {
    if (profile.generic) continue;
    let score = -1;
    let what = '';
    if (hw.board !== null) {
      const pattern = profile.match.boardPatterns.find((p) => new RegExp(p, 'i').test(hw.board!));
      if (pattern !== undefined) {
        score = 1000;
        what = `board '${hw.board}' matches /${pattern}/`;
      }
    }
    if (score < 0) {
      // Compatible lists run from most to least specific: an earlier hit is a better match.
      const index = hw.boardInfo.compatible.findIndex((c) => profile.match.compatible.includes(c));
      if (index >= 0) {
        score = 500 - index;
        const entry = hw.boardInfo.compatible[index]!;
        what = index === hw.boardInfo.compatible.length - 1 && hw.boardInfo.compatible.length > 1
          ? `device-tree compatible '${entry}' (SoC only; the board itself is not in the profile's list)`
          : `device-tree compatible '${entry}'`;
      }
    }
    if (score >= 0 && (best === null || score > best.score)) best = { profile, score, what };
  }
  if (!best) return null;
  return { profile: best.profile, match: { name: best.profile.name, by: 'board', generic: false, reason: `${best.what} → ${best.profile.name}` } };
}

function matchByCpu(hw: Pick<HardwareInfo, 'cpu'>, profiles: readonly DeviceProfile[]): MatchedProfile | null {
  const flags = new Set(hw.cpu.flags);
  const partKey = armPartKey(hw.cpu.implementer, hw.cpu.part);
  let best: { profile: DeviceProfile; score: number; what: string[] } | null = null;
  for (const profile of profiles) {
    if (profile.generic) continue;
    const m = profile.match;
    const hasRule = m.cpuParts.length > 0 || m.flagsAll.length > 0 || m.flagsAny.length > 0;
    if (!hasRule || hw.cpu.arch !== profile.arch) continue;
    const what: string[] = [];
    let score = 0;
    if (m.cpuParts.length > 0) {
      if (partKey === null || !m.cpuParts.includes(partKey)) continue;
      score += 100;
      what.push(`CPU part ${partKey}${hw.cpu.model ? ` (${hw.cpu.model})` : ''}`);
    }
    if (hw.cpu.flags.length === 0 && (m.flagsAll.length > 0 || m.flagsAny.length > 0)) continue;
    if (!m.flagsAll.every((f) => flags.has(f))) continue;
    if (m.flagsAny.length > 0 && !m.flagsAny.some((f) => flags.has(f))) continue;
    if (m.flagsNone.some((f) => flags.has(f))) continue;
    score += m.flagsAll.length + (m.flagsAny.length > 0 ? 1 : 0) + m.flagsNone.length;
    if (m.flagsAll.length > 0) what.push(`flags ${m.flagsAll.join('+')}`);
    if (m.flagsAny.length > 0) what.push(`${m.flagsAny.filter((f) => flags.has(f)).join('+')}`);
    if (m.flagsNone.length > 0) what.push(`no ${m.flagsNone.join('/')}`);
    if (best === null || score > best.score) best = { profile, score, what };
  }
  if (!best) return null;
  return {
    profile: best.profile,
    match: { name: best.profile.name, by: 'cpu', generic: false, reason: `${best.what.join(', ')} → ${best.profile.name} (board not recognised; matched by CPU only)` },
  };
}

function matchGeneric(hw: Pick<HardwareInfo, 'board' | 'cpu'>, profiles: readonly DeviceProfile[]): MatchedProfile {
  const isa = isaFamily(hw.cpu.arch) ?? isaFamily(hw.cpu.processArch);
  const arch = isa === 'x86' ? 'x86_64' : isa === 'arm64' || isa === 'arm32' ? 'aarch64' : null;
  const generics = profiles.filter((p) => p.generic);
  const profile = generics.find((p) => p.arch === arch) ?? generics[0];
  if (!profile) throw new EdgetuneError('CONFIG_INVALID', 'no generic device profile (generic: true) is installed to fall back to');
  const what = hw.board !== null ? `unknown board '${hw.board}'` : 'board not identified';
  const cpu = hw.cpu.model ? ` and CPU '${hw.cpu.model}' matched no profile` : '';
  const archNote = arch === null ? `; architecture unknown, using ${profile.name}` : '';
  return { profile, match: { name: profile.name, by: 'generic', generic: true, reason: `${what}${cpu}: generic profile ${profile.name}${archNote}` } };
}
