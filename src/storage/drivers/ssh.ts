// SSH/SFTP storage (WALG_SSH_PREFIX=ssh://host/abs/path; WAL-G's "sh" backend): one file per object below an
// absolute directory on the server, over one lazily opened SSH connection with one SFTP channel.
// compat: like WAL-G, an upload goes to "<key>.tmp.<YYYYMMDDTHHMMSSZ>-<16 hex>" and is renamed into place (posix-rename
// when the server offers it); listings skip such names; the host key is not verified (WAL-G ignores it too).

import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { userInfo } from 'node:os';
import type { Client, SFTPWrapper, Stats, FileEntryWithStats, ConnectConfig } from 'ssh2';
import { CancelledError, ConfigError, ObjectNotFoundError, StorageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { existsByStat, openBody } from '../body.ts';
import { timestampRandomTag } from './fs.ts';
import { folderPrefix } from '../types.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

/** Settings of one SSH storage (from WALG_SSH_PREFIX, SSH_PORT, SSH_USERNAME, SSH_PASSWORD, SSH_PRIVATE_KEY_PATH). */
export interface SshOptions {
  host: string;
  port?: number;
  /** Absolute directory on the server that holds the objects. */
  root: string;
  /** Default: the local OS user name, as the ssh command does. */
  username?: string;
  password?: string;
  privateKeyPath?: string;
  /** ssh2 keepalive: a silent server is declared dead after interval * countMax ms (default 5000 * 3). */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Handshake timeout (default 20 s). */
  readyTimeoutMs?: number;
}

// SFTP status codes (draft-ietf-secsh-filexfer-02).
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;
const SFTP_NO_CONNECTION = 6;
const SFTP_CONNECTION_LOST = 7;

const TMP_SUFFIX = /\.tmp\.\d{8}T\d{6}Z-[0-9a-f]{16}$/;
/** Bytes per SFTP read/write request, and requests kept in flight per transfer (bounded memory, good throughput). */
const IO_CHUNK = 64 * 1024;
const IO_WINDOW = 16;

/** Parses ssh://host[:port]/path into host, optional port and the absolute root directory. */
export function parseSshPrefix(prefix: string): { host: string; port?: number; root: string } {
  let url: URL;
  try { url = new URL(prefix.trim()); } catch {
    throw new ConfigError(`WALG_SSH_PREFIX '${prefix}' must look like ssh://host/absolute/path`);
  }
  if (url.protocol !== 'ssh:' || url.hostname === '') {
    throw new ConfigError(`WALG_SSH_PREFIX '${prefix}' must look like ssh://host/absolute/path`);
  }
  const root = decodeURIComponent(url.pathname || '/').replace(/\/+$/, '') || '/';
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : undefined, root };
}

function sftpCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

function isNotFound(err: unknown): boolean {
  return sftpCode(err) === SFTP_NO_SUCH_FILE;
}

/** Connection-level failures (reset, refused, timeouts, lost channel): worth a retry on a fresh connection. */
function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; level?: unknown; message?: unknown };
  if (e?.code === SFTP_NO_CONNECTION || e?.code === SFTP_CONNECTION_LOST) return true;
  if (typeof e?.level === 'string' && e.level.startsWith('client-')) return e.level !== 'client-authentication';
  if (typeof e?.code === 'string' && /^(ECONN|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)/.test(e.code)) return true;
  return typeof e?.message === 'string' && /No response from server|Not connected|Keepalive timeout|Timed out while waiting for handshake|Channel not open|connection lost/i.test(e.message);
}

function wrapError(what: string, err: unknown): Error {
  if (err instanceof StorageError || err instanceof ObjectNotFoundError || err instanceof CancelledError || err instanceof ConfigError) return err;
  const msg = (err as Error)?.message ?? String(err);
  return new StorageError(`ssh storage: ${what}: ${msg}`, { cause: err, transient: isConnectionError(err) });
}

interface Conn { client: Client; sftp: SFTPWrapper; broken: boolean }

