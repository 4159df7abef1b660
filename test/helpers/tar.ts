// Shared fixtures of the tar tests (test/unit/tar.test.ts, test/integration/tar-cli.test.ts): an in-memory tar
// builder and reader and a sample archive with long, PAX and UTF-8 names.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TAR_TYPE } from '../../src/tar/header.ts';
import type { TarHeaderInput } from '../../src/tar/header.ts';
import { readTar } from '../../src/tar/reader.ts';
import { TarWriter } from '../../src/tar/writer.ts';
import { readAll } from '../../src/storage/body.ts';

/** A fresh temporary directory whose name starts with `p`. */
export const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));


/** Builds a tar in memory from [header, content] pairs. */
export async function buildTar(entries: [TarHeaderInput, Buffer?][], trailer?: Buffer): Promise<Buffer> {
  const w = new TarWriter();
  const out = readAll(w.stream);
  for (const [h, body] of entries) await w.add(h, body);
  await w.end();
  const b = await out;
  return trailer ? Buffer.concat([b, trailer]) : b;
}

/** Reads every entry of an in-memory tar with its contents. */
export async function readEntries(buf: Buffer): Promise<{ name: string; type: string; mode: number; size: number; mtime: number; linkname: string; data: Buffer }[]> {
  const out = [];
  for await (const e of readTar(Readable.from([buf]))) {
    const data = await readAll(e.chunks());
    out.push({ name: e.header.name, type: e.header.type, mode: e.header.mode, size: e.header.size, mtime: e.header.mtime, linkname: e.header.linkname, data });
  }
  return out;
}

/** Names that exercise the prefix split, PAX and UTF-8; `pattern(n)` is n deterministic bytes. */
export const longSplit = `/base/${'d'.repeat(90)}/${'f'.repeat(60)}`; // > 100 bytes, splits into prefix/name
export const longPax = `/${'x'.repeat(150)}`; // one 150-byte component: only PAX can hold it
export const unicode = '/base/données/файл';
export const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

/** A sample archive: directories, files (empty, odd size, shrunk), long names, a symlink, WAL-G labels. */
export const sample: [TarHeaderInput, Buffer?][] = [
  [{ name: '/', type: TAR_TYPE.directory, mode: 0o700, mtime: 1700000000 }],
  [{ name: '/base', type: TAR_TYPE.directory, mode: 0o700, mtime: 1700000001 }],
  [{ name: '/PG_VERSION', type: TAR_TYPE.file, mode: 0o600, size: 3, mtime: 1700000002 }, Buffer.from('15\n')],
  [{ name: '/base/empty', type: TAR_TYPE.file, mode: 0o600, size: 0, mtime: 1700000003 }, Buffer.alloc(0)],
  [{ name: '/base/block', type: TAR_TYPE.file, mode: 0o640, size: 8192, mtime: 1700000004 }, pattern(8192)],
  [{ name: '/base/odd', type: TAR_TYPE.file, mode: 0o600, size: 1001, mtime: 1700000005 }, pattern(1001)],
  [{ name: `/base/${'d'.repeat(90)}`, type: TAR_TYPE.directory, mode: 0o700, mtime: 1700000006 }],
  [{ name: longSplit, type: TAR_TYPE.file, mode: 0o600, size: 10, mtime: 1700000007 }, pattern(10)],
  [{ name: longPax, type: TAR_TYPE.file, mode: 0o600, size: 20, mtime: 1700000008 }, pattern(20)],
  [{ name: '/base/données', type: TAR_TYPE.directory, mode: 0o700, mtime: 1700000009 }],
  [{ name: unicode, type: TAR_TYPE.file, mode: 0o600, size: 5, mtime: 1700000010 }, Buffer.from('hello')],
  [{ name: '/link', type: TAR_TYPE.symlink, mode: 0o777, linkname: `${'t'.repeat(120)}`, mtime: 1700000011 }],
  // shorter body than declared: zero-padded (a file that shrank while being read)
  [{ name: '/base/shrunk', type: TAR_TYPE.file, mode: 0o600, size: 100, mtime: 1700000012 }, Buffer.from('abc')],
  // labels as WAL-G writes them: no leading slash, mtime 0
  [{ name: 'backup_label', type: TAR_TYPE.file, mode: 0o600, size: 4 }, Buffer.from('lbl\n')],
];
