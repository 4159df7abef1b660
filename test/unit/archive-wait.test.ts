// backup-push's own wait for WAL archiving (src/pg/basebackup/archive-wait.ts): the files pg_backup_stop would wait for, the
// XLogArchiveIsBusy states read from archive_status, and the poll loop (done, cancelled, timed out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveState, filesToArchive, waitForArchive, ArchiveWaitTimeoutError } from '../../src/pg/basebackup/archive-wait.ts';
import { CancelledError } from '../../src/core/errors.ts';

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'walg-archive-wait-'));
  mkdirSync(join(d, 'pg_wal', 'archive_status'), { recursive: true });
  return d;
}

test('the last segment and the backup history file, named as PostgreSQL names them', () => {
  // Start at 0/52000028 on timeline 1, stop in segment ...53: history file is <start segment>.<offset>.backup.
  assert.deepEqual(filesToArchive('000000010000000000000053', 0x52000028n), ['000000010000000000000053', '000000010000000000000052.00000028.backup']);
  // The stop timeline (from the stop file name) names the history file too; the log id rolls over at 256 segments.
  assert.deepEqual(filesToArchive('0000000300000002000000A1', 0x2A0FFA000n), ['0000000300000002000000A1', '0000000300000002000000A0.00FFA000.backup']);
  // 64 MiB segments.
  assert.deepEqual(filesToArchive('000000010000000000000003', 0xC000000n + 0x28n, 64 << 20), ['000000010000000000000003', '000000010000000000000003.00000028.backup']);
});

test('archiveState follows XLogArchiveIsBusy', async () => {
  const d = dataDir();
  try {
    const seg = '000000010000000000000007';
    const status = join(d, 'pg_wal', 'archive_status');
    assert.equal(await archiveState(d, seg), 'done', 'neither status nor file: removed by a checkpoint, so archived');
    writeFileSync(join(d, 'pg_wal', seg), '');
    assert.equal(await archiveState(d, seg), 'unknown', 'the file without a status: not archived yet');
    writeFileSync(join(status, `${seg}.ready`), '');
    assert.equal(await archiveState(d, seg), 'busy');
    renameSync(join(status, `${seg}.ready`), join(status, `${seg}.done`));
    assert.equal(await archiveState(d, seg), 'done');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('waitForArchive returns once every file is .done, not before', async () => {
  const d = dataDir();
  try {
    const status = join(d, 'pg_wal', 'archive_status');
    const names = filesToArchive('000000010000000000000053', 0x52000028n);
    for (const n of names) { writeFileSync(join(d, 'pg_wal', n), ''); writeFileSync(join(status, `${n}.ready`), ''); }
    let done = false;
    const wait = waitForArchive(d, names, { pollMs: 10 }).then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(done, false);
    renameSync(join(status, `${names[0]}.ready`), join(status, `${names[0]}.done`));
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(done, false, 'the history file is still .ready');
    renameSync(join(status, `${names[1]}.ready`), join(status, `${names[1]}.done`));
    await wait;
    assert.equal(done, true);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('waitForArchive stops with CancelledError on abort and ArchiveWaitTimeoutError after its timeout', async () => {
  const d = dataDir();
  try {
    const seg = '000000010000000000000009';
    writeFileSync(join(d, 'pg_wal', 'archive_status', `${seg}.ready`), '');
    const ac = new AbortController();
    const cancelled = waitForArchive(d, [seg], { pollMs: 10, signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(cancelled, CancelledError);
    await assert.rejects(waitForArchive(d, [seg], { pollMs: 10, timeoutMs: 50 }), (err: Error) => err instanceof ArchiveWaitTimeoutError && /000000010000000000000009/.test(err.message));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
