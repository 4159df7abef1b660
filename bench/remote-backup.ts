// Remote backup-push (issue 16 acceptance 6): our `backup-push` without a directory (BASE_BACKUP over the
// replication protocol) against `pg_basebackup -Ft --compress=client-lz4` into a local directory, on the same
// pgbench cluster in the same run, alternating who goes first; and WAL-G's remote backup-push when
// WALG_REFERENCE_PG is set. Wall time, CPU-seconds and peak RSS of each; the median ratio.
// Usage: node bench/remote-backup.ts [scale] [runs]   (defaults 100 and 3). Writes bench/results/remote-backup.md.

import { mkdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgIdentity, PG_BIN } from '../test/servers/postgres.ts';
import { measure, startBenchCluster } from './harness.ts';
import type { Measure } from './harness.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = process.env.WALG_BIN ?? join(ROOT, 'dist/wal-g');
const REF = process.env.WALG_REFERENCE_PG;
const scale = Number(process.argv[2] ?? 100);
const runs = Number(process.argv[3] ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const bench = await startBenchCluster({ prefix: 'walg-bench-remote-', bin: BIN, scale });
  const { work, c, dbMb } = bench;
  const id = pgIdentity();
  const results: Record<string, Measure[]> = { ours: [], pg_basebackup: [], ...(REF ? { walg: [] } : {}) };
  try {
    for (let r = 0; r < runs; r++) {
      const order = Object.keys(results);
      for (let k = 0; k < r % order.length; k++) order.push(order.shift()!);
      for (const tool of order) {
        let m: Measure;
        if (tool === 'pg_basebackup') {
          const dir = join(work, `pgbb-${r}`);
          m = await measure(join(PG_BIN, 'pg_basebackup'), ['-D', dir, '-Ft', '--compress=client-lz4', '-X', 'none', '-c', 'fast', '--no-manifest'], c.env);
          rmSync(dir, { recursive: true, force: true });
        } else {
          const store = join(work, `${tool}-store-${r}`);
          mkdirSync(store);
          chownSync(store, id.uid, id.gid);
          const cfg = join(work, `${tool}-${r}.json`);
          writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4' }));
          m = await measure(tool === 'ours' ? BIN : REF!, ['backup-push', '--config', cfg], c.env);
          rmSync(store, { recursive: true, force: true });
        }
        results[tool]!.push(m);
        console.log(`run ${r + 1} ${tool}: ${m.seconds.toFixed(2)} s, ${m.cpuSeconds.toFixed(2)} CPU-s, ${m.peakMb.toFixed(0)} MB`);
      }
    }
    const row = (tool: string) => {
      const ms = results[tool]!;
      return `| ${tool} | ${median(ms.map((m) => m.seconds)).toFixed(2)} | ${median(ms.map((m) => m.cpuSeconds)).toFixed(2)} | ${median(ms.map((m) => m.peakMb)).toFixed(0)} |`;
    };
    const ratio = (a: string, b: string) => (median(results[a]!.map((m) => m.seconds)) / median(results[b]!.map((m) => m.seconds))).toFixed(2);
    const md = [
      `# Remote backup-push, pgbench scale ${scale} (${dbMb.toFixed(0)} MB), ${runs} alternating runs, medians`,
      '',
      '| tool | wall s | CPU s | peak RSS MB |',
      '|---|---:|---:|---:|',
      ...Object.keys(results).map(row),
      '',
      `ours / pg_basebackup -Ft --compress=client-lz4: **${ratio('ours', 'pg_basebackup')}×**${REF ? `; ours / WAL-G v3.0.9 remote backup-push: **${ratio('ours', 'walg')}×**` : ''}`,
      '',
      `Reproduce: \`node bench/remote-backup.ts ${scale} ${runs}\`${REF ? ' with WALG_REFERENCE_PG set' : ''}.`,
      '',
    ].join('\n');
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/remote-backup.md'), md);
    console.log(md);
  } finally {
    await bench.destroy();
  }
}

await main();
