// The page scanner of src/pg/pagefile.ts on pages written by a real PostgreSQL 15 (`initdb -k`): headers,
// checksums, a flipped byte found with its block number, and page LSNs. The pure tests are in
// test/unit/pagefile.test.ts.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  PAGE_SIZE, PageVerifier, isNewPage, isPagedFile, isPageCorrupt, isValidPage, pageChecksum, parsePageHeader,
} from '../../src/pg/pagefile.ts';
import { initCluster } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';


describe('pages written by a real PostgreSQL 15 (initdb -k)', () => {
  let cluster: PgCluster | undefined;
  before(async () => { cluster = await initCluster(); });
  after(async () => { await cluster?.destroy(); });

  test('every initialised page has a valid header and our checksum equals pd_checksum', async () => {
    const c = cluster!;
    let checked = 0;
    let files = 0;
    for (const sub of ['global', 'base/1', 'base/5']) {
      for (const name of await readdir(join(c.dataDir, sub))) {
        const path = join(c.dataDir, sub, name);
        const st = await stat(path);
        if (!st.isFile() || !isPagedFile(path, st.size)) continue;
        files++;
        const buf = await readFile(path);
        for (let b = 0; b * PAGE_SIZE < buf.length; b++) {
          const h = parsePageHeader(buf, b * PAGE_SIZE);
          if (isNewPage(h)) continue;
          assert.ok(isValidPage(h), `${sub}/${name} block ${b}: header should be valid`);
          assert.notEqual(h.checksum, 0, 'initdb -k writes checksums');
          assert.equal(pageChecksum(buf, b, b * PAGE_SIZE), h.checksum, `${sub}/${name} block ${b}`);
          assert.equal(isPageCorrupt(buf, b, b * PAGE_SIZE), false);
          checked++;
        }
      }
    }
    assert.ok(files > 100, `expected many relation files, saw ${files}`);
    assert.ok(checked > 500, `expected many pages, checked ${checked}`);
  });

  test('a flipped byte in a real page is found, with the file-relative block number', async () => {
    const c = cluster!;
    const path = join(c.dataDir, 'base/5/1259'); // pg_class of database postgres
    const buf = await readFile(path);
    assert.ok(buf.length >= 2 * PAGE_SIZE);
    const v0 = new PageVerifier(path);
    for (let b = 0; b * PAGE_SIZE < buf.length; b++) v0.page(buf, b, b * PAGE_SIZE);
    assert.deepEqual(v0.blocks, []);
    buf[PAGE_SIZE + 5000] ^= 0x40;
    const v = new PageVerifier(path);
    for (let b = 0; b * PAGE_SIZE < buf.length; b++) v.page(buf, b, b * PAGE_SIZE);
    assert.deepEqual(v.blocks, [1]);
  });

  test('the LSNs of real pages are positions in this cluster\'s WAL', async () => {
    const c = cluster!;
    const buf = await readFile(join(c.dataDir, 'base/5/1259'));
    const h = parsePageHeader(buf);
    assert.ok(h.lsn > 0n && h.lsn < 0x100000000n, `initdb LSNs are small, got ${h.lsn}`);
  });
});
