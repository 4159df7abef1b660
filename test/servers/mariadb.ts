// Throwaway MariaDB servers for integration tests: mariadb-install-db into a temp datadir as the unprivileged test
// user, mariadbd on a free loopback port and a private socket with log-bin, server-id and binlog_format=ROW, and
// helpers to run SQL, checksum tables and stop the server (also from a failing test's cleanup). Never touches the
// machine's shared MariaDB on 3306.

import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, pgIdentity, runAs, userTempDir } from './postgres.ts';
import type { ExecResult } from './postgres.ts';

export const MARIADBD = '/usr/sbin/mariadbd';
/** The SQL user wal-g connects as over TCP (WALG_MYSQL_DATASOURCE_NAME). */
export const WALG_USER = 'walg';
export const WALG_PASSWORD = 'walg-secret';

/** A MariaDB server owned by the test. */
export class MariaDb {
  readonly baseDir: string;
  readonly dataDir: string;
  readonly socket: string;
  readonly port: number;
  readonly logFile: string;
  /** The server's own tmpdir (temp tables, filesort), inside baseDir. */
  readonly tmpDir: string;
  /** Base name of the binlogs (`<binlogBase>.000001` ...). */
  readonly binlogBase: string;
  private proc: ChildProcess | undefined;

  constructor(baseDir: string, port: number, binlogBase = 'mysql-bin') {
    this.baseDir = baseDir;
    this.binlogBase = binlogBase;
    this.dataDir = join(baseDir, 'data');
    this.socket = join(baseDir, 'mysqld.sock');
    this.port = port;
    this.logFile = join(baseDir, 'error.log');
    this.tmpDir = join(baseDir, 'tmp');
    mkdirSync(this.tmpDir, { recursive: true });
    const id = pgIdentity();
    chownSync(this.tmpDir, id.uid, id.gid);
  }

  /** DSN for wal-g (go-sql-driver format). */
  get dsn(): string { return `${WALG_USER}:${WALG_PASSWORD}@tcp(127.0.0.1:${this.port})/`; }

  /** Client options that reach this server as root over the private socket. */
  get clientArgs(): string[] { return ['--no-defaults', `--socket=${this.socket}`, '--user=root']; }

  /** Server options (also what mariabackup --prepare needs to know nothing about). */
  private serverArgs(): string[] {
    return [
      '--no-defaults', `--datadir=${this.dataDir}`, `--socket=${this.socket}`, `--port=${this.port}`,
      '--bind-address=127.0.0.1', `--log-bin=${join(this.dataDir, this.binlogBase)}`, '--server-id=1', '--binlog-format=ROW',
      `--pid-file=${join(this.baseDir, 'mysqld.pid')}`, `--log-error=${this.logFile}`, '--skip-name-resolve',
      '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M', '--max-connections=50',
      `--tmpdir=${this.tmpDir}`,
    ];
  }

  /** Starts mariadbd and waits until it accepts connections. */
  async start(): Promise<void> {
    const id = pgIdentity();
    execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, this.baseDir]);
    this.proc = spawn(MARIADBD, this.serverArgs(), { uid: id.uid, gid: id.gid, stdio: 'ignore', cwd: this.baseDir });
    const exited = new Promise<number>((r) => this.proc!.once('exit', (c) => r(c ?? -1)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await runAs('mariadb-admin', [...this.clientArgs, 'ping'], { allowFail: true });
      if (r.code === 0) return;
      const early = await Promise.race([exited, new Promise<undefined>((res) => { setTimeout(() => res(undefined), 200); })]);
      if (early !== undefined || Date.now() > deadline) {
        const log = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(-2000) : '';
        throw new Error(`mariadbd did not start (exit ${early}): ${log}`);
      }
    }
  }

  /** Stops the server (SIGTERM, then SIGKILL after 30 s) and waits for it to exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(t);
  }

  /** Kills the server at once (no shutdown). */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
  }

  /** Runs SQL through the mariadb client (batch, no column names) and returns stdout trimmed. */
  async sql(sql: string, db?: string): Promise<string> {
    const r = await runAs('mariadb', [...this.clientArgs, '-N', '-B', ...(db ? [db] : []), '-e', sql]);
    return r.stdout.trim();
  }

  /** Runs the client with stdin (e.g. a dump). */
  async client(input: string): Promise<ExecResult> {
    return runAs('mariadb', this.clientArgs, { input });
  }

  /** CHECKSUM TABLE of each table, as "db.table <checksum>" lines, sorted. */
  async checksums(tables: readonly string[]): Promise<string> {
    const out = await this.sql(`CHECKSUM TABLE ${tables.join(', ')} EXTENDED`);
    return out.split('\n').sort().join('\n');
  }

  /** Creates the TCP user wal-g connects with (all privileges: it reads variables and binlog positions). */
  async createWalgUser(): Promise<void> {
    await this.sql(`CREATE USER IF NOT EXISTS '${WALG_USER}'@'127.0.0.1' IDENTIFIED BY '${WALG_PASSWORD}'; `
      + `GRANT ALL PRIVILEGES ON *.* TO '${WALG_USER}'@'127.0.0.1'`);
  }

  /** Stops the server and removes every file. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => {});
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/**
 * Initialises a datadir in a fresh temp dir (not started). `binlogBase` names the binlogs (default mysql-bin); a
 * name of its own keeps WAL-G's binlog cache (in the passwd home, whatever HOME says) from skipping this server's.
 */
export async function initMariaDb(opts: { binlogBase?: string } = {}): Promise<MariaDb> {
  if (!existsSync(MARIADBD)) throw new Error(`${MARIADBD} not found (apt-get install mariadb-server)`);
  const base = userTempDir('walg-mariadb-');
  const db = new MariaDb(base, await freePort(), opts.binlogBase);
  // A private tmpdir: with the shared /tmp, a parallel test's cleanup once removed install-db's temp table under it.
  await runAs('mariadb-install-db', ['--no-defaults', `--datadir=${db.dataDir}`, `--tmpdir=${db.tmpDir}`,
    '--auth-root-authentication-method=normal', '--skip-test-db'], { cwd: base });
  return db;
}

/** A server for an existing (restored) datadir: a fresh base dir around it, owned by the test user, new port. */
export async function mariaDbFromDir(dataDir: string): Promise<MariaDb> {
  const base = userTempDir('walg-mariadb-');
  const db = new MariaDb(base, await freePort());
  execFileSync('mv', [dataDir, db.dataDir]);
  const id = pgIdentity();
  execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, base]);
  return db;
}

/** An empty directory owned by the test user (e.g. a restore target). */
export function mariaDbTempDir(prefix: string): string {
  const d = userTempDir(prefix);
  mkdirSync(join(d, 'x'), { recursive: true });
  rmSync(join(d, 'x'), { recursive: true });
  const id = pgIdentity();
  chownSync(d, id.uid, id.gid);
  return d;
}
