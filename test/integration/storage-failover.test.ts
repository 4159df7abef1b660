// Issue #7 acceptance 3 with the CLI as a child process: an SSH storage whose connection dies in the middle of an
// upload (a TCP relay in front of a private sshd, killed after N bytes) makes wal-push and backup-push fail with one
// clear error line and exit 1, leaving no WAL and no backup visible; with a failover storage configured, the next
// wal-push goes to the failover and wal-fetch finds the segment there.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, startProxy } from '../servers/sshd.ts';
import type { SshServer } from '../servers/sshd.ts';
import { initCluster } from '../servers/postgres.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { pgbench } from '../helpers/pg-exec.ts';
import { SshStorage } from '../../src/storage/drivers/ssh.ts';

let server: Promise<SshServer> | undefined;
const sshd = (): Promise<SshServer> => (server ??= startSshd());
const temps: string[] = [];
after(async () => {
  if (server) await (await server).stop();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

const SEG = 16 * 1024 * 1024;
const walName = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`;

/** A pg_wal directory with random (incompressible) 16 MiB segments 1..n. */
function pgWal(n: number): { dir: string; segments: Buffer[] } {
  const dir = join(tmp('walg-fo-pgwal-'), 'pg_wal');
  mkdirSync(join(dir, 'archive_status'), { recursive: true });
  const segments = Array.from({ length: n }, (_, i) => {
    const b = randomBytes(SEG);
    writeFileSync(join(dir, walName(i + 1)), b);
    return b;
  });
  return { dir, segments };
}

async function listed(srv: SshServer, root: string): Promise<string[]> {
  const s = new SshStorage({ host: srv.host, port: srv.port, root, username: srv.user, privateKeyPath: srv.privateKeyPath });
  try {
    const out: string[] = [];
    for await (const e of s.list('', { recursive: true })) out.push(e.key);
    return out;
  } finally { await s.close(); }
}

function assertOneErrorLine(stderr: string, re: RegExp, t?: { diagnostic(s: string): void }): void {
  const lines = stderr.split('\n').filter(Boolean);
  t?.diagnostic(`last line: ${lines.at(-1)}`);
  for (const l of lines) assert.match(l, LOG_LINE, `log line shape: ${l}`);
  assert.match(lines.at(-1) ?? '', re, `last line: ${lines.at(-1)}`);
}

test('wal-push to an SSH storage that dies mid-upload: one error line, exit 1, no WAL visible or fetchable', async (t) => {
  const srv = await sshd();
  const root = join(srv.dir, `wal-${randomBytes(3).toString('hex')}`);
  const proxy = await startProxy(srv.port);
  const { dir } = pgWal(1);
  const home = tmp('walg-fo-home-');
  const env = (port: number) => baseEnv({
    HOME: home, WALG_SSH_PREFIX: `ssh://${srv.host}${root}`, SSH_PORT: String(port), SSH_USERNAME: srv.user,
    SSH_PRIVATE_KEY_PATH: srv.privateKeyPath, WALG_COMPRESSION_METHOD: 'lz4',
    // One retry (after a refused reconnect) keeps the test short; the default is 15 with backoff.
    WALG_DOWNLOAD_FILE_RETRIES: '1',
  });
  try {
    proxy.killAfterUpBytes(3 * 1024 * 1024);
    const t0 = Date.now();
    const r = await walg(['wal-push', join(dir, walName(1))], env(proxy.port));
    assert.equal(r.code, 1, r.stderr);
    assertOneErrorLine(r.stderr, /^ERROR: .*could not Upload '.*000000010000000000000001'.*ssh storage/, t);
    assert.ok(Date.now() - t0 < 20_000, 'fails promptly');
    assert.ok(proxy.upBytes >= 3 * 1024 * 1024, 'the connection died in the middle of the upload');
    assert.deepEqual(await listed(srv, root), [], 'no WAL listed');
    const fetch = await walg(['wal-fetch', walName(1), join(home, 'out')], env(srv.port));
    assert.equal(fetch.code, 74, fetch.stderr);
    assert.equal(existsSync(join(home, 'out')), false);
  } finally { await proxy.kill(); }
});

