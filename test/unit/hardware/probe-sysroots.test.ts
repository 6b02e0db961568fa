import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { probeHardware } from '../../../src/hardware/probe.js';
import type { HardwareInfo } from '../../../src/hardware/hardware-info.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const SYSROOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'sysroots');
const KiB = 1024;
const MiB = 1024 * 1024;

async function probe(name: string, processArch: string | null = null): Promise<HardwareInfo> {
  return probeHardware({ sysroot: join(SYSROOTS, name), processArch });
}

interface Expected {
  board: string;
  boardSource: string;
  model: string;
  part: string | null;
  arch: string;
  cores: number;
  bigCores: number;
  threadsPerCore: number;
  maxFreqMHz: number;
  caches: { l1d: number | null; l2: number | null; l3: number | null; l2Shared: boolean | null; l3Shared: boolean | null; source: 'sysfs' | null };
  memoryBytes: number;
  caps: { int8Dot: boolean; fp16Arith: boolean; vnni: boolean; avx2: boolean };
  accelerators: string[];
  soc: string | null;
  l4t: string | null;
}

const TABLE: Record<string, Expected> = {
  rpi4: {
    board: 'Raspberry Pi 4 Model B Rev 1.4',
    boardSource: 'device-tree',
    model: 'Cortex-A72',
    part: '0xd08',
    arch: 'aarch64',
    cores: 4,
    bigCores: 4,
    threadsPerCore: 1,
    maxFreqMHz: 1500,
    caches: { l1d: 32 * KiB, l2: 1 * MiB, l3: null, l2Shared: true, l3Shared: null, source: 'sysfs' },
    memoryBytes: 3884128 * KiB,
    caps: { int8Dot: false, fp16Arith: false, vnni: false, avx2: false },
    accelerators: ['VideoCore VI'],
    soc: 'bcm2711',
    l4t: null,
  },
  rpi5: {
    board: 'Raspberry Pi 5 Model B Rev 1.0',
    boardSource: 'device-tree',
    model: 'Cortex-A76',
    part: '0xd0b',
    arch: 'aarch64',
    cores: 4,
    bigCores: 4,
    threadsPerCore: 1,
    maxFreqMHz: 2400,
    caches: { l1d: 64 * KiB, l2: 512 * KiB, l3: 2 * MiB, l2Shared: false, l3Shared: true, source: 'sysfs' },
    memoryBytes: 8245904 * KiB,
    caps: { int8Dot: true, fp16Arith: true, vnni: false, avx2: false },
    accelerators: ['VideoCore VII'],
    soc: 'bcm2712',
    l4t: null,
  },
  'jetson-nano': {
    board: 'NVIDIA Jetson Nano Developer Kit',
    boardSource: 'device-tree',
    model: 'Cortex-A57',
    part: '0xd07',
    arch: 'aarch64',
    cores: 4,
    bigCores: 4,
    threadsPerCore: 1,
    maxFreqMHz: 1479,
    caches: { l1d: null, l2: null, l3: null, l2Shared: null, l3Shared: null, source: null },
    memoryBytes: 4058860 * KiB,
    caps: { int8Dot: false, fp16Arith: false, vnni: false, avx2: false },
    accelerators: ['Maxwell GPU (128 CUDA cores)'],
    soc: 'tegra210',
    l4t: '32.7.4',
  },
  'jetson-orin-nano': {
    board: 'NVIDIA Jetson Orin Nano Developer Kit',
    boardSource: 'device-tree',
    model: 'Cortex-A78AE',
    part: '0xd42',
    arch: 'aarch64',
    cores: 6,
    bigCores: 6,
    threadsPerCore: 1,
    maxFreqMHz: 1510,
    caches: { l1d: 64 * KiB, l2: 256 * KiB, l3: 2 * MiB, l2Shared: false, l3Shared: true, source: 'sysfs' },
    memoryBytes: 7802784 * KiB,
    caps: { int8Dot: true, fp16Arith: true, vnni: false, avx2: false },
    accelerators: ['Ampere GPU (Tensor Cores)'],
    soc: 'tegra234',
    l4t: '36.4.3',
  },
  'x86-avx2': {
    board: 'Intel(R) Client Systems NUC8i5BEH',
    boardSource: 'dmi',
    model: 'Intel(R) Core(TM) i5-8259U CPU @ 2.30GHz',
    part: null,
    arch: 'x86_64',
    cores: 8,
    bigCores: 4,
    threadsPerCore: 2,
    maxFreqMHz: 3800,
    caches: { l1d: 32 * KiB, l2: 256 * KiB, l3: 6 * MiB, l2Shared: false, l3Shared: true, source: 'sysfs' },
    memoryBytes: 16231124 * KiB,
    caps: { int8Dot: false, fp16Arith: false, vnni: false, avx2: true },
    accelerators: [],
    soc: null,
    l4t: null,
  },
  'x86-avx512-vnni': {
    board: 'Intel(R) Client Systems NUC11TNHi7',
    boardSource: 'dmi',
    model: '11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz',
    part: null,
    arch: 'x86_64',
    cores: 8,
    bigCores: 4,
    threadsPerCore: 2,
    maxFreqMHz: 4700,
    caches: { l1d: 48 * KiB, l2: 1280 * KiB, l3: 12 * MiB, l2Shared: false, l3Shared: true, source: 'sysfs' },
    memoryBytes: 32562480 * KiB,
    caps: { int8Dot: true, fp16Arith: false, vnni: true, avx2: true },
    accelerators: [],
    soc: null,
    l4t: null,
  },
};

