// Durability of a restore by file system instead of by file: syncfs(2) once for each file system the restore wrote
// to (the data directory and every tablespace location), instead of an fsync per restored file. Since Linux 5.8
// syncfs reports every writeback error the file system saw since the descriptor it is called on was opened, so the
// descriptors are opened before the first file is written, and an error fails the restore as a failed fsync would.
// PostgreSQL offers the same choice for its own start-up sync (recovery_init_sync_method = syncfs).

import { openSync, closeSync, statSync, constants } from 'node:fs';
import { release } from 'node:os';
import { LocalFileError } from '../core/errors.ts';
import { walgNative } from '../core/native.ts';

/** How restored files are made durable (WALG_RESTORE_SYNC_METHOD). */
export type RestoreSyncMethod = 'fsync' | 'syncfs';

/** True when this kernel's syncfs(2) reports writeback errors (Linux 5.8 and later); `rel` is os.release(). */
export function syncfsReportsErrors(rel: string = release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  const major = Number(m[1]), minor = Number(m[2]);
  return major > 5 || (major === 5 && minor >= 8);
}

/**
 * The sync method for `setting` (WALG_RESTORE_SYNC_METHOD; unset: fsync, as WAL-G). syncfs is opt-in: it also
 * writes back whatever other processes left dirty on the same file system (a PostgreSQL running with fsync=off
 * beside the restore made it 2-3x slower in bench/backup.ts), which pays off only for restores of very many small
 * files. Throws `invalid(message)` for any other value, and for syncfs on a kernel whose syncfs reports no errors.
 */
export function restoreSyncMethod(setting: string | undefined, invalid: (msg: string) => Error, rel: string = release()): RestoreSyncMethod {
  if (setting === undefined || setting === '' || setting === 'fsync') return 'fsync';
  if (setting === 'syncfs') {
    if (!syncfsReportsErrors(rel)) throw invalid(`WALG_RESTORE_SYNC_METHOD=syncfs needs Linux 5.8 or later (syncfs reports no write errors on ${rel})`);
    return 'syncfs';
  }
  throw invalid(`WALG_RESTORE_SYNC_METHOD must be fsync or syncfs, got '${setting}'`);
}

/** One open descriptor per file system of the given directories, synced together by syncAll(). */
export class FileSystemSync {
  readonly #fds: Array<{ fd: number; path: string }> = [];
  readonly #syncFsClose: (fd: number) => Promise<void>;

  /**
   * Opens a descriptor on each distinct file system among `dirs` (existing directories). Call before writing.
   * `syncFsClose` is the native syncfs-and-close (replaced by tests to inject a failure).
   */
  constructor(dirs: readonly string[], syncFsClose: (fd: number) => Promise<void> = (fd) => walgNative().syncFsClose(fd)) {
    this.#syncFsClose = syncFsClose;
    const devices = new Set<number>();
    try {
      for (const path of dirs) {
        const dev = statSync(path).dev;
        if (devices.has(dev)) continue;
        devices.add(dev);
        this.#fds.push({ fd: openSync(path, constants.O_RDONLY | constants.O_DIRECTORY), path });
      }
    } catch (err) {
      this.close();
      throw new LocalFileError(`cannot open '${dirs.join("', '")}' to sync its file system: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * syncfs on every file system, then closes the descriptors. Rejects with LocalFileError naming the directory whose
   * file system reported an error: the restore is not durable then.
   */
  async syncAll(): Promise<void> {
    const fds = this.#fds.splice(0);
    const results = await Promise.allSettled(fds.map(({ fd }) => this.#syncFsClose(fd)));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      const err = (results[failed] as PromiseRejectedResult).reason as Error;
      throw new LocalFileError(`failed to sync the file system of '${fds[failed]!.path}' (syncfs): ${err.message}`, { cause: err });
    }
  }

  /** Closes what syncAll did not (a failed restore). */
  close(): void {
    for (const { fd } of this.#fds.splice(0)) {
      try { closeSync(fd); } catch { /* already gone */ }
    }
  }
}
