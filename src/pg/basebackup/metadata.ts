// backup-push's closing objects (walg-format.md §1.5–1.7): the sentinel and metadata.json assembled from what the
// backup did, then metadata.json, files_metadata.json and — last — the sentinel that makes the backup exist.

import { hostname as osHostname } from 'node:os';
import type { Readable } from 'node:stream';
import { CancelledError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { rfc3339Nano, stringifyGo } from '../../backup/json.ts';
import { filesMetadataKey, metadataKey, sentinelKey } from '../../backup/layout.ts';
import { DATE_FMT, encodeMetadata, encodeSentinel } from '../../backup/sentinel.ts';
import type { BackupSentinel, ExtendedMetadata, TablespaceSpec } from '../../backup/sentinel.ts';
import type { Storage } from '../../storage/types.ts';
import { filesMetadataBody } from '../files-metadata.ts';
import type { FilesView } from '../files-metadata.ts';
import type { Lsn } from '../lsn.ts';
import type { PgServerInfo } from '../postgres-client.ts';
import type { DeltaParent } from './delta.ts';
import type { WalkState } from './walk.ts';

/** UTC now, rounded up to microseconds, as RFC3339Nano (compat: utility.TimeNowCrossPlatformUTC). */
export function nowUtcRfc3339(): string {
  const micros = Math.ceil((performance.timeOrigin + performance.now()) * 1000);
  return rfc3339Nano(new Date(Math.floor(micros / 1000)), (micros % 1000) * 1000);
}

/** What the metadata takes from backupPush's options. */
export interface MetadataOptions {
  storage: Storage;
  signal?: AbortSignal;
  permanent?: boolean;
  /** UserData (already parsed JSON). */
  userData?: unknown;
  withoutFilesMetadata?: boolean;
  /** Hostname recorded in the sentinel (default: this machine's). */
  hostname?: string;
  delta?: DeltaParent;
  /** compat: WAL-G's remote backups record a Spec even without tablespaces (`"tablespaces":[]`). */
  specAlways?: boolean;
}

/** What the finished backup consists of, as the sentinel records it. */
export interface BackupFacts {
  name: string;
  dataDir: string;
  startTime: string;
  startLsn: Lsn;
  finishLsn: Lsn;
  info: Pick<PgServerInfo, 'version' | 'systemIdentifier'>;
  walk: WalkState;
  parts: { uncompressedSize: number; compressedSize: number; tarFileSets: Map<string, string[]>; uploadedKeys: readonly string[] };
  files: FilesView;
}

/** compat: TablespaceSpec.MarshalJSON — a Go map, so keys come out sorted; undefined without tablespaces. */
function tablespaceSpec(walk: WalkState, dataDir: string, always = false): TablespaceSpec | undefined {
  if (!walk.spec.names.length && !always) return undefined;
  const s: Record<string, unknown> = {};
  for (const n of [...walk.spec.names].sort()) s[n] = { loc: walk.spec.locations.get(n), link: `pg_tblspc/${n}` };
  s.base_prefix = dataDir;
  s.tablespaces = walk.spec.names;
  return s;
}

/** The sentinel and metadata.json of a finished backup (FinishTime is now). */
export function assembleMetadata(opts: MetadataOptions, f: BackupFacts): { sentinel: BackupSentinel; metadata: ExtendedMetadata } {
  const { delta } = opts;
  const { info, parts } = f;
  const spec = tablespaceSpec(f.walk, f.dataDir, opts.specAlways);
  const hostname = opts.hostname ?? osHostname();
  const finishTime = nowUtcRfc3339();
  const userData = opts.userData ?? undefined;
  const sentinel: BackupSentinel = {
    LSN: f.startLsn,
    DeltaLSN: delta?.sentinel.LSN,
    DeltaFrom: delta?.name,
    // compat: NewBackupSentinelDto — the chain's full backup: the parent's own DeltaFullName when it is a delta.
    DeltaFullName: delta ? (delta.sentinel.DeltaFrom ? delta.sentinel.DeltaFullName : delta.name) : undefined,
    DeltaCount: delta?.count,
    PgVersion: info.version,
    FinishLSN: f.finishLsn,
    SystemIdentifier: info.systemIdentifier,
    UncompressedSize: parts.uncompressedSize,
    CompressedSize: parts.compressedSize,
    DataCatalogSize: f.walk.dataCatalogSize,
    Spec: spec,
    UserData: userData,
    FilesMetadataDisabled: opts.withoutFilesMetadata ? true : undefined,
    ChkpNum: null,
    Version: 2,
    StartTime: f.startTime,
    FinishTime: finishTime,
    DateFmt: DATE_FMT,
    Hostname: hostname,
    DataDir: f.dataDir,
    IsPermanent: opts.permanent ?? false,
  };
  const metadata: ExtendedMetadata = {
    start_time: f.startTime, finish_time: finishTime, date_fmt: DATE_FMT, hostname, data_dir: f.dataDir,
    pg_version: info.version, start_lsn: f.startLsn, finish_lsn: f.finishLsn, is_permanent: opts.permanent ?? false,
    system_identifier: info.systemIdentifier ?? null, uncompressed_size: parts.uncompressedSize,
    compressed_size: parts.compressedSize, user_data: userData,
  };
  return { sentinel, metadata };
}

/**
 * Assembles and uploads metadata.json, files_metadata.json (unless disabled) and the sentinel, in that order.
 * Returns them with every key uploaded by the backup (the parts first). Throws StorageError or CancelledError; a
 * failure before the sentinel leaves no listable backup.
 */
export async function uploadMetadata(opts: MetadataOptions, f: BackupFacts): Promise<{ sentinel: BackupSentinel; metadata: ExtendedMetadata; uploaded: string[] }> {
  const { sentinel, metadata } = assembleMetadata(opts, f);
  const uploaded = [...f.parts.uploadedKeys];
  const put = async (key: string, body: Buffer | (() => Readable)) => {
    if (opts.signal?.aborted) throw new CancelledError('backup-push cancelled', { cause: opts.signal.reason });
    await opts.storage.put(key, body, { signal: opts.signal });
    uploaded.push(key);
  };
  await put(metadataKey(f.name), Buffer.from(encodeMetadata(metadata)));
  if (opts.withoutFilesMetadata) {
    log.info('Files metadata tracking is disabled, will not upload the files_metadata.json');
  } else {
    await put(filesMetadataKey(f.name), filesMetadataBody({ Files: f.files, TarFileSets: f.parts.tarFileSets }));
  }
  // The sentinel last: its existence (and LastModified, for LATEST) is what makes the backup exist.
  await put(sentinelKey(f.name), Buffer.from(encodeSentinel(sentinel)));
  log.debug(`Uploaded sentinel ${stringifyGo({ name: f.name, UncompressedSize: sentinel.UncompressedSize, CompressedSize: sentinel.CompressedSize })}`);
  return { sentinel, metadata, uploaded };
}
