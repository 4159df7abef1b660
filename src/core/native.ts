// Loads native addons both from source (node_modules) and from the single executable (SEA assets).
// In dist/wal-g the build (scripts/build.ts) embeds each addon as an asset and aliases the packages'
// own loaders to this module; at run time the asset is written once to a per-version cache file and dlopen'ed.

import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/**
 * The native addons the tool may load: the path a package ships them at (linux-x64 build), or for our own addon
 * (src/native/walg_native.c, built by `make native`) its path relative to the project root.
 */
export const NATIVE_ADDONS = {
  walg: './build/walg_native.node',
  sodium: 'sodium-native/prebuilds/linux-x64/sodium-native.node',
} as const;

export type NativeAddon = keyof typeof NATIVE_ADDONS;

/** The exports of our own addon (src/native/walg_native.c states each contract). */
export interface WalgNative {
  lz4CompressBlock(src: Uint8Array, dst: Uint8Array): Promise<number>;
  lz4DecompressBlock(src: Uint8Array, dst: Uint8Array, dict?: Uint8Array | null): Promise<number>;
  lz4CompressBlockSync(src: Uint8Array, dst: Uint8Array): number;
  lz4DecompressBlockSync(src: Uint8Array, dst: Uint8Array, dict?: Uint8Array | null): number;
  xxh32(data: Uint8Array, seed?: number): number;
  xxh32State(seed?: number): Uint8Array;
  xxh32Reset(state: Uint8Array, seed?: number): void;
  xxh32Update(state: Uint8Array, data: Uint8Array): void;
  xxh32UpdateAsync(state: Uint8Array, data: Uint8Array): Promise<unknown>;
  xxh32Digest(state: Uint8Array): number;
  /**
   * Creates `path` (O_NOFOLLOW, truncating), checks it is a regular file, writes `chunks` from offset 0 and sets
   * `mode`, in one thread-pool job; resolves with the open descriptor (give it to fileSyncClose), or, with
   * `writeback`, starts the file's writeback (sync_file_range), closes it and resolves with -1. Rejects with an
   * Error carrying `errno` (0 for "not a regular file") and `syscall`, the descriptor already closed.
   */
  fileCreateWrite(path: string, chunks: Uint8Array[], mode: number, writeback?: boolean): Promise<number>;
  /** fsyncs (when `sync`) and closes `fd`, in one job; the descriptor is closed even when fsync fails. */
  fileSyncClose(fd: number, sync: boolean): Promise<void>;
  /**
   * syncfs(2) of the file system `fd` is on, then close, in one job (closed even when it fails). Since Linux 5.8 it
   * reports the writeback errors of that file system since `fd` was opened.
   */
  syncFsClose(fd: number): Promise<void>;
  /**
   * Starts writeback of all of `fd`'s dirty pages (sync_file_range SYNC_FILE_RANGE_WRITE) without waiting for it,
   * then closes `fd` when `close`; in one job. A later syncfs waits for those pages and reports their errors.
   */
  startWriteback(fd: number, close: boolean): Promise<void>;
  /**
   * Writes all of `buf` at `pos` of `fd` (in 64 KiB writes: see WRITE_PIECE in walg_files.c), in one job; rejects
   * with `errno` and syscall 'write'. `buf` must not change until it settles.
   */
  filePwrite(fd: number, buf: Uint8Array, pos: number): Promise<void>;
  /**
   * Opens a streaming coder (src/native/walg_codecs.c): "zstd-c" (a = level, b = worker threads), "brotli-c"
   * (a = quality, b = lgwin), "lzma-c" (a = dictionary bytes), or a decoder "zstd-d" | "brotli-d" | "lzma-d".
   */
  codecOpen(kind: CodecKind, a?: number, b?: number): unknown;
  /**
   * Codes what fits of `src` into `dst` on the thread pool: [input consumed, output produced, stream ended]. One run
   * per handle at a time; rejects with code ERR_CODEC_CORRUPT on bad data.
   */
  codecRun(handle: unknown, src: Uint8Array, dst: Uint8Array, finish: boolean): Promise<[number, number, boolean]>;
  /** Frees the coder (once a run in flight completes). */
  codecClose(handle: unknown): void;
  /** Sends `state` as one datagram to the systemd notification socket `socketPath` ("@name": abstract); true once sent. */
  sdNotify(socketPath: string, state: string): boolean;
}

/** The coder kinds of codecOpen. */
export type CodecKind = 'zstd-c' | 'zstd-d' | 'brotli-c' | 'brotli-d' | 'lzma-c' | 'lzma-d';

/** The walg addon's exports (loaded on first use). */
export function walgNative(): WalgNative {
  return loadNative<WalgNative>('walg');
}

const cache = new Map<string, unknown>();

// Set by scripts/build.ts in the single executable: the sha256 (16 hex digits) of each embedded addon, so that
// start-up does not hash megabytes of addon to name its cache file.
declare const __WALG_NATIVE_DIGESTS: Record<string, string> | undefined;

/** The node:sea API of the single executable we run as, or undefined when running from source. */
export interface SeaApi { isSea(): boolean; getAsset(k: string, enc: string): string; getRawAsset(k: string): ArrayBuffer }

/** node:sea when this process is dist/wal-g (the single executable), else undefined. */
export function seaApi(): SeaApi | undefined {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as SeaApi;
    return sea.isSea() ? sea : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the exports of a native addon. Throws a plain Error naming the addon when it cannot be loaded. */
export function loadNative<T = unknown>(name: NativeAddon): T {
  const hit = cache.get(name);
  if (hit) return hit as T;
  let exports: unknown;
  const sea = seaApi();
  if (sea) {
    const known = typeof __WALG_NATIVE_DIGESTS === 'undefined' ? undefined : __WALG_NATIVE_DIGESTS[name];
    const bytes = known === undefined ? Buffer.from(sea.getRawAsset(`${name}.node`)) : undefined;
    const digest = known ?? addonDigest(bytes!);
    const dir = join(tmpdir(), `wal-g-native-${process.getuid?.() ?? 'u'}`);
    const file = join(dir, `${name}-${digest}.node`);
    if (!existsSync(file)) {
      const data = bytes ?? Buffer.from(sea.getRawAsset(`${name}.node`));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Write under a unique name and rename, so concurrent wal-push processes never dlopen a partial file.
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, data, { mode: 0o500 });
      renameSync(tmp, file);
    }
    exports = dlopenFile(file);
  } else {
    const rel = NATIVE_ADDONS[name];
    if (rel.startsWith('./')) {
      const path = fileURLToPath(new URL(`../../${rel.slice(2)}`, import.meta.url));
      if (!existsSync(path)) throw new Error(`native addon ${name} is not built (${path}): run \`make native\``);
      exports = dlopenFile(path);
    } else {
      exports = createRequire(import.meta.url)(rel);
    }
  }
  cache.set(name, exports);
  return exports as T;
}

/** The exports of the addon file at `path`. */
function dlopenFile(path: string): unknown {
  const mod = { exports: {} as unknown };
  process.dlopen(mod, path);
  return mod.exports;
}

/** The 16-hex-digit sha256 prefix that names an addon's cache file (scripts/build.ts computes the same). */
export function addonDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}
