// Confined tar extraction: writes entries below one root directory (plus declared "mounts" such as tablespace
// locations) and refuses, before writing anything for it, every entry that would land elsewhere: '..' components,
// absolute names, symlinks pointing out, and paths that pass through a symlink or a non-directory.

import type { FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { chmod, link, lstat, mkdir, open, symlink, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { CancelledError, LocalFileError } from '../core/errors.ts';
import { constants as osConstants } from 'node:os';
import { doneWith } from '../core/lent-buffers.ts';
import { walgNative } from '../core/native.ts';
import { log } from '../core/log.ts';
import { TAR_TYPE } from './header.ts';
import type { TarEntry } from './reader.ts';

/**
 * Positioned file writes kept in flight per extracted file. One: the next chunk is decoded while it is written, and
 * writes to one file never run side by side (they serialize on the inode's lock in the kernel, and the waiting
 * threads spin: four at once cost up to 3x the system CPU of one at a time on a 1 GiB file here).
 */
const WRITE_WINDOW = 1;
/**
 * Files whose writing may still run after their entry returned, at most this many and holding at most this many
 * content bytes: a file's open, write, chmod and fsync hand-off are thread-pool round trips, and waiting for each in
 * turn left a restore of many small files idle between them. Memory stays bounded (the bytes held are views of
 * decoded blocks, src/core/lent-buffers.ts).
 */
const PENDING_FILES = 64;
const PENDING_BYTES = 8 << 20;
/** A file at most this long is read whole from the archive first, then opened and written behind (see above). */
const SMALL_FILE = 1 << 20;

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
  increments?: {
    applies: (name: string) => boolean;
    apply: IncrementApplier;
    /** Create a missing file and apply the increment to it empty (compat: catchup's CreateFileFromIncrement). */
    createMissing?: boolean;
  };
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
  /** Files still being written, by path: their completion (which never rejects: see failure). */
  private readonly pending = new Map<string, Promise<void>>();
  private pendingBytes = 0;
  /** The first failure of a file written behind; the extraction fails with it. */
  private failure: unknown;

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
      await this.settled(p); // a file of that name still being written: checked as it will be
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

  /**
   * Extracts every entry of an archive (see entry()). Resolves or rejects only once no file is being written any
   * more; rejects with the first failure, of an entry or of a file written behind.
   */
  async extractAll(entries: AsyncIterable<TarEntry>): Promise<void> {
    try {
      for await (const e of entries) await this.entry(e);
    } finally {
      await this.idle();
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Extracts one entry (consuming its content when it is a regular file that is written). A regular file may still
   * be written after this returns: call settle() after the last entry (extractAll does).
   */
  async entry(e: TarEntry): Promise<void> {
    if (this.opts.signal?.aborted) throw new CancelledError('extraction cancelled', { cause: this.opts.signal.reason });
    if (this.failure !== undefined) throw this.failure;
    const h = e.header;
    const t = this.resolve(h.name);
    // Entries are applied in archive order: anything at a path whose file is still being written waits for it.
    await this.settled(t.path);
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
        if (inc?.applies(h.name)) await this.applyIncrementTo(h.name, t.path, e, inc.apply, inc.createMissing === true);
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
        await this.settled(src.path);
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

  private async applyIncrementTo(name: string, path: string, e: TarEntry, apply: IncrementApplier, createMissing: boolean): Promise<void> {
    let fh;
    try {
      // No O_CREAT for a delta: the parent backup restored this file; O_NOFOLLOW as for every write.
      fh = await open(path, constants.O_RDWR | constants.O_NOFOLLOW | (createMissing ? constants.O_CREAT : 0), 0o600);
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

  /** Waits for the file being written at `path`, if any. */
  private async settled(path: string): Promise<void> {
    const p = this.pending.get(path);
    if (p !== undefined) await p;
  }

  /** Waits until no file is being written (failures stay in `failure`). */
  private async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending.values());
  }

  /** Waits for every file written behind; throws the first failure. */
  async settle(): Promise<void> {
    await this.idle();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Runs the rest of a file's writing behind the extraction, within PENDING_FILES and PENDING_BYTES. */
  private async behind(path: string, bytes: number, work: () => Promise<void>): Promise<void> {
    const done: Promise<void> = work().catch((err: unknown) => { this.failure ??= err; }).finally(() => {
      if (this.pending.get(path) === done) this.pending.delete(path);
      this.pendingBytes -= bytes;
    });
    this.pending.set(path, done);
    this.pendingBytes += bytes;
    while (this.pending.size >= PENDING_FILES || this.pendingBytes > PENDING_BYTES) await Promise.race(this.pending.values());
  }

  /**
   * Creates `path` (O_NOFOLLOW: a symlink at the final component, e.g. from another tar, makes the open fail instead
   * of writing through it) and checks it is a regular file.
   */
  private async create(name: string, path: string): Promise<FileHandle> {
    let fh;
    try {
      fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw this.createError(name, path, Object.assign(err as Error, { syscall: 'open' }));
    }
    try {
      if (!(await fh.stat()).isFile()) throw this.refuse(name, `'${path}' exists and is not a regular file`);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    return fh;
  }

  /** The error for a file that could not be created and written (node:fs or walg_files.c failures alike). */
  private createError(name: string, path: string, err: unknown): Error {
    if (err instanceof LocalFileError) return err;
    const e = err as { code?: string; errno?: number; syscall?: string };
    // walg_files.c gives the positive errno; node:fs a negative one with its code.
    const code = e.code ?? Object.entries(osConstants.errno).find(([, v]) => v === e.errno)?.[0];
    if (e.syscall === 'open' && code === 'ELOOP') return this.refuse(name, `'${path}' is a symbolic link`);
    if (e.syscall === 'open') return new LocalFileError(`failed to create new file: '${path}'`, { cause: err });
    if (e.syscall === 'fstat' && e.errno === 0) return this.refuse(name, `'${path}' exists and is not a regular file`);
    return new LocalFileError(`failed to write '${path}': ${code ?? (err as Error).message}`, { cause: err });
  }

  /** Sets the mode, then syncs and closes (or hands over to syncBehind); on failure closes and removes the file. */
  private async complete(name: string, path: string, fh: FileHandle, mode: number, bytes: number): Promise<void> {
    try {
      await fh.chmod(mode & 0o777);
      if (this.opts.fsync !== false && !this.opts.syncBehind) await fh.sync();
    } catch (err) {
      await this.discard(path, fh);
      throw err;
    }
    const behind = this.opts.fsync !== false ? this.opts.syncBehind : undefined;
    if (behind) await behind.add(fh, path); // synced and closed there
    else await fh.close();
    this.opts.onFile?.(name, bytes);
  }

  private async discard(path: string, fh: FileHandle): Promise<void> {
    await fh.close().catch(() => {});
    await unlink(path).catch(() => {});
  }

  private async writeFile(name: string, path: string, e: TarEntry, mode: number): Promise<void> {
    const size = e.remaining;
    if (size <= SMALL_FILE) {
      // Whole content first (views of decoded blocks, mostly one), then everything else behind the extraction, in
      // one thread-pool job (src/native/walg_files.c) and one more for the fsync and close.
      const chunks: Buffer[] = [];
      for await (const c of e.chunks()) chunks.push(c);
      await this.behind(path, size, async () => {
        let fd: number;
        try {
          // A 'writeback' queue means the caller syncs the file systems itself at the end: a small file's writeback
          // is started in the job that writes it, and nothing is left to hand over.
          const writebackOnly = this.opts.fsync !== false && this.opts.syncBehind?.mode === 'writeback';
          fd = await walgNative().fileCreateWrite(path, chunks.length > 64 ? [Buffer.concat(chunks)] : chunks, mode & 0o777, writebackOnly);
        } catch (err) {
          // Only a file we created and then failed to fill goes: never what was there before (a link, a FIFO).
          const syscall = (err as { syscall?: string }).syscall;
          if (syscall === 'write' || syscall === 'fchmod') await unlink(path).catch(() => {});
          throw this.createError(name, path, err);
        } finally {
          for (const c of chunks) doneWith(c);
        }
        const behind = this.opts.fsync !== false ? this.opts.syncBehind : undefined;
        if (fd < 0) {
          // Written, writeback started and closed in one job.
        } else if (behind) await behind.add(fd, path); // synced and closed there
        else {
          try {
            await walgNative().fileSyncClose(fd, this.opts.fsync !== false);
          } catch (err) {
            throw new LocalFileError(`failed to ${(err as { syscall?: string }).syscall ?? 'close'} '${path}'`, { cause: err });
          }
        }
        this.opts.onFile?.(name, size);
      });
      return;
    }
    const fh = await this.create(name, path);
    let bytes = 0;
    // Positioned writes, up to WRITE_WINDOW in flight: the thread-pool writes overlap with decoding the next
    // chunks. Memory stays bounded by the window (chunks are at most 1 MiB).
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    try {
      for await (const chunk of e.chunks()) {
        if (failure !== undefined) throw failure;
        // Once written, the chunk's bytes go back to the decoder that lent them (src/core/lent-buffers.ts).
        const p: Promise<void> = walgNative().filePwrite(fh.fd, chunk, bytes).catch((err: unknown) => { failure ??= this.createError(name, path, err); }).finally(() => { inFlight.delete(p); doneWith(chunk); });
        inFlight.add(p);
        bytes += chunk.length;
        if (inFlight.size >= WRITE_WINDOW) await Promise.race(inFlight);
      }
    } catch (err) {
      await Promise.all(inFlight);
      await this.discard(path, fh);
      throw err;
    }
    // The last writes, the mode and the fsync hand-off go on behind the next entries.
    await this.behind(path, Math.min(bytes, WRITE_WINDOW << 20), async () => {
      await Promise.all(inFlight);
      if (failure !== undefined) {
        await this.discard(path, fh);
        throw failure;
      }
      await this.complete(name, path, fh, mode, bytes);
    });
  }
}

/**
 * fsyncs files behind an extraction: each written file's handle is handed over, synced in the background at most
 * `limit` at a time and then closed, so the extraction goes on while the kernel writes earlier files back instead
 * of stalling on every file's fsync. add() waits while `maxQueued` handles are waiting (bounded open files).
 * drain() waits for every sync and throws LocalFileError for the first that failed: a restore is durable only
 * once drain() resolved. In 'writeback' mode a file's writeback is only started (sync_file_range), not waited for:
 * for a restore made durable by one syncfs at the end (tar/filesystem-sync.ts), which then has little left to wait
 * for, instead of the whole restore's dirty pages.
 */
export class SyncBehind {
  readonly #limit: number;
  readonly #maxQueued: number;
  readonly #queue: Array<{ file: FileHandle | number; path: string }> = [];
  #running = 0;
  #error: unknown;
  #waiters: Array<() => void> = [];

  readonly #mode: 'fsync' | 'writeback';

  /** 'fsync': files are synced; 'writeback': their writeback is only started (see the class comment). */
  get mode(): 'fsync' | 'writeback' {
    return this.#mode;
  }

  constructor(limit = 2, maxQueued = 64, mode: 'fsync' | 'writeback' = 'fsync') {
    this.#limit = Math.max(1, limit);
    this.#maxQueued = Math.max(1, maxQueued);
    this.#mode = mode;
  }

  /**
   * Takes over `file`, a FileHandle or a descriptor from walg_files.c (of `path`, for messages): it is synced, then
   * closed. Resolves when the queue has room.
   */
  async add(file: FileHandle | number, path: string): Promise<void> {
    this.#queue.push({ file, path });
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
      const { file, path } = this.#queue.shift()!;
      this.#running++;
      // A descriptor is synced and closed in one job (closed even when fsync fails); a FileHandle in two.
      const writeback = this.#mode === 'writeback';
      const synced = typeof file === 'number'
        ? (writeback ? walgNative().startWriteback(file, true) : walgNative().fileSyncClose(file, true))
        : (writeback ? walgNative().startWriteback(file.fd, false) : file.sync());
      void synced.catch((err: unknown) => {
        this.#error ??= new LocalFileError(`failed to ${writeback ? 'start writeback of' : 'fsync'} '${path}'`, { cause: err });
      }).finally(async () => {
        if (typeof file !== 'number') await file.close().catch(() => {});
        this.#running--;
        this.#pump();
        for (const w of this.#waiters.splice(0)) w(); // each waiter re-checks its own condition
      });
    }
  }
}
