// The daemon server and client: WAL-G's literal request bytes answered byte-for-byte (O / E / N), path rules,
// per-request timeout, concurrency, shutdown; the daemon-client CLI's exit codes (0 / 74 / 1); and the real
// `wal-g daemon` process on file storage (push, fetch with prefetch, SIGUSR1 log reopen, SIGTERM cleanup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveNonExistenceError, LocalFileError } from '../../src/core/errors.ts';
import { log } from '../../src/core/log.ts';
import { resolveFetchPath, resolvePushPath, startDaemon } from '../../src/pg/daemon/server.ts';
import type { DaemonOperations, RunningDaemon } from '../../src/pg/daemon/server.ts';
import { DaemonReplyError, parseDaemonClientArgs, sendDaemonRequest } from '../../src/pg/daemon/client.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { WALG_BIN, baseEnv, walg, LOG_LINE } from '../helpers/cli.ts';

const WAL = '000000010000000000000002';
const bytes = (s: string) => Buffer.from(s, 'latin1');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dirs: string[] = [];
process.on('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'walg-daemon-'));
  dirs.push(d);
  return d;
}
log.discard(); // the in-process daemon's expected failures would clutter the test output

/** Sends `data` (half-closing afterwards when `end`), collects every reply byte until the daemon closes. */
function exchange(path: string, data: Buffer, end = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const s = connect({ path }, () => { if (end) s.end(data); else s.write(data); });
    s.on('data', (c: Buffer) => out.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(out).toString('latin1')));
  });
}

interface Call { op: 'push' | 'fetch'; args: string[] }

/** A daemon with recording fake operations: fetch of names starting with 'missing' → N, 'fail' → E, 'hang' → never ends. */
async function fakeDaemon(extra: { pgdata?: string | null; timeoutMs?: number; delayMs?: number } = {}): Promise<{ d: RunningDaemon; calls: Call[]; sock: string; aborted: string[]; maxInflight: () => number }> {
  const sock = join(tmp(), 'walg.sock');
  const calls: Call[] = [];
  const aborted: string[] = [];
  let inflight = 0;
  let max = 0;
  const body = async (name: string, signal: AbortSignal) => {
    inflight++; max = Math.max(max, inflight);
    try {
      if (extra.delayMs) await sleep(extra.delayMs);
      if (name.startsWith('missing')) throw new ArchiveNonExistenceError(name);
      if (name.startsWith('fail')) throw new LocalFileError('open: file exists');
      if (name.startsWith('hang')) {
        await new Promise((_, reject) => signal.addEventListener('abort', () => { aborted.push(name); reject(signal.reason); }));
      }
    } finally { inflight--; }
  };
  const ops: DaemonOperations = {
    async walPush(path, signal) { calls.push({ op: 'push', args: [path] }); await body(path.slice(path.lastIndexOf('/') + 1), signal); },
    async walFetch(name, dest, signal) { calls.push({ op: 'fetch', args: [name, dest] }); await body(name, signal); },
  };
  const d = await startDaemon({
    socketPath: sock, pgdata: extra.pgdata === null ? undefined : extra.pgdata ?? '/var/lib/pg/data', operationTimeoutMs: extra.timeoutMs ?? 10_000, ops,
  });
  return { d, calls, sock, aborted, maxInflight: () => max };
}

