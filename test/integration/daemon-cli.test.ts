// The daemon through processes: the daemon-client CLI's exit codes (0 / 74 / 1) against an in-process daemon, and
// the real \`wal-g daemon\` process on file storage (push, fetch with prefetch, SIGUSR1 log reopen, SIGTERM cleanup).
// The server and client library tests are in test/unit/daemon.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../../src/core/log.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { WALG_BIN, baseEnv, walg, LOG_LINE } from '../helpers/cli.ts';
import { fakeDaemon } from '../helpers/fake-daemon.ts';
import { tempDir } from '../helpers/tmp.ts';

const WAL = '000000010000000000000002';
/** A line of Go's standard log package: local date and time to the second. */
const GO_LOG_LINE = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} \S/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (): string => tempDir('walg-daemon-');
log.discard(); // the in-process daemon's expected failures would clutter the test output


test('daemon-client CLI: exit 0 on O, 74 on N, 1 on E and on a missing socket', async () => {
  const { d, sock } = await fakeDaemon();
  const env = baseEnv();
  try {
    const ok = await walg(['daemon-client', sock, 'wal-push', `pg_wal/${WAL}`], env);
    assert.equal(ok.code, 0, ok.stderr);
    const missing = await walg(['daemon-client', sock, 'wal-fetch', 'missing3', 'pg_wal/RECOVERYXLOG', '-timeout', '10s'], env);
    assert.equal(missing.code, 74, missing.stderr);
    assert.equal(missing.stdout.toString(), 'daemon command run error [message type: f, args: [missing3 pg_wal/RECOVERYXLOG], daemon response: N]\n');
    assert.equal(missing.stderr, '', 'compat: walg-daemon-client says nothing on stderr for N');
    const failed = await walg(['daemon-client', sock, 'wal-fetch', 'fail3', 'pg_wal/RECOVERYXLOG'], env);
    assert.equal(failed.code, 1);
    // compat: one line of Go's log package (log.Fatal), not WAL-G's log format.
    assert.match(failed.stderr, GO_LOG_LINE);
    assert.match(failed.stderr, / daemon command run error \[message type: f, args: \[fail3 pg_wal\/RECOVERYXLOG\], daemon response: E\]\n$/);
  } finally { await d.close(); }
  const gone = await walg(['daemon-client', sock, 'wal-push', WAL], env);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, GO_LOG_LINE);
  assert.ok(gone.stderr.endsWith(` daemon socket '${sock}' doesn't exist or is unavailable:\n\tstat ${sock}: no such file or directory\n`), gone.stderr);
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
