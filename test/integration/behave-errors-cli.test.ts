// Issue 22 items 2 and 4, on dist/wal-g: every condition of the audited list (test/helpers/behave-errors.ts,
// docs/compat.md "Error texts") brought about, and WAL-G v3.0.9's text asserted on the line alerting greps, with
// WAL-G's exit code. Storage conditions run on copies of the storage recorded from WAL-G; backup-push conditions on
// a real PostgreSQL. And backup-push without db_directory (WAL-G: a remote backup) fails with one line, whatever
// PGDATA says, and backs nothing up.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WALG_BIN, baseEnv, runBin } from '../helpers/cli.ts';
import { PG_CASES, STORE_CASES, assertCaseText, logLines, runPgCase, runStoreCase, storedBackups, startCaseCluster } from '../helpers/behave-errors.ts';
import type { CaseCluster } from '../helpers/behave-errors.ts';

describe('error texts as WAL-G prints them: storage conditions', () => {
  for (const k of STORE_CASES) {
    test(`${k.id}: ${k.what}`, async () => {
      assertCaseText(k, 'ours', await runStoreCase(k, WALG_BIN));
    });
  }
});

describe('error texts as WAL-G prints them: backup-push on PostgreSQL', { timeout: 300_000 }, () => {
  let pg: CaseCluster | undefined;
  before(async () => { pg = await startCaseCluster(); });
  after(async () => { await pg?.destroy(); });

  for (const k of PG_CASES) {
    test(`${k.id}: ${k.what}`, async () => {
      assertCaseText(k, 'ours', await runPgCase(k, WALG_BIN, pg!.cluster, pg!.work));
    });
  }

  test('backup-push without db_directory, PGDATA set: one ERROR line naming the remote backup and [db_directory], exit 1, nothing backed up', async () => {
    const store = join(pg!.work, 'no-arg-store');
    mkdirSync(store);
    const r = await runBin(WALG_BIN, ['backup-push'], baseEnv({ ...pg!.cluster.env, PGDATA: pg!.cluster.dataDir, WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4' }));
    assert.equal(r.code, 1, r.stderr);
    const lines = logLines(r.stderr);
    assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
    assert.equal(lines[0]!.level, 'ERROR');
    assert.match(lines[0]!.message, /^backup-push without db_directory takes a remote backup through the Postgres connection .*not support yet\. To run with local backup functionalities, supply \[db_directory\]/);
    assert.deepEqual(storedBackups(store), [], 'no backup of $PGDATA');
    assert.equal(existsSync(join(store, 'basebackups_005')), false, 'nothing written to the storage');
    assert.equal(await pg!.cluster.psql("select count(*) from pg_stat_activity where backend_type = 'client backend' and application_name = 'wal-g'"), '0');
  });
});