/**
 * Storage over SFTP. The connection opens on first use and is reopened after it breaks, so the retry wrapper can
 * cure a dropped connection. put() is atomic (temp name + rename) and streams with a bounded window of writes.
 */
export class SshStorage implements Storage {
  readonly type = 'ssh';
  readonly name: string;
  readonly root: string;
  private readonly opts: SshOptions;
  private conn: Promise<Conn> | undefined;
  private closed = false;

  constructor(opts: SshOptions, name = 'default') {
    if (!opts.root.startsWith('/')) throw new ConfigError(`ssh storage root must be an absolute path, got '${opts.root}'`);
    this.opts = opts;
    this.root = posix.normalize(opts.root).replace(/\/+$/, '') || '/';
    this.name = name;
  }

  private path(key: string): string {
    const p = posix.normalize(posix.join(this.root, key.replace(/^\/+/, '')));
    const base = this.root === '/' ? '/' : `${this.root}/`;
    if (p !== this.root && !p.startsWith(base)) throw new StorageError(`key '${key}' points outside the storage root`);
    return p;
  }

  /** The shared connection, opened on first use; a broken one is dropped so the next call reconnects. */
  private connection(): Promise<Conn> {
    if (this.closed) return Promise.reject(new StorageError('ssh storage: already closed'));
    this.conn ??= this.connect().catch((err) => {
      this.conn = undefined;
      throw err;
    });
    return this.conn;
  }

  private async connect(): Promise<Conn> {
    const ssh2 = await import('ssh2');
    const ClientCtor = (ssh2.default ?? ssh2).Client as typeof Client;
    const o = this.opts;
    const cfg: ConnectConfig = {
      host: o.host,
      port: o.port ?? 22,
      username: o.username || userInfo().username,
      readyTimeout: o.readyTimeoutMs ?? 20_000,
      keepaliveInterval: o.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: o.keepaliveCountMax ?? 3,
    };
    if (o.privateKeyPath) {
      try { cfg.privateKey = await readFile(o.privateKeyPath); } catch (err) {
        throw new ConfigError(`SSH_PRIVATE_KEY_PATH: cannot read '${o.privateKeyPath}': ${(err as Error).message}`);
      }
    }
    if (o.password) cfg.password = o.password;
    const client = new ClientCtor();
    const conn = await new Promise<Conn>((resolve, reject) => {
      let settled = false;
      client.once('ready', () => {
        client.sftp((err, sftp) => {
          settled = true;
          if (err) { client.end(); reject(wrapError(`open SFTP channel on ${o.host}`, err)); return; }
          resolve({ client, sftp, broken: false });
        });
      });
      client.on('error', (err: Error) => {
        if (this.conn && settled) log.debug(`ssh storage ${this.name}: connection error: ${err.message}`);
        if (!settled) { settled = true; reject(wrapError(`connect to ${o.host}:${cfg.port}`, err)); }
      });
      try {
        client.connect(cfg);
        // Small SFTP requests must not wait for delayed ACKs (Nagle): each costs a round trip otherwise.
        client.setNoDelay(true);
      } catch (err) { settled = true; reject(wrapError(`connect to ${o.host}:${cfg.port}`, err)); }
    });
    // A broken connection is forgotten; pending SFTP requests fail on their own with "No response"/lost errors.
    const forget = () => {
      conn.broken = true;
      if (this.conn && !this.closed) this.conn = undefined;
    };
    client.on('close', forget);
    client.on('end', forget);
    conn.sftp.on('close', forget);
    return conn;
  }

  /**
   * Runs one SFTP call, on `on` when given (calls that use a handle must stay on the connection that opened it),
   * else on the current connection. A connection failure drops the connection so the next call reconnects.
   */
  private async call<T>(what: string, fn: (sftp: SFTPWrapper, done: (err: Error | undefined | null, v?: T) => void) => void, on?: Conn): Promise<T> {
    const conn = on ?? await this.connection();
    if (conn.broken) throw new StorageError(`ssh storage: ${what}: connection lost`, { transient: true });
    const { sftp, client } = conn;
    try {
      return await new Promise<T>((resolve, reject) => {
        try { fn(sftp, (err, v) => (err ? reject(err) : resolve(v as T))); } catch (err) { reject(err); }
      });
    } catch (err) {
      if (isConnectionError(err)) { this.conn = undefined; client.end(); }
      throw err;
    }
  }

