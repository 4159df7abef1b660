// Interop for Redis (issue 19, acceptance 5) on a real redis-server 7, both directions: WAL-G v3.0.9's wal-g-redis
// (WALG_REFERENCE_REDIS) and ours (`wal-g redis`) each push an RDB and an AOF backup of the same data; the other
// tool lists them, restores each (the RDB through WALG_STREAM_RESTORE_COMMAND, the AOF set into the data path) and
// the restarted server's DEBUG DIGEST equals the writer's; backup-info --tag reads the sentinel, and delete
// --retain-count 1 --confirm by the reader leaves the writer one backup. Both tools' sentinels have the same keys
// in the same order. Skipped without WALG_REFERENCE_REDIS.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { startRedis, writeMixedKeys } from '../servers/redis.ts';
import type { RedisServer } from '../servers/redis.ts';
import { OURS, REFERENCE, ok, writeConfig } from './harness.ts';
import type { Tool } from './harness.ts';

const skip = REFERENCE.redis ? false : 'WALG_REFERENCE_REDIS is not set';

interface RedisTool { name: Tool['name']; tool: Tool; prefix: string[] }
const R_OURS: RedisTool = { name: 'ours', tool: OURS, prefix: ['redis'] };
const R_WALG: RedisTool = { name: 'walg', tool: { name: 'walg', bin: REFERENCE.redis ?? '/nonexistent/wal-g-redis' }, prefix: [] };

const servers: RedisServer[] = [];
after(async () => { for (const s of servers) await s.remove(); });
const sentinelKeys: Record<string, string[][]> = { ours: [], walg: [] };

async function redis(t: RedisTool, cfg: string, env: Record<string, string>, args: string[]) {
  return ok(t.tool, cfg, [...t.prefix, ...args], env);
}

describe('redis interop', { skip }, () => {
  for (const [writer, reader] of [[R_WALG, R_OURS], [R_OURS, R_WALG]] as const) {
    test(`${writer.name} pushes RDB and AOF, ${reader.name} lists, restores both and deletes`, async () => {
      const s = await startRedis({ appendonly: true });
      servers.push(s);
      const work = tempDir('walg-redis-interop-');
      const cfg = writeConfig(work, { WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4' });
      // The Redis settings go in the environment: WAL-G reads WALG_REDIS_HOST/_PORT only from there.
      mkdirSync(join(work, 'store'));
      const env = s.settings();
      writeMixedKeys(s, 20_000, 'x');
      const digest = s.digest();
      await redis(writer, cfg, env, ['backup-push']);
      await new Promise((r) => setTimeout(r, 1100));
      await redis(writer, cfg, env, ['backup-push', '--type', 'aof']);
      writeMixedKeys(s, 1000, 'later');
      const list = JSON.parse((await redis(reader, cfg, env, ['backup-list', '--detail', '--json'])).out) as Array<{ BackupName: string; BackupType: string; Version?: string }>;
      assert.deepEqual(list.map((b) => b.BackupType), ['rdb', 'aof']);
      const [rdb, aof] = list.map((b) => b.BackupName);
      for (const n of [rdb!, aof!]) {
        const raw = JSON.parse(readFileSync(join(work, 'store', 'basebackups_005', `${n}_backup_stop_sentinel.json`), 'utf8'));
        sentinelKeys[writer.name]!.push(Object.keys(raw));
      }
      assert.equal((await redis(reader, cfg, env, ['backup-info', aof!, '--tag', 'BackupType'])).out.trim(), 'aof');
      const version = (await redis(reader, cfg, env, ['backup-info', aof!, '--tag', 'Version'])).out.trim();
      assert.match(version, /^7\./);

      await s.stop();
      s.wipeData();
      mkdirSync(s.dataDir);
      await redis(reader, cfg, env, ['backup-fetch', rdb!]);
      s.appendonly = false;
      await s.start();
      assert.equal(s.digest(), digest, `${reader.name} restored ${writer.name}'s RDB`);
      await s.stop();
      s.wipeData();
      mkdirSync(s.dataDir);
      // WAL-G refuses while any redis-server runs on the host (other tests may run one): its checks are skipped.
      const checks = reader.name === 'walg' ? ['--skip-checks'] : [];
      await redis(reader, cfg, env, ['backup-fetch', aof!, '--type', 'aof', '--redis-version', version, ...checks]);
      s.appendonly = true;
      await s.start();
      assert.equal(s.digest(), digest, `${reader.name} restored ${writer.name}'s AOF`);

      await redis(reader, cfg, env, ['delete', '--retain-count', '1', '--confirm']);
      const left = (await redis(writer, cfg, env, ['backup-list'])).out;
      assert.ok(left.includes(aof!) && !left.includes(rdb!), left);
      await s.remove();
    });
  }

  test('both tools write sentinels with the same keys in the same order', { skip: skip || undefined }, () => {
    assert.equal(sentinelKeys.ours!.length, 2);
    assert.deepEqual(sentinelKeys.ours, sentinelKeys.walg);
  });
});
