// Shared fixture of the catalog tests: a storage holding several synthetic PostgreSQL backups written with the
// real sentinel/metadata encoders and lz4 objects — a permanent full, three fulls with two chained deltas each,
// WAL on timeline 1 (and a few on timeline 2 after a switch), optional leftovers of failed backups.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { readAll } from '../../src/storage/body.ts';
import type { Storage } from '../../src/storage/types.ts';
import { DATE_FMT, encodeMetadata, encodeSentinel } from '../../src/backup/sentinel.ts';
import type { BackupSentinel } from '../../src/backup/sentinel.ts';
import { listBackups } from '../../src/backup/sentinel.ts';
import { metadataKey, sentinelKey, tarPartitionsFolder, BASEBACKUPS_PATH, WAL_PATH } from '../../src/backup/layout.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';

export const SEG = 16 * 1024 * 1024;
const wal = (tl: number, seg: number) => formatWalName(tl, seg);
const full = (seg: number) => `base_${wal(1, seg)}`;
const delta = (seg: number, parentSeg: number) => `base_${wal(1, seg)}_D_${wal(1, parentSeg)}`;

/** Backup names of the fixture, oldest first. */
export const B = {
  P: full(0x02), // permanent full
  F1: full(0x05), D1a: delta(0x07, 0x05), D1b: delta(0x09, 0x07),
  F2: full(0x0b), D2a: delta(0x0d, 0x0b), D2b: delta(0x0f, 0x0d),
  F3: full(0x11), D3a: delta(0x13, 0x11), D3b: delta(0x15, 0x13),
} as const;

export interface FixtureBackup {
  name: string;
  seg: number;
  parent?: string;
  fullName?: string;
  permanent?: boolean;
  userData?: unknown;
  /** Write no metadata.json (old backups). */
  noMetadata?: boolean;
}

/** The fixture's backups in creation order; start times are one hour apart from 2024-01-01T00:00:00Z. */
export const BACKUPS: FixtureBackup[] = [
  { name: B.P, seg: 0x02, permanent: true },
  { name: B.F1, seg: 0x05 },
  { name: B.D1a, seg: 0x07, parent: B.F1, fullName: B.F1 },
  { name: B.D1b, seg: 0x09, parent: B.D1a, fullName: B.F1 },
  { name: B.F2, seg: 0x0b, userData: { x: [3], y: 4 } },
  { name: B.D2a, seg: 0x0d, parent: B.F2, fullName: B.F2 },
  { name: B.D2b, seg: 0x0f, parent: B.D2a, fullName: B.F2 },
  { name: B.F3, seg: 0x11 },
  { name: B.D3a, seg: 0x13, parent: B.F3, fullName: B.F3 },
  { name: B.D3b, seg: 0x15, parent: B.D3a, fullName: B.F3 },
];

export const startTimeOf = (i: number) => new Date(Date.UTC(2024, 0, 1, i));

/** WAL objects: timeline 1 segments 0x01..0x15, the .partial of 0x16, timeline 2 0x16..0x18 and its history file. */
export const WAL_NAMES: string[] = [
  ...Array.from({ length: 0x15 }, (_, i) => `${wal(1, i + 1)}.lz4`),
  `${wal(1, 0x16)}.partial.lz4`,
  ...[0x16, 0x17, 0x18].map((s) => `${wal(2, s)}.lz4`),
  '00000002.history.lz4',
];

/** Leftovers of failed backups (folders without a sentinel): one older than F1, one newer than everything. */
export const LEFTOVERS = [`${BASEBACKUPS_PATH}${full(0x04)}/tar_partitions/part_1.tar.lz4`, `${BASEBACKUPS_PATH}${full(0x16)}/tar_partitions/part_1.tar.lz4`];

let lz4Payload: Buffer | undefined;
async function lz4(): Promise<Buffer> {
  if (!lz4Payload) {
    const c = await getCompressor('lz4');
    lz4Payload = await readAll(Readable.from([Buffer.from('synthetic tar or WAL bytes '.repeat(64))]).pipe(c.compress()));
  }
  return lz4Payload;
}

