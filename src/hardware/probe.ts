/**
 * The hardware probe: the only reader of /proc, /sys and systeminformation. Every path is read through a
 * SysrootReader so the probe runs against a captured tree (`--sysroot DIR`). Missing or garbled files give null
 * fields and a warning; the probe never throws for the content of a tree.
 */
import { machine } from 'node:os';
import { statSync } from 'node:fs';
import { armCoreName, armImplementerName, armPartKey, commonFlags, isLittleArmCore, normaliseHexId, parseCpuinfo, type ParsedCpuinfo } from './cpuinfo.js';
import { parseCacheSize, parseCpuList, parseCpuMask, summarizeCaches, type RawCacheIndex } from './caches.js';
import { cleanDmiString, jetsonModule, parseNvTegraRelease, parseNvidiaGpuInformation, socAccelerator, socFromCompatible, splitDeviceTreeStrings } from './board.js';
import { archFromCpuinfo, capabilitiesFromFlags, isaFamily } from './capabilities.js';
import { parseMeminfo, parseMilliCelsius, parseOsRelease, parseSysfsInt, parseSysfsLine } from './procfs.js';
import { createSysrootReader, type SysrootReader } from './sysroot-reader.js';
import { detectEmulation } from '../util/emulation.js';
import type { Accelerator, BoardInfo, CacheSummary, CpuCluster, CpuInfo, ExecutionProviderInfo, HardwareInfo, IsaFamily, ThermalZone } from './hardware-info.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** Caller input for probeHardware. */
export interface ProbeOptions {
  /** Root of the tree to read; default '/' (this machine). */
  sysroot?: string;
  /** Node's process.arch of the process that will run inference; default process.arch on '/', null for a sysroot. */
  processArch?: string | null;
  /** What onnxruntime-node offers (src/profile/ort-backends.ts); default null = not probed. */
  executionProviders?: ExecutionProviderInfo[] | null;
  /** Ask systeminformation for OS name, memory and CPU brand; default true on '/', never for a sysroot. */
  systemInformation?: boolean;
}

const CPU_DIR = '/sys/devices/system/cpu';

