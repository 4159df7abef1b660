// wal-push / wal-fetch / prefetch library behaviour on MemoryStorage and FileStorage (with fault injection). CLI
// runs (exit codes, log lines, the detached prefetch child) are in test/integration/wal-push-fetch-cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { FileStorage } from '../../src/storage/drivers/fs.ts';
import { withFaults } from '../../src/storage/wrap/fault.ts';
import { readAll } from '../../src/storage/body.ts';
import type { Storage } from '../../src/storage/types.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { createLibsodiumCrypter } from '../../src/pipeline/crypt/libsodium.ts';
import type { DataPipeline } from '../../src/pipeline/pipeline.ts';
import { ArchiveNonExistenceError, CorruptObjectError, LocalFileError, OverwriteRefusedError, StorageError } from '../../src/core/errors.ts';
import { log } from '../../src/core/log.ts';
import { exitCodeFor } from '../../src/cli/exit-codes.ts';
import { UploadMarkers, markerDirFor } from '../../src/pg/wal/archive-status.ts';
import { walPush, uploadWalFile } from '../../src/pg/wal/push.ts';
import type { WalPushOptions } from '../../src/pg/wal/push.ts';
import { walFetch, openArchivedWal, takePrefetched } from '../../src/pg/wal/fetch.ts';
import { walPrefetch, prefetchPaths, prefetchPossible, cleanupPrefetchDirectories, prefetcherRunning, prefetcherLockPath } from '../../src/pg/wal/prefetch.ts';
import { formatWalName } from '../../src/pg/wal-name.ts';
import { segment } from '../helpers/wal-segment.ts';

const SEG = 1024 * 1024; // 1 MiB segments keep the tests fast
const dirs: string[] = [];
process.on('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(prefix = 'walg-wal-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}


const name = (n: number, tli = 1) => formatWalName(tli, n, SEG);

/** A pg_wal-like directory with the given segments and optional .ready files. */
function walDir(segs: Record<string, Buffer>, ready: string[] = []): string {
  const d = join(tmp(), 'pg_wal');
  mkdirSync(join(d, 'archive_status'), { recursive: true });
  for (const [n, data] of Object.entries(segs)) writeFileSync(join(d, n), data);
  for (const r of ready) writeFileSync(join(d, 'archive_status', `${r}.ready`), '');
  return d;
}

async function lz4(): Promise<DataPipeline> { return { compressor: await getCompressor('lz4') }; }

async function pushOpts(storage: Storage, dir: string, over: Partial<WalPushOptions> = {}): Promise<WalPushOptions> {
  return {
    storage, pipeline: await lz4(), preventOverwrite: false, uploadConcurrency: 4, totalBgUploadedLimit: 32,
    readyRename: false, markers: new UploadMarkers(markerDirFor(join(dir, 'x'))), segmentSize: SEG,
    decompressorCache: null, pollIntervalMs: 10, ...over,
  };
}

/** Lists every key (recursively). */
async function keys(storage: Storage, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const e of storage.list(prefix, { recursive: true })) out.push(e.key);
  return out;
}

/**
 * Holds the put of `key` until `others` other puts have finished (or 5 s passed), so background uploads get the
 * time a real 16 MiB upload of the main file gives them.
 */
function slowMain(inner: Storage, key: string, others: number): Storage {
  let done = 0;
  const waiters: (() => void)[] = [];
  const wrapped = Object.create(inner) as Storage;
  wrapped.put = async (k, body, opts) => {
    if (k === key) {
      await new Promise<void>((resolve) => {
        if (done >= others) { resolve(); return; }
        waiters.push(resolve);
        setTimeout(resolve, 5000);
      });
      return inner.put(k, body, opts);
    }
    try { return await inner.put(k, body, opts); } finally {
      if (++done >= others) for (const w of waiters.splice(0)) w();
    }
  };
  return wrapped;
}

async function decoded(storage: Storage, n: string, p?: DataPipeline): Promise<Buffer> {
  return readAll((await openArchivedWal(storage, n, { crypter: p?.crypter, decompressorCache: null })).stream);
}

