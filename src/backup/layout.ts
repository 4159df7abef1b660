// Every storage path of the WAL-G layout in one place (walg-format.md §1, §6).

/** compat: WAL-G's VersionStr "005" folders. */
export const BASEBACKUPS_PATH = 'basebackups_005/';
export const WAL_PATH = 'wal_005/';
export const CATCHUP_PATH = 'catchup_005/';
export const BINLOG_PATH = 'binlog_005/';
export const SENTINEL_SUFFIX = '_backup_stop_sentinel.json';
export const METADATA_FILE = 'metadata.json';
export const FILES_METADATA_FILE = 'files_metadata.json';
export const TAR_PARTITIONS = 'tar_partitions/';

/** Key of a backup's sentinel, e.g. basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json. */
export function sentinelKey(backup: string, root = BASEBACKUPS_PATH): string { return `${root}${backup}${SENTINEL_SUFFIX}`; }
/** Folder of a backup's objects. */
export function backupFolder(backup: string, root = BASEBACKUPS_PATH): string { return `${root}${backup}/`; }
export function metadataKey(backup: string, root = BASEBACKUPS_PATH): string { return `${backupFolder(backup, root)}${METADATA_FILE}`; }
export function filesMetadataKey(backup: string, root = BASEBACKUPS_PATH): string { return `${backupFolder(backup, root)}${FILES_METADATA_FILE}`; }
export function tarPartitionsFolder(backup: string, root = BASEBACKUPS_PATH): string { return `${backupFolder(backup, root)}${TAR_PARTITIONS}`; }

/** Backup name from a sentinel object's base name, or undefined if it is not a sentinel. */
export function backupNameFromSentinel(objectName: string): string | undefined {
  const base = objectName.slice(objectName.lastIndexOf('/') + 1);
  return base.endsWith(SENTINEL_SUFFIX) ? base.slice(0, -SENTINEL_SUFFIX.length) : undefined;
}

/** compat: names WAL-G recognises as PostgreSQL backups: base_<24 hex>(_D_<24 hex>)?(_<8 hex>)? */
export const PG_BACKUP_NAME = /^base_[0-9A-F]{24}(_D_[0-9A-F]{24})?(_[0-9A-F]{8})?$/;
