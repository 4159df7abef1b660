// What every command receives: the frozen config, the cancellation signal, and lazy access to the storage and
// the codecs. Nothing is opened until a command asks for it, which keeps start-up cheap.

import { ConfigError } from '../core/errors.ts';
import type { Config } from '../config/load.ts';
import type { Storage } from '../storage/types.ts';
import type { Compressor, Crypter, CompressionMethod } from '../pipeline/types.ts';
import type { DataPipeline } from '../pipeline/pipeline.ts';

const METHODS: readonly CompressionMethod[] = ['lz4', 'lzma', 'zstd', 'brotli', 'none'];

/** Per-run context passed to every command handler. */
export class CommandContext {
  readonly config: Config;
  readonly signal: AbortSignal;
  /** --turbo: ignore rate limits, disk-read concurrency 4. */
  readonly turbo: boolean;
  private storages = new Map<string, Promise<Storage>>();
  private crypterP: Promise<Crypter | undefined> | undefined;
  private compressorP: Promise<Compressor> | undefined;

  constructor(config: Config, signal: AbortSignal, turbo = false) {
    this.config = config;
    this.signal = signal;
    this.turbo = turbo;
  }

  /** The storage named `target` ('default' = primary). Opened once per run. */
  storage(target = 'default'): Promise<Storage> {
    let p = this.storages.get(target);
    if (!p) {
      if (target !== 'default') {
        p = Promise.reject(new ConfigError(`storage '${target}' is not configured (failover storages are not supported yet)`));
      } else {
        p = import('../storage/registry.ts').then((m) => m.openStorage(this.config, target));
      }
      this.storages.set(target, p);
    }
    return p;
  }

  /** The compression method from WALG_COMPRESSION_METHOD, validated. */
  compressionMethod(): CompressionMethod {
    const m = (this.config.get('WALG_COMPRESSION_METHOD') ?? 'lz4').toLowerCase() as CompressionMethod;
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

  /** Closes whatever was opened. */
  async close(): Promise<void> {
    for (const p of this.storages.values()) {
      try { await (await p).close(); } catch { /* opening failed: nothing to close */ }
    }
  }
}
