// Google Cloud Storage driver on the official @google-cloud/storage client, imported lazily in createGcsStorage.
// Small bodies go as one multipart upload; big or unknown-size streams as one resumable upload session sent in
// GCS_MAX_CHUNK_SIZE chunks. Either way the object appears only when the last byte is committed, so a failed or
// aborted put leaves nothing (WAL-G instead composes temporary '<name>_chunks/' objects, which can be left over).

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Bucket, File, Storage as GcsClient, StorageOptions } from '@google-cloud/storage';
import { mapLimit } from '../../core/concurrency.ts';
import { CancelledError, ConfigError, ObjectNotFoundError, StorageError, WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { existsByStat, openBody } from '../body.ts';
import { readAhead } from '../readahead.ts';
import type { ReadAhead } from '../readahead.ts';
import { folderPrefix } from '../types.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

/** Settings of one GCS storage. Plain values: the registry maps WALG_GS_PREFIX and the GCS_* settings onto them. */
export interface GcsOptions {
  /** The storage prefix as configured: gs://bucket/path. */
  prefix: string;
  /** compat: GCS_NORMALIZE_PREFIX (default true). false keeps the slashes of WAL-E prefixes such as gs://b//path. */
  normalizePrefix?: boolean;
  /** Service-account JSON file (GOOGLE_APPLICATION_CREDENTIALS); otherwise application-default credentials. */
  credentialsFile?: string;
  /** Base URL of a GCS-compatible JSON API (STORAGE_EMULATOR_HOST): no credentials are used then. */
  endpoint?: string;
  /** GCS_ENCRYPTION_KEY: base64 of a 32-byte customer-supplied AES-256 key, needed for every read and write. */
  encryptionKey?: string;
  /** GCS_MAX_CHUNK_SIZE: bytes per resumable-upload request (default 50 MiB; rounded up to 256 KiB). */
  maxChunkSize?: number;
  /** GCS_MAX_RETRIES: client-level retries of one request or chunk (default 16). */
  maxRetries?: number;
  /** GCS_CONTEXT_TIMEOUT in seconds (default 3600): limit of one put, stat, list page or delete. Reads are not limited. */
  contextTimeoutSec?: number;
  /** Objects per listing page (default 1000, the GCS maximum). */
  listPageSize?: number;
}

type SdkModule = typeof import('@google-cloud/storage');

const KiB = 1024;
const MiB = 1024 * KiB;
const DEFAULT_CHUNK = 50 * MiB;
/** GCS requires every chunk but the last to be a multiple of 256 KiB. */
const CHUNK_GRANULE = 256 * KiB;
/** Bodies up to this size (or the chunk size if smaller) are sent as one multipart request. */
const SINGLE_REQUEST_MAX = 8 * MiB;
const DELETE_CONCURRENCY = 16;
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);

/**
 * Splits a gs:// prefix into bucket and the key prefix of the storage root ('' or ending in '/').
 * compat: with normalize (WAL-G's default) all leading/trailing slashes of the path go; without it the path is
 * kept as written apart from one leading slash, so WAL-E's gs://bucket//path layouts stay reachable.
 */
export function parseGcsPrefix(prefix: string, normalize = true): { bucket: string; root: string } {
  const m = /^gs:\/\/([^/]+)(\/.*)?$/.exec(prefix.trim());
  if (!m) throw new ConfigError(`storage prefix '${prefix}' must look like gs://bucket/path`);
  let path = m[2] ?? '';
  if (normalize) {
    path = path.replace(/^\/+|\/+$/g, '');
    return { bucket: m[1]!, root: path ? `${path}/` : '' };
  }
  // Go: url.Path minus one leading '/', a '/' appended, then the folder drops one more leading '/'.
  if (path.startsWith('/')) path = path.slice(1);
  if (path !== '' && !path.endsWith('/')) path += '/';
  if (path.startsWith('/')) path = path.slice(1);
  return { bucket: m[1]!, root: path };
}

/** Decodes GCS_ENCRYPTION_KEY: base64 of exactly 32 bytes, else ConfigError. */
export function decodeGcsKey(b64: string): Buffer {
  const text = b64.trim();
  // Strict standard base64, as Go's base64.StdEncoding (Buffer.from alone would skip bad characters).
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new ConfigError('GCS_ENCRYPTION_KEY is not valid base64');
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) throw new ConfigError(`GCS_ENCRYPTION_KEY must be the base64 encoding of a 32-byte key (got ${key.length} bytes)`);
  return key;
}