/** Captures log lines written during fn. */
async function captureLog<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; lines: string }> {
  const f = join(tmp('walg-log-'), 'log');
  log.configure('NORMAL', f);
  try {
    const value = await fn();
    return { value, lines: readFileSync(f, 'utf8') };
  } catch (error) {
    return { error, lines: readFileSync(f, 'utf8') };
  } finally {
    log.configure('NORMAL');
  }
}

test('push stores wal_005/<name>.lz4 and fetch returns identical bytes', async () => {
  const s = new MemoryStorage();
  const data = segment(1);
  const dir = walDir({ [name(1)]: data });
  await walPush(join(dir, name(1)), await pushOpts(s, dir));
  assert.equal(await s.exists(`wal_005/${name(1)}.lz4`), true);
  const out = join(tmp(), 'RECOVERYXLOG');
  assert.equal(await walFetch(name(1), out, { storage: s, segmentSize: SEG, decompressorCache: null }), 'storage');
  assert.deepEqual(readFileSync(out), data);
});

test('encrypted push (libsodium) round-trips; "none" compression stores the bare name', async () => {
  const s = new MemoryStorage();
  const data = segment(2);
  const dir = walDir({ [name(2)]: data });
  const crypter = createLibsodiumCrypter(Buffer.alloc(32, 7));
  await walPush(join(dir, name(2)), await pushOpts(s, dir, { pipeline: { compressor: await getCompressor('zstd'), crypter } }));
  assert.equal(await s.exists(`wal_005/${name(2)}.zst`), true);
  const stored = await readAll(await s.get(`wal_005/${name(2)}.zst`));
  assert.equal(stored.includes(data.subarray(0, 64)), false, 'stored bytes are not plaintext');
  const out = join(tmp(), 'x');
  await walFetch(name(2), out, { storage: s, crypter, segmentSize: SEG, decompressorCache: null });
  assert.deepEqual(readFileSync(out), data);

  const s2 = new MemoryStorage();
  await walPush(join(dir, name(2)), await pushOpts(s2, dir, { pipeline: { compressor: await getCompressor('none') } }));
  assert.deepEqual(await keys(s2), [`wal_005/${name(2)}`]);
  assert.deepEqual(await decoded(s2, name(2)), data);
});

test('fetch probes extensions in WAL-G order and honours ~/.walg_decompressor_cache', async () => {
  const s = new MemoryStorage();
  const data = segment(3, 64 * 1024);
  const dir = walDir({ [name(3)]: data });
  await uploadWalFile(join(dir, name(3)), { storage: s, pipeline: { compressor: await getCompressor('lzma') }, preventOverwrite: false });
  await uploadWalFile(join(dir, name(3)), { storage: s, pipeline: { compressor: await getCompressor('zstd') }, preventOverwrite: false });
  const cache = join(tmp(), '.walg_decompressor_cache');
  // lzma comes before zst in the probe order.
  assert.equal((await openArchivedWal(s, name(3), { decompressorCache: cache })).key, `wal_005/${name(3)}.lzma`);
  assert.deepEqual(JSON.parse(readFileSync(cache, 'utf8')), { FileExtension: 'lzma' });
  writeFileSync(cache, JSON.stringify({ FileExtension: 'zst' }));
  const o = await openArchivedWal(s, name(3), { decompressorCache: cache });
  assert.equal(o.key, `wal_005/${name(3)}.zst`);
  assert.deepEqual(await readAll(o.stream), data);
});

