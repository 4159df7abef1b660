// WALG_ALIVE_CHECK_INTERVAL on a real PostgreSQL 15: a server that dies in the middle of a (rate-limited, long)
// backup-push stops the backup within a few check intervals, with WAL-G's error lines, a non-zero exit and no
// backup listed, instead of reading the whole data directory first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster, userTempDir, writeUserFile } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { until } from '../helpers/pg-exec.ts';

test('backup-push stops soon after the server dies (alive check), leaving no backup', { timeout: 180_000 }, async () => {
  const work = userTempDir('walg-alive-');
  const cfg = join(work, 'walg.json');
  writeUserFile(cfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4' }));
  chmodSync(cfg, 0o644);
  const c = await initCluster({ archive_mode: 'on', archive_command: `${WALG_BIN} wal-push %p --config ${cfg}` });
  try {
    await c.start();
    await c.pgbench(['-i', '-s', '3', '-q']);
    // About 60 MB to read at 2 MB/s: half a minute of backup unless something stops it.
    const child = spawn(WALG_BIN, ['backup-push', c.dataDir, '--config', cfg], {
      env: baseEnv({ ...c.env, WALG_DISK_RATE_LIMIT: String(2 * 1024 * 1024), WALG_ALIVE_CHECK_INTERVAL: '1s' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await until('the backup to start uploading', 60_000, async () => /Starting part 1 of backup/.test(err));
    assert.match(err, /Initializing the PG alive checker \(interval=1s\)/);
    const killedAt = Date.now();
    await c.stop('immediate');
    const code = await exited;
    const seconds = (Date.now() - killedAt) / 1000;
    assert.equal(code, 1, err);
    assert.ok(seconds < 10, `backup-push ended ${seconds.toFixed(1)} s after the server died`);
    assert.match(err, /ERROR: .* Error: PG alive check failed: .*, gracefully stopping the running backup\.\.\./);
    for (const l of err.split('\n').filter(Boolean)) assert.match(l, LOG_LINE);
    const list = await walg(['backup-list', '--json', '--config', cfg], baseEnv());
    assert.equal(list.stdout.toString().trim(), '[]', 'no backup listed');
  } finally {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
