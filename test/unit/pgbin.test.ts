// The one helper that finds PostgreSQL's binaries (issue 26): PG_BIN wins, else the newest installed major.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPgBin } from '../helpers/pgbin.ts';

function fakeRoot(versions: Array<[string, boolean]>): string {
  const root = mkdtempSync(join(tmpdir(), 'walg-pgbin-'));
  for (const [v, withInitdb] of versions) {
    mkdirSync(join(root, v, 'bin'), { recursive: true });
    if (withInitdb) writeFileSync(join(root, v, 'bin', 'initdb'), '');
  }
  return root;
}

test('the newest major with initdb wins among several installed versions', () => {
  const root = fakeRoot([['13', true], ['15', true], ['9.6', true], ['17', false], ['16', true]]);
  try {
    assert.deepEqual(findPgBin({}, root), { bin: join(root, '16', 'bin'), major: 16, found: true });
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a single installed version is found; client-only installs (no initdb) are skipped', () => {
  const root = fakeRoot([['15', true], ['16', false]]);
  try {
    assert.deepEqual(findPgBin({}, root), { bin: join(root, '15', 'bin'), major: 15, found: true });
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('PG_BIN from the environment wins over what is installed', () => {
  const root = fakeRoot([['16', true], ['15', true]]);
  try {
    const pg = findPgBin({ PG_BIN: join(root, '15', 'bin') }, root);
    assert.deepEqual(pg, { bin: join(root, '15', 'bin'), major: 15, found: true });
    assert.equal(findPgBin({ PG_BIN: '/opt/pg/custom' }, root, () => false).found, false);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('nothing installed: not found, and the message can name the default directory', () => {
  const pg = findPgBin({}, join(tmpdir(), 'walg-no-such-root'));
  assert.equal(pg.found, false);
  assert.match(pg.bin, /\/15\/bin$/);
});
