// Base backup and restore of a pgbench scale-100 cluster: our backup-push / backup-fetch against pgBackRest
// backup / restore (lz4, process-max 2) and, when WALG_REFERENCE_PG names a WAL-G v3.0.9 binary, against WAL-G's
// backup-push / backup-fetch (lz4, its defaults, its own file storage); same machine, same run, same disk,
// alternating runs.
// Usage: node bench/backup.ts [scale] [runs] [--disk-bound]   (defaults 100 and 3). Needs PostgreSQL 15 and
// pgbackrest. Wall time = process start to exit; peak RSS = the largest sum of VmRSS over the process and all its
// descendants, sampled every 50 ms (pgBackRest works in several processes, we in one). Restores also time the
// floor, `lz4 -dc part | tar -x` of our backup's tar partitions followed by `sync -f`, and the tool that goes first
// rotates from run to run. --disk-bound (root) lowers vm.dirty_bytes to 32 MiB during the restores, so that writes
// wait for the disk as on a machine whose disk is slow for its CPU, and puts the kernel's values back afterwards.
// Writes bench/results/backup.md (backup-disk.md with --disk-bound). --zstd times backups only: our backup-push with
// WALG_COMPRESSION_METHOD=zstd against ours with lz4 and against `pgbackrest backup --compress-type=zst`
// (bench/results/backup-zstd.md).

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgIdentity } from '../test/servers/postgres.ts';
import { dirSizeMb, measure, startBenchCluster, waitArchived } from './harness.ts';
import type { Measure } from './harness.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// The single executable when it is built (what users run), else the sources.
const BIN = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const scale = Number(positional[0] ?? 100);
const runs = Number(positional[1] ?? 3);
const diskBound = process.argv.includes('--disk-bound');
const zstdOnly = process.argv.includes('--zstd');
// The reference WAL-G, built outside this tree (docs/compat.md); optional.
const REF = process.env.WALG_REFERENCE_PG;
if (!existsSync('/usr/bin/pgbackrest')) throw new Error('pgbackrest not found: apt-get install pgbackrest (make system-deps)');

