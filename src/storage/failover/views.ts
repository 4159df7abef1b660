// Read and write views over several failover storages: the merged read view (WAL-G's "merge all storages"
// folder) and the routed view of a process that both writes and reads (the daemon).

import { ObjectNotFoundError } from '../../core/errors.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';
import type { StorageSet } from './storage-set.ts';

/**
 * One Storage over several (in priority order), as WAL-G's "merge all storages" folder: get/stat/exists take the
 * first storage that has the key; list yields each key once, from the first storage that has it; put updates the
 * first storage holding the key, else writes to the first one; delete removes from all. name lists the members
 * space-separated (WAL-G logs them as "[default failover1]").
 */
export function mergedStorage(members: ReadonlyArray<{ name: string; storage: Storage }>): Storage {
  if (members.length === 1) return members[0]!.storage;
  const all = members.map((m) => m.storage);
  async function firstWith<T>(key: string, fn: (s: Storage) => Promise<T>): Promise<T> {
    let notFound: unknown;
    for (const s of all) {
      try { return await fn(s); } catch (err) {
        if (!(err instanceof ObjectNotFoundError)) throw err;
        notFound ??= err;
      }
    }
    throw notFound ?? new ObjectNotFoundError(key);
  }
  return {
    name: members.map((m) => m.name).join(' '),
    type: 'multi',
    async put(key: string, body: Body, opts?: PutOptions) {
      for (const s of all) if (await s.exists(key, opts)) return s.put(key, body, opts);
      return all[0]!.put(key, body, opts);
    },
    get: (key: string, opts?: GetOptions) => firstWith(key, (s) => s.get(key, opts)),
    stat: (key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> => firstWith(key, (s) => s.stat(key, opts)),
    async exists(key: string, opts?: { signal?: AbortSignal }) {
      for (const s of all) if (await s.exists(key, opts)) return true;
      return false;
    },
    async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
      const seen = new Set<string>();
      for (const s of all) {
        for await (const e of s.list(prefix, opts)) {
          if (seen.has(e.key)) continue;
          seen.add(e.key);
          yield e;
        }
      }
    },
    async delete(keys: readonly string[], opts?: { signal?: AbortSignal }) {
      for (const s of all) await s.delete(keys, opts);
    },
    async close() { /* the members belong to the StorageSet */ },
  };
}

/**
 * For a process that both writes and reads (the daemon): writes (put, delete) go to the first alive storage,
 * reads to the merged alive storages; each choice is made on first use and kept for the run.
 */
export function routedStorage(set: StorageSet, signal?: AbortSignal): Storage {
  let writer: Promise<Storage> | undefined;
  let reader: Promise<Storage> | undefined;
  const w = () => (writer ??= set.firstAlive(signal).then((m) => m.storage));
  const r = () => (reader ??= set.allAlive(signal).then((all) => mergedStorage(all)));
  return {
    name: set.names()[0]!,
    type: 'multi',
    put: async (k, b, o) => (await w()).put(k, b, o),
    delete: async (k, o) => (await w()).delete(k, o),
    get: async (k, o) => (await r()).get(k, o),
    stat: async (k, o) => (await r()).stat(k, o),
    exists: async (k, o) => (await r()).exists(k, o),
    async *list(p, o) { yield* (await r()).list(p, o); },
    async close() { /* the members belong to the StorageSet */ },
  };
}
