// PostgreSQL helpers of the interop suite: archive waits, amcheck, and a restore by one tool through its own
// backup-fetch and wal-fetch, checked against a dump.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { clusterFromDir, runAs, userTempDir, writeUserFile, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { until } from '../helpers/pg-exec.ts';
import { firstDifferences } from '../helpers/diff.ts';
import { ok } from './harness.ts';
import type { Tool } from './harness.ts';

/** Switches WAL and waits until that segment is archived (archive_command never failing meanwhile). */
export async function switchAndArchive(c: PgCluster): Promise<void> {
  const lsn = await c.psql('select pg_switch_wal()');
  const seg = await c.psql(`select pg_walfile_name('${lsn}')`);
  await until(`archiving of ${seg}`, 90_000, async () => {
    assert.equal(await c.psql('select failed_count from pg_stat_archiver'), '0', 'archive_command never fails');
    return (await c.psql(`select exists (select 1 from pg_ls_archive_statusdir() where name = '${seg}.done')`)) === 't';
  });
}

export async function amcheck(c: PgCluster): Promise<void> {
  const r = await runAs(join(PG_BIN, 'pg_amcheck'), ['--all', '--install-missing', '--heapallindexed'], { env: c.env, allowFail: true });
  assert.equal(r.code, 0, `pg_amcheck: ${r.stdout}${r.stderr}`);
}

/**
 * `reader` fetches `name` (with `extraArgs(dataDir)`, then `prepare(dataDir)`) and replays WAL through its own
 * wal-fetch, to `target` (a restore point) or the backup's end; the dump must equal `expected`, amcheck clean.
 */
export async function restoreWith(reader: Tool, cfg: string, name: string, expected: string, target?: string,
  extraArgs: (data: string) => string[] = () => [], prepare?: (data: string) => void): Promise<void> {
  const base = userTempDir('walg-interop-restore-');
  const data = join(base, 'data');
  try {
    const r = await ok(reader, cfg, ['backup-fetch', data, name, ...extraArgs(data)]);
    prepare?.(data);
    assert.match(r.stderr, /Backup extraction complete/);
    const restored = await clusterFromDir(base, data);
    restored.configure({
      archive_mode: 'off', restore_command: `${reader.bin} wal-fetch %f %p --config ${cfg}`,
      ...(target ? { recovery_target_name: target } : { recovery_target: 'immediate' }), recovery_target_action: 'promote',
    });
    writeUserFile(join(data, 'recovery.signal'), '');
    await restored.start();
    try {
      await until(`recovery of ${name} by ${reader.name}`, 120_000, async () => (await restored.psql('select pg_is_in_recovery()')) === 'f');
      const dump = await restored.dumpAll();
      assert.ok(dump === expected, `${reader.name}: pg_dumpall of ${name}${target ? ` at ${target}` : ''} equals the dump taken then; first differences:\n${firstDifferences(expected, dump)}`);
      await amcheck(restored);
    } finally {
      await restored.stop('immediate');
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
