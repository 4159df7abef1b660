// MySQL/MariaDB stream backup throughput: `wal-g mysql backup-push` / `backup-fetch` (mariabackup stream, lz4,
// file storage) against the same mariabackup stream written straight to a file with the lz4 CLI
// (`mariabackup ... | lz4 > file`, `lz4 -d < file | mbstream -x`), same machine, same run, alternating.
// Usage: node bench/mysql.ts [data_mb] [runs]   (defaults 300 and 2). Runs dist/wal-g (make build), or WALG_BIN
// (WALG_BIN overrides). MB/s is of the uncompressed stream. Writes bench/results/mysql.md. Not a test.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgIdentity, userTempDir } from '../test/servers/postgres.ts';
import { initMariaDb } from '../test/servers/mariadb.ts';
import { measure } from './harness.ts';
import type { Measure } from './harness.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The artefact users install (make build); WALG_BIN picks another build. */
const BIN = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const dataMb = Number(process.argv[2] ?? 300);
const runs = Number(process.argv[3] ?? 2);
// The reference WAL-G v3.0.9 MySQL binary (docs/compat.md), optional: same stream, its own storage, same run.
const REF = process.env.WALG_REFERENCE_MYSQL;

async function main(): Promise<void> {
  const work = userTempDir('walg-bench-mysql-');
  const id = pgIdentity();
  const store = join(work, 'store');
  const scratch = join(work, 'scratch');
  const refStore = join(work, 'ref-store');
  for (const d of [store, scratch, refStore]) { mkdirSync(d); chownSync(d, id.uid, id.gid); }
  const db = await initMariaDb();
  try {
    await db.start();
    // ~1 KB rows of hex text: compresses roughly like real row data (lz4 about 2:1).
    const rows = Math.round(dataMb * 1024);
    console.log(`loading ~${dataMb} MB (${rows} rows) ...`);
    await db.sql('CREATE DATABASE b; CREATE TABLE b.t (id INT PRIMARY KEY, a CHAR(32), pad VARCHAR(1000)) ENGINE=InnoDB');
    for (let done = 0; done < rows; done += 100_000) {
      const n = Math.min(100_000, rows - done);
      await db.sql(`INSERT INTO b.t SELECT seq, MD5(seq), CONCAT(SHA2(seq, 512), SHA2(seq + 1, 512), SHA2(seq + 2, 512), SHA2(seq + 3, 512), SHA2(seq + 4, 512), SHA2(seq + 5, 512), SHA2(seq + 6, 512)) FROM seq_${done + 1}_to_${done + n}`, 'b');
    }
    const create = `mariabackup --backup --stream=xbstream --datadir=${db.dataDir} --socket=${db.socket} --user=root --target-dir=${scratch}`;
    await db.createWalgUser();
    const env = { WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4', WALG_STREAM_CREATE_COMMAND: create, WALG_MYSQL_DATASOURCE_NAME: db.dsn };
    const file = join(work, 'native.xbstream.lz4');
    const refEnv = { ...env, WALG_FILE_PREFIX: refStore };
    const results: Record<string, Measure[]> = { walgPush: [], nativePush: [], walgFetch: [], nativeFetch: [], refPush: [], refFetch: [] };
    let streamBytes = 0;
    let walgBytes = 0;
    const target = join(work, 'restore');
    const fresh = () => { rmSync(target, { recursive: true, force: true }); mkdirSync(target); chownSync(target, id.uid, id.gid); };
    for (let i = 0; i < runs; i++) {
      console.log(`run ${i + 1}/${runs}`);
      rmSync(join(store, 'basebackups_005'), { recursive: true, force: true });
      results.walgPush!.push(await measure(BIN, ['mysql', 'backup-push'], env));
      results.nativePush!.push(await measure('sh', ['-c', `${create} 2>/dev/null | lz4 -q > ${file}`], {}));
      if (REF) {
        rmSync(join(refStore, 'basebackups_005'), { recursive: true, force: true });
        results.refPush!.push(await measure(REF, ['backup-push'], refEnv));
      }
      const backupDir = join(store, 'basebackups_005');
      const sentinel = readdirSync(backupDir).find((n) => n.endsWith('_backup_stop_sentinel.json'))!;
      streamBytes = JSON.parse(readFileSync(join(backupDir, sentinel), 'utf8')).UncompressedSize;
      walgBytes = JSON.parse(readFileSync(join(backupDir, sentinel), 'utf8')).CompressedSize;
      fresh();
      results.walgFetch!.push(await measure(BIN, ['mysql', 'backup-fetch', 'LATEST'], { ...env, WALG_STREAM_RESTORE_COMMAND: `mbstream -x -C ${target}` }));
      fresh();
      results.nativeFetch!.push(await measure('sh', ['-c', `lz4 -d -q < ${file} | mbstream -x -C ${target}`], {}));
      if (REF) {
        fresh();
        results.refFetch!.push(await measure(REF, ['backup-fetch', 'LATEST'], { ...refEnv, WALG_STREAM_RESTORE_COMMAND: `mbstream -x -C ${target}` }));
      }
    }
    const best = (xs: Measure[]) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const mbs = (m: Measure) => (streamBytes / 1e6 / m.seconds).toFixed(0);
    const rowsOut = [
      ['backup-push', best(results.walgPush!), best(results.nativePush!)],
      ['backup-fetch', best(results.walgFetch!), best(results.nativeFetch!)],
    ] as const;
    const table = [
      `MariaDB ${await db.sql('SELECT VERSION()')}, mariabackup xbstream of ${(streamBytes / 1e6).toFixed(0)} MB, lz4, file storage, ${cpus().length} CPUs, best of ${runs}.`,
      `wal-g object ${(walgBytes / 1e6).toFixed(0)} MB, lz4 CLI file ${(statSync(file).size / 1e6).toFixed(0)} MB. Binary: ${BIN.replace(`${ROOT}/`, '')}.`,
      '',
      '| operation | wal-g s | wal-g MB/s | wal-g peak MB | native s | native MB/s | native peak MB | wal-g / native time |',
      '|---|---|---|---|---|---|---|---|',
      ...rowsOut.map(([op, w, n]) => `| ${op} | ${w.seconds.toFixed(2)} | ${mbs(w)} | ${w.peakMb.toFixed(0)} | ${n.seconds.toFixed(2)} | ${mbs(n)} | ${n.peakMb.toFixed(0)} | ${(w.seconds / n.seconds).toFixed(2)} |`),
      '',
      ...(REF ? [
        'Against WAL-G v3.0.9 (`WALG_REFERENCE_MYSQL`), same stream command, same runs:',
        '',
        '| operation | wal-g s | wal-g peak MB | WAL-G s | WAL-G peak MB | wal-g / WAL-G time |',
        '|---|---|---|---|---|---|',
        ...([['backup-push', best(results.walgPush!), best(results.refPush!)], ['backup-fetch', best(results.walgFetch!), best(results.refFetch!)]] as const)
          .map(([op, w, r]) => `| ${op} | ${w.seconds.toFixed(2)} | ${w.peakMb.toFixed(0)} | ${r.seconds.toFixed(2)} | ${r.peakMb.toFixed(0)} | ${(w.seconds / r.seconds).toFixed(2)} |`),
        '',
      ] : []),
      'native = `mariabackup --backup --stream=xbstream ... | lz4 > file` and `lz4 -d < file | mbstream -x -C dir`.',
      `Reproduce: node_modules/.bin/node bench/mysql.ts ${dataMb} ${runs}`,
      '',
    ].join('\n');
    console.log(`\n${table}`);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/mysql.md'), `# MySQL stream backup bench\n\n${table}`);
  } finally {
    await db.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
