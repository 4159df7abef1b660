// File-system storage (WALG_FILE_PREFIX): one file per object under a root directory.
// compat: WAL-G writes to "<key>.tmp.<YYYYMMDDTHHMMSSZ>-<16 hex>", fsyncs, renames; listings skip such temp names.

import { mkdir, open, opendir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, addAbortSignal } from 'node:stream';
import { ObjectNotFoundError, StorageError, CancelledError } from '../../core/errors.ts';
import { doneWith, lendDownstream } from '../../core/lent-buffers.ts';
import { existsByStat, openBody } from '../body.ts';
import { folderPrefix } from '../types.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

const TMP_SUFFIX = /\.tmp\.\d{8}T\d{6}Z-[0-9a-f]{16}$/;

/** The temp-file tag WAL-G uses: UTC timestamp plus 16 random lowercase hex digits. */
export function timestampRandomTag(now = new Date()): string {
  const iso = now.toISOString(); // 2024-05-01T12:00:00.000Z
  const ts = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return `${ts}-${randomBytes(8).toString('hex')}`;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Stores objects as files below `root`. put() is atomic (temp file, fsync, rename, directory fsync), so a
 * crash never leaves a partial object under its final name. Keys may not escape the root.
 */
export class FileStorage implements Storage {
  readonly type = 'file';
  readonly name: string;
  readonly root: string;

  constructor(root: string, name = 'default') {
    this.root = resolve(root);
    this.name = name;
  }

  private path(key: string): string {
    const p = resolve(this.root, key.replace(/^\/+/, ''));
    if (p !== this.root && !p.startsWith(this.root + sep)) {
      throw new StorageError(`key '${key}' points outside the storage root`);
    }
    return p;
  }

  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    const target = this.path(key);
    const tmp = `${target}.tmp.${timestampRandomTag()}`;
    // The body may fail while we await mkdir; writeBody() below still reports it (the stream stays errored).
    if (typeof body === 'object' && 'on' in body && !Buffer.isBuffer(body)) body.on('error', () => {});
    await mkdir(dirname(target), { recursive: true });
    try {
      await writeBody(tmp, openBody(body), opts?.signal);
      await rename(tmp, target);
      await syncDir(dirname(target));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      if (opts?.signal?.aborted) throw new CancelledError('upload cancelled', { cause: err });
      if (err instanceof StorageError) throw err;
      throw new StorageError(`file storage: could not write '${key}': ${(err as Error).message}`, { cause: err });
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const p = this.path(key);
    let st;
    try { st = await stat(p); } catch (err) {
      if (isMissing(err)) throw new ObjectNotFoundError(key, { cause: err });
      throw new StorageError(`file storage: could not read '${key}'`, { cause: err });
    }
    if (!st.isFile()) throw new ObjectNotFoundError(key);
    const start = opts?.range?.start ?? 0;
    const end = opts?.range?.end;
    if (end !== undefined && end <= start) {
      return Readable.from([]);
    }
    return lendingReadStream(p, start, end ?? st.size, opts?.signal);
  }

  async stat(key: string): Promise<ObjectInfo> {
    try {
      const st = await stat(this.path(key), { bigint: true });
      if (!st.isFile()) throw new ObjectNotFoundError(key);
      return { key, size: Number(st.size), lastModified: st.mtime, lastModifiedNs: st.mtimeNs };
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw err;
      if (isMissing(err)) throw new ObjectNotFoundError(key, { cause: err });
      throw new StorageError(`file storage: could not stat '${key}'`, { cause: err });
    }
  }

  async exists(key: string): Promise<boolean> {
    return existsByStat(() => this.stat(key));
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const p = folderPrefix(prefix);
    const dir = p === '' ? this.root : this.path(p);
    yield* this.walk(dir, p, opts?.recursive ?? false);
  }

  private async *walk(dir: string, keyPrefix: string, recursive: boolean): AsyncGenerator<ListEntry> {
    let names: { name: string; isDir: boolean; isFile: boolean }[];
    try {
      const d = await opendir(dir);
      names = [];
      for await (const e of d) names.push({ name: e.name, isDir: e.isDirectory(), isFile: e.isFile() });
    } catch (err) {
      if (isMissing(err)) return;
      throw new StorageError(`file storage: could not list '${keyPrefix}'`, { cause: err });
    }
    // Sort by the key each entry produces (dirs sort with their trailing '/'), matching object stores.
    names.sort((a, b) => {
      const ka = a.isDir ? `${a.name}/` : a.name;
      const kb = b.isDir ? `${b.name}/` : b.name;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    for (const e of names) {
      if (e.isDir) {
        if (recursive) yield* this.walk(join(dir, e.name), `${keyPrefix}${e.name}/`, true);
        else yield { type: 'dir', key: `${keyPrefix}${e.name}/`, size: 0, lastModified: new Date(0) };
      } else if (e.isFile && !TMP_SUFFIX.test(e.name)) {
        try {
          const st = await stat(join(dir, e.name), { bigint: true });
          yield { type: 'obj', key: `${keyPrefix}${e.name}`, size: Number(st.size), lastModified: st.mtime, lastModifiedNs: st.mtimeNs };
        } catch (err) {
          if (!isMissing(err)) throw err; // deleted between readdir and stat: skip
        }
      }
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) {
      try { await rm(this.path(k), { force: true }); } catch (err) {
        if (!isMissing(err)) throw new StorageError(`file storage: could not delete '${k}'`, { cause: err });
      }
    }
  }

  async close(): Promise<void> {}
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch { /* some file systems refuse fsync on directories; the rename is still atomic */ }
}

/**
 * Writes `src` into a new file `path` (exclusive create) and fsyncs it, so the rename that follows publishes only
 * durable data. Each chunk is reported with doneWith once written (src/core/lent-buffers.ts): the lz4 encoder's
 * lent blocks go back to it instead of being copied. An abort of `signal` destroys `src` and fails the write.
 */
async function writeBody(path: string, src: Readable, signal?: AbortSignal): Promise<void> {
  if (signal) addAbortSignal(signal, src);
  const fh = await open(path, 'wx', 0o644);
  try {
    let pos = 0;
    for await (const chunk of src as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      for (let off = 0; off < buf.length;) off += (await fh.write(buf, off, buf.length - off, pos + off)).bytesWritten;
      pos += buf.length;
      doneWith(buf);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Read size of object downloads: 1 MiB, a sixteenth of the read calls of Node's 64 KiB default. */
const READ_CHUNK = 1 << 20;

/**
 * Reads bytes [start, end) of `path` (at most up to its end) in READ_CHUNK reads. Each chunk's buffer is lent
 * downstream (src/core/lent-buffers.ts): a reader that reports it (the lz4 decoder, once it copied the bytes)
 * gives it back for a later read, so a restore does not leave a buffer of garbage per MiB read for V8 to find.
 */
function lendingReadStream(path: string, start: number, end: number, signal?: AbortSignal): Readable {
  let fh: FileHandle | undefined;
  let pos = start;
  const spare: Buffer[] = [];
  return new Readable({
    highWaterMark: READ_CHUNK,
    signal,
    construct(cb) {
      open(path, 'r').then((h) => { fh = h; cb(); }, (err: Error) => cb(err));
    },
    read() {
      const want = Math.min(READ_CHUNK, end - pos);
      if (want <= 0) {
        this.push(null);
        return;
      }
      const buf = spare.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
      fh!.read(buf, 0, want, pos).then(({ bytesRead }) => {
        if (bytesRead === 0) {
          this.push(null);
          return;
        }
        pos += bytesRead;
        lendDownstream(buf, bytesRead, 0, () => { if (spare.length < 2) spare.push(buf); });
        this.push(buf.subarray(0, bytesRead));
      }, (err: Error) => this.destroy(err));
    },
    destroy(err, cb) {
      if (!fh) {
        cb(err);
        return;
      }
      fh.close().then(() => cb(err), () => cb(err));
    },
  });
}