/**
 * Creates a GCS Storage: validates the options (ConfigError on a bad prefix, key or chunk size), loads the
 * client library and returns a driver satisfying the Storage contract. Makes no request.
 */
export async function createGcsStorage(opts: GcsOptions, name = 'default'): Promise<Storage> {
  const { bucket, root } = parseGcsPrefix(opts.prefix, opts.normalizePrefix ?? true);
  const key = opts.encryptionKey ? decodeGcsKey(opts.encryptionKey) : undefined;
  const chunk = opts.maxChunkSize ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunk) || chunk <= 0) throw new ConfigError(`GCS_MAX_CHUNK_SIZE must be a positive integer, got ${chunk}`);
  const timeoutSec = opts.contextTimeoutSec ?? 3600;
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) throw new ConfigError(`GCS_CONTEXT_TIMEOUT must be a positive number of seconds, got ${timeoutSec}`);
  if (opts.endpoint !== undefined) {
    try { new URL(/^[a-z]+:\/\//i.test(opts.endpoint) ? opts.endpoint : `https://${opts.endpoint}`); } catch {
      throw new ConfigError(`invalid STORAGE_EMULATOR_HOST: '${opts.endpoint}'`);
    }
  }
  const sdk: SdkModule = await import('@google-cloud/storage');
  // The client's download path (teeny-request over node-fetch) puts 11 'error'/'close' listeners on one response
  // stream, one over Node's default of 10: Node would print a MaxListenersExceededWarning on stderr, which must
  // stay clean for archive_command. 11 is structural (it does not grow with use), so a higher default is harmless.
  if (EventEmitter.defaultMaxListeners < 32) EventEmitter.defaultMaxListeners = 32;
  const clientOpts: StorageOptions = {
    retryOptions: {
      autoRetry: true,
      maxRetries: Math.max(0, opts.maxRetries ?? 16),
      // Our puts overwrite whole objects under fixed names, so repeating any request is safe.
      idempotencyStrategy: sdk.IdempotencyStrategy.RetryAlways,
    },
  };
  if (opts.endpoint) clientOpts.apiEndpoint = opts.endpoint;
  else if (opts.credentialsFile) clientOpts.keyFilename = opts.credentialsFile;
  const client = new sdk.Storage(clientOpts);
  return new GcsStorage(client, bucket, root, {
    key,
    chunkSize: Math.ceil(chunk / CHUNK_GRANULE) * CHUNK_GRANULE,
    timeoutMs: timeoutSec * 1000,
    pageSize: Math.max(1, Math.min(1000, opts.listPageSize ?? 1000)),
  }, name);
}

interface Tuning { key?: Buffer; chunkSize: number; timeoutMs: number; pageSize: number }

interface ApiErrorLike { code?: number | string; message?: string; errors?: { reason?: string; message?: string }[] }

