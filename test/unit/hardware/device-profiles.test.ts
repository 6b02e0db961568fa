import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDeviceProfiles } from '../../../src/hardware/load-device-profiles.js';
import { mergeDeviceProfileOverride, parseDeviceProfile, resolveProfileFigures, type DeviceProfile, type SourcedNumber } from '../../../src/hardware/device-profile.js';
import { findDeviceProfile, matchDeviceProfile } from '../../../src/hardware/match-profile.js';
import { detectHardware } from '../../../src/hardware/detect-hardware.js';
import { probeHardware } from '../../../src/hardware/probe.js';

const SYSROOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'sysroots');
const profiles = loadDeviceProfiles();
const byName = (n: string): DeviceProfile => findDeviceProfile(profiles, n);

function sourcedNumbers(value: unknown, path = ''): Array<[string, SourcedNumber]> {
  if (value === null || typeof value !== 'object') return [];
  const o = value as Record<string, unknown>;
  if ('value' in o && 'estimated' in o && 'source' in o) return [[path, o as unknown as SourcedNumber]];
  return Object.entries(o).flatMap(([k, v]) => sourcedNumbers(v, path ? `${path}.${k}` : k));
}

describe('device-profiles/*.json', () => {
  it('has one valid profile per family', () => {
    expect(profiles.map((p) => p.name)).toEqual(['generic-arm64', 'generic-x86-64', 'jetson-nano', 'jetson-orin-nano', 'pi4', 'pi5', 'x86-avx2', 'x86-avx512-vnni']);
    expect(profiles.filter((p) => p.generic).map((p) => p.name)).toEqual(['generic-arm64', 'generic-x86-64']);
  });

  it('every number carries a source; derived peaks and assumed per-cycle figures are marked estimated', () => {
    for (const p of profiles) {
      for (const [path, n] of sourcedNumbers(p)) {
        expect(n.source.length, `${p.name}.${path}`).toBeGreaterThan(5);
        if (path.startsWith('peakGops') || path.endsWith('PerCycle')) {
          if (n.value !== null) expect(n.estimated, `${p.name}.${path}`).toBe(true);
        }
      }
    }
  });

  it('carries what the issue lists per board', () => {
    expect(byName('pi4')).toMatchObject({ cpu: { cores: 4, core: 'Cortex-A72' }, capabilities: { int8Dot: false, fp16Arith: false }, caches: { l2Bytes: 1048576, l2Shared: true, l3Bytes: null } });
    expect(byName('pi5')).toMatchObject({ cpu: { cores: 4, core: 'Cortex-A76' }, capabilities: { int8Dot: true, fp16Arith: true }, caches: { l2Bytes: 524288, l2Shared: false, l3Bytes: 2097152 } });
    expect(byName('jetson-nano')).toMatchObject({ cpu: { cores: 4, core: 'Cortex-A57' }, gpu: { fp16: true, int8: false } });
    expect(byName('jetson-orin-nano')).toMatchObject({ cpu: { cores: 6, core: 'Cortex-A78AE' }, gpu: { fp16: true, int8: true } });
    expect(byName('x86-avx2').capabilities).toMatchObject({ avx2: true, vnni: false });
    expect(byName('x86-avx512-vnni').capabilities).toMatchObject({ vnni: true, int8Dot: true });
    for (const p of profiles) {
      expect(p.power.maxWatts.source).toBeTruthy();
      expect(p.memory.bandwidthGBps.source).toBeTruthy();
      expect(p.thermal.throttleC.source).toBeTruthy();
      expect(p.executionProviders.onnxruntimeNode).toContain('cpu');
    }
  });

  it('rejects an invalid profile naming every problem', () => {
    const bad = { ...structuredClone(byName('pi5')), name: 'Bad Name', arch: 'mips' };
    (bad.match as { boardPatterns: string[] }).boardPatterns = ['('];
    expect(() => parseDeviceProfile(bad, 'test')).toThrow(/name: .*arch: .*match\.boardPatterns\.0: must be a valid regular expression/s);
  });

  describe('loading a directory', () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
    const dirWith = (files: Record<string, string>): string => {
      const d = mkdtempSync(join(tmpdir(), 'edgetune-profiles-'));
      dirs.push(d);
      mkdirSync(d, { recursive: true });
      for (const [n, c] of Object.entries(files)) writeFileSync(join(d, n), c);
      return d;
    };
    it('names the file with bad JSON, a wrong name, or no profiles at all', () => {
      expect(() => loadDeviceProfiles(dirWith({ 'x.json': '{' }))).toThrow(/x\.json' is not valid JSON/);
      expect(() => loadDeviceProfiles(dirWith({ 'other.json': JSON.stringify(byName('pi5')) }))).toThrow(/named 'pi5'/);
      expect(() => loadDeviceProfiles(dirWith({}))).toThrow(/no device profiles/);
      expect(() => loadDeviceProfiles(join(tmpdir(), 'edgetune-no-such-dir'))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    });
  });
});

describe('profile overrides (agent.config.json)', () => {
  it('deep-merges an override and keeps the rest', () => {
    const measured = { value: 15.2, estimated: false, source: 'measured with scripts/bench-memcpy.ts' };
    const merged = mergeDeviceProfileOverride(byName('pi5'), { memory: { bandwidthGBps: measured }, executionProviders: { preferred: 'cpu' } });
    expect(merged.memory.bandwidthGBps).toEqual(measured);
    expect(merged.memory.bytes).toEqual(byName('pi5').memory.bytes);
    expect(merged.caches).toEqual(byName('pi5').caches);
    expect(byName('pi5').memory.bandwidthGBps.value).toBeCloseTo(17.1, 6); // the loaded profile is untouched
    expect(mergeDeviceProfileOverride(byName('pi5'), undefined)).toBe(byName('pi5'));
  });

  it('rejects an override that breaks the schema with CONFIG_INVALID', () => {
    expect(() => mergeDeviceProfileOverride(byName('pi5'), { power: { maxWatts: 12 } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/power\.maxWatts/) }));
    expect(() => mergeDeviceProfileOverride(byName('pi5'), { unknownKey: 1 })).toThrow(/unknownKey|Unrecognized/);
  });
});

