// What every command receives: the frozen config, the cancellation signal, and lazy access to the storage and
// the codecs. Nothing is opened until a command asks for it, which keeps start-up cheap.
// With failover storages configured, which storage a command gets depends on its declared storage role (compat:
// WAL-G's PG commands): writers get the first alive storage, readers a merged view of every alive one
// (src/storage/failover/). Each command declares its role where it is registered (src/commands/<group>/index.ts).

import { ConfigError, UnknownStorageError } from '../core/errors.ts';
import type { Config } from '../config/load.ts';
import type { Storage } from '../storage/types.ts';
import type { Compressor, Crypter, CompressionMethod } from '../pipeline/types.ts';
import type { DataPipeline } from '../pipeline/pipeline.ts';
import type { StorageSet } from '../storage/failover/failover.ts';

const METHODS: readonly CompressionMethod[] = ['lz4', 'lzma', 'zstd', 'brotli', 'none'];

/**
 * How a command uses failover storages (compat: WAL-G's PG commands). 'write': the first alive storage, read-write
 * checked (wal-push, backup-push). 'read': every alive storage merged, read-only checked (wal-fetch, backup-list...).
 * 'both': writes to the first alive storage and reads from all (the daemon serves wal-push and wal-fetch). 'none':
 * no failover role: the primary, or the storage a command names (st, wal-show, every MySQL command: WAL-G allows
 * failover storages for PostgreSQL only).
 */
export type StorageRole = 'read' | 'write' | 'both' | 'none';

/** A command's storage declaration: its role, and whether failovers get the read-write check. */
export interface StorageUse {
  role: StorageRole;
  /**
   * Check failover storages read-write even though the role reads (delete: it reads from every alive storage and
   * deletes from all of them, after a read-write check as WAL-G does). Default: true for 'write' and 'both'.
   */
  checkWritable?: boolean;
}

/**
 * Runs `body` with a fresh context for the declared storage use and closes the context afterwards. Command group
 * indexes (src/commands/<group>/index.ts) receive it from the CLI (src/cli/run.ts withContext), so the role a command
 * runs with is the one its declaration states, whichever way the command tree was selected.
 */
export type RunCommand = (use: StorageRole | StorageUse, body: (ctx: CommandContext) => Promise<void>) => Promise<void>;

/** Per-run context passed to every command handler. */
export class CommandContext {
  readonly config: Config;
  readonly signal: AbortSignal;
  /** --turbo: ignore rate limits, disk-read concurrency 4. */
  readonly turbo: boolean;
  /** The declared failover role of the running command. */
  readonly role: StorageRole;
  /** Failover storages are opened with the read-write check (see StorageUse.checkWritable). */
  readonly checkWritable: boolean;
  private storages = new Map<string, Promise<Storage>>();
  private storageSet: Promise<StorageSet> | undefined;
  private crypterP: Promise<Crypter | undefined> | undefined;
  private compressorP: Promise<Compressor> | undefined;

  constructor(config: Config, signal: AbortSignal, turbo = false, use: StorageRole | StorageUse = 'none') {
    const u = typeof use === 'string' ? { role: use } : use;
    this.config = config;
    this.signal = signal;
    this.turbo = turbo;
    this.role = u.role;
    this.checkWritable = u.checkWritable ?? (u.role === 'write' || u.role === 'both');
  }

  /**
   * The storage named `target`, opened once per run. 'default' is the primary storage, or with failover storages
   * configured what the command's role (StorageRole) asks for: the first alive storage for writers, the merged
   * alive storages for readers. A failover name gives that storage (checked alive for commands with a role).
   */
  storage(target = 'default'): Promise<Storage> {
    let p = this.storages.get(target);
    if (!p) {
      p = this.openTarget(target);
      this.storages.set(target, p);
    }
    return p;
  }