/** One-line form of a message: servers sometimes return multi-line text or whole HTML pages. */
function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}...` : t;
}

/** Runs `fn` but gives up (CancelledError / timeout StorageError) when `signal` fires; the request itself may linger. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

class GcsStorage implements Storage {
  readonly type = 'gcs';
  readonly name: string;
  private readonly client: GcsClient;
  private readonly bucket: Bucket;
  private readonly bucketName: string;
  private readonly root: string;
  private readonly tuning: Tuning;

  constructor(client: GcsClient, bucket: string, root: string, tuning: Tuning, name: string) {
    this.client = client;
    this.bucketName = bucket;
    this.bucket = client.bucket(bucket);
    this.root = root;
    this.tuning = tuning;
    this.name = name;
  }

  private full(key: string): string { return this.root + key; }
  private where(key?: string): string { return `gs://${this.bucketName}/${key === undefined ? this.root : this.full(key)}`; }

  private file(key: string): File {
    // The customer-supplied key goes with every request on the object (uploads, reads, metadata).
    return this.bucket.file(this.full(key), this.tuning.key ? { encryptionKey: this.tuning.key } : {});
  }

  /** The caller's signal combined with GCS_CONTEXT_TIMEOUT, as WAL-G bounds each operation by a context timeout. */
  private opSignal(signal?: AbortSignal): AbortSignal {
    const t = AbortSignal.timeout(this.tuning.timeoutMs);
    return signal ? AbortSignal.any([signal, t]) : t;
  }

  private mapError(e: unknown, op: string, key: string | undefined, signal?: AbortSignal): Error {
    if (e instanceof WalgError) return e;
    if (signal?.aborted) {
      const r = signal.reason as { name?: string } | undefined;
      if (r?.name === 'TimeoutError') return new StorageError(`GCS ${op} ${this.where(key)} failed: no answer within GCS_CONTEXT_TIMEOUT (${this.tuning.timeoutMs / 1000} s)`, { transient: true });
      return new CancelledError(`GCS ${op} cancelled`);
    }
    const err = (e ?? {}) as ApiErrorLike;
    const status = typeof err.code === 'number' ? err.code : undefined;
    if (status === 404 && key !== undefined && (op === 'get' || op === 'stat')) return new ObjectNotFoundError(key);
    const code = typeof err.code === 'string' ? err.code : undefined;
    let msg = oneLine(err.errors?.[0]?.message || err.message || String(e));
    if (this.tuning.key) msg = msg.split(this.tuning.key.toString('base64')).join('***');
    const transient = status !== undefined ? status >= 500 || status === 429 || status === 408 : code !== undefined && NETWORK_CODES.has(code);
    const what = status === 404 && key === undefined ? ` (does bucket '${this.bucketName}' exist?)` : '';
    return new StorageError(`GCS ${op} ${this.where(key)} failed: ${msg}${status !== undefined ? ` (HTTP ${status})` : ''}${what}`, { transient, cause: e });
  }

  // ---- writes ----

  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    if (opts?.signal?.aborted) throw new CancelledError('GCS put cancelled');
    const signal = this.opSignal(opts?.signal);
    const single = Math.min(SINGLE_REQUEST_MAX, this.tuning.chunkSize);
    if (Buffer.isBuffer(body) && body.length <= single) {
      await this.putSingle(key, body, signal);
      return;
    }
    // Read ahead up to one request's worth: a body that ends there needs no upload session.
    let ahead: ReadAhead;
    try {
      ahead = await readAhead(openBody(body), single, signal);
    } catch (e) {
      // Without an abort, the body itself failed (e.g. a compressor error): that error goes on unchanged.
      throw signal?.aborted ? this.mapError(e, 'put', key, signal) : e;
    }
    if (ahead.ended) await this.putSingle(key, ahead.data, signal);
    else await this.putResumable(key, ahead.stream, signal);
  }

  /** One multipart request (metadata + media): atomic, and retried by the client as a whole. */
  private async putSingle(key: string, data: Buffer, signal: AbortSignal): Promise<void> {
    try {
      await raceSignal(this.file(key).save(data, {
        resumable: false,
        contentType: 'application/octet-stream',
        // An MD5 the server checks: a body damaged on the way is refused instead of stored.
        validation: 'md5',
        metadata: { md5Hash: createHash('md5').update(data).digest('base64') },
      }), signal);
    } catch (e) {
      throw this.mapError(e, 'put', key, signal);
    }
  }

  /**
   * One resumable session: the client buffers and sends GCS_MAX_CHUNK_SIZE bytes per request (each chunk
   * retried on its own), and the object only exists once the final chunk is committed. On failure the session
   * is cancelled so that no half-written upload lingers.
   */
  private async putResumable(key: string, source: Readable, signal: AbortSignal): Promise<void> {
    let sessionUri: string | undefined;
    const ws = this.file(key).createWriteStream({
      resumable: true,
      chunkSize: this.tuning.chunkSize,
      contentType: 'application/octet-stream',
      validation: 'crc32c',
    });
    ws.on('uri', (u: string) => { sessionUri = u; });
    let sourceError: unknown;
    source.once('error', (e) => { sourceError = e; });
    try {
      await pipeline(source, ws, { signal });
    } catch (e) {
      source.destroy();
      if (sessionUri) await this.cancelSession(sessionUri, key);
      // The body's own failure (e.g. a compressor error) is the real cause and goes on unchanged.
      if (sourceError !== undefined && !signal.aborted) throw sourceError;
      throw this.mapError(e, 'put', key, signal);
    }
  }

  private async cancelSession(uri: string, key: string): Promise<void> {
    try {
      // A session URI authorises itself; DELETE cancels the upload (GCS answers 499).
      const res = await fetch(uri, { method: 'DELETE', headers: { 'Content-Length': '0' }, signal: AbortSignal.timeout(30_000) });
      await res.body?.cancel();
    } catch (e) {
      log.debug(`GCS: could not cancel the upload session of ${this.where(key)}: ${(e as Error).message}`);
    }
  }

  // ---- reads ----

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const r = opts?.range;
    if (r && r.end !== undefined && r.end <= r.start) {
      await this.stat(key, opts); // an empty range still reports a missing object
      return Readable.from([]);
    }
    // Whole objects are checked against the stored CRC32C as they stream; ranges cannot be.
    const rs = this.file(key).createReadStream(r ? { start: r.start, ...(r.end !== undefined ? { end: r.end - 1 } : {}) } : { validation: 'crc32c' });
    const signal = opts?.signal;
    // The request starts on the first read; wait for its status so a missing object is an error of get().
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => { rs.destroy(); reject(new CancelledError('GCS get cancelled')); };
        if (signal?.aborted) { onAbort(); return; }
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = (f: () => void) => { signal?.removeEventListener('abort', onAbort); rs.off('error', onError); f(); };
        const onError = (e: unknown) => done(() => reject(e));
        rs.once('error', onError);
        rs.once('response', (res: { statusCode?: number; status?: number }) => {
          const status = res.statusCode ?? res.status ?? 0;
          // Errors arrive as an 'error' event once the body is read; keep waiting for it.
          if (status < 300) done(resolve);
        });
        rs.read(0);
      });
    } catch (e) {
      rs.destroy();
      const err = e as ApiErrorLike;
      // A range starting at or past the end (e.g. of an empty object) is empty, not an error.
      if (r && err.code === 416) return Readable.from([]);
      throw this.mapError(e, 'get', key, signal);
    }
    if (signal) {
      const onAbort = () => rs.destroy(new CancelledError('GCS get cancelled'));
      signal.addEventListener('abort', onAbort, { once: true });
      rs.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return rs;
  }

  async stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    const signal = this.opSignal(opts?.signal);
    try {
      const [md] = await raceSignal(this.file(key).getMetadata(), signal);
      return { key, size: Number(md.size ?? 0), lastModified: new Date(md.updated ?? md.timeCreated ?? 0) };
    } catch (e) {
      throw this.mapError(e, 'stat', key, signal);
    }
  }

  async exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean> {
    return existsByStat(() => this.stat(key, opts));
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const rel = folderPrefix(prefix);
    const fullPrefix = this.root + rel;
    let pageToken: string | undefined;
    for (;;) {
      const signal = this.opSignal(opts?.signal);
      type Page = { prefixes?: string[]; nextPageToken?: string };
      let files: File[];
      let resp: Page | undefined;
      try {
        [files, , resp] = (await raceSignal(this.bucket.getFiles({
          prefix: fullPrefix, delimiter: opts?.recursive ? undefined : '/', autoPaginate: false, maxResults: this.tuning.pageSize, pageToken,
        }), signal)) as unknown as [File[], unknown, Page | undefined];
      } catch (e) {
        throw this.mapError(e, 'list', undefined, signal);
      }
      const out: ListEntry[] = [];
      for (const f of files) {
        // A zero-byte "folder marker" named exactly like the prefix is not an entry of its own.
        if (f.name === fullPrefix || !f.name.startsWith(this.root)) continue;
        const md = f.metadata;
        out.push({ type: 'obj', key: f.name.slice(this.root.length), size: Number(md.size ?? 0), lastModified: new Date(md.updated ?? md.timeCreated ?? 0) });
      }
      for (const p of resp?.prefixes ?? []) {
        // compat: GCS may report a '<prefix>/' pseudo-folder for keys with '//'; WAL-G skips it.
        if (p === `${fullPrefix}/` || !p.startsWith(this.root)) continue;
        out.push({ type: 'dir', key: p.slice(this.root.length), size: 0, lastModified: new Date(0) });
      }
      out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      yield* out;
      pageToken = resp?.nextPageToken;
      if (!pageToken) return;
    }
  }

  // ---- delete ----

  async delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void> {
    if (keys.length === 0) return;
    const signal = this.opSignal(opts?.signal);
    let failure: unknown;
    // The JSON API deletes one object per request; a few in parallel keep big retention runs quick. The first
    // failure stops new deletes, but the ones in flight are let finish before it is thrown.
    await mapLimit(keys, DELETE_CONCURRENCY, async (key) => {
      if (failure !== undefined) return;
      try {
        await raceSignal(this.bucket.file(this.full(key)).delete({ ignoreNotFound: true }), signal);
      } catch (e) {
        failure ??= this.mapError(e, 'delete', key, signal);
      }
    });
    if (failure !== undefined) throw failure;
  }

  async close(): Promise<void> {}
}
