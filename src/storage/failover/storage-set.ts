// The StorageSet: the primary storage ('default') and the failovers of one run, and the choice among them.
// compat (WAL-G's internal/multistorage): a writer uses the first alive storage (read-write check), a reader all
// alive ones (read-only check); cached statuses are trusted within their lifetime, outdated ones are checked first.

import type { Config } from '../../config/load.ts';
import { CancelledError, ConfigError, StorageError, UnknownStorageError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { openStorage } from '../registry.ts';
import type { Storage } from '../types.ts';
import { checkStorage } from './check.ts';
import { DEFAULT_STORAGE, configHash, failoverConfig, failoverConfigs, failoverSettings } from './options.ts';
import type { FailoverSettings } from './options.ts';
import { withReporting } from './reporting.ts';
import { StatusCache } from './status-cache.ts';

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
    if (!m) throw new ConfigError(`storage with name "${name}" is not found, available storages: [${this.names().join(' ')}]`);
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
    const m = this.members.find((x) => x.name === name.toLowerCase() || x.name === name);
    if (!m) throw new UnknownStorageError(name, this.cache !== undefined);
    if (!this.cache) return m;
    const { relevant } = this.statusOf();
    if (relevant.get(m.key) === true) return m;
    if ((await this.check([m], signal)).get(m.key)) return m;
    throw new StorageError(`no alive storages (storage '${m.name}' is not alive)`);
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
 * (writers) over the read-only one (readers); `rateLimit` (default true) is passed on to openStorage for each member
 * (false for --turbo runs).
 */
export async function openStorageSet(config: Config, opts: { write: boolean; cacheDir?: string; rateLimit?: boolean }): Promise<StorageSet> {
  const failovers = failoverConfigs(config);
  const members: Array<{ name: string; key: string; storage: Storage }> = [];
  const open = { rateLimit: opts.rateLimit ?? true };
  try {
    members.push({ name: DEFAULT_STORAGE, key: `${DEFAULT_STORAGE}#${configHash(config)}`, storage: await openStorage(config, DEFAULT_STORAGE, open) });
    for (const f of failovers) {
      const cfg = failoverConfig(config, f.name, f.settings);
      let storage: Storage;
      try { storage = await openStorage(cfg, f.name, open); } catch (err) {
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
