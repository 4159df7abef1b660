// Raw object transfer between two storages, shared by `copy` and `st transfer`: byte for byte (no decompression or
// re-encryption), resumable (an object already at the target with the same size is skipped), and ordered so that a
// completion marker (a backup's stop sentinel) is written only after its data is there, and deleted from a source
// before its data, so neither storage ever shows a complete-looking backup with missing parts.

import { mapLimit } from '../core/concurrency.ts';
import { CancelledError, StorageError, WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from './types.ts';

/** Lists every object below `prefix` ('' = everything) as key -> size. */
export async function inventory(s: Storage, prefix = '', signal?: AbortSignal): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const e of s.list(prefix, { recursive: true, signal })) if (e.type === 'obj') out.set(e.key, e.size);
  return out;
}

/** Copies one object byte for byte. The target put is atomic, so an interrupted copy leaves nothing visible. */
export async function copyObject(from: Storage, to: Storage, key: string, targetKey = key, opts: { signal?: AbortSignal; sizeHint?: number } = {}): Promise<void> {
  let src;
  try {
    src = await from.get(key, { signal: opts.signal });
  } catch (err) {
    throw new StorageError(`read source object '${key}': ${describeError(err)}`, { cause: err });
  }
  try {
    await to.put(targetKey, src, { signal: opts.signal, sizeHint: opts.sizeHint });
  } catch (err) {
    src.destroy();
    if (err instanceof CancelledError) throw err;
    throw new StorageError(`write destination object '${targetKey}': ${describeError(err)}`, { cause: err });
  }
}

/**
 * Runs fn over items with at most `limit` at a time (mapLimit) and returns how many failed. With failFast (the
 * default), or on a cancellation, the first failure stops new starts, the calls in flight finish, and it is
 * rethrown; with failFast false every other failure goes to onError and the run goes on.
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>, opts: { failFast?: boolean; onError?: (t: T, err: unknown) => void } = {}): Promise<number> {
  let failed = 0;
  let stop: unknown;
  await mapLimit(items, limit, async (item) => {
    if (stop !== undefined) return;
    try { await fn(item); } catch (err) {
      failed++;
      if (opts.failFast !== false || err instanceof CancelledError) { stop ??= err; return; }
      opts.onError?.(item, err);
    }
  });
  if (stop !== undefined) throw stop;
  return failed;
}

/** One entry of a copy plan: which object, where to, and when (lower phase first; sentinels last). */
export interface CopyEntry {
  source: string;
  target: string;
  size: number;
  /** Publication order: payload 0, metadata 1, backup commit (sentinel) 2 (+ sequence for delta chains). */
  phase: number;
  sequence: number;
}

/**
 * Executes a copy plan: lists the target once, skips entries already there with the same size (so a rerun resumes),
 * refuses entries whose target exists with another size, then copies phase by phase (concurrently within a phase).
 * Returns the number of objects copied and skipped.
 */
export async function executePlan(from: Storage, to: Storage, entries: readonly CopyEntry[], opts: { concurrency?: number; signal?: AbortSignal } = {}): Promise<{ copied: number; skipped: number }> {
  const existing = await inventory(to, '', opts.signal);
  const todo: CopyEntry[] = [];
  let skipped = 0;
  for (const e of entries) {
    const have = existing.get(e.target);
    if (have === undefined) { todo.push(e); continue; }
    if (have !== e.size) throw new WalgError(`destination object '${e.target}' conflicts with source: source size ${e.size}, destination size ${have}`);
    log.debug(`Skipping existing object '${e.target}'`);
    skipped++;
  }
  const orders = [...new Set(todo.map((e) => e.phase * 1e6 + e.sequence))].sort((a, b) => a - b);
  let copied = 0;
  for (const o of orders) {
    const group = todo.filter((e) => e.phase * 1e6 + e.sequence === o);
    await forEachLimit(group, opts.concurrency ?? 8, async (e) => {
      await copyObject(from, to, e.source, e.target, { signal: opts.signal, sizeHint: e.size });
      copied++;
      log.info(`Copied '${e.source}' to '${e.target}' without transformation.`);
    });
  }
  return { copied, skipped };
}

/** A set of files moved together: `data` first, then `sentinel` (if any) once the data has appeared at the target. */
export interface MoveGroup { data: string[]; sentinel?: string }

export interface MoveOptions {
  /** Copy only: leave the source objects in place (st transfer --preserve). */
  preserve: boolean;
  /** Stop at the first failure (--fail-fast); otherwise log it and go on with the other groups. */
  failFast: boolean;
  concurrency: number;
  /** How many times to check that a copied object is visible at the target before deleting it (0 = no checks). */
  appearanceChecks: number;
  appearanceIntervalMs: number;
  signal?: AbortSignal;
}

async function waitAppeared(to: Storage, key: string, opts: MoveOptions): Promise<void> {
  if (opts.appearanceChecks <= 0) return;
  for (let i = 0; i < opts.appearanceChecks; i++) {
    if (await to.exists(key, { signal: opts.signal })) return;
    await new Promise((r) => setTimeout(r, opts.appearanceIntervalMs));
  }
  throw new StorageError(`file '${key}' did not appear in the target storage after ${opts.appearanceChecks} checks`);
}

/**
 * Moves groups of objects from `from` to `to` (st transfer). Per group: copy and verify the data objects, then the
 * sentinel; unless preserving, delete the sentinel from the source first and the data after it (compat: WAL-G, so
 * neither side ever shows a sentinel without its data). Returns the number of failed groups (0 = all moved).
 */
export async function moveGroups(from: Storage, to: Storage, groups: readonly MoveGroup[], opts: MoveOptions): Promise<number> {
  const total = groups.reduce((n, g) => n + g.data.length + (g.sentinel ? 1 : 0), 0);
  let left = total;
  const moveOne = async (key: string) => {
    await copyObject(from, to, key, key, { signal: opts.signal });
    await waitAppeared(to, key, opts);
  };
  const done = (key: string) => log.info(`File is transferred (${--left} left): '${key}'`);
  // Single files move `concurrency` at a time; a backup's files are spread over the workers one backup at a time.
  const single = groups.every((g) => g.data.length <= 1 && !g.sentinel);
  return forEachLimit(groups, single ? opts.concurrency : 1, async (g) => {
    await forEachLimit(g.data, opts.concurrency, moveOne);
    if (g.sentinel) await moveOne(g.sentinel);
    if (!opts.preserve) {
      if (g.sentinel) await from.delete([g.sentinel], { signal: opts.signal });
      await from.delete(g.data, { signal: opts.signal });
    }
    for (const k of g.data) done(k);
    if (g.sentinel) done(g.sentinel);
  }, { failFast: opts.failFast, onError: (g, err) => log.error(`error with file '${g.sentinel ?? g.data[0]}': ${describeError(err)}`) });
}
