// One libpq-style PostgreSQL session (node-postgres, loaded lazily) for backup-push: server facts, and the
// non-exclusive backup start/stop calls of each PostgreSQL version, all on the same session (walg-format.md §5).
// compat: the SQL mirrors WAL-G's query_runner.go; every value that could overflow a JS number is cast to text.

import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { WalgError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import { parseLsn } from './lsn.ts';
import type { Lsn } from './lsn.ts';

/** A PostgreSQL connection or query failed. */
export class PostgresError extends WalgError {
  override readonly code = 'POSTGRES';
}

/** The server is too old, or reports something this tool cannot work with. */
export class UnsupportedPostgresError extends WalgError {
  override readonly code = 'POSTGRES_UNSUPPORTED';
}

/** Facts about the server, read before the backup starts. */
export interface PgServerInfo {
  /** server_version_num, e.g. 150004. */
  version: number;
  /** `show data_directory` as the server reports it. */
  dataDirectory: string;
  /** pg_control_system().system_identifier as uint64 (PostgreSQL exposes it as int8; negative values wrap). */
  systemIdentifier?: bigint;
  /** Timeline of the last checkpoint (pg_control_checkpoint().timeline_id). */
  timeline: number;
  /** bytes_per_wal_segment from pg_control_init(). */
  walSegmentBytes: number;
  inRecovery: boolean;
}

/** What the backup start statement returns. */
export interface StartBackupResult {
  /** WAL file name of the start LSN on a primary; '' on a standby (the caller computes it). */
  walFileName: string;
  lsn: Lsn;
  inRecovery: boolean;
}

/** What the backup stop statement returns: the backup_label and tablespace_map contents and the stop LSN. */
export interface StopBackupResult {
  labelFile: string;
  spcmapFile: string;
  lsn: Lsn;
  /**
   * Set when the stop did not wait for archiving: pg_walfile_name(stop lsn), the last segment the backup needs
   * (the caller waits for it and the backup history file, see archive-wait.ts).
   */
  lastWalFile?: string;
}

/**
 * The database side of backup-push, as an interface so the backup logic can be tested without a server.
 * All calls run on one session: a non-exclusive backup belongs to the session that started it.
 */
export interface BackupDatabase {
  serverInfo(): Promise<PgServerInfo>;
  /** Current checkpoint timeline (re-read after stop on a standby). */
  readTimeline(): Promise<number>;
  /** archive_mode and archive_command, for the warning WAL-G prints when archiving is off. */
  archiveSettings(): Promise<{ mode: string; command: string }>;
  /** The data_checksums setting ('on' or 'off'). */
  dataChecksums(): Promise<string>;
  /** A trivial query: rejects when the server or the connection is gone (WALG_ALIVE_CHECK_INTERVAL). */
  ping(): Promise<void>;
  startBackup(label: string): Promise<StartBackupResult>;
  /**
   * Stops the backup; `timeoutMs` sets statement_timeout for the call (0 or undefined = none). With
   * `waitForArchive` false (only on a primary, PostgreSQL 10+) the server does not wait for the WAL to be archived
   * and the result carries lastWalFile; on 9.6, which always waits, lastWalFile stays unset.
   */
  stopBackup(timeoutMs?: number, waitForArchive?: boolean): Promise<StopBackupResult>;
  close(): Promise<void>;
}

/**
 * compat: WAL-G's BuildStartBackup. Non-exclusive start with a fast checkpoint; one statement that also returns
 * the start WAL file name (empty in recovery, where pg_walfile_name_offset is not allowed), the LSN as text and
 * pg_is_in_recovery(). Versions before 9.6 have no non-exclusive mode and are refused.
 */
export function startBackupQuery(version: number): string {
  const tail = (fn: string, call: string) =>
    `SELECT case when pg_catalog.pg_is_in_recovery() then '' else (pg_catalog.${fn}(lsn)).file_name end, ` +
    `lsn::text, pg_catalog.pg_is_in_recovery() FROM pg_catalog.${call} lsn`;
  if (version >= 150000) return tail('pg_walfile_name_offset', 'pg_backup_start($1, true)');
  if (version >= 100000) return tail('pg_walfile_name_offset', 'pg_start_backup($1, true, false)');
  if (version >= 90600) return tail('pg_xlogfile_name_offset', 'pg_start_backup($1, true, false)');
  throw new UnsupportedPostgresError(`PostgreSQL ${formatVersion(version)} is not supported: backup-push needs 9.6 or later (non-exclusive backups)`);
}

/**
 * The matching non-exclusive stop. By default it waits until the last WAL segment is archived (so archive_command
 * must work). PG 15+: pg_backup_stop(); 10–14: pg_stop_backup(false, true) (explicit wait_for_archive); 9.6:
 * pg_stop_backup(false), which always waits. With `waitForArchive` false (10+, primary only: pg_walfile_name is
 * not allowed in recovery) the server returns at once and the row also names the stop LSN's WAL file.
 */
export function stopBackupQuery(version: number, waitForArchive = true): string {
  const noWait = !waitForArchive && version >= 100000;
  const cols = `labelfile, spcmapfile, lsn::text${noWait ? ', pg_catalog.pg_walfile_name(lsn) AS walfile' : ''}`;
  if (version >= 150000) return `SELECT ${cols} FROM pg_catalog.pg_backup_stop(${noWait ? 'false' : ''})`;
  if (version >= 100000) return `SELECT ${cols} FROM pg_catalog.pg_stop_backup(false, ${noWait ? 'false' : 'true'})`;
  if (version >= 90600) return `SELECT ${cols} FROM pg_catalog.pg_stop_backup(false)`;
  throw new UnsupportedPostgresError(`PostgreSQL ${formatVersion(version)} is not supported: backup-push needs 9.6 or later (non-exclusive backups)`);
}

/** "15.4" / "9.6.24" from server_version_num. */
export function formatVersion(num: number): string {
  if (num >= 100000) return `${Math.floor(num / 10000)}.${num % 10000}`;
  return `${Math.floor(num / 10000)}.${Math.floor(num / 100) % 100}.${num % 100}`;
}

/** int8 text as uint64 (two's-complement wrap of negative values, as WAL-G does). */
export function uint64FromInt8Text(s: string): bigint {
  const v = BigInt(s);
  return v < 0n ? v + (1n << 64n) : v;
}

/** Connection settings resolved from PG* variables, libpq-style. */
export interface PgConnectSettings {
  host: string;
  port: number;
  user?: string;
  database?: string;
  password?: string;
  applicationName: string;
  ssl?: boolean | { rejectUnauthorized: boolean; ca?: string; cert?: string; key?: string };
}

/**
 * Resolves PGHOST (a host name or a socket directory; with a list the first entry is used), PGPORT, PGUSER,
 * PGDATABASE, PGPASSWORD, PGAPPNAME (default 'wal-g', as WAL-G) and PGSSLMODE/PGSSLROOTCERT/PGSSLCERT/PGSSLKEY.
 * PGPASSFILE is honoured by node-postgres itself. Without PGHOST the usual socket directories are tried first.
 */
export function connectSettings(env: NodeJS.ProcessEnv = process.env): PgConnectSettings {
  const port = Number.parseInt(env.PGPORT ?? '5432', 10) || 5432;
  let host = (env.PGHOST ?? '').split(',')[0]!.trim();
  if (!host) {
    host = ['/var/run/postgresql', '/tmp'].find((d) => existsSync(`${d}/.s.PGSQL.${port}`)) ?? 'localhost';
  }
  const mode = (env.PGSSLMODE ?? '').toLowerCase();
  let ssl: PgConnectSettings['ssl'];
  const read = (p?: string) => (p && existsSync(p) ? readFileSync(p, 'utf8') : undefined);
  if (mode === 'require' || mode === 'verify-ca' || mode === 'verify-full') {
    ssl = {
      rejectUnauthorized: mode !== 'require',
      ca: read(env.PGSSLROOTCERT), cert: read(env.PGSSLCERT), key: read(env.PGSSLKEY),
    };
  } else if (mode === 'prefer' || mode === 'allow') {
    ssl = false; // node-postgres cannot fall back; a plain connection is what 'allow' tries first
  }
  return {
    host, port,
    user: env.PGUSER || undefined,
    database: env.PGDATABASE || undefined,
    password: env.PGPASSWORD || undefined,
    applicationName: env.PGAPPNAME || 'wal-g',
    ssl,
  };
}

interface PgClientLike {
  connect(): Promise<void>;
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'error', fn: (err: Error) => void): void;
}

