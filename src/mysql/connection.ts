// The connection to the MySQL/MariaDB server named by WALG_MYSQL_DATASOURCE_NAME (mysql2, loaded lazily) and the
// few server facts WAL-G reads: version and flavour, server UUID, the executed GTID set, and where the binary logs
// and their index live. compat: an unreachable tcp host is retried on localhost, as WAL-G does.

import { readFile } from 'node:fs/promises';
import { ConfigError, WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import { connectOptions, parseDatasource, withHost } from './dsn.ts';
import type { MysqlConnectOptions, MysqlDatasource } from './dsn.ts';
import { parseGtidSet } from './binlog.ts';
import type { GtidSet } from './binlog.ts';

/** Connecting to or querying the database failed (bad DSN credentials, server gone, connection dropped). */
export class DatabaseError extends WalgError {
  override readonly code = 'DATABASE';
}

/** How to reach the server; the command reads these settings (WALG_MYSQL_DATASOURCE_NAME, WALG_MYSQL_SSL_CA). */
export interface MysqlConnectionSettings {
  /** The go-sql-driver DSN, `user:pass@tcp(host:port)/db`; connecting without it is a ConfigError. */
  datasourceName?: string;
  /** CA file for TLS (a DSN with its own `tls=` parameter is then a ConfigError). */
  sslCaFile?: string;
}

/** The two flavours WAL-G tells apart. */
export type MysqlFlavor = 'mysql' | 'mariadb';

interface Mysql2Connection {
  query(sql: string): Promise<[unknown, unknown]>;
  ping(): Promise<void>;
  end(): Promise<void>;
  destroy(): void;
  on(event: 'error', fn: (err: Error) => void): void;
}

/** An open session with the server. */
export class MysqlSession {
  private readonly conn: Mysql2Connection;
  private lost: Error | undefined;
  constructor(conn: Mysql2Connection) {
    this.conn = conn;
    // A connection dropped while idle reports here; keep it so the next call fails with the reason.
    conn.on('error', (err) => { this.lost = err; });
  }

  /** The first column of the first row of `sql` as a string ('' for NULL); DatabaseError on failure. */
  async scalar(sql: string): Promise<string> {
    if (this.lost) throw new DatabaseError(`lost connection to the database: ${describeError(this.lost)}`, { cause: this.lost });
    try {
      const [rows] = await this.conn.query(sql);
      const row = (rows as Array<Record<string, unknown>>)[0];
      if (!row) return '';
      const v = Object.values(row)[0];
      return v === null || v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    } catch (err) {
      throw new DatabaseError(`query '${sql}' failed: ${describeError(err)}`, { cause: err });
    }
  }

  /** Column `col` of the first row of `sql`. */
  async column(sql: string, col: number): Promise<string> {
    try {
      const [rows] = await this.conn.query(sql);
      const row = (rows as Array<Record<string, unknown>>)[0];
      const v = row ? Object.values(row)[col] : undefined;
      return v === null || v === undefined ? '' : String(v);
    } catch (err) {
      throw new DatabaseError(`query '${sql}' failed: ${describeError(err)}`, { cause: err });
    }
  }

  /** Fails with DatabaseError when the connection is no longer usable (used after a long stream). */
  async ping(): Promise<void> {
    if (this.lost) throw new DatabaseError(`lost connection to the database: ${describeError(this.lost)}`, { cause: this.lost });
    try { await this.conn.ping(); } catch (err) {
      throw new DatabaseError(`lost connection to the database: ${describeError(err)}`, { cause: err });
    }
  }

  /** @@version, e.g. "10.11.6-MariaDB-log". */
  version(): Promise<string> { return this.scalar('SELECT @@version'); }

  /** compat: MariaDB when the version string says so, MySQL (or Percona) otherwise. */
  async flavor(): Promise<MysqlFlavor> { return (await this.version()).includes('MariaDB') ? 'mariadb' : 'mysql'; }

  /** @@server_uuid on MySQL; '' on MariaDB, which has none. */
  async serverUuid(flavor: MysqlFlavor): Promise<string> { return flavor === 'mariadb' ? '' : this.scalar('SELECT @@server_uuid'); }

  /** The executed GTID set: @@global.gtid_executed (MySQL) or @@global.gtid_current_pos (MariaDB). */
  async gtidExecuted(flavor: MysqlFlavor): Promise<GtidSet> {
    const s = await this.scalar(flavor === 'mariadb' ? 'SELECT @@global.gtid_current_pos' : 'SELECT @@global.gtid_executed');
    return parseGtidSet(flavor, s);
  }

  /** Directory of the binary logs (dirname of log_bin_basename). */
  async binlogsFolder(): Promise<string> {
    const base = await this.column("SHOW VARIABLES LIKE 'log_bin_basename'", 1);
    if (!base) throw new DatabaseError('binary logging is not enabled on the server (log_bin_basename is empty)');
    return base.slice(0, Math.max(0, base.lastIndexOf('/'))) || '/';
  }

  /** Path of the binlog index file (@@log_bin_index). */
  async binlogIndexPath(): Promise<string> {
    const p = await this.scalar('SELECT @@log_bin_index');
    if (!p) throw new DatabaseError('binary logging is not enabled on the server (log_bin_index is empty)');
    return p;
  }

  async close(): Promise<void> {
    try { await this.conn.end(); } catch { this.conn.destroy(); }
  }
}

async function open(o: MysqlConnectOptions): Promise<Mysql2Connection> {
  const mysql = await import('mysql2/promise');
  const { tlsFallback, ...opts } = o;
  const connect = (options: Record<string, unknown>) => mysql.createConnection(options as never) as unknown as Promise<Mysql2Connection>;
  try {
    return await connect({ ...opts, supportBigNumbers: true, bigNumberStrings: true });
  } catch (err) {
    // tls=preferred: a server without TLS support gets a plain connection.
    if (tlsFallback && /ssl|tls/i.test(describeError(err))) return connect({ ...opts, ssl: undefined, supportBigNumbers: true, bigNumberStrings: true });
    throw err;
  }
}

/**
 * Connects with WALG_MYSQL_DATASOURCE_NAME (required) and WALG_MYSQL_SSL_CA. Throws ConfigError for a missing or
 * malformed setting and DatabaseError when the server cannot be reached or refuses the login.
 */
export async function connectMysql(settings: MysqlConnectionSettings): Promise<MysqlSession> {
  const raw = settings.datasourceName;
  if (raw === undefined) throw new ConfigError('WALG_MYSQL_DATASOURCE_NAME is required but not set');
  const dsn: MysqlDatasource = parseDatasource(raw);
  const caFile = settings.sslCaFile;
  let ca: string | undefined;
  if (caFile !== undefined) {
    try { ca = await readFile(caFile, 'utf8'); } catch (err) { throw new ConfigError(`cannot read WALG_MYSQL_SSL_CA '${caFile}': ${describeError(err)}`, { cause: err }); }
  }
  try {
    return new MysqlSession(await open(connectOptions(dsn, ca)));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const fallback = withHost(dsn, 'localhost');
    if (fallback) {
      // compat: WAL-G logs the failure and retries on localhost (as warnings here: the final error is the one line).
      log.warn(`${describeError(err)}; failed to connect using provided host, trying localhost`);
      try {
        return new MysqlSession(await open(connectOptions(fallback, ca)));
      } catch (err2) {
        throw new DatabaseError(`failed to connect to the database: ${describeError(err2)}`, { cause: err2 });
      }
    }
    throw new DatabaseError(`failed to connect to the database: ${describeError(err)}`, { cause: err });
  }
}
