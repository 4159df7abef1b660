// Throwaway PostgreSQL clusters (15 on Debian 12; whatever major test/helpers/pgbin.ts finds) for integration tests: initdb -k as an unprivileged OS user, a free port,
// a private socket dir, and helpers to run psql/pgbench/pg_dumpall and to stop and destroy the cluster.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, chownSync, writeFileSync, appendFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPgBin } from '../helpers/pgbin.ts';

const PG = findPgBin();
/** Directory of the server binaries (initdb, pg_ctl, psql, pgbench, ...), chosen by test/helpers/pgbin.ts. */
export const PG_BIN = PG.bin;
/** Major version of those binaries, when known. */
export const PG_MAJOR = PG.major;
/** OS user that owns test clusters when the tests run as root (initdb refuses root). */
export const PG_OS_USER = 'walgtest';

/** uid/gid to run server processes as: the test user when we are root, else ourselves. */
export function pgIdentity(): { uid: number; gid: number; home: string } {
  if (process.getuid?.() !== 0) return { uid: process.getuid!(), gid: process.getgid!(), home: process.env.HOME ?? tmpdir() };
  try {
    execFileSync('id', ['-u', PG_OS_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', PG_OS_USER], { stdio: 'ignore' });
  }
  const uid = Number(execFileSync('id', ['-u', PG_OS_USER]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', PG_OS_USER]).toString().trim());
  return { uid, gid, home: `/home/${PG_OS_USER}` };
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Makes a temp directory owned by the cluster user. */
export function userTempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  const id = pgIdentity();
  chownSync(d, id.uid, id.gid);
  return d;
}

export interface ExecResult { code: number; stdout: string; stderr: string }

/** Runs a command as the cluster user; rejects on non-zero exit unless allowFail. */
export function runAs(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; allowFail?: boolean; cwd?: string } = {}): Promise<ExecResult> {
  const id = pgIdentity();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      uid: id.uid, gid: id.gid, cwd: opts.cwd ?? tmpdir(),
      env: { PATH: `${PG_BIN}:${process.env.PATH}`, HOME: id.home, LC_ALL: 'C', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    // A quick command may exit before reading stdin; that EPIPE is not an error of the test.
    child.stdin.on('error', () => {});
    child.on('close', (code) => {
      const r = { code: code ?? -1, stdout, stderr };
      if (r.code !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${stderr.trim().slice(-2000)}`));
      else resolve(r);
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A running (or stopped) test cluster. */
export class PgCluster {
  readonly dataDir: string;
  readonly socketDir: string;
  readonly port: number;
  readonly baseDir: string;
  readonly logFile: string;

  constructor(baseDir: string, dataDir: string, port: number) {
    this.baseDir = baseDir;
    this.dataDir = dataDir;
    this.socketDir = join(baseDir, 'sock');
    this.port = port;
    this.logFile = join(baseDir, `pg-${port}.log`);
  }

  /** libpq environment that reaches this cluster. */
  get env(): Record<string, string> {
    return { PGHOST: this.socketDir, PGPORT: String(this.port), PGUSER: 'postgres', PGDATABASE: 'postgres' };
  }

  /** Appends settings to postgresql.conf (takes effect at next start or reload). */
  configure(settings: Record<string, string | number | boolean>): void {
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : v}`);
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `\n${lines.join('\n')}\n`);
  }

  async start(): Promise<void> {
    await runAs(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '120', '-o', `-p ${this.port} -k ${this.socketDir} -c listen_addresses=''`, 'start']);
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await runAs(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '120', 'stop'], { allowFail: true });
  }

  /** Runs SQL through psql (-At: unaligned, tuples only) and returns stdout. */
  async psql(sql: string, db = 'postgres'): Promise<string> {
    const r = await runAs(join(PG_BIN, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-d', db, '-c', sql], { env: this.env });
    return r.stdout.trim();
  }

  /** pg_dumpall output without the per-run \restrict key lines newer versions print. */
  async dumpAll(): Promise<string> {
    const r = await runAs(join(PG_BIN, 'pg_dumpall'), [], { env: this.env });
    return r.stdout.split('\n').filter((l) => !/^\\(un)?restrict /.test(l)).join('\n');
  }

  async pgbench(args: string[], db = 'postgres'): Promise<ExecResult> {
    return runAs(join(PG_BIN, 'pgbench'), [...args, db], { env: this.env });
  }

  /** Stops the server if running and removes every file of the cluster. */
  async destroy(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) await this.stop('immediate');
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** initdb -k a new cluster in a fresh temp dir (not started). `settings` go to postgresql.conf. */
export async function initCluster(settings: Record<string, string | number | boolean> = {}): Promise<PgCluster> {
  if (!existsSync(join(PG_BIN, 'initdb'))) throw new Error(`PostgreSQL server binaries not found in ${PG_BIN}: run 'make system-deps' (or set PG_BIN)`);
  const base = userTempDir('walg-pg-');
  const data = join(base, 'data');
  const id = pgIdentity();
  mkdirSync(join(base, 'sock'));
  chownSync(join(base, 'sock'), id.uid, id.gid);
  await runAs(join(PG_BIN, 'initdb'), ['-k', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'], { cwd: base });
  const c = new PgCluster(base, data, await freePort());
  c.configure({ fsync: 'off', shared_buffers: '64MB', max_wal_senders: 4, wal_level: 'replica', ...settings });
  return c;
}

/** A cluster made from an existing data directory (e.g. restored by backup-fetch), owned by the test user. */
export async function clusterFromDir(baseDir: string, dataDir: string): Promise<PgCluster> {
  const id = pgIdentity();
  mkdirSync(join(baseDir, 'sock'), { recursive: true });
  execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, baseDir]);
  return new PgCluster(baseDir, dataDir, await freePort());
}

/** Writes a file as the cluster user would (used for recovery.signal etc.). */
export function writeUserFile(path: string, text: string): void {
  writeFileSync(path, text);
  const id = pgIdentity();
  chownSync(path, id.uid, id.gid);
}
