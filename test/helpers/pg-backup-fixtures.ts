// Test fixtures for backup-push/backup-fetch without a server: a fake PGDATA tree (with excluded files, a
// tablespace outside it and a symlink), a scripted BackupDatabase, and a Storage wrapper recording put order.

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BackupDatabase, PgServerInfo, StartBackupResult, StopBackupResult } from '../../src/pg/postgres-client.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../../src/storage/types.ts';

/** Deterministic pseudo-random bytes (so tars are not trivially compressible). */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = i % 3 === 0 ? 0 : x & 0xff;
  }
  return b;
}

/** A fake cluster: its data dir, its tablespace location, and what must and must not be in the backup. */
export interface FakeCluster {
  base: string;
  dataDir: string;
  tablespace: string;
  /** Entry names that must be backed up as regular files, with their contents. */
  files: Map<string, Buffer>;
  /** Entry names that must not appear at all. */
  absent: string[];
  /** Excluded directories that must appear as empty directory entries. */
  emptyDirs: string[];
}

/** Builds a fake PGDATA (about 400 KiB) with a tablespace at <base>/ts1 linked as pg_tblspc/16384. */
export function makeFakeCluster(prefix = 'walg-fake-pg-'): FakeCluster {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const dataDir = join(base, 'data');
  const tablespace = join(base, 'ts1');
  const files = new Map<string, Buffer>();
  const put = (rel: string, content: Buffer, record = true) => {
    const p = rel.startsWith('/pg_tblspc/16384/') ? join(tablespace, rel.slice('/pg_tblspc/16384/'.length)) : join(dataDir, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content, { mode: 0o600 });
    if (record) files.set(rel, content);
  };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  put('/PG_VERSION', Buffer.from('15\n'));
  put('/postgresql.conf', Buffer.from('# test\n'));
  put('/global/pg_control', bytes(8192, 2), false);
  put('/global/1262', bytes(8192, 3));
  put('/base/1/1259', bytes(16384, 4));
  put('/base/1/1249', bytes(40960, 5));
  put('/base/1/2608', bytes(0, 6));
  put('/base/5/16400', bytes(120_000, 7));
  put('/base/5/16400_fsm', bytes(24576, 8));
  put('/base/5/16401', bytes(90_000, 9));
  put(`/base/5/${'long_'.repeat(30)}`, bytes(100, 10)); // > 100 bytes: long name
  put('/pg_xact/0000', bytes(8192, 11));
  put('/pg_tblspc/16384/PG_15_202209061/5/16500', bytes(50_000, 12));
  put('/pg_tblspc/16384/PG_15_202209061/5/16501', bytes(1000, 13));
  // excluded: contents of these directories, and these files
  put('/pg_wal/000000010000000000000001', bytes(4096, 14), false);
  put('/pg_wal/archive_status/000000010000000000000001.done', Buffer.alloc(0), false);
  put('/pg_stat_tmp/global.stat', bytes(100, 15), false);
  put('/base/pgsql_tmp/pgsql_tmp123.0', bytes(100, 16), false);
  put('/pg_tblspc/16384/PG_15_202209061/pgsql_tmp/t1', bytes(100, 17), false);
  put('/log/postgresql.log', Buffer.from('log'), false);
  put('/postmaster.pid', Buffer.from('123\n'), false);
  put('/postmaster.opts', Buffer.from('opts\n'), false);
  put('/standby.signal', Buffer.alloc(0), false);
  put('/recovery.conf', Buffer.alloc(0), false);
  mkdirSync(join(dataDir, 'pg_tblspc'), { recursive: true });
  symlinkSync(tablespace, join(dataDir, 'pg_tblspc', '16384'));
  symlinkSync('postgresql.conf', join(dataDir, 'conf-link'));
  return {
    base, dataDir, tablespace, files,
    absent: ['/global/pg_control', '/pg_wal/000000010000000000000001', '/pg_wal/archive_status', '/pg_stat_tmp/global.stat',
      '/base/pgsql_tmp/pgsql_tmp123.0', '/log/postgresql.log', '/postmaster.pid', '/postmaster.opts', '/standby.signal',
      '/recovery.conf', '/pg_tblspc/16384/PG_15_202209061/pgsql_tmp/t1'],
    emptyDirs: ['/pg_wal', '/pg_stat_tmp', '/base/pgsql_tmp', '/log', '/pg_tblspc/16384/PG_15_202209061/pgsql_tmp'],
  };
}

