// The daemon server and client: WAL-G's literal request bytes answered byte-for-byte (O / E / N), path rules,
// per-request timeout, concurrency, shutdown. The daemon-client CLI's exit codes and the real `wal-g daemon` process
// are tested in test/integration/daemon-cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { log } from '../../src/core/log.ts';
import { resolveFetchPath, resolvePushPath, startDaemon } from '../../src/pg/daemon/server.ts';
import type { DaemonOperations } from '../../src/pg/daemon/server.ts';
import { DaemonReplyError, parseDaemonClientArgs, sendDaemonRequest } from '../../src/pg/daemon/client.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { fakeDaemon } from '../helpers/fake-daemon.ts';
import { tempDir } from '../helpers/tmp.ts';

const WAL = '000000010000000000000002';
const bytes = (s: string) => Buffer.from(s, 'latin1');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (): string => tempDir('walg-daemon-');
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
  // compat: Go's net.OpError texts, as walg-daemon-client prints them.
  await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([sock, 'wal-push', WAL])),
    { message: `unix socket dial error: dial unix ${sock}: connect: no such file or directory` });
});

test('client library: timeouts, a hung daemon and a closed connection are worded as walg-daemon-client words them', async () => {
  const dir = tmp();
  const sock = join(dir, 'hang.sock');
  const server = createServer((c) => { c.on('error', () => {}); c.once('data', () => c.end()); });
  await new Promise<void>((r) => server.listen(sock, r));
  const quiet = join(dir, 'quiet.sock');
  const hung = createServer((c) => { c.on('error', () => {}); c.resume(); });
  await new Promise<void>((r) => hung.listen(quiet, r));
  try {
    await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([sock, 'wal-push', WAL])), { message: 'unix socket read error: EOF' });
    await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([quiet, 'wal-push', WAL, '-timeout', '100ms'])),
      { message: `unix socket read error: read unix @->${quiet}: i/o timeout` });
    await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([quiet, 'wal-push', WAL, '-timeout', '0'])),
      { message: `unix socket write error: write unix @->${quiet}: i/o timeout` });
    await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([quiet, 'wal-push', WAL, '-connection-timeout', '0'])),
      { message: `unix socket dial error: dial unix ${quiet}: i/o timeout` });
    await assert.rejects(sendDaemonRequest(parseDaemonClientArgs([dir, 'wal-push', WAL])),
      { message: `unix socket dial error: dial unix ${dir}: connect: connection refused` });
  } finally {
    await new Promise((r) => server.close(r));
    await new Promise((r) => hung.close(r));
  }
});
