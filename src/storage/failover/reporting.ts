// The reporting wrapper of a failover member: every operation's outcome feeds the status cache's moving average
// (compat: WAL-G's stats collector), weighted by what the operation cost.

import { CancelledError, ObjectNotFoundError } from '../../core/errors.ts';
import type { Body, PutOptions, Storage } from '../types.ts';
import { WEIGHT } from './status-cache.ts';

/**
 * Returns `s` with `report(ok, weight)` called once per settled operation: ok for success and for "not found" (an
 * answer, not a failure of the storage); nothing for a cancelled call; list reports when it ends or fails.
 */
export function withReporting(s: Storage, report: (ok: boolean, weight: number) => void): Storage {
  const track = async <T>(weight: number, p: Promise<T>): Promise<T> => {
    try {
      const v = await p;
      report(true, weight);
      return v;
    } catch (err) {
      // A missing object is an answer, not a failure of the storage; a cancelled call says nothing either way.
      if (err instanceof ObjectNotFoundError) report(true, weight);
      else if (!(err instanceof CancelledError)) report(false, weight);
      throw err;
    }
  };
  const bodySize = (b: Body, o?: PutOptions) => o?.sizeHint ?? (Buffer.isBuffer(b) ? b.length : 0);
  return {
    name: s.name,
    type: s.type,
    put: (k, b, o) => track(WEIGHT.bytes(bodySize(b, o)), s.put(k, b, o)),
    get: (k, o) => track(WEIGHT.exists, s.get(k, o)),
    stat: (k, o) => track(WEIGHT.exists, s.stat(k, o)),
    exists: (k, o) => track(WEIGHT.exists, s.exists(k, o)),
    async *list(p, o) {
      try {
        yield* s.list(p, o);
      } catch (err) {
        if (!(err instanceof CancelledError)) report(false, WEIGHT.list);
        throw err;
      }
      report(true, WEIGHT.list);
    },
    delete: (keys, o) => track(WEIGHT.delete(keys.length), s.delete(keys, o)),
    close: () => s.close(),
  };
}
