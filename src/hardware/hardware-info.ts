/**
 * The shape of what the hardware probe reports (`edgetune hw --json`, the MQTT hello). Pure data: every field the
 * probe could not read is null and a line in `warnings` says why.
 */
import type { EmulationInfo } from '../util/emulation.js';

/** Instruction-set family the capability rules care about. */
export type IsaFamily = 'arm64' | 'arm32' | 'x86';

/** What the CPU can do for inference, from /proc/cpuinfo flags (null = flags unknown). */
export interface Capabilities {
  /** int8 dot product: ARM `asimddp` (SDOT/UDOT) or x86 VNNI (`avx512_vnni`, `avx_vnni`). */
  int8Dot: boolean | null;
  /** fp16 arithmetic: ARM `asimdhp` (vector FP16, ARMv8.2) or x86 `avx512_fp16`. */
  fp16Arith: boolean | null;
  /** ARM `i8mm` (SMMLA/UMMLA int8 matrix multiply). */
  i8mm: boolean | null;
  /** bf16 dot products: ARM `bf16`, x86 `avx512_bf16` / `amx_bf16`. */
  bf16: boolean | null;
  /** x86 VNNI (`avx512_vnni` or `avx_vnni`); false on ARM. */
  vnni: boolean | null;
  /** x86 `avx2`; false on ARM. */
  avx2: boolean | null;
  /** x86 `fma`; false on ARM. */
  fma: boolean | null;
  /** x86 `f16c` (fp16 ↔ fp32 conversion only, no arithmetic); false on ARM. */
  f16c: boolean | null;
  /** x86 `avx512f`; false on ARM. */
  avx512: boolean | null;
  /** x86 `amx_int8`; false on ARM. */
  amxInt8: boolean | null;
  /** ARM Advanced SIMD (`asimd` on arm64, `neon` in the 32-bit view); false on x86. */
  neon: boolean | null;
  /** ARM `sve`; false on x86. */
  sve: boolean | null;
}

/** A group of CPUs with the same core type (big.LITTLE cluster, Intel P- or E-cores, or all cores). */
export interface CpuCluster {
  /** Logical CPU numbers. */
  cpus: number[];
  /** Core name from the ARM part table ('Cortex-A76'), 'P-core'/'E-core' on hybrid x86, else the model name. */
  core: string | null;
  /** Highest frequency the kernel allows for these cores (cpuinfo_max_freq), MHz. */
  maxFreqMHz: number | null;
  /** Relative capacity from sysfs cpu_capacity (1024 = biggest), when the kernel exposes it. */
  capacity: number | null;
  /** True for the fastest cluster: the cores inference threads go to. */
  big: boolean;
}

/** The CPU as the kernel describes it. */
export interface CpuInfo {
  /** Model: x86 `model name`; ARM core name from `CPU part` ('Cortex-A72'), else `model name`. */
  model: string | null;
  /** Marketing brand from systeminformation on the live system (on a Pi: the SoC, e.g. 'BCM2711'); null for a sysroot. */
  brand: string | null;
  /** x86 `vendor_id` ('GenuineIntel'); ARM implementer name ('ARM', 'NVIDIA'). */
  vendor: string | null;
  /** ARM `CPU implementer` (hex, '0x41') of the big cores; null on x86. */
  implementer: string | null;
  /** ARM `CPU part` (hex, '0xd0b') of the big cores; null on x86. */
  part: string | null;
  /** Online logical CPUs (what lscpu calls CPU(s)). */
  cores: number | null;
  /** Physical cores (SMT siblings counted once). */
  physicalCores: number | null;
  /** Physical cores in the fastest cluster: the default inference thread count. */
  bigCores: number | null;
  /** Logical CPUs per physical core (2 with SMT). */
  threadsPerCore: number | null;
  clusters: CpuCluster[];
  /** Highest cpuinfo_max_freq over online CPUs, MHz. */
  maxFreqMHz: number | null;
  /** Highest x86 cpuinfo `cpu MHz` (the clock at probe time, not the maximum); used only when cpufreq is absent (VMs). */
  cpuinfoMHz: number | null;
  /** Kernel architecture (`uname -m`): 'aarch64', 'x86_64', 'armv7l'. */
  arch: string | null;
  /** Node's process.arch on the live system ('arm64', 'arm', 'x64'); null for a sysroot unless given. */
  processArch: string | null;
  /** True when a 32-bit userland runs on a 64-bit kernel: cpuinfo then shows 32-bit compat flags. */
  userland32On64: boolean | null;
  /** Feature flags present on every online CPU (ARM `Features`, x86 `flags`), sorted. */
  flags: string[];
}

