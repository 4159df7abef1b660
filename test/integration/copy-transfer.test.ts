// `copy` and `st transfer` through the CLI: byte-identical copies (file -> file, file -> SSH), resumed after the
// target's connection died mid-copy with no sentinel published before its data, and st transfer moving WAL and
// whole backups from a failover storage to the primary (sentinel last at the target, first off the source).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { SshStorage } from '../../src/storage/drivers/ssh.ts';
import { readAll } from '../../src/storage/body.ts';
import type { Storage } from '../../src/storage/types.ts';
import { populate, BACKUPS, LEFTOVERS, WAL_NAMES, backupKeys } from '../helpers/catalog-fixture.ts';
import { startSshd, startProxy } from '../servers/sshd.ts';
import type { SshServer } from '../servers/sshd.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { WAL_PATH, SENTINEL_SUFFIX } from '../../src/backup/layout.ts';

const temps: string[] = [];
let server: Promise<SshServer> | undefined;
const sshd = (): Promise<SshServer> => (server ??= startSshd());
after(async () => {
  if (server) await (await server).stop();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

async function contents(s: Storage): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of s.list('', { recursive: true })) out.set(e.key, (await readAll(await s.get(e.key))).toString('base64'));
  return out;
}

function cfgFile(dir: string, name: string, settings: Record<string, unknown>): string {
  const f = join(dir, `${name}.json`);
  writeFileSync(f, JSON.stringify(settings));
  return f;
}

function assertLogShape(stderr: string): void {
  for (const l of stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE, `log line shape: ${l}`);
}

test('copy file -> file: every backup with its WAL history, byte for byte; a rerun copies nothing', async () => {
  const dir = tmp('walg-copy-');
  const src = new FileStorage(join(dir, 'src'));
  await populate(src, { leftovers: true });
  const from = cfgFile(dir, 'from', { WALG_FILE_PREFIX: join(dir, 'src') });
  const to = cfgFile(dir, 'to', { WALG_FILE_PREFIX: join(dir, 'dst') });
  const r = await walg(['copy', '--from', from, '--to', to, '--with-history'], baseEnv({ HOME: dir }));
  assert.equal(r.code, 0, r.stderr);
  assertLogShape(r.stderr);
  assert.match(r.stderr, /Success copy\.$/m);
  const expected = await contents(src);
  for (const k of LEFTOVERS) expected.delete(k); // no sentinel: not a backup
  expected.delete(`${WAL_PATH}${WAL_NAMES[0]}`); // older than the oldest backup
  assert.deepEqual(await contents(new FileStorage(join(dir, 'dst'))), expected);

  const again = await walg(['copy', '--from', from, '--to', to, '-w'], baseEnv({ HOME: dir }));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`Copied 0 objects, ${expected.size} already present`));

  // One backup by name without -w: its delta chain and the WAL up to its finish segment only.
  const one = cfgFile(dir, 'one', { WALG_FILE_PREFIX: join(dir, 'one') });
  const d1b = BACKUPS.find((b) => b.name.startsWith('base_000000010000000000000009'))!;
  const r1 = await walg(['copy', '-f', from, '-t', one, '-b', d1b.name], baseEnv({ HOME: dir }));
  assert.equal(r1.code, 0, r1.stderr);
  const got = [...(await contents(new FileStorage(join(dir, 'one')))).keys()];
  const chain = BACKUPS.filter((b) => ['05', '07', '09'].includes(b.name.slice(27, 29))).flatMap((b) => backupKeys(b.name));
  const wal = got.filter((k) => k.startsWith(WAL_PATH));
  assert.deepEqual(got.filter((k) => !k.startsWith(WAL_PATH)).sort(), chain.sort());
  assert.ok(wal.includes(`${WAL_PATH}000000010000000000000009.lz4`) && wal.includes(`${WAL_PATH}00000001000000000000000A.lz4`));
  assert.ok(!wal.includes(`${WAL_PATH}00000001000000000000000B.lz4`), 'nothing after the finish segment');

  const missing = await walg(['copy', '-f', from, '-t', one, '-b', 'base_0000000100000000000000FF'], baseEnv({ HOME: dir }));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr.trim().split('\n').at(-1)!, /^ERROR: .*Backup 'base_0000000100000000000000FF' does not exist\.$/);
});

