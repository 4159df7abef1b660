// Local archive status for wal-push: Postgres' own `pg_wal/archive_status/<wal>.ready|.done` files, and WAL-G's
// marker files `walg_data/walg_archive_status/<wal>` that say "a background upload already stored this file".

import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { walNameWithoutExtension } from '../wal-name.ts';

/** Postgres' archive status sub-directory of pg_wal. */
export const ARCHIVE_STATUS_DIR = 'archive_status';
/** Suffix of a WAL file waiting to be archived. */
export const READY_SUFFIX = '.ready';
/** Suffix of an archived WAL file. */
export const DONE_SUFFIX = '.done';

/**
 * Directory of WAL-G's upload markers for a pushed file.
 * compat: with PGDATA set, WAL-G uses `<PGDATA>/pg_wal` (or `pg_xlog`) + `/walg_data/walg_archive_status`.
 * Without PGDATA WAL-G falls back to `<os tmp>/walg_data/...`, which every cluster on the host would share (a
 * marker of one cluster could make another skip a segment it never stored); we use the pushed file's own
 * directory instead. Under archive_command (cwd = PGDATA, %p = pg_wal/X) both rules give the same directory.
 */
export function markerDirFor(walFilePath: string, pgdata?: string): string {
  let walDir = dirname(resolve(walFilePath));
  if (pgdata) {
    const found = ['pg_wal', 'pg_xlog'].map((d) => join(pgdata, d)).find((d) => existsSync(d));
    if (found) walDir = resolve(found);
  }
  return join(walDir, 'walg_data', 'walg_archive_status');
}

/** WAL-G's marker files: one empty file per WAL uploaded ahead of time by a background upload. */
export class UploadMarkers {
  readonly dir: string;
  constructor(dir: string) { this.dir = dir; }

  private path(walPathOrName: string): string {
    return join(this.dir, walNameWithoutExtension(walPathOrName));
  }

  /** True when a marker exists for the file (path or name; `.ready` and other last extensions are ignored). */
  async isUploaded(walPathOrName: string): Promise<boolean> {
    return stat(this.path(walPathOrName)).then(() => true, () => false);
  }

  /** Creates the marker (and its directory). */
  async mark(walPathOrName: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(this.path(walPathOrName), '');
  }

  /** Removes the marker; throws when it cannot be removed (the caller only logs that). */
  async unmark(walPathOrName: string): Promise<void> {
    await unlink(this.path(walPathOrName));
  }
}

/** Renames `<walDir>/archive_status/<walName>.ready` to `.done` (PG_READY_RENAME). Throws on failure. */
export async function renameReadyToDone(walDir: string, walName: string): Promise<void> {
  const d = join(walDir, ARCHIVE_STATUS_DIR);
  await rename(join(d, walName + READY_SUFFIX), join(d, walName + DONE_SUFFIX));
}
