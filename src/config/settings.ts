// The one declarative table of settings WAL-G accepts (walg-features.md §2), with types, defaults and secrecy.
// Everything else (env, config file, hidden --lower-dashed flags, WALE_ aliases) is derived from this table.

/** How a setting's string value is parsed. */
export type SettingType = 'string' | 'bool' | 'int' | 'float' | 'duration' | 'size' | 'json' | 'map';

/** Which binaries accept a setting: the universal tool accepts the union, but warns per database in file keys. */
export type SettingScope = 'common' | 'pg' | 'mysql' | 'redis' | 'mongo';

export interface SettingDef {
  /** Canonical name, as in WAL-G's allowed list. */
  name: string;
  type: SettingType;
  default?: string;
  secret?: boolean;
  scope?: SettingScope;
  /**
   * compat: storage-specific settings are also found as WALG_<NAME> and WALE_<NAME>
   * (lookup order: bare name in the config file, WALG_, WALE_, bare name).
   */
  storage?: boolean;
  /** Extra accepted names (e.g. WALE_S3_PREFIX for WALG_S3_PREFIX, AWS_ACCESS_KEY for AWS_ACCESS_KEY_ID). */
  aliases?: string[];
  /** Not exported to the environment (map-valued settings). */
  noExport?: boolean;
}

const s = (name: string, type: SettingType = 'string', extra: Partial<SettingDef> = {}): SettingDef => ({ name, type, ...extra });
const st = (name: string, type: SettingType = 'string', extra: Partial<SettingDef> = {}): SettingDef => ({ name, type, storage: true, ...extra });

