// Backups with crafted tar partitions for the backup-fetch safety tests (test/unit/backup-fetch-safety.test.ts,
// test/integration/backup-fetch-safety-cli.test.ts): sentinels, lz4 tars, a stored fake backup, and a listing of
// everything outside a restore target.

import { Readable } from 'node:stream';
import { TAR_TYPE } from '../../src/tar/header.ts';
import type { TarHeaderInput } from '../../src/tar/header.ts';
import { TarWriter } from '../../src/tar/writer.ts';
import { encodeSentinel, DATE_FMT } from '../../src/backup/sentinel.ts';
import type { BackupSentinel } from '../../src/backup/sentinel.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { through } from '../../src/pipeline/pipeline.ts';
import { readAll } from '../../src/storage/body.ts';
import type { Storage } from '../../src/storage/types.ts';
import { listTree } from './tree.ts';


const lz4 = await getCompressor('lz4');
/** The crafted backup's name and its folder. */
export const NAME = 'base_000000010000000000000003';
export const PREFIX = `basebackups_005/${NAME}`;

/** A finished backup's sentinel, with `extra` fields overriding the defaults. */
export function sentinel(extra: Partial<BackupSentinel> = {}): BackupSentinel {
  return {
    LSN: 0x3000028n, PgVersion: 150004, FinishLSN: 0x3000100n, SystemIdentifier: 7301234567890123456n, UncompressedSize: 1,
    CompressedSize: 1, ChkpNum: null, Version: 2, StartTime: '2024-05-01T10:00:00.123456Z', FinishTime: '2024-05-01T10:01:02.5Z',
    DateFmt: DATE_FMT, Hostname: 'evil', DataDir: '/var/lib/postgresql/15/main', IsPermanent: false, ...extra,
  };
}

/** An lz4-compressed tar of `entries`, optionally with `trailer` bytes after the end-of-archive marker. */
export async function tarBytes(entries: [TarHeaderInput, Buffer?][], trailer?: Buffer): Promise<Buffer> {
  const w = new TarWriter();
  const out = readAll(through(w.stream, [lz4.compress()]));
  for (const [h, b] of entries) await w.add(h, b);
  await w.end();
  const body = await out;
  if (!trailer) return body;
  // re-compress with garbage after the end-of-archive marker
  const raw = await readAll(through(Readable.from([body]), [lz4.decompress()]));
  return readAll(through(Readable.from([Buffer.concat([raw, trailer])]), [lz4.compress()]));
}

/** A regular-file tar entry with `text` as its content. */
export const file = (name: string, text: string): [TarHeaderInput, Buffer] => [{ name, type: TAR_TYPE.file, mode: 0o600, size: Buffer.byteLength(text) }, Buffer.from(text)];
/** A directory tar entry. */
export const dir = (name: string): [TarHeaderInput] => [{ name, type: TAR_TYPE.directory, mode: 0o700 }];

/** Stores a fake finished backup: sentinel, files_metadata (none: restore everything), parts, pg_control. */
export async function storeBackup(s: Storage, part: [TarHeaderInput, Buffer?][], opts: { sentinel?: Partial<BackupSentinel>; trailer?: Buffer } = {}): Promise<void> {
  await s.put(`${PREFIX}/tar_partitions/part_001.tar.lz4`, await tarBytes([dir('/'), dir('/base'), file('/PG_VERSION', '15\n'), ...part], opts.trailer));
  await s.put(`${PREFIX}/tar_partitions/pg_control.tar.lz4`, await tarBytes([file('/global/pg_control', 'control')]));
  await s.put(`${PREFIX}/metadata.json`, Buffer.from('{}'));
  // Version 1 sentinel: no files_metadata.json needed, so every entry of the tars is a candidate.
  await s.put(`basebackups_005/${NAME}_backup_stop_sentinel.json`, Buffer.from(encodeSentinel(sentinel({ Version: 1, ...opts.sentinel }))));
}

/** Snapshot of everything under `dir` except the target subtree. */
export function outside(base: string, target: string): string[] {
  return listTree(base).filter((p) => p && !p.startsWith(target)).sort();
}