test('daemon answers WAL-G\'s own request bytes byte-for-byte', async () => {
  const { d, calls, sock } = await fakeDaemon();
  try {
    // daemon_test.sh: a check and a push on one connection → "OO", then the daemon closes.
    assert.equal(await exchange(sock, bytes(`C\x00\x08CHECKF\x00\x1B${WAL}`)), 'OO');
    assert.deepEqual(calls.shift(), { op: 'push', args: [`/var/lib/pg/data/pg_wal/${WAL}`] }, 'bare %f name → PGDATA/pg_wal');
    // daemon_nc_send_wal_fetch.sh: segment and history file, %p relative to PGDATA.
    assert.equal(await exchange(sock, bytes('f\x00\x33\x02\x00\x1800000001000000000000000A\x00\x13pg_wal/RECOVERYXLOG')), 'O');
    assert.deepEqual(calls.shift(), { op: 'fetch', args: ['00000001000000000000000A', '/var/lib/pg/data/pg_wal/RECOVERYXLOG'] });
    assert.equal(await exchange(sock, bytes('f\x00\x2E\x02\x00\x10missing2.history\x00\x16pg_wal/RECOVERYHISTORY')), 'N', 'missing file → N');
    assert.equal(await exchange(sock, bytes('f\x00\x2A\x02\x00\x0cfail00000001\x00\x16pg_wal/RECOVERYHISTORY')), 'E', 'other failure → E');
    // Only checks, then the client half-closes: one O per check, no error.
    assert.equal(await exchange(sock, bytes('C\x00\x03C\x00\x08CHECK'), true), 'OO');
    // Malformed traffic → E.
    assert.equal(await exchange(sock, bytes('X\x00\x03')), 'E', 'unknown type');
    assert.equal(await exchange(sock, bytes('F\x00\x02')), 'E', 'length below the header size');
    assert.equal(await exchange(sock, bytes('F\x00\x1B0000'), true), 'E', 'truncated body');
    assert.equal(await exchange(sock, bytes('f\x00\x06\x01\x00\x00')), 'E', 'wal-fetch with one argument');
    assert.equal(await exchange(sock, bytes('f\x00\x05\x01\x00')), 'E', 'corrupted argument body');
    assert.equal(calls.length, 2, 'malformed requests never reach an operation');
  } finally {
    await d.close();
  }
  assert.equal(existsSync(sock), false, 'socket file removed on close');
});

test('request paths: %f, %p, absolute, and PGDATA required for relative ones', async () => {
  assert.equal(resolvePushPath(WAL, '/pg'), `/pg/pg_wal/${WAL}`);
  assert.equal(resolvePushPath(`pg_wal/${WAL}`, '/pg'), `/pg/pg_wal/${WAL}`);
  assert.equal(resolvePushPath(`/else/pg_wal/${WAL}`, undefined), `/else/pg_wal/${WAL}`);
  assert.equal(resolveFetchPath('pg_wal/RECOVERYXLOG', '/pg'), '/pg/pg_wal/RECOVERYXLOG');
  assert.equal(resolveFetchPath('/x/RECOVERYXLOG', undefined), '/x/RECOVERYXLOG');
  assert.throws(() => resolvePushPath(WAL, undefined), /PGDATA is not set in the conf/);
  const { d, sock, calls } = await fakeDaemon({ pgdata: null });
  try {
    assert.equal(await exchange(sock, bytes(`F\x00\x1B${WAL}`)), 'E');
    assert.equal(calls.length, 0);
  } finally { await d.close(); }
});

test('per-request timeout answers E and aborts the operation; requests run concurrently', async () => {
  const { d, sock, aborted, maxInflight } = await fakeDaemon({ timeoutMs: 300, delayMs: 100 });
  try {
    const t0 = Date.now();
    assert.equal(await exchange(sock, bytes(`F\x00\x1Bhang${WAL.slice(4)}`)), 'E');
    assert.ok(Date.now() - t0 < 3000);
    assert.deepEqual(aborted, [`hang${WAL.slice(4)}`]);
    const names = Array.from({ length: 12 }, (_, i) => formatWalName(1, i + 1));
    const t1 = Date.now();
    const replies = await Promise.all(names.map((n) => exchange(sock, bytes(`F\x00\x1B${n}`))));
    assert.deepEqual(replies, names.map(() => 'O'));
    assert.ok(maxInflight() > 1, `served concurrently (max ${maxInflight()} at once)`);
    assert.ok(Date.now() - t1 < 100 * names.length, 'faster than one at a time');
  } finally { await d.close(); }
});

