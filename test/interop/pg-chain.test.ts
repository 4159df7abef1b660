// Interop cases 1 and 3 (issue 14) on a real PostgreSQL: one tool archives WAL under pgbench, pushes a full backup
// and two deltas and sets a restore point; the other lists the backups (same names, order and --json --detail
// values), fetches LATEST and each delta, and recovers through its own wal-fetch: pg_dumpall equal, pg_amcheck
// clean. Both directions. Then mixed chains: a delta by one tool on top of the other's full backup.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, pgIdentity, userTempDir } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { restoreWith, switchAndArchive } from './pg.ts';
import { DIRECTIONS, OURS, REFERENCE, WALG, ok, pushedName, writeConfig } from './harness.ts';
import type { Tool } from './harness.ts';

const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';

/** backup-list --json --detail of a tool, parsed. */
async function detailList(tool: Tool, cfg: string): Promise<Array<Record<string, unknown>>> {
  const r = await ok(tool, cfg, ['backup-list', '--json', '--detail']);
  return JSON.parse(r.out) as Array<Record<string, unknown>>;
}

interface Chain { cfg: string; work: string; cluster: PgCluster; pushes: Array<{ name: string; dump: string }>; rpDump: string }

/** A cluster archived by `writer`, with a full backup and two deltas pushed by `pushers[i]`, then a restore point. */
async function buildChain(archiver: Tool, pushers: readonly Tool[], settings: Record<string, string> = {}): Promise<Chain> {
  const work = userTempDir('walg-interop-');
  // WAL-G refuses a file storage whose root does not exist yet.
  mkdirSync(join(work, 'store'));
  chownSync(join(work, 'store'), pgIdentity().uid, pgIdentity().gid);
  const cfg = writeConfig(work, {
    WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4', WALG_DELTA_MAX_STEPS: '2', ...settings,
  });
  const cluster = await initCluster({
    archive_mode: 'on', archive_command: `${archiver.bin} wal-push %p --config ${cfg}`, autovacuum: 'off',
    max_wal_size: '1GB', checkpoint_timeout: '30min',
  });
  await cluster.start();
  await cluster.pgbench(['-i', '-s', '3', '-q']);
  await switchAndArchive(cluster);
  const pushes: Chain['pushes'] = [];
  for (const [i, pusher] of pushers.entries()) {
    if (i > 0) await cluster.pgbench(['-t', '300', '-c', '2', '-n']);
    const r = await ok(pusher, cfg, ['backup-push', cluster.dataDir], cluster.env);
    pushes.push({ name: pushedName(r.stderr), dump: await cluster.dumpAll() });
  }
  await cluster.pgbench(['-t', '200', '-c', '2', '-n']);
  await cluster.psql("select pg_create_restore_point('interop_rp')");
  const rpDump = await cluster.dumpAll();
  await switchAndArchive(cluster);
  return { cfg, work, cluster, pushes, rpDump };
}

async function dropChain(c: Chain | undefined): Promise<void> {
  if (!c) return;
  await c.cluster.stop('immediate');
  rmSync(c.work, { recursive: true, force: true });
}

for (const [writer, reader] of DIRECTIONS) {
  describe(`${writer.name} writes, ${reader.name} reads: WAL, full + 2 deltas, restore point`, { skip, timeout: 600_000 }, () => {
    let chain: Chain | undefined;
    before(async () => { chain = await buildChain(writer, [writer, writer, writer]); });
    after(() => dropChain(chain));

    test('names: a full backup and two deltas', () => {
      const [full, d1, d2] = chain!.pushes.map((p) => p.name);
      assert.match(full!, /^base_[0-9A-F]{24}$/);
      assert.match(d1!, new RegExp(`^base_[0-9A-F]{24}_D_${full!.slice(5, 29)}$`));
      assert.match(d2!, new RegExp(`^base_[0-9A-F]{24}_D_${d1!.slice(5, 29)}$`));
    });

    test('backup-list: same rows, order and --json --detail values from both tools', async () => {
      const mine = await detailList(reader, chain!.cfg);
      const theirs = await detailList(writer, chain!.cfg);
      assert.deepEqual(mine.map((b) => b.backup_name), chain!.pushes.map((p) => p.name));
      assert.deepEqual(mine, theirs);
      const plain = (await ok(reader, chain!.cfg, ['backup-list'])).out;
      const plainRef = (await ok(writer, chain!.cfg, ['backup-list'])).out;
      assert.equal(plain, plainRef);
    });

    test(`${reader.name} restores LATEST to the restore point through its own wal-fetch`, async () => {
      await restoreWith(reader, chain!.cfg, 'LATEST', chain!.rpDump, 'interop_rp');
    });

    test(`${reader.name} restores the full backup and the first delta each to its own end point`, async () => {
      for (const p of chain!.pushes.slice(0, 2)) await restoreWith(reader, chain!.cfg, p.name, p.dump);
    });
  });
}

describe('mixed chains: one tool\'s delta on top of the other\'s full backup', { skip, timeout: 600_000 }, () => {
  for (const [first, second] of [[WALG, OURS], [OURS, WALG]] as const) {
    test(`${first.name} full + ${second.name} delta + ${first.name} delta: both tools restore the chain`, async () => {
      let chain: Chain | undefined;
      try {
        chain = await buildChain(first, [first, second, first]);
        const [full, d1, d2] = chain.pushes.map((p) => p.name);
        assert.ok(d1!.endsWith(`_D_${full!.slice(5, 29)}`), `${second.name} made a delta on ${first.name}'s full: ${d1}`);
        assert.ok(d2!.endsWith(`_D_${d1!.slice(5, 29)}`), `${first.name} made a delta on ${second.name}'s delta: ${d2}`);
        for (const reader of [OURS, WALG]) await restoreWith(reader, chain.cfg, 'LATEST', chain.rpDump, 'interop_rp');
      } finally {
        await dropChain(chain);
      }
    });
  }
});
