// Failover storages (WALG_FAILOVER_STORAGES): the primary storage ('default') plus named failovers from the config
// file, their aliveness checks and the status cache, and the merged read view over several alive storages.
// compat (WAL-G's internal/multistorage): failovers are ordered by name after the primary; a writer uses the first
// alive storage (read-write check), a reader all alive ones (read-only check) with "found first wins"; statuses are
// cached in memory and in ~/.walg_storage_{ro,rw}_status_cache for WALG_FAILOVER_STORAGES_CACHE_LIFETIME and
// move with an exponential moving average of operation results between explicit checks.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Config } from '../../config/load.ts';
import type { SettingSource } from '../../config/load.ts';
import { findSetting } from '../../config/settings.ts';
import { CancelledError, ConfigError, ObjectNotFoundError, StorageError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { configuredStorageType, openStorage } from '../registry.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

/** The primary storage's name; reserved (a failover may not use it). */
export const DEFAULT_STORAGE = 'default';
/** compat: the object WAL-G's read-write check writes and deletes at the storage root. */
export const CHECK_OBJECT = 'wal-g_storage_check';

/** Check and cache settings (WALG_FAILOVER_STORAGES_CHECK*, _CACHE_LIFETIME). */
export interface FailoverSettings {
  /** Aliveness checks on (default: on when failovers are configured). Off: every storage counts as alive. */
  check: boolean;
  checkTimeoutMs: number;
  checkSize: number;
  cacheLifetimeMs: number;
  /** Directory of the status cache files (default: the home directory, else /tmp). */
  cacheDir?: string;
}

/** Reads the failover settings from the config. */
export function failoverSettings(config: Config, failoverCount: number): FailoverSettings {
  return {
    check: config.getBool('WALG_FAILOVER_STORAGES_CHECK') ?? failoverCount > 0,
    checkTimeoutMs: config.getDurationMs('WALG_FAILOVER_STORAGES_CHECK_TIMEOUT') ?? 30_000,
    checkSize: config.getSize('WALG_FAILOVER_STORAGES_CHECK_SIZE') ?? 1 << 20,
    cacheLifetimeMs: config.getDurationMs('WALG_FAILOVER_STORAGES_CACHE_LIFETIME') ?? 15 * 60_000,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Failover configs

/**
 * The settings of each failover storage, by name (lower-cased as viper does), sorted by name.
 * compat: each map holds storage settings (a WALG_/WALE_*_PREFIX and e.g. AWS_* keys); "default" is reserved.
 */
export function failoverConfigs(config: Config): Array<{ name: string; settings: Record<string, unknown> }> {
  const map = config.getMap('WALG_FAILOVER_STORAGES');
  if (!map) return [];
  const out: Array<{ name: string; settings: Record<string, unknown> }> = [];
  for (const [rawName, settings] of Object.entries(map)) {
    const name = rawName.toLowerCase();
    if (name === DEFAULT_STORAGE) throw new ConfigError(`failover storage name '${DEFAULT_STORAGE}' is reserved`);
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw new ConfigError(`failover storage ${name}: expected a map of storage settings`);
    }
    if (out.some((o) => o.name === name)) throw new ConfigError(`failover storage ${name} is configured twice`);
    out.push({ name, settings: settings as Record<string, unknown> });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const PREFIX_SETTING = /^WALG_(OSS|S3|FILE|GS|AZ|SWIFT|SSH)_PREFIX$/;

/**
 * The config one failover storage is opened with: the root config without any storage prefix, overlaid with the
 * failover's own settings. compat: WAL-G takes the prefix only from the failover's map and every other storage
 * setting from the map first, then from the global config.
 */
export function failoverConfig(root: Config, name: string, settings: Record<string, unknown>): Config {
  type Resolved = { value: string; source: SettingSource; via: string };
  const values = new Map<string, Resolved>();
  for (const e of root.entries()) {
    if (PREFIX_SETTING.test(e.name)) continue;
    values.set(e.name, { value: e.value, source: e.source, via: e.name });
  }
  for (const [key, raw] of Object.entries(settings)) {
    const def = findSetting(key);
    if (!def) { log.warn(`failover storage ${name}: ${key} is unknown`); continue; }
    if (raw === null || raw === undefined) continue;
    const value = typeof raw === 'string' ? raw : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
    values.set(def.name, { value, source: 'file', via: key });
  }
  const cfg = new Config(values, new Map(), root.file, []);
  if (!configuredStorageType(cfg)) throw new ConfigError(`failover storage ${name}: no storage prefix (WALG_FILE_PREFIX, WALG_S3_PREFIX, ...) is set`);
  return cfg;
}

/** A stable id of a storage's location for the status cache (names alone may be reused by other configs). */
function configHash(config: Config): string {
  const type = configuredStorageType(config)!;
  const h = createHash('md5');
  h.update(type);
  h.update(JSON.stringify([config.get(`WALG_${type}_PREFIX`), config.get('WALG_STORAGE_PREFIX') ?? '', config.get('AWS_ENDPOINT') ?? '', config.get('SSH_PORT') ?? '']));
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------------------------
// Status cache (EMA of operation results + explicit checks)

interface Status {
  potential_aliveness: number;
  actual_aliveness: number;
  previous_aliveness: boolean;
  updated: string;
}

// compat: WAL-G's default EMA parameters (a dead storage needs ~20 good operations to come back, an alive one
// ~10 failures to die).
const EMA = { aliveLimit: 0.99, deadLimit: 0.88, alphaAlive: { min: 0.01, max: 0.05 }, alphaDead: { min: 0.1, max: 0.5 } };

function factor(s: Status): number {
  if (s.potential_aliveness === 0 && s.actual_aliveness === 0) return EMA.deadLimit;
  return s.actual_aliveness / s.potential_aliveness;
}

function isAlive(s: Status): boolean {
  return s.previous_aliveness ? factor(s) >= EMA.deadLimit : factor(s) >= EMA.aliveLimit;
}

function applyOperation(s: Status | undefined, ok: boolean, weight: number, now: Date): Status {
  const cur = s ?? { potential_aliveness: 0, actual_aliveness: 0, previous_aliveness: false, updated: new Date(0).toISOString() };
  const alive = isAlive(cur);
  const alpha = alive
    ? EMA.alphaAlive.max + (EMA.alphaAlive.min - EMA.alphaAlive.max) * ((factor(cur) - EMA.deadLimit) / (1 - EMA.deadLimit))
    : EMA.alphaDead.max + (EMA.alphaDead.min - EMA.alphaDead.max) * (factor(cur) / EMA.aliveLimit);
  const ema = (prev: number, v: number) => v * alpha + prev * (1 - alpha);
  return {
    potential_aliveness: ema(cur.potential_aliveness, weight),
    actual_aliveness: ema(cur.actual_aliveness, ok ? weight : 0),
    previous_aliveness: alive,
    updated: now.toISOString(),
  };
}

/** compat: operation weights of WAL-G's stats collector. */
export const WEIGHT = {
  exists: 1000,
  list: 2000,
  bytes: (n: number) => scale(1000, Math.floor(n / (1 << 20))),
  delete: (files: number) => scale(500, files),
};

function scale(w: number, s: number): number {
  return s <= 1 ? w : w * (1 + Math.log10(s));
}

// One in-memory map per check kind, shared by every storage set in this process (as WAL-G's DefaultRO/RWMem).
const MEMORY: Record<'ro' | 'rw', Map<string, Status>> = { ro: new Map(), rw: new Map() };

/** The status cache of one check kind: memory first, then the shared file; entries older than the lifetime are outdated. */
class StatusCache {
  private readonly mem: Map<string, Status>;
  private readonly file: string;
  private readonly ttlMs: number;
  private dirty = false;

  constructor(kind: 'ro' | 'rw', ttlMs: number, dir?: string) {
    this.mem = MEMORY[kind];
    let base = dir;
    if (!base) { try { base = homedir(); } catch { base = tmpdir(); } }
    this.file = join(base || tmpdir(), `.walg_storage_${kind}_status_cache`);
    this.ttlMs = ttlMs;
  }

  private relevant(s: Status | undefined, now: number): boolean {
    return s !== undefined && now - Date.parse(s.updated) <= this.ttlMs;
  }

  private readFile(): Record<string, Status> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, Status>;
      return parsed && typeof parsed === 'object' ? parsed : {};
    } catch {
      return {};
    }
  }

  /** Alive/dead per key, split into relevant (younger than the lifetime) and outdated (or unknown) entries. */
  read(keys: readonly string[]): { relevant: Map<string, boolean>; outdated: string[] } {
    const now = Date.now();
    if (!keys.every((k) => this.relevant(this.mem.get(k), now))) {
      // Merge the file in: the newer status of each key wins.
      for (const [k, s] of Object.entries(this.readFile())) {
        const m = this.mem.get(k);
        if (!m || Date.parse(s.updated) > Date.parse(m.updated)) this.mem.set(k, s);
      }
    }
    const relevant = new Map<string, boolean>();
    const outdated: string[] = [];
    for (const k of keys) {
      const s = this.mem.get(k);
      if (this.relevant(s, now)) relevant.set(k, isAlive(s!));
      else outdated.push(k);
    }
    return { relevant, outdated };
  }

  /** Records explicit check results: alive resets the EMA to fully alive, dead to fully dead. */
  applyCheck(results: Map<string, boolean>): void {
    const now = new Date().toISOString();
    for (const [k, alive] of results) {
      const s = this.mem.get(k);
      const potential = s?.potential_aliveness ?? 0;
      this.mem.set(k, { potential_aliveness: potential, actual_aliveness: alive ? potential : 0, previous_aliveness: alive, updated: now });
    }
    this.dirty = true;
  }

  /** Records the outcome of one storage operation. */
  applyOperation(key: string, ok: boolean, weight: number): void {
    this.mem.set(key, applyOperation(this.mem.get(key), ok, weight, new Date()));
    this.dirty = true;
  }

  /** Writes the merged statuses to the shared file (atomically; unknown keys of other configs are kept). */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const merged = this.readFile();
    for (const [k, s] of this.mem) if (!merged[k] || Date.parse(s.updated) >= Date.parse(merged[k].updated)) merged[k] = s;
    const tmp = `${this.file}.tmp.${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(tmp, JSON.stringify(merged), { mode: 0o666 });
      await rename(tmp, this.file);
    } catch (err) {
      log.warn(`Failed to flush storage status cache file ${this.file}: ${describeError(err)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

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

// ---------------------------------------------------------------------------------------------------------------
// The set of storages

/** `storage` reports every operation's outcome to the status cache; checks use `raw` (compat: WAL-G's checker does not report). */
interface Member { name: string; key: string; storage: Storage; raw: Storage }

/**
 * The primary and the failover storages of one run. Members are opened eagerly (cheap: drivers connect lazily),
 * wrapped so that every operation's outcome feeds the status cache when checks are on.
 */
export class StorageSet {
  private readonly members: Member[];
  private readonly settings: FailoverSettings;
  private readonly cache: StatusCache | undefined;
  private readonly write: boolean;

  constructor(members: Array<{ name: string; key: string; storage: Storage }>, settings: FailoverSettings, write: boolean) {
    this.settings = settings;
    this.write = write;
    this.cache = settings.check ? new StatusCache(write ? 'rw' : 'ro', settings.cacheLifetimeMs, settings.cacheDir) : undefined;
    const cache = this.cache;
    this.members = members.map((m) => ({ ...m, raw: m.storage, storage: cache ? withReporting(m.storage, (ok, w) => cache.applyOperation(m.key, ok, w)) : m.storage }));
  }

  /** Storage names in order: 'default', then failovers by name. */
  names(): string[] { return this.members.map((m) => m.name); }

  /** True when failover storages are configured. */
  get hasFailovers(): boolean { return this.members.length > 1; }

  /** A member by name, without any aliveness check (storage tools). Throws ConfigError naming the known ones. */
  byName(name: string): Storage {
    const m = this.members.find((x) => x.name === name.toLowerCase() || x.name === name);
    if (!m) throw new ConfigError(`storage with name '${name}' is not found, available storages: [${this.names().join(' ')}]`);
    return m.storage;
  }

  /** Runs explicit checks on the given members in parallel and records them. */
  private async check(members: Member[], signal?: AbortSignal): Promise<Map<string, boolean>> {
    const results = new Map<string, boolean>();
    await Promise.all(members.map(async (m) => {
      try {
        await checkStorage(m.raw, { write: this.write, writeSize: this.settings.checkSize, timeoutMs: this.settings.checkTimeoutMs, signal });
        results.set(m.key, true);
      } catch (err) {
        if (signal?.aborted) throw new CancelledError('storage check cancelled', { cause: err });
        log.error(`storage '${m.name}': ${describeError(err)}`);
        results.set(m.key, false);
      }
    }));
    this.cache!.applyCheck(results);
    log.debug(`Found ${[...results.values()].filter(Boolean).length} alive storages among requested: ${members.map((m) => `${m.name}:${results.get(m.key)}`).join(' ')}`);
    return results;
  }

  private statusOf(): { relevant: Map<string, boolean>; outdated: Member[] } {
    const { relevant, outdated } = this.cache!.read(this.members.map((m) => m.key));
    return { relevant, outdated: this.members.filter((m) => outdated.includes(m.key)) };
  }

  /** First member that is alive with every earlier member known (dead); undefined when that is not decided yet. */
  private firstAliveOf(alive: Map<string, boolean>): Member | undefined {
    for (const m of this.members) {
      const a = alive.get(m.key);
      if (a === undefined) return undefined;
      if (a) return m;
    }
    return undefined;
  }

  /**
   * The storage a writer uses: the first alive one in order. compat: cached statuses are trusted within their
   * lifetime; outdated ones are checked first, and only then the relevant ones again.
   */
  async firstAlive(signal?: AbortSignal): Promise<{ name: string; storage: Storage }> {
    if (!this.cache) return this.members[0]!;
    const { relevant, outdated } = this.statusOf();
    let found = this.firstAliveOf(relevant);
    if (!found) {
      const checked = await this.check(outdated, signal);
      found = this.firstAliveOf(new Map([...relevant, ...checked]));
      if (!found) found = this.firstAliveOf(new Map([...checked, ...(await this.check(this.members.filter((m) => relevant.has(m.key)), signal))]));
    }
    if (!found) throw new StorageError(`no alive storages among [${this.names().join(' ')}]`);
    return found;
  }

  /** The storages a reader uses: every alive one, in order. Throws when none is alive. */
  async allAlive(signal?: AbortSignal): Promise<Array<{ name: string; storage: Storage }>> {
    if (!this.cache) return [...this.members];
    const { relevant, outdated } = this.statusOf();
    const pick = (alive: Map<string, boolean>) => this.members.filter((m) => alive.get(m.key) === true);
    let alive = outdated.length === 0 ? pick(relevant) : [];
    if (alive.length === 0) {
      const merged = new Map([...relevant, ...(await this.check(outdated, signal))]);
      alive = pick(merged);
      if (alive.length === 0) alive = pick(new Map([...merged, ...(await this.check(this.members.filter((m) => relevant.has(m.key)), signal))]));
    }
    if (alive.length === 0) throw new StorageError(`no alive storages among [${this.names().join(' ')}]`);
    return alive;
  }

  /** One named storage, after checking it is alive (compat: UseSpecificStorage). */
  async specific(name: string, signal?: AbortSignal): Promise<{ name: string; storage: Storage }> {
    this.byName(name);
    const m = this.members.find((x) => x.name === name.toLowerCase() || x.name === name)!;
    if (!this.cache) return m;
    const { relevant } = this.statusOf();
    if (relevant.get(m.key) === true) return m;
    if ((await this.check([m], signal)).get(m.key)) return m;
    throw new StorageError(`storage '${m.name}' is not alive`);
  }

  /** Flushes the status cache and closes every member. */
  async close(): Promise<void> {
    await this.cache?.flush();
    for (const m of this.members) {
      try { await m.raw.close(); } catch (err) { log.warn(`close storage '${m.name}': ${describeError(err)}`); }
    }
  }
}

/**
 * Opens the primary and every failover storage of `config`. `write` selects the read-write status cache and check
 * (writers) over the read-only one (readers).
 */
export async function openStorageSet(config: Config, opts: { write: boolean; cacheDir?: string }): Promise<StorageSet> {
  const failovers = failoverConfigs(config);
  const members: Array<{ name: string; key: string; storage: Storage }> = [];
  try {
    members.push({ name: DEFAULT_STORAGE, key: `${DEFAULT_STORAGE}#${configHash(config)}`, storage: await openStorage(config, DEFAULT_STORAGE) });
    for (const f of failovers) {
      const cfg = failoverConfig(config, f.name, f.settings);
      let storage: Storage;
      try { storage = await openStorage(cfg, f.name); } catch (err) {
        throw new ConfigError(`failover storage ${f.name}: ${describeError(err)}`, { cause: err });
      }
      members.push({ name: f.name, key: `${f.name}#${configHash(cfg)}`, storage });
    }
  } catch (err) {
    for (const m of members) await m.storage.close().catch(() => {});
    throw err;
  }
  return new StorageSet(members, { ...failoverSettings(config, failovers.length), cacheDir: opts.cacheDir }, opts.write);
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting wrapper and the merged read view

function withReporting(s: Storage, report: (ok: boolean, weight: number) => void): Storage {
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
