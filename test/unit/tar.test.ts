// Tar writer/reader: round trips (long names, PAX, leading '/'), strict end-of-archive handling, bounded memory, and
// confined extraction refusing path-escaping entries. Interoperability with GNU tar is in
// test/integration/tar-cli.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { encodeHeader, TAR_TYPE } from '../../src/tar/header.ts';
import type { TarHeaderInput } from '../../src/tar/header.ts';
import { readTar } from '../../src/tar/reader.ts';
import { TarWriter } from '../../src/tar/writer.ts';
import { SafeExtractor, SyncBehind } from '../../src/tar/extract.ts';
import { CorruptObjectError, LocalFileError } from '../../src/core/errors.ts';
import { listTree } from '../helpers/tree.ts';
import { tmp, buildTar, readEntries, longSplit, longPax, pattern, sample } from '../helpers/tar.ts';

describe('tar writer and reader', () => {
  test('round trip keeps names (leading /, long, PAX, UTF-8), types, modes, mtimes and contents', async () => {
    const buf = await buildTar(sample);
    assert.equal(buf.length % 512, 0);
    assert.ok(buf.subarray(-1024).equals(Buffer.alloc(1024)), 'ends with two zero blocks');
    const got = await readEntries(buf);
    assert.deepEqual(got.map((e) => e.name), sample.map(([h]) => h.name));
    for (let i = 0; i < sample.length; i++) {
      const [h, body] = sample[i]!;
      const g = got[i]!;
      assert.equal(g.type, h.type, h.name);
      assert.equal(g.mode, h.mode, h.name);
      assert.equal(g.mtime, h.mtime ?? 0, h.name);
      if (h.type === TAR_TYPE.symlink) assert.equal(g.linkname, h.linkname);
      if (h.type === TAR_TYPE.file) {
        const want = Buffer.alloc(h.size ?? 0);
        body!.copy(want, 0, 0, Math.min(body!.length, want.length));
        assert.ok(g.data.equals(want), `content of ${h.name}`);
      }
    }
  });

  test('USTAR when everything fits, prefix split for long ASCII names, PAX otherwise (as Go archive/tar)', () => {
    const plain = encodeHeader({ name: '/base/1/1259', type: '0', mode: 0o600, size: 8192, uid: 1000, gid: 1000, uname: 'postgres', gname: 'postgres', mtime: 1700000000 });
    assert.equal(plain.length, 512);
    assert.equal(plain.toString('latin1', 257, 265), 'ustar\u000000');
    assert.equal(plain.toString('latin1', 100, 108), '0000600\0');
    assert.equal(plain.toString('latin1', 124, 136), '00000020000\0');
    assert.equal(plain.toString('latin1', 148, 156).slice(6), '\0 ', 'checksum: 6 octal digits, NUL, space');
    const split = encodeHeader({ name: longSplit, type: '0', size: 1 });
    assert.equal(split.length, 512, 'split name needs no PAX');
    assert.equal(split.toString('latin1', 345, 345 + 96).replace(/\0+$/, ''), `/base/${'d'.repeat(90)}`);
    const pax = encodeHeader({ name: longPax, type: '0', size: 1 });
    assert.equal(pax.length, 3 * 512, 'PAX header block + records + main header');
    assert.equal(String.fromCharCode(pax[156]!), 'x');
    assert.match(pax.toString('latin1', 0, 100), /^\/PaxHeaders\.0\/x+/);
    assert.match(pax.toString('utf8', 512, 1024), new RegExp(`^\\d+ path=${longPax}\\n`));
  });

  test('sizes beyond 8 GiB go to a PAX size record and read back exactly', async () => {
    const size = 10 * 1024 ** 3 + 7;
    const hdr = encodeHeader({ name: '/huge', type: '0', mode: 0o600, size });
    assert.match(hdr.toString('utf8', 512, 1024), new RegExp(`^\\d+ size=${size}\\n`));
    const it = readTar(Readable.from([hdr, Buffer.alloc(4096)]));
    const first = await it.next();
    assert.equal(first.value!.header.size, size);
    await it.return(undefined);
  });

  test('end of archive: trailing zeros are fine, any other trailing byte fails; corrupt input fails', async () => {
    const good = await buildTar(sample.slice(0, 3), Buffer.alloc(10_000));
    assert.equal((await readEntries(good)).length, 3);
    const bad = await buildTar(sample.slice(0, 3), Buffer.concat([Buffer.alloc(700), Buffer.from([1])]));
    await assert.rejects(readEntries(bad), (e: unknown) => e instanceof CorruptObjectError && /after the end-of-archive/.test(e.message));
    const flipped = await buildTar(sample.slice(0, 3));
    flipped[600] ^= 0xff; // inside the second header's name
    await assert.rejects(readEntries(flipped), (e: unknown) => e instanceof CorruptObjectError && /checksum/.test(e.message));
    const truncated = (await buildTar(sample.slice(0, 5))).subarray(0, 512 * 6 + 100);
    await assert.rejects(readEntries(truncated), CorruptObjectError);
    // no marker at all (EOF at a header boundary) is accepted, as Go's reader does
    const noMarker = (await buildTar(sample.slice(0, 3))).subarray(0, -1024);
    assert.equal((await readEntries(noMarker)).length, 3);
  });

  test('the writer waits for a slow reader: buffered bytes stay bounded while 64 MiB pass', async () => {
    const w = new TarWriter({ highWaterMark: 1 << 20 });
    let maxBuffered = 0;
    const chunk = Buffer.alloc(1 << 20, 7);
    const producer = (async () => {
      for (let i = 0; i < 64; i++) {
        await w.add({ name: `/f${i}`, type: '0', size: chunk.length }, chunk);
        maxBuffered = Math.max(maxBuffered, w.stream.readableLength);
      }
      await w.end();
    })();
    let total = 0;
    for await (const c of w.stream) {
      total += (c as Buffer).length;
      await new Promise((r) => setImmediate(r));
    }
    await producer;
    assert.equal(total, 64 * ((1 << 20) + 512) + 1024);
    assert.ok(maxBuffered <= 3 << 20, `at most ~hwm + one chunk buffered (${maxBuffered})`);
  });
});