describe('probeHardware on captured sysroots', () => {
  for (const [name, e] of Object.entries(TABLE)) {
    it(`${name}: board, CPU, caches, memory, capabilities`, async () => {
      const hw = await probe(name);
      expect(hw.board).toBe(e.board);
      expect(hw.boardInfo.source).toBe(e.boardSource);
      expect(hw.boardInfo.soc).toBe(e.soc);
      expect(hw.boardInfo.tegraRelease?.l4tVersion ?? null).toBe(e.l4t);
      expect(hw.cpu.model).toBe(e.model);
      expect(hw.cpu.part).toBe(e.part);
      expect(hw.cpu.arch).toBe(e.arch);
      expect(hw.cpu.cores).toBe(e.cores);
      expect(hw.cpu.bigCores).toBe(e.bigCores);
      expect(hw.cpu.threadsPerCore).toBe(e.threadsPerCore);
      expect(hw.cpu.maxFreqMHz).toBe(e.maxFreqMHz);
      expect(hw.cpu.processArch).toBeNull();
      // arm64: the cpuinfo flag view tells a 64-bit reader; x86: a 32-bit process sees the same flags, so unknown.
      expect(hw.cpu.userland32On64).toBe(e.arch === 'aarch64' ? false : null);
      expect(hw.caches).toMatchObject(e.caches);
      expect(hw.memoryBytes).toBe(e.memoryBytes);
      expect(hw.capabilities).toMatchObject(e.caps);
      expect(hw.accelerators.map((a) => a.name)).toEqual(e.accelerators);
      expect(hw.executionProviders).toBeNull();
      expect(hw.profile).toBeNull();
      expect(hw.cpu.brand).toBeNull(); // systeminformation is never asked about a sysroot
    });
  }

  it('x86 flags are the cpuinfo tokens, and SMT siblings are not counted as big cores', async () => {
    const hw = await probe('x86-avx512-vnni');
    expect(hw.cpu.flags).toContain('avx512_vnni');
    expect(hw.cpu.flags).toContain('avx512f');
    expect(hw.cpu.physicalCores).toBe(4);
    expect(hw.caches.levels.find((l) => l.level === 1 && l.type === 'Data')).toMatchObject({ instances: 4, cpusPerInstance: 2, shared: false });
    expect(hw.warnings).toEqual([]);
  });

  it('Orin Nano: one L3 instance per cluster', async () => {
    const hw = await probe('jetson-orin-nano');
    expect(hw.caches.levels.find((l) => l.level === 3)).toMatchObject({ instances: 2, cpusPerInstance: 4, sizeBytes: 2 * MiB });
    expect(hw.os).toEqual({ name: 'Ubuntu 22.04.4 LTS', kernel: '5.15.148-tegra' });
  });

  it('Jetson Nano: no cache dirs and no kernel.arch sysctl → nulls, arch from cpuinfo, and a warning', async () => {
    const hw = await probe('jetson-nano');
    expect(hw.cpu.arch).toBe('aarch64');
    expect(hw.warnings.some((w) => w.includes('no cache information'))).toBe(true);
    expect(hw.thermal.find((z) => z.type === 'CPU-therm')?.tempC).toBeCloseTo(36, 6);
  });

  it('Pi 5: thermal trip points are read', async () => {
    const hw = await probe('rpi5');
    expect(hw.thermal).toHaveLength(1);
    expect(hw.thermal[0]).toMatchObject({ type: 'cpu-thermal', criticalC: 110, passiveC: null });
    expect(hw.thermal[0]!.tempC).toBeCloseTo(52.15, 6);
  });

  it('Pi 5 seen by a 32-bit process: compat flags, no dot product, and it says so', async () => {
    const hw = await probe('rpi5-armhf', 'arm');
    expect(hw.cpu.arch).toBe('aarch64');
    expect(hw.cpu.processArch).toBe('arm');
    expect(hw.cpu.userland32On64).toBe(true);
    expect(hw.capabilities).toMatchObject({ int8Dot: false, fp16Arith: false, neon: true });
    expect(hw.warnings.some((w) => w.includes('32-bit userland'))).toBe(true);
    // Without processArch the compat view alone gives it away.
    const anonymous = await probe('rpi5-armhf');
    expect(anonymous.cpu.userland32On64).toBe(true);
    // A 64-bit process on the same kernel is not flagged.
    const native = await probe('rpi5', 'arm64');
    expect(native.cpu.userland32On64).toBe(false);
  });

  it('garbled tree: partial result with nulls and warnings, never a crash', async () => {
    const hw = await probe('garbled');
    expect(hw.board).toBeNull();
    expect(hw.boardInfo.compatible).toEqual([]);
    expect(hw.boardInfo.tegraRelease).toBeNull();
    expect(hw.boardInfo.dmi).toBeNull();
    expect(hw.cpu.model).toBeNull();
    expect(hw.cpu.arch).toBeNull();
    expect(hw.cpu.flags).toEqual([]);
    expect(hw.capabilities.int8Dot).toBeNull();
    expect(hw.memoryBytes).toBeNull();
    expect(hw.cpu.maxFreqMHz).toBeNull();
    // The one well-formed cache entry survives; the garbled one is dropped.
    expect(hw.caches).toMatchObject({ l1d: null, l2: 512 * KiB, source: 'sysfs' });
    expect(hw.thermal[0]).toMatchObject({ type: 'cpu-thermal', tempC: null, passiveC: null });
    for (const fragment of ['/proc/cpuinfo', 'online', 'cpu0/cache/index0', 'device-tree/model', 'device-tree/compatible', 'nv_tegra_release', 'MemTotal']) {
      expect(hw.warnings.some((w) => w.includes(fragment)), fragment).toBe(true);
    }
  });

  it('missing-files tree: everything null, warnings, no crash', async () => {
    const hw = await probe('missing-files');
    expect(hw.board).toBeNull();
    expect(hw.cpu.cores).toBeNull();
    expect(hw.cpu.bigCores).toBeNull();
    expect(hw.caches.source).toBeNull();
    expect(hw.memoryBytes).toBeNull();
    expect(hw.os).toEqual({ name: null, kernel: null });
    expect(hw.thermal).toEqual([]);
    expect(hw.accelerators).toEqual([]);
    expect(hw.warnings.some((w) => w.includes('/proc/cpuinfo is missing'))).toBe(true);
    expect(hw.warnings.some((w) => w.includes('/proc/meminfo is missing'))).toBe(true);
  });

  it('refuses a sysroot that is not a directory with USAGE', async () => {
    await expect(probeHardware({ sysroot: join(SYSROOTS, 'does-not-exist') })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(probeHardware({ sysroot: join(SYSROOTS, 'README.md') })).rejects.toBeInstanceOf(EdgetuneError);
  });
});

describe('probeHardware on generated trees', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  function write(files: Record<string, string | Buffer>): string {
    const root = mkdtempSync(join(tmpdir(), 'edgetune-sysroot-'));
    dirs.push(root);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    return root;
  }
  const armBlock = (i: number, part: string, features: string): string =>
    `processor\t: ${i}\nBogoMIPS\t: 48.00\nFeatures\t: ${features}\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: ${part}\nCPU revision\t: 4\n\n`;

  it('big.LITTLE: threads go to the big cluster, flags are intersected, shared_cpu_map is a fallback', async () => {
    const files: Record<string, string> = {
      'proc/sys/kernel/arch': 'aarch64\n',
      'proc/cpuinfo': [0, 1, 2, 3].map((i) => armBlock(i, '0xd03', 'fp asimd crc32')).join('') + [4, 5].map((i) => armBlock(i, '0xd08', 'fp asimd crc32 cpuid')).join(''),
      'sys/devices/system/cpu/online': '0-5\n',
    };
    for (let c = 0; c < 6; c++) {
      const big = c >= 4;
      files[`sys/devices/system/cpu/cpu${c}/cpu_capacity`] = big ? '1024\n' : '381\n';
      files[`sys/devices/system/cpu/cpu${c}/cpufreq/cpuinfo_max_freq`] = big ? '1800000\n' : '1416000\n';
      files[`sys/devices/system/cpu/cpu${c}/cache/index0/level`] = '2\n';
      files[`sys/devices/system/cpu/cpu${c}/cache/index0/type`] = 'Unified\n';
      files[`sys/devices/system/cpu/cpu${c}/cache/index0/size`] = big ? '1024K\n' : '512K\n';
      files[`sys/devices/system/cpu/cpu${c}/cache/index0/shared_cpu_map`] = big ? '30\n' : '0f\n';
    }
    const hw = await probeHardware({ sysroot: write(files) });
    expect(hw.cpu.cores).toBe(6);
    expect(hw.cpu.bigCores).toBe(2);
    expect(hw.cpu.model).toBe('Cortex-A72');
    expect(hw.cpu.part).toBe('0xd08');
    expect(hw.cpu.clusters.map((c) => ({ core: c.core, n: c.cpus.length, big: c.big }))).toEqual([
      { core: 'Cortex-A53', n: 4, big: false },
      { core: 'Cortex-A72', n: 2, big: true },
    ]);
    expect(hw.cpu.flags).toEqual(['asimd', 'crc32', 'fp']);
    expect(hw.caches).toMatchObject({ l2: 1 * MiB, l2Shared: true });
    expect(hw.caches.levels[0]).toMatchObject({ instances: 2 });
  });

  it('Intel hybrid: P-cores are the big cores', async () => {
    const flags = 'fpu sse sse2 lm avx avx2 fma avx_vnni ht';
    const block = (i: number, core: number): string => `processor\t: ${i}\nvendor_id\t: GenuineIntel\nmodel name\t: 12th Gen Intel(R) Core(TM) i5-1240P\nphysical id\t: 0\ncore id\t\t: ${core}\nflags\t\t: ${flags}\n\n`;
    // cpus 0-7: 4 P-cores × 2 threads; cpus 8-15: 8 E-cores.
    const files: Record<string, string> = {
      'proc/sys/kernel/arch': 'x86_64\n',
      'proc/cpuinfo': Array.from({ length: 16 }, (_, i) => block(i, i < 8 ? Math.floor(i / 2) * 4 : 8 + i)).join(''),
      'sys/devices/system/cpu/online': '0-15\n',
      'sys/devices/cpu_core/cpus': '0-7\n',
      'sys/devices/cpu_atom/cpus': '8-15\n',
    };
    for (let c = 0; c < 16; c++) files[`sys/devices/system/cpu/cpu${c}/topology/thread_siblings_list`] = c < 8 ? `${c - (c % 2)}-${c - (c % 2) + 1}\n` : `${c}\n`;
    const hw = await probeHardware({ sysroot: write(files) });
    expect(hw.cpu.cores).toBe(16);
    expect(hw.cpu.physicalCores).toBe(12);
    expect(hw.cpu.bigCores).toBe(4);
    expect(hw.cpu.clusters.find((c) => c.big)?.core).toBe('P-core');
    expect(hw.capabilities).toMatchObject({ vnni: true, int8Dot: true });
  });

  it('reads passive trips and NVIDIA discrete GPUs', async () => {
    const hw = await probeHardware({
      sysroot: write({
        'sys/class/thermal/thermal_zone0/type': 'x86_pkg_temp\n',
        'sys/class/thermal/thermal_zone0/temp': '55000\n',
        'sys/class/thermal/thermal_zone0/trip_point_0_type': 'passive\n',
        'sys/class/thermal/thermal_zone0/trip_point_0_temp': '95000\n',
        'sys/class/thermal/thermal_zone0/trip_point_1_type': 'passive\n',
        'sys/class/thermal/thermal_zone0/trip_point_1_temp': '90000\n',
        'sys/class/thermal/thermal_zone0/trip_point_2_type': 'critical\n',
        'sys/class/thermal/thermal_zone0/trip_point_2_temp': '105000\n',
        'proc/driver/nvidia/gpus/0000:01:00.0/information': 'Model: \t\t NVIDIA GeForce RTX 3060\nIRQ:   \t\t 130\n',
      }),
    });
    expect(hw.thermal[0]).toMatchObject({ passiveC: 90, criticalC: 105 });
    expect(hw.accelerators).toEqual([expect.objectContaining({ vendor: 'NVIDIA', name: 'NVIDIA GeForce RTX 3060', integrated: false, inferenceUsable: true })]);
  });
});