/** A BackupDatabase over one node-postgres client. Create with connectPostgres(). */
class PgBackupDatabase implements BackupDatabase {
  private readonly client: PgClientLike;
  private version = 0;
  private lostError: Error | undefined;

  constructor(client: PgClientLike) {
    this.client = client;
    // A dropped connection must not crash the process: remember it and fail the next query with it.
    client.on('error', (err) => { this.lostError = err; log.warn(`PostgreSQL connection error: ${err.message}`); });
  }

  private async rows(sql: string, values?: unknown[], what = 'query'): Promise<Record<string, unknown>[]> {
    if (this.lostError) throw new PostgresError(`${what}: connection lost: ${this.lostError.message}`, { cause: this.lostError });
    try {
      return (await this.client.query(sql, values)).rows;
    } catch (err) {
      throw new PostgresError(`${what} failed: ${pgxText(err)}`, { cause: err });
    }
  }

  private async one(sql: string, values?: unknown[], what = 'query'): Promise<Record<string, unknown>> {
    const r = await this.rows(sql, values, what);
    if (!r[0]) throw new PostgresError(`${what}: no row returned`);
    return r[0];
  }

  async serverInfo(): Promise<PgServerInfo> {
    const v = await this.one("select current_setting('server_version_num') as v", undefined, 'GetVersion');
    this.version = Number(v.v);
    if (this.version < 90600) {
      throw new UnsupportedPostgresError(`PostgreSQL ${formatVersion(this.version)} is not supported: backup-push needs 9.6 or later`);
    }
    const dd = await this.one('show data_directory', undefined, 'GetDataDir');
    let systemIdentifier: bigint | undefined;
    try {
      const s = await this.one('select system_identifier::text as s from pg_catalog.pg_control_system()', undefined, 'System Identifier');
      systemIdentifier = uint64FromInt8Text(String(s.s));
    } catch (err) {
      log.warn(`Couldn't get system identifier because of error: '${(err as Error).message}'`);
    }
    const t = await this.timelineRow();
    const rec = await this.one('select pg_catalog.pg_is_in_recovery() as r', undefined, 'IsStandby');
    return {
      version: this.version,
      dataDirectory: String(dd.data_directory),
      systemIdentifier,
      timeline: t.timeline,
      walSegmentBytes: t.segment,
      inRecovery: rec.r === true,
    };
  }