/** The sentinel of a fixture backup (LSNs inside its segment; it finishes in the next one). */
export function sentinelOf(b: FixtureBackup, index: number): BackupSentinel {
  const parent = b.parent ? BACKUPS.find((x) => x.name === b.parent) : undefined;
  const depth = (x: FixtureBackup | undefined): number => (x?.parent ? 1 + depth(BACKUPS.find((y) => y.name === x.parent)) : 0);
  return {
    LSN: BigInt(b.seg * SEG + 0x28),
    DeltaLSN: parent ? BigInt(parent.seg * SEG + 0x28) : undefined,
    DeltaFrom: b.parent,
    DeltaFullName: b.fullName,
    DeltaCount: b.parent ? depth(b) : undefined,
    PgVersion: 160002,
    FinishLSN: BigInt((b.seg + 1) * SEG + 0x100),
    SystemIdentifier: 7301234567890123456n,
    UncompressedSize: 52428800,
    CompressedSize: 8123456,
    UserData: b.userData,
    ChkpNum: null,
    Version: 2,
    StartTime: startTimeOf(index).toISOString().replace('.000Z', '.123456Z'),
    FinishTime: new Date(startTimeOf(index).getTime() + 60_000).toISOString().replace('.000Z', 'Z'),
    DateFmt: DATE_FMT,
    Hostname: 'db1',
    DataDir: '/var/lib/postgresql/16/main',
    IsPermanent: !!b.permanent,
  };
}

/** Writes one backup: tar part, metadata.json, then the sentinel last (as backup-push does). */
export async function writeBackup(storage: Storage, b: FixtureBackup, index: number): Promise<void> {
  const s = sentinelOf(b, index);
  await storage.put(`${tarPartitionsFolder(b.name)}part_1.tar.lz4`, await lz4());
  if (!b.noMetadata) {
    await storage.put(metadataKey(b.name), Buffer.from(encodeMetadata({
      start_time: s.StartTime, finish_time: s.FinishTime, date_fmt: DATE_FMT, hostname: s.Hostname, data_dir: s.DataDir,
      pg_version: s.PgVersion, start_lsn: s.LSN, finish_lsn: s.FinishLSN, is_permanent: s.IsPermanent,
      system_identifier: s.SystemIdentifier ?? null, uncompressed_size: s.UncompressedSize, compressed_size: s.CompressedSize,
      user_data: s.UserData,
    })));
  }
  await storage.put(sentinelKey(b.name), Buffer.from(encodeSentinel(s)));
}

/** Fills `storage` with the WAL, the backups (in order, so sentinel LastModified follows creation) and leftovers. */
export async function populate(storage: Storage, opts: { leftovers?: boolean; backups?: FixtureBackup[] } = {}): Promise<void> {
  for (const w of WAL_NAMES) await storage.put(`${WAL_PATH}${w}`, await lz4());
  const list = opts.backups ?? BACKUPS;
  for (let i = 0; i < list.length; i++) await writeBackup(storage, list[i]!, i);
  if (opts.leftovers) for (const k of LEFTOVERS) await storage.put(k, await lz4());
}

/** All keys of a storage with their bytes (to prove a dry run changes nothing). */
export async function snapshot(storage: Storage): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of storage.list('', { recursive: true })) {
    if (e.type === 'obj') out.set(e.key, `${e.size}:${e.lastModified.getTime()}:${(await readAll(await storage.get(e.key))).toString('base64')}`);
  }
  return out;
}

/** Every object key of one backup in the fixture layout. */
export function backupKeys(name: string, withMetadata = true): string[] {
  return [sentinelKey(name), ...(withMetadata ? [metadataKey(name)] : []), `${tarPartitionsFolder(name)}part_1.tar.lz4`];
}

export { wal, full, delta };

/** Names of the backups the storage lists, oldest first. */
export const backupNames = async (s: Storage): Promise<string[]> => (await listBackups(s)).map((b) => b.name);

/** Key of the fixture's lz4 WAL segment `seg` on timeline `tl`. */
export const walKey = (tl: number, seg: number): string => `${WAL_PATH}${wal(tl, seg)}.lz4`;

/** Every fixture backup name except `gone`, in fixture order. */
export const allBackupsWithout = (...gone: string[]): string[] => BACKUPS.map((b) => b.name).filter((n) => !gone.includes(n));

/** The permanent backup, its metadata and the WAL it needs are all still there. */
export async function assertPermanentSurvives(s: Storage): Promise<void> {
  assert.ok((await backupNames(s)).includes(B.P), 'permanent backup still listed');
  assert.ok(await s.exists(metadataKey(B.P)));
  for (const seg of [0x02, 0x03]) assert.ok(await s.exists(walKey(1, seg)), `WAL ${seg} of the permanent backup kept`);
}
