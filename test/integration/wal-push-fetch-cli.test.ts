// wal-push / wal-fetch through bin/wal-g on a FILE storage: exit codes (0 / 1 / 74), WAL-G's log lines, the
// detached prefetch child and the overwrite conflict. The library tests are in test/unit/wal-push-fetch.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prefetchPaths } from '../../src/pg/wal/prefetch.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { segment } from '../helpers/wal-segment.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = (prefix: string): string => tempDir(prefix);


test('CLI: wal-push/wal-fetch exit codes and WAL-G log lines; wal-fetch starts the prefetch child', async () => {
  const root = tmp('walg-cli-');
  const store = join(root, 'store');
  const pgwal = join(root, 'pg_wal');
  mkdirSync(join(pgwal, 'archive_status'), { recursive: true });
  const big = (i: number) => segment(i, 16 * 1024 * 1024);
  for (const i of [1, 2, 3]) writeFileSync(join(pgwal, formatWalName(1, i)), big(i));
  const env = baseEnv({ WALG_FILE_PREFIX: store, WALG_DOWNLOAD_CONCURRENCY: '3', HOME: root });
  for (const i of [1, 2, 3]) {
    const r = await walg(['wal-push', join(pgwal, formatWalName(1, i))], env);
    assert.equal(r.code, 0, r.stderr);
    for (const l of r.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE);
  }
  const missing = await walg(['wal-fetch', formatWalName(1, 9), join(root, 'x')], env);
  assert.equal(missing.code, 74);
  assert.match(missing.stderr, /^ERROR: \S+ \S+ Archive '000000010000000000000009' does not exist\.$/m);
  const hist = await walg(['wal-fetch', '00000002.history', join(root, 'x')], env);
  assert.equal(hist.code, 74);

  const restore = join(root, 'restore');
  mkdirSync(restore);
  const r1 = await walg(['wal-fetch', formatWalName(1, 1), join(restore, 'RECOVERYXLOG')], env);
  assert.equal(r1.code, 0, r1.stderr);
  assert.deepEqual(readFileSync(join(restore, 'RECOVERYXLOG')), big(1));
  const exists = await walg(['wal-fetch', formatWalName(1, 1), join(restore, 'RECOVERYXLOG')], env);
  assert.equal(exists.code, 1);
  assert.match(exists.stderr, /file exists/);
  // The detached child prefetches 2 and 3.
  const p = prefetchPaths(restore, formatWalName(1, 2));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !(existsSync(p.prefetched) && existsSync(prefetchPaths(restore, formatWalName(1, 3)).prefetched))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(statSync(p.prefetched).size, 16 * 1024 * 1024);
  rmSync(join(restore, 'RECOVERYXLOG'));
  const r2 = await walg(['wal-fetch', formatWalName(1, 2), join(restore, 'RECOVERYXLOG')], { ...env, WALG_FILE_PREFIX: join(root, 'empty') });
  assert.equal(r2.code, 0, `served from the prefetch dir: ${r2.stderr}`);
  assert.deepEqual(readFileSync(join(restore, 'RECOVERYXLOG')), big(2));

  // Overwrite conflict through the CLI: exit 1 with WAL-G's message.
  writeFileSync(join(pgwal, '00000002.history'), 'a\n');
  assert.equal((await walg(['wal-push', join(pgwal, '00000002.history')], env)).code, 0);
  writeFileSync(join(pgwal, '00000002.history'), 'b\n');
  const conflict = await walg(['wal-push', join(pgwal, '00000002.history')], env);
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /^ERROR: .* WAL file '.*00000002\.history' already archived, contents differ, unable to overwrite$/m);
});