  private async openTarget(target: string): Promise<Storage> {
    if (target === 'all') throw new ConfigError(`a specific storage name was expected instead of 'all'`);
    // No failovers: the primary alone, with no checks and without loading the failover code.
    if (this.config.getMap('WALG_FAILOVER_STORAGES') === undefined) {
      if (target !== 'default') {
        throw this.role === 'none' ? new ConfigError(`storage with name "${target}" is not found, available storages: [default]`) : new UnknownStorageError(target);
      }
      const { openStorage } = await import('../storage/registry.ts');
      return openStorage(this.config, target, { rateLimit: !this.turbo });
    }
    const role = this.role;
    const set = await this.failoverSet(this.checkWritable);
    const { log } = await import('../core/log.ts');
    if (role === 'none') return set.byName(target);
    if (target !== 'default') return (await set.specific(target, this.signal)).storage;
    const { mergedStorage, routedStorage } = await import('../storage/failover/failover.ts');
    if (role === 'write') return (await set.firstAlive(this.signal)).storage;
    if (role === 'both') return routedStorage(set, this.signal);
    const alive = await set.allAlive(this.signal);
    log.debug(`Files will be read from storages: [${alive.map((a) => a.name).join(' ')}]`);
    return mergedStorage(alive);
  }

  /**
   * The storages a reader goes through one by one, each with its name (compat: WAL-G's "unite all storages"
   * listings, which tag every object with the storage holding it): every alive one in order, or only `target`
   * when one is named ('default' too: the primary alone). Without failovers: the primary alone, as 'default'.
   */
  async memberStorages(target?: string): Promise<Array<{ name: string; storage: Storage }>> {
    if (this.config.getMap('WALG_FAILOVER_STORAGES') === undefined) {
      const storage = await this.storage(target ?? 'default');
      return [{ name: storage.name, storage }];
    }
    const set = await this.failoverSet(this.checkWritable);
    if (target === undefined) return set.allAlive(this.signal);
    if (target === 'all') throw new ConfigError(`a specific storage name was expected instead of 'all'`);
    return [await set.specific(target, this.signal)];
  }

  /** The primary and failover storages, opened once (the read-write status cache when `write`). */
  private failoverSet(write: boolean): Promise<StorageSet> {
    this.storageSet ??= import('../storage/failover/failover.ts').then((m) => m.openStorageSet(this.config, { write, rateLimit: !this.turbo }));
    return this.storageSet;
  }

  /** Names of every configured storage: 'default', then the failovers by name. */
  async storageNames(): Promise<string[]> {
    if (this.config.getMap('WALG_FAILOVER_STORAGES') === undefined) return ['default'];
    return (await this.failoverSet(false)).names();
  }

  /** The compression method from WALG_COMPRESSION_METHOD, validated (compat: lower case only, as WAL-G). */
  compressionMethod(): CompressionMethod {
    const m = this.config.get('WALG_COMPRESSION_METHOD') as CompressionMethod;
    if (!METHODS.includes(m)) throw new ConfigError(`WALG_COMPRESSION_METHOD must be one of ${METHODS.join(', ')}; got '${m}'`);
    if (this.config.get('WALG_ZSTD_LEVEL') !== undefined && m !== 'zstd') {
      throw new ConfigError('WALG_ZSTD_LEVEL is set but WALG_COMPRESSION_METHOD is not zstd');
    }
    return m;
  }

  /** The configured compressor (lazily imports only that codec). */
  compressor(): Promise<Compressor> {
    this.compressorP ??= (async () => {
      const method = this.compressionMethod();
      const { getCompressor } = await import('../pipeline/compress/index.ts');
      return getCompressor(method, { zstdLevel: this.config.get('WALG_ZSTD_LEVEL') });
    })();
    return this.compressorP;
  }

  /** The configured crypter, or undefined when encryption is off. */
  crypter(): Promise<Crypter | undefined> {
    this.crypterP ??= import('../pipeline/crypt/index.ts').then((m) => m.configureCrypter(this.config));
    return this.crypterP;
  }

  /** Compressor and crypter for writing data objects. */
  async writePipeline(): Promise<DataPipeline> {
    return { compressor: await this.compressor(), crypter: await this.crypter() };
  }

  /** Closes whatever was opened (with failovers, the set owns and closes every storage). */
  async close(): Promise<void> {
    if (this.storageSet) {
      try { await (await this.storageSet).close(); } catch { /* opening failed: nothing to close */ }
      return;
    }
    for (const p of this.storages.values()) {
      try { await (await p).close(); } catch { /* opening failed: nothing to close */ }
    }
  }
}
