// Delta backups (issue #5, acceptance 4): after a pgbench run that touches about 5 % of a scale-100 cluster's
// pgbench_accounts pages, the size and wall time of our delta backup (page-level increments) against our full
// backup, and against pgBackRest's incremental backup (file-level: a changed 1 GiB segment is copied whole), all
// in the same run on the same cluster. Usage: node bench/delta.ts [scale] [transactions]
// (defaults 100 and ~5 % of the accounts pages). Needs PostgreSQL 15 and pgbackrest. Writes bench/results/delta.md.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, startBenchCluster, waitArchived } from './harness.ts';
import type { Measure } from './harness.ts';
import { pgIdentity } from '../test/servers/postgres.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const scale = Number(process.argv[2] ?? 100);
// The reference WAL-G v3.0.9 (docs/compat.md), optional: its full and delta run beside ours on the same cluster.
const REF = process.env.WALG_REFERENCE_PG;
if (!existsSync('/usr/bin/pgbackrest')) throw new Error('pgbackrest not found: apt-get install pgbackrest (make system-deps)');

/** Our stored (compressed) size of the newest backup, from its sentinel. */
function newestWalgBackup(store: string): { name: string; compressed: number; uncompressed: number } {
  const dir = join(store, 'basebackups_005');
  const sentinels = readdirSync(dir).filter((n) => n.endsWith('_backup_stop_sentinel.json'))
    .map((n) => ({ n, s: JSON.parse(readFileSync(join(dir, n), 'utf8')) as { FinishTime: string; CompressedSize: number; UncompressedSize: number } }))
    .sort((a, b) => a.s.FinishTime.localeCompare(b.s.FinishTime));
  const last = sentinels[sentinels.length - 1]!;
  return { name: last.n.replace('_backup_stop_sentinel.json', ''), compressed: last.s.CompressedSize, uncompressed: last.s.UncompressedSize };
}

