import { describe, expect, it } from 'vitest';
import { armCoreName, armPartKey, commonFlags, normaliseHexId, parseCpuinfo } from '../../../src/hardware/cpuinfo.js';
import { parseCacheSize, parseCpuList, parseCpuMask, summarizeCaches, type RawCacheIndex } from '../../../src/hardware/caches.js';
import { cleanDmiString, jetsonModule, parseNvTegraRelease, socAccelerator, socFromCompatible, splitDeviceTreeStrings } from '../../../src/hardware/board.js';
import { archFromCpuinfo, capabilitiesFromFlags, isaFamily } from '../../../src/hardware/capabilities.js';
import { parseMeminfo, parseMilliCelsius, parseOsRelease } from '../../../src/hardware/procfs.js';

describe('parseCpuinfo', () => {
  it('splits processor blocks from the global ARM lines', () => {
    const text = 'processor\t: 0\nFeatures\t: fp asimd asimddp\nCPU part\t: 0xd0b\n\nprocessor\t: 1\nFeatures\t: fp asimd\nCPU part\t: 0xd05\n\nRevision\t: d04170\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n';
    const p = parseCpuinfo(text);
    expect(p.processors.map((x) => x.index)).toEqual([0, 1]);
    expect(p.global.Model).toBe('Raspberry Pi 5 Model B Rev 1.0');
    expect(p.malformedLines).toBe(0);
    // Intersection: a flag on one core only is not common (big.LITTLE).
    expect(commonFlags(p)).toEqual(['asimd', 'fp']);
  });

  it('counts junk lines instead of throwing', () => {
    const p = parseCpuinfo('\u0000\u0001junk\nno colon here\nprocessor : zero\n');
    expect(p.processors).toEqual([]);
    expect(p.malformedLines).toBe(2);
    expect(commonFlags(p)).toBeNull();
  });
});

describe('ARM part table', () => {
  it('names cores from implementer and part', () => {
    expect(normaliseHexId('0xD0B')).toBe('0xd0b');
    expect(normaliseHexId('zz')).toBeNull();
    expect(armCoreName('0x41', '0xd08')).toBe('Cortex-A72');
    expect(armCoreName('0x41', '0xd42')).toBe('Cortex-A78AE');
    expect(armCoreName('0x4e', '0x004')).toBe('NVIDIA Carmel');
    expect(armCoreName('0x41', '0xfff')).toBeNull();
    expect(armPartKey('0x41', '0xd07')).toBe('0x41:0xd07');
  });
});

describe('cache helpers', () => {
  it('parses sysfs sizes', () => {
    expect(parseCacheSize('32K')).toBe(32768);
    expect(parseCacheSize('1024K\n')).toBe(1048576);
    expect(parseCacheSize('2M')).toBe(2097152);
    expect(parseCacheSize('512')).toBe(512);
    expect(parseCacheSize('1.5 MiB')).toBeNull();
    expect(parseCacheSize('lots')).toBeNull();
    expect(parseCacheSize('0K')).toBeNull();
  });

  it('parses CPU lists and masks', () => {
    expect(parseCpuList('0-3,5,7-8\n')).toEqual([0, 1, 2, 3, 5, 7, 8]);
    expect(parseCpuList('')).toEqual([]);
    expect(parseCpuList('a-b')).toBeNull();
    expect(parseCpuList('3-1')).toBeNull();
    expect(parseCpuMask('00000000,0000000f')).toEqual([0, 1, 2, 3]);
    expect(parseCpuMask('30')).toEqual([4, 5]);
    expect(parseCpuMask('xyz')).toBeNull();
  });

  it('deduplicates instances and tells per-core from shared caches', () => {
    const entries: RawCacheIndex[] = [];
    for (let cpu = 0; cpu < 6; cpu++) {
      entries.push({ cpu, level: 1, type: 'Data', sizeBytes: 65536, sharedCpus: [cpu] });
      entries.push({ cpu, level: 2, type: 'Unified', sizeBytes: 262144, sharedCpus: [cpu] });
      entries.push({ cpu, level: 3, type: 'Unified', sizeBytes: 2097152, sharedCpus: cpu < 4 ? [0, 1, 2, 3] : [4, 5] });
    }
    const s = summarizeCaches(entries, 1);
    expect(s).toMatchObject({ l1d: 65536, l2: 262144, l3: 2097152, l2Shared: false, l3Shared: true, source: 'sysfs' });
    expect(s.levels.find((l) => l.level === 3)).toMatchObject({ instances: 2, cpusPerInstance: 4, shared: true });
    expect(s.levels.find((l) => l.level === 2)).toMatchObject({ instances: 6, shared: false });
  });

  it('counts a cache shared by SMT siblings of one core as per core', () => {
    const entries: RawCacheIndex[] = [0, 1, 2, 3].map((cpu) => ({ cpu, level: 2, type: 'Unified', sizeBytes: 262144, sharedCpus: [cpu % 2, (cpu % 2) + 2] }));
    const s = summarizeCaches(entries, 2);
    expect(s.l2Shared).toBe(false);
    expect(s.levels[0]).toMatchObject({ instances: 2, cpusPerInstance: 2 });
  });

  it('skips unparsed entries and reports no source when nothing is left', () => {
    const s = summarizeCaches([{ cpu: 0, level: null, type: 'Data', sizeBytes: null, sharedCpus: null }], 1);
    expect(s).toMatchObject({ l1d: null, l2: null, l3: null, source: null, levels: [] });
  });
});