describe('resolveProfileFigures', () => {
  it('keeps a profile peak and derives a missing one from cores × clock, marked estimated', () => {
    const pi5 = resolveProfileFigures(byName('pi5'), null);
    expect(pi5.peakFp32Gops.value).toBeCloseTo(153.6, 6);
    const x86 = resolveProfileFigures(byName('x86-avx2'), { bigCores: 4, maxFreqMHz: 3800 });
    expect(x86.peakFp32Gops.value).toBeCloseTo(32 * 4 * 3.8, 6);
    expect(x86.peakFp32Gops.estimated).toBe(true);
    expect(x86.peakFp32Gops.source).toMatch(/cpuinfo_max_freq/);
    const noClock = resolveProfileFigures(byName('x86-avx2'), { bigCores: 4, maxFreqMHz: null, cpuinfoMHz: 2300 });
    expect(noClock.peakInt8Gops.value).toBeCloseTo(64 * 4 * 2.3, 6);
    expect(resolveProfileFigures(byName('generic-x86-64'), { bigCores: 4, maxFreqMHz: 3000 }).peakFp32Gops.value).toBeNull();
  });
});

describe('matchDeviceProfile', () => {
  const expected: Record<string, { name: string; by: string }> = {
    rpi4: { name: 'pi4', by: 'board' },
    rpi5: { name: 'pi5', by: 'board' },
    'rpi5-armhf': { name: 'pi5', by: 'board' },
    'jetson-nano': { name: 'jetson-nano', by: 'board' },
    'jetson-orin-nano': { name: 'jetson-orin-nano', by: 'board' },
    'x86-avx2': { name: 'x86-avx2', by: 'cpu' },
    'x86-avx512-vnni': { name: 'x86-avx512-vnni', by: 'cpu' },
    garbled: { name: 'generic-arm64', by: 'generic' },
    'missing-files': { name: 'generic-arm64', by: 'generic' },
  };
  for (const [tree, e] of Object.entries(expected)) {
    it(`${tree} → ${e.name} (by ${e.by})`, async () => {
      const hw = await probeHardware({ sysroot: join(SYSROOTS, tree) });
      const m = matchDeviceProfile(hw, profiles);
      expect(m.profile.name).toBe(e.name);
      expect(m.match.by).toBe(e.by);
      expect(m.match.reason.length).toBeGreaterThan(10);
    });
  }

  const armHw = (board: string | null, compatible: string[], part: string | null, flags: string[] = ['fp', 'asimd']) => ({
    board,
    boardInfo: { model: board, compatible, soc: null, dmi: null, tegraRelease: null, piRevision: null, source: board ? ('device-tree' as const) : null },
    cpu: {
      model: null,
      brand: null,
      vendor: 'ARM',
      implementer: part ? '0x41' : null,
      part,
      cores: 4,
      physicalCores: 4,
      bigCores: 4,
      threadsPerCore: 1,
      clusters: [],
      maxFreqMHz: null,
      cpuinfoMHz: null,
      arch: 'aarch64',
      processArch: null,
      userland32On64: false,
      flags,
    },
  });

  it('an unknown board with an unknown core falls back to the generic profile and says so', () => {
    const m = matchDeviceProfile(armHw('Pine64 PINE A64+', ['pine64,pine64-plus', 'allwinner,sun50i-a64'], '0xd03'), profiles);
    expect(m.profile.name).toBe('generic-arm64');
    expect(m.match).toMatchObject({ by: 'generic', generic: true });
    expect(m.match.reason).toMatch(/unknown board 'Pine64 PINE A64\+'.*generic profile generic-arm64/);
  });

  it('an unknown board with a known core matches by CPU part and says the board was not recognised', () => {
    const m = matchDeviceProfile(armHw('Radxa ROCK 5B', ['radxa,rock-5b', 'rockchip,rk3588'], '0xd0b'), profiles);
    expect(m.profile.name).toBe('pi5');
    expect(m.match.by).toBe('cpu');
    expect(m.match.reason).toMatch(/CPU part 0x41:0xd0b.*board not recognised/);
  });

  it('the board string wins over the SoC entry of compatible (Orin NX shares tegra234)', () => {
    const nx = matchDeviceProfile(armHw('NVIDIA Jetson Orin NX Engineering Reference Developer Kit', ['nvidia,p3768-0000+p3767-0000', 'nvidia,p3767-0000', 'nvidia,tegra234'], '0xd42'), profiles);
    expect(nx.profile.name).toBe('jetson-orin-nano');
    expect(nx.match.reason).toMatch(/SoC only/);
    // "Jetson Orin Nano" must not be taken for "Jetson Nano".
    const orin = matchDeviceProfile(armHw('NVIDIA Jetson Orin Nano Developer Kit', [], null), profiles);
    expect(orin.profile.name).toBe('jetson-orin-nano');
  });

  it('x86 without AVX2 is generic', () => {
    const hw = { ...armHw(null, [], null, ['sse2', 'lm', 'sse4_2']), cpu: { ...armHw(null, [], null).cpu, arch: 'x86_64', flags: ['sse2', 'lm', 'sse4_2'] } };
    expect(matchDeviceProfile(hw, profiles).profile.name).toBe('generic-x86-64');
  });

  it('findDeviceProfile lists the known names for an unknown one', () => {
    expect(() => findDeviceProfile(profiles, 'pi9')).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/pi9.*pi4, pi5/) }));
  });
});

