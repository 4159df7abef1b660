// Integration tests of the SSH/SFTP driver against a private OpenSSH sshd started on a free loopback port:
// the storage conformance suite (key login), a password-login smoke test, and driver specifics (temp files never
// listed, failed uploads leave nothing, a connection that dies mid-upload fails the put and then reconnects).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, writeFile, chown, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runStorageSuite } from '../conformance/storage-suite.ts';
import { startSshd, startProxy } from '../servers/sshd.ts';
import type { SshServer } from '../servers/sshd.ts';
import { SshStorage, parseSshPrefix } from '../../src/storage/drivers/ssh.ts';
import { withRetries } from '../../src/storage/wrap/retry.ts';
import { readAll } from '../../src/storage/body.ts';
import { openStorage } from '../../src/storage/registry.ts';
import { loadConfig } from '../../src/config/load.ts';
import { StorageError } from '../../src/core/errors.ts';
import type { ListEntry } from '../../src/storage/types.ts';
import { pgStorageRoundTrip } from '../helpers/pg-storage-roundtrip.ts';
import { userTempDir, pgIdentity } from '../servers/postgres.ts';
import { copyFile } from 'node:fs/promises';

let server: Promise<SshServer> | undefined;
const sshd = (): Promise<SshServer> => (server ??= startSshd({ withPassword: true }));
after(async () => { if (server) await (await server).stop(); });

async function freshRoot(srv: SshServer): Promise<string> {
  return mkdtemp(join(srv.dir, 'root-'));
}

async function keyStorage(extra: Partial<ConstructorParameters<typeof SshStorage>[0]> = {}): Promise<SshStorage> {
  const srv = await sshd();
  return new SshStorage({ host: srv.host, port: srv.port, root: await freshRoot(srv), username: srv.user, privateKeyPath: srv.privateKeyPath, ...extra });
}

async function collect(it: AsyncIterable<ListEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e.key);
  return out;
}

runStorageSuite('ssh (OpenSSH sftp)', async () => withRetries(await keyStorage(), { maxRetries: 3, baseDelayMs: 50 }), { manyKeys: 1500, bigUploadMB: 100 });

