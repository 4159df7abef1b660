// Picks the configured storage (WAL-G's prefix order) and lazily imports only that driver,
// so a wal-push on file storage never loads a cloud SDK. Every storage opened here is wrapped, inside out, with
// retries (wrap/retry.ts), the network rate limit (wrap/rate-limit.ts) and WALG_STORAGE_PREFIX (wrap/prefix.ts).

import { ConfigError } from '../core/errors.ts';
import { applyCertEnv } from '../core/tls-roots.ts';
import type { Config } from '../config/load.ts';
import type { Storage } from './types.ts';

/** compat: the first configured prefix in this order wins (walg-features.md §2.2). */
export const STORAGE_PREFIX_ORDER = ['OSS', 'S3', 'FILE', 'GS', 'AZ', 'SWIFT', 'SSH'] as const;

/** Splits "s3://bucket/some/path" into bucket and path (no leading/trailing slashes). */
export function parseBucketUrl(url: string, scheme: string): { bucket: string; path: string } {
  const m = new RegExp(`^${scheme}://([^/]+)/?(.*)$`).exec(url.trim());
  if (!m) throw new ConfigError(`storage prefix '${url}' must look like ${scheme}://bucket/path`);
  return { bucket: m[1]!, path: m[2]!.replace(/^\/+|\/+$/g, '') };
}

/** Which storage type is configured, or undefined. */
export function configuredStorageType(config: Config): (typeof STORAGE_PREFIX_ORDER)[number] | undefined {
  return STORAGE_PREFIX_ORDER.find((t) => config.get(`WALG_${t}_PREFIX`) !== undefined);
}

/** How openStorage wraps the driver. */
export interface OpenStorageOptions {
  /**
   * Apply WALG_NETWORK_RATE_LIMIT to the bytes of get() and put() (default true). compat: --turbo runs pass
   * false, as WAL-G's turbo mode ignores rate limits.
   */
  rateLimit?: boolean;
}

/**
 * Opens the storage described by `config` (its first configured prefix), named `name` ('default' for the primary,
 * else a failover's name), wrapped with retries, the network rate limit (unless opts.rateLimit is false, or the
 * limit is unset or 0) and WALG_STORAGE_PREFIX. Throws ConfigError if no storage is configured.
 */
export async function openStorage(config: Config, name = 'default', opts: OpenStorageOptions = {}): Promise<Storage> {
  const type = configuredStorageType(config);
  const storage = await openDriver(config, type, name);
  const { withRetries } = await import('./wrap/retry.ts');
  // S3, GCS and Azure clients already retry each request (S3_MAX_RETRIES, GCS_MAX_RETRIES, the Azure pipeline):
  // wrapping them in 15 more retries multiplied the wait on an unreachable endpoint (3 min for an S3 `st ls`).
  // They get one more attempt here, for what the SDKs do not retry (a body stream broken mid-download).
  const selfRetrying = type === 'S3' || type === 'GS' || type === 'AZ';
  let wrapped = withRetries(storage, { maxRetries: selfRetrying ? 1 : config.getInt('WALG_DOWNLOAD_FILE_RETRIES') });
  const rate = config.getInt('WALG_NETWORK_RATE_LIMIT');
  if ((opts.rateLimit ?? true) && rate !== undefined && rate > 0) {
    const { networkLimiter, withRateLimit } = await import('./wrap/rate-limit.ts');
    // Outside the retries: the limit counts the bytes a command reads and writes (a resumed download once, as
    // delivered), and the retry wrapper still sees Buffer and factory bodies as such, so it can re-send them.
    wrapped = withRateLimit(wrapped, networkLimiter(rate)!);
  }
  const sub = config.get('WALG_STORAGE_PREFIX');
  if (!sub) return wrapped;
  const { withPrefix } = await import('./wrap/prefix.ts');
  return withPrefix(wrapped, sub);
}

