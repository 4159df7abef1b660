// BASE_BACKUP over a replication connection (walg-format.md §5.2): the start position and tablespace list, then
// the archives as byte streams — PostgreSQL 15+ sends one CopyOut with tagged CopyData ('n' archive header,
// 'd' data, 'p' progress, 'm' manifest), 14 and older one CopyOut per tablespace with the data directory last —
// and the end position. The streams are pulled, so the socket pauses when the consumer is slower than the server.

import { PostgresError } from '../postgres-client.ts';
import { parseLsn } from '../lsn.ts';
import type { Lsn } from '../lsn.ts';
import { parseDataRow, parseNotice, queryMessage } from './wire.ts';
import type { ReplicationConnection } from './connection.ts';
import { ServerError } from './connection.ts';

/** A tablespace the server will send, as BASE_BACKUP lists it. */
export interface BaseBackupTablespace {
  oid: number;
  location: string;
}

/** What BASE_BACKUP answers before the data. */
export interface BaseBackupStart {
  startLsn: Lsn;
  timeline: number;
  tablespaces: BaseBackupTablespace[];
}

/** One archive of the backup: the data directory (oid 0, base.tar) or a tablespace (<oid>.tar). */
export interface BaseBackupArchive {
  name: string;
  oid: number;
  /** The archive's tar bytes, pulled from the connection. Consume fully before asking for the next archive. */
  chunks: AsyncIterable<Buffer>;
}

/** Options of BASE_BACKUP (compat: WAL-G asks for a fast checkpoint and the tablespace map, label 'wal-g'). */
export interface BaseBackupOptions {
  label?: string;
  verifyChecksums?: boolean;
  /** MAX_RATE in kB/s (the server accepts 32..1048576; 0 = none). */
  maxRateKb?: number;
}

