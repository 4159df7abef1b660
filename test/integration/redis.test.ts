// Redis backups on a real redis-server 7 (issue 19, acceptance 1-3), through dist/wal-g as `wal-g redis`:
// - RDB: 100,000 keys of mixed types, backup-push, more writes, the server stopped and its data removed,
//   backup-fetch LATEST, the server started on the restored dump.rdb: DEBUG DIGEST equals the one at backup time.
// - AOF: the same with appendonly yes (Redis 7 multi-part AOF) and a BGREWRITEAOF that runs while the push uploads
//   (slowed by WALG_NETWORK_RATE_LIMIT): the backup holds the pre-rewrite files the rewrite deleted (pinned), and
//   restores to the digest taken before the push.
// - delete --retain-count/--retain-after: the dry run removes nothing; --confirm removes exactly the expected
//   backups; a permanent one survives.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, walg, WALG_BIN } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startRedis, writeMixedKeys } from '../servers/redis.ts';
import type { RedisServer } from '../servers/redis.ts';

const servers: RedisServer[] = [];
after(async () => { for (const s of servers) await s.remove(); });

function envFor(s: RedisServer, store: string, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({ WALG_FILE_PREFIX: store, ...s.settings(), ...extra });
}

async function ok(args: string[], env: Record<string, string>): Promise<string> {
  const r = await walg(['redis', ...args], env);
  assert.equal(r.code, 0, `wal-g redis ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout.toString();
}

/** Backup names, oldest first, from backup-list --json. */
async function names(env: Record<string, string>): Promise<string[]> {
  return (JSON.parse(await ok(['backup-list', '--json'], env)) as Array<{ backup_name: string }>).map((b) => b.backup_name);
}

describe('redis RDB backups', () => {
  test('100,000 mixed keys: push, more writes, wipe, fetch LATEST, the digest at backup time', async () => {
    const s = await startRedis();
    servers.push(s);
    const store = tempDir('walg-redis-store-');
    const env = envFor(s, store);
    writeMixedKeys(s, 100_000, 'a');
    assert.equal(s.cli(['DBSIZE']).stdout.trim(), '100000');
    const atBackup = s.digest();
    await ok(['backup-push'], env);
    writeMixedKeys(s, 20_000, 'b');
    s.cli(['DEL', 's:a:0', 'h:a:1']);
    assert.notEqual(s.digest(), atBackup);
    const [name] = await names(env);
    assert.match(name!, /^stream_\d{8}T\d{6}Z$/);
    const sentinel = JSON.parse(readFileSync(join(store, 'basebackups_005', `${name}_backup_stop_sentinel.json`), 'utf8'));
    assert.equal(sentinel.BackupType, 'rdb');
    assert.ok(sentinel.UsedMemory > 0 && sentinel.UsedMemoryRss > 0 && sentinel.DataSize > 1_000_000 && sentinel.BackupSize > 0, JSON.stringify(sentinel));
    assert.equal(sentinel.Permanent, false);
    await s.stop();
    s.wipeData();
    mkdirSync(s.dataDir);
    await ok(['backup-fetch', 'LATEST'], env);
    await s.start();
    assert.equal(s.digest(), atBackup);
    assert.equal(s.cli(['DBSIZE']).stdout.trim(), '100000');
  });
});

describe('redis AOF backups', () => {
  test('multi-part AOF with a BGREWRITEAOF during the push restores to the digest before it', async () => {
    const s = await startRedis({ appendonly: true });
    servers.push(s);
    const store = tempDir('walg-redis-aof-');
    const env = envFor(s, store, { WALG_NETWORK_RATE_LIMIT: String(3 << 20), WALG_COMPRESSION_METHOD: 'lz4' });
    writeMixedKeys(s, 100_000, 'a');
    const manifest = join(s.dataDir, 'appendonlydir', 'appendonly.aof.manifest');
    const before = readFileSync(manifest, 'utf8');
    const atBackup = s.digest();
    // The push is watched: once it uploads its first part, a rewrite starts and finishes under it.
    const child = spawn(WALG_BIN, ['redis', 'backup-push', '--type', 'aof'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let rewrote = false;
    const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr += c;
      if (!rewrote && stderr.includes('Starting part 1')) {
        rewrote = true;
        assert.match(s.cli(['BGREWRITEAOF']).stdout, /rewriting started/);
      }
    });
    assert.equal(await done, 0, stderr);
    assert.ok(rewrote, stderr);
    await s.waitRewrite();
    const afterRewrite = readFileSync(manifest, 'utf8');
    assert.notEqual(afterRewrite, before, 'the rewrite replaced the manifest');
    const [name] = await names(env);
    assert.match(name!, /^aof_\d{8}T\d{6}Z$/);
    const part = join(store, 'basebackups_005', name!, 'tar_partitions', 'part_001.tar.lz4');
    const members = spawnSync('sh', ['-c', `lz4 -dc '${part}' | tar tf -`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((m) => m.replace(/^\//, ''));
    const nowInDir = new Set(readdirSync(join(s.dataDir, 'appendonlydir')));
    assert.ok(members.includes('appendonly.aof.manifest'), members.join(','));
    assert.ok(members.some((m) => m !== 'appendonly.aof.manifest' && !nowInDir.has(m)), `a pinned pre-rewrite file: ${members.join(',')} vs ${[...nowInDir].join(',')}`);
    assert.ok(!existsSync(join(s.dataDir, 'wal-g', 'appendonly.aof.1.base.rdb')), 'pins removed');
    const sentinel = JSON.parse(readFileSync(join(store, 'basebackups_005', `${name}_backup_stop_sentinel.json`), 'utf8'));
    assert.equal(sentinel.BackupType, 'aof');
    assert.match(sentinel.Version, /^7\./);
    writeMixedKeys(s, 10_000, 'b');
    await s.stop();
    s.wipeData();
    await ok(['backup-fetch', 'LATEST', '--type', 'aof', '--redis-version', sentinel.Version], env);
    await s.start();
    assert.equal(s.digest(), atBackup);
  });
});

describe('redis delete', () => {
  test('--retain-count and --retain-after: dry run keeps all, confirm removes exactly the expected, permanent survives', async () => {
    const s = await startRedis();
    servers.push(s);
    const store = tempDir('walg-redis-del-');
    const env = envFor(s, store);
    writeMixedKeys(s, 100, 'a');
    await ok(['backup-push'], env); // A
    await ok(['backup-push', '--permanent'], env); // B
    await ok(['backup-push'], env); // C
    await new Promise((r) => setTimeout(r, 50));
    const between = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await new Promise((r) => setTimeout(r, 1100));
    await ok(['backup-push'], env); // D
    await ok(['backup-push'], env); // E
    const all = await names(env);
    assert.equal(all.length, 5);
    const [a, b, c, d, e] = all;
    const dry = await walg(['redis', 'delete', '--retain-count', '1', '--retain-after', between], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, new RegExp(`Backups selected to be deleted: \\[${c} ${a}\\]`));
    assert.deepEqual(await names(env), all);
    await ok(['delete', '--retain-count', '1', '--retain-after', between, '--confirm'], env);
    assert.deepEqual(await names(env), [b, d, e]);
    const files = (n: string) => { const d = join(store, 'basebackups_005', n); return existsSync(d) ? readdirSync(d, { recursive: true }).filter((f) => !statSync(join(d, String(f))).isDirectory()) : []; };
    assert.deepEqual([...files(a!), ...files(c!)], [], 'no objects of the deleted backups are left');
    await ok(['delete', '--retain-count', '1', '--confirm'], env);
    assert.deepEqual(await names(env), [b, e], 'the permanent backup survives and does not count');
    await ok(['backup-delete', e!, '--confirm'], env);
    assert.deepEqual(await names(env), [b]);
    const zero = await walg(['redis', 'delete', '--retain-count', '0'], env);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /Retain count can not be 0/);
  });
});