describe('ssh driver specifics', () => {
  test('prefix parsing: ssh://host/abs/path, optional port, bad prefixes are config errors', () => {
    assert.deepEqual(parseSshPrefix('ssh://backup.example.com/var/backups/wal-g'), { host: 'backup.example.com', port: undefined, root: '/var/backups/wal-g' });
    assert.deepEqual(parseSshPrefix('ssh://h:2222/x/'), { host: 'h', port: 2222, root: '/x' });
    assert.throws(() => parseSshPrefix('/just/a/path'), /ssh:\/\/host/);
    assert.throws(() => parseSshPrefix('s3://bucket/x'), /ssh:\/\/host/);
  });

  test('opened through the registry from WALG_SSH_PREFIX + SSH_* settings (key login)', async () => {
    const srv = await sshd();
    const root = await freshRoot(srv);
    const config = await loadConfig({ env: {
      WALG_SSH_PREFIX: `ssh://${srv.host}${root}`, SSH_PORT: String(srv.port), SSH_USERNAME: srv.user, SSH_PRIVATE_KEY_PATH: srv.privateKeyPath,
    } });
    const s = await openStorage(config);
    try {
      assert.equal(s.type, 'ssh');
      await s.put('wal_005/000000010000000000000001.lz4', Buffer.from('segment'));
      assert.deepEqual(await readdir(join(root, 'wal_005')), ['000000010000000000000001.lz4']);
      assert.equal((await readAll(await s.get('wal_005/000000010000000000000001.lz4'))).toString(), 'segment');
    } finally { await s.close(); }
  });

  test('password login (SSH_PASSWORD) works', async (t) => {
    const srv = await sshd();
    if (!srv.password) { t.skip('password login needs root (a dedicated OS user with a password)'); return; }
    const root = await freshRoot(srv);
    await chown(root, srv.password.uid, srv.password.gid);
    const config = await loadConfig({ env: {
      WALG_SSH_PREFIX: `ssh://${srv.host}${root}/pw`, SSH_PORT: String(srv.port), SSH_USERNAME: srv.password.user, SSH_PASSWORD: srv.password.password,
    } });
    const s = await openStorage(config);
    try {
      await s.put('a/b', Buffer.from('by password'));
      assert.equal((await readAll(await s.get('a/b'))).toString(), 'by password');
      assert.deepEqual(await collect(s.list('', { recursive: true })), ['a/b']);
    } finally { await s.close(); }
    // A wrong password is a clear, non-transient error.
    const bad = await openStorage(await loadConfig({ env: {
      WALG_SSH_PREFIX: `ssh://${srv.host}${root}`, SSH_PORT: String(srv.port), SSH_USERNAME: srv.password.user, SSH_PASSWORD: 'wrong',
    } }));
    try {
      await assert.rejects(bad.stat('a/b'), (e: unknown) => e instanceof StorageError && /authentication/i.test((e as Error).message) && !(e as StorageError).transient);
    } finally { await bad.close(); }
  });

  test('temp files of unfinished uploads are never listed, and a failed upload removes its temp file', async () => {
    const s = await keyStorage();
    try {
      // A leftover of a crashed writer (WAL-G's temp name) is invisible.
      await s.put('dir/real', Buffer.from('x'));
      await writeFile(join(s.root, 'dir', 'real.tmp.20240101T000000Z-0123456789abcdef'), 'partial');
      assert.deepEqual(await collect(s.list('dir/')), ['dir/real']);
      assert.deepEqual(await collect(s.list('', { recursive: true })), ['dir/real']);
      let n = 0;
      const failing = new Readable({ read() { if (++n > 20) this.destroy(new Error('source broke')); else this.push(randomBytes(256 * 1024)); } });
      await assert.rejects(s.put('dir/failed', failing), /source broke/);
      const onDisk = (await readdir(join(s.root, 'dir'))).sort();
      assert.deepEqual(onDisk, ['real', 'real.tmp.20240101T000000Z-0123456789abcdef'], 'the failed upload left no temp file');
    } finally { await s.close(); }
  });

  test('a connection that dies mid-upload fails the put with a clear error, leaves nothing listed, and the next call reconnects', async () => {
    const srv = await sshd();
    const root = await freshRoot(srv);
    const proxy = await startProxy(srv.port);
    const s = new SshStorage({ host: srv.host, port: proxy.port, root, username: srv.user, privateKeyPath: srv.privateKeyPath });
    try {
      await s.put('before', Buffer.from('ok'));
      let sent = 0;
      const body = new Readable({
        read() {
          sent += 1;
          if (sent === 40) proxy.drop();
          if (sent > 400) { this.push(null); return; }
          setTimeout(() => this.push(randomBytes(64 * 1024)), 1);
        },
      });
      const t0 = Date.now();
      await assert.rejects(s.put('wal_005/000000010000000000000002.lz4', body), (e: unknown) => {
        assert.ok(e instanceof StorageError, `StorageError expected, got ${String(e)}`);
        assert.match((e as Error).message, /^ssh storage: could not write 'wal_005\/000000010000000000000002\.lz4': /);
        assert.ok(!(e as Error).message.includes('\n'), 'one line');
        assert.equal((e as StorageError).transient, true);
        return true;
      });
      assert.ok(Date.now() - t0 < 10_000, 'fails promptly');
      // Nothing was published under the final name (the temp file may remain, unlisted).
      const direct = new SshStorage({ host: srv.host, port: srv.port, root, username: srv.user, privateKeyPath: srv.privateKeyPath });
      try {
        assert.deepEqual(await collect(direct.list('', { recursive: true })), ['before']);
        assert.equal(await direct.exists('wal_005/000000010000000000000002.lz4'), false);
      } finally { await direct.close(); }
      // The same storage object reconnects on its next call.
      await s.put('after', Buffer.from('reconnected'));
      assert.equal((await readAll(await s.get('after'))).toString(), 'reconnected');
      // With the server gone for good, calls fail with a transient (retryable) error.
      await proxy.kill();
      await assert.rejects(s.stat('before'), (e: unknown) => e instanceof StorageError && (e as StorageError).transient);
    } finally { await s.close(); await proxy.kill(); }
  });

  test('a server that stops answering mid-upload is detected by keepalive and the put fails', async () => {
    const srv = await sshd();
    const root = await freshRoot(srv);
    const proxy = await startProxy(srv.port);
    const s = new SshStorage({ host: srv.host, port: proxy.port, root, username: srv.user, privateKeyPath: srv.privateKeyPath, keepaliveIntervalMs: 500, keepaliveCountMax: 2 });
    try {
      await s.put('before', Buffer.from('ok'));
      let sent = 0;
      const body = new Readable({
        read() {
          sent += 1;
          if (sent === 20) proxy.freeze();
          if (sent > 2000) { this.push(null); return; }
          this.push(randomBytes(64 * 1024));
        },
      });
      const t0 = Date.now();
      await assert.rejects(s.put('frozen/obj', body), (e: unknown) => e instanceof StorageError && (e as StorageError).transient);
      assert.ok(Date.now() - t0 < 15_000, `fails within the keepalive budget (took ${Date.now() - t0} ms)`);
    } finally { await s.close(); await proxy.kill(); }
    const direct = new SshStorage({ host: srv.host, port: srv.port, root, username: srv.user, privateKeyPath: srv.privateKeyPath });
    try { assert.deepEqual(await collect(direct.list('', { recursive: true })), ['before']); } finally { await direct.close(); }
  });
});

test('PostgreSQL 15 round trip through SSH storage: wal-push, backup-push, backup-fetch, wal-fetch', { timeout: 180_000 }, async (t) => {
  const srv = await sshd();
  // archive_command and restore_command run as the cluster's OS user: give it its own copy of the client key.
  const keyDir = userTempDir('walg-ssh-key-');
  const key = join(keyDir, 'id_ed25519');
  await copyFile(srv.privateKeyPath, key);
  const id = pgIdentity();
  await chown(key, id.uid, id.gid);
  try {
    const r = await pgStorageRoundTrip(t, {
      WALG_SSH_PREFIX: `ssh://${srv.host}${await freshRoot(srv)}/walg`, SSH_PORT: String(srv.port),
      SSH_USERNAME: srv.user, SSH_PRIVATE_KEY_PATH: key,
    });
    t.diagnostic(`backup ${r.backup}, ${r.archived} WAL files archived, ${r.seconds.toFixed(1)} s`);
  } finally {
    await rm(keyDir, { recursive: true, force: true });
  }
});
