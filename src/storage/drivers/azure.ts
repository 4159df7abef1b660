// Azure Blob Storage driver on @azure/storage-blob, imported lazily in createAzureStorage.
// Objects are block blobs. A body that fits in one buffer (AZURE_BUFFER_SIZE) is one Put Blob; longer streams are
// staged as blocks, AZURE_MAX_BUFFERS in flight, and become visible only when the block list is committed, so a
// failed or aborted put leaves nothing listed (staged blocks of an uncommitted blob expire on their own).

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ContainerClient, RequestPolicyFactory } from '@azure/storage-blob';
import { mapLimit } from '../../core/concurrency.ts';
import { CancelledError, ConfigError, ObjectNotFoundError, StorageError, WalgError } from '../../core/errors.ts';
import { existsByStat, openBody } from '../body.ts';
import { readAhead } from '../readahead.ts';
import type { ReadAhead } from '../readahead.ts';
import { folderPrefix, joinKey } from '../types.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

/** Settings of one Azure storage. Plain values: the registry maps WALG_AZ_PREFIX and the AZURE_* settings onto them. */
export interface AzureOptions {
  container: string;
  /** Path inside the container ('' = container root). Leading/trailing slashes are ignored. */
  prefix: string;
  /** AZURE_STORAGE_ACCOUNT (required). */
  account: string;
  /** AZURE_STORAGE_ACCESS_KEY: shared-key authentication; wins over a SAS token. */
  accessKey?: string;
  /** AZURE_STORAGE_SAS_TOKEN, with or without its leading '?'. */
  sasToken?: string;
  /** AZURE_ENVIRONMENT_NAME (default AzurePublicCloud): picks the endpoint suffix. */
  environmentName?: string;
  /** AZURE_ENDPOINT_SUFFIX: overrides the suffix the environment implies. */
  endpointSuffix?: string;
  /** AZURE_BLOB_ENDPOINT (ours): the whole blob service URL, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1. */
  endpoint?: string;
  /** AZURE_BUFFER_SIZE: block size of streamed uploads (default 8 MiB, at least 1024). */
  bufferSize?: number;
  /** AZURE_MAX_BUFFERS: blocks uploaded in parallel per upload (default 4, at least 1). */
  maxBuffers?: number;
  /** AZURE_TRY_TIMEOUT in minutes (default 5): limit of one try of one request. */
  tryTimeoutMin?: number;
  /** AZURE_BLOB_STORE_API_VERSION: x-ms-version sent instead of the client library's own. */
  apiVersion?: string;
  /** Entries per listing page (default 5000, the service maximum). */
  listPageSize?: number;
}

type SdkModule = typeof import('@azure/storage-blob');

const MiB = 1024 * 1024;
const DEFAULT_BUFFER = 8 * MiB;
const MIN_BUFFER = 1024;
/** Put Blob accepts up to 5000 MiB, but a single request cannot resume; anything above a block is staged. */
const DELETE_CONCURRENCY = 16;
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET', 'REQUEST_SEND_ERROR']);

/**
 * compat: the zone of Azure's object times. The service sends RFC 1123 times ("... GMT"), which WAL-G's client
 * library parses with a named zone, so WAL-G's `st ls` / `st stat` print "+0000 GMT" for them.
 */
const AZURE_ZONE = 'GMT';

/** compat: the endpoint suffix of an Azure environment name, as WAL-G maps it (unknown names mean the public cloud). */
export function azureEndpointSuffix(environmentName: string | undefined): string {
  switch (environmentName) {
    case 'AzureUSGovernmentCloud': return 'core.usgovcloudapi.net';
    case 'AzureChinaCloud': return 'core.chinacloudapi.cn';
    case 'AzureGermanCloud': return 'core.cloudapi.de';
    default: return 'core.windows.net';
  }
}

/**
 * Creates an Azure Storage: validates the options (ConfigError when the account or every credential is missing,
 * or the endpoint is not a URL), loads the client library and returns a driver satisfying the Storage contract.
 * Makes no request.
 */