async function main(): Promise<void> {
  const bench = await startBenchCluster({ prefix: 'walg-bench-delta-', bin: BIN, scale, walgSettings: { WALG_DELTA_MAX_STEPS: '6' }, clusterSettings: { autovacuum: 'off' } });
  const { c, walgStore, walgCfg, pgbr, dbMb, work } = bench;
  const refStore = join(work, 'ref-store');
  const refCfg = join(work, 'ref.json');
  try {
    if (REF) {
      mkdirSync(refStore);
      chownSync(refStore, pgIdentity().uid, pgIdentity().gid);
      writeFileSync(refCfg, JSON.stringify({ WALG_FILE_PREFIX: refStore, WALG_COMPRESSION_METHOD: 'lz4', WALG_DELTA_MAX_STEPS: '6' }));
    }
    const accountsPages = Number(await c.psql(`select pg_relation_size('pgbench_accounts') / 8192`));
    // Each transaction updates one random account: N transactions touch 1-(1-1/P)^N of the P pages; 5 % needs N ≈ 0.0513 P.
    const transactions = Number(process.argv[3] ?? Math.round(0.0513 * accountsPages));

    console.log('full backups (ours, pgBackRest) ...');
    const walgFull0 = await measure(BIN, ['backup-push', c.dataDir, '--config', walgCfg], c.env);
    const full0 = newestWalgBackup(walgStore);
    await waitArchived(c);
    const pgbrFull = await measure('pgbackrest', pgbr('backup', '--type=full'), {});
    await waitArchived(c);
    const refFull0 = REF ? await measure(REF, ['backup-push', c.dataDir, '--config', refCfg], c.env) : undefined;
    const refFull0Info = REF ? newestWalgBackup(refStore) : undefined;
    await waitArchived(c);
    const lsnBefore = await c.psql('select pg_current_wal_lsn()');

    console.log(`pgbench: ${transactions} transactions ...`);
    await c.pgbench(['-t', String(Math.ceil(transactions / 2)), '-c', '2', '-j', '2', '-n']);
    // Pages of pgbench_accounts written since the full backup (pd_lsn after it): exactly what a delta selects there.
    await c.psql('create extension if not exists pageinspect');
    const changedPages = Number(await c.psql(
      `select count(*) from generate_series(0, pg_relation_size('pgbench_accounts') / 8192 - 1) b
       where (page_header(get_raw_page('pgbench_accounts', b::int))).lsn >= '${lsnBefore}'::pg_lsn`));
    const walMb = Number(await c.psql(`select pg_wal_lsn_diff(pg_current_wal_lsn(), '${lsnBefore}')`)) / 1e6;
    await c.psql('checkpoint');
    await waitArchived(c);

    console.log('delta / incremental backups ...');
    const walgDelta = await measure(BIN, ['backup-push', c.dataDir, '--config', walgCfg], c.env);
    const delta = newestWalgBackup(walgStore);
    if (!delta.name.includes('_D_')) throw new Error(`expected a delta backup, got ${delta.name}`);
    await waitArchived(c);
    const pgbrIncr = await measure('pgbackrest', pgbr('backup', '--type=incr'), {});
    await waitArchived(c);
    const refDelta = REF ? await measure(REF, ['backup-push', c.dataDir, '--config', refCfg], c.env) : undefined;
    const refDeltaInfo = REF ? newestWalgBackup(refStore) : undefined;
    if (refDeltaInfo && !refDeltaInfo.name.includes('_D_')) throw new Error(`expected a WAL-G delta backup, got ${refDeltaInfo.name}`);
    await waitArchived(c);
    const walgFull = await measure(BIN, ['backup-push', c.dataDir, '--full', '--config', walgCfg], c.env);
    const full = newestWalgBackup(walgStore);

    const info = JSON.parse(execFileSync('pgbackrest', pgbr('info', '--output=json')).toString()) as
      { backup: { type: string; info: { repository: { delta: number }; delta: number } }[] }[];
    const pgbrBackups = info[0]!.backup;
    const incr = pgbrBackups.filter((b) => b.type === 'incr').pop()!;
    const pgbrFullInfo = pgbrBackups.filter((b) => b.type === 'full').pop()!;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const row = (what: string, m: Measure, stored: number, read?: number) =>
      `| ${what} | ${m.seconds.toFixed(1)} | ${mb(stored)} | ${read === undefined ? '' : mb(read)} | ${m.peakMb.toFixed(0)} |`;
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const md = [
      '# Delta backups: ours (page increments) vs our full backup vs pgBackRest incremental (file level)',
      '',
      `Reproduce: \`node bench/delta.ts ${scale}\` (${new Date().toISOString().slice(0, 10)}; ${cpus().length} x ${cpu}; node ${process.version}; ` +
        `${execFileSync('pgbackrest', ['version']).toString().trim()}; PostgreSQL ${await c.psql('show server_version')}).`,
      `Cluster: pgbench scale ${scale}, ${dbMb.toFixed(0)} MB; pgbench_accounts has ${accountsPages} pages. Between the full and the`,
      `delta/incremental backups pgbench ran ${transactions} transactions, which wrote ${changedPages} of the accounts pages ` +
        `(${((100 * changedPages) / accountsPages).toFixed(1)} %, pages with a newer pd_lsn) and ${walMb.toFixed(0)} MB of WAL.`,
      `Ours: ${BIN === join(ROOT, 'bin/wal-g') ? 'bin/wal-g (TypeScript sources)' : BIN}, lz4, WALG_DELTA_MAX_STEPS=6; pgBackRest lz4, process-max=2.`,
      'Same file-system repository disk, fast checkpoint, one run each (the cluster is not re-created between them).',
      '',
      '| backup | wall (s) | stored, compressed (MB) | content before compression (MB) | peak RSS (MB) |',
      '|---|---:|---:|---:|---:|',
      row('ours, first full', walgFull0, full0.compressed, full0.uncompressed),
      row(`ours, delta (${delta.name})`, walgDelta, delta.compressed, delta.uncompressed),
      row('ours, full after the same changes (`--full`)', walgFull, full.compressed, full.uncompressed),
      row('pgBackRest, full', pgbrFull, pgbrFullInfo.info.repository.delta, pgbrFullInfo.info.delta),
      row('pgBackRest, incremental (`--type=incr`)', pgbrIncr, incr.info.repository.delta, incr.info.delta),
      ...(REF && refFull0 && refDelta && refDeltaInfo ? [
        row('WAL-G v3.0.9, full (`WALG_REFERENCE_PG`)', refFull0, refFull0Info!.compressed, refFull0Info!.uncompressed),
        row(`WAL-G v3.0.9, delta (${refDeltaInfo.name})`, refDelta, refDeltaInfo.compressed, refDeltaInfo.uncompressed),
        '',
        `Against WAL-G: our delta / WAL-G's delta: time **${(walgDelta.seconds / refDelta.seconds).toFixed(2)}**, ` +
          `size **${(delta.compressed / refDeltaInfo.compressed).toFixed(3)}**, peak RSS **${(walgDelta.peakMb / refDelta.peakMb).toFixed(2)}** ` +
          `(WAL-G's full was taken right after ours, so both deltas cover the same changes). Full: ${(walgFull0.seconds / refFull0.seconds).toFixed(2)}.`,
      ] : []),
      '',
      `Ratios: our delta / our full: size **${(delta.compressed / full.compressed).toFixed(3)}**, time **${(walgDelta.seconds / walgFull.seconds).toFixed(2)}**; ` +
        `our delta / pgBackRest incremental: size **${(delta.compressed / incr.info.repository.delta).toFixed(3)}**, time **${(walgDelta.seconds / pgbrIncr.seconds).toFixed(2)}**.`,
      '',
      'Why: WAL-G-style deltas store only pages whose LSN is at or after the parent backup\'s start LSN (plus unchanged',
      'files skipped by mtime), but must read every changed relation file in full to find them; pgBackRest\'s',
      'incremental copies every file whose size or timestamp changed, whole (a touched 1 GiB segment costs 1 GiB).',
      '',
    ].join('\n');
    console.log(`\n${md}`);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/delta.md'), md);
  } finally {
    await bench.destroy();
  }
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
