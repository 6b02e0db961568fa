import { accessSync, closeSync, constants, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { EdgetuneError } from './errors.js';

/** Name of a temporary file beside `finalPath`; swept by name prefix `.edgetune-tmp-`. */
export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.edgetune-tmp-${basename(finalPath)}.${process.pid}.${randomBytes(4).toString('hex')}`);
}

/** Why files cannot be written into `dir` (missing, not a directory, not writable), or null when they can. */
function directoryProblem(dir: string): string | null {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    return `directory '${dir}' does not exist`;
  }
  if (!isDirectory) return `'${dir}' is not a directory`;
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return `directory '${dir}' is not writable`;
  }
  return null;
}

/**
 * Refuse (USAGE: bad input, exit 2) an output path whose directory does not exist, is not a directory or is not
 * writable. Commands call it on every output path before any work, so that nothing is computed or written in vain.
 */
export function requireOutputDirectory(finalPath: string, what = 'output'): void {
  const problem = directoryProblem(dirname(resolve(finalPath)));
  if (problem) throw new EdgetuneError('USAGE', `${what} '${finalPath}': ${problem}; nothing written`);
}

/** fsync a directory so that a rename inside it is durable. */
export function fsyncDirectory(dirPath: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirPath, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Write `data` to `finalPath` atomically: temp file in the same directory, fsync, rename, fsync the directory.
 * Readers see the old file or the whole new one, never a partial file; on error no temp file is left behind.
 */
export function writeFileAtomic(finalPath: string, data: Uint8Array | string): void {
  const tempPath = tempPathFor(finalPath);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(tempPath, 'wx', 0o644);
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tempPath, finalPath);
    fsyncDirectory(dirname(finalPath));
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tempPath, { force: true });
    // A directory that is not there is the caller's path, not a failure at run time (a command that did not check).
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' ? directoryProblem(dirname(resolve(finalPath))) : null;
    if (problem) throw new EdgetuneError('USAGE', `cannot write '${finalPath}': ${problem}`, { cause: error });
    throw error;
  }
}
