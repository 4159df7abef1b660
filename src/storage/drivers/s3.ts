// S3 (and S3-compatible: MinIO, Ceph, Swift s3api) storage driver on the AWS SDK v3.
// The SDK is imported lazily inside createS3Storage so that commands not using S3 never pay its load time.
// Uploads: small bodies go as one PutObject; larger streams as our own multipart upload that is aborted on failure.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client, CompletedPart } from '@aws-sdk/client-s3';
import { CancelledError, ConfigError, StorageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { openBody, existsByStat } from '../body.ts';
import { folderPrefix, joinKey } from '../types.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';
import { THROTTLE_NAMES, clientConfig, findBucketRegion, installMiddleware, mapS3Error, oneLine } from './s3-client.ts';
import type { SdkModule } from './s3-client.ts';

/** Settings of one S3 storage. Plain values: the config layer maps WALG_S3_* / AWS_* settings onto them. */
export interface S3Options {
  bucket: string;
  /** Path inside the bucket ('' = bucket root). Leading/trailing slashes are ignored. */
  prefix: string;
  /** Region. Default: 'us-east-1' when an endpoint is set, else AWS_REGION / AWS_DEFAULT_REGION, else GetBucketLocation. */
  region?: string;
  /** Custom endpoint URL (S3-compatible stores). */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Static credentials; without them the SDK's default credential chain is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Default 'STANDARD'. */
  storageClass?: string;
  /** Server-side encryption algorithm ('AES256', 'aws:kms'); with sseC it is the SSE-C algorithm (default AES256). */
  sse?: string;
  /** KMS key id; required exactly when sse = 'aws:kms'. */
  sseKmsId?: string;
  /** SSE-C customer key (raw 32 bytes as text, or base64 of 32 bytes). */
  sseC?: string;
  /** Multipart part size in bytes (default 20 MiB). Also the largest body sent as a single PutObject. */
  maxPartSize?: number;
  /** Parts uploaded in parallel per upload (default 16, capped by a per-upload memory budget). */
  uploadConcurrency?: number;
  /** SDK-level retries of one request (default 15). */
  maxRetries?: number;
  /** PEM file with extra CA certificates for a TLS endpoint. */
  caFile?: string;
  useListObjectsV1?: boolean;
  /** Keys per DeleteObjects request (default 1000, the S3 maximum). */
  deleteBatchSize?: number;
  /** Extra headers added to every request. */
  requestAdditionalHeaders?: Record<string, string>;
}

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 20 * MiB;
const MAX_PARTS = 10_000;
const MAX_PART_BYTES = 5 * 1024 * MiB;
// Parts held in memory per upload: at most this many in flight (plus the one being filled), and never more
// than PART_MEMORY_BUDGET bytes in flight, so N concurrent uploads cost a bounded N × ~100 MiB.
const MAX_PARTS_IN_FLIGHT = 4;
const PART_MEMORY_BUDGET = 4 * DEFAULT_PART_SIZE;
/**
 * Creates an S3 Storage. Validates the options (ConfigError on contradictions such as aws:kms without a
 * KMS key id), loads the AWS SDK, resolves the region (GetBucketLocation when nothing says which) and
 * returns a driver satisfying the Storage contract. No request is made when the region is known.
 */
export async function createS3Storage(opts: S3Options, name = 'default'): Promise<Storage> {
  if (!opts.bucket) throw new ConfigError('S3 bucket is not set');
  if (opts.sse === 'aws:kms' && !opts.sseKmsId) throw new ConfigError('S3_SSE_KMS_ID must be set when S3_SSE is aws:kms');
  if (opts.sseKmsId && opts.sse !== 'aws:kms') throw new ConfigError('S3_SSE_KMS_ID is set but S3_SSE is not aws:kms');
  if (opts.sseC && opts.sse === 'aws:kms') throw new ConfigError('S3_SSE_C cannot be combined with S3_SSE=aws:kms');
  const partSize = opts.maxPartSize ?? DEFAULT_PART_SIZE;
  if (!Number.isInteger(partSize) || partSize <= 0 || partSize > MAX_PART_BYTES) {
    throw new ConfigError(`invalid S3 max part size: ${partSize}`);
  }
  if (opts.endpoint !== undefined) {
    try { new URL(opts.endpoint); } catch { throw new ConfigError(`invalid S3 endpoint URL: '${opts.endpoint}'`); }
  }

  // The SDK warns on stderr about Node versions it will stop supporting; archive_command's stderr must stay clean.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const sdk: SdkModule = await import('@aws-sdk/client-s3');

  let region = opts.region || (opts.endpoint ? 'us-east-1' : process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION);
  const baseConfig = clientConfig(opts);
  if (!region) {
    region = await findBucketRegion(sdk, baseConfig, opts.bucket);
  }
  const client = new sdk.S3Client({ ...baseConfig, region });
  installMiddleware(client, opts);
  return new S3Storage(sdk, client, opts, name);
}

class S3Storage implements Storage {
  readonly type = 's3';
  readonly name: string;
  private readonly sdk: SdkModule;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly root: string;
  private readonly partSize: number;
  private readonly concurrency: number;
  private readonly opts: S3Options;
  private readonly secrets: string[];

  constructor(sdk: SdkModule, client: S3Client, opts: S3Options, name: string) {
    this.sdk = sdk;
    this.client = client;
    this.opts = opts;
    this.name = name;
    this.bucket = opts.bucket;
    this.root = joinKey(opts.prefix.replace(/^\/+/, ''));
    this.partSize = opts.maxPartSize ?? DEFAULT_PART_SIZE;
    this.concurrency = Math.max(1, opts.uploadConcurrency ?? 16);
    this.secrets = [opts.secretAccessKey, opts.sessionToken, opts.sseC].filter((s): s is string => !!s && s.length >= 4);
  }

  private full(key: string): string {
    return this.root ? `${this.root}/${key}` : key;
  }

  private rel(fullKey: string): string {
    return this.root ? fullKey.slice(this.root.length + 1) : fullKey;
  }

  /** Encryption and storage-class fields shared by PutObject and CreateMultipartUpload. */
  private writeParams(): Record<string, string> {
    const p: Record<string, string> = { StorageClass: this.opts.storageClass || 'STANDARD' };
    if (this.opts.sseC) Object.assign(p, this.sseCParams());
    else if (this.opts.sse) {
      p.ServerSideEncryption = this.opts.sse;
      if (this.opts.sseKmsId) p.SSEKMSKeyId = this.opts.sseKmsId;
    }
    return p;
  }

  /** SSE-C fields: needed on every read and part upload of such an object, not only on its creation. */
  private sseCParams(): Record<string, string> {
    if (!this.opts.sseC) return {};
    return { SSECustomerAlgorithm: this.opts.sse || 'AES256', SSECustomerKey: this.opts.sseC };
  }

  private async send<T>(op: string, key: string | undefined, command: unknown, signal?: AbortSignal): Promise<T> {
    try {
      return (await this.client.send(command as Parameters<S3Client['send']>[0], { abortSignal: signal })) as T;
    } catch (e) {
      throw this.mapError(e, op, key, signal);
    }
  }

  private mapError(e: unknown, op: string, key: string | undefined, signal?: AbortSignal): Error {
    const where = key === undefined ? `s3://${this.bucket}/${this.root}` : `s3://${this.bucket}/${this.full(key)}`;
    return mapS3Error(e, { op, key, where, secrets: this.secrets, signal });
  }

  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    const signal = opts?.signal;
    if (signal?.aborted) throw new CancelledError('S3 put cancelled');
    if (Buffer.isBuffer(body) && body.length <= this.partSize) {
      await this.putObject(key, body, signal);
      return;
    }
    await this.putStream(key, openBody(body), signal, opts?.sizeHint ?? (Buffer.isBuffer(body) ? body.length : undefined));
  }

  private async putObject(key: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    const cmd = new this.sdk.PutObjectCommand({
      Bucket: this.bucket, Key: this.full(key), Body: data, ContentLength: data.length, ...this.writeParams(),
    } as ConstructorParameters<SdkModule['PutObjectCommand']>[0]);
    await this.send('put', key, cmd, signal);
  }

  /** Part size for an upload: the configured size, raised when a size hint says 10,000 parts would not do. */
  private choosePartSize(sizeHint?: number): number {
    if (sizeHint === undefined || sizeHint <= this.partSize * MAX_PARTS) return this.partSize;
    return Math.min(MAX_PART_BYTES, Math.ceil(sizeHint / MAX_PARTS / MiB) * MiB);
  }

  /**
   * Streams a body: buffers up to one part; if the body ends there it is one PutObject, otherwise a multipart
   * upload with a bounded number of parts in flight. Any failure aborts the multipart upload so nothing shows.
   */
  private async putStream(key: string, stream: Readable, signal: AbortSignal | undefined, sizeHint?: number): Promise<void> {
    let partSize = this.choosePartSize(sizeHint);
    // Recomputed per part: when parts grow (see below), fewer of them fit in the memory budget.
    const maxInFlight = () => Math.max(1, Math.min(this.concurrency, MAX_PARTS_IN_FLIGHT, Math.floor(PART_MEMORY_BUDGET / partSize)));
    const internal = new AbortController();
    const partSignal = signal ? AbortSignal.any([signal, internal.signal]) : internal.signal;
    const fullKey = this.full(key);

    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let partNo = 0;
    let pending: Buffer[] = [];
    let pendingLen = 0;

    const take = (n: number): Buffer => {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
      const part = all.subarray(0, n);
      const rest = all.subarray(n);
      pending = rest.length > 0 ? [rest] : [];
      pendingLen = rest.length;
      return part;
    };

    const startPart = (data: Buffer): void => {
      const number = ++partNo;
      if (number > MAX_PARTS) throw new StorageError(`S3 put s3://${this.bucket}/${fullKey} failed: more than ${MAX_PARTS} parts; raise the part size`);
      const p = this.send<{ ETag?: string }>('upload part', key, new this.sdk.UploadPartCommand({
        Bucket: this.bucket, Key: fullKey, UploadId: uploadId, PartNumber: number, Body: data, ContentLength: data.length, ...this.sseCParams(),
      } as ConstructorParameters<SdkModule['UploadPartCommand']>[0]), partSignal).then((r) => {
        parts.push({ PartNumber: number, ETag: r.ETag });
      }, (e: unknown) => {
        // After our own abort, the other parts fail as "cancelled": that is a consequence, not the cause.
        if (internal.signal.aborted) return;
        failure ??= e;
        internal.abort(); // stop the other parts early: the upload is lost anyway
      }).finally(() => inFlight.delete(p));
      inFlight.add(p);
    };

    // Waits for a free slot; memory is bounded because the source is not read while we wait (backpressure).
    const slot = async (): Promise<void> => {
      while (inFlight.size >= maxInFlight()) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
    };

    const flushFullParts = async (): Promise<void> => {
      // Strictly more than a part buffered: the body surely continues, so multipart is needed.
      while (pendingLen > partSize) {
        if (uploadId === undefined) {
          const r = await this.send<{ UploadId?: string }>('create multipart upload', key, new this.sdk.CreateMultipartUploadCommand({
            Bucket: this.bucket, Key: fullKey, ...this.writeParams(),
          } as ConstructorParameters<SdkModule['CreateMultipartUploadCommand']>[0]), signal);
          uploadId = r.UploadId;
          if (!uploadId) throw new StorageError(`S3 put s3://${this.bucket}/${fullKey} failed: no upload id returned`);
        }
        await slot();
        startPart(take(partSize));
        // Without a size hint an object above 10,000 × part size would fail; grow later parts instead
        // (S3 allows parts of different sizes); maxInFlight() then lowers parallelism.
        if (sizeHint === undefined && partNo % 2000 === 0) partSize = Math.min(MAX_PART_BYTES, partSize * 2);
      }
    };

    try {
      await pipeline(stream, async (source: AsyncIterable<Buffer | string>) => {
        for await (const chunk of source) {
          if (failure !== undefined) throw failure;
          const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          pending.push(b);
          pendingLen += b.length;
          await flushFullParts();
        }
      }, { signal });
      if (uploadId === undefined) {
        await this.putObject(key, take(pendingLen), signal);
        return;
      }
      if (pendingLen > 0) { await slot(); startPart(take(pendingLen)); }
      while (inFlight.size > 0) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
      parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      await this.send('complete multipart upload', key, new this.sdk.CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: fullKey, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...this.sseCParams(),
      } as ConstructorParameters<SdkModule['CompleteMultipartUploadCommand']>[0]), signal);
      uploadId = undefined;
    } catch (e) {
      // A failed part is the root cause; anything else is either a mapped S3 error or the body's own error
      // (e.g. a compressor failing), which is passed on unchanged.
      const cause = failure ?? e;
      internal.abort();
      if (uploadId !== undefined) {
        // Parts still in flight could complete after the abort and linger; let them settle first.
        await Promise.allSettled([...inFlight]);
        await this.abortUpload(key, fullKey, uploadId);
      }
      stream.destroy();
      if (signal?.aborted) throw new CancelledError('S3 put cancelled');
      throw cause;
    }
  }

  private async abortUpload(key: string, fullKey: string, uploadId: string): Promise<void> {
    try {
      // No caller signal: the abort must go out even (especially) when the caller cancelled.
      await this.send('abort multipart upload', key, new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }));
    } catch (e) {
      log.warn(`S3: could not abort multipart upload of s3://${this.bucket}/${fullKey}: ${(e as Error).message}`);
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const r = opts?.range;
    if (r && r.end !== undefined && r.end <= r.start) {
      await this.stat(key, opts); // an empty range still reports a missing object
      return Readable.from([]);
    }
    const range = r ? `bytes=${r.start}-${r.end !== undefined ? r.end - 1 : ''}` : undefined;
    try {
      const res = await this.send<{ Body?: unknown }>('get', key, new this.sdk.GetObjectCommand({
        Bucket: this.bucket, Key: this.full(key), Range: range, ...this.sseCParams(),
      } as ConstructorParameters<SdkModule['GetObjectCommand']>[0]), opts?.signal);
      const body = res.Body;
      if (body instanceof Readable) return body;
      if (body === undefined) return Readable.from([]);
      return Readable.from(body as AsyncIterable<Uint8Array>);
    } catch (e) {
      // A range starting at or past the end (e.g. of an empty object) is empty, not an error.
      if (range && e instanceof StorageError && / \(HTTP 416\)$/.test(e.message)) return Readable.from([]);
      throw e;
    }
  }

  async stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    const r = await this.send<{ ContentLength?: number; LastModified?: Date }>('stat', key, new this.sdk.HeadObjectCommand({
      Bucket: this.bucket, Key: this.full(key), ...this.sseCParams(),
    } as ConstructorParameters<SdkModule['HeadObjectCommand']>[0]), opts?.signal);
    return { key, size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0) };
  }

  async exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean> {
    return existsByStat(() => this.stat(key, opts));
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const rel = folderPrefix(prefix);
    const fullPrefix = this.root ? `${this.root}/${rel}` : rel;
    const delimiter = opts?.recursive ? undefined : '/';
    let token: string | undefined;
    for (;;) {
      type Page = {
        Contents?: { Key?: string; Size?: number; LastModified?: Date }[];
        CommonPrefixes?: { Prefix?: string }[];
        IsTruncated?: boolean; NextContinuationToken?: string; NextMarker?: string;
      };
      const page = this.opts.useListObjectsV1
        ? await this.send<Page>('list', undefined, new this.sdk.ListObjectsCommand({ Bucket: this.bucket, Prefix: fullPrefix, Delimiter: delimiter, Marker: token }), opts?.signal)
        : await this.send<Page>('list', undefined, new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: fullPrefix, Delimiter: delimiter, ContinuationToken: token }), opts?.signal);
      const out: ListEntry[] = [];
      for (const c of page.Contents ?? []) {
        // A zero-byte "folder marker" object named exactly like the prefix is not an entry of its own.
        if (!c.Key || c.Key === fullPrefix) continue;
        out.push({ type: 'obj', key: this.rel(c.Key), size: c.Size ?? 0, lastModified: c.LastModified ?? new Date(0) });
      }
      for (const p of page.CommonPrefixes ?? []) {
        if (p.Prefix) out.push({ type: 'dir', key: this.rel(p.Prefix), size: 0, lastModified: new Date(0) });
      }
      out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      yield* out;
      if (!page.IsTruncated) return;
      if (this.opts.useListObjectsV1) {
        // compat: v1 returns NextMarker only with a delimiter; otherwise the last key is the marker.
        const last = page.Contents?.at(-1)?.Key;
        const lastPrefix = page.CommonPrefixes?.at(-1)?.Prefix;
        token = page.NextMarker ?? ([last, lastPrefix].filter((x): x is string => !!x).sort().at(-1));
      } else {
        token = page.NextContinuationToken;
      }
      if (!token) return;
    }
  }

  async delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void> {
    const batch = Math.max(1, Math.min(1000, this.opts.deleteBatchSize ?? 1000));
    for (let i = 0; i < keys.length; i += batch) {
      const chunk = keys.slice(i, i + batch);
      const r = await this.send<{ Errors?: { Key?: string; Code?: string; Message?: string }[] }>('delete', undefined, new this.sdk.DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: chunk.map((k) => ({ Key: this.full(k) })), Quiet: true },
      }), opts?.signal);
      const errors = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (errors.length > 0) {
        const first = errors[0]!;
        const transient = errors.every((e) => THROTTLE_NAMES.has(e.Code ?? ''));
        throw new StorageError(`S3 delete failed for ${errors.length} of ${chunk.length} keys, first s3://${this.bucket}/${first.Key}: ${first.Code}: ${oneLine(first.Message ?? '')}`, { transient });
      }
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
