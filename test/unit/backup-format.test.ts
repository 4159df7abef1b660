// Issue #4 acceptance 2 and 3 without a server: a backup-push of a fake PGDATA (scripted database, memory storage)
// writes exactly WAL-G's objects, in WAL-G's order, with every sentinel/metadata/files-metadata field and type;
// a push interrupted at any put (each k-th put failing, before or in the middle of its body) leaves no backup
// that backup-list or LATEST would show. Also: round trip through backup-fetch, tablespace relocation, standby.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupPush, TimelineChangedError, DataDirectoryError } from '../../src/pg/basebackup/push.ts';
import { backupFetch } from '../../src/pg/basebackup/fetch.ts';
import { readTar } from '../../src/tar/reader.ts';
import { localRfc3339Nano } from '../../src/pg/files-metadata.ts';
import { listBackups, resolveBackup, readSentinel } from '../../src/backup/sentinel.ts';
import { parseJsonExact } from '../../src/backup/json.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { withFaults } from '../../src/storage/wrap/fault.ts';
import { readAll } from '../../src/storage/body.ts';
import type { Storage } from '../../src/storage/types.ts';
import { FakeDb, RecordingStorage, makeFakeCluster } from '../helpers/pg-backup-fixtures.ts';
import { log } from '../../src/core/log.ts';

log.configure(process.env.WALG_TEST_LOG_LEVEL === 'DEVEL' ? 'DEVEL' : 'ERROR');
log.discard();

const cluster = makeFakeCluster();
after(() => rmSync(cluster.base, { recursive: true, force: true }));
const lz4 = await getCompressor('lz4');
const NAME = 'base_000000010000000000000002';
const PREFIX = `basebackups_005/${NAME}`;

async function push(storage: Storage, extra: Partial<Parameters<typeof backupPush>[0]> = {}, script: Partial<ConstructorParameters<typeof FakeDb>[0]> = {}) {
  const db = new FakeDb({ dataDir: cluster.dataDir, ...script });
  const r = await backupPush({
    storage, pipeline: { compressor: lz4 }, db, dataDir: cluster.dataDir, tarSizeThreshold: 64 * 1024,
    diskConcurrency: 2, uploadConcurrency: 3, hostname: 'testhost', ...extra,
  });
  return { r, db };
}

async function text(s: Storage, key: string): Promise<string> { return (await readAll(await s.get(key))).toString('utf8'); }

async function tarEntries(s: Storage, key: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of readTar((await s.get(key)).pipe(lz4.decompress()))) out.set(e.header.name, await readAll(e.chunks()));
  return out;
}

