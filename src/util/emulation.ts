/**
 * Is this process emulated? Under user-mode emulation (qemu-user) the emulator answers uname() with the guest's
 * machine ('aarch64') and fakes /proc/self/{exe,maps,auxv}, but /proc/sys/kernel/arch is the real kernel's
 * ('x86_64'): a process whose instruction set is not the kernel's (an arm64 Node on an x86_64 kernel) is emulated.
 * A 32-bit process on its own 64-bit kernel (arm on aarch64, ia32 on x86_64) is native. Where the kernel has no
 * /proc/sys/kernel/arch (before Linux 6.1), /proc/thread-self/exe tells: qemu-user fakes /proc/self/exe (the guest
 * program) but not that link, which names the emulator's own binary. Nothing measured under
 * emulation (latency, energy, thermal) is a device's figure: `hw` and `profile` JSON say `emulated: true`.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { machine } from 'node:os';

/** The reads detection needs (tests pass their own). */
export interface EmulationReader {
  /** File text, null when missing or unreadable. */
  readText(path: string): string | null;
  /** Directory entries, null when missing or unreadable. */
  list(path: string): string[] | null;
  /** A symlink's target, null when missing or unreadable. */
  readLink(path: string): string | null;
}

const liveReader: EmulationReader = {
  readText(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
  list(path) {
    try {
      return readdirSync(path).sort();
    } catch {
      return null;
    }
  },
  readLink(path) {
    try {
      return readlinkSync(path);
    } catch {
      return null;
    }
  },
};

/** 'arm' or 'x86' for a kernel machine name or a Node process.arch; null when neither. */
export function isaOf(arch: string | null): 'arm' | 'x86' | null {
  if (arch === null) return null;
  if (arch === 'arm64' || arch === 'arm' || /^aarch64/.test(arch) || /^armv[5-8]/.test(arch)) return 'arm';
  if (arch === 'x86_64' || arch === 'x64' || arch === 'amd64' || arch === 'ia32' || /^i[3-6]86$/.test(arch)) return 'x86';
  return null;
}

/** How emulation was told, when it was. */
export interface EmulationInfo {
  /** The real kernel's architecture (/proc/sys/kernel/arch), e.g. 'x86_64'; null where the kernel does not say. */
  hostArch: string | null;
  /** Node's process.arch of the emulated process, e.g. 'arm64'. */
  processArch: string;
  /** The machine the emulator reports through uname() ('aarch64'): the architecture the process believes it has. */
  guestArch: string | null;
  /** The emulator's binary ('qemu-aarch64', from /proc/thread-self/exe), else the binfmt_misc handler for this ISA. */
  emulator: string | null;
  /** One sentence: what was compared. */
  evidence: string;
}

/** Pure rule: emulated when the process's ISA family is not the kernel's (null when either is unknown). */
export function isEmulatedArch(kernelArch: string | null, processArch: string | null): boolean | null {
  const kernel = isaOf(kernelArch);
  const proc = isaOf(processArch);
  if (kernel === null || proc === null) return null;
  return kernel !== proc;
}

/** Caller input for detectEmulation (defaults: this machine). */
export interface DetectEmulationOptions {
  /** Default: this machine's files. */
  reader?: EmulationReader;
  processArch?: string;
  /** uname() machine as this process sees it; default os.machine(). */
  unameMachine?: string | null;
}

/** EmulationInfo when this (live) process runs emulated, null when it runs natively or it cannot be told. */
export function detectEmulation(options: DetectEmulationOptions = {}): EmulationInfo | null {
  const fs = options.reader ?? liveReader;
  const processArch = options.processArch ?? process.arch;
  const kernelArch = fs.readText('/proc/sys/kernel/arch')?.trim() || null;
  const self = fs.readLink('/proc/self/exe');
  const thread = fs.readLink('/proc/thread-self/exe');
  // The program the kernel runs, when it is not the one this process believes it is (qemu fakes only /proc/self).
  const realExe = self !== null && thread !== null && thread !== self ? thread : null;
  const realExeName = realExe === null ? null : basename(realExe);
  const byArch = isEmulatedArch(kernelArch, processArch) === true;
  if (!byArch && realExeName === null) return null;
  const guestArch = options.unameMachine !== undefined ? options.unameMachine : unameMachine();
  const evidence: string[] = [];
  if (byArch) evidence.push(`the kernel is ${kernelArch} (/proc/sys/kernel/arch) but this process is ${processArch}${guestArch !== null && guestArch !== kernelArch ? ` and uname() says ${guestArch}` : ''}`);
  if (realExe !== null) evidence.push(`the kernel runs ${realExe} (/proc/thread-self/exe) while /proc/self/exe says ${self}`);
  return {
    hostArch: kernelArch !== null && isaOf(kernelArch) !== isaOf(processArch) ? kernelArch : null,
    processArch,
    guestArch,
    emulator: realExeName ?? binfmtHandler(fs, processArch),
    evidence: evidence.join('; '),
  };
}

/** The last path segment. */
function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function unameMachine(): string | null {
  try {
    return machine();
  } catch {
    return null;
  }
}

/** The enabled binfmt_misc entry whose interpreter emulates `processArch` (e.g. 'qemu-aarch64'), if one is visible. */
function binfmtHandler(fs: EmulationReader, processArch: string): string | null {
  const dir = '/proc/sys/fs/binfmt_misc';
  const nodeArchOf: Record<string, string> = { aarch64: 'arm64', arm: 'arm', armeb: 'arm', x86_64: 'x64', i386: 'ia32' };
  for (const name of fs.list(dir) ?? []) {
    if (name === 'register' || name === 'status') continue;
    const text = fs.readText(`${dir}/${name}`);
    if (text === null || !/^enabled$/m.test(text)) continue;
    const interpreter = /^interpreter (.+)$/m.exec(text)?.[1] ?? '';
    const target = /qemu-([a-z0-9_]+)/.exec(`${name} ${interpreter}`)?.[1] ?? null;
    if (target !== null && nodeArchOf[target] === processArch) return name;
  }
  return null;
}
