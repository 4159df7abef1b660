// The audited list of error and warning texts that alerting and runbooks grep (issue 22 item 2, docs/compat.md
// "Error texts"): for each condition both tools detect, how to bring it about on a copy of the storage recorded
// from WAL-G v3.0.9 (test/fixtures/walg-3.0.9/pg) or on a PostgreSQL cluster, and WAL-G's text. Shared by
// test/integration/behave-errors-cli.test.ts (ours, every `make test`) and test/interop/behave-errors.test.ts (the
// same conditions against the reference, which must print the same text).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, baseEnv, runBin } from './cli.ts';
import type { RunResult } from './cli.ts';
import { initCluster, pgIdentity, userTempDir } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';

const FIXTURE = join(ROOT, 'test/fixtures/walg-3.0.9');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'fixture.json'), 'utf8')) as {
  pg: { settings: Record<string, string>; backups: string[] };
  mtimes: Record<string, string>;
};

/** The recorded full backup and its delta. */
export const [FULL, DELTA] = manifest.pg.backups as [string, string];
/** The settings the recorded storage was written with (lz4, libsodium test key). */
export const FIXTURE_SETTINGS: Readonly<Record<string, string>> = manifest.pg.settings;
/** A libsodium key that is not the fixture's. */
export const WRONG_KEY = '7465737420746573742074657374206b657920666f722077616c2d6720332e31';
const MISSING = 'base_000000010000000000000002';

/** One line of our (and WAL-G's) log format, split. */
export interface LogLine { level: string; message: string }

/** Every log line of `stderr` (`LEVEL: yyyy/mm/dd hh:mm:ss.micro message`). */
export function logLines(stderr: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of stderr.split('\n')) {
    const m = /^(INFO|WARNING|ERROR|DEBUG): \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} (.*)$/.exec(l);
    if (m) out.push({ level: m[1]!, message: m[2]! });
  }
  return out;
}

/** Where a storage case runs: a fresh copy of the recorded storage and a scratch directory. */
export interface StoreCtx { store: string; work: string; bin: string }

/** A condition on a storage only (no server). */
export interface StoreCase {
  id: string;
  /** The condition, as docs/compat.md lists it. */
  what: string;
  args: (c: StoreCtx) => string[];
  env?: (c: StoreCtx) => Record<string, string>;
  /** Prepares the copy (may run the tool under test, `c.bin`). */
  prep?: (c: StoreCtx) => Promise<void> | void;
  level: 'ERROR' | 'WARNING' | 'INFO';
  /** WAL-G's text: matched against the message of the last line of `level`. */
  text: RegExp;
  code: number;
}

const sentinel = (c: StoreCtx, name: string) => join(c.store, 'basebackups_005', `${name}_backup_stop_sentinel.json`);
const run = (c: StoreCtx, args: string[], env: Record<string, string> = {}) => runBin(c.bin, args, storeEnv(c, env));

/** The environment of a storage case: the recorded settings on the copy, plus `extra`. */
export function storeEnv(c: StoreCtx, extra: Record<string, string> = {}): Record<string, string> {
  const env = baseEnv({ WALG_FILE_PREFIX: c.store, ...FIXTURE_SETTINGS, ...extra });
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k]; // '' = unset
  return env;
}

/** A file under `<work>/pg_wal` named like the recorded segment 0A (1 MiB segments) but with other bytes. */
function otherSegment(c: StoreCtx): string {
  mkdirSync(join(c.work, 'pg_wal', 'archive_status'), { recursive: true });
  const p = join(c.work, 'pg_wal', '00000001000000000000000A');
  writeFileSync(p, Buffer.alloc(1 << 20, 7));
  return p;
}