  private async timelineRow(): Promise<{ timeline: number; segment: number }> {
    const r = await this.one(
      'select timeline_id::text as t, bytes_per_wal_segment::text as b from pg_catalog.pg_control_checkpoint(), pg_catalog.pg_control_init()',
      undefined, 'ReadTimeline');
    return { timeline: Number(r.t), segment: Number(r.b) };
  }

  async readTimeline(): Promise<number> {
    return (await this.timelineRow()).timeline;
  }

  async archiveSettings(): Promise<{ mode: string; command: string }> {
    const q = 'select setting from pg_catalog.pg_settings where name OPERATOR(pg_catalog.=) $1';
    const mode = await this.rows(q, ['archive_mode'], 'GetArchiveMode');
    const cmd = await this.rows(q, ['archive_command'], 'GetArchiveCommand');
    return { mode: String(mode[0]?.setting ?? ''), command: String(cmd[0]?.setting ?? '') };
  }

  async ping(): Promise<void> {
    await this.rows('SELECT 1', [], 'PG alive check');
  }

  async dataChecksums(): Promise<string> {
    const r = await this.rows('SHOW data_checksums', [], 'GetDataChecksums');
    return String(r[0]?.data_checksums ?? '');
  }

  async startBackup(label: string): Promise<StartBackupResult> {
    if (!this.version) await this.serverInfo();
    log.info('Calling pg_start_backup()');
    const r = await this.rows(startBackupQuery(this.version), [label], 'QueryRunner StartBackup: pg_start_backup()');
    const row = r[0];
    if (!row) throw new PostgresError('QueryRunner StartBackup: no row returned');
    const [name, lsn, rec] = Object.values(row);
    return { walFileName: String(name ?? ''), lsn: parseLsn(String(lsn)), inRecovery: rec === true };
  }

