// Tests for src/tar/filesystem-sync.ts: which restore sync method a setting and a kernel give, and a syncfs failure
// reported as a failed restore naming the directory (the native call is replaced to inject the error).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSystemSync, restoreSyncMethod, syncfsReportsErrors } from '../../src/tar/filesystem-sync.ts';
import { LocalFileError } from '../../src/core/errors.ts';
import { walgNative } from '../../src/core/native.ts';

const invalid = (msg: string) => new Error(msg);

test('fsync is the default; syncfs by name only where it reports write errors (Linux 5.8+)', () => {
  assert.equal(syncfsReportsErrors('5.7.19'), false);
  assert.equal(syncfsReportsErrors('5.8.0'), true);
  assert.equal(syncfsReportsErrors('6.1.0-18-amd64'), true);
  assert.equal(syncfsReportsErrors('4.19.0'), false);
  assert.equal(syncfsReportsErrors('garbage'), false);
  assert.equal(restoreSyncMethod(undefined, invalid, '6.1.0'), 'fsync');
  assert.equal(restoreSyncMethod('', invalid, '6.1.0'), 'fsync');
  assert.equal(restoreSyncMethod(undefined, invalid, '5.4.0'), 'fsync');
  assert.equal(restoreSyncMethod('fsync', invalid, '6.1.0'), 'fsync');
  assert.equal(restoreSyncMethod('syncfs', invalid, '6.1.0'), 'syncfs');
  assert.throws(() => restoreSyncMethod('syncfs', invalid, '5.4.0'), /needs Linux 5\.8 or later/);
  assert.throws(() => restoreSyncMethod('SYNCFS', invalid, '6.1.0'), /must be fsync or syncfs, got 'SYNCFS'/);
});

test('FileSystemSync: one descriptor per file system, synced; a failure names the directory and closes the rest', async () => {
  const a = mkdtempSync(join(tmpdir(), 'walg-fss-a-'));
  const b = mkdtempSync(join(tmpdir(), 'walg-fss-b-'));
  const real = (fd: number) => walgNative().syncFsClose(fd);
  try {
    const calls: number[] = [];
    await new FileSystemSync([a, b, a], (fd) => { calls.push(fd); return real(fd); }).syncAll();
    assert.equal(calls.length, 1, 'two directories of one file system: one syncfs');
    assert.throws(() => fstatSync(calls[0]!), /EBADF/, 'the descriptor is closed');
    const failing = (fd: number) => real(fd).then(() => { throw Object.assign(new Error('Input/output error'), { errno: 5, syscall: 'syncfs' }); });
    await assert.rejects(new FileSystemSync([a], failing).syncAll(), (e: unknown) => e instanceof LocalFileError && e.message.includes(`failed to sync the file system of '${a}' (syncfs): Input/output error`));
    assert.throws(() => new FileSystemSync([join(a, 'missing')]), (e: unknown) => e instanceof LocalFileError && /cannot open/.test((e as Error).message));
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
