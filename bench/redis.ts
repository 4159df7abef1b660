// Redis RDB backup throughput (issue 19, acceptance 6): `wal-g redis backup-push` / `backup-fetch` (the
// `redis-cli --rdb -` stream, lz4, file storage) against the same stream written straight to a file with the lz4 CLI
// (`redis-cli --rdb - | lz4 > file`, `lz4 -d < file > dump.rdb`), same machine, same run, alternating.
// Usage: node bench/redis.ts [data_mb] [runs]   (defaults 1024 and 2). Runs dist/wal-g (make build), or WALG_BIN.
// MB/s is of the RDB stream. Writes bench/results/redis.md. Not a test.

import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgIdentity, userTempDir } from '../test/servers/postgres.ts';
import { REDIS_CLI, REDIS_PASSWORD, startRedis } from '../test/servers/redis.ts';
import { measure } from './harness.ts';
import type { Measure } from './harness.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const dataMb = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 2);

/** Loads ~`mb` MB of 1 KB string values (hex of random bytes; the RDB already LZF-compresses them, so lz4 gains little). */
function load(s: Awaited<ReturnType<typeof startRedis>>, mb: number): void {
  const keys = mb * 1024;
  const cmd = (k: string, v: string) => `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
  for (let done = 0; done < keys; done += 8192) {
    let out = '';
    for (let i = done; i < Math.min(keys, done + 8192); i++) out += cmd(`k:${i}`, randomBytes(500).toString('hex'));
    const r = s.cli(['--pipe'], out);
    if (r.code !== 0) throw new Error(`redis-cli --pipe: ${r.stdout}${r.stderr}`);
  }
}

async function main(): Promise<void> {
  const work = userTempDir('walg-bench-redis-');
  const id = pgIdentity();
  const store = join(work, 'store');
  const restore = join(work, 'restore');
  for (const d of [store, restore]) { mkdirSync(d); chownSync(d, id.uid, id.gid); }
  const s = await startRedis();
  try {
    console.log(`loading ~${dataMb} MB ...`);
    load(s, dataMb);
    const create = `${REDIS_CLI} -h 127.0.0.1 -p ${s.port} --rdb -`;
    const env = {
      WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4', WALG_STREAM_CREATE_COMMAND: create,
      WALG_REDIS_HOST: '127.0.0.1', WALG_REDIS_PORT: String(s.port), WALG_REDIS_PASSWORD: REDIS_PASSWORD,
      WALG_REDIS_DATA_PATH: restore, WALG_STREAM_RESTORE_COMMAND: `cat > ${join(restore, 'dump.rdb')}`,
    };
    const file = join(work, 'native.rdb.lz4');
    const results: Record<string, Measure[]> = { walgPush: [], nativePush: [], syncPush: [], walgFetch: [], nativeFetch: [], pipeFetch: [] };
    let streamBytes = 0;
    let walgBytes = 0;
    for (let i = 0; i < runs; i++) {
      console.log(`run ${i + 1}/${runs}`);
      rmSync(join(store, 'basebackups_005'), { recursive: true, force: true });
      results.walgPush!.push(await measure(BIN, ['redis', 'backup-push'], env));
      results.nativePush!.push(await measure('sh', ['-c', `${create} 2>/dev/null | lz4 -q > ${file}`], { REDISCLI_AUTH: REDIS_PASSWORD }));
      // Context: file storage fsyncs each object before its rename (compat: WAL-G does); the CLI pipeline does not.
      results.syncPush!.push(await measure('sh', ['-c', `${create} 2>/dev/null | lz4 -q > ${file} && sync ${file}`], { REDISCLI_AUTH: REDIS_PASSWORD }));
      const dir = join(store, 'basebackups_005');
      const sentinel = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((n) => n.endsWith('_backup_stop_sentinel.json'))!), 'utf8'));
      streamBytes = sentinel.DataSize;
      walgBytes = sentinel.BackupSize;
      results.walgFetch!.push(await measure(BIN, ['redis', 'backup-fetch', 'LATEST', '--skip-clean'], env));
      results.nativeFetch!.push(await measure('sh', ['-c', `lz4 -d -q < ${file} > ${join(restore, 'dump.rdb')}`], {}));
      // Context: wal-g hands the stream to a restore command through a pipe (here `cat > dump.rdb`).
      results.pipeFetch!.push(await measure('sh', ['-c', `lz4 -d -q < ${file} | cat > ${join(restore, 'dump.rdb')}`], {}));
    }
    const best = (xs: Measure[]) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const mbs = (m: Measure) => (streamBytes / 1e6 / m.seconds).toFixed(0);
    const rows = [
      ['backup-push', best(results.walgPush!), best(results.nativePush!)],
      ['backup-push vs `... | lz4 > file && sync file`', best(results.walgPush!), best(results.syncPush!)],
      ['backup-fetch', best(results.walgFetch!), best(results.nativeFetch!)],
      ['backup-fetch vs `lz4 -d < file | cat > dump.rdb`', best(results.walgFetch!), best(results.pipeFetch!)],
    ] as const;
    const table = [
      `redis-server ${s.cli(['INFO', 'server']).stdout.match(/redis_version:(\S+)/)?.[1]}, RDB stream of ${(streamBytes / 1e6).toFixed(0)} MB, lz4, file storage, ${cpus().length} CPUs, best of ${runs}.`,
      `wal-g object ${(walgBytes / 1e6).toFixed(0)} MB, lz4 CLI file ${(statSync(file).size / 1e6).toFixed(0)} MB. Binary: ${BIN.replace(`${ROOT}/`, '')}.`,
      '',
      '| operation | wal-g s | wal-g MB/s | wal-g CPU s | wal-g peak MB | native s | native MB/s | native CPU s | native peak MB | wal-g / native time |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(([op, w, n]) => `| ${op} | ${w.seconds.toFixed(2)} | ${mbs(w)} | ${w.cpuSeconds.toFixed(2)} | ${w.peakMb.toFixed(0)} | ${n.seconds.toFixed(2)} | ${mbs(n)} | ${n.cpuSeconds.toFixed(2)} | ${n.peakMb.toFixed(0)} | ${(w.seconds / n.seconds).toFixed(2)} |`),
      '',
      'native = `redis-cli --rdb - | lz4 > file` and `lz4 -d < file > dump.rdb`. Times include the server producing the RDB.',
      `Reproduce: node_modules/.bin/node bench/redis.ts ${dataMb} ${runs}`,
      '',
    ].join('\n');
    console.log(`\n${table}`);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/redis.md'), `# Redis RDB backup bench\n\n${table}`);
  } finally {
    await s.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
