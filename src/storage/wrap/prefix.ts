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

/**
 * Returns `storage` with the top folder `from` (e.g. basebackups_005/) stored as `to` (e.g. catchup_005/): keys
 * under `from` are read and written under `to`, every other key as it is. catchup-push/-fetch run the base backup
 * code through it.
 */
export function withFolderRenamed(storage: Storage, from: string, to: string): Storage {
  const out = (k: string) => (k.startsWith(from) ? to + k.slice(from.length) : k);
  const back = (k: string) => (k.startsWith(to) ? from + k.slice(to.length) : k);
  return {
    name: storage.name,
    type: storage.type,
    put: (key: string, body: Body, opts?: PutOptions) => storage.put(out(key), body, opts),
    get: (key: string, opts?: GetOptions) => storage.get(out(key), opts),
    stat: async (key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> => {
      const info = await storage.stat(out(key), opts);
      return { ...info, key: back(info.key) };
    },
    exists: (key: string, opts?: { signal?: AbortSignal }) => storage.exists(out(key), opts),
    async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
      for await (const e of storage.list(out(prefix), opts)) yield { ...e, key: back(e.key) };
    },
    delete: (keys: readonly string[], opts?: { signal?: AbortSignal }) => storage.delete(keys.map(out), opts),
    close: () => storage.close(),
  };
}