/** Opens the bare driver of storage type `type` (lazily importing only that driver module). */
async function openDriver(config: Config, type: ReturnType<typeof configuredStorageType>, name: string): Promise<Storage> {
  const prefix = type ? config.get(`WALG_${type}_PREFIX`)! : undefined;
  // compat: SSL_CERT_FILE / SSL_CERT_DIR add trusted roots, as they do for WAL-G's Go TLS clients; read only for a
  // storage that may speak TLS (src/core/tls-roots.ts).
  if (type !== undefined && type !== 'FILE' && type !== 'SSH') applyCertEnv();
  let storage: Storage;
  switch (type) {
    case undefined:
      throw new ConfigError('Failed to find any configured storage (set WALG_FILE_PREFIX, WALG_S3_PREFIX, WALG_SWIFT_PREFIX, ...)');
    case 'FILE': {
      const { FileStorage } = await import('./drivers/fs.ts');
      // compat: WAL-E wrote file://localhost/path.
      const root = prefix!.replace(/^file:\/\/localhost/, '');
      if (!root.startsWith('/')) throw new ConfigError(`WALG_FILE_PREFIX must be an absolute path, got '${prefix}'`);
      storage = new FileStorage(root, name);
      break;
    }
    case 'S3': {
      const { createS3Storage } = await import('./drivers/s3.ts');
      const { bucket, path } = parseBucketUrl(prefix!, 's3');
      storage = await createS3Storage({
        bucket,
        prefix: path,
        region: config.get('AWS_REGION') ?? config.get('AWS_DEFAULT_REGION'),
        endpoint: config.get('AWS_ENDPOINT'),
        forcePathStyle: config.getBool('AWS_S3_FORCE_PATH_STYLE'),
        accessKeyId: config.get('AWS_ACCESS_KEY_ID'),
        secretAccessKey: config.get('AWS_SECRET_ACCESS_KEY'),
        sessionToken: config.get('AWS_SESSION_TOKEN'),
        storageClass: config.get('S3_STORAGE_CLASS'),
        sse: config.get('S3_SSE'),
        sseKmsId: config.get('S3_SSE_KMS_ID'),
        sseC: config.get('S3_SSE_C'),
        maxPartSize: config.getInt('S3_MAX_PART_SIZE'),
        uploadConcurrency: config.getInt('WALG_UPLOAD_CONCURRENCY'),
        maxRetries: config.getInt('S3_MAX_RETRIES'),
        caFile: config.get('S3_CA_CERT_FILE') ?? config.get('AWS_CA_BUNDLE'),
        useListObjectsV1: config.getBool('S3_USE_LIST_OBJECTS_V1'),
        deleteBatchSize: config.getInt('S3_DELETE_BATCH_SIZE'),
      }, name);
      break;
    }
    case 'GS': {
      const { createGcsStorage } = await import('./drivers/gcs.ts');
      storage = await createGcsStorage({
        prefix: prefix!,
        normalizePrefix: config.getBool('GCS_NORMALIZE_PREFIX'),
        credentialsFile: config.get('GOOGLE_APPLICATION_CREDENTIALS'),
        endpoint: config.get('STORAGE_EMULATOR_HOST'),
        encryptionKey: config.get('GCS_ENCRYPTION_KEY'),
        maxChunkSize: config.getInt('GCS_MAX_CHUNK_SIZE'),
        maxRetries: config.getInt('GCS_MAX_RETRIES'),
        contextTimeoutSec: config.getInt('GCS_CONTEXT_TIMEOUT'),
      }, name);
      break;
    }
    case 'AZ': {
      const { createAzureStorage } = await import('./drivers/azure.ts');
      const { bucket, path } = parseBucketUrl(prefix!, 'azure');
      storage = await createAzureStorage({
        container: bucket,
        prefix: path,
        account: config.require('AZURE_STORAGE_ACCOUNT'),
        accessKey: config.get('AZURE_STORAGE_ACCESS_KEY'),
        sasToken: config.get('AZURE_STORAGE_SAS_TOKEN'),
        environmentName: config.get('AZURE_ENVIRONMENT_NAME'),
        // Only an explicitly set suffix overrides the one the environment name implies.
        endpointSuffix: config.get('AZURE_ENDPOINT_SUFFIX'),
        endpoint: config.get('AZURE_BLOB_ENDPOINT'),
        bufferSize: config.getInt('AZURE_BUFFER_SIZE'),
        maxBuffers: config.getInt('AZURE_MAX_BUFFERS'),
        tryTimeoutMin: config.getInt('AZURE_TRY_TIMEOUT'),
        apiVersion: config.get('AZURE_BLOB_STORE_API_VERSION'),
      }, name);
      break;
    }
    case 'SWIFT': {
      const { createSwiftStorage } = await import('./drivers/swift.ts');
      const { bucket, path } = parseBucketUrl(prefix!, 'swift');
      storage = await createSwiftStorage({
        container: bucket,
        prefix: path,
        authUrl: config.require('OS_AUTH_URL'),
        username: config.require('OS_USERNAME'),
        password: config.require('OS_PASSWORD'),
        tenantName: config.get('OS_TENANT_NAME') ?? config.get('OS_PROJECT_NAME'),
        regionName: config.get('OS_REGION_NAME'),
        userDomainName: config.get('OS_USER_DOMAIN_NAME'),
        projectDomainName: config.get('OS_PROJECT_DOMAIN_NAME'),
      }, name);
      break;
    }
    case 'SSH': {
      const { createSshStorage } = await import('./drivers/ssh.ts');
      storage = createSshStorage(prefix!, {
        // The default '22' must not override a port written in the prefix (ssh://host:2222/path).
        port: config.source('SSH_PORT') === 'default' ? undefined : config.get('SSH_PORT'),
        username: config.get('SSH_USERNAME'),
        password: config.get('SSH_PASSWORD'),
        privateKeyPath: config.get('SSH_PRIVATE_KEY_PATH'),
      }, name);
      break;
    }
    default:
      throw new ConfigError(`storage type ${type} (WALG_${type}_PREFIX) is not supported yet by this build`);
  }
  return storage;
}