describe('detectHardware', () => {
  it('fills profile and match, takes caches from the profile when sysfs has none, and warns about EPs for a sysroot', async () => {
    const d = await detectHardware({ sysroot: join(SYSROOTS, 'jetson-nano') });
    expect(d.hw.profile).toBe('jetson-nano');
    expect(d.hw.profileMatch?.by).toBe('board');
    expect(d.hw.caches).toMatchObject({ l2: 2097152, l2Shared: true, source: 'profile' });
    expect(d.hw.executionProviders).toBeNull();
    expect(d.hw.warnings.some((w) => w.includes('execution providers are not probed'))).toBe(true);
    expect(d.figures.memoryBandwidthGBps.value).toBeCloseTo(25.6, 6);
  });

  it('a configured name and override win over matching', async () => {
    const d = await detectHardware({
      sysroot: join(SYSROOTS, 'rpi5'),
      executionProviders: [{ name: 'cpu', bundled: true, libraryPresent: true }],
      deviceProfileConfig: { name: 'pi4', override: { power: { idleWatts: { value: 2.7, estimated: false, source: 'USB meter' } } } },
    });
    expect(d.profile.name).toBe('pi4');
    expect(d.hw.profileMatch).toMatchObject({ by: 'requested' });
    expect(d.figures.idleWatts).toEqual({ value: 2.7, estimated: false, source: 'USB meter' });
    expect(d.hw.executionProviders).toEqual([{ name: 'cpu', bundled: true, libraryPresent: true }]);
  });

  it('the unknown garbled board is flagged generic in the warnings', async () => {
    const d = await detectHardware({ sysroot: join(SYSROOTS, 'garbled') });
    expect(d.profile.generic).toBe(true);
    expect(d.hw.profileMatch?.generic).toBe(true);
    expect(d.hw.warnings.some((w) => w.includes('generic profile'))).toBe(true);
  });
});