  private statPath(p: string): Promise<Stats> {
    return this.call<Stats>(`stat ${p}`, (s, done) => s.stat(p, done));
  }

  /** mkdir -p: creates each missing component; a component that appears concurrently is fine. */
  private async mkdirs(dir: string): Promise<void> {
    try {
      if ((await this.statPath(dir)).isDirectory()) return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const parent = posix.dirname(dir);
    if (parent !== dir) await this.mkdirs(parent);
    try {
      await this.call<void>(`mkdir ${dir}`, (s, done) => s.mkdir(dir, done));
    } catch (err) {
      // Lost a race with another put, or the server says FAILURE for "exists": fine if it is a directory now.
      let st: Stats | undefined;
      try { st = await this.statPath(dir); } catch { /* report the mkdir error */ }
      if (!st?.isDirectory()) throw err;
    }
  }

  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    const target = this.path(key);
    const tmp = `${target}.tmp.${timestampRandomTag()}`;
    const signal = opts?.signal;
    if (signal?.aborted) throw new CancelledError('upload cancelled');
    let handle: Buffer | undefined;
    let conn: Conn | undefined;
    const src = openBody(body);
    // The body may fail while we await mkdir or the connection; writeAll() still sees it (the stream stays errored).
    src.on('error', () => {});
    try {
      await this.mkdirs(posix.dirname(target));
      conn = await this.connection();
      const c = conn;
      handle = await this.call<Buffer>(`create ${tmp}`, (s, done) => s.open(tmp, 'w', 0o644, done), c);
      await this.writeAll(c, handle, src, signal);
      const h = handle;
      handle = undefined;
      await this.call<void>(`close ${tmp}`, (s, done) => s.close(h, done), c);
      await this.rename(c, tmp, target);
    } catch (err) {
      src.destroy();
      // Cleanup only on the same, still working connection: after a connection failure a reconnect would hang
      // on a dead server. Then the temp file stays, but listings never show temp names.
      if (conn && !conn.broken) {
        const c = conn;
        if (handle) { const h = handle; await this.call<void>('close', (s, done) => s.close(h, done), c).catch(() => {}); }
        await this.call<void>(`remove ${tmp}`, (s, done) => s.unlink(tmp, done), c).catch(() => {});
      }
      if (signal?.aborted) throw new CancelledError('upload cancelled', { cause: err });
      throw wrapError(`could not write '${key}'`, err);
    }
  }

