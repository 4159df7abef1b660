// OpenStack Swift storage driver on Node's built-in fetch: auth v1 / Keystone v2 / Keystone v3 (swift-auth.ts),
// streamed uploads, and Static Large Objects (segments in '<container>_segments', split by swift-chunks.ts) for
// bodies above the segment size, or of unknown size above the buffering threshold. The manifest goes last: no
// partial object is ever visible.

import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CancelledError, ConfigError, ObjectNotFoundError, StorageError } from '../../core/errors.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { log } from '../../core/log.ts';
import { openBody, existsByStat } from '../body.ts';
import { folderPrefix, joinKey } from '../types.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';
import { SwiftAuth, authVersionOf, encodePath, networkError, oneLine, safeUrl } from './swift-auth.ts';
import type { SwiftAuthOptions } from './swift-auth.ts';
import { ChunkReader } from './swift-chunks.ts';

/** Settings of one Swift storage; the config layer fills them from WALG_SWIFT_PREFIX and OS_* settings. */
export interface SwiftOptions extends SwiftAuthOptions {
  container: string;
  /** Path inside the container ('' = container root). */
  prefix: string;
  /** Largest segment of a segmented upload and largest plain object (default 5 GiB − 1 MiB). */
  segmentSize?: number;
  /** A body of unknown size is buffered up to this size and sent as one plain PUT (default 20 MiB). */
  maxBufferedPutSize?: number;
  /** Container for segments (default '<container>_segments'). */
  segmentContainer?: string;
  /** Parallel requests for deletes without bulk delete (default 16). */
  deleteConcurrency?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_SEGMENT_SIZE = 5 * 1024 * MiB - MiB;
const DEFAULT_BUFFERED_PUT = 20 * MiB;
const LIST_LIMIT = 10_000;
const MAX_SEGMENTS = 1000; // Swift's default max_manifest_segments

interface SwiftInfo { bulkDelete?: { maxDeletes: number } }
type FetchBody = Buffer | string | AsyncIterable<Uint8Array>;

/**
 * Creates a Swift Storage. Validates the options and authenticates once (so bad credentials fail here with
 * a StorageError), then returns a driver satisfying the Storage contract.
 */
export async function createSwiftStorage(opts: SwiftOptions, name = 'default'): Promise<Storage> {
  if (!opts.container) throw new ConfigError('Swift container is not set');
  if (!opts.authUrl) throw new ConfigError('OS_AUTH_URL is not set');
  if (!opts.username) throw new ConfigError('OS_USERNAME is not set');
  if (opts.password === undefined || opts.password === '') throw new ConfigError('OS_PASSWORD is not set');
  try { new URL(opts.authUrl); } catch { throw new ConfigError(`invalid OS_AUTH_URL '${safeUrl(opts.authUrl)}'`); }
  const version = authVersionOf(opts);
  const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isInteger(segmentSize) || segmentSize <= 0) throw new ConfigError(`invalid Swift segment size: ${segmentSize}`);
  const s = new SwiftStorage(opts, version, name);
  await s.auth.session();
  return s;
}

class SwiftStorage implements Storage {
  readonly type = 'swift';
  readonly name: string;
  /** The storage's login session (shared by every request). */
  readonly auth: SwiftAuth;
  private readonly opts: SwiftOptions;
  private readonly container: string;
  private readonly segContainer: string;
  private readonly root: string;
  private readonly segmentSize: number;
  private readonly bufferedPut: number;
  private info: Promise<SwiftInfo> | undefined;
  private segContainerReady: Promise<void> | undefined;

  constructor(opts: SwiftOptions, version: 1 | 2 | 3, name: string) {
    this.opts = opts;
    this.auth = new SwiftAuth(opts, version);
    this.name = name;
    this.container = opts.container;
    this.segContainer = opts.segmentContainer ?? `${opts.container}_segments`;
    this.root = joinKey(opts.prefix.replace(/^\/+/, ''));
    this.segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.bufferedPut = Math.min(this.segmentSize, opts.maxBufferedPutSize ?? DEFAULT_BUFFERED_PUT);
  }