describe('confined extraction', () => {
  async function extractInto(root: string, entries: [TarHeaderInput, Buffer?][], absoluteNames: 'root-relative' | 'reject'): Promise<void> {
    const ex = new SafeExtractor({ root, absoluteNames, fsync: false, source: 'crafted.tar' });
    await ex.extractAll(readTar(Readable.from([await buildTar(entries)])));
  }

  test('extracts a normal archive (root-relative names)', async () => {
    const base = tmp('walg-tar-x-');
    try {
      const root = join(base, 'root');
      mkdirSync(root);
      await extractInto(root, sample.filter(([h]) => h.type !== TAR_TYPE.symlink), 'root-relative');
      assert.equal(readFileSync(join(root, 'PG_VERSION'), 'utf8'), '15\n');
      assert.ok(readFileSync(join(root, longPax)).equals(pattern(20)));
      assert.equal(lstatSync(join(root, 'base/block')).mode & 0o777, 0o640);
      assert.equal(lstatSync(root).mode & 0o777, 0o700, 'the "/" entry sets the root mode');
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  test('fsync behind the extraction: every file is handed to the queue, drain waits and reports failures', async () => {
    const base = tmp('walg-tar-sync-');
    try {
      const root = join(base, 'root');
      mkdirSync(root);
      const queued: string[] = [];
      const behind = new SyncBehind(2);
      const add = behind.add.bind(behind);
      behind.add = (fh, path) => { queued.push(path); return add(fh, path); };
      const files = sample.filter(([h]) => h.type === TAR_TYPE.file);
      const ex = new SafeExtractor({ root, absoluteNames: 'root-relative', fsync: true, syncBehind: behind, source: 'sample.tar' });
      await ex.extractAll(readTar(Readable.from([await buildTar(sample.filter(([h]) => h.type !== TAR_TYPE.symlink))])));
      await behind.drain();
      assert.equal(queued.length, files.length, 'one sync per regular file');
      assert.ok(queued.every((p) => p.startsWith(root + '/')));
      assert.equal(readFileSync(join(root, 'PG_VERSION'), 'utf8'), '15\n');
      // A handle whose fsync fails (closed behind our back: EBADF) makes drain fail with the file's name.
      const q = new SyncBehind(1, 2);
      const fh = await open(join(root, 'PG_VERSION'), 'r');
      await fh.close();
      await q.add(fh, join(root, 'PG_VERSION'));
      await assert.rejects(q.drain(), (err: Error) => err instanceof LocalFileError && /failed to fsync '.*PG_VERSION'/.test(err.message));
      // The same for a descriptor of the native file jobs (small files): fsync of a closed descriptor fails (EBADF).
      const q2 = new SyncBehind(1, 2);
      await q2.add(1 << 20, join(root, 'base/block'));
      await assert.rejects(q2.drain(), (err: Error) => err instanceof LocalFileError && /failed to fsync '.*base\/block'/.test(err.message));
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  const cases: { what: string; entries: [TarHeaderInput, Buffer?][]; mode: 'root-relative' | 'reject'; msg: RegExp }[] = [
    { what: '../x', entries: [[{ name: '../x', type: '0', size: 3 }, Buffer.from('bad')]], mode: 'reject', msg: /'\.\.\/x'.*'\.\.' component/ },
    { what: '/../x (root-relative)', entries: [[{ name: '/../x', type: '0', size: 3 }, Buffer.from('bad')]], mode: 'root-relative', msg: /'\.\.' component/ },
    { what: 'a/../../x', entries: [[{ name: 'a/../../x', type: '0', size: 3 }, Buffer.from('bad')]], mode: 'reject', msg: /'\.\.' component/ },
    { what: '/etc/x (plain tar)', entries: [[{ name: '/etc/x', type: '0', size: 3 }, Buffer.from('bad')]], mode: 'reject', msg: /absolute path/ },
    { what: '//etc/x (root-relative)', entries: [[{ name: '//etc/x', type: '0', size: 3 }, Buffer.from('bad')]], mode: 'root-relative', msg: /absolute path/ },
    {
      what: 'symlink to / then a file through it',
      entries: [[{ name: 'evil', type: '2', linkname: '/' }], [{ name: 'evil/x', type: '0', size: 3 }, Buffer.from('bad')]],
      mode: 'reject', msg: /'evil'.*points outside/,
    },
    {
      what: 'symlink to .. then a file through it',
      entries: [[{ name: 'd', type: '5', mode: 0o700 }], [{ name: 'd/up', type: '2', linkname: '../..' }], [{ name: 'd/up/x', type: '0', size: 3 }, Buffer.from('bad')]],
      mode: 'reject', msg: /'d\/up'.*points outside/,
    },
    {
      what: 'inside symlink, then a file through it',
      entries: [[{ name: 'real', type: '5', mode: 0o700 }], [{ name: 'alias', type: '2', linkname: 'real' }], [{ name: 'alias/x', type: '0', size: 3 }, Buffer.from('bad')]],
      mode: 'reject', msg: /'alias\/x'.*symbolic link/,
    },
    {
      what: 'hard link to a file outside',
      entries: [[{ name: 'h', type: '1', linkname: '../outside-file' }]],
      mode: 'reject', msg: /'\.\.' component/,
    },
  ];
  for (const c of cases) {
    test(`refuses ${c.what} with a clear error; nothing is written outside`, async () => {
      const base = tmp('walg-tar-evil-');
      try {
        const root = join(base, 'a', 'b', 'root');
        mkdirSync(root, { recursive: true });
        writeFileSync(join(base, 'a', 'outside-file'), 'keep');
        const before = listTree(base).join('\n');
        await assert.rejects(extractInto(root, c.entries, c.mode), (e: unknown) => e instanceof LocalFileError && c.msg.test(e.message) && /crafted\.tar/.test(e.message));
        const after = listTree(base).filter((p) => p && !p.startsWith(root));
        assert.deepEqual(after, before.split('\n').filter((p) => p && !p.startsWith(root)), 'nothing new outside the root');
        assert.equal(readFileSync(join(base, 'a', 'outside-file'), 'utf8'), 'keep');
        assert.ok(!existsSync('/x') || readFileSync('/x', 'utf8') !== 'bad');
        assert.ok(!existsSync('/etc/x'));
      } finally { rmSync(base, { recursive: true, force: true }); }
    });
  }

  test('files written behind the extraction keep archive order: same name twice, links, then a directory of that name', async () => {
    const base = tmp('walg-tar-order-');
    try {
      const root = join(base, 'root');
      mkdirSync(root);
      const big = pattern(3 << 20); // streamed, not read whole first
      const many = Array.from({ length: 200 }, (_, i): [TarHeaderInput, Buffer] => [{ name: `/many/${i}`, type: '0', size: 10 + i, mode: 0o600 }, pattern(10 + i)]);
      await extractInto(root, [
        [{ name: '/many', type: '5', mode: 0o700 }],
        [{ name: '/pair', type: '5', mode: 0o700 }],
        ...many,
        // Pairs of the same name and file + hard link pairs, many, so that a missing wait shows as a race.
        ...Array.from({ length: 100 }, (_, i): [TarHeaderInput, Buffer?][] => [
          [{ name: `/pair/${i}`, type: '0', size: 300_000, mode: 0o600 }, pattern(300_000)],
          [{ name: `/pair/${i}`, type: '0', size: 3, mode: 0o600 }, Buffer.from('new')],
          [{ name: `/pair/h${i}`, type: '0', size: 4, mode: 0o600 }, Buffer.from('hard')],
          [{ name: `/pair/l${i}`, type: '1', linkname: `/pair/h${i}` }],
        ]).flat(),
        [{ name: '/twice', type: '0', size: 5, mode: 0o600 }, Buffer.from('first')],
        [{ name: '/twice', type: '0', size: 6, mode: 0o644 }, Buffer.from('second')],
        [{ name: '/small', type: '0', size: 5, mode: 0o600 }, Buffer.from('small')],
        [{ name: '/hard-small', type: '1', linkname: '/small' }],
        [{ name: '/big', type: '0', size: big.length, mode: 0o640 }, big],
        [{ name: '/hard', type: '1', linkname: '/big' }],
        [{ name: '/soft', type: '2', linkname: 'twice' }],
      ], 'root-relative');
      assert.equal(readFileSync(join(root, 'twice'), 'utf8'), 'second');
      assert.equal(lstatSync(join(root, 'twice')).mode & 0o777, 0o644);
      assert.equal(readFileSync(join(root, 'hard-small'), 'utf8'), 'small');
      assert.ok(readFileSync(join(root, 'hard')).equals(big));
      assert.equal(lstatSync(join(root, 'hard')).ino, lstatSync(join(root, 'big')).ino);
      assert.equal(readFileSync(join(root, 'soft'), 'utf8'), 'second');
      for (const [h, data] of many) assert.ok(readFileSync(join(root, h.name)).equals(data), h.name);
      for (let i = 0; i < 100; i++) {
        assert.equal(readFileSync(join(root, `pair/${i}`), 'utf8'), 'new');
        assert.equal(readFileSync(join(root, `pair/l${i}`), 'utf8'), 'hard');
      }
      // A file, then a path through it: refused as if the file had been written before the next entry started.
      await assert.rejects(extractInto(join(root, 'many'), [
        [{ name: '/f', type: '0', size: 1 }, Buffer.from('x')],
        [{ name: '/f/x', type: '0', size: 1 }, Buffer.from('y')],
      ], 'root-relative'), (e: unknown) => e instanceof LocalFileError && /'\/f\/x'.*is not a directory/.test(e.message));
      // A file that cannot be created fails the extraction, which returns only once nothing is written any more.
      mkdirSync(join(root, 'taken'));
      await assert.rejects(extractInto(root, [
        [{ name: '/taken', type: '0', size: 1 }, Buffer.from('x')],
        ...many.map(([h, d]): [TarHeaderInput, Buffer] => [{ ...h, name: `/later${h.name}` }, d]),
      ], 'root-relative'), (e: unknown) => e instanceof LocalFileError && /failed to create new file: '.*taken'/.test(e.message));
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  test('a symlink already on disk (e.g. from a concurrent tar) is never written through', async () => {
    const base = tmp('walg-tar-race-');
    try {
      const root = join(base, 'root');
      const outside = join(base, 'outside');
      mkdirSync(root);
      mkdirSync(outside);
      symlinkSync(outside, join(root, 'lnk'));
      symlinkSync(join(outside, 'f'), join(root, 'file-link'));
      await assert.rejects(extractInto(root, [[{ name: '/lnk/x', type: '0', size: 1 }, Buffer.from('x')]], 'root-relative'), /symbolic link/);
      await assert.rejects(extractInto(root, [[{ name: '/lnk', type: '5', mode: 0o777 }]], 'root-relative'), /symbolic link/);
      await assert.rejects(extractInto(root, [[{ name: '/file-link', type: '0', size: 1 }, Buffer.from('x')]], 'root-relative'), /symbolic link/);
      assert.deepEqual(readdirSync(outside), []);
      assert.ok(lstatSync(join(root, 'file-link')).isSymbolicLink(), 'a refused path is left as it was, not removed');
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  test('root-relative names: /etc/x lands inside the root; mounts redirect declared prefixes', async () => {
    const base = tmp('walg-tar-mount-');
    try {
      const root = join(base, 'root');
      const loc = join(base, 'tblspc');
      mkdirSync(root);
      mkdirSync(loc);
      mkdirSync(join(root, 'pg_tblspc'));
      symlinkSync(loc, join(root, 'pg_tblspc', '16384'));
      const ex = new SafeExtractor({ root, absoluteNames: 'root-relative', fsync: false, mounts: new Map([['pg_tblspc/16384', loc]]) });
      await ex.extractAll(readTar(Readable.from([await buildTar([
        [{ name: '/etc/x', type: '0', size: 2 }, Buffer.from('ok')],
        [{ name: '/pg_tblspc/16384', type: '5', mode: 0o700 }],
        [{ name: '/pg_tblspc/16384/PG_15_1/5/16385', type: '0', size: 3 }, Buffer.from('tbs')],
      ])])));
      assert.equal(readFileSync(join(root, 'etc/x'), 'utf8'), 'ok');
      assert.equal(readFileSync(join(loc, 'PG_15_1/5/16385'), 'utf8'), 'tbs');
      assert.ok(lstatSync(join(root, 'pg_tblspc', '16384')).isSymbolicLink(), 'the link itself is untouched');
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  test('file streams from disk through reader and extractor', async () => {
    const base = tmp('walg-tar-file-');
    try {
      const file = join(base, 't.tar');
      writeFileSync(file, await buildTar(sample.filter(([h]) => h.type !== TAR_TYPE.symlink)));
      const root = join(base, 'r');
      mkdirSync(root);
      await new SafeExtractor({ root, absoluteNames: 'root-relative' }).extractAll(readTar(createReadStream(file, { highWaterMark: 700 })));
      assert.ok(readFileSync(join(root, 'base/odd')).equals(pattern(1001)));
    } finally { rmSync(base, { recursive: true, force: true }); }
  });
});
