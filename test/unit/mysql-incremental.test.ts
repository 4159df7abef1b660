// Unit tests: an incremental MySQL backup (the sentinel WAL-G's xtrabackup-push --full=false writes) is restored
// with its chain, in order, or refused before anything runs (missing parent, no prepare command); and the pieces of
// backup-push: --extra-lsndir, xtrabackup_checkpoints LSNs parsed as Go's ParseLSN, Go's OS and architecture names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { ConfigError, CorruptObjectError } from '../../src/core/errors.ts';
import { EXIT, exitCodeFor } from '../../src/cli/exit-codes.ts';
import { fetchToCommand, selectStreamBackup } from '../../src/mysql/backup-fetch.ts';
import { MissingParentError, prepareCommandFor, resolveBackupChain, restoreCommandFor } from '../../src/mysql/chain-fetch.ts';
import { uploadStream } from '../../src/backup/stream.ts';
import { encodeStreamSentinel, writeStreamSentinel } from '../../src/mysql/sentinel.ts';
import type { StreamSentinel } from '../../src/mysql/sentinel.ts';
import { goArch, goOs, parseLsn, parseXtrabackupCheckpoints, readXtrabackupInfo, withExtraLsnDir } from '../../src/mysql/xtrabackup.ts';

const FULL = 'stream_20240501T100000Z';
const INC = 'stream_20240501T110000Z';

/** The sentinel of a full xtrabackup backup, as WAL-G's backup-push writes it. */
const full: StreamSentinel = {
  Tool: 'WALG_XTRABACKUP_TOOL', BinLogStart: 'mysql-bin.000002', BinLogEnd: 'mysql-bin.000002',
  StartLocalTime: '2024-05-01T10:00:00Z', StopLocalTime: '2024-05-01T10:00:09Z', UncompressedSize: 10, CompressedSize: 5,
  Hostname: 'db1', ServerVersion: '10.11.19-MariaDB', ServerArch: 'amd64', ServerOS: 'linux',
  IsPermanent: false, IsIncremental: false, LSN: 44420n, DeltaLSN: 0n, DeltaCount: 0,
};
/** Its first increment, with the fields HandleBackupPush sets for one (IncrementFrom, IncrementFullName, ...). */
const incremental: StreamSentinel = {
  ...full, StartLocalTime: '2024-05-01T11:00:00Z', StopLocalTime: '2024-05-01T11:00:03Z', IsIncremental: true,
  LSN: 51200n, DeltaLSN: 44420n, DeltaFrom: FULL, DeltaFullName: FULL, DeltaCount: 1,
};

async function storeWith(backups: Array<[string, StreamSentinel]>): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  for (const [name, s] of backups) {
    await uploadStream(Readable.from([Buffer.from(`stream of ${name}`)]), { storage, pipeline: {}, backup: name, split: { partitions: 0, blockSize: 1 << 20, maxFileSize: 0 } });
    await writeStreamSentinel(storage, name, s);
  }
  return storage;
}

