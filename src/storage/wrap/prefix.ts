// WALG_STORAGE_PREFIX: an extra sub-folder inside the configured storage (WAL-G uses it for Greenplum segments and
// passes it on to the prefetch child). Wraps any Storage so that every key lives under that folder.

import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';
import { folderPrefix } from '../types.ts';

/** Returns `storage` seen through the sub-folder `sub` ('' returns the storage unchanged). */
export function withPrefix(storage: Storage, sub: string): Storage {
  const p = folderPrefix(sub.replace(/^\/+|\/+$/g, ''));
  if (p === '') return storage;
  const strip = (k: string) => (k.startsWith(p) ? k.slice(p.length) : k);
  return {
    name: storage.name,
    type: storage.type,
    put: (key: string, body: Body, opts?: PutOptions) => storage.put(p + key, body, opts),
    get: (key: string, opts?: GetOptions) => storage.get(p + key, opts),
    stat: async (key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> => {
      const info = await storage.stat(p + key, opts);
      return { ...info, key: strip(info.key) };
    },
    exists: (key: string, opts?: { signal?: AbortSignal }) => storage.exists(p + key, opts),
    async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
      for await (const e of storage.list(p + folderPrefix(prefix), opts)) yield { ...e, key: strip(e.key) };
    },
    delete: (keys: readonly string[], opts?: { signal?: AbortSignal }) => storage.delete(keys.map((k) => p + k), opts),
    close: () => storage.close(),
  };
}
