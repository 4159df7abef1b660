// The daemon's wal-push with work ahead (issue 15): the requested segment is answered as soon as it is durably
// stored, while the next `.ready` segments of the same pg_wal keep uploading in the background. A later request
// for one of those waits for its upload (or finds WAL-G's marker once it is done) instead of uploading it again.

import { basename, dirname, join } from 'node:path';
import { stat } from 'node:fs/promises';
import { describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { ARCHIVE_STATUS_DIR, READY_SUFFIX, UploadMarkers, markerDirFor, renameReadyToDone } from '../wal/archive-status.ts';
import { uploadWalFile } from '../wal/push.ts';
import type { WalUploadOptions } from '../wal/push.ts';
import { DEFAULT_WAL_SEGMENT_SIZE, nextWalName } from '../wal-name.ts';

/** Options of WorkAhead. */
export interface WorkAheadOptions extends WalUploadOptions {
  /** Uploads ahead at most (WALG_UPLOAD_CONCURRENCY - 1; 0 turns work ahead off). */
  ahead: number;
  /** PGDATA, for the marker directory (markerDirFor). */
  pgdata?: string;
  /** PG_READY_RENAME: rename `.ready` to `.done` after an upload ahead. */
  readyRename: boolean;
  segmentSize?: number;
}

/**
 * wal-push for the daemon. Uploads ahead are recorded as wal-push's background uploads are (a marker per
 * segment), so a request that arrives after one finished, or after a daemon restart, is answered at once. They
 * run with no request's signal: a SIGTERM lets them finish (drain()).
 */
export class WorkAhead {
  private readonly opts: WorkAheadOptions;
  /** Absolute WAL path -> its upload ahead; true once stored and marked. */
  private readonly inflight = new Map<string, Promise<boolean>>();

  constructor(opts: WorkAheadOptions) {
    this.opts = opts;
  }

  /** Archives `walFilePath` (absolute); resolves once it is durably stored. Throws as uploadWalFile does. */
  async push(walFilePath: string, signal: AbortSignal): Promise<void> {
    const markers = new UploadMarkers(markerDirFor(walFilePath, this.opts.pgdata));
    const pending = this.inflight.get(walFilePath);
    this.startAhead(walFilePath, markers);
    if (pending ? await pending : await markers.isUploaded(walFilePath)) {
      await markers.unmark(walFilePath).catch((err) => {
        log.error(`unmark wal-g status for ${walFilePath} file failed due following error ${describeError(err)}`);
      });
      log.debug(`${basename(walFilePath)} was uploaded ahead`);
      return;
    }
    await uploadWalFile(walFilePath, { ...this.opts, signal });
  }

  /** Waits for every upload ahead in flight. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
  }

  /**
   * Claims the successors of `walFilePath` (up to the ahead limit in flight) synchronously, so that concurrent
   * requests never upload one twice, and uploads those that are `.ready` and not yet marked.
   */
  private startAhead(walFilePath: string, markers: UploadMarkers): void {
    const dir = dirname(walFilePath);
    let name = basename(walFilePath);
    for (let i = 0; i < this.opts.ahead && this.inflight.size < this.opts.ahead; i++) {
      try { name = nextWalName(name, this.opts.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE); } catch { return; }
      const path = join(dir, name);
      if (this.inflight.has(path)) continue;
      const p = this.uploadAhead(path, markers);
      this.inflight.set(path, p);
      void p.finally(() => this.inflight.delete(path));
    }
  }

  /**
   * One upload ahead: true when the segment is stored and marked (or was marked already); false when it is not
   * `.ready` or the upload failed (logged), so that its own request uploads it.
   */
  private async uploadAhead(path: string, markers: UploadMarkers): Promise<boolean> {
    const name = basename(path);
    try {
      if (!(await exists(join(dirname(path), ARCHIVE_STATUS_DIR, name + READY_SUFFIX)))) return false;
      if (await markers.isUploaded(path)) return true;
      await uploadWalFile(path, { ...this.opts, signal: undefined });
      await markers.mark(name);
    } catch (err) {
      log.error(`Error of background uploader: ${describeError(err)}`);
      return false;
    }
    if (this.opts.readyRename) await renameReadyToDone(dirname(path), name).catch((err) => log.error(describeError(err)));
    return true;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