/** Scripted answers of a fake server; timelines are returned in order (the last one repeats). */
export interface FakeDbScript {
  dataDir: string;
  startLsn?: bigint;
  stopLsn?: bigint;
  inRecovery?: boolean;
  timelines?: number[];
  systemIdentifier?: bigint;
  label?: string;
  spcmap?: string;
}

/** A BackupDatabase answering from a script, recording the calls it got. */
export class FakeDb implements BackupDatabase {
  readonly calls: string[] = [];
  private readonly s: FakeDbScript;
  private tl = 0;
  constructor(script: FakeDbScript) { this.s = script; }
  async serverInfo(): Promise<PgServerInfo> {
    this.calls.push('serverInfo');
    return {
      version: 150004, dataDirectory: this.s.dataDir, systemIdentifier: this.s.systemIdentifier ?? 7301234567890123456n,
      timeline: this.s.timelines?.[0] ?? 1, walSegmentBytes: 16 * 1024 * 1024, inRecovery: this.s.inRecovery ?? false,
    };
  }
  async readTimeline(): Promise<number> {
    const t = this.s.timelines ?? [1];
    return t[Math.min(this.tl++, t.length - 1)]!;
  }
  async archiveSettings(): Promise<{ mode: string; command: string }> { return { mode: 'on', command: 'wal-g wal-push %p' }; }
  async dataChecksums(): Promise<string> { return 'on'; }
  async ping(): Promise<void> {}
  async startBackup(label: string): Promise<StartBackupResult> {
    this.calls.push(`start:${label.length > 0}`);
    const lsn = this.s.startLsn ?? 0x2000028n;
    const seg = (lsn - 1n) / 0x1000000n;
    return { walFileName: this.s.inRecovery ? '' : `00000001${'00000000'}${seg.toString(16).toUpperCase().padStart(8, '0')}`, lsn, inRecovery: this.s.inRecovery ?? false };
  }
  async stopBackup(_timeoutMs?: number, waitForArchive = true): Promise<StopBackupResult> {
    this.calls.push(waitForArchive ? 'stop' : 'stop:nowait');
    const stopLsn = this.s.stopLsn ?? 0x2000100n;
    const seg = (stopLsn - 1n) / 0x1000000n;
    return {
      lastWalFile: waitForArchive ? undefined : `00000001${'00000000'}${seg.toString(16).toUpperCase().padStart(8, '0')}`,
      labelFile: this.s.label ?? 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nLABEL: test\n',
      spcmapFile: this.s.spcmap ?? '', lsn: stopLsn,
    };
  }
  async close(): Promise<void> { this.calls.push('close'); }
}

/** One storage event: a put starting, finishing, or failing. */
export interface PutEvent { op: 'start' | 'end' | 'fail'; key: string }

/** Wraps a storage and records the order in which puts start and finish. */
export class RecordingStorage implements Storage {
  readonly events: PutEvent[] = [];
  readonly inner: Storage;
  constructor(inner: Storage) { this.inner = inner; }
  get name(): string { return this.inner.name; }
  get type(): string { return this.inner.type; }
  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    this.events.push({ op: 'start', key });
    try {
      await this.inner.put(key, body, opts);
      this.events.push({ op: 'end', key });
    } catch (err) {
      this.events.push({ op: 'fail', key });
      throw err;
    }
  }
  get(key: string, opts?: GetOptions): Promise<Readable> { return this.inner.get(key, opts); }
  stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> { return this.inner.stat(key, opts); }
  exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean> { return this.inner.exists(key, opts); }
  list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> { return this.inner.list(prefix, opts); }
  delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void> { return this.inner.delete(keys, opts); }
  close(): Promise<void> { return this.inner.close(); }
  /** Keys in the order their puts finished. */
  get finished(): string[] { return this.events.filter((e) => e.op === 'end').map((e) => e.key); }
}