export async function createAzureStorage(opts: AzureOptions, name = 'default'): Promise<Storage> {
  if (!opts.container) throw new ConfigError('Azure container is not set (WALG_AZ_PREFIX=azure://container/path)');
  if (!opts.account) throw new ConfigError('AZURE_STORAGE_ACCOUNT is required for WALG_AZ_PREFIX');
  if (!opts.accessKey && !opts.sasToken) {
    // WAL-G falls back on the default Azure credential chain (service principal, managed identity); that needs
    // @azure/identity, which this build does not ship.
    throw new ConfigError('AZURE_STORAGE_ACCESS_KEY or AZURE_STORAGE_SAS_TOKEN must be set (the default Azure credential chain is not supported by this build)');
  }
  const serviceUrl = (opts.endpoint ?? `https://${opts.account}.blob.${opts.endpointSuffix ?? azureEndpointSuffix(opts.environmentName)}`).replace(/\/+$/, '');
  try { new URL(serviceUrl); } catch { throw new ConfigError(`invalid Azure blob endpoint URL: '${serviceUrl}'`); }
  const tryTimeoutMin = opts.tryTimeoutMin ?? 5;
  if (!Number.isFinite(tryTimeoutMin) || tryTimeoutMin <= 0) throw new ConfigError(`AZURE_TRY_TIMEOUT must be a positive number of minutes, got ${tryTimeoutMin}`);

  const sdk: SdkModule = await import('@azure/storage-blob');
  const credential = opts.accessKey ? new sdk.StorageSharedKeyCredential(opts.account, opts.accessKey) : new sdk.AnonymousCredential();
  const pipeline = sdk.newPipeline(credential, {
    retryOptions: { tryTimeoutInMs: tryTimeoutMin * 60_000 },
    keepAliveOptions: { enable: true },
  });
  if (opts.apiVersion) {
    // Runs before signing (policies without a phase come first), so the shared-key signature covers it.
    const apiVersion = opts.apiVersion;
    const factory: RequestPolicyFactory = {
      create: (next) => ({
        sendRequest: (req) => { req.headers.set('x-ms-version', apiVersion); return next.sendRequest(req); },
      }),
    };
    pipeline.factories.push(factory);
  }
  let containerUrl = `${serviceUrl}/${encodeURIComponent(opts.container)}`;
  // compat: WAL-G adds the '?' a SAS token may lack. With a key, the token is not used.
  if (!opts.accessKey && opts.sasToken) containerUrl += opts.sasToken.startsWith('?') ? opts.sasToken : `?${opts.sasToken}`;
  const container = new sdk.ContainerClient(containerUrl, pipeline);
  return new AzureStorage(container, opts, name);
}

interface RestErrorLike { name?: string; code?: string; statusCode?: number; message?: string; details?: { errorCode?: string } }

