import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Read access to a Linux file tree rooted at `root` ('/' for this machine, or a captured tree). Every probe read
 * goes through one of these, so the whole probe runs unchanged against test/fixtures/sysroots/<board>/.
 * Reads never throw: a missing or unreadable file is `null`, and the caller turns that into a warning.
 */
export interface SysrootReader {
  /** Absolute path of the root. */
  readonly root: string;
  /** Whether `root` is the live system ('/'). */
  readonly live: boolean;
  /** The file's bytes, or null when it is missing, a directory or unreadable. */
  readBytes(path: string): Buffer | null;
  /** The file as UTF-8 text, or null. */
  readText(path: string): string | null;
  /** Entry names of a directory (sorted), or null when it is missing or unreadable. */
  list(path: string): string[] | null;
  /** Whether the path exists (file or directory). */
  exists(path: string): boolean;
}

/** Largest file the probe reads; sysfs/procfs values are tiny, /proc/cpuinfo on a large server is ~1 MB. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** A reader over the tree at `sysroot` (default '/'). Paths passed to it are absolute inside that tree. */
export function createSysrootReader(sysroot = '/'): SysrootReader {
  const root = resolve(sysroot);
  const at = (path: string): string => join(root, path);
  return {
    root,
    live: root === '/',
    readBytes(path) {
      try {
        const bytes = readFileSync(at(path));
        return bytes.length > MAX_FILE_BYTES ? bytes.subarray(0, MAX_FILE_BYTES) : bytes;
      } catch {
        return null;
      }
    },
    readText(path) {
      const bytes = this.readBytes(path);
      return bytes === null ? null : bytes.toString('utf8');
    },
    list(path) {
      try {
        return readdirSync(at(path)).sort(naturalCompare);
      } catch {
        return null;
      }
    },
    exists(path) {
      try {
        statSync(at(path));
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** Compare names so that cpu2 < cpu10 and index2 < index10. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
