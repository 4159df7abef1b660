// Every storage path of the WAL-G layout in one place (walg-format.md §1, §6): the versioned top-level folders,
// the per-backup object names, and the key builders. Other modules import these instead of spelling paths.

/** compat: WAL-G's VersionStr "005" folder of base backups (utility.BaseBackupPath); also MySQL's stream backups. */
export const BASEBACKUPS_PATH = 'basebackups_005/';
/** compat: WAL-G's folder of archived WAL segments and history files (utility.WalPath). */
export const WAL_PATH = 'wal_005/';
/** compat: the folder of catchup-push backups. */
export const CATCHUP_PATH = 'catchup_005/';
/** compat: the MySQL/MariaDB folder of archived binlogs. */
export const BINLOG_PATH = 'binlog_005/';
/** Suffix of a backup's stop sentinel, `<backup>_backup_stop_sentinel.json`, directly in the backups folder. */
export const SENTINEL_SUFFIX = '_backup_stop_sentinel.json';
/** A PostgreSQL backup's metadata.json, inside the backup's folder. */
export const METADATA_FILE = 'metadata.json';
/** A PostgreSQL backup's files_metadata.json, inside the backup's folder. */
export const FILES_METADATA_FILE = 'files_metadata.json';
/** The folder of a PostgreSQL backup's tar parts, inside the backup's folder. */
export const TAR_PARTITIONS = 'tar_partitions/';
/** compat: utility.StreamMetadataFileName — a split (MySQL) stream backup's metadata, inside the backup's folder. */
export const STREAM_METADATA_FILE = 'stream_metadata.json';

/** Key of a backup's sentinel, e.g. basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json. */
export function sentinelKey(backup: string, root = BASEBACKUPS_PATH): string { return `${root}${backup}${SENTINEL_SUFFIX}`; }
/** Folder of a backup's objects. */
export function backupFolder(backup: string, root = BASEBACKUPS_PATH): string { return `${root}${backup}/`; }
/** Key of a backup's metadata.json. */
export function metadataKey(backup: string, root = BASEBACKUPS_PATH): string { return `${backupFolder(backup, root)}${METADATA_FILE}`; }
/** Key of a backup's files_metadata.json. */
export function filesMetadataKey(backup: string, root = BASEBACKUPS_PATH): string { return `${backupFolder(backup, root)}${FILES_METADATA_FILE}`; }
/** Folder of a backup's tar parts. */
export function tarPartitionsFolder(backup: string, root = BASEBACKUPS_PATH): string { return `${backupFolder(backup, root)}${TAR_PARTITIONS}`; }

/** Backup name from a sentinel object's base name, or undefined if it is not a sentinel. */
export function backupNameFromSentinel(objectName: string): string | undefined {
  const base = objectName.slice(objectName.lastIndexOf('/') + 1);
  return base.endsWith(SENTINEL_SUFFIX) ? base.slice(0, -SENTINEL_SUFFIX.length) : undefined;
}

/** compat: names WAL-G recognises as PostgreSQL backups: base_<24 hex>(_D_<24 hex>)?(_<8 hex>)? */
export const PG_BACKUP_NAME = /^base_[0-9A-F]{24}(_D_[0-9A-F]{24})?(_[0-9A-F]{8})?$/;
