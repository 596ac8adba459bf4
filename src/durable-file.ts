/**
 * Small files written so that they survive a crash or power loss whole or not at all: key files,
 * backup manifests, roster drafts and notes, the restore marker. Used by the store and by the
 * commands that write such files, so it sits outside both.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from './errors.js';

/** Flushes a directory, so a rename in it survives power loss. */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems cannot flush a directory; the rename is still atomic there, only its
    // durability is left to the filesystem, which is all those filesystems offer anyway.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes to a temporary name, flushes, renames over `file` and flushes the directory. */
export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new AppError('internal', `cannot write ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  fsyncDirectory(dirname(file));
}