test('backup-push to an SSH storage that dies mid-upload: exit 1, one error line, no backup in backup-list', { timeout: 120_000 }, async (t) => {
  const srv = await sshd();
  const root = join(srv.dir, `bk-${randomBytes(3).toString('hex')}`);
  const proxy = await startProxy(srv.port);
  const home = tmp('walg-fo-home-');
  const cluster = await initCluster({});
  try {
    await cluster.start();
    await pgbench(cluster, ['-i', '-s', '1', '-q']);
    const env = (port: number) => baseEnv({
      ...cluster.env, HOME: home, WALG_SSH_PREFIX: `ssh://${srv.host}${root}`, SSH_PORT: String(port), SSH_USERNAME: srv.user,
      SSH_PRIVATE_KEY_PATH: srv.privateKeyPath, WALG_COMPRESSION_METHOD: 'lz4', WALG_DOWNLOAD_FILE_RETRIES: '1',
    });
    proxy.killAfterUpBytes(1024 * 1024);
    const r = await walg(['backup-push', cluster.dataDir], env(proxy.port));
    assert.notEqual(r.code, 0, r.stderr);
    assertOneErrorLine(r.stderr, /^ERROR: .*ssh storage/, t);
    assert.ok(proxy.upBytes >= 1024 * 1024, 'the connection died in the middle of the upload');
    const keys = await listed(srv, root);
    assert.ok(!keys.some((k) => k.endsWith('_backup_stop_sentinel.json')), `no sentinel: ${keys.join(' ')}`);
    const list = await walg(['backup-list'], env(srv.port));
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.toString(), '');
    assert.match(list.stderr, /No backups found/);
  } finally {
    await proxy.kill();
    await cluster.destroy();
  }
});

test('failover: after the primary died mid-upload the next wal-push lands in the failover; wal-fetch finds it; a dead primary from the start is skipped by the check', async (t) => {
  const srv = await sshd();
  const root = join(srv.dir, `pri-${randomBytes(3).toString('hex')}`);
  const proxy = await startProxy(srv.port);
  const foDir = tmp('walg-fo-failover-');
  const { dir, segments } = pgWal(2);
  const home = tmp('walg-fo-home-');
  const config = (port: number) => {
    const file = join(home, `walg-${port}.json`);
    writeFileSync(file, JSON.stringify({
      WALG_SSH_PREFIX: `ssh://${srv.host}${root}`, SSH_PORT: String(port), SSH_USERNAME: srv.user, SSH_PRIVATE_KEY_PATH: srv.privateKeyPath,
      WALG_COMPRESSION_METHOD: 'lz4', WALG_DOWNLOAD_FILE_RETRIES: '1',
      WALG_FAILOVER_STORAGES: { fo: { WALG_FILE_PREFIX: foDir } },
      WALG_FAILOVER_STORAGES_CHECK_SIZE: '1kb', WALG_FAILOVER_STORAGES_CHECK_TIMEOUT: '5s',
    }));
    return file;
  };
  const env = baseEnv({ HOME: home });
  try {
    // 1. The primary passes its check, then dies in the middle of the segment upload: exit 1, nothing anywhere.
    proxy.killAfterUpBytes(3 * 1024 * 1024);
    const cfg = config(proxy.port);
    const first = await walg(['wal-push', join(dir, walName(1)), '--config', cfg], env);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /Files will be uploaded to storage: default/);
    assertOneErrorLine(first.stderr, /^ERROR: .*could not Upload/, t);
    assert.equal(existsSync(join(foDir, 'wal_005')), false);

    // 2. PostgreSQL retries archive_command: the failed write marked the primary dead, the failover takes the write.
    const second = await walg(['wal-push', join(dir, walName(1)), '--config', cfg], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /Files will be uploaded to storage: fo/);
    assert.ok(existsSync(join(foDir, 'wal_005', `${walName(1)}.lz4`)));

    // 3. wal-fetch searches every alive storage and finds it in the failover.
    const out = join(home, 'RECOVERYXLOG');
    const fetched = await walg(['wal-fetch', walName(1), out, '--config', cfg], env);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.deepEqual(readFileSync(out), segments[0]);

    // 4. A fresh machine (empty status cache) with the primary down from the start: the write check skips it.
    const home2 = tmp('walg-fo-home2-');
    const fresh = await walg(['wal-push', join(dir, walName(2)), '--config', cfg], baseEnv({ HOME: home2 }));
    assert.equal(fresh.code, 0, fresh.stderr);
    t.diagnostic(`fresh run: ${fresh.stderr.split('\n').filter((l) => l.startsWith('ERROR')).join(' | ')}`);
    assert.match(fresh.stderr, /ERROR: .*storage 'default': read check/);
    assert.match(fresh.stderr, /Files will be uploaded to storage: fo/);
    assert.ok(existsSync(join(foDir, 'wal_005', `${walName(2)}.lz4`)));
    assert.ok(existsSync(join(home2, '.walg_storage_rw_status_cache')), 'statuses cached for the next runs');
    const list = await walg(['backup-list', '--config', cfg], baseEnv({ HOME: home2 }));
    assert.equal(list.code, 0, list.stderr);
  } finally { await proxy.kill(); }
});
