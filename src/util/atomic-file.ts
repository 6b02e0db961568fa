import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Name of a temporary file beside `finalPath`; swept by name prefix `.edgetune-tmp-`. */
export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.edgetune-tmp-${basename(finalPath)}.${process.pid}.${randomBytes(4).toString('hex')}`);
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
    throw error;
  }
}