  /** Streams a body into an open handle with up to IO_WINDOW writes in flight (memory: window * chunk). */
  private async writeAll(conn: Conn, handle: Buffer, src: Readable, signal?: AbortSignal): Promise<void> {
    const { sftp } = conn;
    let offset = 0;
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    const writePiece = (buf: Buffer, pos: number) => {
      const p = new Promise<void>((resolve, reject) => {
        try { sftp.write(handle, buf, 0, buf.length, pos, (err) => (err ? reject(err) : resolve())); } catch (err) { reject(err); }
      }).catch((err) => { failure ??= err; }).finally(() => inflight.delete(p));
      inflight.add(p);
    };
    const onAbort = () => src.destroy(new CancelledError('upload cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of src) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        for (let i = 0; i < buf.length; i += IO_CHUNK) {
          if (failure) throw failure;
          if (signal?.aborted) throw new CancelledError('upload cancelled');
          if (conn.broken) throw new StorageError('connection lost', { transient: true });
          const piece = buf.subarray(i, Math.min(buf.length, i + IO_CHUNK));
          writePiece(piece, offset);
          offset += piece.length;
          while (inflight.size >= IO_WINDOW) await Promise.race(inflight);
        }
      }
      await Promise.all(inflight);
      if (failure) throw failure;
      if (signal?.aborted) throw new CancelledError('upload cancelled');
      // A body destroyed before its end must never be published as a short object.
      if (src.errored) throw src.errored;
      if (!src.readableEnded) throw new StorageError('upload body closed before its end');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await Promise.allSettled(inflight);
    }
  }

  /** posix-rename replaces the target atomically; plain SFTP rename refuses an existing target, so remove it first. */
  private async rename(conn: Conn, from: string, to: string): Promise<void> {
    const ext = (conn.sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {};
    if (ext['posix-rename@openssh.com'] === '1') {
      await this.call<void>(`rename ${from}`, (s, done) => s.ext_openssh_rename(from, to, done), conn);
      return;
    }
    try {
      await this.call<void>(`rename ${from}`, (s, done) => s.rename(from, to, done), conn);
    } catch (err) {
      // Not atomic on servers without posix-rename (a short window without the object); WAL-G errors instead.
      if (isNotFound(err) || conn.broken) throw err;
      await this.call<void>(`remove ${to}`, (s, done) => s.unlink(to, done), conn).catch(() => {});
      await this.call<void>(`rename ${from}`, (s, done) => s.rename(from, to, done), conn);
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const p = this.path(key);
    let st: Stats;
    try { st = await this.statPath(p); } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key, { cause: err });
      throw wrapError(`could not read '${key}'`, err);
    }
    if (st.isDirectory()) throw new ObjectNotFoundError(key);
    const size = st.size;
    const start = Math.min(opts?.range?.start ?? 0, size);
    const end = Math.min(opts?.range?.end ?? size, size);
    if (end <= start) return Readable.from([]);
    let handle: Buffer;
    let conn: Conn;
    try {
      conn = await this.connection();
      handle = await this.call<Buffer>(`open ${p}`, (s, done) => s.open(p, 'r', done), conn);
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key, { cause: err });
      throw wrapError(`could not read '${key}'`, err);
    }
    return this.readStream(conn, key, handle, start, end, opts?.signal);
  }

  /**
   * A Readable over [start, end) of an open handle, with up to IO_WINDOW reads in flight, delivered in order.
   * A short read (allowed by SFTP) re-requests the remainder before moving on; an early EOF is an error.
   */
  private readStream(conn: Conn, key: string, handle: Buffer, start: number, end: number, signal?: AbortSignal): Readable {
    let next = start; // next offset to request
    const queue: Array<{ pos: number; len: number; p: Promise<Buffer> }> = [];
    let closed = false;
    const request = (pos: number, len: number): Promise<Buffer> => {
      if (conn.broken) return Promise.reject(new StorageError('connection lost', { transient: true }));
      return new Promise<Buffer>((resolve, reject) => {
        const buf = Buffer.allocUnsafe(len);
        try {
          conn.sftp.read(handle, buf, 0, len, pos, (err, n) => {
            if (err && sftpCode(err) !== SFTP_EOF) { reject(err); return; }
            resolve(buf.subarray(0, err ? 0 : n));
          });
        } catch (err) { reject(err); }
      });
    };
    const fill = () => {
      while (queue.length < IO_WINDOW && next < end) {
        const len = Math.min(IO_CHUNK, end - next);
        const p = request(next, len);
        p.catch(() => {}); // handled when it reaches the head of the queue
        queue.push({ pos: next, len, p });
        next += len;
      }
    };
    const closeHandle = () => {
      if (closed) return;
      closed = true;
      if (!conn.broken) conn.sftp.close(handle, () => {});
    };
    const stream = new Readable({
      highWaterMark: IO_CHUNK * 4,
      async read() {
        try {
          fill();
          const head = queue.shift();
          if (!head) { closeHandle(); this.push(null); return; }
          const data = await head.p;
          if (data.length < head.len) {
            if (data.length === 0) throw new StorageError(`ssh storage: '${key}' ended early at byte ${head.pos} (changed while reading?)`);
            // Short read: ask again for the rest of this piece, ahead of the queued ones.
            queue.unshift({ pos: head.pos + data.length, len: head.len - data.length, p: request(head.pos + data.length, head.len - data.length) });
          }
          this.push(data);
        } catch (err) {
          this.destroy(wrapError(`could not read '${key}'`, err));
        }
      },
      destroy(err, cb) {
        closeHandle();
        cb(err);
      },
    });
    if (signal) {
      const onAbort = () => stream.destroy(new CancelledError('download cancelled'));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        stream.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    return stream;
  }

  async stat(key: string): Promise<ObjectInfo> {
    let st: Stats;
    try { st = await this.statPath(this.path(key)); } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key, { cause: err });
      throw wrapError(`could not stat '${key}'`, err);
    }
    if (st.isDirectory()) throw new ObjectNotFoundError(key);
    return { key, size: st.size, lastModified: new Date(st.mtime * 1000) };
  }

  async exists(key: string): Promise<boolean> {
    return existsByStat(() => this.stat(key));
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const p = folderPrefix(prefix);
    yield* this.walk(p === '' ? this.root : this.path(p), p, opts?.recursive ?? false, opts?.signal);
  }

  private async *walk(dir: string, keyPrefix: string, recursive: boolean, signal?: AbortSignal): AsyncGenerator<ListEntry> {
    if (signal?.aborted) throw new CancelledError('listing cancelled');
    let entries: FileEntryWithStats[];
    try {
      entries = await this.call<FileEntryWithStats[]>(`list ${dir}`, (s, done) => s.readdir(dir, done));
    } catch (err) {
      // A missing folder holds no objects (compat: WAL-G skips it the same way).
      if (isNotFound(err)) return;
      throw wrapError(`could not list '${keyPrefix}'`, err);
    }
    const items = entries
      .filter((e) => e.filename !== '.' && e.filename !== '..')
      .map((e) => ({ name: e.filename, isDir: e.attrs.isDirectory(), isFile: e.attrs.isFile(), size: e.attrs.size, mtime: e.attrs.mtime }))
      .map((e) => ({ ...e, sortKey: e.isDir ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const e of items) {
      if (e.isDir) {
        if (recursive) yield* this.walk(posix.join(dir, e.name), `${keyPrefix}${e.name}/`, true, signal);
        else yield { type: 'dir', key: `${keyPrefix}${e.name}/`, size: 0, lastModified: new Date(0) };
      } else if (e.isFile && !TMP_SUFFIX.test(e.name)) {
        yield { type: 'obj', key: `${keyPrefix}${e.name}`, size: e.size, lastModified: new Date(e.mtime * 1000) };
      }
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) {
      const p = this.path(k);
      try {
        await this.call<void>(`remove ${p}`, (s, done) => s.unlink(p, done));
      } catch (err) {
        if (isNotFound(err)) continue;
        // compat: a directory is not an object; WAL-G skips it too.
        let st: Stats | undefined;
        try { st = await this.statPath(p); } catch (e) { if (isNotFound(e)) continue; }
        if (st?.isDirectory()) continue;
        throw wrapError(`could not delete '${k}'`, err);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = undefined;
    if (!c) return;
    try {
      const { client } = await c;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.once('close', () => { clearTimeout(t); resolve(); });
        client.end();
      });
    } catch { /* never connected */ }
  }
}

/** Builds an SshStorage from a WALG_SSH_PREFIX and the SSH_* settings. The ssh2 module loads on first use. */
export function createSshStorage(prefix: string, settings: { port?: string; username?: string; password?: string; privateKeyPath?: string }, name = 'default'): SshStorage {
  const { host, port: urlPort, root } = parseSshPrefix(prefix);
  let port = urlPort ?? 22;
  if (settings.port !== undefined && settings.port !== '') {
    if (!/^\d+$/.test(settings.port.trim())) throw new ConfigError(`SSH_PORT: '${settings.port}' is not a port number`);
    port = Number(settings.port);
  }
  return new SshStorage({ host, port, root, username: settings.username, password: settings.password, privateKeyPath: settings.privateKeyPath }, name);
}
