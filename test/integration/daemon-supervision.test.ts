// Issue 15, supervision of the `wal-g daemon` process (dist/wal-g): READY=1 once listening, WATCHDOG=1 every half
// of WATCHDOG_USEC and STOPPING=1 at shutdown on NOTIFY_SOCKET (a UNIX datagram socket, received here by python3,
// as Node has none); SIGTERM lets a wal-push in flight finish and answer O before the daemon exits 0; a kill -9
// mid-upload fails the call and leaves no object under the segment's name (wal-fetch exits 74).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { ROOT, WALG_BIN, baseEnv, runBin } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const CLIENT = join(ROOT, 'dist', 'walg-daemon-client');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** python3 bound to a datagram socket at `path`, printing each datagram on its own line. */
function receiver(path: string): { lines: () => string[]; stop: () => void; ready: Promise<void> } {
  const py = 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound",flush=True)\n'
    + 'while True:\n  print(s.recv(4096).decode(),flush=True)\n';
  const p = spawn('python3', ['-c', py, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onBound: () => void;
  const ready = new Promise<void>((r) => { onBound = r; });
  p.stdout.on('data', (c) => { out += c; if (out.startsWith('bound\n')) onBound(); });
  return { lines: () => out.split('\n').filter(Boolean).slice(1), stop: () => p.kill('SIGKILL'), ready };
}

test('daemon: READY=1, WATCHDOG=1 and STOPPING=1 on NOTIFY_SOCKET; SIGTERM finishes the wal-push in flight', { timeout: 60_000 }, async () => {
  const root = tempDir('walg-supervise-');
  const pgdata = join(root, 'pgdata');
  mkdirSync(join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const SEG = 64 * 1024 * 1024;
  const name = formatWalName(1, 1, SEG);
  const data = Buffer.alloc(SEG);
  for (let i = 0; i < SEG; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i); // hard to compress: takes a while
  data.writeUInt16LE(0xd110, 0);
  writeFileSync(join(pgdata, 'pg_wal', name), data);
  const logFile = join(root, 'daemon.log');
  const cfg = join(root, 'walg.json');
  writeFileSync(cfg, JSON.stringify({
    WALG_FILE_PREFIX: join(root, 'store'), PGDATA: pgdata, WALG_PG_WAL_SIZE: '64', WALG_COMPRESSION_METHOD: 'brotli',
    WALG_LOG_LEVEL: 'DEVEL', WALG_LOG_DESTINATION: logFile,
  }));
  const notify = join(root, 'notify.sock');
  const rx = receiver(notify);
  await rx.ready;
  const sock = join(root, 'walg.sock');
  const daemon = spawn(WALG_BIN, ['daemon', sock, '--config', cfg], {
    env: baseEnv({ NOTIFY_SOCKET: notify, WATCHDOG_USEC: '300000' }), stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  daemon.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise<number | null>((r) => daemon.on('close', (code) => r(code)));
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(100);
    assert.ok(existsSync(sock), `daemon is listening: ${stderr}`);
    for (let i = 0; i < 50 && rx.lines().filter((l) => l === 'WATCHDOG=1').length < 3; i++) await sleep(100);
    assert.equal(rx.lines()[0], 'READY=1', rx.lines().join(','));
    assert.ok(rx.lines().filter((l) => l === 'WATCHDOG=1').length >= 3, `watchdog every 150 ms: ${rx.lines().join(',')}`);

    const push = runBin(CLIENT, [sock, 'wal-push', name], baseEnv());
    for (let i = 0; i < 100 && !(existsSync(logFile) && /starting wal-push/.test(readFileSync(logFile, 'utf8'))); i++) await sleep(20);
    assert.match(readFileSync(logFile, 'utf8'), /starting wal-push/);
    daemon.kill('SIGTERM');
    const r = await push;
    assert.equal(r.code, 0, `the push in flight finished and was answered O: ${r.stderr}\n${readFileSync(logFile, 'utf8')}`);
    assert.equal(await exited, 0, stderr);
    assert.ok(existsSync(join(root, 'store', 'wal_005', `${name}.br`)), 'and its object is stored');
    await sleep(200);
    assert.equal(rx.lines().at(-1), 'STOPPING=1', rx.lines().join(','));
    assert.ok(!existsSync(sock), 'socket removed');
  } finally {
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
    rx.stop();
  }
});

test('daemon: a kill -9 in the middle of an upload leaves no object that wal-fetch would accept', { timeout: 60_000 }, async () => {
  const root = tempDir('walg-kill-upload-');
  const pgdata = join(root, 'pgdata');
  mkdirSync(join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const SEG = 64 * 1024 * 1024;
  const name = formatWalName(1, 1, SEG);
  const data = Buffer.alloc(SEG);
  for (let i = 0; i < SEG; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  data.writeUInt16LE(0xd110, 0);
  writeFileSync(join(pgdata, 'pg_wal', name), data);
  const logFile = join(root, 'daemon.log');
  const store = join(root, 'store');
  const cfg = join(root, 'walg.json');
  writeFileSync(cfg, JSON.stringify({
    WALG_FILE_PREFIX: store, PGDATA: pgdata, WALG_PG_WAL_SIZE: '64', WALG_COMPRESSION_METHOD: 'brotli',
    WALG_LOG_LEVEL: 'DEVEL', WALG_LOG_DESTINATION: logFile,
  }));
  const sock = join(root, 'walg.sock');
  const daemon = spawn(WALG_BIN, ['daemon', sock, '--config', cfg], { env: baseEnv(), stdio: 'ignore' });
  const exited = new Promise<void>((r) => daemon.on('close', () => r()));
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(100);
  const push = runBin(CLIENT, [sock, 'wal-push', name], baseEnv());
  for (let i = 0; i < 200 && !(existsSync(logFile) && /starting wal-push/.test(readFileSync(logFile, 'utf8'))); i++) await sleep(10);
  await sleep(100); // well inside the brotli upload of 64 MiB
  daemon.kill('SIGKILL');
  await exited;
  const r = await push;
  assert.equal(r.code, 1, 'the archive call failed');
  assert.match(r.stderr, /unix socket read error: EOF/);
  assert.ok(!existsSync(join(store, 'wal_005', `${name}.br`)), `no object under the segment's name: ${readFileSync(logFile, 'utf8')}`);
  const fetched = await runBin(WALG_BIN, ['wal-fetch', name, join(root, 'RECOVERYXLOG'), '--config', cfg], baseEnv());
  assert.equal(fetched.code, 74, `wal-fetch finds nothing to accept: ${fetched.stderr}`);
  assert.ok(!existsSync(join(root, 'RECOVERYXLOG')));
});