test('WALG_PREVENT_WAL_OVERWRITE: equal content is skipped (exit 0), different content refused', async () => {
  const s = withFaults(new MemoryStorage());
  const data = segment(4);
  const dir = walDir({ [name(4)]: data });
  const opts = await pushOpts(s, dir, { preventOverwrite: true });
  await walPush(join(dir, name(4)), opts);
  const putsBefore = s.calls.put;
  const r = await captureLog(() => walPush(join(dir, name(4)), opts));
  assert.equal(r.error, undefined);
  assert.equal(r.value!.skippedEqual, true);
  assert.equal(s.calls.put, putsBefore, 'nothing re-uploaded');
  assert.match(r.lines, new RegExp(`^INFO: .* WAL file '${join(dir, name(4))}' already archived with equal content, skipping$`, 'm'));

  const changed = Buffer.from(data);
  changed[5000] ^= 1;
  writeFileSync(join(dir, name(4)), changed);
  const r2 = await captureLog(() => walPush(join(dir, name(4)), opts));
  assert.ok(r2.error instanceof OverwriteRefusedError);
  assert.equal((r2.error as Error).message, `WAL file '${join(dir, name(4))}' already archived, contents differ, unable to overwrite`);
  assert.deepEqual(await decoded(s, name(4)), data, 'archived copy untouched');

  // A longer local file with the archived bytes as prefix is different too.
  writeFileSync(join(dir, name(4)), Buffer.concat([data, Buffer.from('x')]));
  await assert.rejects(walPush(join(dir, name(4)), opts), OverwriteRefusedError);

  // Without the setting a segment is simply overwritten.
  writeFileSync(join(dir, name(4)), changed);
  await walPush(join(dir, name(4)), { ...opts, preventOverwrite: false });
  assert.deepEqual(await decoded(s, name(4)), changed);
});