/** Every setting, in one table. */
export const SETTINGS: readonly SettingDef[] = [
  // §2.1 common
  s('WALG_CONFIG_PATH'),
  s('WALG_LOG_LEVEL', 'string', { default: 'NORMAL' }),
  s('WALG_LOG_DESTINATION', 'string', { default: 'stderr' }),
  s('WALG_DOWNLOAD_CONCURRENCY', 'int', { default: '10' }),
  s('WALG_UPLOAD_CONCURRENCY', 'int', { default: '16' }),
  s('WALG_UPLOAD_DISK_CONCURRENCY', 'int', { default: '1' }),
  s('WALG_UPLOAD_QUEUE', 'int', { default: '2' }),
  s('WALG_DOWNLOAD_FILE_RETRIES', 'int', { default: '15' }),
  s('WALG_DISK_RATE_LIMIT', 'int'),
  s('WALG_NETWORK_RATE_LIMIT', 'int'),
  s('WALG_TAR_SIZE_THRESHOLD', 'int', { default: '1073741823' }),
  s('WALG_TAR_DISABLE_FSYNC', 'bool', { default: 'false' }),
  s('WALG_SENTINEL_USER_DATA', 'json'),
  s('WALG_FETCH_TARGET_USER_DATA', 'json'),
  s('WALG_DELTA_MAX_STEPS', 'int', { default: '0' }),
  s('WALG_DELTA_ORIGIN', 'string', { default: 'LATEST' }),
  s('WALG_DELTA_FROM_NAME'),
  s('WALG_DELTA_FROM_USER_DATA', 'json'),
  s('WALG_STREAM_CREATE_COMMAND'),
  s('WALG_STREAM_RESTORE_COMMAND'),
  s('WALG_STORAGE_PREFIX'),
  s('WALG_SERIALIZER_TYPE'),
  s('GOMAXPROCS', 'int'),
  s('GODEBUG'),
  s('WALG_DIRECT_IO', 'bool', { default: 'false' }),
  s('WALG_DIRECT_IO_BLOCK_COUNT', 'int', { default: '32' }),
  s('WALG_STATSD_ADDRESS'),
  s('WALG_STATSD_EXTRA_TAGS', 'map', { noExport: true }),
  s('HTTP_LISTEN'),
  s('HTTP_EXPOSE_PPROF', 'bool', { default: 'false' }),
  s('HTTP_EXPOSE_EXPVAR', 'bool', { default: 'false' }),
  s('PROFILE_SAMPLING_RATIO', 'float'),
  s('PROFILE_MODE', 'string', { default: 'cpu' }),
  s('PROFILE_PATH'),
  s('NOTIFY_SOCKET'),
  s('WALG_TARGET_STORAGE'),
  s('WALG_COMPRESSION_METHOD', 'string', { default: 'lz4' }),
  s('WALG_ZSTD_LEVEL'),
  // §2.4 encryption
  s('WALG_PGP_KEY', 'string', { secret: true }),
  s('WALG_PGP_KEY_PATH'),
  s('WALG_PGP_KEY_PASSPHRASE', 'string', { secret: true }),
  s('WALG_GPG_KEY_ID', 'string', { aliases: ['WALE_GPG_KEY_ID', 'GPG_KEY_ID'] }),
  s('WALG_ENVELOPE_PGP_KEY', 'string', { secret: true }),
  s('WALG_ENVELOPE_PGP_KEY_PATH'),
  s('WALG_ENVELOPE_PGP_YC_CSE_KMS_KEY_ID'),
  s('WALG_ENVELOPE_PGP_YC_SERVICE_ACCOUNT_KEY_FILE'),
  s('WALG_ENVELOPE_PGP_YC_ENDPOINT'),
  s('WALG_ENVELOPE_CACHE_EXPIRATION', 'duration'),
  s('WALG_CSE_KMS_ID'),
  s('WALG_CSE_KMS_REGION'),
  s('YC_CSE_KMS_KEY_ID'),
  s('YC_SERVICE_ACCOUNT_KEY_FILE'),
  s('WALG_LIBSODIUM_KEY', 'string', { secret: true }),
  s('WALG_LIBSODIUM_KEY_PATH'),
  s('WALG_LIBSODIUM_KEY_TRANSFORM', 'string', { default: 'none' }),
  // §2.2 storages: prefixes in WAL-G's selection order
  s('WALG_OSS_PREFIX', 'string', { aliases: ['WALE_OSS_PREFIX'] }),
  s('WALG_S3_PREFIX', 'string', { aliases: ['WALE_S3_PREFIX'] }),
  s('WALG_FILE_PREFIX', 'string', { aliases: ['WALE_FILE_PREFIX'] }),
  s('WALG_GS_PREFIX', 'string', { aliases: ['WALE_GS_PREFIX'] }),
  s('WALG_AZ_PREFIX', 'string', { aliases: ['WALE_AZ_PREFIX'] }),
  s('WALG_SWIFT_PREFIX', 'string', { aliases: ['WALE_SWIFT_PREFIX'] }),
  s('WALG_SSH_PREFIX', 'string', { aliases: ['WALE_SSH_PREFIX'] }),
  // S3
  st('AWS_ACCESS_KEY_ID', 'string', { secret: true, aliases: ['AWS_ACCESS_KEY'] }),
  st('AWS_SECRET_ACCESS_KEY', 'string', { secret: true, aliases: ['AWS_SECRET_KEY'] }),
  st('AWS_SESSION_TOKEN', 'string', { secret: true }),
  st('AWS_ROLE_ARN'), st('AWS_ROLE_SESSION_NAME'),
  st('AWS_REGION'), st('AWS_DEFAULT_REGION'), st('AWS_ENDPOINT'),
  st('AWS_S3_FORCE_PATH_STYLE', 'bool', { default: 'false' }),
  st('AWS_DUAL_STACK', 'bool', { default: 'false' }),
  st('AWS_CA_BUNDLE'), st('S3_CA_CERT_FILE'),
  st('AWS_PROFILE'), st('AWS_SHARED_CREDENTIALS_FILE'), st('AWS_CONFIG_FILE'), st('AWS_WEB_IDENTITY_TOKEN_FILE'),
  st('S3_STORAGE_CLASS', 'string', { default: 'STANDARD' }),
  st('S3_SSE'), st('S3_SSE_KMS_ID'), st('S3_SSE_C', 'string', { secret: true }),
  st('S3_MAX_PART_SIZE', 'int', { default: String(20 << 20) }),
  st('S3_MAX_RETRIES', 'int', { default: '15' }),
  st('S3_MIN_THROTTLING_RETRY_DELAY', 'duration', { default: '500ms' }),
  st('S3_MAX_THROTTLING_RETRY_DELAY', 'duration', { default: '300000ms' }),
  st('S3_USE_LIST_OBJECTS_V1', 'bool', { default: 'false' }),
  st('S3_RANGE_BATCH_ENABLED', 'bool', { default: 'false' }),
  st('S3_RANGE_MAX_RETRIES', 'int', { default: '10' }),
  st('S3_ENDPOINT_SOURCE'), st('S3_ENDPOINT_PORT', 'string', { default: '443' }), st('S3_ENDPOINT_PROTOCOL'),
  st('S3_REQUEST_ADDITIONAL_HEADERS'),
  st('S3_USE_YC_SESSION_TOKEN'),
  st('S3_RETENTION_PERIOD', 'int', { default: '-1' }), st('S3_RETENTION_MODE', 'string', { default: 'GOVERNANCE' }),
  st('S3_SKIP_VALIDATION', 'bool', { default: 'true' }),
  st('S3_ENABLE_VERSIONING'),
  st('S3_DELETE_BATCH_SIZE', 'int', { default: '1000' }),
  st('S3_DISABLE_100_CONTINUE', 'bool', { default: 'false' }),
  st('S3_LOG_LEVEL'),
  // GCS
  st('GOOGLE_APPLICATION_CREDENTIALS'),
  st('GCS_CONTEXT_TIMEOUT', 'int', { default: '3600' }),
  st('GCS_NORMALIZE_PREFIX', 'bool', { default: 'true' }),
  st('GCS_ENCRYPTION_KEY', 'string', { secret: true }),
  st('GCS_MAX_CHUNK_SIZE', 'int', { default: String(50 << 20) }),
  st('GCS_MAX_RETRIES', 'int', { default: '16' }),
  // Not a WAL-G setting name of its own: the variable the Google client libraries read to reach a GCS emulator
  // (http://host:port). Listed so it can come from a config file; when set, no credentials are used.
  st('STORAGE_EMULATOR_HOST'),
  // Azure
  st('AZURE_STORAGE_ACCOUNT'),
  st('AZURE_STORAGE_ACCESS_KEY', 'string', { secret: true }),
  st('AZURE_STORAGE_SAS_TOKEN', 'string', { secret: true }),
  st('AZURE_ENVIRONMENT_NAME', 'string', { default: 'AzurePublicCloud' }),
  st('AZURE_ENDPOINT_SUFFIX'),
  st('AZURE_BUFFER_SIZE', 'int', { default: String(8 << 20) }),
  st('AZURE_MAX_BUFFERS', 'int', { default: '4' }),
  st('AZURE_TRY_TIMEOUT', 'int', { default: '5' }),
  st('AZURE_BLOB_STORE_API_VERSION'),
  st('AZURE_CLIENT_ID'), st('AZURE_TENANT_ID'), st('AZURE_CLIENT_SECRET', 'string', { secret: true }),
  // Ours, not WAL-G's (WAL-G always uses https://<account>.blob.<suffix>): the blob service URL, for Azurite or a
  // private endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1. Overrides AZURE_ENDPOINT_SUFFIX.
  st('AZURE_BLOB_ENDPOINT'),
  // Swift
  st('OS_AUTH_URL'), st('OS_USERNAME'), st('OS_PASSWORD', 'string', { secret: true }),
  st('OS_TENANT_NAME'), st('OS_PROJECT_NAME'), st('OS_REGION_NAME'),
  st('OS_USER_DOMAIN_NAME'), st('OS_PROJECT_DOMAIN_NAME'), st('OS_AUTH_VERSION'),
  // SSH
  st('SSH_PORT', 'string', { default: '22' }), st('SSH_USERNAME'),
  st('SSH_PASSWORD', 'string', { secret: true }), st('SSH_PRIVATE_KEY_PATH'),
  // OSS
  st('OSS_ACCESS_KEY_ID', 'string', { secret: true }), st('OSS_ACCESS_KEY_SECRET', 'string', { secret: true }),
  st('OSS_SESSION_TOKEN', 'string', { secret: true }), st('OSS_REGION'), st('OSS_ENDPOINT'),
  // Failover
  s('WALG_FAILOVER_STORAGES', 'map', { noExport: true }),
  s('WALG_FAILOVER_STORAGES_CHECK', 'bool'),
  s('WALG_FAILOVER_STORAGES_CHECK_TIMEOUT', 'duration', { default: '30s' }),
  s('WALG_FAILOVER_STORAGES_CHECK_SIZE', 'size', { default: '1mb' }),
  s('WALG_FAILOVER_STORAGES_CACHE_LIFETIME', 'duration', { default: '15m' }),
  // §2.5 PostgreSQL
  s('PGDATA', 'string', { scope: 'pg' }),
  ...['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGSSLMODE', 'PGSSLKEY', 'PGSSLCERT', 'PGSSLROOTCERT', 'PGPASSFILE', 'PGAPPNAME']
    .map((n) => s(n, 'string', { scope: 'pg' })),
  s('PGPASSWORD', 'string', { scope: 'pg', secret: true }),
  s('WALG_SLOTNAME', 'string', { scope: 'pg', default: 'walg' }),
  s('WALG_PG_WAL_SIZE', 'int', { scope: 'pg', default: '16' }),
  s('WALG_PG_WAL_PAGE_SIZE', 'int', { scope: 'pg', default: '8192' }),
  s('WALG_PG_BLOCK_SIZE', 'int', { scope: 'pg', default: '8192' }),
  s('WALG_PREVENT_WAL_OVERWRITE', 'bool', { scope: 'pg', default: 'false' }),
  s('TOTAL_BG_UPLOADED_LIMIT', 'int', { scope: 'pg', default: '32' }),
  s('PG_READY_RENAME', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_UPLOAD_WAL_METADATA', 'string', { scope: 'pg', default: 'NOMETADATA' }),
  s('WALG_PREFETCH_DIR', 'string', { scope: 'pg' }),
  s('WALG_USE_WAL_DELTA', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_FORCE_WAL_DELTA', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_VERIFY_PAGE_CHECKSUMS', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_STORE_ALL_CORRUPT_BLOCKS', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_USE_RATING_COMPOSER', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_USE_COPY_COMPOSER', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_USE_DATABASE_COMPOSER', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_WITHOUT_FILES_METADATA', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_USE_REVERSE_UNPACK', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_SKIP_REDUNDANT_TARS', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_DISABLE_PARTIAL_RESTORE', 'bool', { scope: 'pg', default: 'false' }),
  s('WALG_ALIVE_CHECK_INTERVAL', 'duration', { scope: 'pg', default: '1m' }),
  s('WALG_STOP_BACKUP_TIMEOUT', 'duration', { scope: 'pg' }),
  s('WALG_INTEGRITY_MAX_DELAYED_WALS', 'int', { scope: 'pg', default: '0' }),
  s('WALG_DAEMON_WAL_UPLOAD_TIMEOUT', 'duration', { scope: 'pg', default: '60s' }),
  s('PGBACKREST_STANZA', 'string', { scope: 'pg', default: 'main' }),
  // §2.6 MySQL / MariaDB
  s('WALG_MYSQL_DATASOURCE_NAME', 'string', { scope: 'mysql', secret: true }),
  s('WALG_MYSQL_SSL_CA', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BACKUP_PREPARE_COMMAND', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BINLOG_REPLAY_COMMAND', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BINLOG_DST', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BINLOG_SRC', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_CHECK_GTIDS', 'bool', { scope: 'mysql', default: 'false' }),
  s('WALG_MYSQL_INCREMENTAL_BACKUP_DST', 'string', { scope: 'mysql', default: '/tmp' }),
  s('WALG_MYSQL_DATA_DIR', 'string', { scope: 'mysql' }),
  s('WALG_BACKUP_DOWNLOAD_MAX_RETRY', 'int', { scope: 'mysql', default: '1' }),
  s('WALG_STREAM_SPLITTER_PARTITIONS', 'int', { scope: 'mysql' }),
  s('WALG_STREAM_SPLITTER_BLOCK_SIZE', 'int', { scope: 'mysql', default: '1048576' }),
  s('WALG_STREAM_SPLITTER_MAX_FILE_SIZE', 'int', { scope: 'mysql' }),
  // §2.7 Redis
  s('WALG_REDIS_USERNAME', 'string', { scope: 'redis', secret: true }),
  s('WALG_REDIS_PASSWORD', 'string', { scope: 'redis', secret: true }),
  s('WALG_REDIS_DB', 'string', { scope: 'redis' }),
];

const byName = new Map<string, SettingDef>();
for (const d of SETTINGS) {
  byName.set(d.name, d);
  for (const a of d.aliases ?? []) byName.set(a, d);
}

/** Finds a setting by its canonical name, an alias, or (for storage settings) its WALG_/WALE_ form. */
export function findSetting(name: string): SettingDef | undefined {
  const n = name.toUpperCase();
  const direct = byName.get(n);
  if (direct) return direct;
  const m = /^(WALG|WALE)_(.+)$/.exec(n);
  if (m) {
    const bare = byName.get(m[2]!);
    if (bare?.storage) return bare;
  }
  return undefined;
}

/** The hidden flag name of a setting: lower-cased, '_' -> '-' (compat: `--walg-s3-prefix`). */
export function flagName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}