/** Probe the hardware under `sysroot` (default '/'). Throws USAGE only when the sysroot is not a directory. */
export async function probeHardware(options: ProbeOptions = {}): Promise<HardwareInfo> {
  const sysroot = options.sysroot ?? '/';
  let isDir = false;
  try {
    isDir = statSync(sysroot).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new EdgetuneError('USAGE', `sysroot '${sysroot}' is not a directory`);
  const fs = createSysrootReader(sysroot);
  const warnings: string[] = [];
  const warn = (w: string): void => {
    if (!warnings.includes(w)) warnings.push(w);
  };

  const cpuinfoText = fs.readText('/proc/cpuinfo');
  if (cpuinfoText === null) warn('/proc/cpuinfo is missing or unreadable: CPU model, flags and capabilities unknown');
  const cpuinfo: ParsedCpuinfo = parseCpuinfo(cpuinfoText ?? '');
  if (cpuinfoText !== null && cpuinfo.processors.length === 0) warn('/proc/cpuinfo has no processor blocks (garbled?): CPU model, flags and capabilities unknown');
  else if (cpuinfo.malformedLines > 0) warn(`/proc/cpuinfo: ${cpuinfo.malformedLines} line(s) are not 'key : value' and were ignored`);

  const flags = commonFlags(cpuinfo);
  const first = cpuinfo.processors[0];
  const realKernelArch = readKernelArch(fs, first?.fields['CPU architecture'], flags, warn);
  const processArch = options.processArch !== undefined ? options.processArch : fs.live ? process.arch : null;
  // Under user-mode emulation the process's machine is the guest's (uname() says so): plan for it, and say so.
  const emulation = fs.live ? detectEmulation() : null;
  const kernelArch = emulation !== null ? (emulation.guestArch ?? archFromCpuinfo(first?.fields['CPU architecture'], flags) ?? realKernelArch) : realKernelArch;
  if (emulation !== null) {
    warn(
      `emulated${emulation.emulator ? ` by ${emulation.emulator}` : ''}: ${emulation.evidence}; ` +
        'capabilities are read from this /proc/cpuinfo, and nothing timed here (latency, energy, thermal) is a device figure',
    );
  }

  const online = readOnlineCpus(fs, cpuinfo, warn);
  const topology = readTopology(fs, online, cpuinfo);
  const clusters = readClusters(fs, online, cpuinfo);
  const cpu = buildCpuInfo(cpuinfo, flags, kernelArch, processArch, online, topology, clusters, warn);

  const flagIsa = flagsIsa(flags, kernelArch);
  const capabilities = capabilitiesFromFlags(flagIsa, flags);
  if (cpu.userland32On64 === null && kernelArch === 'aarch64' && (flagIsa === 'arm32' || flagIsa === 'arm64')) {
    // On arm64 the kernel shows a 32-bit reader of /proc/cpuinfo the AArch32 compat hwcaps: the flags tell.
    cpu.userland32On64 = flagIsa === 'arm32';
  }
  if (cpu.userland32On64) {
    warn(
      `32-bit userland (${processArch === null ? 'cpuinfo shows AArch32 compat features' : `process.arch ${processArch}`}) on a 64-bit kernel (${kernelArch}): /proc/cpuinfo shows the 32-bit compat ` +
        'features, so 64-bit-only kernels (int8 dot product, fp16) are not usable from this process; onnxruntime-node ships no 32-bit ARM build — install a 64-bit OS',
    );
  }

  const caches = readCaches(fs, online, topology.threadsPerCore ?? 1, warn);
  const boardInfo = readBoard(fs, cpuinfo, flagIsa, warn);
  const board = boardName(boardInfo, cpuinfo);
  if (board === null) warn('board not identified (no device-tree model, DMI or cpuinfo Model)');

  const meminfoText = fs.readText('/proc/meminfo');
  const meminfo = meminfoText === null ? { totalBytes: null, availableBytes: null } : parseMeminfo(meminfoText);
  if (meminfoText === null) warn('/proc/meminfo is missing or unreadable: memory size unknown');
  else if (meminfo.totalBytes === null) warn('/proc/meminfo has no readable MemTotal: memory size unknown');

  const os = {
    name: parseOsRelease(fs.readText('/etc/os-release') ?? '') ?? null,
    kernel: parseSysfsLine(fs.readText('/proc/sys/kernel/osrelease')),
  };

  const accelerators = readAccelerators(fs, boardInfo);
  const thermal = readThermal(fs);

  let memoryBytes = meminfo.totalBytes;
  const useSi = options.systemInformation ?? fs.live;
  if (useSi && fs.live) {
    try {
      const si = await import('systeminformation');
      const [siCpu, siOs, siMem] = await Promise.all([si.cpu(), si.osInfo(), memoryBytes === null ? si.mem() : Promise.resolve(null)]);
      cpu.brand = siCpu.brand ? siCpu.brand : null;
      if (siOs.distro) os.name = siOs.release ? `${siOs.distro} ${siOs.release}` : siOs.distro;
      if (siMem && siMem.total > 0) memoryBytes = siMem.total;
    } catch (error) {
      warn(`systeminformation failed (${messageOf(error)}): CPU brand and OS name from files only`);
    }
  }

  return {
    sysroot: fs.root,
    emulated: emulation !== null,
    emulation,
    board,
    boardInfo,
    cpu,
    caches,
    memoryBytes,
    memoryAvailableBytes: meminfo.availableBytes,
    os,
    accelerators,
    executionProviders: options.executionProviders ?? null,
    capabilities,
    thermal,
    profile: null,
    profileMatch: null,
    warnings,
  };
}

function readKernelArch(fs: SysrootReader, cpuArchitecture: string | undefined, flags: string[] | null, warn: (w: string) => void): string | null {
  const fromProc = parseSysfsLine(fs.readText('/proc/sys/kernel/arch'));
  if (fromProc !== null && /^[a-z0-9_]+$/.test(fromProc)) return fromProc;
  if (fs.live) return machine();
  const inferred = archFromCpuinfo(cpuArchitecture, flags);
  if (inferred === null) warn('kernel architecture unknown (/proc/sys/kernel/arch unreadable and cpuinfo inconclusive)');
  return inferred;
}

/** The ISA whose flag names cpuinfo uses: a 32-bit process on an arm64 kernel sees the compat (`neon`) names. */
function flagsIsa(flags: string[] | null, kernelArch: string | null): IsaFamily | null {
  const isa = isaFamily(kernelArch);
  if (flags === null) return isa;
  if (flags.includes('asimd')) return 'arm64';
  if (flags.includes('neon') || flags.includes('vfpv4') || flags.includes('vfp')) return 'arm32';
  if (flags.includes('sse2')) return 'x86';
  return isa;
}

function readOnlineCpus(fs: SysrootReader, cpuinfo: ParsedCpuinfo, warn: (w: string) => void): number[] {
  const text = fs.readText(`${CPU_DIR}/online`);
  const parsed = parseCpuList(text);
  if (parsed !== null && parsed.length > 0) return parsed;
  const dirs = (fs.list(CPU_DIR) ?? []).filter((d) => /^cpu\d+$/.test(d)).map((d) => Number(d.slice(3)));
  if (dirs.length > 0) {
    warn(`${CPU_DIR}/online is ${text === null ? 'missing' : 'garbled'}: assuming every cpuN directory is online`);
    return dirs.sort((a, b) => a - b);
  }
  if (cpuinfo.processors.length > 0) {
    warn(`${CPU_DIR} has no CPU list: counting /proc/cpuinfo processor blocks`);
    return cpuinfo.processors.map((p) => p.index).sort((a, b) => a - b);
  }
  warn('online CPUs unknown (no sysfs CPU list, no cpuinfo processors)');
  return [];
}

interface Topology {
  /** cpu → sorted list of its SMT siblings (itself included). */
  siblings: Map<number, number[]>;
  physicalCores: number | null;
  threadsPerCore: number | null;
}

function readTopology(fs: SysrootReader, online: number[], cpuinfo: ParsedCpuinfo): Topology {
  const siblings = new Map<number, number[]>();
  for (const cpu of online) {
    const dir = `${CPU_DIR}/cpu${cpu}/topology`;
    const list = parseCpuList(fs.readText(`${dir}/thread_siblings_list`)) ?? parseCpuList(fs.readText(`${dir}/core_cpus_list`));
    if (list !== null && list.includes(cpu)) siblings.set(cpu, list.filter((c) => online.includes(c)));
  }
  if (siblings.size === online.length && online.length > 0) {
    const groups = new Set([...siblings.values()].map((s) => s.join(',')));
    return { siblings, physicalCores: groups.size, threadsPerCore: Math.max(...[...siblings.values()].map((s) => s.length)) };
  }
  // x86 cpuinfo: unique (physical id, core id) pairs.
  const pairs = new Map<string, number[]>();
  for (const p of cpuinfo.processors) {
    if (!online.includes(p.index)) continue;
    const core = p.fields['core id'];
    if (core === undefined) continue;
    const key = `${p.fields['physical id'] ?? '0'}/${core}`;
    pairs.set(key, [...(pairs.get(key) ?? []), p.index]);
  }
  if (pairs.size > 0) {
    siblings.clear();
    for (const cpus of pairs.values()) for (const c of cpus) siblings.set(c, cpus);
    return { siblings, physicalCores: pairs.size, threadsPerCore: Math.max(...[...pairs.values()].map((c) => c.length)) };
  }
  // No SMT information (typical ARM sysroot without topology): one thread per core.
  siblings.clear();
  for (const c of online) siblings.set(c, [c]);
  return { siblings, physicalCores: online.length > 0 ? online.length : null, threadsPerCore: online.length > 0 ? 1 : null };
}

function readClusters(fs: SysrootReader, online: number[], cpuinfo: ParsedCpuinfo): CpuCluster[] {
  const byIndex = new Map(cpuinfo.processors.map((p) => [p.index, p]));
  const pCores = parseCpuList(fs.readText('/sys/devices/cpu_core/cpus'));
  const eCores = parseCpuList(fs.readText('/sys/devices/cpu_atom/cpus'));
  const groups = new Map<string, { cpus: number[]; core: string | null; maxFreqMHz: number | null; capacity: number | null; little: boolean }>();
  for (const cpu of online) {
    const p = byIndex.get(cpu);
    const partKey = armPartKey(normaliseHexId(p?.fields['CPU implementer']), normaliseHexId(p?.fields['CPU part']));
    let core: string | null = partKey ? armCoreName(partKey.split(':')[0]!, partKey.split(':')[1]!) ?? `ARM part ${partKey}` : null;
    let little = isLittleArmCore(partKey);
    if (pCores?.includes(cpu)) core = 'P-core';
    else if (eCores?.includes(cpu)) {
      core = 'E-core';
      little = true;
    }
    const maxKHz = parseSysfsInt(fs.readText(`${CPU_DIR}/cpu${cpu}/cpufreq/cpuinfo_max_freq`));
    const maxFreqMHz = maxKHz !== null && maxKHz > 0 ? Math.round(maxKHz / 1000) : null;
    const capacity = parseSysfsInt(fs.readText(`${CPU_DIR}/cpu${cpu}/cpu_capacity`));
    const key = `${core}/${maxFreqMHz}/${capacity}`;
    const g = groups.get(key);
    if (g) g.cpus.push(cpu);
    else groups.set(key, { cpus: [cpu], core: core ?? (p?.fields['model name'] || null), maxFreqMHz, capacity, little });
  }
  const list = [...groups.values()];
  // The big cluster: not a LITTLE core type if another exists, then the highest capacity, then the highest clock.
  const rank = (g: (typeof list)[number]): number[] => [g.little ? 0 : 1, g.capacity ?? 0, g.maxFreqMHz ?? 0];
  const best = list.reduce<number[] | null>((acc, g) => (acc === null || compareRank(rank(g), acc) > 0 ? rank(g) : acc), null);
  return list.map((g) => ({ cpus: g.cpus, core: g.core, maxFreqMHz: g.maxFreqMHz, capacity: g.capacity, big: best !== null && compareRank(rank(g), best) === 0 }));
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function buildCpuInfo(
  cpuinfo: ParsedCpuinfo,
  flags: string[] | null,
  kernelArch: string | null,
  processArch: string | null,
  online: number[],
  topology: Topology,
  clusters: CpuCluster[],
  warn: (w: string) => void,
): CpuInfo {
  const big = clusters.filter((c) => c.big);
  const bigCpus = big.flatMap((c) => c.cpus);
  const byIndex = new Map(cpuinfo.processors.map((p) => [p.index, p]));
  const bigProc = byIndex.get(bigCpus[0] ?? -1) ?? cpuinfo.processors[0];
  const implementer = normaliseHexId(bigProc?.fields['CPU implementer']);
  const part = normaliseHexId(bigProc?.fields['CPU part']);
  const modelName = bigProc?.fields['model name'] || null;
  const model = armCoreName(implementer, part) ?? modelName;
  if (cpuinfo.processors.length > 0 && model === null) warn('CPU model unknown: cpuinfo has neither a known CPU part nor a model name');
  const bigPhysical = new Set(bigCpus.map((c) => (topology.siblings.get(c) ?? [c]).join(','))).size;
  const is64Kernel = kernelArch === 'aarch64' || kernelArch === 'x86_64';
  const is32Process = processArch === 'arm' || processArch === 'ia32';
  const freqs = clusters.map((c) => c.maxFreqMHz).filter((f): f is number => f !== null);
  return {
    model,
    brand: null,
    vendor: bigProc?.fields.vendor_id ?? armImplementerName(implementer),
    implementer,
    part,
    cores: online.length > 0 ? online.length : null,
    physicalCores: topology.physicalCores,
    bigCores: bigCpus.length > 0 ? bigPhysical : null,
    threadsPerCore: topology.threadsPerCore,
    clusters,
    maxFreqMHz: freqs.length > 0 ? Math.max(...freqs) : null,
    cpuinfoMHz: cpuinfoClock(cpuinfo),
    arch: kernelArch,
    processArch,
    userland32On64: processArch === null || kernelArch === null ? null : is64Kernel && is32Process,
    flags: flags ?? [],
  };
}

function cpuinfoClock(cpuinfo: ParsedCpuinfo): number | null {
  const clocks = cpuinfo.processors.map((p) => Number(p.fields['cpu MHz'])).filter((x) => Number.isFinite(x) && x > 0);
  return clocks.length > 0 ? Math.round(Math.max(...clocks)) : null;
}

function readCaches(fs: SysrootReader, online: number[], threadsPerCore: number, warn: (w: string) => void): CacheSummary {
  const entries: RawCacheIndex[] = [];
  let cpusWithCacheDir = 0;
  const garbled: string[] = [];
  for (const cpu of online) {
    const dir = `${CPU_DIR}/cpu${cpu}/cache`;
    const indexes = (fs.list(dir) ?? []).filter((d) => /^index\d+$/.test(d));
    if (indexes.length > 0) cpusWithCacheDir++;
    for (const index of indexes) {
      const base = `${dir}/${index}`;
      const levelText = fs.readText(`${base}/level`);
      const level = parseSysfsInt(levelText);
      const type = parseSysfsLine(fs.readText(`${base}/type`));
      const sizeText = fs.readText(`${base}/size`);
      const sizeBytes = parseCacheSize(sizeText);
      const sharedCpus = parseCpuList(fs.readText(`${base}/shared_cpu_list`)) ?? parseCpuMask(fs.readText(`${base}/shared_cpu_map`));
      const ok = level !== null && level >= 1 && level <= 4 && (type === 'Data' || type === 'Instruction' || type === 'Unified') && sizeBytes !== null;
      if (!ok) garbled.push(`cpu${cpu}/cache/${index}`);
      entries.push({ cpu, level: level !== null && level >= 1 && level <= 4 ? level : null, type, sizeBytes, sharedCpus });
    }
  }
  if (online.length > 0 && cpusWithCacheDir === 0) {
    warn(`no cache information under ${CPU_DIR}/cpu*/cache (kernel without cache topology for this board): cache sizes from the device profile`);
  } else if (cpusWithCacheDir > 0 && cpusWithCacheDir < online.length) {
    warn(`cache information for only ${cpusWithCacheDir} of ${online.length} online CPUs`);
  }
  if (garbled.length > 0) {
    const shown = garbled.slice(0, 3).join(', ');
    warn(`unreadable or garbled cache entries ignored: ${shown}${garbled.length > 3 ? ` and ${garbled.length - 3} more` : ''}`);
  }
  return summarizeCaches(entries, threadsPerCore);
}

function readDeviceTreeStrings(fs: SysrootReader, name: string, warn: (w: string) => void): string[] | null {
  const bytes = fs.readBytes(`/proc/device-tree/${name}`) ?? fs.readBytes(`/sys/firmware/devicetree/base/${name}`);
  if (bytes === null) return null;
  const strings = splitDeviceTreeStrings(bytes);
  if (strings === null) warn(`/proc/device-tree/${name} is not text (garbled): ignored`);
  return strings;
}

function readBoard(fs: SysrootReader, cpuinfo: ParsedCpuinfo, isa: IsaFamily | null, warn: (w: string) => void): BoardInfo {
  const modelStrings = readDeviceTreeStrings(fs, 'model', warn);
  const compatible = readDeviceTreeStrings(fs, 'compatible', warn) ?? [];
  const tegraText = fs.readText('/etc/nv_tegra_release');
  const tegraRelease = tegraText === null ? null : parseNvTegraRelease(tegraText);
  if (tegraText !== null && tegraRelease === null) warn('/etc/nv_tegra_release does not start with "# R<n> (release), REVISION: <x.y>": L4T version unknown');
  let dmi: BoardInfo['dmi'] = null;
  if (isa === 'x86' || isa === null) {
    const sysVendor = cleanDmiString(fs.readText('/sys/class/dmi/id/sys_vendor'));
    const productName = cleanDmiString(fs.readText('/sys/class/dmi/id/product_name'));
    const boardName = cleanDmiString(fs.readText('/sys/class/dmi/id/board_name'));
    if (sysVendor !== null || productName !== null || boardName !== null) dmi = { sysVendor, productName, boardName };
  }
  const revision = cpuinfo.global.Revision;
  const model = modelStrings?.[0] ?? null;
  let source: BoardInfo['source'] = null;
  if (model !== null) source = 'device-tree';
  else if (dmi !== null) source = 'dmi';
  else if (cpuinfo.global.Model) source = 'cpuinfo';
  return {
    model,
    compatible,
    soc: socFromCompatible(compatible),
    dmi,
    tegraRelease,
    piRevision: revision !== undefined && /^[0-9a-f]{4,8}$/.test(revision) ? revision : null,
    source,
  };
}

function boardName(info: BoardInfo, cpuinfo: ParsedCpuinfo): string | null {
  if (info.model !== null) return info.model;
  if (info.dmi !== null) {
    const parts = [info.dmi.sysVendor, info.dmi.productName ?? info.dmi.boardName].filter((s): s is string => s !== null);
    if (parts.length > 0) return parts.join(' ');
  }
  const fromCpuinfo = cpuinfo.global.Model;
  if (fromCpuinfo) return fromCpuinfo;
  const module = jetsonModule(info.compatible);
  return module !== null ? `NVIDIA Jetson module ${module}` : null;
}

function readAccelerators(fs: SysrootReader, board: BoardInfo): Accelerator[] {
  const out: Accelerator[] = [];
  const soc = socAccelerator(board.soc);
  if (soc) out.push(soc);
  for (const bus of fs.list('/proc/driver/nvidia/gpus') ?? []) {
    const name = parseNvidiaGpuInformation(fs.readText(`/proc/driver/nvidia/gpus/${bus}/information`) ?? '');
    if (name === null) continue;
    out.push({ kind: 'gpu', vendor: 'NVIDIA', name, integrated: false, cudaArch: null, fp16: true, int8: null, inferenceUsable: true, source: `/proc/driver/nvidia/gpus/${bus}` });
  }
  return out;
}

function readThermal(fs: SysrootReader): ThermalZone[] {
  const zones: ThermalZone[] = [];
  for (const name of (fs.list('/sys/class/thermal') ?? []).filter((d) => /^thermal_zone\d+$/.test(d))) {
    const dir = `/sys/class/thermal/${name}`;
    const plausible = (c: number | null): number | null => (c !== null && c > -60 && c < 200 ? c : null);
    let passiveC: number | null = null;
    let criticalC: number | null = null;
    for (const entry of fs.list(dir) ?? []) {
      const m = /^trip_point_(\d+)_type$/.exec(entry);
      if (!m) continue;
      const type = parseSysfsLine(fs.readText(`${dir}/${entry}`));
      const temp = plausible(parseMilliCelsius(fs.readText(`${dir}/trip_point_${m[1]}_temp`)));
      if (temp === null) continue;
      if (type === 'passive') passiveC = passiveC === null ? temp : Math.min(passiveC, temp);
      if (type === 'critical') criticalC = criticalC === null ? temp : Math.min(criticalC, temp);
    }
    zones.push({ name, type: parseSysfsLine(fs.readText(`${dir}/type`)), tempC: plausible(parseMilliCelsius(fs.readText(`${dir}/temp`))), passiveC, criticalC });
  }
  return zones;
}
