// Failover storages on memory/file storages with injected faults: config parsing (order, reserved name, settings
// inheritance), the alive checks and their cache (lifetime, shared file), first-alive for writers, the merged read
// view for readers, and CommandContext routing by command.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { withFaults } from '../../src/storage/wrap/fault.ts';
import { StorageSet, failoverConfig, failoverConfigs, mergedStorage, CHECK_OBJECT } from '../../src/storage/failover/failover.ts';
import type { FailoverSettings } from '../../src/storage/failover/failover.ts';
import { readAll } from '../../src/storage/body.ts';
import { CommandContext } from '../../src/commands/context.ts';
import { StorageError } from '../../src/core/errors.ts';
import type { Storage } from '../../src/storage/types.ts';

async function keys(s: Storage, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list(prefix, { recursive: true })) out.push(e.key);
  return out;
}

function settings(dir: string, extra: Partial<FailoverSettings> = {}): FailoverSettings {
  return { check: true, checkTimeoutMs: 2000, checkSize: 1024, cacheLifetimeMs: 60_000, cacheDir: dir, ...extra };
}

describe('failover configuration', () => {
  test('failovers come sorted by lower-cased name; "default" is reserved; settings inherit from the root config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walg-fo-cfg-'));
    try {
      const file = join(dir, 'walg.yaml');
      await writeFile(file, [
        'WALG_FILE_PREFIX: /primary',
        'AWS_ACCESS_KEY_ID: root-key',
        'WALG_FAILOVER_STORAGES:',
        '  Zeta:',
        '    WALG_FILE_PREFIX: /zeta',
        '  alpha:',
        '    WALE_S3_PREFIX: s3://bucket/path',
        '    AWS_ENDPOINT: http://127.0.0.1:1',
        '',
      ].join('\n'));
      const config = await loadConfig({ env: {}, configPath: file });
      const fos = failoverConfigs(config);
      assert.deepEqual(fos.map((f) => f.name), ['alpha', 'zeta']);
      const alpha = failoverConfig(config, 'alpha', fos[0]!.settings);
      assert.equal(alpha.get('WALG_S3_PREFIX'), 's3://bucket/path');
      assert.equal(alpha.get('WALG_FILE_PREFIX'), undefined, 'the primary prefix is not inherited');
      assert.equal(alpha.get('AWS_ACCESS_KEY_ID'), 'root-key', 'other settings fall back to the root config');
      assert.equal(alpha.get('AWS_ENDPOINT'), 'http://127.0.0.1:1');

      await writeFile(file, 'WALG_FILE_PREFIX: /p\nWALG_FAILOVER_STORAGES:\n  default:\n    WALG_FILE_PREFIX: /x\n');
      const reserved = await loadConfig({ env: {}, configPath: file });
      assert.throws(() => failoverConfigs(reserved), /'default' is reserved/);
      assert.throws(() => failoverConfig(config, 'empty', { AWS_REGION: 'x' }), /no storage prefix/);
    } finally { await rm(dir, { recursive: true, force: true }); }
  });
});

