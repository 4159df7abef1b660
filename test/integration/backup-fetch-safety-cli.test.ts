// Issue #4 acceptance 4 through the CLI: backup-fetch on a file storage holding a backup whose tar partition was
// crafted with a '../' entry exits 1 with a WAL-G ERROR line naming the entry and writes nothing outside the target.
// The library-level refusals are in test/unit/backup-fetch-safety.test.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';
import { file, outside, storeBackup } from '../helpers/crafted-backup.ts';

describe('backup-fetch refuses crafted tar partitions (acceptance 4)', () => {

  test('through the CLI on a file storage: exit 1, an ERROR line naming the entry, nothing outside', async () => {
    const base = mkdtempSync(join(tmpdir(), 'walg-evil-cli-'));
    try {
      const store = join(base, 'store');
      await storeBackup(new FileStorage(store), [file('/base/ok', 'fine'), file('/../escape', 'pwned')]);
      const target = join(base, 'restore');
      const before = outside(base, target);
      const r = await walg(['backup-fetch', target, 'LATEST'], baseEnv({ WALG_FILE_PREFIX: store, WALG_TAR_DISABLE_FSYNC: 'true' }));
      assert.equal(r.code, 1, r.stderr);
      for (const l of r.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE);
      assert.match(r.stderr, /^ERROR: .*refusing tar entry '\/\.\.\/escape' in part_001\.tar\.lz4: the path has a '\.\.' component/m);
      assert.deepEqual(outside(base, target).filter((p) => !p.startsWith(store)), before.filter((p) => !p.startsWith(store)));
      assert.ok(!existsSync(join(base, 'escape')));
    } finally { rmSync(base, { recursive: true, force: true }); }
  });
});