test('close() cancels requests in flight and a restart replaces the stale socket, never a regular file', async () => {
  const { d, sock, aborted } = await fakeDaemon({ timeoutMs: 60_000 });
  const pending = exchange(sock, bytes(`F\x00\x1Bhang${WAL.slice(4)}`));
  await sleep(100);
  await d.close();
  assert.equal(await pending, 'E');
  assert.equal(aborted.length, 1);
  // A socket file left behind by a killed daemon is replaced.
  const dir = tmp();
  const path = join(dir, 'stale.sock');
  const child = spawn(process.execPath, ['-e', 'require("node:net").createServer().listen(process.argv[1])', path], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(path); i++) await sleep(50);
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  assert.ok(existsSync(path), 'a stale socket file is left behind');
  const again = await startDaemon({ socketPath: path, operationTimeoutMs: 1000, ops: {} as DaemonOperations });
  assert.equal(await exchange(path, bytes('C\x00\x03'), true), 'O');
  await again.close();
  writeFileSync(join(dir, 'keep'), 'x');
  await assert.rejects(startDaemon({ socketPath: join(dir, 'keep'), operationTimeoutMs: 1000, ops: {} as DaemonOperations }), /is not a socket/);
  assert.equal(readFileSync(join(dir, 'keep'), 'utf8'), 'x', 'a regular file is never removed');
});

test('client library: O resolves, N and E reject with the reply, dial errors are reported', async () => {
  const { d, sock } = await fakeDaemon();
  try {
    await sendDaemonRequest(parseDaemonClientArgs([sock, 'wal-push', `pg_wal/${WAL}`]));
    await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([sock, 'wal-fetch', 'missing1', 'pg_wal/RECOVERYXLOG'])),
      (e: unknown) => e instanceof DaemonReplyError && e.reply === 'N'
        && e.message === 'daemon command run error [message type: f, args: [missing1 pg_wal/RECOVERYXLOG], daemon response: N]');
    await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([sock, 'wal-fetch', 'fail1', 'x'])), (e: unknown) => e instanceof DaemonReplyError && e.reply === 'E');
  } finally { await d.close(); }
  await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([sock, 'wal-push', WAL])), /unix socket dial error/);
});

test('daemon-client CLI: exit 0 on O, 74 on N, 1 on E and on a missing socket', async () => {
  const { d, sock } = await fakeDaemon();
  const env = baseEnv();
  try {
    const ok = await walg(['daemon-client', sock, 'wal-push', `pg_wal/${WAL}`], env);
    assert.equal(ok.code, 0, ok.stderr);
    const missing = await walg(['daemon-client', sock, 'wal-fetch', 'missing3', 'pg_wal/RECOVERYXLOG', '-timeout', '10s'], env);
    assert.equal(missing.code, 74, missing.stderr);
    assert.equal(missing.stdout.toString(), 'daemon command run error [message type: f, args: [missing3 pg_wal/RECOVERYXLOG], daemon response: N]\n');
    const failed = await walg(['daemon-client', sock, 'wal-fetch', 'fail3', 'pg_wal/RECOVERYXLOG'], env);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /daemon response: E/);
    for (const l of failed.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE);
  } finally { await d.close(); }
  const gone = await walg(['daemon-client', sock, 'wal-push', WAL], env);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /daemon socket '.*' doesn't exist or is unavailable/);
  const usage = await walg(['daemon-client', sock, 'wal-fetch', WAL], env);
  assert.equal(usage.code, 1);
  assert.match(usage.stdout.toString(), /^Error: not enough command arguments\n/);
  // `--` is what daemonClientArgv inserts (main.ts) so that the client's own --version reaches it.
  const version = await walg(['daemon-client', '--', '--version'], env);
  assert.equal(version.code, 0);
  assert.match(version.stdout.toString(), /^walg-daemon-client\tv\S+\tdevel\tdevel\n$/);
});

/** A fake WAL segment with a valid page magic. */
function segment(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size, seed);
  for (let i = 0; i < size; i += 4096) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i + 8);
  b.writeUInt16LE(0xd110, 0);
  b.writeUInt16LE(0x0002, 2);
  return b;
}

