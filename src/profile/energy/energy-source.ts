/**
 * The one interface every power/energy source implements, and the context sources read from: a sysroot (so tests
 * read captured files), a monotonic clock and a command runner (so tests feed captured command output).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One reading: a power gauge in watts (with per-rail watts) or raw energy counters in µJ (not yet wrap-corrected). */
export type EnergyReading =
  | { kind: 'power'; tNs: bigint; watts: number; rails: Record<string, number> }
  | { kind: 'energy'; tNs: bigint; countersUj: bigint[] };

/** Whether a figure came from a sensor or from a model of the device. */
export type EnergyMethod = 'measured' | 'estimated';

/** Identifiers accepted by `--energy` (besides auto and off). */
export const ENERGY_SOURCE_IDS = ['rapl', 'ina3221', 'pi5-pmic', 'hwmon', 'nvidia-smi', 'estimate'] as const;

/** A source id. */
export type EnergySourceId = (typeof ENERGY_SOURCE_IDS)[number];

/** An opened power/energy source. */
export interface EnergySource {
  readonly id: EnergySourceId;
  readonly method: EnergyMethod;
  /** What the figure covers, e.g. 'package', 'module input (VDD_IN)', 'soc+dram+io rails (lower bound)'. */
  readonly scope: string;
  /** Recommended sampling period; the sampler never goes faster. */
  readonly samplePeriodMs: number;
  /** For counter sources: the wrap range of each counter (µJ), in the order of `countersUj`. */
  readonly counterRangesUj?: readonly bigint[];
  /** Which files, rails or zones the figure is made of (for the report). */
  readonly detail: readonly string[];
  /** Take one reading, timestamped with the context clock. */
  read(): Promise<EnergyReading>;
}

/** A probe outcome: an opened source, or why it is not usable here. */
export type EnergyProbe = { ok: true; source: EnergySource } | { ok: false; id: EnergySourceId; reason: string };

/** Result of running an external command; never rejects. `exitCode` null when it could not be started or was killed. */
export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/** Runs an external command (vcgencmd, nvidia-smi); injected so tests feed captured output. */
export type CommandRunner = (command: string, args: readonly string[], timeoutMs: number) => Promise<CommandResult>;

/** Where sources read from. */
export interface SourceContext {
  /** Root of the filesystem to read /sys and /proc under; '/' on the device. */
  sysroot: string;
  /** Monotonic clock in nanoseconds (process.hrtime.bigint on the device). */
  clock: () => bigint;
  run: CommandRunner;
  /** Read a small text file (sysfs/procfs value), trimmed; rejects with the fs error (code EACCES, ENOENT, ...). */
  readText: (path: string) => Promise<string>;
}

/** The real small-file reader. */
export async function readTextFile(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

/** The real command runner: execFile with a time limit. */
export const execCommand: CommandRunner = (command, args, timeoutMs) =>
  new Promise((resolve) => {
    execFile(command, [...args], { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const code = typeof error.code === 'number' ? error.code : null;
        resolve({ exitCode: code, stdout: String(stdout ?? ''), stderr: String(stderr ?? ''), error: error.message });
      } else {
        resolve({ exitCode: 0, stdout: String(stdout), stderr: String(stderr) });
      }
    });
  });

/** A context for the running machine (or a sysroot with the real clock and runner). */
export function defaultSourceContext(sysroot = '/'): SourceContext {
  return { sysroot, clock: () => process.hrtime.bigint(), run: execCommand, readText: readTextFile };
}

/** An absolute path under the sysroot. */
export function underSysroot(ctx: Pick<SourceContext, 'sysroot'>, absolutePath: string): string {
  return ctx.sysroot === '/' ? absolutePath : join(ctx.sysroot, absolutePath);
}
