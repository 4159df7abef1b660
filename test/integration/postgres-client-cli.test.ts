// The CLI's refusals of backup-push / backup-fetch flags and modes that are not supported yet (exit 1, a clear
// message), run through bin/wal-g. The library tests are in test/unit/postgres-client.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { walg, baseEnv } from '../helpers/cli.ts';


test('CLI: flags and modes that are not supported yet are refused clearly (exit 1)', async () => {
  const env = baseEnv({ WALG_FILE_PREFIX: '/tmp/walg-unsupported-never-written' });
  for (const [args, msg] of [
    [['backup-push', '/tmp', '--copy-composer', '--without-files-metadata'], /cannot be used with non-regular tar ball composer/],
    [['backup-push', '/tmp', '--without-files-metadata', '--delta-from-name', 'x'], /--without-files-metadata option cannot be used with --delta-from-name/],
    [['backup-push', '/tmp', '--walg-delta-origin', 'OLDEST'], /Unknown WALG_DELTA_ORIGIN: OLDEST/],
    [['backup-push', '--delta-from-name', 'x'], /Delta backup not available for remote backup\. To run delta backup, supply \[db_directory\]\./],
    [['backup-push', '/tmp', '--add-user-data', '{bad'], /Failed to unmarshal the provided UserData/],
    [['backup-fetch', '/tmp/x', 'LATEST', '--reverse-unpack'], /--reverse-unpack is not supported yet/],
    [['backup-fetch', '/tmp/x'], /insufficient arguments/],
  ] as const) {
    const r = await walg([...args], env);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});
