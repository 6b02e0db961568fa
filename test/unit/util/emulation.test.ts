import { describe, expect, it } from 'vitest';
import { detectEmulation, isEmulatedArch, isaOf, type EmulationReader } from '../../../src/util/emulation.js';

function reader(files: Record<string, string>, links: Record<string, string> = {}, dirs: Record<string, string[]> = {}): EmulationReader {
  return {
    readText: (p) => files[p] ?? null,
    list: (p) => dirs[p] ?? null,
    readLink: (p) => links[p] ?? null,
  };
}

const NODE = '/opt/node/bin/node';

describe('isEmulatedArch', () => {
  it('an arm64 process on an x86_64 kernel (and the reverse) is emulated', () => {
    expect(isEmulatedArch('x86_64', 'arm64')).toBe(true);
    expect(isEmulatedArch('aarch64', 'x64')).toBe(true);
  });
  it('a process of the kernel\'s instruction set, 32-bit on 64-bit included, is native', () => {
    expect(isEmulatedArch('x86_64', 'x64')).toBe(false);
    expect(isEmulatedArch('aarch64', 'arm64')).toBe(false);
    expect(isEmulatedArch('aarch64', 'arm')).toBe(false);
    expect(isEmulatedArch('x86_64', 'ia32')).toBe(false);
  });
  it('unknown architectures tell nothing', () => {
    expect(isEmulatedArch(null, 'arm64')).toBeNull();
    expect(isEmulatedArch('riscv64', 'arm64')).toBeNull();
    expect(isaOf('armv7l')).toBe('arm');
  });
});

describe('detectEmulation', () => {
  it('native: kernel and process agree and /proc/thread-self/exe is the program', () => {
    const fs = reader({ '/proc/sys/kernel/arch': 'x86_64\n' }, { '/proc/self/exe': NODE, '/proc/thread-self/exe': NODE });
    expect(detectEmulation({ reader: fs, processArch: 'x64', unameMachine: 'x86_64' })).toBeNull();
  });
  it('qemu-user: the kernel arch, uname and the emulator binary behind /proc/thread-self/exe', () => {
    const fs = reader({ '/proc/sys/kernel/arch': 'x86_64\n' }, { '/proc/self/exe': NODE, '/proc/thread-self/exe': '/usr/bin/qemu-aarch64' });
    const e = detectEmulation({ reader: fs, processArch: 'arm64', unameMachine: 'aarch64' });
    expect(e).not.toBeNull();
    expect(e!.hostArch).toBe('x86_64');
    expect(e!.guestArch).toBe('aarch64');
    expect(e!.emulator).toBe('qemu-aarch64');
    expect(e!.evidence).toMatch(/kernel is x86_64 .* process is arm64/);
  });
  it('a kernel without /proc/sys/kernel/arch: /proc/thread-self/exe alone tells', () => {
    const fs = reader({}, { '/proc/self/exe': NODE, '/proc/thread-self/exe': '/usr/bin/qemu-aarch64-static' });
    const e = detectEmulation({ reader: fs, processArch: 'arm64', unameMachine: 'aarch64' });
    expect(e?.hostArch).toBeNull();
    expect(e?.emulator).toBe('qemu-aarch64-static');
  });
  it('the arch mismatch alone, with the binfmt_misc handler named when /proc/thread-self is not there', () => {
    const bin = '/proc/sys/fs/binfmt_misc';
    const fs = reader(
      { '/proc/sys/kernel/arch': 'x86_64', [`${bin}/qemu-aarch64`]: 'enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: F\n', [`${bin}/qemu-arm`]: 'enabled\ninterpreter /usr/bin/qemu-arm\n' },
      {},
      { [bin]: ['qemu-arm', 'qemu-aarch64', 'register', 'status'] },
    );
    expect(detectEmulation({ reader: fs, processArch: 'arm64', unameMachine: 'aarch64' })?.emulator).toBe('qemu-aarch64');
  });
});
