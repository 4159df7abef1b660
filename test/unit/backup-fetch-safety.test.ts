// Issue #4 acceptance 4: a backup whose tar partition was crafted with '../' and absolute entries (or symlinks
// leading out, or a hostile tablespace spec) is refused by backup-fetch with a clear error naming the entry, and
// nothing is written outside the target — checked here through the library on a memory storage, and through the
// CLI on a file storage (exit code 1, WAL-G log line) in test/integration/backup-fetch-safety-cli.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAR_TYPE } from '../../src/tar/header.ts';
import type { TarHeaderInput } from '../../src/tar/header.ts';
import { backupFetch } from '../../src/pg/basebackup/fetch.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { CorruptObjectError, LocalFileError } from '../../src/core/errors.ts';
import { log } from '../../src/core/log.ts';
import { NAME, dir, file, outside, storeBackup } from '../helpers/crafted-backup.ts';

log.configure('ERROR');
log.discard();
const crafted: { what: string; part: [TarHeaderInput, Buffer?][]; entry: string; why: RegExp }[] = [
  { what: "'../' entry", part: [file('/base/ok', 'fine'), file('../escape', 'pwned')], entry: '../escape', why: /'\.\.' component/ },
  { what: "'/../../' entry (absolute with ..)", part: [file('/../../escape', 'pwned')], entry: '/../../escape', why: /'\.\.' component/ },
  { what: 'entry nested with ..', part: [file('/base/../../../escape', 'pwned')], entry: '/base/../../../escape', why: /'\.\.' component/ },
  { what: "'//abs' entry (absolute after the WAL-G slash)", part: [file('//tmp/escape', 'pwned')], entry: '//tmp/escape', why: /absolute path/ },
  { what: 'symlink to / then a file through it', part: [[{ name: '/lnk', type: TAR_TYPE.symlink, linkname: '/' }], file('/lnk/tmp/escape', 'pwned')], entry: '/lnk', why: /points outside/ },
  { what: 'symlink up (../..) then a file through it', part: [[{ name: '/base/up', type: TAR_TYPE.symlink, linkname: '../..' }], file('/base/up/escape', 'pwned')], entry: '/base/up', why: /points outside/ },
  { what: 'inner symlink then a file through it', part: [dir('/real'), [{ name: '/alias', type: TAR_TYPE.symlink, linkname: 'real' }], file('/alias/x', 'pwned')], entry: '/alias/x', why: /symbolic link/ },
  { what: 'hard link to a file outside', part: [[{ name: '/h', type: TAR_TYPE.hardlink, linkname: '../../../etc/passwd' }]], entry: '/h', why: /'\.\.' component/ },
];