async function main(): Promise<void> {
  const bench = await startBenchCluster({ prefix: 'walg-bench-backup-', bin: BIN, scale });
  if (zstdOnly) {
    try {
      await zstdBackups(bench);
    } finally {
      await bench.destroy();
    }
    return;
  }
  const { work, c, walgStore, walgCfg, pgbrRepo, pgbr, dbMb } = bench;
  const id = pgIdentity();
  try {
    const pgEnv = c.env;
    const results: Record<string, Measure[]> = { walgPush: [], pgbrBackup: [], walgFetch: [], pgbrRestore: [] };
    // WAL-G gets a storage of its own with the same settings; its backups need no WAL there (nothing recovers them).
    const refStore = join(work, 'ref-store');
    const refCfg = join(work, 'ref.json');
    if (REF) {
      mkdirSync(refStore);
      chownSync(refStore, id.uid, id.gid);
      writeFileSync(refCfg, JSON.stringify({ WALG_FILE_PREFIX: refStore, WALG_COMPRESSION_METHOD: 'lz4' }));
      Object.assign(results, { refPush: [], refFetch: [] });
    }
    for (let i = 0; i < runs; i++) {
      console.log(`run ${i + 1}/${runs}: backups`);
      await waitArchived(c);
      results.walgPush!.push(await measure(BIN, ['backup-push', c.dataDir, '--config', walgCfg], pgEnv));
      await waitArchived(c);
      results.pgbrBackup!.push(await measure('pgbackrest', pgbr('backup', '--type=full'), {}));
      if (REF) {
        await waitArchived(c);
        results.refPush!.push(await measure(REF, ['backup-push', c.dataDir, '--config', refCfg], pgEnv));
      }
    }
    results.floorFetch = [];
    const dirty = diskBound ? lowerDirtyBudget() : undefined;
    try {
      for (let i = 0; i < runs; i++) {
        console.log(`run ${i + 1}/${runs}: restores`);
        const fresh = (tool: string) => {
          const d = join(work, `restore-${tool}-${i}`);
          mkdirSync(d, { mode: 0o700 });
          chownSync(d, id.uid, id.gid);
          return d;
        };
        const parts = latestTarParts(walgStore);
        const tasks: Array<[string, () => Promise<Measure>]> = [
          ['walgFetch', () => measure(BIN, ['backup-fetch', fresh('walg'), 'LATEST', '--config', walgCfg], {})],
          ['pgbrRestore', () => measure('pgbackrest', pgbr('restore', `--pg1-path=${fresh('pgbr')}`), {})],
          ['floorFetch', () => {
            const d = fresh('floor');
            return measure('sh', ['-c', `${parts.map((f) => `lz4 -dc '${f}' | tar -x -C '${d}'`).join(' && ')} && sync -f '${d}'`], {});
          }],
        ];
        if (REF) tasks.push(['refFetch', () => measure(REF, ['backup-fetch', fresh('ref'), 'LATEST', '--config', refCfg], {})]);
        // Each run starts with another tool: the first restore after a long pause meets a colder disk. Each restore
        // is removed and the removal synced before the next one starts, so that none pays for another's files
        // (a restore that ran with three others' 1.6 GB still on the disk took 2-3x as long, whichever tool).
        for (let k = 0; k < tasks.length; k++) {
          const [key, run] = tasks[(i + k) % tasks.length]!;
          results[key]!.push(await run());
          const tool = { walgFetch: 'walg', pgbrRestore: 'pgbr', floorFetch: 'floor', refFetch: 'ref' }[key]!;
          const dir = join(work, `restore-${tool}-${i}`);
          if (i === 0 && (tool === 'walg' || tool === 'pgbr')) console.log(`restored size: ${tool} ${dirSizeMb(dir).toFixed(0)} MB`);
          rmSync(dir, { recursive: true, force: true });
          execFileSync('sync');
        }
      }
    } finally {
      dirty?.();
    }
    const median = (xs: Measure[], k: keyof Measure) => { const s = xs.map((x) => x[k]).sort((p, q) => p - q); return s[Math.floor(s.length / 2)]!; };
    const walgSize = dirSizeMb(join(walgStore, 'basebackups_005')) / runs;
    const pgbrSize = (dirSizeMb(join(pgbrRepo, 'backup'))) / runs;
    const row = (op: string, ours: Measure[], theirs: Measure[], target: string) => {
      const ow = median(ours, 'seconds'); const tw = median(theirs, 'seconds');
      const orss = Math.max(...ours.map((x) => x.peakMb)); const trss = Math.max(...theirs.map((x) => x.peakMb));
      // Runs alternate, so run i of both tools saw the same state of the machine: the median of the paired
      // ratios is the figure least moved by a noisy neighbour.
      const paired = ours.map((m, i) => m.seconds / theirs[i]!.seconds).sort((a, b) => a - b)[Math.floor(ours.length / 2)]!;
      const oc = median(ours, 'cpuSeconds'); const tc = median(theirs, 'cpuSeconds');
      return `| ${op} | ${ow.toFixed(1)} | ${tw.toFixed(1)} | **${(ow / tw).toFixed(2)}** (target ${target}) | ${paired.toFixed(2)} | ` +
        `${oc.toFixed(2)} / ${tc.toFixed(2)} | ${orss.toFixed(0)} | ${trss.toFixed(0)} |`;
    };
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const md = [
      '# Base backup and restore: ours vs pgBackRest',
      '',
      `Reproduce: \`node bench/backup.ts ${scale} ${runs}\` (${new Date().toISOString().slice(0, 10)}; ${cpus().length} x ${cpu}; node ${process.version}; ` +
        `${execFileSync('pgbackrest', ['version']).toString().trim()}; PostgreSQL ${await c.psql('show server_version')}).`,
      `Cluster: pgbench scale ${scale}, ${dbMb.toFixed(0)} MB of databases, page cache warm, fsync=off in the cluster (not in the tools)` +
        (diskBound ? '; restores disk-bound (vm.dirty_bytes 32 MiB during them).' : '.'),
      `Ours: ${BIN === join(ROOT, 'bin/wal-g') ? 'bin/wal-g (runs the TypeScript sources)' : BIN.replace(ROOT + '/', '')}; WALG_BIN picks another build.`,
      'Both tools: lz4, local file repository on the same disk, fast checkpoint, run as the cluster owner. Ours with default',
      'settings (WALG_UPLOAD_DISK_CONCURRENCY=1, WALG_DOWNLOAD_CONCURRENCY=10, fsync of restored files on); pgBackRest',
      '`process-max=2`. Wall time: median of ' + runs + ' alternating runs; peak RSS: maximum over the runs of the summed RSS of the',
      'process tree (sampled every 50 ms), each binary evicted from the page cache and started once before (bench/harness.ts);',
      'paired median: the median of the per-run ratios; CPU: median CPU-seconds of the process tree.',
      '',
      '| operation | ours (s) | pgBackRest (s) | ours / pgBackRest | paired median | CPU s, ours / pgBackRest | ours peak RSS (MB) | pgBackRest peak RSS (MB) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      row('backup (`backup-push` vs `pgbackrest backup --type=full`)', results.walgPush!, results.pgbrBackup!, '≤ 0.6'),
      row('restore (`backup-fetch LATEST` vs `pgbackrest restore`)', results.walgFetch!, results.pgbrRestore!, '≤ 0.8'),
      row('restore vs the floor (`lz4 -dc \\| tar -x`, then `sync -f`)', results.walgFetch!, results.floorFetch!, '≤ 1.1 disk-bound'),
      '',
      ...(REF ? [
        'Against WAL-G v3.0.9 (`WALG_REFERENCE_PG`), same runs:',
        '',
        '| operation | ours (s) | WAL-G (s) | ours / WAL-G | paired median | CPU s, ours / WAL-G | ours peak RSS (MB) | WAL-G peak RSS (MB) |',
        '|---|---:|---:|---:|---:|---:|---:|---:|',
        row('backup-push', results.walgPush!, results.refPush!, '≤ 0.8'),
        row('backup-fetch LATEST', results.walgFetch!, results.refFetch!, '≤ 0.8'),
        '',
        `Stored size per backup: WAL-G ${(dirSizeMb(join(refStore, 'basebackups_005')) / runs).toFixed(0)} MB.`,
        '',
      ] : []),
      `Stored size per backup: ours ${walgSize.toFixed(0)} MB, pgBackRest ${pgbrSize.toFixed(0)} MB. RSS target: ≤ 300 MB.`,
      '',
      "Notes: both timings include the tools' own start-up, the fast checkpoint and the wait for `archive_command`",
      '(which here runs `wal-g wal-push` and `pgbackrest archive-push`): pgBackRest waits for it with its archive check,',
      'we by polling archive_status. The virtual disk of this machine makes single runs vary by ±30 % (the first',
      'restore of each tool is the slowest), hence the medians.',
      '',
      'All runs (wall s / peak RSS MB / CPU s):',
      '',
      ...Object.entries(results).map(([k, v]) => `- ${k}: ${v.map((m) => `${m.seconds.toFixed(1)} / ${m.peakMb.toFixed(0)} / ${m.cpuSeconds.toFixed(2)}`).join(', ')}`),
      '',
    ].join('\n');
    console.log(`\n${md}`);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, `bench/results/${diskBound ? 'backup-disk' : 'backup'}.md`), md);
  } finally {
    await bench.destroy();
  }
}

