// The one declarative table of settings WAL-G accepts (walg-features.md §2), with types, defaults and secrecy.
// Everything else (env, config file, hidden --lower-dashed flags, WALE_ aliases, the typed names Config.get* takes,
// the warnings for settings this implementation accepts but does not act on) is derived from this table.

/** How a setting's string value is parsed. */
export type SettingType = 'string' | 'bool' | 'int' | 'float' | 'duration' | 'size' | 'json' | 'map';

/** Which binaries accept a setting: the universal tool accepts the union, but warns per database in file keys. */
export type SettingScope = 'common' | 'pg' | 'mysql' | 'redis' | 'mongo';

export interface SettingDef {
  /** Canonical name, as in WAL-G's allowed list. */
  name: string;
  type: SettingType;
  /** The value a getter returns when the setting is unset (WAL-G's default). */
  default?: string;
  secret?: boolean;
  scope?: SettingScope;
  /**
   * compat: storage-specific settings are also found as WALG_<NAME> and WALE_<NAME>
   * (lookup order: bare name in the config file, WALG_, WALE_, bare name).
   */
  storage?: boolean;
  /** Extra accepted names (e.g. WALE_S3_PREFIX for WALG_S3_PREFIX, AWS_ACCESS_KEY for AWS_ACCESS_KEY_ID). */
  aliases?: readonly string[];
  /** Not exported to the environment (map-valued settings). */
  noExport?: boolean;
  /**
   * Accepted for compatibility but not acted on by this implementation: why. Setting it to anything but its
   * default makes the run log one warning naming it (loadConfig puts it in Config.warnings).
   */
  inert?: string;
  /** An inert setting takes effect after all when this other setting is set too (so then no warning). */
  inertUnless?: string;
  /**
   * Acted on, but not by this code base: who reads it from the environment (exportToEnv publishes file and flag
   * values there). Such a setting needs no reader in src/.
   */
  external?: string;
}

/** The optional fields a table entry may give (name and type are positional). */
type SettingExtra = Omit<Partial<SettingDef>, 'name' | 'type' | 'storage'>;

/** A table entry whose name (and extra fields, such as its default) are kept as literal types. */
type Entry<N extends string, E> = SettingDef & { readonly name: N } & E;

// Generic in the name and the extra fields, so that the table's type records which names exist and which of
// them have a default (SettingName, DefaultedSettingName below).
const s = <const N extends string, const E extends SettingExtra = {}>(name: N, type: SettingType = 'string', extra?: E): Entry<N, E> =>
  ({ name, type, ...extra }) as Entry<N, E>;
const st = <const N extends string, const E extends SettingExtra = {}>(name: N, type: SettingType = 'string', extra?: E): Entry<N, E> =>
  ({ name, type, storage: true, ...extra }) as Entry<N, E>;

// Reasons shared by several inert settings.
const NO_STATSD = 'no metrics are sent';
const NO_HTTP = 'there is no internal HTTP server';
const NO_PROFILE = 'runs are never profiled';
const NO_ENVELOPE = 'envelope PGP encryption (Yandex Cloud KMS) is not supported';
const NO_KMS = 'KMS client-side encryption is not supported';
const NO_S3_FEATURE = 'the S3 client does not implement this option';
const NO_AZ_CHAIN = 'the default Azure credential chain is not supported (use AZURE_STORAGE_ACCESS_KEY or AZURE_STORAGE_SAS_TOKEN)';
const NO_OSS = 'Alibaba OSS storage is not supported';
const NO_XBTOOL = 'the built-in xbstream extractor (backup-fetch --use-xbtool-extract) is not supported';
const NO_REDIS_TS = 'Valkey tiered-storage backups (rdb_ts, aof_ts, ts) are not supported';
const NO_REDIS_CLUSTER = 'sharded (cluster) Redis backups are not supported';
const AWS_CHAIN = 'the AWS SDK default credential chain (when no static keys are set)';

