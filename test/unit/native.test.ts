// The project's own addon (src/native/walg_native.c and walg_files.c, built by `make native`): liblz4 blocks on the
// thread pool, xxHash32 and restore's file jobs. Checks the contract the LZ4 frame codec relies on: async and sync
// calls agree and round-trip, a block that does not fit reports 0, a malformed block is an error (never a crash or a
// short success), dictionaries (linked blocks) work, bad arguments throw TypeError, and many concurrent calls on
// shared input stay correct; and that file jobs write what they are given and refuse what extraction refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadNative } from '../../src/core/native.ts';
import type { WalgNative } from '../../src/core/native.ts';

const n = loadNative<WalgNative>('walg');

function text(size: number, salt = 0): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = 97 + ((i * 7 + salt + (i >> 9)) % 23);
  return b;
}

test('compress/decompress round trip, async and sync give the same block', async () => {
  for (const size of [1, 100, 65536, 4 << 20]) {
    const src = text(size, size);
    const dstA = Buffer.alloc(size + 1024);
    const dstS = Buffer.alloc(size + 1024);
    const a = await n.lz4CompressBlock(src, dstA);
    const s = n.lz4CompressBlockSync(src, dstS);
    assert.ok(a > 0 && a === s, `size ${size}: ${a} vs ${s}`);
    assert.ok(dstA.subarray(0, a).equals(dstS.subarray(0, s)));
    const out = Buffer.alloc(size);
    assert.equal(await n.lz4DecompressBlock(dstA.subarray(0, a), out), size);
    assert.ok(out.equals(src));
    assert.equal(n.lz4DecompressBlockSync(dstA.subarray(0, a), Buffer.alloc(size)), size);
  }
});

test('an incompressible block that does not fit the capacity comes back as 0', async () => {
  const src = randomBytes(1 << 20);
  assert.equal(await n.lz4CompressBlock(src, Buffer.alloc(src.length - 1)), 0);
  assert.equal(n.lz4CompressBlockSync(src, Buffer.alloc(src.length - 1)), 0);
});

test('malformed blocks and too-small outputs are errors with code ERR_LZ4_BLOCK', async () => {
  const src = text(1 << 20);
  const c = Buffer.alloc(src.length);
  const len = n.lz4CompressBlockSync(src, c);
  const isBlockError = (err: unknown) => (err as { code?: string }).code === 'ERR_LZ4_BLOCK';
  await assert.rejects(n.lz4DecompressBlock(c.subarray(0, len), Buffer.alloc(src.length - 1)), isBlockError, 'output one byte short');
  await assert.rejects(n.lz4DecompressBlock(c.subarray(0, len - 3), Buffer.alloc(src.length)), isBlockError, 'truncated input');
  await assert.rejects(n.lz4DecompressBlock(Buffer.from([0xf0, 1, 2, 3, 4]), Buffer.alloc(1024)), isBlockError, 'garbage');
  assert.throws(() => n.lz4DecompressBlockSync(Buffer.from([0xff, 0xff, 0xff]), Buffer.alloc(16)), isBlockError);
});

test('a dictionary argument: only its last 64 KiB are history, a self-contained block ignores it', async () => {
  // Real linked blocks (lz4 -BD) go through this path in compress.test.ts; here the argument handling.
  const src = text(200_000, 3);
  const c = Buffer.alloc(src.length);
  const len = n.lz4CompressBlockSync(src, c);
  for (const dict of [null, undefined, Buffer.alloc(0), randomBytes(10), randomBytes(200_000)]) {
    const out = Buffer.alloc(src.length);
    assert.equal(await n.lz4DecompressBlock(c.subarray(0, len), out, dict), src.length);
    assert.ok(out.equals(src));
  }
});

