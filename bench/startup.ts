// Start-up time of the single executable: `dist/wal-g --version` and `dist/wal-g st ls` on a file storage,
// median of 11 runs each (archive_command starts one process per WAL segment, so this is a feature), reported as
// ratios to `node -e 0` of the pinned Node measured in the same run: absolute start-up times move about 3x between
// machines of the same kind, the ratio does not.
// usage: node bench/startup.ts   (after `make build`)

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist/wal-g');
const runs = 11;

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; }

function time(args: string[], env: Record<string, string>): number {
  const samples: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
    if (i > 0) samples.push(ms); // first run warms the page cache and the native-addon cache
  }
  return median(samples);
}

const store = mkdtempSync(join(tmpdir(), 'walg-startup-'));
try {
  mkdirSync(join(store, 'wal_005'));
  for (let i = 0; i < 20; i++) writeFileSync(join(store, 'wal_005', `00000001000000000000000${i.toString(16).toUpperCase()}.lz4`), 'x');
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', WALG_FILE_PREFIX: store };
  const version = time(['--version'], env);
  const ls = time(['st', 'ls', 'wal_005'], env);
  const hello = (() => {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      execFileSync(process.execPath, ['-e', '0']);
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(samples);
  })();
  const ratio = (ms: number) => `${(ms / hello).toFixed(2)}×`;
  const table = [
    `| command | median of ${runs} (ms) | ratio to \`node -e 0\` |`,
    '|---|---:|---:|',
    `| \`node -e 0\` (the pinned Node ${process.version}, same run) | ${hello.toFixed(1)} | 1.00× |`,
    `| \`dist/wal-g --version\` | ${version.toFixed(1)} | ${ratio(version)} |`,
    `| \`dist/wal-g st ls wal_005\` (file storage, 20 objects) | ${ls.toFixed(1)} | ${ratio(ls)} |`,
  ].join('\n');
  process.stdout.write(`${table}\n\nreproduce: make build && node_modules/.bin/node bench/startup.ts\n`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/startup.md'), `${table}\n`);
} finally {
  rmSync(store, { recursive: true, force: true });
}
