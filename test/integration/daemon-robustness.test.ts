// Issue 15 acceptance 3: the `wal-g daemon` process (dist/wal-g) against malformed clients. Short, oversized,
// truncated and unknown-type messages each get an E reply or a closed connection; clients that connect and go
// silent (with nothing or half a header sent) are dropped after WALG_DAEMON_WAL_UPLOAD_TIMEOUT; while all of that
// goes on, dist/walg-daemon-client keeps archiving and fetching through the same daemon. The socket is the owner's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { ROOT, WALG_BIN, baseEnv, runBin } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const CLIENT = join(ROOT, 'dist', 'walg-daemon-client');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a raw connection saw: the bytes the daemon sent before it closed, and how long that took. */
interface Seen { reply: string; closed: boolean; ms: number }

/** Sends `chunks` (with `gapMs` between them), optionally half-closes, and waits up to `waitMs` for the daemon to close. */
function rawExchange(sock: string, chunks: Buffer[], opts: { halfClose?: boolean; waitMs?: number; gapMs?: number } = {}): Promise<Seen> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c: Socket = connect({ path: sock, allowHalfOpen: true });
    let reply = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.destroy();
      resolve({ reply, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 10_000);
    c.on('data', (d) => { reply += d.toString('latin1'); });
    c.on('end', () => finish(true));
    c.on('close', () => finish(true));
    c.on('error', () => finish(true));
    c.on('connect', async () => {
      for (const ch of chunks) {
        if (c.destroyed) return;
        c.write(ch);
        if (opts.gapMs) await sleep(opts.gapMs);
      }
      if (opts.halfClose) c.end();
    });
  });
}

const header = (type: string, total: number) => { const b = Buffer.alloc(3); b.write(type, 0, 'latin1'); b.writeUInt16BE(total, 1); return b; };

test('daemon robustness: malformed and silent clients get E or a closed connection; others keep being served', { timeout: 120_000 }, async () => {
  const root = tempDir('walg-robust-');
  const pgdata = join(root, 'pgdata');
  mkdirSync(join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const SEG = 1024 * 1024;
  const segs = Array.from({ length: 6 }, (_, i) => {
    const data = Buffer.alloc(SEG, i + 1);
    data.writeUInt16LE(0xd110, 0);
    return { name: formatWalName(1, i + 1, SEG), data };
  });
  for (const s of segs) writeFileSync(join(pgdata, 'pg_wal', s.name), s.data);
  const cfg = join(root, 'walg.json');
  writeFileSync(cfg, JSON.stringify({
    WALG_FILE_PREFIX: join(root, 'store'), PGDATA: pgdata, WALG_PG_WAL_SIZE: '1', WALG_COMPRESSION_METHOD: 'lz4',
    WALG_DAEMON_WAL_UPLOAD_TIMEOUT: '2s', WALG_UPLOAD_CONCURRENCY: '1',
  }));
  const sock = join(root, 'walg.sock');
  const daemon = spawn(WALG_BIN, ['daemon', sock, '--config', cfg], { env: baseEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise<number | null>((r) => daemon.on('close', (code) => r(code)));
  const push = async (i: number) => {
    const r = await runBin(CLIENT, [sock, 'wal-push', segs[i]!.name], baseEnv());
    assert.equal(r.code, 0, `wal-push ${segs[i]!.name}: ${r.stderr}\n${stderr}`);
  };
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(100);
    assert.ok(existsSync(sock), `daemon is listening: ${stderr}`);
    assert.equal(statSync(sock).mode & 0o077, 0, 'only the owner can use the socket');

    // Silent clients first: they stay connected while everything below runs.
    const silent = [
      rawExchange(sock, [], { waitMs: 15_000 }),
      rawExchange(sock, [Buffer.from('F')], { waitMs: 15_000 }),
      rawExchange(sock, [header('F', 40), Buffer.from('0000')], { waitMs: 15_000 }),
    ];
    await push(0);

    const CASES: Array<[string, Buffer[], { halfClose?: boolean }]> = [
      ['short: total length 2', [header('F', 2)], {}],
      ['short: total length 0', [header('f', 0), Buffer.from('xyz')], {}],
      ['unknown type', [header('Z', 3)], {}],
      ['unknown type with a body', [header('\xff', 8), Buffer.from('hello')], {}],
      ['oversized: a 65532-byte path', [header('F', 0xffff), Buffer.alloc(0xfffc, 'a')], {}],
      ['oversized: an argument longer than the body', [header('f', 3 + 5), Buffer.from([2, 0xff, 0xff, 0x41, 0x42])], {}],
      ['wal-fetch with one argument', [header('f', 3 + 4), Buffer.from([1, 0, 1, 0x41])], {}],
      ['wal-fetch with trailing bytes', [header('f', 3 + 9), Buffer.from([2, 0, 1, 0x41, 0, 1, 0x42, 0, 0])], {}],
      ['truncated body, then half-close', [header('F', 100), Buffer.from('0000000100')], { halfClose: true }],
      ['truncated header, then half-close', [Buffer.from([0x46, 0x00])], { halfClose: true }],
      ['more bytes than the length says', [header('F', 3 + 4), Buffer.from('nope'), Buffer.alloc(200_000, 0x43)], {}],
    ];
    for (const [what, chunks, opts] of CASES) {
      const seen = await rawExchange(sock, chunks, { ...opts, waitMs: 10_000 });
      assert.ok(seen.closed, `${what}: the daemon closed the connection`);
      assert.ok(seen.reply === 'E' || seen.reply === '', `${what}: reply ${JSON.stringify(seen.reply)}`);
    }
    // A flood of check messages on one connection is answered (C → O each) and does not stop the others.
    const checks = await rawExchange(sock, [Buffer.concat(Array.from({ length: 2000 }, () => header('C', 3))), header('Z', 3)], { waitMs: 10_000 });
    assert.equal(checks.reply, `${'O'.repeat(2000)}E`);
    // Many connections that hang up at once, mid-message.
    await Promise.all(Array.from({ length: 50 }, (_, i) => rawExchange(sock, [header('F', 60), Buffer.from(`${i}`)], { halfClose: i % 2 === 0, waitMs: 10_000 })));

    for (let i = 1; i < segs.length; i++) await push(i);
    const dest = join(root, 'fetched');
    const f = await runBin(CLIENT, [sock, 'wal-fetch', segs[3]!.name, dest], baseEnv());
    assert.equal(f.code, 0, f.stderr);
    assert.ok(readFileSync(dest).equals(segs[3]!.data));

    for (const [i, p] of silent.entries()) {
      const seen = await p;
      assert.ok(seen.closed, `silent client ${i} was dropped`);
      assert.ok(seen.ms < 12_000, `silent client ${i} dropped after ${seen.ms} ms`);
    }
    assert.equal(daemon.exitCode, null, `the daemon is still running: ${stderr}`);
  } finally {
    daemon.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
