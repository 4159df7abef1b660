// Issue 22 items 2 and 4, on dist/wal-g: every condition of the audited list (test/helpers/behave-errors.ts,
// docs/compat.md "Error texts") brought about, and WAL-G v3.0.9's text asserted on the line alerting greps, with
// WAL-G's exit code. Storage conditions run on copies of the storage recorded from WAL-G; backup-push conditions on
// a real PostgreSQL. And backup-push without db_directory takes a remote backup (as WAL-G does), whatever
// PGDATA says.

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

  test('backup-push without db_directory, PGDATA set: a remote backup over the replication protocol, as WAL-G takes', async () => {
    const store = join(pg!.work, 'no-arg-store');
    mkdirSync(store);
    const r = await runBin(WALG_BIN, ['backup-push'], baseEnv({ ...pg!.cluster.env, PGDATA: pg!.cluster.dataDir, WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4' }));
    assert.equal(r.code, 0, r.stderr);
    const messages = logLines(r.stderr).map((l) => l.message);
    assert.ok(messages.includes('Running remote backup through Postgres connection.'), r.stderr);
    assert.equal(storedBackups(store).length, 1, 'one backup stored');
    assert.equal(existsSync(join(store, 'basebackups_005')), true);
  });
});
