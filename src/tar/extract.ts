// Confined tar extraction: writes entries below one root directory (plus declared "mounts" such as tablespace
// locations) and refuses, before writing anything for it, every entry that would land elsewhere: '..' components,
// absolute names, symlinks pointing out, and paths that pass through a symlink or a non-directory.

import type { FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { chmod, link, lstat, mkdir, open, symlink, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { CancelledError, LocalFileError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import { TAR_TYPE } from './header.ts';
import type { TarEntry } from './reader.ts';

/** Positioned file writes kept in flight per extracted file. */
const WRITE_WINDOW = 4;

/**
 * Applies one increment in place: reads an entry's `content` (an increment in the caller's format, e.g. WAL-G's
 * page increments, src/pg/pagefile.ts applyIncrement) and writes it into `fh`, the file restored from the parent.
 * Resolves with the file's size afterwards; rejects (typed error) on a malformed increment.
 */
export type IncrementApplier = (fh: FileHandle, content: AsyncIterable<Buffer>, name: string) => Promise<{ fileSize: number }>;

/** How names starting with '/' are treated. */
export type AbsoluteNames =
  /** compat: WAL-G names are PGDATA-relative with one leading '/', e.g. `/base/1/1259`; `/` is the root itself. */
  | 'root-relative'
  /** Ordinary tar semantics: an absolute name points outside the root and is refused. */
  | 'reject';

/** Options of a SafeExtractor. */
export interface ExtractOptions {
  /** Absolute path of an existing real directory (not a symlink): every entry lands below it. */
  root: string;
  /**
   * Declared locations outside the root: relative entry path (e.g. `pg_tblspc/16384`) -> absolute existing real
   * directory. An entry under such a path is written below the location instead (tablespaces, §5.4).
   */
  mounts?: ReadonlyMap<string, string>;
  absoluteNames: AbsoluteNames;
  /** fsync each regular file after writing it (default true). */
  fsync?: boolean;
  /** With fsync: hand each written file to this queue instead of syncing it before the next entry. */
  syncBehind?: SyncBehind;
  /** Regular-file filter by entry name: files it rejects are skipped (directories are always created). */
  wanted?: (name: string) => boolean;
  /**
   * Regular files whose content is an increment (delta backups): those `applies` picks are given to `apply`, in
   * place on the file already restored from the parent (which must exist), instead of replacing it. The format of
   * increments is the caller's business (tar/ knows no database).
   */
  increments?: { applies: (name: string) => boolean; apply: IncrementApplier };
  signal?: AbortSignal;
  /** Called after each regular file with its content size (progress accounting). */
  onFile?: (name: string, bytes: number) => void;
  /** Label used in error messages, e.g. the tar object's name. */
  source?: string;
}

/** Where an entry resolves to: the base directory (root or a mount) and the components below it. */
interface Target { base: string; parts: string[]; path: string }

/**
 * Extracts tar entries under a root directory, confined. A refused entry throws LocalFileError naming the entry
 * before anything is written for it; entries already written stay (the caller decides what to do with a failed
 * restore). Directories it creates or checks are cached, so each directory is lstat'ed once per extractor.
 * Safe to share between concurrent extractions into the same root (every check happens just before its write,
 * and this code never replaces an existing path with a symlink).
 */
export class SafeExtractor {
  private readonly opts: ExtractOptions;
  private readonly realDirs = new Set<string>();
  private readonly mountPaths = new Set<string>();

  constructor(opts: ExtractOptions) {
    this.opts = opts;
    this.realDirs.add(opts.root);
    for (const [rel, loc] of opts.mounts ?? []) {
      this.realDirs.add(loc);
      this.mountPaths.add(join(opts.root, rel));
    }
  }

  private refuse(name: string, why: string): LocalFileError {
    const where = this.opts.source ? ` in ${this.opts.source}` : '';
    return new LocalFileError(`refusing tar entry '${name}'${where}: ${why}`);
  }

  /**
   * Maps an entry name to its target path, or throws LocalFileError when the name may not be written.
   * `entry` names the tar entry in the error when `name` is something else (a hard link's target).
   */
  resolve(name: string, entry?: string): Target {
    const refuse = (why: string) => entry === undefined ? this.refuse(name, why) : this.refuse(entry, `hard link target '${name}': ${why}`);
    if (name.includes('\0')) throw refuse('the name contains a NUL byte');
    let rel = name;
    if (rel.startsWith('/')) {
      if (this.opts.absoluteNames === 'reject') throw refuse('absolute path outside the target directory');
      rel = rel.slice(1);
      if (rel.startsWith('/')) throw refuse('absolute path outside the target directory');
    }
    const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw refuse("the path has a '..' component (it would escape the target directory)");
    for (const [mrel, loc] of this.opts.mounts ?? []) {
      const m = mrel.split('/');
      if (parts.length >= m.length && m.every((c, i) => parts[i] === c)) {
        const below = parts.slice(m.length);
        return { base: loc, parts: below, path: below.length ? join(loc, ...below) : loc };
      }
    }
    return { base: this.opts.root, parts, path: parts.length ? join(this.opts.root, ...parts) : this.opts.root };
  }

  /** Creates (or checks) every directory of `parts` below `base`; refuses symlinks and non-directories on the way. */
  private async mkdirs(name: string, base: string, parts: readonly string[]): Promise<void> {
    let p = base;
    for (const part of parts) {
      p = join(p, part);
      if (this.realDirs.has(p)) continue;
      if (this.mountPaths.has(p)) throw this.refuse(name, `it would be written through the tablespace link '${p}'`);
      try {
        await mkdir(p, 0o750);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const st = await lstat(p);
      if (st.isSymbolicLink()) throw this.refuse(name, `it would be written through the symbolic link '${p}'`);
      if (!st.isDirectory()) throw this.refuse(name, `'${p}' is in its path but is not a directory`);
      this.realDirs.add(p);
    }
  }

  /** Extracts every entry of an archive (see entry()). */
  async extractAll(entries: AsyncIterable<TarEntry>): Promise<void> {
    for await (const e of entries) await this.entry(e);
  }

  /** Extracts one entry (consuming its content when it is a regular file that is written). */
  async entry(e: TarEntry): Promise<void> {
    if (this.opts.signal?.aborted) throw new CancelledError('extraction cancelled', { cause: this.opts.signal.reason });
    const h = e.header;
    const t = this.resolve(h.name);
    switch (h.type) {
      case TAR_TYPE.directory: {
        if (t.parts.length === 0 && t.base === this.opts.root) {
          await chmod(t.base, h.mode & 0o777);
          return;
        }
        await this.mkdirs(h.name, t.base, t.parts);
        await chmod(t.path, h.mode & 0o777);
        return;
      }
      case TAR_TYPE.file:
      case '7': { // contiguous file: a regular file for every practical purpose
        if (this.opts.wanted && !this.opts.wanted(h.name)) {
          log.debug(`Don't have to unwrap '${h.name}' this time`);
          return;
        }
        if (t.parts.length === 0) throw this.refuse(h.name, 'a file cannot replace the target directory');
        await this.mkdirs(h.name, t.base, t.parts.slice(0, -1));
        const inc = this.opts.increments;
        if (inc?.applies(h.name)) await this.applyIncrementTo(h.name, t.path, e, inc.apply);
        else await this.writeFile(h.name, t.path, e, h.mode);
        return;
      }
      case TAR_TYPE.symlink: {
        if (t.parts.length === 0) throw this.refuse(h.name, 'a symbolic link cannot replace the target directory');
        if (this.mountPaths.has(t.path)) throw this.refuse(h.name, 'it would replace a tablespace link');
        const target = h.linkname;
        if (target === '' || target.includes('\0')) throw this.refuse(h.name, 'the symbolic link has an invalid target');
        if (target.startsWith('/')) throw this.refuse(h.name, `the symbolic link points outside the target directory ('${target}')`);
        const resolved = posix.normalize(posix.join(...t.parts.slice(0, -1), target));
        if (resolved === '..' || resolved.startsWith('../')) {
          throw this.refuse(h.name, `the symbolic link points outside the target directory ('${target}')`);
        }
        await this.mkdirs(h.name, t.base, t.parts.slice(0, -1));
        await symlink(target, t.path);
        return;
      }
      case TAR_TYPE.hardlink: {
        if (t.parts.length === 0) throw this.refuse(h.name, 'a link cannot replace the target directory');
        const src = this.resolve(h.linkname, h.name);
        // The source's directories must be real directories too, and the source a regular file.
        await this.mkdirs(h.name, src.base, src.parts.slice(0, -1));
        const st = await lstat(src.path).catch(() => undefined);
        if (!st?.isFile()) throw this.refuse(h.name, `the hard link target '${h.linkname}' is not a regular file extracted here`);
        await this.mkdirs(h.name, t.base, t.parts.slice(0, -1));
        await link(src.path, t.path);
        return;
      }
      default:
        log.warn(`Skipping tar entry '${h.name}' of unsupported type '${h.type}'`);
    }
  }

  private async applyIncrementTo(name: string, path: string, e: TarEntry, apply: IncrementApplier): Promise<void> {
    let fh;
    try {
      // No O_CREAT: the parent backup restored this file; O_NOFOLLOW as for every write.
      fh = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw this.refuse(name, `'${path}' is a symbolic link`);
      if (code === 'ENOENT') throw new LocalFileError(`failed to apply increment for '${path}': incremented file should always exist`, { cause: err });
      throw new LocalFileError(`failed to apply increment for '${path}': can't open file to increment`, { cause: err });
    }
    const behind = this.opts.fsync !== false ? this.opts.syncBehind : undefined;
    try {
      if (!(await fh.stat()).isFile()) throw this.refuse(name, `'${path}' exists and is not a regular file`);
      const { fileSize } = await apply(fh, e.chunks(), name);
      if (this.opts.fsync !== false && !behind) await fh.sync();
      this.opts.onFile?.(name, fileSize);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    if (behind) await behind.add(fh, path); // synced and closed there
    else await fh.close();
  }

  private async writeFile(name: string, path: string, e: TarEntry, mode: number): Promise<void> {
    // O_NOFOLLOW: a symlink at the final component (e.g. from another tar) makes the open fail instead of
    // writing through it.
    let fh;
    try {
      fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw this.refuse(name, `'${path}' is a symbolic link`);
      throw new LocalFileError(`failed to create new file: '${path}'`, { cause: err });
    }
    let bytes = 0;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.refuse(name, `'${path}' exists and is not a regular file`);
      // Positioned writes, up to WRITE_WINDOW in flight: the thread-pool writes overlap with decoding the next
      // chunks on the main thread. Memory stays bounded by the window (chunks are at most 1 MiB).
      const inFlight = new Set<Promise<void>>();
      let failure: unknown;
      const writeAt = async (chunk: Buffer, pos: number) => {
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh!.write(chunk, off, chunk.length - off, pos + off);
          off += bytesWritten;
        }
      };
      for await (const chunk of e.chunks()) {
        if (failure !== undefined) throw failure;
        const p: Promise<void> = writeAt(chunk, bytes).catch((err: unknown) => { failure ??= err; }).finally(() => inFlight.delete(p));
        inFlight.add(p);
        bytes += chunk.length;
        if (inFlight.size >= WRITE_WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
      await fh.chmod(mode & 0o777);
      if (this.opts.fsync !== false && !this.opts.syncBehind) await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw err;
    }
    const behind = this.opts.fsync !== false ? this.opts.syncBehind : undefined;
    if (behind) await behind.add(fh, path); // synced and closed there
    else await fh.close();
    this.opts.onFile?.(name, bytes);
  }
}

/**
 * fsyncs files behind an extraction: each written file's handle is handed over, synced in the background at most
 * `limit` at a time and then closed, so the extraction goes on while the kernel writes earlier files back instead
 * of stalling on every file's fsync. add() waits while `maxQueued` handles are waiting (bounded open files).
 * drain() waits for every sync and throws LocalFileError for the first that failed: a restore is durable only
 * once drain() resolved.
 */
export class SyncBehind {
  readonly #limit: number;
  readonly #maxQueued: number;
  readonly #queue: Array<{ fh: FileHandle; path: string }> = [];
  #running = 0;
  #error: unknown;
  #waiters: Array<() => void> = [];

  constructor(limit = 2, maxQueued = 64) {
    this.#limit = Math.max(1, limit);
    this.#maxQueued = Math.max(1, maxQueued);
  }

  /** Takes over `fh` (of `path`, for messages): it is synced, then closed. Resolves when the queue has room. */
  async add(fh: FileHandle, path: string): Promise<void> {
    this.#queue.push({ fh, path });
    this.#pump();
    while (this.#queue.length >= this.#maxQueued) await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** Resolves once every handle handed over is synced and closed; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.#running > 0 || this.#queue.length > 0) await new Promise<void>((r) => this.#waiters.push(r));
    if (this.#error !== undefined) throw this.#error;
  }

  #pump(): void {
    while (this.#running < this.#limit && this.#queue.length > 0) {
      const { fh, path } = this.#queue.shift()!;
      this.#running++;
      void fh.sync().catch((err: unknown) => {
        this.#error ??= new LocalFileError(`failed to fsync '${path}'`, { cause: err });
      }).finally(async () => {
        await fh.close().catch(() => {});
        this.#running--;
        this.#pump();
        for (const w of this.#waiters.splice(0)) w(); // each waiter re-checks its own condition
      });
    }
  }
}
