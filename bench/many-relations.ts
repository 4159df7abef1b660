// Issue 24 acceptance 2: base backup and restore of clusters with many relations (small tables with a primary key
// and a toast table: four files each), at each table count given (default 20000 and 100000), in one run: our
// backup-push / backup-fetch (fsync per file, and WALG_RESTORE_SYNC_METHOD=syncfs) against pgBackRest backup /
// restore (lz4, process-max 2) and the floor (`tar -c | lz4` and `lz4 -d | tar -x`, no fsync), with the file
// count, wall time, CPU-seconds and peak RSS (whole process tree) of each; the ratios are of the same run.
// usage: make build && node_modules/.bin/node bench/many-relations.ts [tables ...]   -> bench/results/many-relations.md

import { writeFileSync, rmSync, mkdirSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { runAs, pgIdentity, PG_BIN } from '../test/servers/postgres.ts';
import { measure, startBenchCluster, waitArchived } from './harness.ts';
import type { Measure } from './harness.ts';

const BIN = join(import.meta.dirname, '..', 'dist', 'wal-g');
const COUNTS = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (COUNTS.length === 0) COUNTS.push(20_000, 100_000);

interface Row { tables: number; files: number; dataMb: number; m: Record<string, Measure> }

async function runCount(tables: number): Promise<Row> {
  const bc = await startBenchCluster({
    prefix: 'walg-bench-rel-', bin: BIN, scale: 1,
    clusterSettings: { autovacuum: 'off', max_locks_per_transaction: '1024', fsync: 'off' },
  });
  const { c, work, walgCfg, pgbr } = bc;
  const id = pgIdentity();
  try {
    console.log(`${tables} tables ...`);
    const sql = `select format('create table t%s (id int primary key, v text); insert into t%s values (1, %L)', g, g, 'row ' || g) from generate_series(1, ${tables}) g \\gexec`;
    await runAs(join(PG_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-d', 'postgres'], { env: c.env, input: `${sql}\n` });
    await c.psql('checkpoint');
    await waitArchived(c);
    const files = Number(execFileSync('sh', ['-c', `find '${c.dataDir}' -type f | wc -l`]).toString().trim());
    const dataMb = Number(execFileSync('du', ['-sb', c.dataDir]).toString().split('\t')[0]) / 1e6;
    console.log(`${files} files, ${dataMb.toFixed(0)} MB`);
    const m: Record<string, Measure> = {};
    const floorTar = join(work, 'floor.tar.lz4');
    m.walgPush = await measure(BIN, ['backup-push', c.dataDir, '--config', walgCfg], c.env);
    m.pgbrBackup = await measure('pgbackrest', pgbr('backup', '--type=full'), {});
    m.floorPush = await measure('sh', ['-c', `tar -cf - -C '${c.dataDir}' . | lz4 -q > '${floorTar}'`], {});
    const fresh = (name: string) => {
      const d = join(work, name);
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { mode: 0o700 });
      chownSync(d, id.uid, id.gid);
      return d;
    };
    const done = (name: string) => { rmSync(join(work, name), { recursive: true, force: true }); execFileSync('sync'); };
    m.walgFetch = await measure(BIN, ['backup-fetch', fresh('r-walg'), 'LATEST', '--config', walgCfg], {});
    done('r-walg');
    m.walgFetchSyncfs = await measure(BIN, ['backup-fetch', fresh('r-walg-syncfs'), 'LATEST', '--config', walgCfg], { WALG_RESTORE_SYNC_METHOD: 'syncfs' });
    done('r-walg-syncfs');
    m.pgbrRestore = await measure('pgbackrest', pgbr('restore', `--pg1-path=${fresh('r-pgbr')}`), {});
    done('r-pgbr');
    m.floorFetch = await measure('sh', ['-c', `lz4 -dc '${floorTar}' | tar -x -C '${fresh('r-floor')}'`], {});
    done('r-floor');
    return { tables, files, dataMb, m };
  } finally {
    await bc.destroy();
  }
}

const rows: Row[] = [];
for (const n of COUNTS) rows.push(await runCount(n));

const f = (x: number, d = 1) => x.toFixed(d);
const cell = (x: Measure) => `${f(x.seconds)} s, ${f(x.cpuSeconds)} CPU-s, ${f(x.peakMb, 0)} MB`;
const lines = [
  '# Many relations: ours vs pgBackRest vs the floor',
  '',
  `${new Date().toISOString().slice(0, 10)}, \`node bench/many-relations.ts ${COUNTS.join(' ')}\`; small tables with a primary key and a`,
  'toast table, lz4, local file storage on the same disk, pgBackRest process-max 2; floor: `tar -c | lz4`, `lz4 -d | tar -x`',
  '(no fsync). Each cell: wall time, CPU-seconds, peak RSS of the process tree. One run per table count.',
  '',
  '| tables | files | MB | step | ours | pgBackRest | floor | ours / pgBackRest | ours / floor |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  const { m } = r;
  lines.push(`| ${r.tables} | ${r.files} | ${f(r.dataMb, 0)} | push | ${cell(m.walgPush!)} | ${cell(m.pgbrBackup!)} | ${cell(m.floorPush!)} | ${f(m.walgPush!.seconds / m.pgbrBackup!.seconds, 2)} | ${f(m.walgPush!.seconds / m.floorPush!.seconds, 2)} |`);
  lines.push(`| | | | fetch (fsync) | ${cell(m.walgFetch!)} | ${cell(m.pgbrRestore!)} | ${cell(m.floorFetch!)} | ${f(m.walgFetch!.seconds / m.pgbrRestore!.seconds, 2)} | ${f(m.walgFetch!.seconds / m.floorFetch!.seconds, 2)} |`);
  lines.push(`| | | | fetch (syncfs) | ${cell(m.walgFetchSyncfs!)} | | | ${f(m.walgFetchSyncfs!.seconds / m.pgbrRestore!.seconds, 2)} | ${f(m.walgFetchSyncfs!.seconds / m.floorFetch!.seconds, 2)} |`);
}
if (rows.length > 1) {
  const [a, b] = [rows[0]!, rows.at(-1)!];
  lines.push('', `Our peak RSS at ${b.tables} tables / at ${a.tables}: push ${f(b.m.walgPush!.peakMb / a.m.walgPush!.peakMb, 2)}, ` +
    `fetch ${f(b.m.walgFetch!.peakMb / a.m.walgFetch!.peakMb, 2)} (target ≤ 1.1).`);
}
const out = join(import.meta.dirname, 'results', 'many-relations.md');
writeFileSync(out, `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
