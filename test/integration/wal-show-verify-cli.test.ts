// wal-verify and wal-show through bin/wal-g on a FILE storage holding a synthetic archive with a lost segment: exit
// codes, JSON and table output, usage errors, no database. The library tests are in test/unit/wal-show-verify.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { walg, baseEnv } from '../helpers/cli.ts';
import { archive } from '../helpers/wal-archive.ts';
import { tempDir } from '../helpers/tmp.ts';

const w = (tl: number, seg: number) => formatWalName(tl, seg);


test('CLI: wal-verify exits 0 with FAILURE in the output, wal-show prints the lost segment; bad usage exits 1', async () => {
  const root = tempDir('walg-walverify-');
  await archive(new FileStorage(root), { drop: [w(2, 10)] });
  const env = baseEnv({ WALG_FILE_PREFIX: root, WALG_UPLOAD_CONCURRENCY: '1' });
  const v = await walg(['wal-verify', 'integrity', 'timeline', '--json', '--timeline', '2', '--lsn', '0/D000100'], env);
  assert.equal(v.code, 0, v.stderr);
  const out = JSON.parse(v.stdout.toString()) as { integrity: { status: string; details: Array<{ start_segment: string; status: string }> } };
  assert.equal(out.integrity.status, 'FAILURE');
  assert.deepEqual(out.integrity.details.filter((d) => d.status !== 'FOUND').map((d) => d.start_segment), ['00000002000000000000000A']);
  assert.match(v.stderr, /INFO: \S+ \S+ Detected earliest available backup: base_000000010000000000000002/);
  const t = await walg(['wal-verify', 'integrity', '--timeline', '2', '--lsn', '0/D000100'], env);
  assert.equal(t.code, 0);
  assert.match(t.stdout.toString(), /^\[wal-verify\] integrity check status: FAILURE\n/);
  assert.match(t.stdout.toString(), /\| 00000002000000000000000A \| 00000002000000000000000A \|\s+1 \| MISSING_LOST \|/);
  const show = await walg(['wal-show', '--detailed-json'], env);
  assert.equal(show.code, 0, show.stderr);
  assert.deepEqual((JSON.parse(show.stdout.toString()) as Array<{ missing_segments: string[] }>).map((x) => x.missing_segments), [[], ['00000002000000000000000A']]);
  const usage = await walg(['wal-verify', 'integrity', '--lsn', '0/1'], env);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /"--lsn" flag works only in conjunction with the "--timeline" flag/);
  const noDb = await walg(['wal-verify', 'timeline'], { ...env, PGHOST: join(root, 'no-such-socket-dir'), PGPORT: '1' });
  assert.equal(noDb.code, 1, 'without --lsn a database connection is needed');
  assert.match(noDb.stderr, /Failed to establish a connection to Postgres cluster/);
});