describe('backup-push storage format (acceptance 2)', () => {
  const mem = new MemoryStorage();
  const rec = new RecordingStorage(mem);
  let result: Awaited<ReturnType<typeof push>>['r'];
  let db: FakeDb;

  test('push succeeds and names the backup after the start WAL segment', async () => {
    ({ r: result, db } = await push(rec, { userData: { env: 'test', n: 12345678901234567890n }, permanent: true }));
    assert.equal(result.name, NAME);
    assert.deepEqual(db.calls, ['serverInfo', 'start:true', 'stop:nowait']);
  });

  test('object names and upload order: parts -> pg_control -> backup_label -> metadata -> files_metadata -> sentinel', () => {
    const keys = rec.finished;
    const parts = keys.filter((k) => /\/tar_partitions\/part_\d{3,}\.tar\.lz4$/.test(k));
    assert.ok(parts.length >= 4, `several parts with a 64 KiB threshold (${parts.length})`);
    for (const k of parts) assert.ok(k.startsWith(`${PREFIX}/tar_partitions/part_`), k);
    assert.deepEqual(keys.slice(parts.length), [
      `${PREFIX}/tar_partitions/pg_control.tar.lz4`,
      `${PREFIX}/tar_partitions/backup_label.tar.lz4`,
      `${PREFIX}/metadata.json`,
      `${PREFIX}/files_metadata.json`,
      `basebackups_005/${NAME}_backup_stop_sentinel.json`,
    ]);
    assert.deepEqual(keys.slice(0, parts.length).sort(), parts.sort());
    // Each of the last five starts only after everything before it finished.
    for (const k of keys.slice(parts.length)) {
      const startIdx = rec.events.findIndex((e) => e.op === 'start' && e.key === k);
      const before = keys.slice(0, keys.indexOf(k));
      for (const b of before) assert.ok(rec.events.findIndex((e) => e.op === 'end' && e.key === b) < startIdx, `${b} finished before ${k} started`);
    }
    assert.deepEqual(result.uploaded, keys);
    assert.equal(rec.events.filter((e) => e.op === 'fail').length, 0);
  });

  test('sentinel carries every field, in WAL-G order, with the right types (uint64 exact)', async () => {
    const raw = await text(mem, `basebackups_005/${NAME}_backup_stop_sentinel.json`);
    const keys = [...raw.matchAll(/"([A-Za-z]+)":/g)].map((m) => m[1]).filter((k) => !['loc', 'link', 'base', 'tablespaces', 'env', 'n'].includes(k!));
    assert.deepEqual(keys, ['LSN', 'PgVersion', 'FinishLSN', 'SystemIdentifier', 'UncompressedSize', 'CompressedSize', 'DataCatalogSize',
      'Spec', 'UserData', 'ChkpNum', 'Version', 'StartTime', 'FinishTime', 'DateFmt', 'Hostname', 'DataDir', 'IsPermanent']);
    assert.match(raw, /"SystemIdentifier":7301234567890123456,/, 'beyond 2^53, written exactly');
    assert.match(raw, /"UserData":\{"env":"test","n":12345678901234567890\}/);
    assert.match(raw, /"ChkpNum":null/);
    const s = parseJsonExact(raw) as Record<string, unknown>;
    assert.equal(s.LSN, 0x2000028);
    assert.equal(s.FinishLSN, 0x2000100);
    assert.equal(s.PgVersion, 150004);
    assert.equal(s.Version, 2);
    assert.equal(s.DateFmt, '%Y-%m-%dT%H:%M:%S.%fZ');
    assert.equal(s.Hostname, 'testhost');
    assert.equal(s.DataDir, cluster.dataDir);
    assert.equal(s.IsPermanent, true);
    for (const k of ['StartTime', 'FinishTime']) assert.match(String(s[k]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/, k);
    assert.ok(String(s.StartTime) <= String(s.FinishTime));
    assert.deepEqual(s.Spec, {
      16384: { loc: cluster.tablespace, link: 'pg_tblspc/16384' }, base_prefix: cluster.dataDir, tablespaces: ['16384'],
    });
    const files = [...cluster.files.values()];
    const labelSize = Buffer.byteLength('START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nLABEL: test\n');
    assert.equal(s.UncompressedSize, files.reduce((a, b) => a + b.length, 0) + 8192 + labelSize, 'file contents + pg_control + label files');
    const stored = [...rec.finished].filter((k) => k.includes('/tar_partitions/'));
    let compressed = 0;
    for (const k of stored) compressed += (await mem.stat(k)).size;
    assert.equal(s.CompressedSize, compressed, 'bytes of every uploaded tar');
    assert.ok(typeof s.DataCatalogSize === 'number' && s.DataCatalogSize > (s.UncompressedSize as number), 'DataCatalogSize counts every walked entry');
    const decoded = await readSentinel(mem, NAME);
    assert.equal(decoded.SystemIdentifier, 7301234567890123456n);
  });

  test('metadata.json carries every field with the right types', async () => {
    const raw = await text(mem, `${PREFIX}/metadata.json`);
    const keys = [...raw.matchAll(/"([a-z_]+)":/g)].map((m) => m[1]).filter((k) => !['env', 'n'].includes(k!));
    assert.deepEqual(keys, ['start_time', 'finish_time', 'date_fmt', 'hostname', 'data_dir', 'pg_version', 'start_lsn', 'finish_lsn',
      'is_permanent', 'system_identifier', 'uncompressed_size', 'compressed_size', 'user_data']);
    assert.match(raw, /"system_identifier":7301234567890123456,/);
    const m = parseJsonExact(raw) as Record<string, unknown>;
    const s = parseJsonExact(await text(mem, `basebackups_005/${NAME}_backup_stop_sentinel.json`)) as Record<string, unknown>;
    assert.equal(m.start_time, s.StartTime);
    assert.equal(m.finish_time, s.FinishTime);
    assert.equal(m.start_lsn, s.LSN);
    assert.equal(m.finish_lsn, s.FinishLSN);
    assert.equal(m.is_permanent, true);
    assert.equal(m.uncompressed_size, s.UncompressedSize);
    assert.equal(m.compressed_size, s.CompressedSize);
    assert.equal(m.pg_version, 150004);
  });

  test('files_metadata.json: Files (dirs too, MTime local RFC3339Nano ns-exact), TarFileSets; no pg_control', async () => {
    const fm = JSON.parse(await text(mem, `${PREFIX}/files_metadata.json`)) as { Files: Record<string, Record<string, unknown>>; TarFileSets: Record<string, string[]> };
    assert.deepEqual(Object.keys(fm), ['Files', 'TarFileSets']);
    for (const name of [...cluster.files.keys(), '/', '/base', '/base/1', '/pg_tblspc', '/pg_tblspc/16384', '/conf-link', ...cluster.emptyDirs]) {
      assert.ok(fm.Files[name], `Files has ${name}`);
    }
    for (const name of [...cluster.absent, 'backup_label', 'tablespace_map']) assert.equal(fm.Files[name], undefined, `Files lacks ${name}`);
    const d = fm.Files['/base/5/16400']!;
    assert.deepEqual(Object.keys(d), ['IsIncremented', 'IsSkipped', 'MTime', 'UpdatesCount']);
    assert.equal(d.IsIncremented, false);
    assert.equal(d.IsSkipped, false);
    assert.equal(d.UpdatesCount, 0);
    const st = statSync(join(cluster.dataDir, 'base/5/16400'), { bigint: true });
    assert.equal(d.MTime, localRfc3339Nano(st.mtimeNs));
    assert.match(String(d.MTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/);
    const tarNames = Object.keys(fm.TarFileSets);
    assert.ok(tarNames.includes('backup_label.tar.lz4'));
    assert.deepEqual(fm.TarFileSets['backup_label.tar.lz4'], ['tablespace_map', 'backup_label']);
    assert.ok(!tarNames.some((t) => t.startsWith('pg_control')), 'pg_control.tar is not in TarFileSets');
    const listed = new Set(Object.values(fm.TarFileSets).flat());
    for (const name of Object.keys(fm.Files)) assert.ok(listed.has(name), `${name} is in some tar set`);
    // every part's set matches the part's actual entries
    for (const t of tarNames.filter((x) => x.startsWith('part_'))) {
      const entries = await tarEntries(mem, `${PREFIX}/tar_partitions/${t}`);
      assert.deepEqual([...entries.keys()].sort(), [...fm.TarFileSets[t]!].sort(), t);
    }
  });

  test('tar contents: leading-slash names, excluded dirs kept empty, pg_control alone, label files from stop', async () => {
    const all = new Map<string, Buffer>();
    for (const k of rec.finished.filter((x) => /part_\d+\.tar/.test(x))) for (const [n, b] of await tarEntries(mem, k)) all.set(n, b);
    for (const [name, content] of cluster.files) assert.ok(all.get(name)?.equals(content), `content of ${name}`);
    for (const name of cluster.absent) assert.ok(!all.has(name), `${name} not backed up`);
    for (const name of cluster.emptyDirs) assert.ok(all.has(name), `${name} directory entry kept`);
    assert.ok(all.has('/'), 'the data directory itself is the entry "/"');
    const pc = await tarEntries(mem, `${PREFIX}/tar_partitions/pg_control.tar.lz4`);
    assert.deepEqual([...pc.keys()], ['/global/pg_control']);
    assert.ok(pc.get('/global/pg_control')!.equals(readFileSync(join(cluster.dataDir, 'global/pg_control'))));
    const lbl = await tarEntries(mem, `${PREFIX}/tar_partitions/backup_label.tar.lz4`);
    assert.deepEqual([...lbl.keys()], ['backup_label', 'tablespace_map']);
    assert.match(lbl.get('backup_label')!.toString(), /^START WAL LOCATION/);
  });

  test('listed and LATEST', async () => {
    assert.deepEqual((await listBackups(mem)).map((b) => b.name), [NAME]);
    assert.equal((await resolveBackup(mem, 'LATEST')).name, NAME);
  });

  test('round trip: backup-fetch restores every file; tablespace relocated with a restore spec', async () => {
    const out = mkdtempSync(join(tmpdir(), 'walg-fetch-rt-'));
    try {
      const target = join(out, 'restored');
      const newTs = join(out, 'ts-new');
      const spec = join(out, 'spec.json');
      writeFileSync(spec, JSON.stringify({ base_prefix: target, tablespaces: ['16384'], 16384: { loc: newTs, link: 'pg_tblspc/16384' } }));
      const r = await backupFetch({ storage: mem, destination: target, backupName: 'LATEST', restoreSpecPath: spec, fsync: false, downloadConcurrency: 3 });
      assert.equal(r.name, NAME);
      assert.deepEqual(r.tars.slice(-2), ['backup_label.tar.lz4', 'pg_control.tar.lz4'], 'backup_label then pg_control last');
      for (const [name, content] of cluster.files) {
        const p = name.startsWith('/pg_tblspc/16384/') ? join(newTs, name.slice('/pg_tblspc/16384/'.length)) : join(target, name);
        assert.ok(readFileSync(p).equals(content), `restored ${name}`);
      }
      assert.equal(readlinkSync(join(target, 'pg_tblspc/16384')), newTs);
      for (const d of cluster.emptyDirs.filter((x) => !x.startsWith('/pg_tblspc'))) assert.deepEqual(readdirSync(join(target, d)), [], `${d} empty`);
      assert.ok(readFileSync(join(target, 'global/pg_control')).equals(readFileSync(join(cluster.dataDir, 'global/pg_control'))));
      assert.match(readFileSync(join(target, 'backup_label'), 'utf8'), /^START WAL LOCATION/);
      assert.ok(!lstatSync(join(target, 'tablespace_map'), { throwIfNoEntry: false }), 'tablespace_map not restored with a restore spec');
      assert.equal(statSync(target).mode & 0o777, 0o700);
      assert.equal(statSync(join(target, 'base/5/16400')).mode & 0o777, 0o600);
      for (const a of cluster.absent.filter((x) => !x.startsWith('/pg_tblspc') && x !== '/global/pg_control')) assert.ok(!lstatSync(join(target, a), { throwIfNoEntry: false }), `${a} absent`);
      // --mask restores only matching files (directories are always created)
      const masked = join(out, 'masked');
      await backupFetch({ storage: mem, destination: masked, backupName: NAME, mask: 'base/5/*', restoreSpecPath: spec.replace('spec', 'spec2'), fsync: false })
        .catch((e: Error) => assert.match(e.message, /restore specification/));
      writeFileSync(join(out, 'spec2.json'), JSON.stringify({ base_prefix: masked, tablespaces: ['16384'], 16384: { loc: join(out, 'ts-masked'), link: 'pg_tblspc/16384' } }));
      await backupFetch({ storage: mem, destination: masked, backupName: NAME, mask: 'base/5/*', restoreSpecPath: join(out, 'spec2.json'), fsync: false });
      assert.ok(readFileSync(join(masked, 'base/5/16401')).equals(cluster.files.get('/base/5/16401')!));
      assert.ok(!lstatSync(join(masked, 'base/1/1259'), { throwIfNoEntry: false }), 'non-matching file skipped');
      assert.ok(!lstatSync(join(masked, 'PG_VERSION'), { throwIfNoEntry: false }));
      assert.ok(lstatSync(join(masked, 'base/1')).isDirectory());
    } finally { rmSync(out, { recursive: true, force: true }); }
  });

  test('the original tablespace location must be empty to restore in place', async () => {
    const out = mkdtempSync(join(tmpdir(), 'walg-fetch-ts-'));
    try {
      await assert.rejects(backupFetch({ storage: mem, destination: join(out, 'r'), backupName: NAME, fsync: false }), /tablespace 16384: location .* is not empty/);
      await assert.rejects(backupFetch({ storage: mem, destination: cluster.dataDir, backupName: NAME, fsync: false }), /must be empty/);
    } finally { rmSync(out, { recursive: true, force: true }); }
  });
});

describe('interrupted backup-push is never listed (acceptance 3)', () => {
  test('every k-th put failing (before its body, or mid-body) leaves no listable backup, and LATEST stays the old one', async () => {
    // Count the puts of a good run.
    const probe = new RecordingStorage(new MemoryStorage());
    await push(probe);
    const total = probe.events.filter((e) => e.op === 'start').length;
    assert.ok(total >= 8, `${total} puts in a run`);
    let cases = 0;
    for (let k = 1; k <= total; k++) {
      for (const afterBytes of [undefined, 100]) {
        const mem = new MemoryStorage();
        // an older finished backup already in storage
        await push(mem, {}, { startLsn: 0x1000028n, stopLsn: 0x1000100n });
        const faulty = withFaults(mem, [{ op: 'put', nth: k, afterBytes }]);
        const outcome = await push(faulty).then(() => 'stored', () => 'failed');
        if (outcome === 'stored') {
          // Which files share a tar depends on timing, so a run may make fewer puts than the probe run; then there
          // was no put #k to fail. Any run whose put #k was made must fail.
          assert.ok(faulty.calls.put < k, `put #${k} (afterBytes ${afterBytes}) was made (${faulty.calls.put} puts) but the push succeeded`);
          continue;
        }
        const names = (await listBackups(mem)).map((b) => b.name);
        assert.deepEqual(names, ['base_000000010000000000000001'], `k=${k}: only the old backup is listed`);
        assert.equal((await resolveBackup(mem, 'LATEST')).name, 'base_000000010000000000000001');
        assert.equal(await mem.exists(`basebackups_005/${NAME}_backup_stop_sentinel.json`), false);
        cases++;
      }
    }
    assert.ok(cases >= total, `${cases} interrupted runs checked`);
  });

  test('an aborted push (signal) stores no sentinel', async () => {
    const mem = new MemoryStorage();
    const ac = new AbortController();
    const slow: Storage = Object.assign(Object.create(mem) as Storage, {
      put: async (key: string, body: Parameters<Storage['put']>[1], o?: Parameters<Storage['put']>[2]) => {
        if (key.includes('pg_control')) ac.abort(new Error('stop'));
        return mem.put(key, body, o);
      },
    });
    await assert.rejects(push(slow, { signal: ac.signal }));
    assert.deepEqual(await listBackups(mem), []);
  });
});

describe('other push paths', () => {
  test('standby: name from timeline and (start-1)/segment; a timeline change uploads tars but no sentinel', async () => {
    const mem = new RecordingStorage(new MemoryStorage());
    // start exactly on a segment boundary: the name is the preceding segment, as pg_walfile_name_offset gives
    await assert.rejects(push(mem, {}, { inRecovery: true, startLsn: 0x3000000n, timelines: [2, 3] }), TimelineChangedError);
    const keys = mem.finished;
    assert.ok(keys.some((k) => k === 'basebackups_005/base_000000020000000000000002/tar_partitions/pg_control.tar.lz4'));
    assert.ok(keys.some((k) => k.endsWith('backup_label.tar.lz4')));
    assert.ok(!keys.some((k) => k.endsWith('.json')), 'no metadata, no sentinel');
    assert.deepEqual(await listBackups(mem), []);
    const ok = new MemoryStorage();
    const { r } = await push(ok, {}, { inRecovery: true, startLsn: 0x3000000n, timelines: [2] });
    assert.equal(r.name, 'base_000000020000000000000002');
  });

  test('--without-files-metadata: FilesMetadataDisabled set, no files_metadata.json; restore still works', async () => {
    const mem = new MemoryStorage();
    const { r } = await push(mem, { withoutFilesMetadata: true, diskConcurrency: 1 });
    assert.equal(r.sentinel.FilesMetadataDisabled, true);
    assert.equal(await mem.exists(`${PREFIX}/files_metadata.json`), false);
    assert.match(await text(mem, `basebackups_005/${NAME}_backup_stop_sentinel.json`), /"FilesMetadataDisabled":true/);
    const out = mkdtempSync(join(tmpdir(), 'walg-fetch-nofm-'));
    try {
      writeFileSync(join(out, 'spec.json'), JSON.stringify({ base_prefix: out, tablespaces: ['16384'], 16384: { loc: join(out, 'ts'), link: 'pg_tblspc/16384' } }));
      await backupFetch({ storage: mem, destination: join(out, 'd'), backupName: 'LATEST', restoreSpecPath: join(out, 'spec.json'), fsync: false });
      assert.ok(readFileSync(join(out, 'd/base/5/16400')).equals(cluster.files.get('/base/5/16400')!));
    } finally { rmSync(out, { recursive: true, force: true }); }
  });

  test('fetch by --target-user-data', async () => {
    const mem = new MemoryStorage();
    await push(mem, { userData: { id: 1 } }, { startLsn: 0x1000028n });
    await push(mem, { userData: { id: 2 } });
    const out = mkdtempSync(join(tmpdir(), 'walg-fetch-ud-'));
    try {
      writeFileSync(join(out, 'spec.json'), JSON.stringify({ base_prefix: out, tablespaces: ['16384'], 16384: { loc: join(out, 'ts'), link: 'pg_tblspc/16384' } }));
      const r = await backupFetch({ storage: mem, destination: join(out, 'd'), targetUserData: '{"id": 1}', restoreSpecPath: join(out, 'spec.json'), fsync: false });
      assert.equal(r.name, 'base_000000010000000000000001');
      await assert.rejects(backupFetch({ storage: mem, destination: join(out, 'e'), targetUserData: '{"id": 3}', fsync: false }), /No backups found/);
      await assert.rejects(backupFetch({ storage: mem, destination: join(out, 'e'), targetUserData: '{"id": 1}', backupName: 'LATEST', fsync: false }), /not both/);
    } finally { rmSync(out, { recursive: true, force: true }); }
  });

  test('data directory must match the server', async () => {
    await assert.rejects(push(new MemoryStorage(), { dataDir: cluster.tablespace }), DataDirectoryError);
  });
});