/** One-line form of a message: service errors carry multi-line XML details. */
function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}...` : t;
}

class AzureStorage implements Storage {
  readonly type = 'azure';
  readonly name: string;
  private readonly container: ContainerClient;
  private readonly containerName: string;
  private readonly root: string;
  private readonly bufferSize: number;
  private readonly maxBuffers: number;
  private readonly pageSize: number;
  private readonly secrets: string[];

  constructor(container: ContainerClient, opts: AzureOptions, name: string) {
    this.container = container;
    this.containerName = opts.container;
    this.name = name;
    this.root = joinKey(opts.prefix.replace(/^\/+/, ''));
    // compat: WAL-G raises values below the minimums instead of failing.
    this.bufferSize = Math.max(MIN_BUFFER, opts.bufferSize ?? DEFAULT_BUFFER);
    this.maxBuffers = Math.max(1, opts.maxBuffers ?? 4);
    this.pageSize = Math.max(1, Math.min(5000, opts.listPageSize ?? 5000));
    this.secrets = [opts.accessKey, opts.sasToken?.replace(/^\?/, '')].filter((s): s is string => !!s && s.length >= 4);
  }

  private full(key: string): string { return this.root ? `${this.root}/${key}` : key; }
  private rel(fullKey: string): string { return this.root ? fullKey.slice(this.root.length + 1) : fullKey; }
  private where(key?: string): string { return `azure://${this.containerName}/${key === undefined ? this.root : this.full(key)}`; }
  private blob(key: string) { return this.container.getBlockBlobClient(this.full(key)); }

  private mapError(e: unknown, op: string, key: string | undefined, signal?: AbortSignal): Error {
    if (e instanceof WalgError) return e;
    const err = (e ?? {}) as RestErrorLike;
    if (signal?.aborted || err.name === 'AbortError') return new CancelledError(`Azure ${op} cancelled`);
    const status = err.statusCode;
    const code = err.details?.errorCode ?? err.code;
    if (key !== undefined && (op === 'get' || op === 'stat') && (code === 'BlobNotFound' || (status === 404 && code !== 'ContainerNotFound'))) {
      return new ObjectNotFoundError(key);
    }
    let msg = oneLine(err.message || String(e));
    for (const s of this.secrets) msg = msg.split(s).join('***');
    const transient = status !== undefined && status !== 0
      ? status >= 500 || status === 429 || status === 408
      : NETWORK_CODES.has(code ?? '') || err.name === 'TimeoutError';
    const hint = code === 'ContainerNotFound' ? ` (container '${this.containerName}' does not exist)` : '';
    return new StorageError(`Azure ${op} ${this.where(key)} failed: ${code ?? 'error'}${msg && msg !== code ? `: ${msg}` : ''}${status ? ` (HTTP ${status})` : ''}${hint}`, { transient, cause: e });
  }

  // ---- writes ----

  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    const signal = opts?.signal;
    if (signal?.aborted) throw new CancelledError('Azure put cancelled');
    if (Buffer.isBuffer(body) && body.length <= this.bufferSize) {
      await this.putSingle(key, body, signal);
      return;
    }
    let ahead: ReadAhead;
    try {
      ahead = await readAhead(openBody(body), this.bufferSize, signal);
    } catch (e) {
      // Without an abort, the body itself failed (e.g. a compressor error): that error goes on unchanged.
      throw signal?.aborted ? this.mapError(e, 'put', key, signal) : e;
    }
    if (ahead.ended) await this.putSingle(key, ahead.data, signal);
    else await this.putBlocks(key, ahead.stream, signal);
  }

  /** One Put Blob with a transactional MD5: the service refuses (and stores nothing for) damaged bytes. */
  private async putSingle(key: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    try {
      await this.blob(key).upload(data, data.length, {
        abortSignal: signal,
        transactionalContentMD5: createHash('md5').update(data).digest(),
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      });
    } catch (e) {
      throw this.mapError(e, 'put', key, signal);
    }
  }

  /**
   * Staged blocks of AZURE_BUFFER_SIZE, at most AZURE_MAX_BUFFERS in flight (memory is bounded by their product),
   * then one Put Block List that makes the blob appear whole.
   */
  private async putBlocks(key: string, source: Readable, signal?: AbortSignal): Promise<void> {
    // The client library reads the source with 'data' events; an error of the source must end the upload too.
    let sourceError: unknown;
    source.once('error', (e) => { sourceError = e; });
    // The library passes the signal only to its requests: while it waits for the next buffer, nothing would
    // notice an abort, and an endless source would be read on. Failing the source stops the upload too.
    const onAbort = () => source.destroy(new CancelledError('Azure put cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.blob(key).uploadStream(source, this.bufferSize, this.maxBuffers, {
        abortSignal: signal,
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      });
      if (sourceError !== undefined) throw sourceError;
    } catch (e) {
      source.destroy();
      // The body's own failure (e.g. a compressor error) is the real cause, not what the library made of it.
      if (sourceError !== undefined && !signal?.aborted) throw sourceError;
      throw this.mapError(e, 'put', key, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  // ---- reads ----

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const r = opts?.range;
    if (r && r.end !== undefined && r.end <= r.start) {
      await this.stat(key, opts); // an empty range still reports a missing object
      return Readable.from([]);
    }
    try {
      const res = await this.blob(key).download(r?.start ?? 0, r?.end !== undefined ? r.end - r.start : undefined, {
        abortSignal: opts?.signal,
        // A broken download resumes from where it stopped with a ranged request, a few times.
        maxRetryRequests: 5,
      });
      const body = res.readableStreamBody;
      if (!body) return Readable.from([]);
      return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array>);
    } catch (e) {
      const err = e as RestErrorLike;
      // A range starting at or past the end (e.g. of an empty object) is empty, not an error.
      if (r && (err.statusCode === 416 || err.code === 'InvalidRange')) return Readable.from([]);
      throw this.mapError(e, 'get', key, opts?.signal);
    }
  }

  async stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    try {
      const p = await this.blob(key).getProperties({ abortSignal: opts?.signal });
      return { key, size: p.contentLength ?? 0, lastModified: p.lastModified ?? new Date(0), zoneName: AZURE_ZONE };
    } catch (e) {
      throw this.mapError(e, 'stat', key, opts?.signal);
    }
  }

  async exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean> {
    return existsByStat(() => this.stat(key, opts));
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const rel = folderPrefix(prefix);
    const fullPrefix = this.root ? `${this.root}/${rel}` : rel;
    const signal = opts?.signal;
    const pages = opts?.recursive
      ? this.container.listBlobsFlat({ prefix: fullPrefix, abortSignal: signal }).byPage({ maxPageSize: this.pageSize })
      : this.container.listBlobsByHierarchy('/', { prefix: fullPrefix, abortSignal: signal }).byPage({ maxPageSize: this.pageSize });
    const it = pages[Symbol.asyncIterator]();
    for (;;) {
      let page: { segment: { blobItems?: { name: string; properties: { contentLength?: number; lastModified: Date } }[]; blobPrefixes?: { name: string }[] } };
      try {
        const r = await it.next();
        if (r.done) return;
        page = r.value as typeof page;
      } catch (e) {
        throw this.mapError(e, 'list', undefined, signal);
      }
      const out: ListEntry[] = [];
      for (const b of page.segment.blobItems ?? []) {
        // A zero-byte "folder marker" named exactly like the prefix is not an entry of its own.
        if (b.name === fullPrefix) continue;
        out.push({ type: 'obj', key: this.rel(b.name), size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified, zoneName: AZURE_ZONE });
      }
      for (const p of page.segment.blobPrefixes ?? []) out.push({ type: 'dir', key: this.rel(p.name), size: 0, lastModified: new Date(0) });
      out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      yield* out;
    }
  }

  // ---- delete ----

  async delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void> {
    let failure: unknown;
    // One request per blob (as WAL-G); a few in parallel keep big retention runs quick. The first failure stops
    // new deletes, but the ones in flight are let finish before it is thrown.
    await mapLimit(keys, DELETE_CONCURRENCY, async (key) => {
      if (failure !== undefined) return;
      try {
        await this.blob(key).deleteIfExists({ deleteSnapshots: 'include', abortSignal: opts?.signal });
      } catch (e) {
        failure ??= this.mapError(e, 'delete', key, opts?.signal);
      }
    });
    if (failure !== undefined) throw failure;
  }

  async close(): Promise<void> {}
}