/**
 * --zstd: backup-push with zstd (a storage of its own) vs with lz4 vs pgBackRest with compress-type=zst, alternating
 * runs in that order. Writes bench/results/backup-zstd.md.
 */
async function zstdBackups(bench: Awaited<ReturnType<typeof startBenchCluster>>): Promise<void> {
  const { work, c, walgStore, walgCfg, pgbrRepo, pgbr, dbMb } = bench;
  const id = pgIdentity();
  const zstdStore = join(work, 'walg-store-zstd');
  mkdirSync(zstdStore);
  chownSync(zstdStore, id.uid, id.gid);
  const zstdCfg = join(work, 'walg-zstd.json');
  writeFileSync(zstdCfg, JSON.stringify({ WALG_FILE_PREFIX: zstdStore, WALG_COMPRESSION_METHOD: 'zstd' }));
  const r: Record<'zstd' | 'lz4' | 'pgbr', Measure[]> = { zstd: [], lz4: [], pgbr: [] };
  for (let i = 0; i < runs; i++) {
    console.log(`run ${i + 1}/${runs}: backups (zstd)`);
    await waitArchived(c);
    r.zstd.push(await measure(BIN, ['backup-push', c.dataDir, '--config', zstdCfg], c.env));
    await waitArchived(c);
    r.lz4.push(await measure(BIN, ['backup-push', c.dataDir, '--config', walgCfg], c.env));
    await waitArchived(c);
    r.pgbr.push(await measure('pgbackrest', pgbr('backup', '--type=full', '--compress-type=zst'), {}));
  }
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const paired = (a: Measure[], b: Measure[]) => med(a.map((m, i) => m.seconds / b[i]!.seconds));
  const line = (name: string, xs: Measure[], store: string) =>
    `| ${name} | ${med(xs.map((m) => m.seconds)).toFixed(1)} | ${med(xs.map((m) => m.cpuSeconds)).toFixed(2)} | ` +
    `${Math.max(...xs.map((m) => m.peakMb)).toFixed(0)} | ${(dirSizeMb(store) / runs).toFixed(0)} |`;
  const md = [
    '# backup-push with zstd: ours (zstd) vs ours (lz4) vs pgBackRest (compress-type=zst)',
    '',
    `Reproduce: \`node bench/backup.ts ${scale} ${runs} --zstd\` (${new Date().toISOString().slice(0, 10)}; ${cpus().length} x ` +
      `${cpus()[0]?.model ?? '?'}; ${execFileSync('pgbackrest', ['version']).toString().trim()}; load average at the end: ` +
      `${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}).`,
    `Cluster: pgbench scale ${scale}, ${dbMb.toFixed(0)} MB of databases; pgBackRest process-max 2, zst at its default level.`,
    '',
    '| backup | wall s (median) | CPU s | peak RSS MB | stored MB per backup |',
    '|---|---:|---:|---:|---:|',
    line('ours, WALG_COMPRESSION_METHOD=zstd', r.zstd, join(zstdStore, 'basebackups_005')),
    line('ours, lz4', r.lz4, join(walgStore, 'basebackups_005')),
    line('pgBackRest, compress-type=zst', r.pgbr, join(pgbrRepo, 'backup')),
    '',
    `Paired medians: ours zstd / pgBackRest zst **${paired(r.zstd, r.pgbr).toFixed(2)}** (target ≤ 0.6); ` +
      `ours zstd / ours lz4 **${paired(r.zstd, r.lz4).toFixed(2)}**.`,
    '',
    `All runs (wall s): ${Object.entries(r).map(([k, v]) => `${k} ${v.map((m) => m.seconds.toFixed(1)).join(', ')}`).join('; ')}.`,
    '',
  ].join('\n');
  console.log(`\n${md}`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/backup-zstd.md'), md);
}

/** Our latest backup's tar partitions, data parts first, then backup_label and pg_control (restore order). */
function latestTarParts(store: string): string[] {
  const root = join(store, 'basebackups_005');
  const name = readdirSync(root).filter((n) => existsSync(join(root, n, 'tar_partitions'))).sort().at(-1)!;
  const dir = join(root, name, 'tar_partitions');
  const all = readdirSync(dir).sort();
  const last = ['backup_label.tar.lz4', 'pg_control.tar.lz4'];
  return [...all.filter((f) => !last.includes(f)), ...last.filter((f) => all.includes(f))].map((f) => join(dir, f));
}

/** Sets vm.dirty_bytes to 32 MiB (background 16 MiB); returns the function that puts the old values back. */
function lowerDirtyBudget(): () => void {
  const keys = ['dirty_bytes', 'dirty_background_bytes', 'dirty_ratio', 'dirty_background_ratio'];
  const old = Object.fromEntries(keys.map((k) => [k, readFileSync(`/proc/sys/vm/${k}`, 'utf8').trim()]));
  writeFileSync('/proc/sys/vm/dirty_bytes', String(32 << 20));
  writeFileSync('/proc/sys/vm/dirty_background_bytes', String(16 << 20));
  return () => {
    // Writing a ratio clears the matching bytes setting and the reverse: restore whichever was in use.
    for (const [bytes, ratio] of [['dirty_bytes', 'dirty_ratio'], ['dirty_background_bytes', 'dirty_background_ratio']] as const) {
      if (old[bytes] !== '0') writeFileSync(`/proc/sys/vm/${bytes}`, old[bytes]!);
      else writeFileSync(`/proc/sys/vm/${ratio}`, old[ratio]!);
    }
  };
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
