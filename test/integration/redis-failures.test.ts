// Redis bad input (issue 19, acceptance 4) on a real redis-server 7: a wrong password, a stream command that fails,
// a server killed during an AOF push, and a fetch onto a data path whose server still runs. Each ends with one
// ERROR line and exit 1; nothing is listed, no object is left behind, and the data path is not touched.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, walg, WALG_BIN, LOG_LINE } from '../helpers/cli.ts';
import type { RunResult } from '../helpers/cli.ts';
import { assertOneLineFailure } from '../helpers/mysql.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startRedis, writeMixedKeys } from '../servers/redis.ts';
import type { RedisServer } from '../servers/redis.ts';

let s: RedisServer;
before(async () => {
  s = await startRedis({ appendonly: true });
  writeMixedKeys(s, 100_000, 'a');
});
after(async () => { await s?.remove(); });

function envFor(store: string, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({ WALG_FILE_PREFIX: store, ...s.settings(), ...extra });
}

/** Every object in the store (none after a failed push: the partial upload is removed). */
function objects(store: string): string[] {
  const d = join(store, 'basebackups_005');
  if (!existsSync(d)) return [];
  return (readdirSync(d, { recursive: true }) as string[]).filter((f) => statSync(join(d, f)).isFile());
}

async function assertNothingListed(store: string): Promise<void> {
  const r = await walg(['redis', 'backup-list', '--json'], envFor(store));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.toString()), []);
  assert.deepEqual(objects(store), []);
}

describe('redis bad input', () => {
  test('a wrong password: one line, exit 1, nothing listed', async () => {
    const store = tempDir('walg-redis-bad-');
    for (const type of ['rdb', 'aof']) {
      const r = await walg(['redis', 'backup-push', '--type', type], envFor(store, { WALG_REDIS_PASSWORD: 'not-the-password' }));
      assertOneLineFailure(r, /Redis refused the credentials .*WRONGPASS/);
    }
    await assertNothingListed(store);
  });

  test('a stream command that fails: one line with its status, exit 1, the partial upload removed', async () => {
    const store = tempDir('walg-redis-bad-');
    const r = await walg(['redis', 'backup-push'], envFor(store, { WALG_STREAM_CREATE_COMMAND: 'head -c 3000000 /dev/urandom; echo "rdb: broken" >&2; exit 3' }));
    assertOneLineFailure(r, /backup create command failed: exit status 3: rdb: broken/);
    await assertNothingListed(store);
  });

  test('the server killed during an AOF push: one line, exit 1, nothing listed', async () => {
    const store = tempDir('walg-redis-bad-');
    const env = envFor(store, { WALG_NETWORK_RATE_LIMIT: String(2 << 20) });
    const child = spawn(WALG_BIN, ['redis', 'backup-push', '--type', 'aof'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killed: Promise<void> | undefined;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr += c;
      if (!killed && stderr.includes('Starting part 1')) killed = s.kill();
    });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    assert.ok(killed, stderr);
    await killed;
    const r: RunResult = { code, stdout: Buffer.alloc(0), stderr };
    assertOneLineFailure(r, /the Redis server went away during the AOF backup/);
    await assertNothingListed(store);
    assert.deepEqual(readdirSync(join(s.dataDir, 'wal-g')), [], 'the pins are removed');
    await s.start();
  });

  test('a fetch onto the data path of a running server: refused before anything is removed', async () => {
    const store = tempDir('walg-redis-bad-');
    const env = envFor(store);
    const push = await walg(['redis', 'backup-push', '--type', 'aof'], env);
    assert.equal(push.code, 0, push.stderr);
    const manifest = join(s.dataDir, 'appendonlydir', 'appendonly.aof.manifest');
    const before = readFileSync(manifest, 'utf8');
    const files = readdirSync(join(s.dataDir, 'appendonlydir')).sort();
    const aof = await walg(['redis', 'backup-fetch', 'LATEST', '--type', 'aof', '--redis-version', '7.0'], env);
    assertOneLineFailure(aof, /redis-server \(pid \d+\) is running on .*: stop it before restoring/);
    const rdb = await walg(['redis', 'backup-fetch', 'LATEST'], env);
    assertOneLineFailure(rdb, /redis-server \(pid \d+\) is running on /);
    assert.equal(readFileSync(manifest, 'utf8'), before);
    assert.deepEqual(readdirSync(join(s.dataDir, 'appendonlydir')).sort(), files);
    const old = await walg(['redis', 'backup-fetch', 'LATEST', '--type', 'aof', '--redis-version', '6.2'], env);
    assertOneLineFailure(old, /could not be restored to version 6\.2/);
    const tiered = await walg(['redis', 'backup-push', '--type', 'rdb_ts'], env);
    assertOneLineFailure(tiered, /tiered-storage backups are not supported/);
    for (const l of tiered.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE);
  });
});