test('xxh32 one-shot and streaming agree with the reference vectors', () => {
  assert.equal(n.xxh32(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(n.xxh32(Buffer.from('abc')), 0x32d153ff);
  assert.equal(n.xxh32(Buffer.from('abc'), 1), 0xaa3da8ff);
  const data = randomBytes(100_003);
  const st = n.xxh32State(0);
  for (let i = 0; i < data.length;) { const k = 1 + ((i * 31) % 97); n.xxh32Update(st, data.subarray(i, i + k)); i += k; }
  assert.equal(n.xxh32Digest(st), n.xxh32(data));
});

test('bad arguments throw TypeError instead of crashing', () => {
  assert.throws(() => n.lz4CompressBlockSync('abc' as unknown as Uint8Array, Buffer.alloc(8)), TypeError);
  assert.throws(() => n.lz4CompressBlockSync(Buffer.alloc(8), new Uint16Array(4) as unknown as Uint8Array), TypeError);
  assert.throws(() => (n.lz4CompressBlock as unknown as (a: unknown) => void)(Buffer.alloc(1)), TypeError);
  assert.throws(() => n.xxh32Update(Buffer.alloc(3), Buffer.alloc(1)), TypeError, 'not a state');
  assert.throws(() => n.xxh32(Buffer.alloc(1), 'x' as unknown as number), TypeError);
});

test('64 concurrent block jobs on the thread pool all return correct data', async () => {
  const blocks = Array.from({ length: 64 }, (_, i) => text(256 * 1024 + i * 1000, i));
  const comp = await Promise.all(blocks.map(async (b) => { const d = Buffer.alloc(b.length); return d.subarray(0, await n.lz4CompressBlock(b, d)); }));
  const back = await Promise.all(comp.map(async (c, i) => { const d = Buffer.alloc(blocks[i]!.length); await n.lz4DecompressBlock(c, d); return d; }));
  back.forEach((b, i) => assert.ok(b.equals(blocks[i]!), `block ${i}`));
});

test('fileCreateWrite / fileSyncClose: chunks written in order with the mode; links, directories, FIFOs refused', async () => {
  const { mkdtempSync, readFileSync, statSync, symlinkSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'walg-native-files-'));
  try {
    const chunks = [text(5000, 1), Buffer.alloc(0), text(70000, 2).subarray(3), Buffer.from('tail')];
    const file = join(dir, 'f');
    writeFileSync(file, 'old content that is longer than nothing'.repeat(5000)); // truncated
    const fd = await n.fileCreateWrite(file, chunks, 0o640);
    assert.ok(Number.isInteger(fd) && fd > 2);
    await n.fileSyncClose(fd, true);
    assert.ok(readFileSync(file).equals(Buffer.concat(chunks)));
    assert.equal(statSync(file).mode & 0o777, 0o640);
    await n.fileSyncClose(await n.fileCreateWrite(join(dir, 'empty'), [], 0o600), false);
    assert.equal(statSync(join(dir, 'empty')).size, 0);
    // The descriptor is closed: a second close fails with EBADF.
    await assert.rejects(n.fileSyncClose(fd, false), (e: Error & { errno?: number; syscall?: string }) => e.syscall === 'close' && e.errno === 9);
    symlinkSync(join(dir, 'f'), join(dir, 'link'));
    await assert.rejects(n.fileCreateWrite(join(dir, 'link'), [Buffer.from('x')], 0o600), (e: Error & { errno?: number; syscall?: string }) => e.syscall === 'open' && e.errno === 40);
    assert.ok(readFileSync(file).equals(Buffer.concat(chunks)), 'never written through a symlink');
    mkdirSync(join(dir, 'd'));
    await assert.rejects(n.fileCreateWrite(join(dir, 'd'), [Buffer.from('x')], 0o600), (e: Error & { errno?: number; syscall?: string }) => e.syscall === 'open' && e.errno === 21);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await assert.rejects(n.fileCreateWrite(join(dir, 'fifo'), [Buffer.from('x')], 0o600), (e: Error & { errno?: number; syscall?: string }) => e.syscall === 'open' && e.errno === 6, 'ENXIO, not a blocked pool thread');
    assert.throws(() => n.fileCreateWrite(join(dir, 'a\0b'), [], 0o600), TypeError);
    assert.throws(() => n.fileCreateWrite(join(dir, 'x'), ['not a buffer' as unknown as Buffer], 0o600), TypeError);
    assert.throws(() => n.fileSyncClose(-1, true), TypeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startWriteback and syncFsClose: writeback started with or without closing, syncfs then close; bad fds rejected', async () => {
  const { mkdtempSync, openSync, fstatSync, writeSync, rmSync, constants } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'walg-native-wb-'));
  try {
    const fd = openSync(join(dir, 'f'), 'w');
    writeSync(fd, Buffer.alloc(1 << 20, 1));
    await n.startWriteback(fd, false);
    assert.ok(fstatSync(fd).isFile(), 'kept open');
    await n.startWriteback(fd, true);
    assert.throws(() => fstatSync(fd), /EBADF/, 'closed');
    const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await n.syncFsClose(dfd);
    assert.throws(() => fstatSync(dfd), /EBADF/);
    await assert.rejects(n.syncFsClose(dfd), (e: Error & { syscall?: string; errno?: number }) => e.syscall === 'syncfs' && e.errno === 9);
    await assert.rejects(n.startWriteback(fd, true), (e: Error & { syscall?: string; errno?: number }) => e.syscall === 'sync_file_range' && e.errno === 9);
    assert.throws(() => n.startWriteback(-1, true), TypeError);
    assert.throws(() => n.syncFsClose('x' as unknown as number), TypeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the addon needs only libraries every Debian/Ubuntu base system has: brotli is linked in, not loaded', async () => {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const addon = fileURLToPath(new URL('../../build/walg_native.node', import.meta.url));
  const libs = execFileSync('ldd', [addon]).toString();
  assert.doesNotMatch(libs, /libbrotli/, libs);
  for (const lib of libs.matchAll(/^\s*(\S+\.so\.\d+) =>/gm)) {
    assert.ok(/^(liblz4|libzstd|liblzma|libc|libm)\.so/.test(lib[1]!), `unexpected shared library ${lib[1]}`);
  }
});