test('copy file -> ssh interrupted mid-way (connection killed) publishes no sentinel before its data; the rerun resumes and completes', async () => {
  const srv = await sshd();
  const dir = tmp('walg-copy-ssh-');
  const src = new FileStorage(join(dir, 'src'));
  await populate(src);
  const root = join(srv.dir, `copy-${Date.now()}`);
  const proxy = await startProxy(srv.port);
  const ssh = (port: number) => ({ WALG_SSH_PREFIX: `ssh://${srv.host}${root}`, SSH_PORT: String(port), SSH_USERNAME: srv.user, SSH_PRIVATE_KEY_PATH: srv.privateKeyPath, WALG_DOWNLOAD_FILE_RETRIES: '0' });
  const from = cfgFile(dir, 'from', { WALG_FILE_PREFIX: join(dir, 'src') });
  const target = new SshStorage({ host: srv.host, port: srv.port, root, username: srv.user, privateKeyPath: srv.privateKeyPath });
  try {
    proxy.killAfterUpBytes(60_000);
    const cut = await walg(['copy', '--from', from, '--to', cfgFile(dir, 'proxied', ssh(proxy.port)), '-w'], baseEnv({ HOME: dir }));
    assert.equal(cut.code, 1, cut.stderr);
    assertLogShape(cut.stderr);
    const partial = await contents(target);
    assert.ok(partial.size > 0, 'some objects were copied before the cut');
    for (const k of partial.keys()) {
      if (!k.endsWith(SENTINEL_SUFFIX)) continue;
      const name = k.slice('basebackups_005/'.length, -SENTINEL_SUFFIX.length);
      for (const dep of backupKeys(name)) assert.ok(partial.has(dep), `sentinel ${name} visible only with its data (${dep})`);
    }
    const resumed = await walg(['copy', '--from', from, '--to', cfgFile(dir, 'direct', ssh(srv.port)), '-w'], baseEnv({ HOME: dir }));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`already present`));
    const expected = await contents(src);
    expected.delete(`${WAL_PATH}${WAL_NAMES[0]}`);
    assert.deepEqual(await contents(target), expected);
  } finally {
    await target.close();
    await proxy.kill();
  }
});

test('st transfer pg-wals / backups move objects from a failover to the primary; --preserve copies', async () => {
  const dir = tmp('walg-transfer-');
  const primary = new FileStorage(join(dir, 'primary'));
  const fo = new FileStorage(join(dir, 'fo'));
  const few = BACKUPS.slice(0, 3);
  await populate(fo, { backups: few });
  const before = await contents(fo);
  const cfg = cfgFile(dir, 'walg', {
    WALG_FILE_PREFIX: join(dir, 'primary'),
    WALG_FAILOVER_STORAGES: { fo: { WALG_FILE_PREFIX: join(dir, 'fo') } },
  });
  const env = baseEnv({ HOME: dir });
  const same = await walg(['st', 'transfer', 'pg-wals', '--source', 'default', '--config', cfg], env);
  assert.equal(same.code, 1);
  assert.match(same.stderr, /source and target storages must be different/);

  const wals = await walg(['st', 'transfer', 'pg-wals', '--source', 'fo', '--appearance-checks', '1', '--config', cfg], env);
  assert.equal(wals.code, 0, wals.stderr);
  assertLogShape(wals.stderr);
  const p1 = await contents(primary);
  assert.deepEqual([...p1.keys()].sort(), [...before.keys()].filter((k) => k.startsWith(WAL_PATH)).sort());
  for (const [k, v] of p1) assert.equal(v, before.get(k), `byte-identical ${k}`);
  assert.ok([...(await contents(fo)).keys()].every((k) => !k.startsWith(WAL_PATH)), 'moved, not copied');

  const kept = await walg(['st', 'transfer', 'backups', few[0]!.name, '--source', 'fo', '--preserve', '--config', cfg], env);
  assert.equal(kept.code, 0, kept.stderr);
  for (const k of backupKeys(few[0]!.name)) {
    assert.equal((await contents(primary)).get(k), before.get(k));
    assert.ok(await fo.exists(k), `--preserve leaves ${k} in the source`);
  }
  const all = await walg(['st', 'transfer', 'backups', '--source', 'fo', '-c', '4', '--config', cfg], env);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(await contents(primary), before);
  // The preserved backup was already complete at the target: it is not moved again (no --overwrite), so it stays.
  assert.deepEqual([...(await contents(fo)).keys()].sort(), backupKeys(few[0]!.name).sort());
  const list = await walg(['backup-list', '--config', cfg], env);
  assert.equal(list.code, 0, list.stderr);
  for (const b of few) assert.match(list.stdout.toString(), new RegExp(b.name));
});
