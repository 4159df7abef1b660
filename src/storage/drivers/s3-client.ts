// The S3 driver's client side: the SDK client configuration (agents, CA file, retries, logging), the bucket region
// probe, request middleware, and the mapping of SDK errors onto this tool's typed errors.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { CancelledError, ConfigError, ObjectNotFoundError, StorageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';

/** The connection part of S3Options (s3.ts), as this module needs it. */
export interface S3ClientSettings {
  endpoint?: string;
  forcePathStyle?: boolean;
  maxRetries?: number;
  caFile?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Extra headers added to every request. */
  requestAdditionalHeaders?: Record<string, string>;
}

/** The AWS SDK module, loaded lazily by createS3Storage. */
export type SdkModule = typeof import('@aws-sdk/client-s3');

// Socket-level error codes: the network, not the request, failed.
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);
/** Error codes meaning "slow down" or a server-side hiccup: worth a retry. */
export const THROTTLE_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'ServiceUnavailable', 'TimeoutError']);

interface SdkErrorLike {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $fault?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** The SDK client configuration for `opts` (without region). Throws ConfigError when the CA file cannot be read. */
export function clientConfig(opts: S3ClientSettings): S3ClientConfig {
  const ca = opts.caFile ? readCa(opts.caFile) : undefined;
  const cfg: S3ClientConfig = {
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle ?? false,
    maxAttempts: (opts.maxRetries ?? 15) + 1,
    retryMode: 'standard',
    followRegionRedirects: true,
    // S3-compatible stores reject (or store as data) the aws-chunked trailers newer SDKs send by default.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A real logger object (not the SDK's NoOpLogger) makes the SDK route its own warnings here instead of
    // console.warn; they go to DEBUG so stderr stays clean.
    logger: {
      debug: () => {},
      info: () => {},
      warn: (...a: unknown[]) => log.debug(`S3 SDK: ${a.map(String).join(' ')}`),
      error: (...a: unknown[]) => log.debug(`S3 SDK: ${a.map(String).join(' ')}`),
    },
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64, ...(ca ? { ca } : {}) }),
      connectionTimeout: 30_000,
    },
  };
  if (opts.accessKeyId && opts.secretAccessKey) {
    cfg.credentials = { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey, sessionToken: opts.sessionToken || undefined };
  }
  return cfg;
}

function readCa(file: string): Buffer {
  try { return readFileSync(file); } catch (e) {
    throw new ConfigError(`cannot read S3 CA file '${file}': ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The bucket's region by GetBucketLocation; us-east-1 when that is not allowed (redirects then correct it). */
export async function findBucketRegion(sdk: SdkModule, cfg: S3ClientConfig, bucket: string): Promise<string> {
  const probe = new sdk.S3Client({ ...cfg, region: 'us-east-1', maxAttempts: 3 });
  try {
    const r = await probe.send(new sdk.GetBucketLocationCommand({ Bucket: bucket }));
    const loc = r.LocationConstraint as string | undefined;
    // compat: an empty constraint means us-east-1, and 'EU' is the legacy name of eu-west-1.
    if (!loc) return 'us-east-1';
    return loc === 'EU' ? 'eu-west-1' : loc;
  } catch (e) {
    // Without GetBucketLocation permission, fall back on us-east-1: followRegionRedirects corrects it per request.
    log.debug(`S3: GetBucketLocation failed (${oneLine((e as Error).message ?? String(e))}), assuming us-east-1`);
    return 'us-east-1';
  } finally {
    probe.destroy();
  }
}

/** Adds Content-MD5 to DeleteObjects and the configured extra headers to every request. */
export function installMiddleware(client: S3Client, opts: S3ClientSettings): void {
  // DeleteObjects requires Content-MD5 on most S3-compatible stores; current SDKs only send a CRC32 header.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request as { headers?: Record<string, string>; body?: unknown };
      if (context.commandName === 'DeleteObjectsCommand' && req.headers && req.body !== undefined) {
        const body = typeof req.body === 'string' || Buffer.isBuffer(req.body) || req.body instanceof Uint8Array ? req.body : undefined;
        if (body !== undefined) req.headers['content-md5'] = createHash('md5').update(body).digest('base64');
      }
      return next(args);
    },
    { step: 'build', name: 'walgDeleteObjectsContentMd5' },
  );
  const extra = opts.requestAdditionalHeaders;
  if (extra && Object.keys(extra).length > 0) {
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { headers?: Record<string, string> };
        if (req.headers) for (const [k, v] of Object.entries(extra)) req.headers[k.toLowerCase()] = v;
        return next(args);
      },
      { step: 'build', name: 'walgAdditionalHeaders' },
    );
  }
}

/** One-line form of a message: servers sometimes return multi-line text. */
export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * Maps an SDK failure of operation `op` on `where` (the object, or the storage root when `key` is undefined) onto
 * ObjectNotFoundError (reads of a missing key), CancelledError (aborted) or StorageError (transient per status and
 * code), with `secrets` masked in the message. Typed errors pass through unchanged.
 */
export function mapS3Error(e: unknown, ctx: { op: string; key: string | undefined; where: string; secrets: readonly string[]; signal?: AbortSignal }): Error {
  const { op, key, where, secrets, signal } = ctx;
  if (e instanceof StorageError || e instanceof ObjectNotFoundError || e instanceof CancelledError) return e;
  const err = (e ?? {}) as SdkErrorLike;
  if (signal?.aborted || err.name === 'AbortError') return new CancelledError(`S3 ${op} cancelled`);
  const status = err.$metadata?.httpStatusCode;
  const code = err.Code || err.code || err.name || 'Error';
  // Only reads of one object mean "no such key" by a 404 (a 404 on a part upload is NoSuchUpload, etc.).
  if (key !== undefined && (op === 'get' || op === 'stat') && (code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && code !== 'NoSuchBucket'))) {
    return new ObjectNotFoundError(key);
  }
  let msg = err.message && err.message !== 'UnknownError' ? oneLine(err.message) : '';
  for (const s of secrets) msg = msg.split(s).join('***');
  // With an HTTP answer, its status decides (501 NotImplemented, e.g. SSE on a store without it, will not
  // get better by retrying); without one, it was the network or a timeout.
  const transient = status !== undefined
    ? (status >= 500 && status !== 501) || status === 429 || THROTTLE_NAMES.has(code)
    : THROTTLE_NAMES.has(code) || NETWORK_CODES.has(err.code ?? '') || err.$retryable !== undefined || err.$fault === 'server';
  const statusText = status !== undefined ? ` (HTTP ${status})` : '';
  return new StorageError(`S3 ${op} ${where} failed: ${code}${msg && msg !== code ? `: ${msg}` : ''}${statusText}`, { transient });
}
