// GNU tar interoperability of src/tar/tar.ts: GNU tar lists and extracts our archives, and we read GNU tar's
// (gnu, pax and ustar formats). The pure tar tests are in test/unit/tar.test.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TAR_TYPE } from '../../src/tar/header.ts';
import { tmp, buildTar, readEntries, longSplit, longPax, unicode, pattern, sample } from '../helpers/tar.ts';

describe('tar writer and reader', () => {

  test('GNU tar lists and extracts our archives (leading / stripped by GNU tar)', async () => {
    const dir = tmp('walg-tar-gnu-');
    try {
      const file = join(dir, 'a.tar');
      writeFileSync(file, await buildTar(sample.filter(([h]) => h.type !== TAR_TYPE.symlink)));
      const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.match(listing, /PG_VERSION/);
      assert.ok(listing.includes(longSplit.slice(1)) || listing.includes(longSplit), 'long split name listed');
      assert.ok(listing.includes('x'.repeat(150)), 'PAX name listed');
      assert.ok(listing.includes('файл'), 'UTF-8 name listed');
      const out = join(dir, 'out');
      mkdirSync(out);
      execFileSync('tar', ['-xf', file, '-C', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(readFileSync(join(out, 'PG_VERSION'), 'utf8'), '15\n');
      assert.ok(readFileSync(join(out, 'base/block')).equals(pattern(8192)));
      assert.ok(readFileSync(join(out, longSplit)).equals(pattern(10)));
      assert.ok(readFileSync(join(out, longPax)).equals(pattern(20)));
      assert.equal(readFileSync(join(out, unicode), 'utf8'), 'hello');
      assert.equal(lstatSync(join(out, 'base/block')).mode & 0o777, 0o640);
      assert.equal(readFileSync(join(out, 'backup_label'), 'utf8'), 'lbl\n');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('reads archives made by GNU tar (gnu and pax formats, long names)', async () => {
    const dir = tmp('walg-tar-gnu2-');
    try {
      const src = join(dir, 'src');
      const deep = join(src, 'a'.repeat(80), 'b'.repeat(80));
      mkdirSync(deep, { recursive: true });
      writeFileSync(join(deep, 'c'.repeat(120)), pattern(3000));
      writeFileSync(join(src, 'small'), 'x');
      for (const format of ['gnu', 'pax', 'ustar']) {
        const file = join(dir, `${format}.tar`);
        try {
          execFileSync('tar', [`--format=${format}`, '-cf', file, '-C', src, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
        } catch {
          assert.equal(format, 'ustar', 'only ustar may refuse a 120-byte base name');
          continue;
        }
        const got = await readEntries(readFileSync(file));
        const big = got.find((e) => e.name.endsWith('c'.repeat(120)));
        assert.ok(big, `${format}: long name read`);
        assert.equal(big.name, `./${'a'.repeat(80)}/${'b'.repeat(80)}/${'c'.repeat(120)}`);
        assert.ok(big.data.equals(pattern(3000)), `${format}: content`);
        assert.equal(got.find((e) => e.name === './small')?.data.toString(), 'x');
      }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
