// A primary storage holding backups A and B and a failover 'good_failover' holding B and C, written as plain files
// with fixed sentinel modification times (issue 22 item 1): shared by test/integration/backup-list-failover-cli.test.ts
// (expected texts from a run of WAL-G v3.0.9 on this very layout) and test/interop/behave-listing.test.ts.

import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv } from './cli.ts';
import { tempDir } from './tmp.ts';

/** Backup names: A in the primary only, B in both storages, C in the failover only. */
export const A = 'base_000000010000000000000002';
export const B = 'base_000000010000000000000004';
export const C = 'base_000000010000000000000006';

/** A backup as WAL-G reads it: sentinel (LastModified `modified`) and metadata.json, both starting at `start`. */
export function writeBackup(root: string, name: string, start: string, modified: string): void {
  const dir = join(root, 'basebackups_005');
  mkdirSync(join(dir, name), { recursive: true });
  const sentinel = join(dir, `${name}_backup_stop_sentinel.json`);
  writeFileSync(sentinel, JSON.stringify({
    LSN: 100, PgVersion: 150000, FinishLSN: 200, UncompressedSize: 1, CompressedSize: 1, ChkpNum: null, Version: 2,
    StartTime: start, FinishTime: start, DateFmt: 'x', Hostname: 'h', DataDir: '/d', IsPermanent: false,
  }));
  writeFileSync(join(dir, name, 'metadata.json'), JSON.stringify({
    start_time: start, finish_time: start, date_fmt: 'x', hostname: 'h', data_dir: '/d', pg_version: 150000,
    start_lsn: 100, finish_lsn: 200, is_permanent: false, system_identifier: null, uncompressed_size: 1, compressed_size: 1,
  }));
  const t = new Date(modified);
  utimesSync(sentinel, t, t);
}

/** The two storages in a fresh directory: the settings file naming both, and an environment with its own HOME. */
export function failoverListFixture(): { cfg: string; env: Record<string, string> } {
  const dir = tempDir('walg-list-failover-');
  const primary = join(dir, 'primary');
  const failover = join(dir, 'failover');
  writeBackup(primary, A, '2024-01-01T00:00:00Z', '2024-01-01T00:10:00Z');
  writeBackup(primary, B, '2024-01-01T01:00:00Z', '2024-01-01T01:10:00Z');
  // The failover's copy of B was written ten minutes after the primary's.
  writeBackup(failover, B, '2024-01-01T01:00:00Z', '2024-01-01T01:20:00Z');
  writeBackup(failover, C, '2024-01-01T02:00:00Z', '2024-01-01T02:10:00Z');
  const cfg = join(dir, 'walg.json');
  writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: primary, WALG_FAILOVER_STORAGES: { good_failover: { WALG_FILE_PREFIX: failover } } }));
  const home = join(dir, 'home');
  mkdirSync(home);
  return { cfg, env: baseEnv({ HOME: home }) };
}