describe('backup-fetch refuses crafted tar partitions (acceptance 4)', () => {
  for (const c of crafted) {
    test(`${c.what}: refused with an error naming the entry and the tar; nothing written outside`, async () => {
      const base = mkdtempSync(join(tmpdir(), 'walg-evil-'));
      try {
        const target = join(base, 'restore', 'pgdata');
        mkdirSync(join(base, 'restore'));
        const storage = new MemoryStorage();
        await storeBackup(storage, c.part);
        const before = outside(base, target);
        await assert.rejects(
          backupFetch({ storage, destination: target, backupName: 'LATEST', fsync: false, downloadConcurrency: 2 }),
          (e: unknown) => e instanceof LocalFileError && e.message.includes(`'${c.entry}'`) && e.message.includes('part_001.tar.lz4') && c.why.test(e.message),
        );
        assert.deepEqual(outside(base, target), before, 'nothing new outside the target');
        assert.ok(!existsSync('/tmp/escape'));
        assert.ok(!existsSync(join(base, 'escape')) && !existsSync(join(base, 'restore', 'escape')));
        assert.ok(!existsSync(join(target, 'global', 'pg_control')), 'pg_control (extracted last) never written');
      } finally { rmSync(base, { recursive: true, force: true }); }
    });
  }

  test("a plain absolute entry ('/etc/passwd') is PGDATA-relative in WAL-G's format: it lands inside the target", async () => {
    const base = mkdtempSync(join(tmpdir(), 'walg-evil-'));
    try {
      const storage = new MemoryStorage();
      const passwd = readFileSync('/etc/passwd', 'utf8');
      await storeBackup(storage, [file('/etc/passwd', 'pwned')]);
      await backupFetch({ storage, destination: join(base, 't'), backupName: NAME, fsync: false });
      assert.equal(readFileSync(join(base, 't', 'etc', 'passwd'), 'utf8'), 'pwned');
      assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  test('data after the end-of-archive marker is refused (compat: readTrailingZeros)', async () => {
    const base = mkdtempSync(join(tmpdir(), 'walg-evil-'));
    try {
      const storage = new MemoryStorage();
      await storeBackup(storage, [file('/base/ok', 'fine')], { trailer: Buffer.concat([Buffer.alloc(1024), Buffer.from('hidden entry')]) });
      await assert.rejects(backupFetch({ storage, destination: join(base, 't'), backupName: NAME, fsync: false, retries: 0 }),
        (e: unknown) => e instanceof CorruptObjectError && /after the end-of-archive/.test(e.message));
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  const specs: { what: string; spec: Record<string, unknown>; why: RegExp }[] = [
    { what: 'a link that is not pg_tblspc/<oid>', spec: { base_prefix: '/x', tablespaces: ['16384'], 16384: { loc: '/tmp/walg-ts-x', link: '../../etc' } }, why: /link '\.\.\/\.\.\/etc' is not pg_tblspc\/16384/ },
    { what: 'a relative location', spec: { base_prefix: '/x', tablespaces: ['16384'], 16384: { loc: 'rel/dir', link: 'pg_tblspc/16384' } }, why: /not an absolute path/ },
    { what: 'a tablespace name with a slash', spec: { base_prefix: '/x', tablespaces: ['../x'], '../x': { loc: '/tmp/walg-ts-y', link: 'pg_tblspc/../x' } }, why: /refusing tablespace name/ },
  ];
  for (const c of specs) {
    test(`a sentinel Spec with ${c.what} is refused before anything is written`, async () => {
      const base = mkdtempSync(join(tmpdir(), 'walg-evil-'));
      try {
        const storage = new MemoryStorage();
        await storeBackup(storage, [file('/base/ok', 'fine')], { sentinel: { Spec: c.spec } });
        await assert.rejects(backupFetch({ storage, destination: join(base, 't'), backupName: NAME, fsync: false }),
          (e: unknown) => e instanceof LocalFileError && c.why.test(e.message));
        assert.ok(!existsSync(join(base, 't')), 'target not even created');
      } finally { rmSync(base, { recursive: true, force: true }); }
    });
  }

  test('tablespace entries go only to the declared location; a non-empty target is refused', async () => {
    const base = mkdtempSync(join(tmpdir(), 'walg-evil-'));
    try {
      const loc = join(base, 'tsloc');
      const storage = new MemoryStorage();
      await storeBackup(storage, [dir('/pg_tblspc'), dir('/pg_tblspc/16384'), file('/pg_tblspc/16384/PG_15_1/5/1', 'tbs'), file('/pg_tblspc/16384/../../../escape', 'x')],
        { sentinel: { Spec: { 16384: { loc, link: 'pg_tblspc/16384' }, base_prefix: '/old', tablespaces: ['16384'] } } });
      const target = join(base, 't');
      await assert.rejects(backupFetch({ storage, destination: target, backupName: NAME, fsync: false }), /'\/pg_tblspc\/16384\/\.\.\/\.\.\/\.\.\/escape'.*'\.\.' component/);
      assert.equal(readFileSync(join(loc, 'PG_15_1/5/1'), 'utf8'), 'tbs');
      assert.ok(!existsSync(join(base, 'escape')));
      mkdirSync(join(base, 'nonempty'));
      writeFileSync(join(base, 'nonempty', 'f'), 'x');
      await assert.rejects(backupFetch({ storage, destination: join(base, 'nonempty'), backupName: NAME, fsync: false }), /must be empty/);
    } finally { rmSync(base, { recursive: true, force: true }); }
  });
});