describe('storage set', () => {
  test('writers get the first alive storage; the dead primary is remembered in the cache file for its lifetime', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walg-fo-'));
    try {
      const primary = withFaults(new MemoryStorage('default'), [{ op: 'put', times: Infinity, error: () => new StorageError('disk full') }]);
      const a = new MemoryStorage('a');
      const b = new MemoryStorage('b');
      const make = () => new StorageSet([
        { name: 'default', key: 'default#1', storage: primary }, { name: 'a', key: 'a#2', storage: a }, { name: 'b', key: 'b#3', storage: b },
      ], settings(dir), true);
      const set = make();
      const w = await set.firstAlive();
      assert.equal(w.name, 'a');
      await w.storage.put('wal_005/x.lz4', Buffer.from('x'));
      assert.deepEqual(await keys(a), ['wal_005/x.lz4']);
      assert.deepEqual(await keys(b), [], 'the check object was deleted again');
      await set.close();
      const cache = JSON.parse(await readFile(join(dir, '.walg_storage_rw_status_cache'), 'utf8')) as Record<string, { previous_aliveness: boolean }>;
      assert.equal(cache['default#1']!.previous_aliveness, false);
      assert.equal(cache['a#2']!.previous_aliveness, true);

      // A new run within the lifetime trusts the cache: no new check touches the primary.
      const putsBefore = primary.calls.put;
      assert.equal((await make().firstAlive()).name, 'a');
      assert.equal(primary.calls.put, putsBefore);
      // Checks off: every storage counts as alive, the primary is used.
      const off = new StorageSet([{ name: 'default', key: 'default#1', storage: primary }, { name: 'a', key: 'a#2', storage: a }], settings(dir, { check: false }), true);
      assert.equal((await off.firstAlive()).name, 'default');
    } finally { await rm(dir, { recursive: true, force: true }); }
  });

  test('an expired status is checked again: a recovered primary takes the writes back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walg-fo-'));
    try {
      let broken = true;
      const inner = new MemoryStorage('default');
      const primary: Storage = { ...inner, name: 'default', type: 'memory',
        put: async (k, body, o) => { if (broken) throw new StorageError('down'); return inner.put(k, body, o); },
        get: (k, o) => inner.get(k, o), stat: (k) => inner.stat(k), exists: (k) => inner.exists(k),
        list: (p, o) => inner.list(p, o), delete: (k) => inner.delete(k), close: () => inner.close() };
      const fo = new MemoryStorage('fo');
      const make = () => new StorageSet([{ name: 'default', key: 'd#x', storage: primary }, { name: 'fo', key: 'f#x', storage: fo }], settings(dir, { cacheLifetimeMs: 50 }), true);
      assert.equal((await make().firstAlive()).name, 'fo');
      broken = false;
      await new Promise((r) => setTimeout(r, 80));
      assert.equal((await make().firstAlive()).name, 'default');
    } finally { await rm(dir, { recursive: true, force: true }); }
  });

  test('a check that hangs is cut by the timeout; all dead is a clear error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walg-fo-'));
    try {
      const hang: Storage = { ...new MemoryStorage('default'), name: 'default', type: 'memory',
        async *list() { await new Promise(() => {}); },
        put: async () => {}, get: async () => { throw new Error('x'); }, stat: async () => { throw new Error('x'); },
        exists: async () => false, delete: async () => {}, close: async () => {} };
      const dead = withFaults(new MemoryStorage('fo'), [{ op: 'list', times: Infinity }]);
      const set = new StorageSet([{ name: 'default', key: 'h#1', storage: hang }, { name: 'fo', key: 'd#1', storage: dead }], settings(dir, { checkTimeoutMs: 200 }), true);
      const t0 = Date.now();
      await assert.rejects(set.firstAlive(), /no alive storages among \[default fo\]/);
      assert.ok(Date.now() - t0 < 2000);
      await assert.rejects(set.specific('fo'), /storage 'fo' is not alive/);
      assert.throws(() => set.byName('nope'), /available storages: \[default fo\]/);
    } finally { await rm(dir, { recursive: true, force: true }); }
  });

  test('readers see every alive storage merged, found-first', async () => {
    const p = new MemoryStorage('default');
    const f = new MemoryStorage('fo');
    await p.put('wal_005/1', Buffer.from('primary-1'));
    await p.put('same', Buffer.from('from-primary'));
    await f.put('wal_005/2', Buffer.from('failover-2'));
    await f.put('same', Buffer.from('from-failover'));
    const m = mergedStorage([{ name: 'default', storage: p }, { name: 'fo', storage: f }]);
    assert.equal(m.name, 'default fo');
    assert.equal((await readAll(await m.get('wal_005/2'))).toString(), 'failover-2');
    assert.equal((await readAll(await m.get('same'))).toString(), 'from-primary');
    assert.equal(await m.exists('wal_005/2'), true);
    assert.equal(await m.exists('nope'), false);
    await assert.rejects(m.get('nope'), /not found in storage/);
    assert.deepEqual((await keys(m)).sort(), ['same', 'wal_005/1', 'wal_005/2']);
    await m.delete(['same']);
    assert.equal(await p.exists('same'), false);
    assert.equal(await f.exists('same'), false);
    assert.equal(CHECK_OBJECT, 'wal-g_storage_check');
  });
});

describe('CommandContext routing', () => {
  test('wal-push writes to the first alive storage, wal-fetch reads across all, st uses the named storage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walg-fo-ctx-'));
    const home = process.env.HOME;
    process.env.HOME = dir;
    try {
      const file = join(dir, 'walg.json');
      // The primary's root is a regular file: listing works (nothing there) but every write fails.
      await writeFile(join(dir, 'not-a-dir'), '');
      await writeFile(file, JSON.stringify({
        WALG_FILE_PREFIX: join(dir, 'not-a-dir'),
        WALG_FAILOVER_STORAGES: { second: { WALG_FILE_PREFIX: join(dir, 'second') }, first: { WALG_FILE_PREFIX: join(dir, 'first') } },
        WALG_FAILOVER_STORAGES_CHECK_TIMEOUT: '2s',
      }));
      const config = await loadConfig({ env: {}, configPath: file, home: dir });
      const ac = new AbortController();
      const push = new CommandContext(config, ac.signal, false, 'write');
      const w = await push.storage();
      assert.equal(w.name, 'first');
      await w.put('wal_005/000000010000000000000001.lz4', Buffer.from('seg'));
      await push.close();
      const fetch = new CommandContext(config, ac.signal, false, 'read');
      const r = await fetch.storage();
      assert.equal(r.name, 'default first second');
      assert.equal((await readAll(await r.get('wal_005/000000010000000000000001.lz4'))).toString(), 'seg');
      assert.deepEqual(await fetch.storageNames(), ['default', 'first', 'second']);
      await fetch.close();
      const st = new CommandContext(config, ac.signal, false, 'none');
      assert.equal((await st.storage('second')).name, 'second');
      await assert.rejects(st.storage('third'), /not found, available storages: \[default first second\]/);
      await st.close();
    } finally {
      process.env.HOME = home;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
