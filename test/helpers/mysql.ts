// Shared by the MySQL integration tests: the wal-g environment for a private MariaDB and file storage, the
// mariabackup / mysqldump commands, and small wrappers around `wal-g mysql ...`.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { LOG_LINE, baseEnv, walg } from './cli.ts';
import type { RunResult } from './cli.ts';
import type { MariaDb } from '../servers/mariadb.ts';

/** A fresh temp dir (owned by the test process). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Environment for `wal-g mysql` against `db`, storing into `store`, with its own HOME (binlog cache). */
export function mysqlEnv(db: MariaDb, store: string, home: string, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    HOME: home,
    WALG_FILE_PREFIX: store,
    WALG_MYSQL_DATASOURCE_NAME: db.dsn,
    WALG_COMPRESSION_METHOD: 'lz4',
    ...extra,
  });
}

/** mariabackup streaming the server's datadir as xbstream. */
export function mariabackupCommand(db: MariaDb, scratch: string): string {
  return `mariabackup --backup --stream=xbstream --datadir=${db.dataDir} --socket=${db.socket} --user=root --target-dir=${scratch}`;
}

/** mysqldump of every database, consistent snapshot, with the binlog position as a comment. */
export function mysqldumpCommand(db: MariaDb): string {
  return `mysqldump --no-defaults --socket=${db.socket} --user=root --all-databases --single-transaction --master-data=2`;
}

/** Runs `wal-g mysql <args>` and asserts success, returning the result. */
export async function walgOk(args: string[], env: Record<string, string>, input?: Buffer): Promise<RunResult> {
  const r = await walg(['mysql', ...args], env, input);
  assert.equal(r.code, 0, `wal-g mysql ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/** Backup names listed by backup-list, oldest first. */
export async function listedBackups(env: Record<string, string>): Promise<string[]> {
  const r = await walgOk(['backup-list', '--json'], env);
  return (JSON.parse(r.stdout.toString()) as Array<{ backup_name: string }>).map((b) => b.backup_name);
}

/** Asserts WAL-G's failure shape: non-zero exit, every stderr line a WAL-G log line, exactly one ERROR line. */
export function assertOneLineFailure(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure, got exit 0:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  for (const l of lines) assert.match(l, LOG_LINE, `not a WAL-G log line: ${l}`);
  const errors = lines.filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors.length, 1, `expected exactly one ERROR line:\n${r.stderr}`);
  assert.match(errors[0]!, pattern);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Writes the binlog replay command for a restored MariaDB to `path` and returns it (`sh path`). MariaDB does not
 * skip transactions it already has (WAL-G documents position-based replay for it): the binlog named in
 * xtrabackup_binlog_info is replayed from the backup's position, older ones are skipped, newer ones replayed whole.
 * With `stopAtEndTs`, mysqlbinlog stops at WALG_MYSQL_BINLOG_END_TS (binlog-replay --until).
 */
export function binlogReplayScript(db: MariaDb, path: string, opts: { stopAtEndTs: boolean }): string {
  const stop = opts.stopAtEndTs ? ' --stop-datetime="$WALG_MYSQL_BINLOG_END_TS"' : '';
  writeFileSync(path, [
    'set -e',
    `read -r FILE POS GTID < '${join(db.dataDir, 'xtrabackup_binlog_info')}'`,
    'num() { echo "${1##*.}" | sed "s/^0*//"; }',
    'CUR=$(basename "$WALG_MYSQL_CURRENT_BINLOG")',
    'if [ "$(num "$CUR")" -lt "$(num "$FILE")" ]; then exit 0; fi',
    'START=""; if [ "$CUR" = "$FILE" ]; then START="--start-position=$POS"; fi',
    `mysqlbinlog --no-defaults $START${stop} "$WALG_MYSQL_CURRENT_BINLOG" | mariadb ${db.clientArgs.join(' ')}`,
    '',
  ].join('\n'));
  return `sh ${path}`;
}
