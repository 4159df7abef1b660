// The PostgreSQL test harness itself: a cluster starts as an unprivileged user, answers SQL, and is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { initCluster } from '../servers/postgres.ts';

test('initdb -k, start, query, checksums on, destroy', async () => {
  const c = await initCluster();
  try {
    await c.start();
    assert.equal(await c.psql('select 1+1'), '2');
    assert.equal(await c.psql('show data_checksums'), 'on');
    assert.match(await c.psql('show server_version'), /^15\./);
  } finally {
    await c.destroy();
  }
  assert.equal(existsSync(c.dataDir), false);
});