/** The BASE_BACKUP command for a server version (the option list syntax from 15, the old keywords before). */
export function baseBackupCommand(version: number, o: BaseBackupOptions): string {
  const label = (o.label ?? 'wal-g').replace(/'/g, "''");
  const rate = o.maxRateKb && o.maxRateKb >= 32 ? Math.min(o.maxRateKb, 1048576) : 0;
  if (version >= 150000) {
    const opts = [`LABEL '${label}'`, "CHECKPOINT 'fast'", 'TABLESPACE_MAP true', "MANIFEST 'no'", `VERIFY_CHECKSUMS ${o.verifyChecksums ? 'true' : 'false'}`];
    if (rate) opts.push(`MAX_RATE ${rate}`);
    return `BASE_BACKUP (${opts.join(', ')})`;
  }
  const words = [`LABEL '${label}'`, 'FAST', 'TABLESPACE_MAP'];
  if (!o.verifyChecksums && version >= 110000) words.push('NOVERIFY_CHECKSUMS');
  if (rate) words.push(`MAX_RATE ${rate}`);
  return `BASE_BACKUP ${words.join(' ')}`;
}

/**
 * Drives one BASE_BACKUP: start() sends it and reads the header result sets, archives() yields the archives in
 * order, finish() reads the end position. Server errors at any step throw ServerError.
 */
export class BaseBackupStream {
  private readonly conn: ReplicationConnection;
  private readonly version: number;
  private started: BaseBackupStart | undefined;
  /** Tar bytes received (compat: StreamingBaseBackup.UncompressedSize). */
  receivedBytes = 0;

  constructor(conn: ReplicationConnection, version: number) {
    this.conn = conn;
    this.version = version;
  }

  async start(o: BaseBackupOptions): Promise<BaseBackupStart> {
    this.conn.write(queryMessage(baseBackupCommand(this.version, o)));
    const sets = await this.readSetsUntilCopy(2);
    const [pos, spc] = sets;
    const row = pos?.rows[0];
    if (!row || row.length < 2) throw new PostgresError('BASE_BACKUP: no start position in the answer');
    const tablespaces: BaseBackupTablespace[] = [];
    for (const r of spc?.rows ?? []) {
      if (r[0] === null || r[0] === undefined) continue; // the data directory's row (14 and older)
      tablespaces.push({ oid: Number(r[0]), location: r[1] ?? '' });
    }
    this.started = { startLsn: parseLsn(row[0]!), timeline: Number(row[1]), tablespaces };
    return this.started;
  }

  /** Reads `want` complete result sets (RowDescription, DataRows, CommandComplete) of the BASE_BACKUP answer. */
  private async readSetsUntilCopy(want: number): Promise<{ rows: (string | null)[][] }[]> {
    const sets: { rows: (string | null)[][] }[] = [];
    let complete = 0;
    while (complete < want) {
      const m = await this.conn.next();
      if (m.type === 'T') sets.push({ rows: [] });
      else if (m.type === 'D' && sets.length) sets[sets.length - 1]!.rows.push(parseDataRow(m.body));
      else if (m.type === 'C') complete++;
      else if (m.type === 'E') { await this.drainToReady(); throw new ServerError(parseNotice(m.body)); }
      else throw new PostgresError(`BASE_BACKUP: unexpected message '${m.type}' before the data`);
    }
    return sets;
  }

  private async drainToReady(): Promise<void> {
    for (;;) {
      const m = await this.conn.next().catch(() => undefined);
      if (!m || m.type === 'Z') return;
    }
  }

  /** The archives, in the server's order. */
  archives(): AsyncGenerator<BaseBackupArchive> {
    if (!this.started) throw new Error('BASE_BACKUP: archives() before start()');
    return this.version >= 150000 ? this.taggedArchives() : this.perTablespaceArchives(this.started.tablespaces);
  }

  /** 15+: one CopyOut; an 'n' message starts each archive. */
  private async *taggedArchives(): AsyncGenerator<BaseBackupArchive> {
    await this.expectCopyOut();
    let pending: Buffer | undefined; // an 'n' body read while the previous archive's stream ended
    let ended = false;
    let inManifest = false;
    const self = this;
    const nextMsg = async (): Promise<Buffer | 'done'> => {
      for (;;) {
        const m = await self.conn.next();
        if (m.type === 'd') return m.body;
        if (m.type === 'c') return 'done';
        if (m.type === 'E') { await self.drainToReady(); throw new ServerError(parseNotice(m.body)); }
        throw new PostgresError(`BASE_BACKUP: unexpected message '${m.type}' in the data`);
      }
    };
    for (;;) {
      let header = pending;
      pending = undefined;
      while (!header && !ended) {
        const d = await nextMsg();
        if (d === 'done') { ended = true; break; }
        if (d[0] === 0x6e /* n */) header = d.subarray(1);
        else if (d[0] === 0x6d /* m */) inManifest = true;
        else if (d[0] === 0x64 /* d */ && !inManifest) throw new PostgresError('BASE_BACKUP: archive data before an archive header');
        // 'p' (progress) and manifest data are dropped: neither was asked for
      }
      if (!header) return;
      const nameEnd = header.indexOf(0);
      const name = header.toString('utf8', 0, nameEnd < 0 ? header.length : nameEnd);
      const oid = archiveOid(name, this.started!.tablespaces);
      const chunks = (async function* () {
        for (;;) {
          const d = await nextMsg();
          if (d === 'done') { ended = true; return; }
          const tag = d[0];
          if (tag === 0x64) { self.receivedBytes += d.length - 1; yield d.subarray(1); continue; }
          if (tag === 0x70) continue;
          if (tag === 0x6e) { pending = d.subarray(1); return; }
          if (tag === 0x6d) { inManifest = true; return; }
          throw new PostgresError(`BASE_BACKUP: unexpected CopyData tag ${JSON.stringify(String.fromCharCode(tag ?? 0))}`);
        }
      })();
      yield { name, oid, chunks };
      if (inManifest) {
        while (!ended) { if ((await nextMsg()) === 'done') ended = true; }
      }
    }
  }

  /** 14 and older: one CopyOut per tablespace in the listed order, then the data directory. */
  private async *perTablespaceArchives(tablespaces: BaseBackupTablespace[]): AsyncGenerator<BaseBackupArchive> {
    const self = this;
    for (let i = 0; i <= tablespaces.length; i++) {
      await this.expectCopyOut();
      const t = tablespaces[i];
      const chunks = (async function* () {
        for (;;) {
          const m = await self.conn.next();
          if (m.type === 'd') { self.receivedBytes += m.body.length; yield m.body; continue; }
          if (m.type === 'c') return;
          if (m.type === 'E') { await self.drainToReady(); throw new ServerError(parseNotice(m.body)); }
          throw new PostgresError(`BASE_BACKUP: unexpected message '${m.type}' in the data`);
        }
      })();
      yield t ? { name: `${t.oid}.tar`, oid: t.oid, chunks } : { name: 'base.tar', oid: 0, chunks };
    }
  }

  private async expectCopyOut(): Promise<void> {
    for (;;) {
      const m = await this.conn.next();
      if (m.type === 'H') return;
      if (m.type === 'E') { await this.drainToReady(); throw new ServerError(parseNotice(m.body)); }
      throw new PostgresError(`BASE_BACKUP: expected CopyOutResponse, got '${m.type}'`);
    }
  }

  /** After the archives: the end position (and timeline), up to ReadyForQuery. */
  async finish(): Promise<{ endLsn: Lsn; timeline: number }> {
    const sets = await this.conn.readResults();
    const row = sets.find((s) => s.rows.length)?.rows[0];
    if (!row || !row[0]) throw new PostgresError('BASE_BACKUP: no end position in the answer');
    return { endLsn: parseLsn(row[0]), timeline: Number(row[1] ?? this.started?.timeline ?? 0) };
  }
}

/** The tablespace oid of a 15+ archive name (`base.tar` is 0); an unknown one is a protocol error. */
function archiveOid(name: string, tablespaces: BaseBackupTablespace[]): number {
  if (name === 'base.tar') return 0;
  const m = /^(\d+)\.tar$/.exec(name);
  const oid = m ? Number(m[1]) : NaN;
  if (!tablespaces.some((t) => t.oid === oid)) throw new PostgresError(`BASE_BACKUP: archive '${name}' for an unknown tablespace`);
  return oid;
}