test('.history files are always protected against overwrite, even with the setting off', async () => {
  const s = new MemoryStorage();
  const hist = Buffer.from('1\t0/3000000\tno recovery target specified\n');
  const dir = walDir({ '00000002.history': hist });
  const opts = await pushOpts(s, dir, { preventOverwrite: false });
  await walPush(join(dir, '00000002.history'), opts);
  assert.equal(await s.exists('wal_005/00000002.history.lz4'), true);
  const same = await walPush(join(dir, '00000002.history'), opts);
  assert.equal(same.skippedEqual, true);
  writeFileSync(join(dir, '00000002.history'), '1\t0/4000000\tdifferent\n');
  await assert.rejects(walPush(join(dir, '00000002.history'), opts), (e: Error) =>
    e instanceof OverwriteRefusedError && /00000002\.history' already archived, contents differ, unable to overwrite$/.test(e.message));
  assert.deepEqual(await decoded(s, '00000002.history'), hist);
});

test('an unreadable archived copy makes the overwrite check fail (no silent overwrite)', async () => {
  const s = new MemoryStorage();
  const dir = walDir({ [name(5)]: segment(5) });
  const opts = await pushOpts(s, dir, { preventOverwrite: true });
  await walPush(join(dir, name(5)), opts);
  s.corrupt(`wal_005/${name(5)}.lz4`, (b) => { const c = Buffer.from(b); c.fill(0, 20, 200); return c; });
  await assert.rejects(walPush(join(dir, name(5)), opts), /Couldn't check whether there is an overwrite attempt due to inner error/);
});

for (const kind of ['memory', 'file'] as const) {
  test(`${kind} storage failing mid-upload: wal-push fails, nothing fetchable is left, a retry succeeds`, async () => {
    const root = tmp('walg-st-');
    const inner: Storage = kind === 'memory' ? new MemoryStorage() : new FileStorage(root);
    const s = withFaults(inner, [{ op: 'put', afterBytes: 64 * 1024 }]);
    const data = segment(6);
    const dir = walDir({ [name(6)]: data });
    const opts = await pushOpts(s, dir);
    const r = await captureLog(() => walPush(join(dir, name(6)), opts));
    assert.ok(r.error instanceof StorageError, String(r.error));
    assert.match((r.error as Error).message, new RegExp(`^upload: could not Upload '${join(dir, name(6))}'`));
    assert.equal(s.injected, 1);
    assert.deepEqual(await keys(inner), [], 'no object, no listed temp object');
    if (kind === 'file') assert.deepEqual(readdirSync(join(root, 'wal_005')), [], 'no temp file left on disk');
    const out = join(tmp(), 'RECOVERYXLOG');
    await assert.rejects(walFetch(name(6), out, { storage: inner, segmentSize: SEG, decompressorCache: null }), ArchiveNonExistenceError);
    assert.equal(existsSync(out), false);
    // The fault rule fired once; Postgres retries archive_command and this time it works.
    await walPush(join(dir, name(6)), opts);
    await walFetch(name(6), out, { storage: inner, segmentSize: SEG, decompressorCache: null });
    assert.deepEqual(readFileSync(out), data);
  });
}

test('missing local file: "upload: could not open"', async () => {
  const s = new MemoryStorage();
  const dir = walDir({});
  await assert.rejects(walPush(join(dir, name(7)), await pushOpts(s, dir)), (e: Error) =>
    e instanceof LocalFileError && e.message === `upload: could not open '${join(dir, name(7))}'`);
});

test('.ready files are uploaded in the background, marked, and the later call returns at once', async () => {
  const s = withFaults(new MemoryStorage());
  const segs: Record<string, Buffer> = {};
  for (let i = 10; i <= 15; i++) segs[name(i)] = segment(i);
  segs['00000002.history'] = Buffer.from('1\t0/A000000\tno recovery target specified\n');
  // 10 is pushed now; 11..13 and the history file are waiting; 14 has no .ready (not finished); 15 already .done.
  const dir = walDir(segs, [name(11), name(12), name(13), '00000002.history']);
  writeFileSync(join(dir, 'archive_status', `${name(15)}.done`), '');
  const opts = await pushOpts(s, dir, { uploadConcurrency: 3 });
  const res = await walPush(join(dir, name(10)), { ...opts, storage: slowMain(s, `wal_005/${name(10)}.lz4`, 4) });
  assert.deepEqual(res.backgroundUploaded.sort(), ['00000002.history', name(11), name(12), name(13)].sort());
  assert.deepEqual(res.backgroundFailed, []);
  for (const n of [name(10), name(11), name(12), name(13)]) assert.deepEqual(await decoded(s, n), segs[n], n);
  assert.deepEqual(await decoded(s, '00000002.history'), segs['00000002.history']);
  assert.equal(await s.exists(`wal_005/${name(14)}.lz4`), false);
  const markerDir = join(dir, 'walg_data', 'walg_archive_status');
  assert.deepEqual(readdirSync(markerDir).sort(), ['00000002', name(11), name(12), name(13)].sort());
  // .ready stays (PG_READY_RENAME off): Postgres will call archive_command for it, which returns at once.
  assert.equal(existsSync(join(dir, 'archive_status', `${name(11)}.ready`)), true);
  const puts = s.calls.put;
  const again = await walPush(join(dir, name(11)), opts);
  assert.equal(again.alreadyUploaded, true);
  assert.equal(s.calls.put, puts, 'no upload for a marked file');
  assert.equal(existsSync(join(markerDir, name(11))), false, 'marker consumed');
  assert.equal((await walPush(join(dir, '00000002.history'), opts)).alreadyUploaded, true);
});

test('PG_READY_RENAME renames .ready to .done; TOTAL_BG_UPLOADED_LIMIT bounds the background work', async () => {
  const s = new MemoryStorage();
  const segs: Record<string, Buffer> = {};
  for (let i = 20; i <= 26; i++) segs[name(i)] = segment(i);
  const ready = [21, 22, 23, 24, 25, 26].map((i) => name(i));
  const dir = walDir(segs, ready);
  // One worker (concurrency 2) makes the limit exact: limit 4 -> 3 background uploads, in successor order.
  const res = await walPush(join(dir, name(20)), await pushOpts(slowMain(s, `wal_005/${name(20)}.lz4`, 3), dir,
    { uploadConcurrency: 2, totalBgUploadedLimit: 4, readyRename: true }));
  assert.deepEqual(res.backgroundUploaded, [name(21), name(22), name(23)]);
  const st = readdirSync(join(dir, 'archive_status')).sort();
  assert.deepEqual(st, [`${name(21)}.done`, `${name(22)}.done`, `${name(23)}.done`, `${name(24)}.ready`, `${name(25)}.ready`, `${name(26)}.ready`]);
  // WALG_UPLOAD_CONCURRENCY=1 disables background uploads.
  const res2 = await walPush(join(dir, name(24)), await pushOpts(s, dir, { uploadConcurrency: 1 }));
  assert.deepEqual(res2.backgroundUploaded, []);
  assert.equal(await s.exists(`wal_005/${name(25)}.lz4`), false);
});

test('a failed background upload is logged, leaves no marker, and does not fail the call (compat)', async () => {
  const inner = new MemoryStorage();
  const s = withFaults(inner, [{ op: 'put', key: `wal_005/${name(31)}.lz4`, afterBytes: 1000 }]);
  const segs = { [name(30)]: segment(30), [name(31)]: segment(31), [name(32)]: segment(32) };
  const dir = walDir(segs, [name(31), name(32)]);
  const out = await captureLog(async () => walPush(join(dir, name(30)), await pushOpts(slowMain(s, `wal_005/${name(30)}.lz4`, 2), dir)));
  assert.equal(out.error, undefined);
  assert.deepEqual(out.value!.backgroundFailed, [name(31)]);
  assert.deepEqual(out.value!.backgroundUploaded, [name(32)]);
  assert.match(out.lines, new RegExp(`^ERROR: .* Error of background uploader: upload: could not Upload '.*${name(31)}': injected fault$`, 'm'));
  assert.equal(existsSync(join(dir, 'walg_data', 'walg_archive_status', name(31))), false);
  assert.equal(await inner.exists(`wal_005/${name(31)}.lz4`), false);
  // Postgres then archives 31 itself.
  await walPush(join(dir, name(31)), await pushOpts(s, dir));
  assert.deepEqual(await decoded(inner, name(31)), segs[name(31)]);
});

test('wal-fetch: missing segment and missing .history are ArchiveNonExistenceError', async () => {
  const s = new MemoryStorage();
  const d = tmp();
  for (const n of [name(40), '00000003.history']) {
    await assert.rejects(walFetch(n, join(d, 'RECOVERYXLOG'), { storage: s, segmentSize: SEG, decompressorCache: null }), (e: Error) =>
      e instanceof ArchiveNonExistenceError && e.message === `Archive '${n}' does not exist.`);
    assert.deepEqual(readdirSync(d), [], 'no destination or temp file');
  }
});

test('wal-fetch: a failing storage is an error (exit 1), never "does not exist" (exit 74)', async () => {
  const inner = new MemoryStorage();
  const dir = walDir({ [name(43)]: segment(43) });
  await walPush(join(dir, name(43)), await pushOpts(inner, dir));
  // Every read fails, as with an unreachable server: Postgres must not take that for the end of the archive.
  const down = withFaults(inner, [{ op: 'get', times: Infinity, error: () => new StorageError('connection refused') }]);
  const d = tmp();
  for (const n of [name(43), name(44)]) {
    const err = await walFetch(n, join(d, 'RECOVERYXLOG'), { storage: down, segmentSize: SEG, decompressorCache: null }).catch((e: unknown) => e);
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(exitCodeFor(err), 1);
  }
  // A read that breaks mid-stream leaves no destination either.
  const flaky = withFaults(inner, [{ op: 'get', afterBytes: 1000 }]);
  await assert.rejects(walFetch(name(43), join(d, 'RECOVERYXLOG'), { storage: flaky, segmentSize: SEG, decompressorCache: null }));
  assert.deepEqual(readdirSync(d), []);
  assert.equal(exitCodeFor(new ArchiveNonExistenceError(name(44))), 74);
});

test('wal-fetch never overwrites an existing destination', async () => {
  const s = new MemoryStorage();
  const dir = walDir({ [name(41)]: segment(41) });
  await walPush(join(dir, name(41)), await pushOpts(s, dir));
  const out = join(tmp(), 'RECOVERYXLOG');
  writeFileSync(out, 'keep me');
  await assert.rejects(walFetch(name(41), out, { storage: s, segmentSize: SEG, decompressorCache: null }), LocalFileError);
  assert.equal(readFileSync(out, 'utf8'), 'keep me');
});

test('wal-fetch of a corrupt object fails and leaves no destination file', async () => {
  const s = new MemoryStorage();
  const dir = walDir({ [name(42)]: segment(42) });
  await walPush(join(dir, name(42)), await pushOpts(s, dir));
  s.corrupt(`wal_005/${name(42)}.lz4`, (b) => { const c = Buffer.from(b); c.fill(0xaa, 100, 400); return c; });
  const d = tmp();
  await assert.rejects(walFetch(name(42), join(d, 'RECOVERYXLOG'), { storage: s, segmentSize: SEG, decompressorCache: null }), CorruptObjectError);
  assert.deepEqual(readdirSync(d), []);
  // Wrong key for an encrypted object: decryption fails, nothing written.
  const s2 = new MemoryStorage();
  await walPush(join(dir, name(42)), await pushOpts(s2, dir, { pipeline: { compressor: await getCompressor('lz4'), crypter: createLibsodiumCrypter(Buffer.alloc(32, 1)) } }));
  await assert.rejects(walFetch(name(42), join(d, 'RECOVERYXLOG'), { storage: s2, crypter: createLibsodiumCrypter(Buffer.alloc(32, 2)), segmentSize: SEG, decompressorCache: null }));
  assert.deepEqual(readdirSync(d), []);
});

/** Segments first..last archived (lz4) in a memory storage, and an empty pg_wal with the RECOVERYXLOG path. */
async function archivedSegments(first: number, last: number): Promise<{ s: MemoryStorage; segs: Record<string, Buffer>; pgwal: string; dest: string }> {
  const s = new MemoryStorage();
  const segs: Record<string, Buffer> = {};
  for (let i = first; i <= last; i++) segs[name(i)] = segment(i);
  const src = walDir(segs);
  for (const n of Object.keys(segs)) await uploadWalFile(join(src, n), { storage: s, pipeline: await lz4(), preventOverwrite: false });
  const pgwal = join(tmp(), 'pg_wal');
  mkdirSync(pgwal);
  return { s, segs, pgwal, dest: join(pgwal, 'RECOVERYXLOG') };
}

test('prefetch downloads the next segments; wal-fetch uses a good prefetched file', async () => {
  const { s, segs, pgwal, dest } = await archivedSegments(50, 53);
  const stale = prefetchPaths(pgwal, name(49));
  mkdirSync(stale.runningDir, { recursive: true });
  writeFileSync(stale.prefetched, 'old');
  writeFileSync(stale.running, 'old');
  writeFileSync(join(stale.prefetchDir, formatWalName(0, 99, SEG)), 'older timeline');
  await walFetch(name(50), dest, { storage: s, segmentSize: SEG, decompressorCache: null });
  rmSync(dest);
  await walPrefetch(name(50), dest, { storage: s, segmentSize: SEG, downloadConcurrency: 5, decompressorCache: null });
  const p = prefetchPaths(pgwal, name(50));
  assert.deepEqual(readdirSync(p.prefetchDir).sort(), [name(51), name(52), name(53), 'running'], 'missing 54/55 leave nothing; older files cleaned');
  assert.deepEqual(readdirSync(p.runningDir), []);
  for (const i of [51, 52, 53]) {
    assert.equal(await walFetch(name(i), dest, { storage: new MemoryStorage(), segmentSize: SEG, decompressorCache: null }), 'prefetch',
      'served from the prefetch dir (the empty storage could not have)');
    assert.deepEqual(readFileSync(dest), segs[name(i)]);
    rmSync(dest);
  }
  assert.deepEqual(readdirSync(p.prefetchDir), ['running']);
});

test('one prefetch process per directory: a live claim stops a second one, a dead one is taken over', async () => {
  const { s, segs, pgwal, dest } = await archivedSegments(70, 72);
  const lock = prefetcherLockPath(pgwal);
  const p = prefetchPaths(pgwal, name(70));
  assert.equal(await prefetcherRunning(pgwal), false, 'no claim');
  mkdirSync(p.runningDir, { recursive: true });
  writeFileSync(lock, `${process.pid}\n`);
  assert.equal(await prefetcherRunning(pgwal), true, 'a live process claims it');
  await walPrefetch(name(70), dest, { storage: s, segmentSize: SEG, downloadConcurrency: 3, decompressorCache: null });
  assert.deepEqual(readdirSync(p.prefetchDir), ['running'], 'nothing downloaded while another prefetcher runs');
  writeFileSync(lock, '4194303999\n'); // no such process
  assert.equal(await prefetcherRunning(pgwal), false, 'a dead claimant');
  await walPrefetch(name(70), dest, { storage: s, segmentSize: SEG, downloadConcurrency: 3, decompressorCache: null });
  assert.deepEqual(readdirSync(p.prefetchDir).sort(), [name(71), name(72), 'running']);
  assert.equal(existsSync(lock), false, 'the claim is released');
});

test('corrupt or mis-sized prefetched files are not used, removed, and the segment is downloaded', async () => {
  const s = new MemoryStorage();
  const good = segment(60);
  const src = walDir({ [name(60)]: good });
  await uploadWalFile(join(src, name(60)), { storage: s, pipeline: await lz4(), preventOverwrite: false });
  const pgwal = tmp();
  const dest = join(pgwal, 'RECOVERYXLOG');
  const p = prefetchPaths(pgwal, name(60));
  mkdirSync(p.runningDir, { recursive: true });
  for (const bad of [Buffer.alloc(SEG) /* zero magic */, good.subarray(0, SEG - 1) /* wrong size */]) {
    writeFileSync(p.prefetched, bad);
    const r = await captureLog(() => walFetch(name(60), dest, { storage: s, segmentSize: SEG, decompressorCache: null }));
    assert.equal(r.value, 'storage');
    assert.match(r.lines, /^ERROR: .* (Prefetched file .* contain errors|Prefetch error: wrong file size)/m);
    assert.equal(existsSync(p.prefetched), false, 'bad prefetched file removed');
    assert.deepEqual(readFileSync(dest), good);
    rmSync(dest);
  }
});

test('a stalled in-progress prefetch is abandoned after ~200 ms', async () => {
  const pgwal = tmp();
  const p = prefetchPaths(pgwal, name(61));
  mkdirSync(p.runningDir, { recursive: true });
  writeFileSync(p.running, 'stuck');
  const t0 = Date.now();
  assert.equal(await takePrefetched(name(61), join(pgwal, 'RECOVERYXLOG'), { segmentSize: SEG }), false);
  assert.ok(Date.now() - t0 >= 150);
  assert.equal(existsSync(p.running), false);
});

test('prefetch rules: never .history/.partial, not with concurrency 1; cleanup keeps newer files', async () => {
  assert.equal(prefetchPossible(name(1), 10), true);
  assert.equal(prefetchPossible('00000002.history', 10), false);
  assert.equal(prefetchPossible(`${name(1)}.partial`, 10), false);
  assert.equal(prefetchPossible(name(1), 1), false);
  const d = tmp();
  const p = prefetchPaths(d, name(70));
  mkdirSync(p.runningDir, { recursive: true });
  for (const n of [name(69), name(70), name(71), formatWalName(2, 1, SEG), 'junk']) writeFileSync(join(p.prefetchDir, n), '');
  writeFileSync(join(p.runningDir, name(60)), '');
  await cleanupPrefetchDirectories(name(70), d, SEG);
  assert.deepEqual(readdirSync(p.prefetchDir).sort(), [name(70), name(71), formatWalName(2, 1, SEG), 'junk', 'running'].sort());
  assert.deepEqual(readdirSync(p.runningDir), []);
});
