// Issue #4 acceptance 4: a backup whose tar partition was crafted with '../' and absolute entries (or symlinks
// leading out, or a hostile tablespace spec) is refused by backup-fetch with a clear error naming the entry, and
// nothing is written outside the target — checked through the library on a memory storage and through the CLI on a
// file storage (exit code 1, WAL-G log line).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarWriter, TAR_TYPE } from '../../src/tar/tar.ts';
import type { TarHeaderInput } from '../../src/tar/tar.ts';
import { backupFetch } from '../../src/pg/basebackup/fetch.ts';
import { encodeSentinel, DATE_FMT } from '../../src/backup/sentinel.ts';
import type { BackupSentinel } from '../../src/backup/sentinel.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { through } from '../../src/pipeline/pipeline.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { readAll } from '../../src/storage/body.ts';
import type { Storage } from '../../src/storage/types.ts';
import { CorruptObjectError, LocalFileError } from '../../src/core/errors.ts';
import { log } from '../../src/core/log.ts';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';

log.configure('ERROR');
log.discard();
const lz4 = await getCompressor('lz4');
const NAME = 'base_000000010000000000000003';
const PREFIX = `basebackups_005/${NAME}`;

function sentinel(extra: Partial<BackupSentinel> = {}): BackupSentinel {
  return {
    LSN: 0x3000028n, PgVersion: 150004, FinishLSN: 0x3000100n, SystemIdentifier: 7301234567890123456n, UncompressedSize: 1,
    CompressedSize: 1, ChkpNum: null, Version: 2, StartTime: '2024-05-01T10:00:00.123456Z', FinishTime: '2024-05-01T10:01:02.5Z',
    DateFmt: DATE_FMT, Hostname: 'evil', DataDir: '/var/lib/postgresql/15/main', IsPermanent: false, ...extra,
  };
}

async function tarBytes(entries: [TarHeaderInput, Buffer?][], trailer?: Buffer): Promise<Buffer> {
  const w = new TarWriter();
  const out = readAll(through(w.stream, [lz4.compress()]));
  for (const [h, b] of entries) await w.add(h, b);
  await w.end();
  const body = await out;
  if (!trailer) return body;
  // re-compress with garbage after the end-of-archive marker
  const raw = await readAll(through((await import('node:stream')).Readable.from([body]), [lz4.decompress()]));
  return readAll(through((await import('node:stream')).Readable.from([Buffer.concat([raw, trailer])]), [lz4.compress()]));
}

const file = (name: string, text: string): [TarHeaderInput, Buffer] => [{ name, type: TAR_TYPE.file, mode: 0o600, size: Buffer.byteLength(text) }, Buffer.from(text)];
const dir = (name: string): [TarHeaderInput] => [{ name, type: TAR_TYPE.directory, mode: 0o700 }];

/** Stores a fake finished backup: sentinel, files_metadata (none: restore everything), parts, pg_control. */
async function storeBackup(s: Storage, part: [TarHeaderInput, Buffer?][], opts: { sentinel?: Partial<BackupSentinel>; trailer?: Buffer } = {}): Promise<void> {
  await s.put(`${PREFIX}/tar_partitions/part_001.tar.lz4`, await tarBytes([dir('/'), dir('/base'), file('/PG_VERSION', '15\n'), ...part], opts.trailer));
  await s.put(`${PREFIX}/tar_partitions/pg_control.tar.lz4`, await tarBytes([file('/global/pg_control', 'control')]));
  await s.put(`${PREFIX}/metadata.json`, Buffer.from('{}'));
  // Version 1 sentinel: no files_metadata.json needed, so every entry of the tars is a candidate.
  await s.put(`basebackups_005/${NAME}_backup_stop_sentinel.json`, Buffer.from(encodeSentinel(sentinel({ Version: 1, ...opts.sentinel }))));
}

/** Snapshot of everything under `dir` except the target subtree. */
function outside(base: string, target: string): string[] {
  return execFileSync('find', [base], { encoding: 'utf8' }).split('\n').filter((p) => p && !p.startsWith(target)).sort();
}

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