describe('board helpers', () => {
  it('splits NUL-terminated device-tree strings and rejects binary junk', () => {
    expect(splitDeviceTreeStrings(Buffer.from('raspberrypi,5-model-b\0brcm,bcm2712\0'))).toEqual(['raspberrypi,5-model-b', 'brcm,bcm2712']);
    expect(splitDeviceTreeStrings(Buffer.from('NVIDIA Jetson Orin Nano Developer Kit\0'))).toEqual(['NVIDIA Jetson Orin Nano Developer Kit']);
    expect(splitDeviceTreeStrings(Buffer.from([0x52, 0x01, 0xff, 0x00]))).toBeNull();
  });

  it('parses the L4T release line', () => {
    expect(parseNvTegraRelease('# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n')).toEqual({ release: 'R36', revision: '4.3', l4tVersion: '36.4.3' });
    expect(parseNvTegraRelease('garbage')).toBeNull();
  });

  it('finds the SoC, the Jetson module and the GPU it implies', () => {
    expect(socFromCompatible(['nvidia,p3768-0000+p3767-0005', 'nvidia,p3767-0005', 'nvidia,tegra234'])).toBe('tegra234');
    expect(socFromCompatible(['raspberrypi,4-model-b', 'brcm,bcm2711'])).toBe('bcm2711');
    expect(socFromCompatible(['acme,widget'])).toBeNull();
    expect(jetsonModule(['nvidia,p3768-0000+p3767-0005', 'nvidia,p3767-0005'])).toBe('p3767-0005');
    expect(socAccelerator('tegra210')).toMatchObject({ vendor: 'NVIDIA', cudaArch: '5.3', fp16: true, int8: false, inferenceUsable: true });
    expect(socAccelerator('bcm2712')).toMatchObject({ inferenceUsable: false });
  });

  it('drops DMI placeholders', () => {
    expect(cleanDmiString('Intel(R) Client Systems\n')).toBe('Intel(R) Client Systems');
    expect(cleanDmiString('To Be Filled By O.E.M.')).toBeNull();
    expect(cleanDmiString('Default string')).toBeNull();
  });
});

describe('capabilities', () => {
  it('maps ARM and x86 flags', () => {
    expect(capabilitiesFromFlags('arm64', ['fp', 'asimd', 'fphp', 'asimdhp', 'asimddp', 'i8mm'])).toMatchObject({ int8Dot: true, fp16Arith: true, i8mm: true, neon: true, vnni: false, avx2: false });
    expect(capabilitiesFromFlags('arm64', ['fp', 'asimd'])).toMatchObject({ int8Dot: false, fp16Arith: false, neon: true });
    expect(capabilitiesFromFlags('arm32', ['neon', 'vfpv4'])).toMatchObject({ int8Dot: false, neon: true });
    expect(capabilitiesFromFlags('x86', ['avx2', 'fma', 'f16c'])).toMatchObject({ int8Dot: false, vnni: false, avx2: true, fma: true, f16c: true, fp16Arith: false });
    expect(capabilitiesFromFlags('x86', ['avx2', 'avx_vnni'])).toMatchObject({ int8Dot: true, vnni: true });
    expect(capabilitiesFromFlags('x86', ['avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_int8'])).toMatchObject({ vnni: true, avx512: true, bf16: true, amxInt8: true });
    expect(capabilitiesFromFlags(null, ['avx2']).int8Dot).toBeNull();
    expect(capabilitiesFromFlags('x86', null).avx2).toBeNull();
  });

  it('classifies architectures', () => {
    expect(isaFamily('aarch64')).toBe('arm64');
    expect(isaFamily('arm64')).toBe('arm64');
    expect(isaFamily('armv7l')).toBe('arm32');
    expect(isaFamily('arm')).toBe('arm32');
    expect(isaFamily('x86_64')).toBe('x86');
    expect(isaFamily('x64')).toBe('x86');
    expect(isaFamily('riscv64')).toBeNull();
    expect(archFromCpuinfo('8', ['fp', 'asimd'])).toBe('aarch64');
    expect(archFromCpuinfo(undefined, ['lm', 'sse2'])).toBe('x86_64');
    expect(archFromCpuinfo('8', ['neon'])).toBeNull();
  });
});

describe('procfs helpers', () => {
  it('parses meminfo, os-release and temperatures', () => {
    expect(parseMeminfo('MemTotal:       8245904 kB\nMemAvailable:   7620000 kB\n')).toEqual({ totalBytes: 8245904 * 1024, availableBytes: 7620000 * 1024 });
    expect(parseMeminfo('MemTotal: lots kB')).toEqual({ totalBytes: null, availableBytes: null });
    expect(parseOsRelease('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n')).toBe('Ubuntu 22.04.4 LTS');
    expect(parseOsRelease('NAME=Alpine\nVERSION=3.19\n')).toBe('Alpine 3.19');
    expect(parseMilliCelsius('47234\n')).toBeCloseTo(47.234, 6);
    expect(parseMilliCelsius('hot')).toBeNull();
  });
});
