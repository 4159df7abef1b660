// Explicit aliveness checks of a failover storage (compat: WAL-G's multistorage checks): a read check lists the
// storage root, a write check also writes and deletes CHECK_OBJECT; both give up after the check timeout.

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { StorageError, describeError } from '../../core/errors.ts';
import type { Storage } from '../types.ts';

/** compat: the object WAL-G's read-write check writes and deletes at the storage root. */
export const CHECK_OBJECT = 'wal-g_storage_check';

/** Runs `fn` with a signal that fires after `ms` or with `parent`; rejects with StorageError('alive check timeout') at `ms`. */
async function withTimeout<T>(ms: number, parent: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent?.reason);
  parent?.addEventListener('abort', onParent, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { ac.abort(); reject(new StorageError('alive check timeout')); }, ms);
  });
  try {
    return await Promise.race([fn(ac.signal), timeout]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParent);
  }
}

/** Read check: list the storage root. Write check: also put CHECK_OBJECT of `writeSize` random bytes and delete it. */
export async function checkStorage(s: Storage, opts: { write: boolean; writeSize: number; timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  await withTimeout(opts.timeoutMs, opts.signal, async (signal) => {
    try {
      for await (const _ of s.list('', { signal })) break;
    } catch (err) {
      throw new StorageError(`read check: list folder: ${describeError(err)}`, { cause: err });
    }
    if (!opts.write) return;
    try {
      await s.put(CHECK_OBJECT, () => randomStream(opts.writeSize), { signal, sizeHint: opts.writeSize });
    } catch (err) {
      throw new StorageError(`write check: put object ${CHECK_OBJECT}: ${describeError(err)}`, { cause: err });
    }
    try {
      await s.delete([CHECK_OBJECT], { signal });
    } catch (err) {
      throw new StorageError(`write check: delete object ${CHECK_OBJECT}: ${describeError(err)}`, { cause: err });
    }
  });
}

/** `size` random bytes, produced on demand in 256 KiB chunks. */
function randomStream(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) { this.push(null); return; }
      const n = Math.min(left, 256 * 1024);
      left -= n;
      this.push(randomBytes(n));
    },
  });
}
