/** Pure capability rules: kernel architecture + cpuinfo flags → what the CPU can do for inference. */
import type { Capabilities, IsaFamily } from './hardware-info.js';

/** ISA family of a kernel or process architecture name ('aarch64', 'arm64', 'armv7l', 'arm', 'x86_64', 'x64'). */
export function isaFamily(arch: string | null): IsaFamily | null {
  if (arch === null) return null;
  if (arch === 'aarch64' || arch === 'arm64' || arch === 'aarch64_be') return 'arm64';
  if (arch === 'arm' || /^armv[5-8]/.test(arch)) return 'arm32';
  if (arch === 'x86_64' || arch === 'x64' || arch === 'amd64' || /^i[3-6]86$/.test(arch) || arch === 'ia32') return 'x86';
  return null;
}

/** Capabilities with every field unknown. */
export function unknownCapabilities(): Capabilities {
  return { int8Dot: null, fp16Arith: null, i8mm: null, bf16: null, vnni: null, avx2: null, fma: null, f16c: null, avx512: null, amxInt8: null, neon: null, sve: null };
}

/**
 * Capabilities from the flags the kernel shows this process. ARM tokens: arm64 hwcap_str[] (`asimddp`, `asimdhp`,
 * `i8mm`, `bf16`, `sve`); the 32-bit compat view shows `neon` and, on newer kernels, the same dot/fp16 tokens.
 * x86 tokens: `avx2`, `fma`, `f16c`, `avx512f`, `avx512_vnni`, `avx_vnni`, `avx512_bf16`, `avx512_fp16`, `amx_int8`.
 * A missing token means "not usable from this kernel", which is what matters for running code.
 */
export function capabilitiesFromFlags(isa: IsaFamily | null, flags: readonly string[] | null): Capabilities {
  if (flags === null || isa === null) return unknownCapabilities();
  const has = (f: string): boolean => flags.includes(f);
  if (isa === 'x86') {
    const vnni = has('avx512_vnni') || has('avx_vnni');
    return {
      int8Dot: vnni,
      fp16Arith: has('avx512_fp16'),
      i8mm: false,
      bf16: has('avx512_bf16') || has('amx_bf16'),
      vnni,
      avx2: has('avx2'),
      fma: has('fma'),
      f16c: has('f16c'),
      avx512: has('avx512f'),
      amxInt8: has('amx_int8'),
      neon: false,
      sve: false,
    };
  }
  return {
    int8Dot: has('asimddp'),
    fp16Arith: has('asimdhp'),
    i8mm: has('i8mm'),
    bf16: has('bf16'),
    vnni: false,
    avx2: false,
    fma: false,
    f16c: false,
    avx512: false,
    amxInt8: false,
    neon: isa === 'arm64' ? has('asimd') : has('neon'),
    sve: has('sve'),
  };
}

/** Infer the kernel architecture from cpuinfo when /proc/sys/kernel/arch is unreadable. */
export function archFromCpuinfo(cpuArchitecture: string | undefined, flags: readonly string[] | null): string | null {
  if (flags !== null && flags.includes('lm') && flags.includes('sse2')) return 'x86_64';
  if (cpuArchitecture === '8' && flags !== null && flags.includes('asimd')) return 'aarch64';
  if (cpuArchitecture !== undefined && /^[5-8]/.test(cpuArchitecture)) return cpuArchitecture === '8' ? null : `armv${cpuArchitecture}l`;
  return null;
}
