// A synthetic WAL archive (two timelines, a .partial, a .backup file, two backups) shared by the wal-show /
// wal-verify tests (test/unit/wal-show-verify.test.ts, test/integration/wal-show-verify-cli.test.ts).

import { Readable } from 'node:stream';
import type { Storage } from '../../src/storage/types.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import type { Crypter } from '../../src/pipeline/types.ts';
import { encodeStages, through } from '../../src/pipeline/pipeline.ts';
import { DATE_FMT, encodeMetadata, encodeSentinel } from '../../src/backup/sentinel.ts';
import { metadataKey, sentinelKey } from '../../src/backup/layout.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { parseLsn } from '../../src/pg/lsn.ts';

const w = (tl: number, seg: number) => formatWalName(tl, seg);


/** Stores `data` lz4-compressed (and encrypted when a crypter is given) under `key`.lz4. */
export async function putLz4(s: Storage, key: string, data: Buffer, crypter?: Crypter): Promise<void> {
  const compressor = await getCompressor('lz4');
  await s.put(`${key}.lz4`, () => through(Readable.from([data]), encodeStages({ compressor, crypter })));
}

/** A finished backup: sentinel plus metadata.json with the given LSNs. */
export async function putBackup(s: Storage, name: string, start: string, finish: string, permanent = false): Promise<void> {
  const LSN = parseLsn(start);
  const FinishLSN = parseLsn(finish);
  const t = '2024-05-01T10:00:00.123456Z';
  await s.put(sentinelKey(name), Buffer.from(encodeSentinel({
    LSN, FinishLSN, PgVersion: 150004, UncompressedSize: 100, CompressedSize: 50, Version: 2,
    StartTime: t, FinishTime: t, DateFmt: DATE_FMT, Hostname: 'db1', DataDir: '/pg', IsPermanent: permanent,
  })));
  await s.put(metadataKey(name), Buffer.from(encodeMetadata({
    start_time: t, finish_time: t, date_fmt: DATE_FMT, hostname: 'db1', data_dir: '/pg', pg_version: 150004,
    start_lsn: LSN, finish_lsn: FinishLSN, is_permanent: permanent, system_identifier: 7365432100000000001n,
    uncompressed_size: 100, compressed_size: 50,
  })));
}

/** The history file of timeline 2 in the archive. */
export const HISTORY_2 = '1\t0/6000060\tno recovery target specified\n';

/**
 * Timeline 1: segments 1-5 and 6.partial (promotion at 0/6000060), a `.backup` file; timeline 2: segments 6-12 and
 * its history. Backups base_…1/02 and base_…2/08. `drop` leaves segments out.
 */
export async function archive(s: Storage, opts: { drop?: string[]; crypter?: Crypter } = {}): Promise<void> {
  const names = [1, 2, 3, 4, 5].map((n) => w(1, n)).concat([6, 7, 8, 9, 10, 11, 12].map((n) => w(2, n)));
  for (const n of names) if (!opts.drop?.includes(n)) await putLz4(s, `wal_005/${n}`, Buffer.from(n), opts.crypter);
  await putLz4(s, `wal_005/${w(1, 6)}.partial`, Buffer.from('partial'), opts.crypter);
  await putLz4(s, `wal_005/${w(1, 2)}.00000028.backup`, Buffer.from('backup label'), opts.crypter);
  await putLz4(s, 'wal_005/00000002.history', Buffer.from(HISTORY_2), opts.crypter);
  await putBackup(s, `base_${w(1, 2)}`, '0/2000028', '0/2000138');
  await putBackup(s, `base_${w(2, 8)}`, '0/8000028', '0/9000100');
}