/** One cache level/type as the hardware has it. */
export interface CacheLevelInfo {
  level: number;
  type: 'Data' | 'Instruction' | 'Unified';
  /** Size of one instance, bytes. */
  sizeBytes: number;
  /** Number of distinct instances over online CPUs. */
  instances: number;
  /** Logical CPUs sharing one instance (the largest such group). */
  cpusPerInstance: number;
  /** True when an instance is shared by more than one physical core (Pi 4 L2, every L3). */
  shared: boolean;
}

/** Cache sizes in bytes: one instance, i.e. per core where the cache is private, per cluster/socket where shared. */
export interface CacheSummary {
  l1d: number | null;
  l1i: number | null;
  l2: number | null;
  l3: number | null;
  /** Whether the L2 instance is shared by several cores (null when unknown). */
  l2Shared: boolean | null;
  l3Shared: boolean | null;
  /** 'sysfs' when read from /sys/devices/system/cpu/cpu*\/cache, 'profile' when taken from the device profile. */
  source: 'sysfs' | 'profile' | null;
  levels: CacheLevelInfo[];
}

/** Firmware identification of an x86 machine (/sys/class/dmi/id). */
export interface DmiInfo {
  sysVendor: string | null;
  productName: string | null;
  boardName: string | null;
}

/** Jetson release information (/etc/nv_tegra_release). */
export interface TegraRelease {
  /** 'R36'. */
  release: string;
  /** '4.3'. */
  revision: string;
  /** L4T version '36.4.3'. */
  l4tVersion: string;
}

/** Where the board name came from, with the raw identification strings. */
export interface BoardInfo {
  /** /proc/device-tree/model, NUL stripped. */
  model: string | null;
  /** /proc/device-tree/compatible entries, most specific first. */
  compatible: string[];
  /** SoC from the compatible list ('bcm2711', 'bcm2712', 'tegra210', 'tegra234'). */
  soc: string | null;
  dmi: DmiInfo | null;
  tegraRelease: TegraRelease | null;
  /** Raspberry Pi revision code from /proc/cpuinfo ('c03114'). */
  piRevision: string | null;
  source: 'device-tree' | 'dmi' | 'cpuinfo' | null;
}

/** An accelerator the probe recognised. */
export interface Accelerator {
  kind: 'gpu';
  vendor: string;
  name: string;
  integrated: boolean;
  /** CUDA compute capability ('5.3', '8.7') where known. */
  cudaArch: string | null;
  fp16: boolean | null;
  int8: boolean | null;
  /** Whether onnxruntime could use it at all (a Pi's VideoCore: no). */
  inferenceUsable: boolean;
  source: string;
}

/** An execution provider onnxruntime-node offers (from listSupportedBackends). */
export interface ExecutionProviderInfo {
  name: string;
  /** Shipped inside the onnxruntime-node package. */
  bundled: boolean;
  /** For an unbundled provider: whether its shared library is installed beside the binding (null: not checked). */
  libraryPresent: boolean | null;
}

/** A thermal zone with its trip points. */
export interface ThermalZone {
  name: string;
  type: string | null;
  tempC: number | null;
  /** Lowest `passive` trip (throttling starts), °C. */
  passiveC: number | null;
  /** `critical` trip (shutdown), °C. */
  criticalC: number | null;
}

/** How the device profile was chosen. */
export interface ProfileMatch {
  name: string;
  by: 'requested' | 'board' | 'cpu' | 'generic';
  /** A sentence a person can read: what matched, or why the generic profile was used. */
  reason: string;
  generic: boolean;
}

/** Everything the probe reports. `profile`/`profileMatch` are filled once a device profile is matched. */
export interface HardwareInfo {
  sysroot: string;
  /**
   * True when this process runs under user-mode emulation (qemu-user: an arm64 Node on an x86_64 kernel): the
   * board is what /proc and /sys say, but nothing timed here is a device's figure. False for a sysroot.
   */
  emulated: boolean;
  /** How emulation was told (host and process architectures, the emulator); null when not emulated. */
  emulation: EmulationInfo | null;
  /** Board name: device-tree model, DMI vendor + product, or the cpuinfo `Model` line. */
  board: string | null;
  boardInfo: BoardInfo;
  cpu: CpuInfo;
  caches: CacheSummary;
  /** /proc/meminfo MemTotal. */
  memoryBytes: number | null;
  /** /proc/meminfo MemAvailable at probe time. */
  memoryAvailableBytes: number | null;
  os: { name: string | null; kernel: string | null };
  accelerators: Accelerator[];
  /** Execution providers onnxruntime-node offers here; null when not probed (a sysroot). */
  executionProviders: ExecutionProviderInfo[] | null;
  capabilities: Capabilities;
  thermal: ThermalZone[];
  /** Name of the matched device profile. */
  profile: string | null;
  profileMatch: ProfileMatch | null;
  warnings: string[];
}