/** Storage conditions, in the order of docs/compat.md. */
export const STORE_CASES: readonly StoreCase[] = [
  { id: 'no-storage', what: 'no storage configured', args: () => ['backup-list'], env: () => ({ WALG_FILE_PREFIX: '' }),
    level: 'ERROR', text: /^Failed to find any configured storage/, code: 1 },
  { id: 'unknown-target-storage', what: '--target-storage names no configured storage', args: () => ['backup-list', '--target-storage', 'nope'],
    level: 'ERROR', text: /^select storage "nope" in multistorage folder: unknown storage "nope"$/, code: 1 },
  { id: 'unknown-failover-storage', what: '--target-storage names no configured storage (failover storages set)',
    args: () => ['backup-list', '--target-storage', 'nope'], env: (c) => ({ WALG_FAILOVER_STORAGES: JSON.stringify({ good: { WALG_FILE_PREFIX: c.store } }) }),
    level: 'ERROR', text: /^select storage "nope" in multistorage folder: read status cache: unknown storage "nope"$/, code: 1 },
  { id: 'list-empty', what: 'backup-list, no backups', args: () => ['backup-list'], prep: (c) => { rmSync(join(c.store, 'basebackups_005'), { recursive: true }); },
    level: 'INFO', text: /^No backups found$/, code: 0 },
  { id: 'fetch-latest-empty', what: 'backup-fetch LATEST, no backups', args: (c) => ['backup-fetch', join(c.work, 'out'), 'LATEST'],
    prep: (c) => { rmSync(join(c.store, 'basebackups_005'), { recursive: true }); },
    level: 'ERROR', text: /^Failed to select backup: No backups found$/, code: 1 },
  { id: 'fetch-missing', what: 'backup-fetch of a backup that does not exist', args: (c) => ['backup-fetch', join(c.work, 'out'), MISSING],
    level: 'ERROR', text: new RegExp(`^Failed to select backup: Backup '${MISSING}' does not exist\\.$`), code: 1 },
  { id: 'fetch-parent-missing', what: 'backup-fetch of a delta whose parent is gone', args: (c) => ['backup-fetch', join(c.work, 'out'), DELTA],
    prep: (c) => { rmSync(sentinel(c, FULL)); },
    level: 'ERROR', text: new RegExp(`^Failed to fetch backup: object '${FULL}_backup_stop_sentinel\\.json' not found in storage`), code: 1 },
  { id: 'fetch-not-empty', what: 'backup-fetch into a directory that is not empty', args: (c) => ['backup-fetch', c.work, 'LATEST'],
    prep: (c) => { writeFileSync(join(c.work, 'something'), 'x'); },
    level: 'ERROR', text: /^Failed to fetch backup: Directory .* for delta base must be empty$/, code: 1 },
  { id: 'wal-fetch-missing', what: 'wal-fetch of a WAL file that is not archived', args: (c) => ['wal-fetch', '000000010000000000000099', join(c.work, 'x')],
    level: 'ERROR', text: /^Archive '000000010000000000000099' does not exist\.$/, code: 74 },
  { id: 'wal-push-overwrite', what: 'wal-push of a different file under an archived name (WALG_PREVENT_WAL_OVERWRITE)',
    args: (c) => ['wal-push', join(c.work, 'pg_wal', '00000001000000000000000A')], env: () => ({ WALG_PREVENT_WAL_OVERWRITE: 'true' }),
    prep: (c) => { otherSegment(c); },
    level: 'ERROR', text: /^WAL file '.*\/pg_wal\/00000001000000000000000A' already archived, contents differ, unable to overwrite$/, code: 1 },
  { id: 'delete-before-incremental', what: 'delete before an incremental backup (no FIND_FULL)', args: () => ['delete', 'before', DELTA, '--confirm'],
    level: 'ERROR', text: new RegExp(`^${DELTA}_backup_stop_sentinel\\.json is incremental and it's predecessors cannot be deleted\\. Consider FIND_FULL option\\.$`), code: 1 },
  { id: 'delete-before-missing', what: 'delete before a backup that does not exist', args: () => ['delete', 'before', MISSING, '--confirm'],
    level: 'ERROR', text: /^not found/, code: 1 },
  { id: 'delete-target-missing', what: 'delete target of a backup that does not exist', args: () => ['delete', 'target', MISSING, '--confirm'],
    level: 'ERROR', text: new RegExp(`^Backup '${MISSING}' does not exist\\.$`), code: 1 },
  { id: 'mark-missing', what: 'backup-mark of a backup that does not exist', args: () => ['backup-mark', MISSING],
    level: 'ERROR', text: new RegExp(`^Failed to get previous backups: object '.*basebackups_005/${MISSING}/metadata\\.json' not found in storage$`), code: 1 },
  { id: 'mark-impermanent-refused', what: 'backup-mark -i of a backup a permanent delta depends on', args: () => ['backup-mark', '-i', FULL],
    prep: async (c) => { assert.equal((await run(c, ['backup-mark', DELTA])).code, 0, 'backup-mark of the delta'); },
    level: 'ERROR', text: new RegExp(`^Failed to get previous backups: Can't mark backup '${FULL}' as impermanent\\. There is permanent increment backup that depends on this backup\\.$`), code: 1 },
  { id: 'mark-already', what: 'backup-mark -i of a backup that is not permanent', args: () => ['backup-mark', '-i', FULL],
    level: 'WARNING', text: new RegExp(`^Backup ${FULL} is already marked as impermanent, ignoring\\.\\.\\.$`), code: 0 },
  { id: 'st-get-missing', what: 'st get of an object that does not exist', args: (c) => ['st', 'get', 'nope', join(c.work, 'x')],
    level: 'ERROR', text: /^download the file: object '.*nope' not found in storage/, code: 1 },
  { id: 'wal-fetch-wrong-key', what: 'wal-fetch with the wrong libsodium key', args: (c) => ['wal-fetch', '00000001000000000000000A', join(c.work, 'x')],
    env: () => ({ WALG_LIBSODIUM_KEY: WRONG_KEY }), level: 'ERROR', text: /^corrupted chunk/, code: 1 },
  { id: 'st-get-wrong-key', what: 'st get with the wrong libsodium key', args: (c) => ['st', 'get', 'wal_005/00000001000000000000000A.lz4', join(c.work, 'x')],
    env: () => ({ WALG_LIBSODIUM_KEY: WRONG_KEY }), level: 'ERROR', text: /^download the file: corrupted chunk/, code: 1 },
  { id: 'wal-fetch-no-key', what: 'wal-fetch of encrypted WAL without a key', args: (c) => ['wal-fetch', '00000001000000000000000A', join(c.work, 'x')],
    env: () => ({ WALG_LIBSODIUM_KEY: '', WALG_LIBSODIUM_KEY_TRANSFORM: '' }), level: 'ERROR', text: /^lz4: bad magic number/, code: 1 },
  { id: 'key-length', what: 'a libsodium key that is not 32 bytes', args: (c) => ['wal-fetch', '00000001000000000000000A', join(c.work, 'x')],
    env: () => ({ WALG_LIBSODIUM_KEY: 'abcd' }), level: 'ERROR', text: /libsodium Crypter: during key transform: key must be exactly 32 bytes \(got 2 bytes/, code: 1 },
  { id: 'pg-connect-refused', what: 'PostgreSQL not reachable (wal-verify)', args: () => ['wal-verify', 'integrity'],
    env: () => ({ PGHOST: '127.0.0.1', PGPORT: '1' }), level: 'ERROR',
    text: /^Failed to establish a connection to Postgres cluster Connect: postgres connection failed: failed to connect to `user=\S* database=\S*`:/, code: 1 },
  { id: 'libsodium-key-path-missing', what: 'WALG_LIBSODIUM_KEY_PATH names no file', args: (c) => ['wal-fetch', '00000001000000000000000A', join(c.work, 'x')],
    env: () => ({ WALG_LIBSODIUM_KEY: '', WALG_LIBSODIUM_KEY_PATH: '/nonexistent/walg.key' }), level: 'ERROR',
    text: /libsodium Crypter: unable to read key from file: open \/nonexistent\/walg\.key: no such file or directory/, code: 1 },
  { id: 'pgp-key-path-missing', what: 'WALG_PGP_KEY_PATH names no file', args: (c) => ['wal-fetch', '00000001000000000000000A', join(c.work, 'x')],
    env: () => ({ WALG_LIBSODIUM_KEY: '', WALG_LIBSODIUM_KEY_TRANSFORM: '', WALG_PGP_KEY_PATH: '/nonexistent/walg.asc' }), level: 'ERROR',
    text: /open \/nonexistent\/walg\.asc: no such file or directory/, code: 1 },
  { id: 'pgp-wrong-key', what: 'st get with an OpenPGP key that is not the one the object was encrypted to',
    prep: async (c) => {
      const keys = pgpKeys(c.work);
      const r = await run(c, ['st', 'put', keys.file, 'pgp-object'], { WALG_LIBSODIUM_KEY: '', WALG_LIBSODIUM_KEY_TRANSFORM: '', WALG_PGP_KEY_PATH: keys.a });
      assert.equal(r.code, 0, `st put with key A: ${r.stderr}`);
    },
    args: (c) => ['st', 'get', 'pgp-object.lz4', join(c.work, 'x')],
    env: (c) => ({ WALG_LIBSODIUM_KEY: '', WALG_LIBSODIUM_KEY_TRANSFORM: '', WALG_PGP_KEY_PATH: join(c.work, 'b.asc') }), level: 'ERROR',
    text: /^download the file: failed to init decrypt reader: openpgp: incorrect key/, code: 1 },
];

/** Two unprotected OpenPGP key pairs (gpg, ed25519 + cv25519) exported to `<work>/a.asc`, `<work>/b.asc`, and a file. */
function pgpKeys(work: string): { a: string; b: string; file: string } {
  const out: Record<string, string> = {};
  for (const n of ['a', 'b']) {
    const home = join(work, `gnupg-${n}`);
    mkdirSync(home, { mode: 0o700 });
    const gpg = (args: string[]) => execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', '--yes', '--no-tty', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    gpg(['--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', `Key ${n} <${n}@example.com>`, 'future-default', 'default', 'never']);
    out[n] = join(work, `${n}.asc`);
    writeFileSync(out[n], gpg(['--armor', '--export-secret-keys']));
  }
  const file = join(work, 'plain.txt');
  writeFileSync(file, 'encrypted to key a\n');
  return { a: out.a!, b: out.b!, file };
}

/** A fresh copy of the recorded storage (with its recorded mtimes) and a scratch dir, owned by the cluster user. */
export function freshStore(bin: string): StoreCtx & { cleanup(): void } {
  const base = userTempDir('walg-behave-errors-');
  const store = join(base, 'store');
  cpSync(join(FIXTURE, 'pg'), store, { recursive: true });
  for (const [rel, iso] of Object.entries(manifest.mtimes)) {
    if (rel.startsWith('pg/')) utimesSync(join(store, rel.slice(3)), new Date(iso), new Date(iso));
  }
  const work = join(base, 'work');
  mkdirSync(work);
  const id = pgIdentity();
  execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, base]);
  return { store, work, bin, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/** Runs one storage case with `bin` on a fresh copy; returns the run and the last line of the case's level. */
export async function runStoreCase(k: StoreCase, bin: string): Promise<{ r: RunResult; line: LogLine | undefined }> {
  const c = freshStore(bin);
  try {
    await k.prep?.(c);
    const r = await runBin(bin, k.args(c), storeEnv(c, k.env?.(c)));
    const line = logLines(r.stderr).filter((l) => l.level === k.level).at(-1);
    return { r, line };
  } finally {
    c.cleanup();
  }
}

/** Asserts WAL-G's text and exit code for `k` in a run of `tool`. */
export function assertCaseText(k: { id: string; level: string; text: RegExp; code: number }, tool: string,
  got: { r: RunResult; line: LogLine | undefined }): void {
  assert.equal(got.r.code, k.code, `${tool} ${k.id}: exit code\n${got.r.stderr}`);
  assert.ok(got.line, `${tool} ${k.id}: a ${k.level} line\n${got.r.stderr}`);
  assert.match(got.line.message, k.text, `${tool} ${k.id}: WAL-G's text\n${got.r.stderr}`);
}

/** Rewrites one number field of a sentinel (exact, as text: uint64 values do not fit a JS number). */
export function setSentinelNumber(store: string, backup: string, field: string, value: string): void {
  const p = join(store, 'basebackups_005', `${backup}_backup_stop_sentinel.json`);
  const text = readFileSync(p, 'utf8');
  const re = new RegExp(`"${field}":\\s*\\d+`);
  assert.match(text, re, `${field} in ${p}`);
  writeFileSync(p, text.replace(re, `"${field}":${value}`));
}

/** The names of the backups in a file storage. */
export function storedBackups(store: string): string[] {
  try {
    return readdirSync(join(store, 'basebackups_005')).filter((n) => n.endsWith('_backup_stop_sentinel.json')).sort();
  } catch {
    return [];
  }
}

/** Where a server case runs: a started cluster whose archive_command runs `<work>/archive.sh`, an empty storage. */
export interface PgCtx { dataDir: string; pgEnv: Record<string, string>; store: string; work: string; bin: string }

/** A condition of backup-push on a real server. */
export interface PgCase {
  id: string;
  what: string;
  /** Prepares the storage (e.g. pushes a full backup with `c.bin` and alters its sentinel). */
  prep?: (c: PgCtx) => Promise<void>;
  args: (c: PgCtx) => string[];
  env?: Record<string, string>;
  /** Makes archive_command fail during the run. */
  archiveFails?: boolean;
  /** SQL run before the case and after it (to undo). */
  sql?: { before: string[]; after: string[] };
  level: 'ERROR' | 'WARNING';
  text: RegExp;
  code: number;
}

/** The environment of a server case. */
export function pgCaseEnv(c: PgCtx, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({ ...c.pgEnv, WALG_FILE_PREFIX: c.store, WALG_COMPRESSION_METHOD: 'lz4', ...extra });
}

/** Pushes a full backup with `c.bin` and returns its name. */
async function pushFull(c: PgCtx): Promise<string> {
  const r = await runBin(c.bin, ['backup-push', c.dataDir, '--full'], pgCaseEnv(c));
  assert.equal(r.code, 0, `full backup-push: ${r.stderr}`);
  const name = /Wrote backup with name (base_\S+)/.exec(r.stderr)?.[1];
  assert.ok(name, r.stderr);
  return name;
}

/** backup-push conditions, in the order of docs/compat.md. */
export const PG_CASES: readonly PgCase[] = [
  { id: 'delta-from-future', what: 'delta backup whose parent finished after this backup started',
    prep: async (c) => { setSentinelNumber(c.store, await pushFull(c), 'FinishLSN', '18446744073709551000'); },
    args: (c) => ['backup-push', c.dataDir], env: { WALG_DELTA_MAX_STEPS: '1' },
    level: 'ERROR', text: /^Finish LSN of backup base_[0-9A-F]{24} greater than current LSN/, code: 1 },
  { id: 'delta-other-cluster', what: 'delta backup whose parent is of another cluster (system identifier)',
    prep: async (c) => { setSentinelNumber(c.store, await pushFull(c), 'SystemIdentifier', '1'); },
    args: (c) => ['backup-push', c.dataDir], env: { WALG_DELTA_MAX_STEPS: '1' },
    level: 'ERROR', text: /^Current database and database of base backup are not equal\./, code: 1 },
  { id: 'data-dir-mismatch', what: 'backup-push of a directory that is not the server\'s data directory',
    args: (c) => ['backup-push', c.work],
    level: 'ERROR', text: /^Data directory from command line '.*' is not the same as Postgres' one '.*'$/, code: 1 },
  { id: 'archive-timeout', what: 'WAL archiving not done within WALG_STOP_BACKUP_TIMEOUT', archiveFails: true,
    args: (c) => ['backup-push', c.dataDir, '--full'], env: { WALG_STOP_BACKUP_TIMEOUT: '3s' },
    level: 'ERROR', text: /^UploadLabelFiles: failed to stop backup: QueryRunner StopBackup: stop backup failed: ERROR: canceling statement due to statement timeout \(SQLSTATE 57014\)/, code: 1 },
  { id: 'archive-command-empty', what: 'archive_mode on, archive_command empty (the warning; the stop then times out)',
    sql: { before: ["alter system set archive_command = ''", 'select pg_reload_conf()'], after: ['alter system reset archive_command', 'select pg_reload_conf()'] },
    args: (c) => ['backup-push', c.dataDir, '--full'], env: { WALG_STOP_BACKUP_TIMEOUT: '3s' },
    level: 'WARNING', text: /^archive_command is not configured\. This may cause inconsistent backups\. Please consider configuring WAL archiving\.$/, code: 1 },
];

/** The archive script of a server case: `ok` pretends to archive (exit 0), else it fails. */
export function writeArchiveScript(work: string, ok: boolean): void {
  const p = join(work, 'archive.sh');
  writeFileSync(`${p}.new`, ok ? '#!/bin/sh\nexit 0\n' : '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  execFileSync('mv', [`${p}.new`, p]);
}

/** A started cluster for PG_CASES (archive_command = the archive script, succeeding) and its work directory. */
export interface CaseCluster { cluster: PgCluster; work: string; destroy(): Promise<void> }

/** Starts the cluster the server cases run against; destroy() stops it and removes its work directory. */
export async function startCaseCluster(): Promise<CaseCluster> {
  const work = userTempDir('walg-behave-errors-pg-');
  chmodSync(work, 0o755);
  writeArchiveScript(work, true);
  const cluster = await initCluster({ archive_mode: 'on', archive_command: `${join(work, 'archive.sh')} %p` });
  const destroy = async () => {
    await cluster.destroy();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    await cluster.start();
  } catch (err) {
    await destroy();
    throw err;
  }
  return { cluster, work, destroy };
}

/** Runs one server case with `bin` on a fresh storage under `work`; returns the run and the last ERROR line. */
export async function runPgCase(k: PgCase, bin: string, cluster: { dataDir: string; env: Record<string, string>; psql(sql: string): Promise<string> },
  work: string): Promise<{ r: RunResult; line: LogLine | undefined }> {
  const base = join(work, `${k.id}-${bin.split('/').pop()}`);
  const c: PgCtx = { dataDir: cluster.dataDir, pgEnv: cluster.env, store: join(base, 'store'), work: join(base, 'work'), bin };
  mkdirSync(c.store, { recursive: true });
  mkdirSync(c.work, { recursive: true });
  try {
    await k.prep?.(c);
    if (k.archiveFails) writeArchiveScript(work, false);
    for (const q of k.sql?.before ?? []) await cluster.psql(q);
    // The server reads the reloaded setting soon after pg_reload_conf() returns.
    if (k.sql) await new Promise((r) => setTimeout(r, 500));
    const r = await runBin(bin, k.args(c), pgCaseEnv(c, k.env));
    return { r, line: logLines(r.stderr).filter((l) => l.level === k.level).at(-1) };
  } finally {
    for (const q of k.sql?.after ?? []) await cluster.psql(q);
    if (k.sql) await new Promise((r) => setTimeout(r, 500));
    writeArchiveScript(work, true);
    rmSync(base, { recursive: true, force: true });
  }
}