/** Every setting, in one table. */
export const SETTINGS = [
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
  // Ours, not WAL-G's: how backup-fetch makes restored files durable, fsync (each file, the default, as WAL-G) or
  // syncfs (each file system, once, at the end; Linux 5.8+; src/tar/filesystem-sync.ts).
  s('WALG_RESTORE_SYNC_METHOD', 'string', { scope: 'pg' }),
  s('WALG_SENTINEL_USER_DATA', 'json'),
  s('WALG_FETCH_TARGET_USER_DATA', 'json'),
  s('WALG_DELTA_MAX_STEPS', 'int', { default: '0' }),
  s('WALG_DELTA_ORIGIN', 'string', { default: 'LATEST' }),
  s('WALG_DELTA_FROM_NAME'),
  s('WALG_DELTA_FROM_USER_DATA', 'json'),
  s('WALG_STREAM_CREATE_COMMAND'),
  s('WALG_STREAM_RESTORE_COMMAND'),
  s('WALG_STORAGE_PREFIX'),
  s('WALG_SERIALIZER_TYPE', 'string', { inert: 'deprecated in WAL-G as well; metadata is always JSON' }),
  s('GOMAXPROCS', 'int', { inert: 'a Go runtime setting' }),
  s('GODEBUG', 'string', { inert: 'a Go runtime setting' }),
  s('WALG_DIRECT_IO', 'bool', { default: 'false', inert: 'O_DIRECT reads are not implemented' }),
  s('WALG_DIRECT_IO_BLOCK_COUNT', 'int', { default: '32', inert: 'O_DIRECT reads are not implemented' }),
  s('WALG_STATSD_ADDRESS', 'string', { inert: NO_STATSD }),
  s('WALG_STATSD_EXTRA_TAGS', 'map', { noExport: true, inert: NO_STATSD }),
  s('HTTP_LISTEN', 'string', { inert: NO_HTTP }),
  s('HTTP_EXPOSE_PPROF', 'bool', { default: 'false', inert: NO_HTTP }),
  s('HTTP_EXPOSE_EXPVAR', 'bool', { default: 'false', inert: NO_HTTP }),
  s('PROFILE_SAMPLING_RATIO', 'float', { inert: NO_PROFILE }),
  s('PROFILE_MODE', 'string', { default: 'cpu', inert: NO_PROFILE }),
  s('PROFILE_PATH', 'string', { inert: NO_PROFILE }),
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
  s('WALG_ENVELOPE_PGP_YC_CSE_KMS_KEY_ID', 'string', { inert: NO_ENVELOPE }),
  s('WALG_ENVELOPE_PGP_YC_SERVICE_ACCOUNT_KEY_FILE', 'string', { inert: NO_ENVELOPE }),
  s('WALG_ENVELOPE_PGP_YC_ENDPOINT', 'string', { inert: NO_ENVELOPE }),
  s('WALG_ENVELOPE_CACHE_EXPIRATION', 'duration', { inert: NO_ENVELOPE }),
  s('WALG_CSE_KMS_ID'),
  s('WALG_CSE_KMS_REGION', 'string', { inert: NO_KMS }),
  s('YC_CSE_KMS_KEY_ID'),
  s('YC_SERVICE_ACCOUNT_KEY_FILE', 'string', { inert: NO_KMS }),
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
  // The SDK's web-identity provider reads these two with AWS_WEB_IDENTITY_TOKEN_FILE (IRSA); WAL-G's own
  // AssumeRole with them is not implemented.
  st('AWS_ROLE_ARN', 'string', { inert: 'STS AssumeRole is not implemented', inertUnless: 'AWS_WEB_IDENTITY_TOKEN_FILE' }),
  st('AWS_ROLE_SESSION_NAME', 'string', { inert: 'STS AssumeRole is not implemented', inertUnless: 'AWS_WEB_IDENTITY_TOKEN_FILE' }),
  st('AWS_REGION'), st('AWS_DEFAULT_REGION'), st('AWS_ENDPOINT'),
  st('AWS_DEFAULT_OUTPUT', 'string', { inert: 'an AWS CLI output format; nothing here prints through the AWS CLI' }),
  // compat: WAL-G's S3 multipart upload concurrency (falls back to WALG_UPLOAD_CONCURRENCY there).
  s('UPLOAD_CONCURRENCY', 'int', { inert: 'S3 multipart uploads use the driver\'s own part concurrency' }),
  st('AWS_S3_FORCE_PATH_STYLE', 'bool', { default: 'false' }),
  st('AWS_DUAL_STACK', 'bool', { default: 'false', inert: NO_S3_FEATURE }),
  st('AWS_CA_BUNDLE'), st('S3_CA_CERT_FILE'),
  st('AWS_PROFILE', 'string', { external: AWS_CHAIN }),
  st('AWS_SHARED_CREDENTIALS_FILE', 'string', { external: AWS_CHAIN }),
  st('AWS_CONFIG_FILE', 'string', { external: AWS_CHAIN }),
  st('AWS_WEB_IDENTITY_TOKEN_FILE', 'string', { external: AWS_CHAIN }),
  st('S3_STORAGE_CLASS', 'string', { default: 'STANDARD' }),
  st('S3_SSE'), st('S3_SSE_KMS_ID'), st('S3_SSE_C', 'string', { secret: true }),
  st('S3_MAX_PART_SIZE', 'int', { default: String(20 << 20) }),
  st('S3_MAX_RETRIES', 'int', { default: '15' }),
  st('S3_MIN_THROTTLING_RETRY_DELAY', 'duration', { default: '500ms', inert: NO_S3_FEATURE }),
  st('S3_MAX_THROTTLING_RETRY_DELAY', 'duration', { default: '300000ms', inert: NO_S3_FEATURE }),
  st('S3_USE_LIST_OBJECTS_V1', 'bool', { default: 'false' }),
  st('S3_RANGE_BATCH_ENABLED', 'bool', { default: 'false', inert: NO_S3_FEATURE }),
  st('S3_RANGE_MAX_RETRIES', 'int', { default: '10', inert: NO_S3_FEATURE }),
  st('S3_ENDPOINT_SOURCE', 'string', { inert: NO_S3_FEATURE }),
  st('S3_ENDPOINT_PORT', 'string', { default: '443', inert: NO_S3_FEATURE }),
  st('S3_ENDPOINT_PROTOCOL', 'string', { inert: NO_S3_FEATURE }),
  st('S3_REQUEST_ADDITIONAL_HEADERS', 'string', { inert: NO_S3_FEATURE }),
  st('S3_USE_YC_SESSION_TOKEN', 'string', { inert: NO_S3_FEATURE }),
  st('S3_RETENTION_PERIOD', 'int', { default: '-1', inert: 'S3 Object Lock on upload is not implemented' }),
  st('S3_RETENTION_MODE', 'string', { default: 'GOVERNANCE', inert: 'S3 Object Lock on upload is not implemented' }),
  // compat: the credentials are never validated at start, which is WAL-G's default (true) anyway.
  st('S3_SKIP_VALIDATION', 'bool', { default: 'true', inert: 'credentials are never validated at start' }),
  st('S3_ENABLE_VERSIONING', 'string', { inert: 'bucket versioning is never detected or used' }),
  st('S3_DELETE_BATCH_SIZE', 'int', { default: '1000' }),
  st('S3_DISABLE_100_CONTINUE', 'bool', { default: 'false', inert: NO_S3_FEATURE }),
  st('S3_LOG_LEVEL', 'string', { inert: 'S3 SDK requests are not dumped' }),
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
  st('AZURE_CLIENT_ID', 'string', { inert: NO_AZ_CHAIN }),
  st('AZURE_TENANT_ID', 'string', { inert: NO_AZ_CHAIN }),
  st('AZURE_CLIENT_SECRET', 'string', { secret: true, inert: NO_AZ_CHAIN }),
  // Ours, not WAL-G's (WAL-G always uses https://<account>.blob.<suffix>): the blob service URL, for Azurite or a
  // private endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1. Overrides AZURE_ENDPOINT_SUFFIX.
  st('AZURE_BLOB_ENDPOINT'),
  // Swift
  st('OS_AUTH_URL'), st('OS_USERNAME'), st('OS_PASSWORD', 'string', { secret: true }),
  st('OS_TENANT_NAME'), st('OS_PROJECT_NAME'), st('OS_REGION_NAME'),
  st('OS_USER_DOMAIN_NAME'), st('OS_PROJECT_DOMAIN_NAME'),
  st('OS_AUTH_VERSION', 'string', { inert: 'the Swift auth version is taken from OS_AUTH_URL' }),
  // SSH
  st('SSH_PORT', 'string', { default: '22' }), st('SSH_USERNAME'),
  st('SSH_PASSWORD', 'string', { secret: true }), st('SSH_PRIVATE_KEY_PATH'),
  // OSS
  st('OSS_ACCESS_KEY_ID', 'string', { secret: true, inert: NO_OSS }),
  st('OSS_ACCESS_KEY_SECRET', 'string', { secret: true, inert: NO_OSS }),
  st('OSS_SESSION_TOKEN', 'string', { secret: true, inert: NO_OSS }),
  st('OSS_REGION', 'string', { inert: NO_OSS }), st('OSS_ENDPOINT', 'string', { inert: NO_OSS }),
  st('OSS_ROLE_ARN', 'string', { inert: NO_OSS }), st('OSS_ROLE_SESSION_NAME', 'string', { inert: NO_OSS }),
  st('OSS_SKIP_VALIDATION', 'bool', { inert: NO_OSS }), st('OSS_MAX_RETRIES', 'int', { inert: NO_OSS }),
  st('OSS_CONNECT_TIMEOUT', 'duration', { inert: NO_OSS }), st('OSS_UPLOAD_PART_SIZE', 'int', { inert: NO_OSS }),
  st('OSS_COPY_PART_SIZE', 'int', { inert: NO_OSS }),
  // Failover
  s('WALG_FAILOVER_STORAGES', 'map', { noExport: true }),
  s('WALG_FAILOVER_STORAGES_CHECK', 'bool'),
  s('WALG_FAILOVER_STORAGES_CHECK_TIMEOUT', 'duration', { default: '30s' }),
  s('WALG_FAILOVER_STORAGES_CHECK_SIZE', 'size', { default: '1mb' }),
  s('WALG_FAILOVER_STORAGES_CACHE_LIFETIME', 'duration', { default: '15m' }),
  // compat: accepted as WAL-G accepts them; the status cache keeps WAL-G's default EMA parameters.
  ...(['ALIVE_LIMIT', 'DEAD_LIMIT', 'ALPHA_ALIVE_MAX', 'ALPHA_ALIVE_MIN', 'ALPHA_DEAD_MAX', 'ALPHA_DEAD_MIN'] as const)
    .map((k) => s(`WALG_FAILOVER_STORAGES_CACHE_EMA_${k}`, 'float', { inert: 'the failover status cache uses WAL-G\'s default EMA parameters' })),
  // §2.5 PostgreSQL
  s('PGDATA', 'string', { scope: 'pg' }),
  ...(['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGSSLMODE', 'PGSSLKEY', 'PGSSLCERT', 'PGSSLROOTCERT'] as const)
    .map((n) => s(n, 'string', { scope: 'pg' })),
  s('PGPASSFILE', 'string', { scope: 'pg' }), // read by node-postgres and by the replication client (pgpass)
  s('PGAPPNAME', 'string', { scope: 'pg' }),
  s('PGPASSWORD', 'string', { scope: 'pg', secret: true }),
  s('WALG_SLOTNAME', 'string', { scope: 'pg', default: 'walg' }),
  s('WALG_PG_WAL_SIZE', 'int', { scope: 'pg', default: '16' }),
  s('WALG_PG_WAL_PAGE_SIZE', 'int', { scope: 'pg', default: '8192', inert: 'WAL pages are not parsed' }),
  s('WALG_PG_BLOCK_SIZE', 'int', { scope: 'pg', default: '8192', inert: 'data pages are always 8192 bytes' }),
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
  s('WALG_DISABLE_PARTIAL_RESTORE', 'bool', { scope: 'pg', default: 'false', inert: 'partial-restore metadata is never collected' }),
  s('WALG_ALIVE_CHECK_INTERVAL', 'duration', { scope: 'pg', default: '1m' }),
  s('WALG_STOP_BACKUP_TIMEOUT', 'duration', { scope: 'pg' }),
  s('WALG_INTEGRITY_MAX_DELAYED_WALS', 'int', { scope: 'pg', default: '0' }),
  s('WALG_DAEMON_WAL_UPLOAD_TIMEOUT', 'duration', { scope: 'pg', default: '60s' }),
  s('PGBACKREST_STANZA', 'string', { scope: 'pg', default: 'main', inert: 'the pgbackrest commands are not implemented' }),
  // §2.6 MySQL / MariaDB
  s('WALG_MYSQL_DATASOURCE_NAME', 'string', { scope: 'mysql', secret: true }),
  s('WALG_MYSQL_SSL_CA', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BACKUP_PREPARE_COMMAND', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BINLOG_REPLAY_COMMAND', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BINLOG_DST', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_BINLOG_SRC', 'string', { scope: 'mysql' }),
  s('WALG_MYSQL_CHECK_GTIDS', 'bool', { scope: 'mysql', default: 'false' }),
  s('WALG_MYSQL_INCREMENTAL_BACKUP_DST', 'string', { scope: 'mysql', default: '/tmp' }),
  s('WALG_MYSQL_DATA_DIR', 'string', { scope: 'mysql', inert: NO_XBTOOL }),
  s('WALG_BACKUP_DOWNLOAD_MAX_RETRY', 'int', { scope: 'mysql', default: '1', inert: "not implemented; the storage client's own retries apply" }),
  s('WALG_STREAM_SPLITTER_PARTITIONS', 'int', { scope: 'mysql' }),
  s('WALG_STREAM_SPLITTER_BLOCK_SIZE', 'int', { scope: 'mysql', default: '1048576' }),
  s('WALG_STREAM_SPLITTER_MAX_FILE_SIZE', 'int', { scope: 'mysql' }),
  // §2.7 Redis
  s('WALG_REDIS_USERNAME', 'string', { scope: 'redis', secret: true }),
  s('WALG_REDIS_PASSWORD', 'string', { scope: 'redis', secret: true }),
  s('WALG_REDIS_DB', 'string', { scope: 'redis' }),
  // compat: read by WAL-G's Redis client with local defaults (not in its allowed list, so environment only there).
  s('WALG_REDIS_HOST', 'string', { scope: 'redis', default: 'localhost' }),
  s('WALG_REDIS_PORT', 'string', { scope: 'redis', default: '6379' }),
  s('WALG_REDIS_DATA_PATH', 'string', { scope: 'redis', default: '/var/lib/redis' }),
  s('WALG_REDIS_APPENDONLY_PATH', 'string', { scope: 'redis', default: 'appendonlydir' }),
  s('WALG_REDIS_APPENDONLY_MANIFEST', 'string', { scope: 'redis', default: 'appendonly.aof.manifest' }),
  s('WALG_REDIS_APPENDONLY_TEMP_MANIFEST', 'string', { scope: 'redis', default: '/var/lib/redis/wal-g/' }),
  s('WALG_REDIS_TS_PIN_FOLDER', 'string', { scope: 'redis', default: '/var/lib/redis/ext/wal-g-pin/', inert: NO_REDIS_TS }),
  s('WALG_REDIS_DATA_THRESHOLD', 'int', { scope: 'redis', default: '90' }),
  s('WALG_REDIS_DATA_TIMEOUT', 'int', { scope: 'redis', default: '1' }),
  s('WALG_REDIS_SERVER_PROCESS_NAME', 'string', { scope: 'redis', default: 'redis-server' }),
  s('WALG_REDIS_FQDN_TO_ID_MAP', 'string', { scope: 'redis', default: '{}', inert: NO_REDIS_CLUSTER }),
  s('WALG_REDIS_CLUSTER_CONF_PATH', 'string', { scope: 'redis', default: '/etc/redis/cluster.conf', inert: NO_REDIS_CLUSTER }),
] as const satisfies readonly SettingDef[];

/** The canonical name of a setting: what Config.get* accept (aliases are resolved at run time by findSetting). */
export type SettingName = (typeof SETTINGS)[number]['name'];

/** The settings that have a default: their getters never return undefined. */
export type DefaultedSettingName = Extract<(typeof SETTINGS)[number], { default: string }>['name'];

const byName = new Map<string, SettingDef>();
for (const d of SETTINGS as readonly SettingDef[]) {
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