  private full(key: string): string { return this.root ? `${this.root}/${key}` : key; }
  private rel(fullKey: string): string { return this.root ? fullKey.slice(this.root.length + 1) : fullKey; }

  // ---- requests ----

  /**
   * One authenticated request. `path` is appended to the storage URL. A 401 re-authenticates and repeats
   * the request once when its body can be sent again (none, string or Buffer).
   */
  private async request(method: string, path: string, init: { headers?: Record<string, string>; body?: FetchBody; signal?: AbortSignal; what: string }): Promise<Response> {
    const resendable = init.body === undefined || typeof init.body === 'string' || Buffer.isBuffer(init.body);
    for (let attempt = 0; ; attempt++) {
      const s = await this.auth.session();
      let res: Response;
      try {
        res = await fetch(s.storageUrl.replace(/\/+$/, '') + path, {
          method,
          headers: { ...init.headers, 'X-Auth-Token': s.token },
          body: init.body as RequestInit["body"],
          signal: init.signal,
          // Streamed bodies: undici sends them with Transfer-Encoding: chunked.
          ...(init.body !== undefined && !resendable ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (e) {
        if (init.signal?.aborted) throw new CancelledError(`${init.what} cancelled`);
        throw networkError(e, init.what);
      }
      if (res.status !== 401) return res;
      await res.body?.cancel();
      // The server rejected the token although it looked valid: drop it, so the next call logs in again.
      this.auth.invalidate(s);
      if (attempt > 0 || !resendable) {
        // Transient on a streamed body: a caller able to re-send it (retry wrapper) will get a fresh token.
        throw new StorageError(`${init.what} failed: HTTP 401 Unauthorized (token rejected)`, { transient: attempt === 0 });
      }
    }
  }

  /** Turns a non-success response into the right error (after consuming its body). */
  private async fail(res: Response, what: string, key?: string): Promise<Error> {
    const text = await res.text().catch(() => '');
    if (res.status === 404 && key !== undefined) return new ObjectNotFoundError(key);
    const transient = (res.status >= 500 && res.status !== 501) || res.status === 429 || res.status === 408 || res.status === 499;
    const detail = oneLine(text);
    return new StorageError(`${what} failed: HTTP ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`, { transient });
  }

  private objPath(container: string, fullKey: string): string {
    return `/${encodeURIComponent(container)}/${encodePath(fullKey)}`;
  }

  private where(fullKey: string): string { return `swift://${this.container}/${fullKey}`; }

  // ---- put ----

  /**
   * Three ways, by what is known of the size: a Buffer (or a body of unknown size that ends within
   * maxBufferedPutSize) is one PUT with Content-Length and ETag; a body whose sizeHint fits the segment size
   * is one chunked PUT streamed to the key; anything else is a segmented upload (SLO).
   */
  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    const signal = opts?.signal;
    if (signal?.aborted) throw new CancelledError('Swift put cancelled');
    const fullKey = this.full(key);
    if (Buffer.isBuffer(body) && body.length <= this.segmentSize) {
      await this.putBuffer(fullKey, body, signal);
      return;
    }
    const size = Buffer.isBuffer(body) ? body.length : opts?.sizeHint;
    const stream = openBody(body);
    try {
      await pipeline(stream, async (source: AsyncIterable<Buffer | string>) => {
        const reader = new ChunkReader(source);
        if (size !== undefined && size <= this.segmentSize) {
          // Known to fit one object: stream it straight to the key, no buffering.
          await this.putStreamed(this.objPath(this.container, fullKey), reader, Infinity, signal, `Swift put ${this.where(fullKey)}`);
          return;
        }
        // Unknown size: buffer a little; small bodies (most WAL files) become plain objects.
        if (size === undefined && await reader.fill(this.bufferedPut + 1) <= this.bufferedPut) {
          await this.putBuffer(fullKey, reader.takeAll(), signal);
          return;
        }
        await this.putSegmented(fullKey, reader, signal);
      }, { signal });
    } catch (e) {
      stream.destroy();
      if (signal?.aborted) throw new CancelledError('Swift put cancelled');
      throw e;
    }
  }

  private async putBuffer(fullKey: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    const what = `Swift put ${this.where(fullKey)}`;
    // The ETag makes Swift verify the bytes it stored (422 on mismatch).
    const res = await this.request('PUT', this.objPath(this.container, fullKey), {
      headers: { ETag: createHash('md5').update(data).digest('hex'), 'Content-Type': 'application/octet-stream' },
      body: data, signal, what,
    });
    if (res.status !== 201) throw await this.fail(res, what);
    await res.body?.cancel();
  }

  /**
   * PUTs up to `limit` bytes from the reader as one chunked request and returns size and md5. An error of
   * the source aborts the request mid-body, and Swift then stores nothing.
   */
  private async putStreamed(path: string, reader: ChunkReader, limit: number, signal: AbortSignal | undefined, what: string): Promise<{ size: number; md5: string }> {
    const hash = createHash('md5');
    let size = 0;
    let sourceError: unknown;
    const body = (async function* () {
      for (;;) {
        let chunk: Buffer | undefined;
        try { chunk = await reader.next(limit - size); } catch (e) { sourceError = e; throw e; }
        if (!chunk) return;
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    })();
    let res: Response;
    try {
      res = await this.request('PUT', path, { headers: { 'Content-Type': 'application/octet-stream' }, body, signal, what });
    } catch (e) {
      // The body's own failure (e.g. a compressor error) is the real cause, not the aborted request.
      throw sourceError ?? e;
    }
    if (res.status !== 201) throw await this.fail(res, what);
    await res.body?.cancel();
    const md5 = hash.digest('hex');
    const etag = res.headers.get('etag')?.replace(/"/g, '');
    if (etag && etag !== md5) throw new StorageError(`${what} failed: stored ETag ${etag} does not match the sent data (${md5})`, { transient: true });
    return { size, md5 };
  }

  private ensureSegmentContainer(signal?: AbortSignal): Promise<void> {
    this.segContainerReady ??= (async () => {
      const what = `Swift create container ${this.segContainer}`;
      const res = await this.request('PUT', `/${encodeURIComponent(this.segContainer)}`, { signal, what });
      if (res.status !== 201 && res.status !== 202) throw await this.fail(res, what);
      await res.body?.cancel();
    })();
    this.segContainerReady.catch(() => { this.segContainerReady = undefined; });
    return this.segContainerReady;
  }

  /**
   * Segmented upload: segments of segmentSize bytes, streamed one after another into the segment container
   * under '<fullKey>/<uploadId>/<n>', then the SLO manifest under the key. On any failure the segments
   * already written are deleted, and the key was never touched.
   */
  private async putSegmented(fullKey: string, reader: ChunkReader, signal?: AbortSignal): Promise<void> {
    await this.ensureSegmentContainer(signal);
    // Time first, so an operator can tell old leftovers from running uploads.
    const uploadId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const segments: { path: string; etag: string; size_bytes: number }[] = [];
    const written: string[] = [];
    try {
      do {
        if (segments.length >= MAX_SEGMENTS) {
          throw new StorageError(`Swift put ${this.where(fullKey)} failed: more than ${MAX_SEGMENTS} segments; raise the segment size`);
        }
        const segName = `${fullKey}/${uploadId}/${String(segments.length + 1).padStart(8, '0')}`;
        written.push(segName);
        const { size, md5 } = await this.putStreamed(this.objPath(this.segContainer, segName), reader, this.segmentSize, signal, `Swift put segment ${this.segContainer}/${segName}`);
        segments.push({ path: `/${this.segContainer}/${segName}`, etag: md5, size_bytes: size });
      } while (await reader.fill(1) > 0); // peek, so no empty trailing segment is written
      const what = `Swift put manifest ${this.where(fullKey)}`;
      const res = await this.request('PUT', `${this.objPath(this.container, fullKey)}?multipart-manifest=put`, {
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(segments), signal, what,
      });
      if (res.status !== 201) throw await this.fail(res, what);
      await res.body?.cancel();
    } catch (e) {
      await this.deleteSegments(written).catch((err: Error) => {
        log.warn(`Swift: could not remove ${written.length} segments of a failed upload under ${this.segContainer}/${fullKey}/${uploadId}/: ${err.message}`);
      });
      throw e;
    }
  }

  private async deleteSegments(names: string[]): Promise<void> {
    await this.deleteObjects(this.segContainer, names);
  }

  // ---- reads ----

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const fullKey = this.full(key);
    const what = `Swift get ${this.where(fullKey)}`;
    const r = opts?.range;
    if (r && r.end !== undefined && r.end <= r.start) {
      await this.stat(key, opts);
      return Readable.from([]);
    }
    const headers: Record<string, string> = {};
    if (r) headers.Range = `bytes=${r.start}-${r.end !== undefined ? r.end - 1 : ''}`;
    const res = await this.request('GET', this.objPath(this.container, fullKey), { headers, signal: opts?.signal, what });
    // A range starting at or past the end (e.g. of an empty object) is empty, not an error.
    if (res.status === 416) { await res.body?.cancel(); return Readable.from([]); }
    if (res.status !== 200 && res.status !== 206) throw await this.fail(res, what, key);
    if (!res.body) return Readable.from([]);
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }

  async stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    const fullKey = this.full(key);
    const what = `Swift stat ${this.where(fullKey)}`;
    const res = await this.request('HEAD', this.objPath(this.container, fullKey), { signal: opts?.signal, what });
    if (res.status !== 200) throw await this.fail(res, what, key);
    await res.body?.cancel();
    // X-Timestamp has sub-second precision, like the listing's last_modified.
    const ts = Number(res.headers.get('x-timestamp'));
    const lastModified = Number.isFinite(ts) && ts > 0 ? new Date(ts * 1000) : new Date(res.headers.get('last-modified') ?? 0);
    return { key, size: Number(res.headers.get('content-length') ?? 0), lastModified };
  }

  async exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean> {
    return existsByStat(() => this.stat(key, opts));
  }

  /** Raw container listing (full names), following marker pagination. */
  private async *listRaw(container: string, prefix: string, delimiter: boolean, signal?: AbortSignal): AsyncIterable<{ name?: string; subdir?: string; bytes?: number; last_modified?: string }[]> {
    let marker = '';
    for (;;) {
      const q = new URLSearchParams({ format: 'json', prefix, limit: String(LIST_LIMIT) });
      if (delimiter) q.set('delimiter', '/');
      if (marker) q.set('marker', marker);
      const what = `Swift list swift://${container}/${prefix}`;
      const res = await this.request('GET', `/${encodeURIComponent(container)}?${q}`, { headers: { Accept: 'application/json' }, signal, what });
      if (res.status === 204) { await res.body?.cancel(); return; }
      if (res.status !== 200) {
        if (res.status === 404) await res.body?.cancel();
        throw res.status === 404 ? new StorageError(`${what} failed: container '${container}' does not exist`) : await this.fail(res, what);
      }
      const page = (await res.json()) as { name?: string; subdir?: string; bytes?: number; last_modified?: string }[];
      if (page.length === 0) return;
      yield page;
      if (page.length < LIST_LIMIT) return;
      const last = page[page.length - 1]!;
      marker = last.name ?? last.subdir ?? '';
    }
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const rel = folderPrefix(prefix);
    const fullPrefix = this.root ? `${this.root}/${rel}` : rel;
    for await (const page of this.listRaw(this.container, fullPrefix, !opts?.recursive, opts?.signal)) {
      for (const e of page) {
        if (e.subdir !== undefined) {
          yield { type: 'dir', key: this.rel(e.subdir), size: 0, lastModified: new Date(0) };
        } else if (e.name !== undefined && e.name !== fullPrefix) {
          // Swift's last_modified is UTC without a zone designator.
          const lm = e.last_modified ? new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(e.last_modified) ? e.last_modified : `${e.last_modified}Z`) : new Date(0);
          yield { type: 'obj', key: this.rel(e.name), size: e.bytes ?? 0, lastModified: lm };
        }
      }
    }
  }

  // ---- delete ----

  private swiftInfo(): Promise<SwiftInfo> {
    this.info ??= (async () => {
      try {
        const s = await this.auth.session();
        // /info lives at the proxy root, beside /v1/AUTH_x; it needs no token.
        const res = await fetch(`${new URL(s.storageUrl).origin}/info`, { signal: AbortSignal.timeout(10_000) });
        if (!res.ok) { await res.body?.cancel(); return {}; }
        const doc = (await res.json()) as Record<string, any>;
        const bd = doc.bulk_delete;
        return bd ? { bulkDelete: { maxDeletes: Number(bd.max_deletes_per_request) || 1000 } } : {};
      } catch {
        return {};
      }
    })();
    return this.info;
  }

  /** Deletes objects of one container: bulk delete when the cluster offers it, else parallel DELETEs. 404 is fine. */
  private async deleteObjects(container: string, names: readonly string[], signal?: AbortSignal): Promise<void> {
    if (names.length === 0) return;
    const info = await this.swiftInfo();
    if (info.bulkDelete && names.length > 1) {
      const max = info.bulkDelete.maxDeletes;
      for (let i = 0; i < names.length; i += max) {
        const chunk = names.slice(i, i + max);
        const what = `Swift bulk delete of ${chunk.length} objects in ${container}`;
        const body = chunk.map((n) => this.objPath(container, n)).join('\n');
        const res = await this.request('POST', '?bulk-delete', { headers: { 'Content-Type': 'text/plain', Accept: 'application/json' }, body, signal, what });
        if (res.status !== 200) throw await this.fail(res, what);
        // The bulk middleware answers 200 at once and reports the real outcome in the JSON body.
        const doc = JSON.parse((await res.text()).trim() || '{}') as { 'Response Status'?: string; Errors?: [string, string][] };
        const status = doc['Response Status'] ?? '200 OK';
        const errors = doc.Errors ?? [];
        if (!status.startsWith('2') || errors.length > 0) {
          const first = errors[0];
          throw new StorageError(`${what} failed: ${status}${first ? `, first: ${first[0]}: ${first[1]}` : ''}`, { transient: /^5/.test(status) || errors.some((x) => /^5/.test(x[1])) });
        }
      }
      return;
    }
    await mapLimit(names, Math.max(1, this.opts.deleteConcurrency ?? 16), async (n) => {
      const what = `Swift delete swift://${container}/${n}`;
      const res = await this.request('DELETE', this.objPath(container, n), { signal, what });
      if (res.status !== 204 && res.status !== 200 && res.status !== 404) throw await this.fail(res, what);
      await res.body?.cancel();
    });
  }

  async delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void> {
    if (keys.length === 0) return;
    const full = keys.map((k) => this.full(k));
    await this.deleteObjects(this.container, full, opts?.signal);
    // Then the segments of any segmented objects among them (the manifest went first, so nothing visible
    // ever points at a deleted segment). Segments are '<fullKey>/<uploadId>/<n>': the owner is the name
    // without its last two parts. One listing under the keys' common prefix finds them all.
    const wanted = new Set(full);
    let common = full[0]!;
    for (const k of full) { let i = 0; while (i < common.length && i < k.length && common[i] === k[i]) i++; common = common.slice(0, i); }
    const segs: string[] = [];
    try {
      for await (const page of this.listRaw(this.segContainer, common, false, opts?.signal)) {
        for (const e of page) {
          if (!e.name) continue;
          const owner = e.name.split('/').slice(0, -2).join('/');
          if (wanted.has(owner)) segs.push(e.name);
        }
      }
    } catch (e) {
      // No segment container: no segmented object was ever written.
      if (e instanceof StorageError && /does not exist$/.test(e.message)) return;
      throw e;
    }
    await this.deleteObjects(this.segContainer, segs, opts?.signal);
  }

  async close(): Promise<void> {}
}