describe('mysql backup-fetch restores incremental chains', () => {
  it('the sentinel WAL-G writes for an incremental', () => {
    assert.match(encodeStreamSentinel(incremental), /"IsIncremental":true,"LSN":51200,"DeltaLSN":44420,"DeltaFrom":"stream_20240501T100000Z","DeltaFullName":"stream_20240501T100000Z","DeltaCount":1}$/);
  });

  it('an incremental whose parent is missing fails before the restore command starts', async () => {
    const storage = await storeWith([[INC, incremental]]);
    const dir = mkdtempSync(join(tmpdir(), 'walg-unit-incremental-'));
    try {
      const marker = join(dir, 'restore-command-ran');
      await assert.rejects(fetchToCommand({ storage, backup: INC, restoreCommand: `touch ${marker}`, prepareCommand: 'true' }), (err: unknown) => {
        assert.ok(err instanceof MissingParentError);
        assert.equal(err.message, `backup ${INC} is incremental (delta from ${FULL}), but ${FULL} is not in storage: the chain cannot be restored`);
        assert.equal(exitCodeFor(err), EXIT.FAILURE);
        return true;
      });
      assert.equal(existsSync(marker), false, 'the restore command never ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an incremental is never restored as if it were whole: no prepare command, nothing runs', async () => {
    const storage = await storeWith([[FULL, full], [INC, incremental]]);
    const dir = mkdtempSync(join(tmpdir(), 'walg-unit-incremental-'));
    try {
      const marker = join(dir, 'restore-command-ran');
      assert.equal(await selectStreamBackup(storage, 'LATEST', undefined), INC);
      await assert.rejects(fetchToCommand({ storage, backup: INC, restoreCommand: `touch ${marker}` }), ConfigError);
      assert.equal(existsSync(marker), false, 'the restore command never ran');
      const orphan = await storeWith([[INC, { ...incremental, DeltaFrom: undefined }]]);
      await assert.rejects(resolveBackupChain(orphan, INC), CorruptObjectError, 'an incremental naming no parent');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restores base then increments, each into its directory, prepared in order', async () => {
    const INC2 = 'stream_20240501T120000Z';
    const inc2: StreamSentinel = { ...incremental, LSN: 60000n, DeltaLSN: 51200n, DeltaFrom: INC, DeltaCount: 2 };
    const storage = await storeWith([[FULL, full], [INC, incremental], [INC2, inc2]]);
    const dir = mkdtempSync(join(tmpdir(), 'walg-unit-chain-'));
    try {
      const data = join(dir, 'data');
      const logFile = join(dir, 'log');
      // The restore command's last word is the target: increments go to a fresh directory under incrementalDst.
      const restoreCommand = `sh -c 'mkdir -p "$0"; cat > "$0/stream"; echo "restore $0" >> ${logFile}' ${data}`;
      // Appended options reach the script as its arguments: "$*" logs them.
      const prepareCommand = `sh -c 'echo "prepare $*" >> ${logFile}' x xtrabackup --prepare --target-dir=${data}`;
      await fetchToCommand({ storage, backup: INC2, restoreCommand, prepareCommand, incrementalDst: dir });
      const lines = readFileSync(logFile, 'utf8').trim().split('\n');
      assert.equal(lines.filter((l) => l.startsWith('restore ')).length, 3);
      assert.equal(lines[0], `restore ${data}`);
      assert.equal(lines.length, 6, lines.join('\n'));
      assert.match(lines[2]!, new RegExp(`^restore ${dir}/wal-g`));
      assert.equal(readFileSync(join(data, 'stream'), 'utf8'), `stream of ${FULL}`);
      assert.match(lines[1]!, /^prepare xtrabackup --prepare --target-dir=\S+ --apply-log-only$/, 'the base is prepared with --apply-log-only (not the last step)');
      assert.match(lines.at(-1)!, new RegExp(`--incremental-dir=${dir}/wal-g\\w+$`), 'the last step: no --apply-log-only');
      assert.deepEqual(readdirSync(dir).sort(), ['data', 'log'], 'increment directories removed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prepare and restore commands of a step, as WAL-G builds them', () => {
    assert.equal(restoreCommandFor('mbstream -x -C /var/lib/mysql', '/tmp/wal-g1'), 'mbstream -x -C /tmp/wal-g1');
    assert.equal(prepareCommandFor('xtrabackup --prepare --target-dir=/d', { incrementalDir: '/tmp/i', isLast: false }), 'xtrabackup --prepare --target-dir=/d --incremental-dir=/tmp/i --apply-log-only');
    assert.equal(prepareCommandFor('mariabackup --prepare --target-dir=/d', { isLast: false }), 'mariabackup --prepare --target-dir=/d', 'mariabackup has no --apply-log-only');
    assert.equal(prepareCommandFor('xtrabackup --prepare --target-dir=/d', { isLast: true }), 'xtrabackup --prepare --target-dir=/d');
  });
});

describe('mysql backup-push: xtrabackup LSNs and platform', () => {
  it('parses LSNs as Go\'s strconv.ParseUint(s, 0, 64)', () => {
    assert.equal(parseLsn('44420'), 44420n);
    assert.equal(parseLsn('0'), 0n);
    assert.equal(parseLsn('0x1f'), 31n);
    assert.equal(parseLsn('0b101'), 5n);
    assert.equal(parseLsn('017'), 15n);
    assert.equal(parseLsn('0o17'), 15n);
    assert.equal(parseLsn('18446744073709551615'), 18446744073709551615n);
    for (const bad of ['18446744073709551616', '', '-1', '12a', '09', ' 1']) assert.equal(parseLsn(bad), undefined, bad);
  });

  it('reads mariabackup\'s xtrabackup_checkpoints', async () => {
    const text = 'backup_type = incremental\nfrom_lsn = 44420\nto_lsn = 51200\nlast_lsn = 51234\nrecover_binlog_info = 0\n';
    assert.deepEqual(parseXtrabackupCheckpoints(text), { fromLsn: 44420n, toLsn: 51200n, lastLsn: 51234n });
    assert.deepEqual(parseXtrabackupCheckpoints('backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = x\n'), { fromLsn: 0n, toLsn: undefined });
    const dir = mkdtempSync(join(tmpdir(), 'walg-unit-lsndir-'));
    try {
      assert.deepEqual(await readXtrabackupInfo(dir), {}, 'a missing file: no LSNs (a warning)');
      writeFileSync(join(dir, 'xtrabackup_checkpoints'), text);
      assert.equal((await readXtrabackupInfo(dir)).toLsn, 51200n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('appends --extra-lsndir to the whole command, as WAL-G does', () => {
    assert.equal(withExtraLsnDir('mariabackup --backup --stream=xbstream', '/tmp/wal-g1'), 'mariabackup --backup --stream=xbstream --extra-lsndir=/tmp/wal-g1');
  });

  it('names the platform as Go does', () => {
    assert.equal(goArch('x64'), 'amd64');
    assert.equal(goArch('ia32'), '386');
    assert.equal(goArch('arm64'), 'arm64');
    assert.equal(goOs('linux'), 'linux');
    assert.equal(goOs('win32'), 'windows');
    assert.equal(goOs('darwin'), 'darwin');
  });
});