test('wal-g daemon process: push and fetch through the client, SIGUSR1 reopens the log, SIGTERM removes the socket', { timeout: 60_000 }, async () => {
  const root = tmp();
  const pgdata = join(root, 'pgdata');
  const restore = join(root, 'restore');
  mkdirSync(join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  mkdirSync(join(restore, 'pg_wal'), { recursive: true });
  const SEG = 1024 * 1024;
  const segs = [1, 2, 3, 4].map((i) => ({ name: formatWalName(1, i, SEG), data: segment(i, SEG) }));
  for (const s of segs) writeFileSync(join(pgdata, 'pg_wal', s.name), s.data);
  const logFile = join(root, 'daemon.log');
  const cfg = join(root, 'walg.json');
  writeFileSync(cfg, JSON.stringify({
    WALG_FILE_PREFIX: join(root, 'store'), PGDATA: pgdata, WALG_PG_WAL_SIZE: '1', WALG_COMPRESSION_METHOD: 'lz4',
    WALG_LOG_LEVEL: 'DEVEL', WALG_LOG_DESTINATION: logFile, WALG_DOWNLOAD_CONCURRENCY: '2', WALG_UPLOAD_CONCURRENCY: '1',
  }));
  const sock = join(root, 'walg.sock');
  const daemon = spawn(WALG_BIN, ['daemon', sock, '--config', cfg], { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  daemon.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise<number | null>((r) => daemon.on('close', (code) => r(code)));
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(100);
    assert.ok(existsSync(sock), `daemon is listening: ${stderr}`);
    const env = baseEnv();
    // archive_command styles: %f (documented for WAL-G) and %p.
    assert.equal((await walg(['daemon-client', sock, 'wal-push', segs[0]!.name], env)).code, 0);
    for (const s of segs.slice(1)) assert.equal((await walg(['daemon-client', sock, 'wal-push', `pg_wal/${s.name}`], env)).code, 0);
    // restore_command style, with an absolute destination (the daemon is not in the restored cluster's PGDATA).
    const dest = join(restore, 'pg_wal', 'RECOVERYXLOG');
    const f1 = await walg(['daemon-client', sock, 'wal-fetch', segs[0]!.name, dest], env);
    assert.equal(f1.code, 0, f1.stderr);
    assert.ok(readFileSync(dest).equals(segs[0]!.data));
    // The in-process prefetch of the next segments lands in the prefetch directory and is then served from it.
    const pre = join(restore, 'pg_wal', '.wal-g', 'prefetch', segs[1]!.name);
    for (let i = 0; i < 50 && !existsSync(pre); i++) await sleep(100);
    assert.ok(existsSync(pre), 'segment 2 prefetched by the daemon');
    const dest2 = join(restore, 'pg_wal', 'RECOVERYXLOG2');
    assert.equal((await walg(['daemon-client', sock, 'wal-fetch', segs[1]!.name, dest2], env)).code, 0);
    assert.ok(readFileSync(dest2).equals(segs[1]!.data));
    const miss = await walg(['daemon-client', sock, 'wal-fetch', formatWalName(1, 9, SEG), join(restore, 'pg_wal', 'X')], env);
    assert.equal(miss.code, 74);
    assert.equal((await walg(['daemon-client', sock, 'wal-fetch', segs[2]!.name, dest2], env)).code, 1, 'existing destination → E → 1');

    // logrotate: move the file away, SIGUSR1, and new lines go to a new file at the configured path.
    renameSync(logFile, `${logFile}.1`);
    daemon.kill('SIGUSR1');
    await sleep(300);
    assert.equal((await walg(['daemon-client', sock, 'wal-push', segs[3]!.name], env)).code, 0);
    for (let i = 0; i < 20 && !existsSync(logFile); i++) await sleep(100);
    assert.match(readFileSync(logFile, 'utf8'), /starting wal-push/);
    // Node's default SIGUSR1 action would start the inspector; the daemon's handler replaces it.
    assert.doesNotMatch(stderr, /Debugger/);
    const old = readFileSync(`${logFile}.1`, 'utf8');
    assert.match(old, /Successful prefetch for file/);
    assert.match(old, /WARNING: \S+ \S+ ArchiveNonExistenceError: Archive '000000010000000000000009' does not exist\./);
    for (const l of old.split('\n').filter(Boolean)) assert.match(l, LOG_LINE);
  } finally {
    daemon.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  assert.equal(existsSync(sock), false, 'socket removed on SIGTERM');
  assert.match(readFileSync(logFile, 'utf8'), /INFO: \S+ \S+ daemon shutting down/);
  // Everything pushed is in storage.
  const listing = await walg(['st', 'ls', 'wal_005/', '--walg-file-prefix', join(root, 'store')], baseEnv());
  for (const s of segs) assert.match(listing.stdout.toString(), new RegExp(`${s.name}\\.lz4`));
});