  async stopBackup(timeoutMs?: number, waitForArchive = true): Promise<StopBackupResult> {
    log.info('Calling pg_stop_backup()');
    // compat: inside a transaction with statement_timeout = WALG_STOP_BACKUP_TIMEOUT (0 = no limit).
    await this.rows('BEGIN', undefined, 'QueryRunner StopBackup: transaction begin');
    try {
      await this.rows(`SET LOCAL statement_timeout = ${Math.max(0, Math.floor(timeoutMs ?? 0))}`, undefined, 'QueryRunner StopBackup: statement timeout');
      const row = await this.one(stopBackupQuery(this.version, waitForArchive), undefined, 'QueryRunner StopBackup: stop backup');
      await this.rows('COMMIT', undefined, 'QueryRunner StopBackup: commit');
      const lastWalFile = typeof row.walfile === 'string' && row.walfile !== '' ? row.walfile : undefined;
      return { labelFile: String(row.labelfile ?? ''), spcmapFile: String(row.spcmapfile ?? ''), lsn: parseLsn(String(row.lsn)), lastWalFile };
    } catch (err) {
      await this.client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}

/** compat: a server error as pgx (WAL-G) prints it, `ERROR: <message> (SQLSTATE <code>)`; other errors as they are. */
function pgxText(err: unknown): string {
  const e = err as { message?: string; severity?: string; code?: string };
  if (typeof e.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return `${e.severity}: ${e.message} (SQLSTATE ${e.code})`;
  return (err as Error).message;
}

/**
 * compat: pgx's (WAL-G's) text of a failed connection, `Connect: postgres connection failed: failed to connect to
 * \`user=<u> database=<d>\`: `, then where we tried and why.
 */
export function connectFailureText(s: PgConnectSettings, err: unknown): string {
  let user = s.user;
  if (!user) try { user = userInfo().username; } catch { user = ''; }
  const where = s.host.startsWith('/') ? `${s.host}/.s.PGSQL.${s.port}` : `${s.host}:${s.port}`;
  return `Connect: postgres connection failed: failed to connect to \`user=${user} database=${s.database ?? ''}\`: ${where}: ${(err as Error).message}`;
}

/**
 * Opens one session to the server described by the PG* environment (see connectSettings). node-postgres is
 * imported here, on first use, so commands that never talk to PostgreSQL do not pay for loading it.
 * Throws PostgresError when the connection fails.
 */
export async function connectPostgres(env: NodeJS.ProcessEnv = process.env): Promise<BackupDatabase> {
  const s = connectSettings(env);
  const pg = (await import('pg')).default;
  const client = new pg.Client({
    host: s.host, port: s.port, user: s.user, database: s.database, password: s.password,
    application_name: s.applicationName, ssl: s.ssl,
  }) as unknown as PgClientLike;
  try {
    await client.connect();
  } catch (err) {
    throw new PostgresError(connectFailureText(s, err), { cause: err });
  }
  log.debug(`Connected to PostgreSQL at ${s.host}:${s.port}`);
  return new PgBackupDatabase(client);
}
